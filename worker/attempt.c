#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/checkout.h"
#include "sluice/error.h"
#include "sluice/gitsrc.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "sluice/url.h"
#include "sluice/banned.h"

extern char **environ;

/*
 * Dispatched attempts: each runs through sl_taskexec (the same code as
 * `sluice test`), its output goes out as LOG frames and its end as a RESULT
 * that results.c stores before sending.
 *
 * An attempt first gets the checkout of its run's commit from the checkout
 * cache (lib/git/checkout.c) on a thread of libuv's pool, since that is disk
 * and network work; meanwhile it is held (it counts against the slots and
 * is listed as running) but has no process. The task then runs in
 * `<checkout>/<cwd>`, pinned in the cache until it ends, as the task user
 * (taskuser.c). Its writable scratch folder is `state_dir/work/<attempt>`
 * ($SLUICE_WORK_DIR, also where the $SLUICE_OUTPUT file goes), removed when
 * the attempt ends.
 */

/* The first prune soon after start (it also clears a crash's leftovers), then
 * one every 10 minutes. */
#define PRUNE_FIRST_MS 1000
#define PRUNE_EVERY_MS (10 * 60 * 1000)

struct attempt {
	struct worker *w;
	struct sl_taskexec *te; /* NULL until the task has started */
	char *id;
	uint64_t fence;
	uint64_t seq; /* next LOG seq, both streams together */
	char *dir;    /* scratch: state_dir/work/<attempt> */
	bool cancelled;
	char *lost; /* why the worker killed it itself (its lease ran out), else NULL */

	/* kept from the dispatch until the task starts */
	char *command;
	char *cwd; /* relative to the checkout */
	struct sl_env env;
	uint32_t timeout_s;
	uint64_t log_limit;
	bool sensor;

	/* the checkout; a miss is built by a process of its own (see checkout_spawn) */
	uv_process_t checkout_proc;
	uv_pipe_t checkout_stderr;
	int checkout_handles; /* of the two above, not closed yet */
	int64_t checkout_status;
	int checkout_signal;
	char *repo, *commit; /* repo NULL: no repository known, no checkout */
	char *checkout;      /* its folder once got; pinned while set */
	struct sl_strbuf checkout_err;
	uint64_t checkout_started; /* loop time */
};

static void attempt_free(struct attempt *a)
{
	free(a->id);
	free(a->dir);
	free(a->lost);
	free(a->command);
	free(a->cwd);
	sl_env_release(&a->env);
	free(a->repo);
	free(a->commit);
	free(a->checkout);
	sl_strbuf_release(&a->checkout_err);
	free(a);
}

