#include "sluice/taskexec.h"

#include "sluice/alloc.h"
#include "sluice/container.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/template.h"
#include "sluice/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sluice/banned.h"

struct te_stream {
	uv_pipe_t pipe;
	struct sl_taskexec *te;
	enum sl_taskexec_stream id;
	bool open; /* reading: not yet at EOF */
	char buf[65536];
};

enum te_stop {
	TE_STOP_NONE,
	TE_STOP_TIMEOUT,
	TE_STOP_CANCEL,
};

struct sl_taskexec {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_timer_t timer;
	struct te_stream out, err;
	unsigned handles; /* initialised and not yet through their close callback */
	unsigned pipes_open;
	bool start_failed;
	bool exited;
	bool closing;
	bool term_sent; /* SIGTERM sent; the timer now counts the grace period */
	enum te_stop stop;
	int pid;

	bool sensor;
	uint64_t grace_ms;
	size_t log_limit, log_kept;
	char last; /* the last byte delivered, to start the marker on its own line */
	char *output_path;
	uint64_t started_loop_ms;

	sl_taskexec_log_cb on_log;
	sl_taskexec_done_cb on_done;
	void *data;
	struct sl_taskexec_result result;
};

int sl_taskexec_pid(const struct sl_taskexec *te)
{
	return te->pid;
}

/* Saturating: a timeout of "forever" must not wrap into a short one. */
static uint64_t secs_to_ms(uint64_t secs)
{
	return secs > UINT64_MAX / 2000 ? UINT64_MAX / 2 : secs * 1000;
}

