/*
 * The job protocol codec: frames and messages, see docs/protocol.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "sluice/banned.h"

static const char *const type_names[] = {
    [SL_PROTO_HELLO] = "HELLO",       [SL_PROTO_WELCOME] = "WELCOME",
    [SL_PROTO_REJECT] = "REJECT",     [SL_PROTO_HEARTBEAT] = "HEARTBEAT",
    [SL_PROTO_DISPATCH] = "DISPATCH", [SL_PROTO_LOG] = "LOG",
    [SL_PROTO_RESULT] = "RESULT",     [SL_PROTO_ACK] = "ACK",
    [SL_PROTO_CANCEL] = "CANCEL",     [SL_PROTO_DRAIN] = "DRAIN",
    [SL_PROTO_NACK] = "NACK",
};

static const char *const outcome_names[] = {
    [SL_PROTO_SUCCESS] = "success", [SL_PROTO_FAILED] = "failed",
    [SL_PROTO_SKIPPED] = "skipped", [SL_PROTO_RESCHEDULE] = "reschedule",
    [SL_PROTO_TIMEOUT] = "timeout", [SL_PROTO_CANCELLED] = "cancelled",
    [SL_PROTO_LOST] = "lost",
};

static const char *const stream_names[] = {
    [SL_PROTO_STDOUT] = "stdout",
    [SL_PROTO_STDERR] = "stderr",
};

const char *sl_proto_type_name(int type)
{
	if (type <= 0 || (size_t)type >= SL_ARRAY_SIZE(type_names) || !type_names[type])
		return "unknown";
	return type_names[type];
}

void sl_proto_strlist_push(struct sl_proto_strlist *l, const char *s)
{
	SL_ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	l->items[l->nr++] = sl_xstrdup(s);
}

void sl_proto_kvlist_push(struct sl_proto_kvlist *l, const char *key, const char *value)
{
	SL_ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	l->items[l->nr].key = sl_xstrdup(key);
	l->items[l->nr].value = sl_xstrdup(value);
	l->nr++;
}

static void strlist_release(struct sl_proto_strlist *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->items[i]);
	free(l->items);
}

static void kvlist_release(struct sl_proto_kvlist *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
}

void sl_proto_msg_init(struct sl_proto_msg *msg, enum sl_proto_type type)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = type;
}

void sl_proto_msg_release(struct sl_proto_msg *msg)
{
	switch (msg->type) {
	case SL_PROTO_HELLO:
		free(msg->u.hello.token);
		free(msg->u.hello.worker_id);
		free(msg->u.hello.host);
		strlist_release(&msg->u.hello.queues);
		strlist_release(&msg->u.hello.running);
		break;
	case SL_PROTO_WELCOME:
		free(msg->u.welcome.scheduler_id);
		break;
	case SL_PROTO_REJECT:
		free(msg->u.reject.reason);
		break;
	case SL_PROTO_HEARTBEAT:
		strlist_release(&msg->u.heartbeat.running);
		break;
	case SL_PROTO_DISPATCH:
		free(msg->u.dispatch.attempt_id);
		free(msg->u.dispatch.dag);
		free(msg->u.dispatch.run_id);
		free(msg->u.dispatch.task);
		free(msg->u.dispatch.command);
		kvlist_release(&msg->u.dispatch.env);
		free(msg->u.dispatch.cwd);
		free(msg->u.dispatch.commit);
		free(msg->u.dispatch.repo);
		break;
	case SL_PROTO_LOG:
		free(msg->u.log.attempt_id);
		free(msg->u.log.data);
		break;
	case SL_PROTO_RESULT:
		free(msg->u.result.attempt_id);
		kvlist_release(&msg->u.result.outputs);
		break;
	case SL_PROTO_ACK:
	case SL_PROTO_CANCEL:
	case SL_PROTO_NACK:
		free(msg->u.ack.attempt_id);
		free(msg->u.ack.reason);
		break;
	case SL_PROTO_DRAIN:
		break;
	}
	sl_proto_msg_init(msg, 0);
}

/* ---- encoding ---- */

