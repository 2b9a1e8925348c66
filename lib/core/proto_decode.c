/*
 * The job protocol codec, decoding: frames from a byte stream, and each
 * message checked field by field against docs/protocol.md, as any input
 * from the network must be.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "proto_int.h"
#include "sluice/banned.h"

/* Where a field is read from, so that every error names the message and field. */
struct dctx {
	const char *tname;
	json_t *obj;
	struct sl_strbuf *err;
};

__attribute__((format(printf, 3, 4))) static int field_error(struct dctx *c, const char *key,
                                                             const char *fmt, ...)
{
	va_list ap;

	sl_strbuf_addf(c->err, "%s message: field \"%s\" ", c->tname, key);
	va_start(ap, fmt);
	sl_strbuf_vaddf(c->err, fmt, ap);
	va_end(ap);
	return SL_EINVAL;
}

/* The value of `key`; NULL when absent or null (an error if it is required). */
static json_t *field(struct dctx *c, const char *key, bool required, int *rc)
{
	json_t *v = json_object_get(c->obj, key);

	*rc = 0;
	if (v && !json_is_null(v))
		return v;
	if (required)
		*rc = field_error(c, key, "is missing");
	return NULL;
}

static bool is_id(const char *s, size_t len)
{
	if (len < 1 || len > SL_PROTO_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

/* Run ids are wider than ids: scheduled runs are named by an ISO time with its offset. */
static bool is_run_id(const char *s, size_t len)
{
	if (len < 1 || len > SL_PROTO_RUN_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr("_.:+~-", ch))))
			return false;
	}
	return true;
}