static int64_t wall_ms(void)
{
	uv_timeval64_t tv;

	if (uv_gettimeofday(&tv))
		return 0;
	return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * Outputs travel to the scheduler in a RESULT frame (docs/protocol.md). A
 * value is at most the whole file, so it is never longer than a protocol
 * text; and even if JSON escapes every byte as \u00XX and wraps each of
 * SL_PROTO_LIST_MAX keys in ["",""], the outputs take under half a frame.
 */
_Static_assert(SL_TASKEXEC_OUTPUT_MAX <= SL_PROTO_TEXT_MAX, "an output value fits a text");
_Static_assert(6 * SL_TASKEXEC_OUTPUT_MAX + 8 * SL_PROTO_LIST_MAX < SL_PROTO_MAX_FRAME / 2,
               "the outputs fit a RESULT frame");

/* Set `key`; a new key past SL_PROTO_LIST_MAX is not added and returns SL_ETOOBIG. */
static int kvs_set(struct sl_kvs *kvs, const char *key, size_t key_len, const char *value,
                   size_t value_len)
{
	for (size_t i = 0; i < kvs->nr; i++) {
		if (strlen(kvs->items[i].key) == key_len &&
		    !memcmp(kvs->items[i].key, key, key_len)) {
			free(kvs->items[i].value);
			kvs->items[i].value = sl_xstrndup(value, value_len);
			return 0;
		}
	}
	if (kvs->nr == SL_PROTO_LIST_MAX)
		return SL_ETOOBIG;
	SL_ALLOC_GROW(kvs->items, kvs->nr + 1, kvs->alloc);
	kvs->items[kvs->nr].key = sl_xstrndup(key, key_len);
	kvs->items[kvs->nr].value = sl_xstrndup(value, value_len);
	kvs->nr++;
	return 0;
}

/* How many ignored lines of $SLUICE_OUTPUT the log names, one line each. */
#define OUTPUT_BAD_SHOWN 3
/* How much of a key a log line quotes. */
#define OUTPUT_KEY_SHOWN 64

/* One log line saying why line `nr` of the outputs file was ignored. */
static void output_bad_note(struct sl_strbuf *notes, unsigned nr, const char *line, size_t len,
                            const char *eq)
{
	sl_strbuf_addf(notes, "[sluice: $SLUICE_OUTPUT line %u ignored: ", nr);
	if (!eq || memchr(line, '\0', len))
		sl_strbuf_adds(notes, "not a key=value line");
	else
		sl_strbuf_addf(notes,
		               "'%.*s' is not a valid key (letters, digits and _, not starting "
		               "with a digit)",
		               (int)((size_t)(eq - line) > OUTPUT_KEY_SHOWN ? OUTPUT_KEY_SHOWN
		                                                            : (size_t)(eq - line)),
		               line);
	sl_strbuf_adds(notes, "]\n");
}

/*
 * Keep the output on line `nr`, or say in `why` why the protocol could not
 * carry it: the scheduler refuses a key longer than an id, and the worker
 * cannot encode a value that is not UTF-8.
 */
static int output_add(struct sl_kvs *kvs, unsigned nr, const char *key, size_t key_len,
                      const char *value, size_t value_len, struct sl_strbuf *why)
{
	size_t bad;

	if (key_len > SL_PROTO_ID_MAX) {
		sl_strbuf_addf(
		    why, "$SLUICE_OUTPUT line %u: key '%.*s...' is %zu characters, more than %d",
		    nr, OUTPUT_KEY_SHOWN, key, key_len, SL_PROTO_ID_MAX);
		return SL_ETOOBIG;
	}
	bad = sl_utf8_check(value, value_len, NULL);
	if (bad < value_len) {
		sl_strbuf_addf(
		    why,
		    "$SLUICE_OUTPUT line %u: the value of '%.*s' is not UTF-8 (byte 0x%02x at "
		    "column %zu)",
		    nr, (int)key_len, key, (unsigned char)value[bad], key_len + bad + 2);
		return SL_EINVAL;
	}
	if (kvs_set(kvs, key, key_len, value, value_len)) {
		sl_strbuf_addf(why,
		               "$SLUICE_OUTPUT line %u: key '%.*s' is one more than the %d allowed",
		               nr, (int)key_len, key, SL_PROTO_LIST_MAX);
		return SL_ETOOBIG;
	}
	return 0;
}

/*
 * Parse `key=value` lines. Empty lines are ignored silently; anything else
 * that is not `[A-Za-z_][A-Za-z0-9_]*=...` (or holds a NUL, which no
 * environment variable can) is counted as bad, and the first few are
 * described in `notes` for the attempt's log: a value that silently never
 * reaches downstream is hard to debug.
 *
 * A well-formed output the protocol cannot carry, or a file over the limit,
 * is another matter: the task meant to pass those values on, and dropping
 * only them would give its downstream tasks a part of what they expect.
 * All the outputs are refused instead (SL_EINVAL or SL_ETOOBIG, the reason
 * in `why`), and the attempt fails.
 */
static int outputs_parse(struct sl_taskexec_result *r, const char *data, size_t len,
                         struct sl_strbuf *notes, struct sl_strbuf *why)
{
	const char *p = data, *end = data + len;
	unsigned nr = 0;
	int rc = 0;

	if (len > SL_TASKEXEC_OUTPUT_MAX) {
		sl_strbuf_addf(why, "$SLUICE_OUTPUT is larger than %d bytes (%d KiB), the limit",
		               SL_TASKEXEC_OUTPUT_MAX, SL_TASKEXEC_OUTPUT_MAX / 1024);
		return SL_ETOOBIG;
	}
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t line_len = (size_t)(line_end - p);
		const char *eq;

		nr++;
		if (line_len && p[line_len - 1] == '\r')
			line_len--;
		eq = memchr(p, '=', line_len);
		if (!line_len) {
			; /* blank */
		} else if (!eq || !sl_template_ident_valid(p, (size_t)(eq - p)) ||
		           memchr(p, '\0', line_len)) {
			if (r->outputs_bad_lines++ < OUTPUT_BAD_SHOWN)
				output_bad_note(notes, nr, p, line_len, eq);
		} else {
			rc = output_add(&r->outputs, nr, p, (size_t)(eq - p), eq + 1,
			                line_len - (size_t)(eq - p) - 1, why);
		}
		p = line_end + 1;
	}
	if (r->outputs_bad_lines > OUTPUT_BAD_SHOWN)
		sl_strbuf_addf(notes, "[sluice: $SLUICE_OUTPUT: %zu more lines ignored]\n",
		               r->outputs_bad_lines - OUTPUT_BAD_SHOWN);
	if (rc)
		sl_kvs_release(&r->outputs);
	return rc;
}