/* Forget a held attempt: unpin its checkout, remove its scratch folder. */
static void attempt_end(struct attempt *a)
{
	struct worker *w = a->w;

	for (size_t i = 0; i < w->attempts_nr; i++) {
		if (w->attempts[i] != a)
			continue;
		memmove(&w->attempts[i], &w->attempts[i + 1],
		        (w->attempts_nr - i - 1) * sizeof(*w->attempts));
		w->attempts_nr--;
		break;
	}
	if (a->checkout)
		sl_checkout_unpin(&w->checkouts, a->commit);
	workdir_remove(w, a->dir);
	a->dir = NULL;
	attempt_free(a);
	conn_check_drained(w);
	worker_maybe_exit(w);
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
		results_log(w, &m, a->log_limit);
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

/*
 * A RESULT the scheduler would refuse could never be delivered: one whose
 * outputs break the protocol's rules (the outputs reader checks them, so
 * this is the last line of defence) becomes a failure without outputs,
 * the reason in the attempt's log.
 */
static void fail_undeliverable(struct worker *w, struct attempt *a, struct sl_proto_msg *m,
                               const char *why)
{
	struct sl_strbuf line = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	struct sl_proto_result *r = &m->u.result;

	sl_log_quote(&q, why);
	sl_log("error", "result_undeliverable", "attempt=%s reason=%s", r->attempt_id, q.buf);
	sl_strbuf_addf(&line, "[sluice: the result cannot be reported (%s): the attempt fails]\n",
	               why);
	send_log(w, a, SL_PROTO_STDERR, line.buf, line.len);
	for (size_t i = 0; i < r->outputs.nr; i++) {
		free(r->outputs.items[i].key);
		free(r->outputs.items[i].value);
	}
	r->outputs.nr = 0;
	r->outcome = SL_OUTCOME_FAILED;
	sl_strbuf_release(&line);
	sl_strbuf_release(&q);
}

static void finish(struct worker *w, struct attempt *a, struct sl_proto_msg *m)
{
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	const char *id = a->id;
	uint64_t fence = a->fence;
	int rc;

	m->u.result.attempt_id = sl_xstrdup(id);
	m->u.result.fence = fence;
	rc = results_add(w, m, &err);
	if (rc == SL_EINVAL || rc == SL_ETOOBIG) {
		fail_undeliverable(w, a, m, err.buf);
		sl_strbuf_reset(&err);
		rc = results_add(w, m, &err);
	}
	if (rc) {
		sl_log_quote(&q, err.buf);
		sl_log("error", "result_not_stored", "attempt=%s reason=%s", id, q.buf);
	}
	if (sl_outcome_valid(m->u.result.outcome))
		sl_metric_inc(w->m.attempts[m->u.result.outcome]);
	sl_log("info", "attempt_finished",
	       "attempt=%s fence=%llu outcome=%s exit_code=%d signal=%d", id,
	       (unsigned long long)fence, sl_outcome_name(m->u.result.outcome),
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
	pgroups_remove(w, a->id);
	if (a->lost) {
		struct sl_strbuf line = SL_STRBUF_INIT;

		sl_strbuf_addf(&line, "[sluice: %s]\n", a->lost);
		send_log(w, a, SL_PROTO_STDERR, line.buf, line.len);
		sl_strbuf_release(&line);
	}
	if (res->outputs_error) {
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, res->outputs_error);
		sl_log("warn", "outputs_refused", "attempt=%s reason=%s", a->id, q.buf);
		sl_strbuf_release(&q);
	}
	sl_proto_msg_init(&m, SL_PROTO_RESULT);
	/* A task that ended by itself before the kill keeps its own outcome. */
	m.u.result.outcome =
	    a->lost && res->outcome == SL_OUTCOME_CANCELLED ? SL_OUTCOME_LOST : res->outcome;
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
	finish(w, a, &m);
	sl_proto_msg_release(&m);
	attempt_end(a);
}

/*
 * An attempt that ends without running: a failed RESULT after one LOG line
 * with the reason (it could not start), or a cancelled one (cancelled while
 * its checkout was being got).
 */
static void end_unstarted(struct worker *w, const char *id, uint64_t fence, enum sl_outcome outcome,
                          const char *reason)
{
	struct attempt tmp = {.w = w, .id = (char *)id, .fence = fence};
	struct sl_strbuf line = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	uv_timeval64_t now;
	int64_t ms = 0;

	sl_log_quote(&q, reason);
	if (outcome == SL_OUTCOME_FAILED) {
		sl_log("error", "attempt_start_failed", "attempt=%s reason=%s", id, q.buf);
		sl_strbuf_addf(&line, "[sluice: cannot start the task: %s]\n", reason);
	} else {
		sl_strbuf_addf(&line, "[sluice: %s]\n", reason);
	}
	send_log(w, &tmp, SL_PROTO_STDERR, line.buf, line.len);
	if (!uv_gettimeofday(&now))
		ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	sl_proto_msg_init(&m, SL_PROTO_RESULT);
	m.u.result.outcome = outcome;
	m.u.result.exit_code = -1;
	m.u.result.started_ms = m.u.result.ended_ms = ms;
	m.u.result.log_bytes = line.len;
	finish(w, &tmp, &m);
	sl_proto_msg_release(&m);
	sl_strbuf_release(&line);
	sl_strbuf_release(&q);
}

static void fail_start(struct worker *w, const struct sl_proto_dispatch *d, const char *reason)
{
	end_unstarted(w, d->attempt_id, d->fence, SL_OUTCOME_FAILED, reason);
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

/* Start the task of an attempt that is held (in w->attempts) and has its
 * checkout, or needs none; on failure the attempt ends. */
static void start_task(struct attempt *a)
{
	struct worker *w = a->w;
	struct sl_taskexec_opts o = {0};
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *base = a->checkout ? a->checkout : a->dir;
	char *cwd = a->cwd[0] ? sl_xasprintf("%s/%s", base, a->cwd) : sl_xstrdup(base);

	o.command = a->command;
	o.cwd = cwd;
	o.env = sl_env_array(&a->env);
	o.timeout = a->timeout_s;
	o.log_limit = (size_t)a->log_limit;
	o.sensor = a->sensor;
	o.output_dir = a->dir;
	o.user = w->task_as;
	o.on_log = on_log;
	o.on_done = on_done;
	o.data = a;
	if (sl_taskexec_start(w->loop, &o, &a->te, &err)) {
		a->te = NULL;
		end_unstarted(w, a->id, a->fence, SL_OUTCOME_FAILED, err.buf);
		attempt_end(a);
		goto out;
	}
	sl_log("info", "attempt_started", "attempt=%s pid=%d", a->id, sl_taskexec_pid(a->te));
	pgroups_add(w, a->id, sl_taskexec_pid(a->te));
out:
	free(cwd);
	sl_strbuf_release(&err);
}

/* What the checkout process says on stderr, in the attempt's failure reason. */
#define CHECKOUT_ERR_MAX 2048

static void checkout_finished(struct attempt *a)
{
	struct worker *w = a->w;
	struct sl_strbuf reason = SL_STRBUF_INIT;

	if (a->cancelled) {
		sl_checkout_unpin(&w->checkouts, a->commit);
		end_unstarted(w, a->id, a->fence, a->lost ? SL_OUTCOME_LOST : SL_OUTCOME_CANCELLED,
		              a->lost ? a->lost : "cancelled before the task started");
		attempt_end(a);
		goto out;
	}
	while (a->checkout_err.len && a->checkout_err.buf[a->checkout_err.len - 1] == '\n')
		sl_strbuf_setlen(&a->checkout_err, a->checkout_err.len - 1);
	if (!a->checkout_err.len && (a->checkout_status || a->checkout_signal))
		sl_strbuf_addf(&a->checkout_err, "the checkout process %s %d",
		               a->checkout_signal ? "was killed by signal" : "exited with status",
		               a->checkout_signal ? a->checkout_signal : (int)a->checkout_status);
	if (a->checkout_status || a->checkout_signal ||
	    sl_checkout_build_end(&w->checkouts, a->commit, &a->checkout, &a->checkout_err)) {
		if (a->checkout_status || a->checkout_signal)
			sl_checkout_unpin(&w->checkouts, a->commit);
		sl_strbuf_addf(&reason, "cannot check out commit %s: %s", a->commit,
		               a->checkout_err.buf);
		end_unstarted(w, a->id, a->fence, SL_OUTCOME_FAILED, reason.buf);
		attempt_end(a);
		goto out;
	}
	sl_log("info", "checkout_ready", "attempt=%s commit=%s ms=%llu", a->id, a->commit,
	       (unsigned long long)(uv_now(w->loop) - a->checkout_started));
	start_task(a);
out:
	sl_strbuf_release(&reason);
}

static void checkout_closed(uv_handle_t *h)
{
	struct attempt *a = h->data;

	if (!--a->checkout_handles)
		checkout_finished(a);
}

static void checkout_exited(uv_process_t *p, int64_t status, int signal)
{
	struct attempt *a = p->data;

	a->checkout_status = status;
	a->checkout_signal = signal;
	uv_close((uv_handle_t *)p, checkout_closed);
}

static void checkout_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[512];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void checkout_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct attempt *a = s->data;

	if (n > 0 && a->checkout_err.len < CHECKOUT_ERR_MAX) {
		size_t room = CHECKOUT_ERR_MAX - a->checkout_err.len;

		sl_strbuf_add(&a->checkout_err, buf->base, (size_t)n < room ? (size_t)n : room);
	} else if (n < 0) {
		uv_close((uv_handle_t *)s, checkout_closed);
	}
}

/*
 * Build a missing checkout in a process of its own, this program run as
 * `sluice-worker --checkout STATE_DIR REPO COMMIT` (checkout_main): libgit2,
 * its TLS and SSH libraries initialised and its caches of objects live
 * there, not in the worker, whose memory stays that of a process runner
 * (about 3 MiB less), and a checkout that hangs on the network can be
 * killed when its attempt is cancelled.
 */
static int checkout_spawn(struct attempt *a, struct sl_strbuf *err)
{
	struct worker *w = a->w;
	char name[] = "sluice-worker", mode[] = "--checkout";
	char *args[] = {name, mode, w->cfg.state_dir, a->repo, a->commit, NULL};
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE},
	    {.flags = UV_IGNORE},
	    {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
	     .data.stream = (uv_stream_t *)&a->checkout_stderr},
	};
	uv_process_options_t o = {
	    .file = w->exe,
	    .args = args,
	    .stdio = stdio,
	    .stdio_count = 3,
	    .exit_cb = checkout_exited,
	};
	int rc;

	if ((rc = uv_pipe_init(w->loop, &a->checkout_stderr, 0))) {
		sl_strbuf_addf(err, "cannot create a pipe: %s", uv_strerror(rc));
		return SL_ERR;
	}
	a->checkout_stderr.data = a->checkout_proc.data = a;
	a->checkout_handles = 2;
	sl_checkout_build_begin(&w->checkouts, a->commit);
	if ((rc = uv_spawn(w->loop, &a->checkout_proc, &o))) {
		/* A failed spawn leaves both handles to close; the attempt ends in
		 * checkout_finished. */
		uv_close((uv_handle_t *)&a->checkout_proc, checkout_closed);
		uv_close((uv_handle_t *)&a->checkout_stderr, checkout_closed);
		a->checkout_status = 1;
		sl_strbuf_addf(&a->checkout_err, "cannot run %s --checkout: %s", w->exe,
		               uv_strerror(rc));
	} else if ((rc = uv_read_start((uv_stream_t *)&a->checkout_stderr, checkout_alloc,
	                               checkout_read))) {
		/* Its exit closes the other handle. */
		uv_close((uv_handle_t *)&a->checkout_stderr, checkout_closed);
		uv_process_kill(&a->checkout_proc, SIGKILL);
	}
	return 0;
}

