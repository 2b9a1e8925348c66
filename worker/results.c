#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/fsutil.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/*
 * Finished results, kept until the scheduler acknowledges them
 * (docs/protocol.md, "Results: at-least-once"). Each one is a file
 * `results/<attempt>.res` holding the encoded RESULT frame exactly as it goes
 * on the wire, so that re-sending it is a plain write and reading it back is
 * the protocol decoder, which validates it. Files are written as `.new`,
 * fsynced and renamed, so a crash leaves either the whole result or none.
 *
 * The writes are small and local and happen once per attempt, so they are
 * done on the loop thread.
 */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void keep(struct worker *w, const char *id, uint64_t fence, const char *bytes, size_t len)
{
	struct kept_result *k;

	SL_ALLOC_GROW(w->kept, w->kept_nr + 1, w->kept_alloc);
	k = &w->kept[w->kept_nr++];
	k->attempt_id = sl_xstrdup(id);
	k->fence = fence;
	sl_strbuf_init(&k->frame);
	sl_strbuf_add(&k->frame, bytes, len);
}

static size_t frame_len(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
}

/*
 * Move a result that can never be delivered out of the way, into
 * results/dead/ where an operator can still read it: keeping it would
 * resend it at every connection, forever; deleting it would lose the
 * evidence. Its attempt is then ended by the scheduler (NACK: already
 * done; unreadable at start: the HELLO that does not list it).
 */
static void dead_letter(const struct worker *w, const char *path, const char *name,
                        const char *reason)
{
	char *dir = sl_xasprintf("%s/dead", w->results_dir);
	char *to = sl_xasprintf("%s/%s", dir, name);
	struct sl_strbuf q = SL_STRBUF_INIT;

	sl_log_quote(&q, reason);
	if ((mkdir(dir, 0700) && errno != EEXIST) || rename(path, to)) {
		sl_log("error", "result_dead_letter_failed", "file=%s error=\"%s\" reason=%s", path,
		       strerror(errno), q.buf);
		unlink(path);
	} else {
		sl_fsync_dir(w->results_dir);
		sl_log("warn", "result_dead_lettered", "file=%s reason=%s", to, q.buf);
	}
	sl_strbuf_release(&q);
	free(to);
	free(dir);
}

/* Read one stored result back; false (logged) when it is not one RESULT frame. */
static bool load_one(struct worker *w, const char *path)
{
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	struct sl_proto_decoder dec;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	bool ok = false;

	sl_proto_decoder_init(&dec, 0);
	if (sl_strbuf_read_file(&data, path, SL_PROTO_MAX_FRAME + 4, &err))
		goto out;
	/* Exactly one frame: its length prefix must account for the whole file. */
	if (data.len < 5 || frame_len((const unsigned char *)data.buf) + 4 != data.len) {
		sl_strbuf_adds(&err, "not exactly one frame");
		goto out;
	}
	sl_proto_decoder_feed(&dec, data.buf, data.len);
	if (sl_proto_decoder_next(&dec, &m, &err) != 1 || m.type != SL_PROTO_RESULT) {
		if (!err.len)
			sl_strbuf_adds(&err, "not exactly one RESULT frame");
		goto out;
	}
	keep(w, m.u.result.attempt_id, m.u.result.fence, data.buf, data.len);
	ok = true;
out:
	if (!ok) {
		sl_log_quote(&q, err.buf);
		sl_log("error", "result_unreadable", "file=%s reason=%s", path, q.buf);
		dead_letter(w, path, strrchr(path, '/') + 1, err.buf);
	}
	sl_proto_msg_release(&m);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	return ok;
}

int results_init(struct worker *w, struct sl_strbuf *err)
{
	DIR *dir = NULL;
	struct dirent *de;
	int rc = 0;

	/* Made by taskuser_layout; its mode is checked there at each start. */
	w->results_dir = sl_xasprintf("%s/results", w->cfg.state_dir);
	if (!(dir = opendir(w->results_dir))) {
		sl_strbuf_addf(err, "cannot read %s: %s", w->results_dir, strerror(errno));
		rc = SL_ERR;
		goto out;
	}
	while ((de = readdir(dir))) {
		char *path;

		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		path = sl_xasprintf("%s/%s", w->results_dir, de->d_name);
		if (ends_with(de->d_name, ".new"))
			unlink(path); /* a write that never reached its rename */
		else if (ends_with(de->d_name, ".res") && load_one(w, path))
			sl_log("info", "result_kept", "attempt=%s",
			       w->kept[w->kept_nr - 1].attempt_id);
		free(path);
	}
out:
	if (dir)
		closedir(dir);
	return rc;
}

