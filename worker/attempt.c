#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "sluice/banned.h"

extern char **environ;

/*
 * Dispatched attempts: each runs through sl_taskexec (the same code as
 * `sluice test`), its output goes out as LOG frames and its end as a RESULT
 * that results.c stores before sending.
 *
 * The attempt's directory is, for now, an empty `state_dir/work/<attempt>`
 * (plus the dispatch's `cwd` below it); the checkout of the run's commit
 * (the git checkout cache) is the next increment. It is removed when the
 * attempt ends.
 */

struct attempt {
	struct worker *w;
	struct sl_taskexec *te;
	char *id;
	uint64_t fence;
	uint64_t seq; /* next LOG seq, both streams together */
	char *dir;
	bool cancelled;
};

static void attempt_free(struct attempt *a)
{
	free(a->id);
	free(a->dir);
	free(a);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	/* FTW_PHYS: never follow a symlink the task left behind. */
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void send_log(struct worker *w, struct attempt *a, enum sl_proto_stream stream,
                     const char *buf, size_t len)
{
	struct sl_proto_msg m;

	do {
		size_t n = len < WORKER_LOG_CHUNK ? len : WORKER_LOG_CHUNK;

		/* Borrowed pointers: this message is never released. */
		sl_proto_msg_init(&m, SL_PROTO_LOG);
		m.u.log.attempt_id = a->id;
		m.u.log.fence = a->fence;
		m.u.log.seq = a->seq++;
		m.u.log.stream = stream;
		m.u.log.data = (char *)buf;
		m.u.log.len = n;
		/* While disconnected the chunk is dropped; see docs/worker.md. */
		conn_send(w, &m);
		buf += n;
		len -= n;
	} while (len);
}

static void on_log(struct sl_taskexec *te, enum sl_taskexec_stream stream, const char *buf,
                   size_t len, void *data)
{
	struct attempt *a = data;

	(void)te;
	send_log(a->w, a, stream == SL_TASKEXEC_STDERR ? SL_PROTO_STDERR : SL_PROTO_STDOUT, buf,
	         len);
}

static enum sl_proto_outcome outcome_of(enum sl_taskexec_outcome o)
{
	switch (o) {
	case SL_TASKEXEC_SUCCESS:
		return SL_PROTO_SUCCESS;
	case SL_TASKEXEC_SKIPPED:
		return SL_PROTO_SKIPPED;
	case SL_TASKEXEC_RESCHEDULE:
		return SL_PROTO_RESCHEDULE;
	case SL_TASKEXEC_TIMEOUT:
		return SL_PROTO_TIMEOUT;
	case SL_TASKEXEC_CANCELLED:
		return SL_PROTO_CANCELLED;
	case SL_TASKEXEC_FAILED:
		break;
	}
	return SL_PROTO_FAILED;
}

static const char *outcome_name(enum sl_proto_outcome o)
{
	static const char *const names[] = {"?",          "success", "failed",   "skipped",
	                                    "reschedule", "timeout", "cancelled"};

	return (size_t)o < SL_ARRAY_SIZE(names) ? names[o] : "?";
}

static void finish(struct worker *w, const char *id, uint64_t fence, struct sl_proto_msg *m)
{
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;

	m->u.result.attempt_id = sl_xstrdup(id);
	m->u.result.fence = fence;
	if (results_add(w, m, &err)) {
		wlog_quote(&q, err.buf);
		wlog("error", "result_not_stored", "attempt=%s reason=%s", id, q.buf);
	}
	wlog("info", "attempt_finished", "attempt=%s fence=%llu outcome=%s exit_code=%d signal=%d",
	     id, (unsigned long long)fence, outcome_name(m->u.result.outcome),
	     m->u.result.exit_code, m->u.result.signal);
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
}

static void on_done(struct sl_taskexec *te, struct sl_taskexec_result *res, void *data)
{
	struct attempt *a = data;
	struct worker *w = a->w;
	struct sl_proto_msg m;

	(void)te;
	sl_proto_msg_init(&m, SL_PROTO_RESULT);
	m.u.result.outcome = outcome_of(res->outcome);
	m.u.result.exit_code = res->term_signal ? -1 : res->exit_code;
	m.u.result.signal = res->term_signal > 0 && res->term_signal < 128 ? res->term_signal : 0;
	if (m.u.result.exit_code > 255)
		m.u.result.exit_code = -1;
	m.u.result.started_ms = res->started_at_ms;
	m.u.result.ended_ms =
	    res->ended_at_ms < res->started_at_ms ? res->started_at_ms : res->ended_at_ms;
	for (size_t i = 0; i < res->outputs.nr; i++)
		sl_proto_kvlist_push(&m.u.result.outputs, res->outputs.items[i].key,
		                     res->outputs.items[i].value);
	m.u.result.log_bytes = res->log_bytes;
	m.u.result.truncated = res->log_truncated;
	finish(w, a->id, a->fence, &m);
	sl_proto_msg_release(&m);

	for (size_t i = 0; i < w->attempts_nr; i++) {
		if (w->attempts[i] != a)
			continue;
		memmove(&w->attempts[i], &w->attempts[i + 1],
		        (w->attempts_nr - i - 1) * sizeof(*w->attempts));
		w->attempts_nr--;
		break;
	}
	remove_tree(a->dir);
	attempt_free(a);
	conn_check_drained(w);
	worker_maybe_exit(w);
}

/* An attempt that could not start: its reason as a LOG line, then a failed RESULT. */
static void fail_start(struct worker *w, const struct sl_proto_dispatch *d, const char *reason)
{
	struct attempt tmp = {.w = w, .id = d->attempt_id, .fence = d->fence};
	struct sl_strbuf line = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	uv_timeval64_t now;
	int64_t ms = 0;

	wlog_quote(&q, reason);
	wlog("error", "attempt_start_failed", "attempt=%s reason=%s", d->attempt_id, q.buf);
	sl_strbuf_addf(&line, "[sluice: cannot start the task: %s]\n", reason);
	send_log(w, &tmp, SL_PROTO_STDERR, line.buf, line.len);
	if (!uv_gettimeofday(&now))
		ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	sl_proto_msg_init(&m, SL_PROTO_RESULT);
	m.u.result.outcome = SL_PROTO_FAILED;
	m.u.result.exit_code = -1;
	m.u.result.started_ms = m.u.result.ended_ms = ms;
	m.u.result.log_bytes = line.len;
	finish(w, d->attempt_id, d->fence, &m);
	sl_proto_msg_release(&m);
	sl_strbuf_release(&line);
	sl_strbuf_release(&q);
}

/* `cwd` stays below the attempt's directory: relative, no `..` component. */
static bool cwd_ok(const char *cwd)
{
	const char *p = cwd;

	if (cwd[0] == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static struct attempt *find(const struct worker *w, const char *id)
{
	for (size_t i = 0; i < w->attempts_nr; i++)
		if (!strcmp(w->attempts[i]->id, id))
			return w->attempts[i];
	return NULL;
}

void attempt_dispatch(struct worker *w, struct sl_proto_dispatch *d)
{
	struct sl_taskexec_opts o = {0};
	struct sl_env env = SL_ENV_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT, num = SL_STRBUF_INIT;
	struct attempt *a = NULL;
	char *cwd = NULL;

	if (!strcmp(d->attempt_id, ".") || !strcmp(d->attempt_id, "..")) {
		wlog("warn", "dispatch_refused", "attempt=%s reason=\"not a usable attempt id\"",
		     d->attempt_id);
		goto out;
	}
	if (find(w, d->attempt_id) || results_has(w, d->attempt_id)) {
		wlog("warn", "dispatch_refused", "attempt=%s reason=\"already held\"",
		     d->attempt_id);
		goto out;
	}
	if (w->attempts_nr >= (size_t)w->cfg.slots) {
		wlog("warn", "dispatch_refused", "attempt=%s reason=\"all %d slots busy\"",
		     d->attempt_id, w->cfg.slots);
		goto out;
	}
	wlog("info", "dispatch", "attempt=%s fence=%llu dag=%s run=%s task=%s try=%u",
	     d->attempt_id, (unsigned long long)d->fence, d->dag, d->run_id, d->task,
	     (unsigned)d->try_number);
	if (!cwd_ok(d->cwd)) {
		fail_start(w, d, "cwd must be a relative path without '..'");
		goto out;
	}
	a = sl_xcalloc(1, sizeof(*a));
	a->w = w;
	a->id = sl_xstrdup(d->attempt_id);
	a->fence = d->fence;
	a->dir = sl_xasprintf("%s/%s", w->work_dir, d->attempt_id);
	if (mkdir(a->dir, 0700) && errno != EEXIST) {
		sl_strbuf_addf(&err, "cannot create %s: %s", a->dir, strerror(errno));
		fail_start(w, d, err.buf);
		goto out;
	}
	cwd = d->cwd[0] ? sl_xasprintf("%s/%s", a->dir, d->cwd) : sl_xstrdup(a->dir);

	sl_env_inherit_base(&env, environ);
	for (size_t i = 0; i < d->env.nr; i++)
		sl_env_set(&env, d->env.items[i].key, d->env.items[i].value);
	/* Last, so that the dispatch's env cannot spoof them (docs/execution.md). */
	sl_env_set(&env, "SLUICE_DAG", d->dag);
	sl_env_set(&env, "SLUICE_TASK", d->task);
	sl_env_set(&env, "SLUICE_RUN_ID", d->run_id);
	sl_strbuf_addf(&num, "%u", (unsigned)d->try_number);
	sl_env_set(&env, "SLUICE_TRY_NUMBER", num.buf);

	o.command = d->command;
	o.cwd = cwd;
	o.env = sl_env_array(&env);
	o.timeout = d->timeout_s;
	o.log_limit = (size_t)d->log_limit;
	o.sensor = d->sensor;
	o.output_dir = w->work_dir;
	o.on_log = on_log;
	o.on_done = on_done;
	o.data = a;
	if (sl_taskexec_start(w->loop, &o, &a->te, &err)) {
		fail_start(w, d, err.buf);
		remove_tree(a->dir);
		goto out;
	}
	SL_ALLOC_GROW(w->attempts, w->attempts_nr + 1, w->attempts_alloc);
	w->attempts[w->attempts_nr++] = a;
	wlog("info", "attempt_started", "attempt=%s pid=%d", a->id, sl_taskexec_pid(a->te));
	a = NULL;
out:
	if (a)
		attempt_free(a);
	free(cwd);
	sl_env_release(&env);
	sl_strbuf_release(&err);
	sl_strbuf_release(&num);
}

void attempt_cancel(struct worker *w, const struct sl_proto_ref *c)
{
	struct attempt *a = find(w, c->attempt_id);

	if (!a || a->fence != c->fence) {
		/* Fencing: a CANCEL for another generation of the attempt is stale. */
		wlog("info", "cancel_ignored", "attempt=%s fence=%llu reason=\"%s\"", c->attempt_id,
		     (unsigned long long)c->fence, a ? "stale fencing token" : "unknown attempt");
		return;
	}
	wlog("info", "cancel", "attempt=%s fence=%llu", a->id, (unsigned long long)a->fence);
	if (!a->cancelled) {
		a->cancelled = true;
		sl_taskexec_cancel(a->te);
	}
}

void attempt_cancel_all(struct worker *w)
{
	for (size_t i = 0; i < w->attempts_nr; i++) {
		struct attempt *a = w->attempts[i];

		if (!a->cancelled) {
			wlog("warn", "cancel", "attempt=%s reason=shutdown", a->id);
			a->cancelled = true;
			sl_taskexec_cancel(a->te);
		}
	}
}

void attempt_list_running(const struct worker *w, struct sl_proto_strlist *l)
{
	for (size_t i = 0; i < w->attempts_nr; i++)
		sl_proto_strlist_push(l, w->attempts[i]->id);
}