static void emit(struct sl_taskexec *te, enum sl_taskexec_stream id, const char *buf, size_t len);

/*
 * Read the outputs file the command may have written. The command may have
 * replaced it, and it may run as another user than ours, with less right
 * to read: what it puts there must never make us read something it could
 * not. O_NOFOLLOW refuses a symlink; the regular-file check a FIFO or a
 * device (O_NONBLOCK keeps the open itself from blocking on a FIFO); and a
 * file with another name elsewhere (a hard link, which fs.protected_hardlinks
 * already forbids to files the command could not read) is refused too. The
 * folder it lies in is the caller's, which the command cannot replace, so
 * only the last component of the path is the command's to choose.
 */
static void outputs_read(struct sl_taskexec *te)
{
	struct sl_strbuf notes = SL_STRBUF_INIT, why = SL_STRBUF_INIT;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd;

	if (!te->output_path)
		return;
	fd = open(te->output_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			sl_strbuf_addf(&notes, "[sluice: $SLUICE_OUTPUT ignored: %s]\n",
			               errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		goto note;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		sl_strbuf_adds(&notes, "[sluice: $SLUICE_OUTPUT ignored: not a regular file with "
		                       "one name]\n");
		goto note;
	}
	buf = sl_xmalloc(SL_TASKEXEC_OUTPUT_MAX + 1);
	while (len < SL_TASKEXEC_OUTPUT_MAX + 1) {
		ssize_t n = read(fd, buf + len, SL_TASKEXEC_OUTPUT_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (outputs_parse(&te->result, buf, len, &notes, &why)) {
		sl_strbuf_addf(&notes, "[sluice: outputs refused (none are kept%s): %s]\n",
		               te->stop == TE_STOP_NONE ? "; the attempt fails" : "", why.buf);
		te->result.outputs_error = sl_strbuf_detach(&why, NULL);
	}
note:
	/* Past the log cap too, like the truncation marker: it is sluice's word. */
	if (notes.len && te->last && te->last != '\n')
		emit(te, SL_TASKEXEC_STDERR, "\n", 1);
	emit(te, SL_TASKEXEC_STDERR, notes.buf, notes.len);
	sl_strbuf_release(&notes);
	sl_strbuf_release(&why);
	if (fd >= 0)
		close(fd);
	free(buf);
	unlink(te->output_path);
}

static void result_outcome(struct sl_taskexec *te)
{
	struct sl_taskexec_result *r = &te->result;

	if (te->stop == TE_STOP_TIMEOUT)
		r->outcome = SL_OUTCOME_TIMEOUT;
	else if (te->stop == TE_STOP_CANCEL)
		r->outcome = SL_OUTCOME_CANCELLED;
	else if (r->term_signal || r->outputs_error)
		r->outcome = SL_OUTCOME_FAILED;
	else if (r->exit_code == 0)
		r->outcome = SL_OUTCOME_SUCCESS;
	else if (r->exit_code == 99)
		r->outcome = SL_OUTCOME_SKIPPED;
	else if (r->exit_code == 75 && te->sensor)
		r->outcome = SL_OUTCOME_RESCHEDULE;
	else
		r->outcome = SL_OUTCOME_FAILED;
}

static void te_free(struct sl_taskexec *te)
{
	sl_kvs_release(&te->result.outputs);
	free(te->result.outputs_error);
	free(te->output_path);
	free(te);
}

static void handle_closed(struct sl_taskexec *te)
{
	if (--te->handles)
		return;
	if (te->start_failed) {
		te_free(te);
		return;
	}
	outputs_read(te);
	result_outcome(te);
	te->on_done(te, &te->result, te->data);
	te_free(te);
}

static void on_pipe_close(uv_handle_t *h)
{
	struct te_stream *s = container_of(h, struct te_stream, pipe);

	handle_closed(s->te);
}

static void on_timer_close(uv_handle_t *h)
{
	handle_closed(container_of(h, struct sl_taskexec, timer));
}

static void on_proc_close(uv_handle_t *h)
{
	handle_closed(container_of(h, struct sl_taskexec, proc));
}

/* Done when the shell has exited and both pipes are at EOF. */
static void maybe_finish(struct sl_taskexec *te)
{
	if (!te->exited || te->pipes_open || te->closing)
		return;
	te->closing = true;
	(void)uv_timer_stop(&te->timer); /* cannot fail */
	uv_close((uv_handle_t *)&te->timer, on_timer_close);
	uv_close((uv_handle_t *)&te->proc, on_proc_close);
}

/*
 * The shell is the leader of its own session and process group, so -pid
 * reaches it and everything it started that did not leave the group. The
 * group id cannot be reused while any member is alive, so this is safe
 * even after the shell itself has been reaped. ESRCH (nobody left) is
 * the normal end of the story, not an error.
 */
static void signal_group(struct sl_taskexec *te, int sig)
{
	if (te->pid <= 0)
		return; /* kill(0) would signal our own group */
	(void)uv_kill(-te->pid, sig);
}

static void on_timer(uv_timer_t *timer);

static void begin_stop(struct sl_taskexec *te)
{
	if (te->term_sent || te->closing)
		return;
	te->term_sent = true;
	signal_group(te, SIGTERM);
	/* Restarts the timer if the timeout was pending: it now counts the grace. */
	if (uv_timer_start(&te->timer, on_timer, te->grace_ms, 0))
		signal_group(te, SIGKILL);
}

static void on_timer(uv_timer_t *timer)
{
	struct sl_taskexec *te = container_of(timer, struct sl_taskexec, timer);

	if (te->term_sent) {
		signal_group(te, SIGKILL);
		return;
	}
	if (!te->exited)
		te->stop = TE_STOP_TIMEOUT;
	begin_stop(te);
}

void sl_taskexec_cancel(struct sl_taskexec *te)
{
	if (te->exited || te->term_sent)
		return;
	te->stop = TE_STOP_CANCEL;
	begin_stop(te);
}

void sl_taskexec_kill(struct sl_taskexec *te)
{
	if (te->closing)
		return;
	if (!te->exited)
		te->stop = TE_STOP_CANCEL;
	te->term_sent = true;
	uv_timer_stop(&te->timer);
	signal_group(te, SIGKILL);
}

static void on_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct sl_taskexec *te = container_of(proc, struct sl_taskexec, proc);
	struct sl_taskexec_result *r = &te->result;

	te->exited = true;
	r->exit_code = term_signal ? -1 : (int)exit_status;
	r->term_signal = term_signal;
	r->ended_at_ms = wall_ms();
	r->duration_ms = uv_now(te->loop) - te->started_loop_ms;
	/*
	 * What the shell left behind in its group (background jobs) must not
	 * outlive the attempt; while they hold a pipe open the attempt is not
	 * over, so they get the same SIGTERM-then-SIGKILL as a timeout.
	 */
	if (te->pipes_open)
		begin_stop(te);
	else if (!te->term_sent)
		signal_group(te, SIGTERM);
	maybe_finish(te);
}

static void emit(struct sl_taskexec *te, enum sl_taskexec_stream id, const char *buf, size_t len)
{
	if (!len)
		return;
	te->last = buf[len - 1];
	if (te->on_log)
		te->on_log(te, id, buf, len, te->data);
}

static void deliver(struct sl_taskexec *te, enum sl_taskexec_stream id, const char *buf, size_t len)
{
	struct sl_strbuf marker = SL_STRBUF_INIT;
	size_t keep;

	te->result.log_bytes += len;
	if (te->result.log_truncated)
		return;
	if (!te->log_limit || te->log_kept + len <= te->log_limit) {
		te->log_kept += len;
		emit(te, id, buf, len);
		return;
	}
	keep = te->log_limit - te->log_kept;
	te->log_kept += keep;
	emit(te, id, buf, keep);
	te->result.log_truncated = true;
	sl_strbuf_addf(&marker, "%s[sluice: log truncated at %zu bytes; the rest is discarded]\n",
	               te->log_kept && te->last != '\n' ? "\n" : "", te->log_limit);
	emit(te, id, marker.buf, marker.len);
	sl_strbuf_release(&marker);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct te_stream *s = container_of(h, struct te_stream, pipe);

	(void)suggested;
	*buf = uv_buf_init(s->buf, sizeof(s->buf));
}

static void stream_close(struct te_stream *s)
{
	if (!s->open)
		return;
	s->open = false;
	s->te->pipes_open--;
	uv_close((uv_handle_t *)&s->pipe, on_pipe_close);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct te_stream *s = container_of(stream, struct te_stream, pipe);
	struct sl_taskexec *te = s->te;

	if (nread > 0) {
		/* Past the limit the bytes are still read (and dropped) so the
		 * command never blocks on a full pipe. */
		deliver(te, s->id, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	/* UV_EOF, or a read error: either way this stream is over. */
	(void)uv_read_stop(stream); /* cannot fail on a pipe */
	stream_close(s);
	maybe_finish(te);
}

static int stream_init(struct sl_taskexec *te, struct te_stream *s, enum sl_taskexec_stream id,
                       struct sl_strbuf *err)
{
	int rc;

	s->te = te;
	s->id = id;
	rc = uv_pipe_init(te->loop, &s->pipe, 0);
	if (rc) {
		sl_strbuf_addf(err, "cannot create a pipe: %s", uv_strerror(rc));
		return SL_ERR;
	}
	te->handles++;
	s->open = true;
	te->pipes_open++;
	return 0;
}

/* A copy of `env` without SLUICE_OUTPUT, plus `extra` (if any). */
static char **env_with(char **env, char *extra)
{
	size_t n = 0, k = 0;
	char **out;

	while (env && env[n])
		n++;
	out = sl_xcalloc(n + 2, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (!extra || strncmp(env[i], "SLUICE_OUTPUT=", 14))
			out[k++] = env[i];
	if (extra)
		out[k++] = extra;
	out[k] = NULL;
	return out;
}

/*
 * The outputs file, made by us (mkstemp: a new name, never an existing
 * file or link). A command that runs as another user gets it through the
 * group: the folder is ours, so the command cannot swap it for a file of
 * its own choosing under our name, only under a name it writes itself.
 */
static int output_file_create(struct sl_taskexec *te, const char *dir,
                              const struct sl_taskexec_user *user, struct sl_strbuf *err)
{
	int fd;

	te->output_path = sl_xasprintf("%s/sluice-output-XXXXXX", dir);
	fd = mkstemp(te->output_path);
	if (fd < 0) {
		sl_strbuf_addf(err, "cannot create the outputs file in '%s': %s", dir,
		               strerror(errno));
		free(te->output_path);
		te->output_path = NULL;
		return SL_ERR;
	}
	if (user && (fchown(fd, (uid_t)-1, user->gid) || fchmod(fd, 0660))) {
		sl_strbuf_addf(err, "cannot give the outputs file %s to group %ld: %s",
		               te->output_path, (long)user->gid, strerror(errno));
		close(fd);
		return SL_ERR; /* start_abort unlinks it */
	}
	close(fd);
	return 0;
}

/* Undo a failed start: close what was initialised; te is freed by the
 * last close callback, on the loop's next turn. */
static void start_abort(struct sl_taskexec *te)
{
	te->start_failed = true;
	if (te->output_path)
		unlink(te->output_path);
	if (!te->handles) {
		te_free(te);
		return;
	}
	if (te->timer.loop)
		uv_close((uv_handle_t *)&te->timer, on_timer_close);
	if (te->proc.loop)
		uv_close((uv_handle_t *)&te->proc, on_proc_close);
	stream_close(&te->out);
	stream_close(&te->err);
}

int sl_taskexec_start(uv_loop_t *loop, const struct sl_taskexec_opts *opts,
                      struct sl_taskexec **out, struct sl_strbuf *err)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	struct sl_taskexec *te = sl_xcalloc(1, sizeof(*te));
	uv_process_options_t po;
	uv_stdio_container_t stdio[3];
	char *args[4];
	char *output_env = NULL;
	char **env = NULL;
	int rc;

	*out = NULL;
	te->loop = loop;
	te->sensor = opts->sensor;
	te->grace_ms = secs_to_ms(opts->grace ? opts->grace : SL_TASKEXEC_GRACE_DEFAULT);
	te->log_limit = opts->log_limit;
	te->on_log = opts->on_log;
	te->on_done = opts->on_done;
	te->data = opts->data;
	te->result.exit_code = -1;

	if (opts->output_dir && output_file_create(te, opts->output_dir, opts->user, err))
		goto fail;
	if (stream_init(te, &te->out, SL_TASKEXEC_STDOUT, err) ||
	    stream_init(te, &te->err, SL_TASKEXEC_STDERR, err))
		goto fail;
	rc = uv_timer_init(loop, &te->timer);
	if (rc) {
		sl_strbuf_addf(err, "cannot create a timer: %s", uv_strerror(rc));
		goto fail;
	}
	te->handles++;

	if (te->output_path)
		output_env = sl_xasprintf("SLUICE_OUTPUT=%s", te->output_path);
	env = env_with(opts->env, output_env);
	args[0] = sh;
	args[1] = dash_c;
	args[2] = (char *)opts->command;
	args[3] = NULL;

	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE; /* libuv opens /dev/null for an ignored fd 0-2 */
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&te->out.pipe;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&te->err.pipe;

	memset(&po, 0, sizeof(po));
	po.file = sh;
	po.args = args;
	po.env = env;
	po.cwd = opts->cwd;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_exit_cb;
	/* setsid() in the child: its own session and process group, so that a
	 * signal to -pid reaches every process the command starts, and no
	 * terminal signal from the daemon's session reaches the task. */
	po.flags = UV_PROCESS_DETACHED;
	if (opts->user) {
		po.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
		po.uid = opts->user->uid;
		po.gid = opts->user->gid;
	}

	uv_update_time(loop);
	te->started_loop_ms = uv_now(loop);
	te->result.started_at_ms = wall_ms();
	rc = uv_spawn(loop, &te->proc, &po);
	te->handles++; /* a failed spawn still leaves a handle to close */
	free(env);
	env = NULL;
	free(output_env);
	output_env = NULL;
	if (rc) {
		sl_strbuf_addf(err, "cannot run /bin/sh -c in '%s'", opts->cwd ? opts->cwd : ".");
		if (opts->user)
			sl_strbuf_addf(err, " as uid %ld gid %ld", (long)opts->user->uid,
			               (long)opts->user->gid);
		sl_strbuf_addf(err, ": %s", uv_strerror(rc));
		goto fail;
	}
	te->pid = te->proc.pid;

	if (opts->timeout) {
		rc = uv_timer_start(&te->timer, on_timer, secs_to_ms(opts->timeout), 0);
		if (rc) {
			/* Cannot enforce the timeout: do not let it run unbounded. */
			te->stop = TE_STOP_TIMEOUT;
			te->term_sent = true;
			signal_group(te, SIGKILL);
		}
	}
	for (struct te_stream *s = &te->out; s; s = s == &te->out ? &te->err : NULL) {
		rc = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
		if (rc)
			stream_close(s); /* the command gets EPIPE on that stream */
	}
	*out = te;
	return 0;

fail:
	free(env);
	free(output_env);
	start_abort(te);
	return SL_ERR;
}