/* Stop a checkout process: its attempt ends when it has exited. */
static void checkout_kill(struct attempt *a)
{
	if (a->checkout_handles && !uv_is_closing((uv_handle_t *)&a->checkout_proc))
		uv_process_kill(&a->checkout_proc, SIGKILL);
}

int checkout_main(const char *state_dir, const char *repo, const char *commit)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	/* Nobody would read what a checkout of a dead worker wrote. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		return 1;
	if (!(rc = sl_gitsrc_global_init(&err))) {
		rc = sl_checkout_build(state_dir, repo, commit, &err);
		sl_gitsrc_global_shutdown();
	}
	if (rc)
		fprintf(stderr, "%s\n", err.buf);
	sl_strbuf_release(&err);
	return rc ? 1 : 0;
}

/*
 * The DISPATCH's repo without credentials. A scheduler of this version
 * never sends any; an older one sends its dags.repo as configured. Used as
 * it is, the password would end up in state_dir (the mirror's name and
 * config), where the tasks can read it; and the worker fetches with
 * credentials of its own (docs/security.md), so it is dropped, and the
 * operator told once rather than at every dispatch.
 */
static char *dispatch_repo(struct worker *w, const char *repo)
{
	char *shown = sl_url_redact(repo);

	if (shown && strcmp(shown, repo) && !w->repo_credentials_warned) {
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, shown);
		sl_log("warn", "dispatch_credentials",
		       "repo=%s reason=\"the scheduler sent credentials in the repository URL: "
		       "they are dropped; give the worker its own (docs/security.md)\"",
		       q.buf);
		w->repo_credentials_warned = true;
		sl_strbuf_release(&q);
	}
	return shown;
}

