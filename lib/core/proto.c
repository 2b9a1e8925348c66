/*
 * The job protocol codec: frames and messages, see docs/protocol.md.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/proto.h"
#include "proto_int.h"
#include "sluice/banned.h"

const char *const sl_proto__type_names[SL_PROTO_NACK + 1] = {
    [SL_PROTO_HELLO] = "HELLO",       [SL_PROTO_WELCOME] = "WELCOME",
    [SL_PROTO_REJECT] = "REJECT",     [SL_PROTO_HEARTBEAT] = "HEARTBEAT",
    [SL_PROTO_DISPATCH] = "DISPATCH", [SL_PROTO_LOG] = "LOG",
    [SL_PROTO_RESULT] = "RESULT",     [SL_PROTO_ACK] = "ACK",
    [SL_PROTO_CANCEL] = "CANCEL",     [SL_PROTO_DRAIN] = "DRAIN",
    [SL_PROTO_NACK] = "NACK",
};

const char *const sl_proto__outcome_names[SL_PROTO_LOST + 1] = {
    [SL_PROTO_SUCCESS] = "success", [SL_PROTO_FAILED] = "failed",
    [SL_PROTO_SKIPPED] = "skipped", [SL_PROTO_RESCHEDULE] = "reschedule",
    [SL_PROTO_TIMEOUT] = "timeout", [SL_PROTO_CANCELLED] = "cancelled",
    [SL_PROTO_LOST] = "lost",
};

const char *const sl_proto__stream_names[SL_PROTO_STDERR + 1] = {
    [SL_PROTO_STDOUT] = "stdout",
    [SL_PROTO_STDERR] = "stderr",
};

const char *sl_proto_type_name(int type)
{
	if (type <= 0 || (size_t)type >= SL_ARRAY_SIZE(sl_proto__type_names) ||
	    !sl_proto__type_names[type])
		return "unknown";
	return sl_proto__type_names[type];
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
	if (r->outcome <= 0 || (size_t)r->outcome >= SL_ARRAY_SIZE(sl_proto__outcome_names))
		*bad = 1;
	else
		put_str(o, "outcome", sl_proto__outcome_names[r->outcome], bad);
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
			put_str(o, "stream", sl_proto__stream_names[msg->u.log.stream], &bad);
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

uint32_t sl_proto__get_be32(const unsigned char *p)
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