static void backlog_free(struct log_backlog *b)
{
	free(b->attempt_id);
	sl_strbuf_release(&b->frames);
}

void results_release(struct worker *w)
{
	for (size_t i = 0; i < w->backlog_nr; i++)
		backlog_free(&w->backlog[i]);
	free(w->backlog);
	w->backlog = NULL;
	w->backlog_nr = w->backlog_alloc = 0;
	for (size_t i = 0; i < w->kept_nr; i++) {
		free(w->kept[i].attempt_id);
		sl_strbuf_release(&w->kept[i].frame);
	}
	free(w->kept);
	w->kept = NULL;
	w->kept_nr = w->kept_alloc = 0;
	free(w->results_dir);
}

static char *result_path(const struct worker *w, const char *id, const char *suffix)
{
	return sl_xasprintf("%s/%s.res%s", w->results_dir, id, suffix);
}

int results_add(struct worker *w, const struct sl_proto_msg *result, struct sl_strbuf *err)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	const struct sl_proto_result *r = &result->u.result;
	char *path;
	int rc;

	/* Checked as the scheduler's decoder will: a refused frame is never kept. */
	if ((rc = sl_proto_encode_checked(result, &frame, err)))
		goto out;
	/*
	 * A result that cannot be stored is still kept in memory and sent: it is
	 * then lost only if the worker also dies before the ACK.
	 */
	path = result_path(w, r->attempt_id, "");
	rc = sl_file_write_atomic(w->results_dir, path, frame.buf, frame.len, err);
	free(path);
	keep(w, r->attempt_id, r->fence, frame.buf, frame.len);
	conn_send_raw(w, frame.buf, frame.len);
out:
	sl_strbuf_release(&frame);
	return rc;
}

static struct log_backlog *backlog_find(struct worker *w, const char *attempt_id)
{
	for (size_t i = 0; i < w->backlog_nr; i++)
		if (!strcmp(w->backlog[i].attempt_id, attempt_id))
			return &w->backlog[i];
	return NULL;
}

/*
 * Forget the oldest sent frames past the replay window, once they take
 * twice its size, so that the copy is paid once per window of output.
 */
static void backlog_trim(struct log_backlog *b)
{
	size_t off = 0;

	if (b->unsent <= 2 * WORKER_LOG_REPLAY)
		return;
	while (b->unsent - off > WORKER_LOG_REPLAY)
		off += 4 + frame_len((const unsigned char *)b->frames.buf + off);
	memmove(b->frames.buf, b->frames.buf + off, b->frames.len - off);
	sl_strbuf_setlen(&b->frames, b->frames.len - off);
	b->unsent -= off;
}

/* Everything kept is on its way now. */
static void backlog_sent(struct log_backlog *b)
{
	b->unsent = b->frames.len;
	b->bytes = 0;
	b->dropped = false;
	backlog_trim(b);
}

void results_log(struct worker *w, const struct sl_proto_msg *log, uint64_t log_limit)
{
	const struct sl_proto_log *l = &log->u.log;
	uint64_t limit = log_limit ? log_limit : WORKER_BACKLOG_MAX;
	struct log_backlog *b = backlog_find(w, l->attempt_id);
	size_t start;

	if (!b) {
		SL_ALLOC_GROW(w->backlog, w->backlog_nr + 1, w->backlog_alloc);
		b = &w->backlog[w->backlog_nr++];
		b->attempt_id = sl_xstrdup(l->attempt_id);
		sl_strbuf_init(&b->frames);
		b->unsent = 0;
		b->bytes = 0;
		b->dropped = false;
	}
	/* Not before WELCOME either: a REJECT would lose what was sent. */
	if (conn_ready(w) && b->unsent == b->frames.len) {
		start = b->frames.len;
		if (sl_proto_encode(log, &b->frames)) {
			sl_log("error", "encode_failed", "type=LOG attempt=%s", l->attempt_id);
			return;
		}
		if (conn_send_raw(w, b->frames.buf + start, b->frames.len - start)) {
			backlog_sent(b);
			return;
		}
		/* The connection just failed: the frame stays, unsent. */
		b->bytes += l->len;
		return;
	}
	if (b->bytes + l->len > limit) {
		if (!b->dropped)
			sl_log("warn", "log_dropped",
			       "attempt=%s seq=%llu reason=\"%llu bytes kept while disconnected\"",
			       l->attempt_id, (unsigned long long)l->seq,
			       (unsigned long long)b->bytes);
		b->dropped = true;
		return;
	}
	if (sl_proto_encode(log, &b->frames)) {
		sl_log("error", "encode_failed", "type=LOG attempt=%s", l->attempt_id);
		return;
	}
	b->bytes += l->len;
}