void attempt_dispatch(struct worker *w, struct sl_proto_dispatch *d)
{
	struct sl_strbuf err = SL_STRBUF_INIT, num = SL_STRBUF_INIT;
	char *sent_repo = dispatch_repo(w, d->repo);
	const char *repo = w->cfg.repo ? w->cfg.repo : sent_repo;
	struct attempt *a = NULL;

	if (!strcmp(d->attempt_id, ".") || !strcmp(d->attempt_id, "..")) {
		sl_log("warn", "dispatch_refused", "attempt=%s reason=\"not a usable attempt id\"",
		       d->attempt_id);
		goto out;
	}
	if (find(w, d->attempt_id) || results_has(w, d->attempt_id)) {
		sl_log("warn", "dispatch_refused", "attempt=%s reason=\"already held\"",
		       d->attempt_id);
		goto out;
	}
	if (w->attempts_nr >= (size_t)w->cfg.slots) {
		sl_log("warn", "dispatch_refused", "attempt=%s reason=\"all %d slots busy\"",
		       d->attempt_id, w->cfg.slots);
		goto out;
	}
	sl_log("info", "dispatch", "attempt=%s fence=%llu dag=%s run=%s task=%s try=%u commit=%s",
	       d->attempt_id, (unsigned long long)d->fence, d->dag, d->run_id, d->task,
	       (unsigned)d->try_number, d->commit);
	if (!cwd_ok(d->cwd)) {
		fail_start(w, d, "cwd must be a relative path without '..'");
		goto out;
	}
	a = sl_xcalloc(1, sizeof(*a));
	a->w = w;
	a->id = sl_xstrdup(d->attempt_id);
	a->fence = d->fence;
	sl_strbuf_init(&a->checkout_err);
	a->env = (struct sl_env)SL_ENV_INIT;
	if (workdir_create(w, d->attempt_id, &a->dir, &err)) {
		fail_start(w, d, err.buf);
		goto out;
	}
	/* Taken over from the message, which is released after this call. */
	a->command = d->command;
	d->command = NULL;
	a->cwd = sl_xstrdup(d->cwd);
	a->timeout_s = d->timeout_s;
	a->log_limit = d->log_limit;
	a->sensor = d->sensor;

	sl_env_inherit_base(&a->env, environ);
	taskuser_env(w, &a->env, a->dir);
	for (size_t i = 0; i < d->env.nr; i++)
		sl_env_set(&a->env, d->env.items[i].key, d->env.items[i].value);
	/* Last, so that the dispatch's env cannot spoof them (docs/execution.md). */
	sl_env_set(&a->env, "SLUICE_DAG", d->dag);
	sl_env_set(&a->env, "SLUICE_TASK", d->task);
	sl_env_set(&a->env, "SLUICE_RUN_ID", d->run_id);
	sl_strbuf_addf(&num, "%u", (unsigned)d->try_number);
	sl_env_set(&a->env, "SLUICE_TRY_NUMBER", num.buf);
	sl_env_set(&a->env, "SLUICE_WORK_DIR", a->dir);

	SL_ALLOC_GROW(w->attempts, w->attempts_nr + 1, w->attempts_alloc);
	w->attempts[w->attempts_nr++] = a;
	if (!repo) {
		/* A scheduler that does not send its repository, and no `repo` of
		 * our own: the task runs in its scratch folder. */
		sl_log("warn", "no_checkout",
		       "attempt=%s reason=\"no repository: neither the worker's repo nor the "
		       "dispatch names one\"",
		       a->id);
		start_task(a);
		a = NULL;
		goto out;
	}
	a->repo = sl_xstrdup(repo);
	a->commit = sl_xstrdup(d->commit);
	/* A checkout already there starts the task now; only a miss goes to a thread. */
	if (sl_checkout_get_ready(&w->checkouts, a->commit, &a->checkout)) {
		start_task(a);
		a = NULL;
		goto out;
	}
	a->checkout_started = uv_now(w->loop);
	if (checkout_spawn(a, &err)) {
		end_unstarted(w, a->id, a->fence, SL_OUTCOME_FAILED, err.buf);
		attempt_end(a);
	}
	a = NULL;
out:
	if (a)
		attempt_free(a); /* its folder was not made */
	free(sent_repo);
	sl_strbuf_release(&err);
	sl_strbuf_release(&num);
}