static bool is_env_name(const char *s, size_t len)
{
	if (len < 1 || len > SL_PROTO_ID_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

static bool is_commit(const char *s, size_t len)
{
	if (len != 40 && len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

enum text_kind { TEXT, TEXT_NONEMPTY, ID, RUN_ID, COMMIT };

static const char *const text_rule[] = {
    [TEXT] = "must be a string without NUL bytes",
    [TEXT_NONEMPTY] = "must be a non-empty string without NUL bytes",
    [ID] = "must be an id of 1 to 200 characters from [A-Za-z0-9_.-]",
    [RUN_ID] = "must be a run id of 1 to 250 characters from [A-Za-z0-9_.:+~-]",
    [COMMIT] = "must be a commit id (40 or 64 lowercase hex digits)",
};

/* Check one JSON string against `kind`; returns the string or NULL. */
static const char *check_text(json_t *v, enum text_kind kind)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len || len > SL_PROTO_TEXT_MAX)
		return NULL;
	if ((kind == TEXT_NONEMPTY && len == 0) || (kind == ID && !is_id(s, len)) ||
	    (kind == RUN_ID && !is_run_id(s, len)) || (kind == COMMIT && !is_commit(s, len)))
		return NULL;
	return s;
}

static int get_text(struct dctx *c, const char *key, enum text_kind kind, char **out)
{
	int rc;
	json_t *v = field(c, key, true, &rc);
	const char *s;

	if (!v)
		return rc;
	s = check_text(v, kind);
	if (!s)
		return field_error(c, key, "%s", text_rule[kind]);
	*out = sl_xstrdup(s);
	return 0;
}

/* Like get_text, for an optional field: `*out` stays NULL when absent. */
static int get_opt_text(struct dctx *c, const char *key, enum text_kind kind, char **out)
{
	int rc;

	if (!field(c, key, false, &rc))
		return rc;
	return get_text(c, key, kind, out);
}

static int get_uint(struct dctx *c, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	int rc;
	json_t *v = field(c, key, true, &rc);
	json_int_t n;

	if (!v)
		return rc;
	n = json_is_integer(v) ? json_integer_value(v) : -1;
	if (!json_is_integer(v) || n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return field_error(c, key, "must be an integer from %" PRIu64 " to %" PRIu64, min,
		                   max);
	*out = (uint64_t)n;
	return 0;
}

static int get_u32(struct dctx *c, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	int rc = get_uint(c, key, min, max, &v);

	*out = (uint32_t)v;
	return rc;
}

/* An optional boolean, false when absent. */
static int get_bool(struct dctx *c, const char *key, bool *out)
{
	int rc;
	json_t *v = field(c, key, false, &rc);

	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return field_error(c, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* An array of strings, each checked as `kind`. */
static int get_strlist(struct dctx *c, const char *key, bool required, enum text_kind kind,
                       struct sl_proto_strlist *out)
{
	int rc;
	json_t *v = field(c, key, required, &rc), *item;
	size_t i;

	if (!v)
		return rc;
	if (!json_is_array(v) || json_array_size(v) > SL_PROTO_LIST_MAX)
		return field_error(c, key, "must be an array of at most %d strings",
		                   SL_PROTO_LIST_MAX);
	json_array_foreach(v, i, item)
	{
		const char *s = check_text(item, kind);

		if (!s)
			return field_error(c, key, "item %zu %s", i + 1, text_rule[kind]);
		sl_proto_strlist_push(out, s);
	}
	return 0;
}

/* An array of [key, value] string pairs; keys are ids or environment names. */
static int get_kvlist(struct dctx *c, const char *key, bool env, struct sl_proto_kvlist *out)
{
	int rc;
	json_t *v = field(c, key, false, &rc), *item;
	size_t i;

	if (!v)
		return rc;
	if (!json_is_array(v) || json_array_size(v) > SL_PROTO_LIST_MAX)
		return field_error(c, key, "must be an array of at most %d [key, value] pairs",
		                   SL_PROTO_LIST_MAX);
	json_array_foreach(v, i, item)
	{
		json_t *k = json_array_get(item, 0);
		const char *ks = NULL, *vs = check_text(json_array_get(item, 1), TEXT);

		if (!json_is_array(item) || json_array_size(item) != 2 || !vs)
			return field_error(
			    c, key, "item %zu must be a [key, value] pair of strings", i + 1);
		if (env)
			ks = json_is_string(k) &&
			             is_env_name(json_string_value(k), json_string_length(k))
			         ? json_string_value(k)
			         : NULL;
		else
			ks = check_text(k, ID);
		if (!ks)
			return field_error(c, key, "item %zu has a bad key: %s", i + 1,
			                   env ? "an environment name is 1 to 200 characters from "
			                         "[A-Za-z0-9_], not starting with a digit"
			                       : text_rule[ID]);
		sl_proto_kvlist_push(out, ks, vs);
	}
	return 0;
}

static int get_ref(struct dctx *c, char **attempt_id, uint64_t *fence)
{
	int rc = get_text(c, "attempt_id", ID, attempt_id);

	if (rc)
		return rc;
	return get_uint(c, "fencing_token", 1, INT64_MAX, fence);
}

/* One of `names` (indexed by enum value, NULL holes allowed); 0 if none. */
static int get_enum(struct dctx *c, const char *key, const char *const *names, size_t nr,
                    const char *rule, int *out)
{
	int rc;
	json_t *v = field(c, key, true, &rc);

	if (!v)
		return rc;
	for (size_t i = 0; i < nr; i++) {
		if (names[i] && json_is_string(v) && strcmp(json_string_value(v), names[i]) == 0 &&
		    strlen(names[i]) == json_string_length(v)) {
			*out = (int)i;
			return 0;
		}
	}
	return field_error(c, key, "must be one of %s", rule);
}

static int get_outcome(struct dctx *c, enum sl_outcome *out)
{
	int rc;
	json_t *v = field(c, "outcome", true, &rc);

	if (!v)
		return rc;
	if (json_is_string(v) && sl_outcome_parse(json_string_value(v), json_string_length(v), out))
		return 0;
	return field_error(c, "outcome",
	                   "must be one of success, failed, skipped, reschedule, timeout, "
	                   "cancelled, lost");
}

static int decode_hello(struct dctx *c, struct sl_proto_hello *h)
{
	int rc;

	if ((rc = get_u32(c, "version_min", 1, 65535, &h->version_min)) ||
	    (rc = get_u32(c, "version_max", h->version_min, 65535, &h->version_max)) ||
	    (rc = get_text(c, "token", TEXT_NONEMPTY, &h->token)) ||
	    (rc = get_text(c, "worker_id", ID, &h->worker_id)) ||
	    (rc = get_text(c, "host", TEXT_NONEMPTY, &h->host)) ||
	    (rc = get_u32(c, "slots", 1, 65535, &h->slots)) ||
	    (rc = get_strlist(c, "queues", false, ID, &h->queues)) ||
	    (rc = get_strlist(c, "running", false, ID, &h->running)))
		return rc;
	return 0;
}

static int decode_dispatch(struct dctx *c, struct sl_proto_dispatch *d)
{
	int rc;

	if ((rc = get_ref(c, &d->attempt_id, &d->fence)) ||
	    (rc = get_text(c, "dag", ID, &d->dag)) ||
	    (rc = get_text(c, "run_id", RUN_ID, &d->run_id)) ||
	    (rc = get_text(c, "task", ID, &d->task)) ||
	    (rc = get_u32(c, "try_number", 1, INT32_MAX, &d->try_number)) ||
	    (rc = get_text(c, "command", TEXT_NONEMPTY, &d->command)) ||
	    (rc = get_kvlist(c, "env", true, &d->env)) ||
	    (rc = get_text(c, "cwd", TEXT, &d->cwd)) ||
	    (rc = get_text(c, "commit", COMMIT, &d->commit)) ||
	    (rc = get_opt_text(c, "repo", TEXT_NONEMPTY, &d->repo)) ||
	    (rc = get_u32(c, "timeout_s", 0, INT32_MAX, &d->timeout_s)) ||
	    (rc = get_uint(c, "log_limit", 0, INT64_MAX, &d->log_limit)) ||
	    (rc = get_bool(c, "sensor", &d->sensor)))
		return rc;
	return 0;
}

static int get_opt_int(struct dctx *c, const char *key, int min, int max, int none, int *out)
{
	int rc;
	json_t *v = field(c, key, false, &rc);
	uint64_t n = 0;

	*out = none;
	if (!v)
		return 0;
	rc = get_uint(c, key, (uint64_t)min, (uint64_t)max, &n);
	*out = (int)n;
	return rc;
}

static int decode_result(struct dctx *c, struct sl_proto_result *r)
{
	uint64_t started = 0, ended = 0;
	int rc;

	if ((rc = get_ref(c, &r->attempt_id, &r->fence)) || (rc = get_outcome(c, &r->outcome)) ||
	    (rc = get_opt_int(c, "exit_code", 0, 255, -1, &r->exit_code)) ||
	    (rc = get_opt_int(c, "signal", 1, 127, 0, &r->signal)) ||
	    (rc = get_uint(c, "started_ms", 0, INT64_MAX, &started)) ||
	    (rc = get_uint(c, "ended_ms", 0, INT64_MAX, &ended)) ||
	    (rc = get_kvlist(c, "outputs", false, &r->outputs)) ||
	    (rc = get_uint(c, "log_bytes", 0, INT64_MAX, &r->log_bytes)) ||
	    (rc = get_bool(c, "truncated", &r->truncated)))
		return rc;
	r->started_ms = (int64_t)started;
	r->ended_ms = (int64_t)ended;
	if (r->exit_code >= 0 && r->signal > 0)
		return field_error(c, "signal", "cannot be given together with \"exit_code\"");
	if (ended < started)
		return field_error(c, "ended_ms", "is before \"started_ms\"");
	return 0;
}

static int decode_object(struct dctx *c, struct sl_proto_msg *msg)
{
	int rc = 0, stream = 0;

	switch (msg->type) {
	case SL_PROTO_HELLO:
		return decode_hello(c, &msg->u.hello);
	case SL_PROTO_WELCOME:
		if ((rc = get_u32(c, "version", 1, 65535, &msg->u.welcome.version)) ||
		    (rc = get_u32(c, "heartbeat_ms", 100, 3600000, &msg->u.welcome.heartbeat_ms)) ||
		    (rc = get_u32(c, "lease_ms", msg->u.welcome.heartbeat_ms + 1, 3600000,
		                  &msg->u.welcome.lease_ms)))
			return rc;
		return get_text(c, "scheduler_id", ID, &msg->u.welcome.scheduler_id);
	case SL_PROTO_REJECT:
		return get_text(c, "reason", TEXT_NONEMPTY, &msg->u.reject.reason);
	case SL_PROTO_HEARTBEAT:
		if ((rc = get_strlist(c, "running", false, ID, &msg->u.heartbeat.running)))
			return rc;
		return get_uint(c, "dispatches", 0, INT64_MAX, &msg->u.heartbeat.dispatches);
	case SL_PROTO_DISPATCH:
		return decode_dispatch(c, &msg->u.dispatch);
	case SL_PROTO_LOG:
		if ((rc = get_ref(c, &msg->u.log.attempt_id, &msg->u.log.fence)) ||
		    (rc = get_uint(c, "seq", 0, INT64_MAX, &msg->u.log.seq)) ||
		    (rc = get_enum(c, "stream", sl_proto__stream_names,
		                   SL_ARRAY_SIZE(sl_proto__stream_names), "stdout, stderr",
		                   &stream)))
			return rc;
		msg->u.log.stream = stream;
		return 0;
	case SL_PROTO_RESULT:
		return decode_result(c, &msg->u.result);
	case SL_PROTO_ACK:
		return get_ref(c, &msg->u.ack.attempt_id, &msg->u.ack.fence);
	case SL_PROTO_CANCEL:
		if ((rc = get_ref(c, &msg->u.cancel.attempt_id, &msg->u.cancel.fence)))
			return rc;
		return get_text(c, "reason", TEXT, &msg->u.cancel.reason);
	case SL_PROTO_NACK:
		if ((rc = get_ref(c, &msg->u.nack.attempt_id, &msg->u.nack.fence)))
			return rc;
		return get_text(c, "reason", TEXT_NONEMPTY, &msg->u.nack.reason);
	case SL_PROTO_DRAIN:
		return 0;
	}
	return SL_EINVAL;
}

static void refusal_free(struct sl_proto_refusal *r)
{
	if (!r)
		return;
	free(r->attempt_id);
	free(r);
}

/* What can be trusted of a refused frame: its attempt reference, when valid. */
static struct sl_proto_refusal *refusal_of(const struct dctx *c, enum sl_proto_type type)
{
	struct sl_proto_refusal *r = sl_xcalloc(1, sizeof(*r));
	const char *id = check_text(json_object_get(c->obj, "attempt_id"), ID);
	json_t *fence = json_object_get(c->obj, "fencing_token");

	r->type = type;
	if (id)
		r->attempt_id = sl_xstrdup(id);
	if (json_is_integer(fence) && json_integer_value(fence) > 0)
		r->fence = (uint64_t)json_integer_value(fence);
	return r;
}

/*
 * Decode one frame body (type byte and payload) into `msg`. A frame whose
 * payload is a JSON object but whose fields break a rule sets `*refused`:
 * the stream is still in step, so only this message is lost.
 */
static int decode_frame(const unsigned char *p, size_t len, struct sl_proto_msg *msg,
                        struct sl_strbuf *err, struct sl_proto_refusal **refused)
{
	struct dctx c = {NULL, NULL, err};
	const unsigned char *json = p + 1;
	size_t jlen = len - 1;
	json_error_t jerr;
	int rc = SL_EINVAL;

	if (p[0] == 0 || p[0] >= SL_ARRAY_SIZE(sl_proto__type_names)) {
		sl_strbuf_addf(err, "frame type %u is unknown", p[0]);
		return SL_EINVAL;
	}
	sl_proto_msg_init(msg, p[0]);
	c.tname = sl_proto_type_name(p[0]);
	if (msg->type == SL_PROTO_LOG) {
		if (jlen < 4 || sl_proto__get_be32(json) > jlen - 4) {
			sl_strbuf_addf(err, "LOG message: header length runs past the frame");
			goto fail;
		}
		jlen = sl_proto__get_be32(json);
		json += 4;
	}
	c.obj = json_loadb((const char *)json, jlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!c.obj) {
		sl_strbuf_addf(err, "%s message: payload is not JSON: %s at byte %d", c.tname,
		               jerr.text, jerr.position);
		goto fail;
	}
	if (!json_is_object(c.obj)) {
		sl_strbuf_addf(err, "%s message: payload is not a JSON object", c.tname);
		goto fail;
	}
	rc = decode_object(&c, msg);
	if (rc) {
		*refused = refusal_of(&c, msg->type);
		goto fail;
	}
	if (msg->type == SL_PROTO_LOG) {
		size_t dlen = (size_t)(p + len - (json + jlen));

		msg->u.log.data = sl_xmalloc(dlen + 1);
		memcpy(msg->u.log.data, json + jlen, dlen);
		msg->u.log.data[dlen] = '\0';
		msg->u.log.len = dlen;
	}
	json_decref(c.obj);
	return 0;
fail:
	json_decref(c.obj);
	sl_proto_msg_release(msg);
	return rc;
}

void sl_proto_decoder_set_max_frame(struct sl_proto_decoder *dec, size_t max_frame)
{
	if (max_frame == 0)
		max_frame = SL_PROTO_MAX_FRAME;
	if (max_frame < SL_PROTO_MIN_MAX_FRAME)
		max_frame = SL_PROTO_MIN_MAX_FRAME;
	if (max_frame > UINT32_MAX)
		max_frame = UINT32_MAX;
	dec->max_frame = max_frame;
}

void sl_proto_decoder_init(struct sl_proto_decoder *dec, size_t max_frame)
{
	sl_strbuf_init(&dec->buf);
	sl_strbuf_init(&dec->error);
	dec->pos = 0;
	sl_proto_decoder_set_max_frame(dec, max_frame);
	dec->failed = 0;
	dec->refused = NULL;
}

void sl_proto_decoder_release(struct sl_proto_decoder *dec)
{
	sl_strbuf_release(&dec->buf);
	sl_strbuf_release(&dec->error);
	refusal_free(dec->refused);
	dec->refused = NULL;
	dec->pos = 0;
}

const struct sl_proto_refusal *sl_proto_decoder_refusal(const struct sl_proto_decoder *dec)
{
	return dec->refused;
}

/* Fail for good: keep the reason, drop the buffered bytes. */
static int decoder_fail(struct sl_proto_decoder *dec, int code)
{
	dec->failed = code;
	sl_strbuf_release(&dec->buf);
	dec->pos = 0;
	return code;
}

/* Check the length prefix of the next frame once its 4 bytes are here. */
static int check_prefix(struct sl_proto_decoder *dec, uint32_t *flen)
{
	*flen = sl_proto__get_be32((const unsigned char *)dec->buf.buf + dec->pos);
	if (*flen == 0) {
		sl_strbuf_addf(&dec->error, "frame of 0 bytes has no type byte");
		return decoder_fail(dec, SL_EINVAL);
	}
	if (*flen > dec->max_frame) {
		sl_strbuf_addf(&dec->error, "frame of %" PRIu32 " bytes exceeds the %zu-byte limit",
		               *flen, dec->max_frame);
		return decoder_fail(dec, SL_ETOOBIG);
	}
	return 0;
}

int sl_proto_decoder_feed(struct sl_proto_decoder *dec, const void *bytes, size_t len)
{
	size_t avail = dec->buf.len - dec->pos;
	uint32_t flen;

	if (dec->failed)
		return dec->failed;
	/* A drained decoder holds less than one whole frame. */
	if (avail > 4 + dec->max_frame) {
		sl_strbuf_addf(&dec->error,
		               "decoder holds %zu bytes, more than one frame: it was not drained",
		               avail);
		return decoder_fail(dec, SL_ETOOBIG);
	}
	if (dec->pos) {
		memmove(dec->buf.buf, dec->buf.buf + dec->pos, avail);
		sl_strbuf_setlen(&dec->buf, avail);
		dec->pos = 0;
	}
	if (len)
		sl_strbuf_add(&dec->buf, bytes, len);
	if (dec->buf.len >= 4)
		return check_prefix(dec, &flen);
	return 0;
}

int sl_proto_decoder_next(struct sl_proto_decoder *dec, struct sl_proto_msg *msg,
                          struct sl_strbuf *err)
{
	const unsigned char *p;
	uint32_t flen;
	int rc;

	sl_proto_msg_release(msg);
	refusal_free(dec->refused);
	dec->refused = NULL;
	if (dec->failed)
		goto fail;
	if (dec->buf.len - dec->pos < 4)
		return 0;
	if (check_prefix(dec, &flen))
		goto fail;
	if (dec->buf.len - dec->pos - 4 < flen)
		return 0;
	p = (const unsigned char *)dec->buf.buf + dec->pos + 4;
	rc = decode_frame(p, flen, msg, &dec->error, &dec->refused);
	if (rc && !dec->refused) {
		decoder_fail(dec, rc);
		goto fail;
	}
	dec->pos += 4 + (size_t)flen;
	if (dec->pos == dec->buf.len) {
		sl_strbuf_setlen(&dec->buf, 0);
		dec->pos = 0;
	}
	if (rc) {
		sl_strbuf_add(err, dec->error.buf, dec->error.len);
		sl_strbuf_reset(&dec->error);
		return SL_PROTO_REFUSED;
	}
	return 1;
fail:
	sl_strbuf_add(err, dec->error.buf, dec->error.len);
	return dec->failed;
}