static void backlog_forget(struct worker *w, const char *attempt_id)
{
	struct log_backlog *b = backlog_find(w, attempt_id);

	if (!b)
		return;
	backlog_free(b);
	*b = w->backlog[--w->backlog_nr];
}

/* Forget kept result `i` and its log backlog (acknowledged or refused). */
static void kept_forget(struct worker *w, size_t i)
{
	struct kept_result *k = &w->kept[i];

	backlog_forget(w, k->attempt_id);
	free(k->attempt_id);
	sl_strbuf_release(&k->frame);
	memmove(k, k + 1, (w->kept_nr - i - 1) * sizeof(*k));
	w->kept_nr--;
}

void results_ack(struct worker *w, const struct sl_proto_ref *ack)
{
	for (size_t i = 0; i < w->kept_nr; i++) {
		struct kept_result *k = &w->kept[i];
		char *path;

		if (strcmp(k->attempt_id, ack->attempt_id) || k->fence != ack->fence)
			continue;
		path = result_path(w, k->attempt_id, "");
		if (unlink(path) && errno != ENOENT)
			sl_log("error", "result_unlink_failed", "file=%s error=\"%s\"", path,
			       strerror(errno));
		free(path);
		sl_log("info", "result_acked", "attempt=%s fence=%llu", k->attempt_id,
		       (unsigned long long)k->fence);
		kept_forget(w, i);
		return;
	}
	sl_log("info", "ack_ignored", "attempt=%s fence=%llu reason=\"no such result\"",
	       ack->attempt_id, (unsigned long long)ack->fence);
}

void results_nack(struct worker *w, const struct sl_proto_ref *nack)
{
	for (size_t i = 0; i < w->kept_nr; i++) {
		struct kept_result *k = &w->kept[i];
		char *path, *name;

		if (strcmp(k->attempt_id, nack->attempt_id) || k->fence != nack->fence)
			continue;
		path = result_path(w, k->attempt_id, "");
		name = sl_xasprintf("%s.res", k->attempt_id);
		dead_letter(w, path, name, nack->reason);
		free(name);
		free(path);
		kept_forget(w, i);
		return;
	}
	sl_log("info", "nack_ignored", "attempt=%s fence=%llu reason=\"no such result\"",
	       nack->attempt_id, (unsigned long long)nack->fence);
}

void results_resend(struct worker *w)
{
	/* Logs first: the scheduler stores an attempt's log before its end. */
	for (size_t i = 0; i < w->backlog_nr; i++) {
		struct log_backlog *b = &w->backlog[i];

		if (!b->frames.len)
			continue;
		sl_log("info", "logs_resent", "attempt=%s frame_bytes=%zu unsent_log_bytes=%llu",
		       b->attempt_id, b->frames.len, (unsigned long long)b->bytes);
		if (conn_send_raw(w, b->frames.buf, b->frames.len))
			backlog_sent(b);
	}
	for (size_t i = 0; i < w->kept_nr; i++) {
		sl_log("info", "result_resent", "attempt=%s fence=%llu", w->kept[i].attempt_id,
		       (unsigned long long)w->kept[i].fence);
		conn_send_raw(w, w->kept[i].frame.buf, w->kept[i].frame.len);
	}
}

bool results_has(const struct worker *w, const char *attempt_id)
{
	for (size_t i = 0; i < w->kept_nr; i++)
		if (!strcmp(w->kept[i].attempt_id, attempt_id))
			return true;
	return false;
}

void results_list(const struct worker *w, struct sl_proto_strlist *l)
{
	for (size_t i = 0; i < w->kept_nr; i++)
		sl_proto_strlist_push(l, w->kept[i].attempt_id);
}