/* Stop a running task, or a pending checkout: the attempt then ends as
 * cancelled. */
static void cancel_one(struct attempt *a)
{
	if (a->cancelled)
		return;
	a->cancelled = true;
	if (a->te)
		sl_taskexec_cancel(a->te);
	else
		checkout_kill(a);
}

void attempt_cancel(struct worker *w, const struct sl_proto_ref *c)
{
	struct attempt *a = find(w, c->attempt_id);

	if (!a || a->fence != c->fence) {
		/* Fencing: a CANCEL for another generation of the attempt is stale. */
		sl_log("info", "cancel_ignored", "attempt=%s fence=%llu reason=\"%s\"",
		       c->attempt_id, (unsigned long long)c->fence,
		       a ? "stale fencing token" : "unknown attempt");
		return;
	}
	sl_log("info", "cancel", "attempt=%s fence=%llu", a->id, (unsigned long long)a->fence);
	cancel_one(a);
}

void attempt_cancel_all(struct worker *w)
{
	for (size_t i = 0; i < w->attempts_nr; i++) {
		struct attempt *a = w->attempts[i];

		if (!a->cancelled) {
			sl_log("warn", "cancel", "attempt=%s reason=shutdown", a->id);
			cancel_one(a);
		}
	}
}

void attempt_fence_all(struct worker *w, const char *reason)
{
	for (size_t i = 0; i < w->attempts_nr; i++) {
		struct attempt *a = w->attempts[i];

		if (a->lost)
			continue;
		a->lost = sl_xstrdup(reason);
		sl_log("warn", "attempt_fenced", "attempt=%s fence=%llu pid=%d", a->id,
		       (unsigned long long)a->fence, a->te ? sl_taskexec_pid(a->te) : 0);
		a->cancelled = true;
		if (a->te)
			sl_taskexec_kill(a->te);
		else
			checkout_kill(a);
	}
}