/*
 * The builders below note a failure (a NULL string, text that is not UTF-8,
 * an integer JSON cannot carry) in *bad and carry on, so that each encoder
 * reads as a plain list of fields.
 */
static void put(json_t *obj, const char *key, json_t *v, int *bad)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*bad = 1;
}

static void put_str(json_t *obj, const char *key, const char *s, int *bad)
{
	put(obj, key, s ? json_string(s) : NULL, bad);
}

static void put_uint(json_t *obj, const char *key, uint64_t v, int *bad)
{
	put(obj, key, v <= INT64_MAX ? json_integer((json_int_t)v) : NULL, bad);
}

static void put_strlist(json_t *obj, const char *key, const struct sl_proto_strlist *l, int *bad)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->nr; i++)
		if (!l->items[i] || json_array_append_new(a, json_string(l->items[i])) != 0)
			*bad = 1;
	put(obj, key, a, bad);
}

static void put_kvlist(json_t *obj, const char *key, const struct sl_proto_kvlist *l, int *bad)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->nr; i++) {
		const struct sl_proto_kv *kv = &l->items[i];

		if (!kv->key || !kv->value ||
		    json_array_append_new(a, json_pack("[ss]", kv->key, kv->value)) != 0)
			*bad = 1;
	}
	put(obj, key, a, bad);
}

static void put_ref(json_t *o, const char *attempt_id, uint64_t fence, int *bad)
{
	put_str(o, "attempt_id", attempt_id, bad);
	put_uint(o, "fencing_token", fence, bad);
}

static void encode_dispatch(json_t *o, const struct sl_proto_dispatch *d, int *bad)
{
	put_ref(o, d->attempt_id, d->fence, bad);
	put_str(o, "dag", d->dag, bad);
	put_str(o, "run_id", d->run_id, bad);
	put_str(o, "task", d->task, bad);
	put_uint(o, "try_number", d->try_number, bad);
	put_str(o, "command", d->command, bad);
	put_kvlist(o, "env", &d->env, bad);
	put_str(o, "cwd", d->cwd ? d->cwd : "", bad);
	put_str(o, "commit", d->commit, bad);
	if (d->repo)
		put_str(o, "repo", d->repo, bad);
	put_uint(o, "timeout_s", d->timeout_s, bad);
	put_uint(o, "log_limit", d->log_limit, bad);
	put(o, "sensor", json_boolean(d->sensor), bad);
}

static void encode_result(json_t *o, const struct sl_proto_result *r, int *bad)
{
	put_ref(o, r->attempt_id, r->fence, bad);
	if (r->outcome <= 0 || (size_t)r->outcome >= SL_ARRAY_SIZE(outcome_names))
		*bad = 1;
	else
		put_str(o, "outcome", outcome_names[r->outcome], bad);
	if (r->exit_code >= 0)
		put_uint(o, "exit_code", (uint64_t)r->exit_code, bad);
	if (r->signal > 0)
		put_uint(o, "signal", (uint64_t)r->signal, bad);
	put(o, "started_ms", json_integer(r->started_ms), bad);
	put(o, "ended_ms", json_integer(r->ended_ms), bad);
	put_kvlist(o, "outputs", &r->outputs, bad);
	put_uint(o, "log_bytes", r->log_bytes, bad);
	put(o, "truncated", json_boolean(r->truncated), bad);
}

/* The JSON object of a message; for LOG, its header. NULL if it cannot be built. */
static json_t *encode_json(const struct sl_proto_msg *msg)
{
	json_t *o = json_object();
	int bad = 0;

	switch (msg->type) {
	case SL_PROTO_HELLO:
		put_uint(o, "version_min", msg->u.hello.version_min, &bad);
		put_uint(o, "version_max", msg->u.hello.version_max, &bad);
		put_str(o, "token", msg->u.hello.token, &bad);
		put_str(o, "worker_id", msg->u.hello.worker_id, &bad);
		put_str(o, "host", msg->u.hello.host, &bad);
		put_uint(o, "slots", msg->u.hello.slots, &bad);
		put_strlist(o, "queues", &msg->u.hello.queues, &bad);
		put_strlist(o, "running", &msg->u.hello.running, &bad);
		break;
	case SL_PROTO_WELCOME:
		put_uint(o, "version", msg->u.welcome.version, &bad);
		put_uint(o, "heartbeat_ms", msg->u.welcome.heartbeat_ms, &bad);
		put_uint(o, "lease_ms", msg->u.welcome.lease_ms, &bad);
		put_str(o, "scheduler_id", msg->u.welcome.scheduler_id, &bad);
		break;
	case SL_PROTO_REJECT:
		put_str(o, "reason", msg->u.reject.reason, &bad);
		break;
	case SL_PROTO_HEARTBEAT:
		put_strlist(o, "running", &msg->u.heartbeat.running, &bad);
		put_uint(o, "dispatches", msg->u.heartbeat.dispatches, &bad);
		break;
	case SL_PROTO_DISPATCH:
		encode_dispatch(o, &msg->u.dispatch, &bad);
		break;
	case SL_PROTO_LOG:
		put_ref(o, msg->u.log.attempt_id, msg->u.log.fence, &bad);
		put_uint(o, "seq", msg->u.log.seq, &bad);
		if (msg->u.log.stream != SL_PROTO_STDOUT && msg->u.log.stream != SL_PROTO_STDERR)
			bad = 1;
		else
			put_str(o, "stream", stream_names[msg->u.log.stream], &bad);
		if (msg->u.log.len && !msg->u.log.data)
			bad = 1;
		break;
	case SL_PROTO_RESULT:
		encode_result(o, &msg->u.result, &bad);
		break;
	case SL_PROTO_ACK:
		put_ref(o, msg->u.ack.attempt_id, msg->u.ack.fence, &bad);
		break;
	case SL_PROTO_CANCEL:
		put_ref(o, msg->u.cancel.attempt_id, msg->u.cancel.fence, &bad);
		put_str(o, "reason", msg->u.cancel.reason ? msg->u.cancel.reason : "", &bad);
		break;
	case SL_PROTO_NACK:
		put_ref(o, msg->u.nack.attempt_id, msg->u.nack.fence, &bad);
		put_str(o, "reason", msg->u.nack.reason, &bad);
		break;
	case SL_PROTO_DRAIN:
		break;
	default:
		bad = 1;
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void put_be32(struct sl_strbuf *out, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

	sl_strbuf_add(out, b, 4);
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int sl_proto_encode(const struct sl_proto_msg *msg, struct sl_strbuf *out)
{
	json_t *o = encode_json(msg);
	char *text = NULL;
	size_t tlen, flen;
	int rc = SL_EINVAL;

	if (!o)
		goto fail;
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		goto fail;
	tlen = strlen(text);
	flen = 1 + tlen;
	if (msg->type == SL_PROTO_LOG)
		flen += 4 + msg->u.log.len;
	if (tlen > UINT32_MAX || flen > UINT32_MAX || flen < tlen) {
		rc = SL_ETOOBIG;
		goto fail;
	}
	put_be32(out, (uint32_t)flen);
	sl_strbuf_addch(out, msg->type);
	if (msg->type == SL_PROTO_LOG) {
		put_be32(out, (uint32_t)tlen);
		sl_strbuf_add(out, text, tlen);
		sl_strbuf_add(out, msg->u.log.data ? msg->u.log.data : "", msg->u.log.len);
	} else {
		sl_strbuf_add(out, text, tlen);
	}
	rc = 0;
fail:
	free(text);
	json_decref(o);
	return rc;
}

/* ---- decoding ---- */

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
	int outcome = 0, rc;

	if ((rc = get_ref(c, &r->attempt_id, &r->fence)) ||
	    (rc = get_enum(c, "outcome", outcome_names, SL_ARRAY_SIZE(outcome_names),
	                   "success, failed, skipped, reschedule, timeout, cancelled", &outcome)) ||
	    (rc = get_opt_int(c, "exit_code", 0, 255, -1, &r->exit_code)) ||
	    (rc = get_opt_int(c, "signal", 1, 127, 0, &r->signal)) ||
	    (rc = get_uint(c, "started_ms", 0, INT64_MAX, &started)) ||
	    (rc = get_uint(c, "ended_ms", 0, INT64_MAX, &ended)) ||
	    (rc = get_kvlist(c, "outputs", false, &r->outputs)) ||
	    (rc = get_uint(c, "log_bytes", 0, INT64_MAX, &r->log_bytes)) ||
	    (rc = get_bool(c, "truncated", &r->truncated)))
		return rc;
	r->outcome = outcome;
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
		    (rc = get_enum(c, "stream", stream_names, SL_ARRAY_SIZE(stream_names),
		                   "stdout, stderr", &stream)))
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

	if (p[0] == 0 || p[0] >= SL_ARRAY_SIZE(type_names)) {
		sl_strbuf_addf(err, "frame type %u is unknown", p[0]);
		return SL_EINVAL;
	}
	sl_proto_msg_init(msg, p[0]);
	c.tname = sl_proto_type_name(p[0]);
	if (msg->type == SL_PROTO_LOG) {
		if (jlen < 4 || get_be32(json) > jlen - 4) {
			sl_strbuf_addf(err, "LOG message: header length runs past the frame");
			goto fail;
		}
		jlen = get_be32(json);
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

void sl_proto_decoder_init(struct sl_proto_decoder *dec, size_t max_frame)
{
	sl_strbuf_init(&dec->buf);
	sl_strbuf_init(&dec->error);
	dec->pos = 0;
	if (max_frame == 0)
		max_frame = SL_PROTO_MAX_FRAME;
	if (max_frame < SL_PROTO_MIN_MAX_FRAME)
		max_frame = SL_PROTO_MIN_MAX_FRAME;
	if (max_frame > UINT32_MAX)
		max_frame = UINT32_MAX;
	dec->max_frame = max_frame;
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
	*flen = get_be32((const unsigned char *)dec->buf.buf + dec->pos);
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

int sl_proto_encode_checked(const struct sl_proto_msg *msg, struct sl_strbuf *out,
                            struct sl_strbuf *err)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	struct sl_proto_decoder dec;
	struct sl_proto_msg back = SL_PROTO_MSG_INIT;
	int rc;

	sl_proto_decoder_init(&dec, 0);
	if ((rc = sl_proto_encode(msg, &frame))) {
		sl_strbuf_addf(err, "%s message cannot be encoded (%s)",
		               sl_proto_type_name((int)msg->type),
		               rc == SL_ETOOBIG ? "too large" : "a field is missing or not UTF-8");
		goto out;
	}
	sl_proto_decoder_feed(&dec, frame.buf, frame.len);
	rc = sl_proto_decoder_next(&dec, &back, err);
	if (rc == 1) {
		sl_strbuf_add(out, frame.buf, frame.len);
		rc = 0;
	} else if (rc == 0) {
		/* A whole frame always decodes or fails: 0 means a BUG here. */
		sl_strbuf_adds(err, "the encoded frame is not whole");
		rc = SL_EINVAL;
	} else if (rc == SL_PROTO_REFUSED) {
		rc = SL_EINVAL;
	}
out:
	sl_proto_msg_release(&back);
	sl_proto_decoder_release(&dec);
	sl_strbuf_release(&frame);
	return rc;
}

bool sl_proto_token_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *pa = a, *pb = b;
	volatile unsigned diff = alen != blen;

	/* Depends on the configured token only, never on what was presented. */
	if (blen == 0)
		return false;
	/* Every presented byte is compared, against the expected token repeated,
	 * so the time depends on alen alone. */
	for (size_t i = 0; i < alen; i++)
		diff |= pa[i] ^ pb[i % blen];
	return diff == 0;
}

int sl_proto_version_choose(uint32_t min, uint32_t max)
{
	uint32_t lo = min > SL_PROTO_VERSION_MIN ? min : SL_PROTO_VERSION_MIN;
	uint32_t hi = max < SL_PROTO_VERSION_MAX ? max : SL_PROTO_VERSION_MAX;

	if (min > max || lo > hi)
		return -1;
	return (int)hi;
}