void attempt_refused(struct worker *w, const struct sl_proto_refusal *r, const char *why)
{
	struct sl_strbuf reason = SL_STRBUF_INIT;

	if (!r->attempt_id || !r->fence || find(w, r->attempt_id) || results_has(w, r->attempt_id))
		return;
	sl_strbuf_addf(&reason, "the dispatch was refused: %s", why);
	end_unstarted(w, r->attempt_id, r->fence, SL_OUTCOME_FAILED, reason.buf);
	sl_strbuf_release(&reason);
}

void attempt_list_running(const struct worker *w, struct sl_proto_strlist *l)
{
	for (size_t i = 0; i < w->attempts_nr; i++)
		sl_proto_strlist_push(l, w->attempts[i]->id);
}

/* --- the checkout cache's pruning ------------------------------------------ */

/* On a pool thread. Running attempts' checkouts are pinned in the cache, so
 * no keep list is needed. */
static void prune_work(uv_work_t *req)
{
	struct worker *w = container_of(req, struct worker, prune_req);

	sl_strbuf_reset(&w->prune_err);
	w->pruned = 0;
	sl_checkout_prune(&w->checkouts, w->cfg.checkout_max_age,
	                  (uint64_t)w->cfg.checkout_max_bytes, NULL, 0, &w->pruned, &w->prune_err);
}

static void prune_done(uv_work_t *req, int status)
{
	struct worker *w = container_of(req, struct worker, prune_req);
	struct sl_strbuf q = SL_STRBUF_INIT;

	w->prune_busy = false;
	if (status == 0 && w->prune_err.len) {
		sl_log_quote(&q, w->prune_err.buf);
		sl_log("warn", "checkouts_pruned", "removed=%zu error=%s", w->pruned, q.buf);
	} else if (status == 0 && w->pruned) {
		sl_log("info", "checkouts_pruned", "removed=%zu", w->pruned);
	}
	sl_strbuf_release(&q);
}

static void on_prune_timer(uv_timer_t *t)
{
	struct worker *w = container_of(t, struct worker, prune_timer);
	int rc;

	if (w->prune_busy || w->stopping)
		return;
	rc = uv_queue_work(w->loop, &w->prune_req, prune_work, prune_done);
	if (rc)
		sl_log("error", "prune_failed", "error=\"%s\"", uv_strerror(rc));
	else
		w->prune_busy = true;
}

int attempt_init(struct worker *w, struct sl_strbuf *err)
{
	int rc;

	sl_strbuf_init(&w->prune_err);
	if ((rc = uv_exepath(w->exe, &(size_t){sizeof(w->exe)}))) {
		sl_strbuf_addf(err, "cannot find this program's path: %s", uv_strerror(rc));
		return SL_ERR;
	}
	if ((rc = sl_checkout_cache_init(&w->checkouts, w->cfg.state_dir, err)))
		return rc;
	w->checkouts_ok = true;
	if ((rc = uv_timer_init(w->loop, &w->prune_timer))) {
		sl_strbuf_addf(err, "cannot create the prune timer: %s", uv_strerror(rc));
		return SL_ERR;
	}
	w->prune_timer_ok = true;
	if ((rc =
	         uv_timer_start(&w->prune_timer, on_prune_timer, PRUNE_FIRST_MS, PRUNE_EVERY_MS))) {
		sl_strbuf_addf(err, "cannot start the prune timer: %s", uv_strerror(rc));
		return SL_ERR;
	}
	return 0;
}

void attempt_close(struct worker *w)
{
	if (w->prune_timer_ok && !uv_is_closing((uv_handle_t *)&w->prune_timer))
		uv_close((uv_handle_t *)&w->prune_timer, NULL);
}

void attempt_release(struct worker *w)
{
	if (w->checkouts_ok)
		sl_checkout_cache_release(&w->checkouts);
	w->checkouts_ok = false;
	sl_strbuf_release(&w->prune_err);
}
