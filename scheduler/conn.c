#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/engine.h"
#include "sluice/error.h"
#include "sluice/workers.h"
#include "sluice/banned.h"

/*
 * Worker connections. States (enum wconn_state):
 *
 *   AWAIT_HELLO --HELLO, token and version good--> READY
 *        |                                           |
 *        +-- REJECT, bad frame, silence, EOF --> CLOSING (freed in the close callback)
 *
 * Every failure goes through conn_close, so a connection is freed in
 * exactly one place (on_closed).
 */

#define LISTEN_BACKLOG 128

/*
 * The largest frame a connection may send before its HELLO is accepted
 * (docs/security.md, "Before HELLO"), without the token: the largest HELLO
 * a worker sends is, in compact JSON,
 *
 *   running: SL_PROTO_LIST_MAX (4096) attempt ids; ours are decimal
 *            int64, at most 19 digits, so 4096 * (19 + 2 quotes + 1 comma) = 90112
 *   queues:  32 ids of the longest (200): 32 * (200 + 3)                    =  6496
 *   worker_id (200 + 2 quotes), host (HOST_NAME_MAX 64, 6 bytes each when
 *            escaped as \u00XX, + 2 quotes)                                 =   588
 *   the type byte, the keys, three integers up to 65535, braces             ~=   130
 *
 * 97326 bytes in all; 112 KiB leaves room for a few more queues. The
 * token's share is added at run time (preauth_max_frame): it must equal the
 * scheduler's shared token or be a worker's own secret, so its length is
 * at most the longer of the two. A HELLO past this is refused
 * with the connection, a worker with many more or longer queues included.
 * Anything larger than a HELLO before authentication is an attack, and
 * this is what an unauthenticated peer can make the scheduler buffer.
 */
#define HELLO_MAX_FRAME_BASE (112 * 1024)

/*
 * Connections that have not said HELLO yet, at most. A worker sends its
 * HELLO as soon as it is connected and the scheduler answers it in the
 * same callback, so a worker is unauthenticated for one round trip: even
 * a thousand workers reconnecting at once after a restart rarely have more
 * than a few pending, and one turned away retries. 64 keeps what
 * unauthenticated peers can hold to 64 * preauth_max_frame (8 MiB of buffers)
 * and leaves the rest of max_connections to workers.
 */
#define PREAUTH_MAX 64

/* A cap's refusals are logged at most once per this many ms, with their count. */
#define REFUSED_LOG_MS 10000

static size_t preauth_max_frame(const struct sched *s)
{
	size_t token =
	    s->token_len > SL_CREDENTIAL_SECRET_LEN ? s->token_len : SL_CREDENTIAL_SECRET_LEN;

	/* The token in JSON: 6 bytes per byte at worst (\u00XX). */
	return HELLO_MAX_FRAME_BASE + 6 * token;
}

static size_t preauth_max(const struct sched *s)
{
	return (size_t)s->cfg.max_connections < PREAUTH_MAX ? (size_t)s->cfg.max_connections
	                                                    : PREAUTH_MAX;
}

static uint64_t hello_timeout_ms(const struct sched *s)
{
	return (uint64_t)s->cfg.hello_timeout * 1000;
}

/*
 * Often enough to send HEARTBEATs on time (a quarter of heartbeat_ms) and
 * to close a connection within a quarter of hello_timeout after its
 * deadline.
 */
uint64_t conn_check_ms(const struct sched *s)
{
	uint64_t hb = sched_heartbeat_ms(s) / 4, hello = hello_timeout_ms(s) / 4;

	return hb < hello ? hb : hello;
}

static uint64_t timeout_ms(const struct sched *s)
{
	return (uint64_t)s->cfg.heartbeat_timeout * 1000;
}

static void on_closed(struct sl_frameconn *fc)
{
	struct wconn *c = container_of(fc, struct wconn, fc);
	struct sched *s = c->s;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->conns_nr--;
	for (size_t i = 0; i < c->queues_nr; i++)
		free(c->queues[i]);
	free(c->queues);
	for (size_t i = 0; i < c->hb_running.nr; i++)
		free(c->hb_running.items[i]);
	free(c->hb_running.items);
	free(c->live);
	free(c->worker_id);
	free(c->host);
	free(c->peer);
	free(c);
}

void conn_close(struct wconn *c, const char *reason)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	if (c->state == WCONN_CLOSING)
		return;
	sl_log_quote(&q, reason);
	sl_log(c->state == WCONN_READY ? "warn" : "info", "worker_disconnected",
	       "peer=%s worker=%s live=%zu reason=%s", c->peer, c->worker_id ? c->worker_id : "-",
	       c->live_nr, q.buf);
	sl_strbuf_release(&q);
	c->state = WCONN_CLOSING;
	sl_frameconn_close(&c->fc);
}

/*
 * Whatever reaches a worker renews its lease, so a worker the scheduler
 * has not heard from for the lease's length gets nothing more: if it is
 * cut off, its lease then runs out well before its attempts are failed
 * (docs/reliability.md). Its own next frame makes it a peer again.
 */
bool conn_worker_silent(const struct wconn *c)
{
	return c->state == WCONN_READY &&
	       uv_now(c->s->loop) - c->fc.last_rx >= sched_lease_ms(c->s);
}

bool conn_send_frame(struct wconn *c, const char *bytes, size_t len)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (c->state == WCONN_CLOSING || conn_worker_silent(c))
		return false;
	if (sl_frameconn_write(&c->fc, bytes, len, &err)) {
		conn_close(c, err.buf);
		sl_strbuf_release(&err);
		return false;
	}
	return true;
}

bool conn_send(struct wconn *c, const struct sl_proto_msg *msg)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	bool sent = false;

	if (c->state == WCONN_CLOSING)
		return false;
	if (sl_proto_encode(msg, &frame)) {
		sl_log("error", "encode_failed", "worker=%s type=%s",
		       c->worker_id ? c->worker_id : "-", sl_proto_type_name((int)msg->type));
		goto out;
	}
	sent = conn_send_frame(c, frame.buf, frame.len);
out:
	sl_strbuf_release(&frame);
	return sent;
}

bool conn_worker_connected(const struct sched *s, const char *worker_id)
{
	for (const struct wconn *c = s->conns; c; c = c->next)
		if (c->state == WCONN_READY && !strcmp(c->worker_id, worker_id))
			return true;
	return false;
}

static void send_reject(struct wconn *c, const char *reason)
{
	struct sl_proto_msg m;
	struct sl_strbuf q = SL_STRBUF_INIT;

	sl_log_quote(&q, reason);
	sl_log("warn", "worker_rejected", "peer=%s reason=%s", c->peer, q.buf);
	sl_strbuf_release(&q);
	sl_proto_msg_init(&m, SL_PROTO_REJECT);
	m.u.reject.reason = sl_xstrdup(reason);
	conn_send(c, &m);
	sl_proto_msg_release(&m);
	/* Let the REJECT reach the socket, then close. */
	if (c->state == WCONN_CLOSING)
		return;
	c->state = WCONN_CLOSING;
	sl_frameconn_shutdown(&c->fc);
}

static int upsert_worker(struct sched *s, struct wconn *c, int version, struct sl_strbuf *err)
{
	const struct sl_worker_hello hello = {
	    c->worker_id, c->host, (const char *const *)c->queues, c->queues_nr, c->slots, version};

	return sl_worker_register(s->db, &hello, err);
}

/* conn_lose_attempt, and in `*ended` whether it ended the attempt. */
static int lose_attempt(struct sched *s, const char *worker_id, int64_t id, int64_t fence,
                        const char *reason, bool *ended)
{
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	bool accepted = false;
	int rc;

	if ((rc = sl_engine_fail_attempt(&s->engine, worker_id, id, fence, wall_ms(), reason,
	                                 &accepted, &err))) {
		sched_db_error(s, "fail_attempt", rc, &err);
		goto out;
	}
	sl_log_quote(&q, reason);
	sl_log("warn", "attempt_lost",
	       "worker=%s attempt=%" PRId64 " fence=%" PRId64 " ended=%s reason=%s", worker_id, id,
	       fence, accepted ? "yes" : "no", q.buf);
	sched_kick(s);
out:
	*ended = accepted;
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	return rc;
}

int conn_lose_attempt(struct sched *s, const char *worker_id, int64_t id, int64_t fence,
                      const char *reason)
{
	bool accepted;

	return lose_attempt(s, worker_id, id, fence, reason, &accepted);
}

/*
 * Whether a report the engine did not accept named another worker's
 * attempt: then the sender is not the worker the attempt was dispatched to
 * (a client that knows the shared token and picked a name), and this is
 * logged and counted. The sender's answer stays that of a stale report,
 * so that it learns nothing about the attempt from it.
 */
static bool report_refused(struct wconn *c, const char *what, int64_t id)
{
	struct sl_strbuf err = SL_STRBUF_INIT, qp = SL_STRBUF_INIT, qw = SL_STRBUF_INIT,
	                 qo = SL_STRBUF_INIT;
	char *owner = NULL;
	bool refused = false;
	int rc;

	if ((rc = sl_engine_attempt_owner(&c->s->engine, id, &owner, &err))) {
		sched_db_error(c->s, "attempt_owner", rc, &err);
		goto out;
	}
	if (!owner || !strcmp(owner, c->worker_id))
		goto out;
	refused = true;
	c->s->reports_refused++;
	sl_log_quote(&qp, c->peer);
	sl_log_quote(&qw, c->worker_id);
	sl_log_quote(&qo, owner);
	sl_log("warn", "report_refused",
	       "peer=%s worker=%s attempt=%" PRId64 " report=%s owner=%s refused_total=%" PRIu64,
	       qp.buf, qw.buf, id, what, qo.buf, c->s->reports_refused);
out:
	free(owner);
	sl_strbuf_release(&err);
	sl_strbuf_release(&qp);
	sl_strbuf_release(&qw);
	sl_strbuf_release(&qo);
	return refused;
}

static void on_hello(struct wconn *c, struct sl_proto_hello *h)
{
	struct sched *s = c->s;
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT, qhost = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	const char *reject;
	int version, rc;

	if (s->stopping) {
		send_reject(c, "the scheduler is stopping");
		goto out;
	}
	/* Whether a name has a credential of its own is in the database. */
	if (s->db_down) {
		send_reject(c, "the scheduler cannot reach its database");
		goto out;
	}
	if (!auth_hello(c, h, &reject)) {
		send_reject(c, reject);
		goto out;
	}
	version = sl_proto_version_choose(h->version_min, h->version_max);
	if (version < 0) {
		send_reject(c, "no common protocol version");
		goto out;
	}
	if (!h->queues.nr || !h->slots) {
		send_reject(c, "a worker needs at least one queue and one slot");
		goto out;
	}
	/* Workers rotate through their list of schedulers on REJECT. */
	if (!lease_held(s)) {
		char *reason = lease_reject_reason(s);

		send_reject(c, reason);
		free(reason);
		goto out;
	}
	/*
	 * A worker that reconnects replaces its old connection: only a peer
	 * holding the name's own secret (or, for a name without one, the
	 * shared token) gets here.
	 */
	for (struct wconn *o = s->conns; o; o = o->next)
		if (o != c && o->state == WCONN_READY && !strcmp(o->worker_id, h->worker_id))
			conn_close(o, "replaced by a new connection of the same worker");
	c->worker_id = sl_xstrdup(h->worker_id);
	c->host = sl_xstrdup(h->host);
	c->slots = h->slots;
	c->queues = sl_xcalloc(h->queues.nr, sizeof(*c->queues));
	for (size_t i = 0; i < h->queues.nr; i++)
		c->queues[c->queues_nr++] = sl_xstrdup(h->queues.items[i]);
	if ((rc = upsert_worker(s, c, version, &err))) {
		sched_db_error(s, "worker_upsert", rc, &err);
		send_reject(c, "the scheduler cannot reach its database");
		goto out;
	}
	/* Its failures are reported where they happen. */
	if ((rc = live_reconcile_hello(c, h, &err))) {
		send_reject(c, "the scheduler cannot record what the worker holds");
		goto out;
	}
	sl_proto_msg_init(&m, SL_PROTO_WELCOME);
	m.u.welcome.version = (uint32_t)version;
	m.u.welcome.heartbeat_ms = (uint32_t)sched_heartbeat_ms(s);
	m.u.welcome.lease_ms = (uint32_t)sched_lease_ms(s);
	m.u.welcome.scheduler_id = sl_xstrdup(s->scheduler_id);
	c->state = WCONN_READY;
	/* Authenticated: from now on the protocol's limit (LOG chunks are larger). */
	sl_frameconn_set_max_frame(&c->fc, 0);
	conn_send(c, &m);
	sl_proto_msg_release(&m);
	for (size_t i = 0; i < c->queues_nr; i++) {
		if (i)
			sl_strbuf_addch(&q, ',');
		sl_strbuf_adds(&q, c->queues[i]);
	}
	/* The host is free text from the network: quoted, so it cannot add fields. */
	sl_log_quote(&qhost, c->host);
	sl_log("info", "worker_connected",
	       "peer=%s worker=%s host=%s slots=%" PRIu32 " queues=%s held=%zu credential=%s",
	       c->peer, c->worker_id, qhost.buf, c->slots, q.buf, c->live_nr,
	       c->auth == SL_CREDENTIAL_BY_OWN ? "own" : "shared");
	sched_kick(s);
out:
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	sl_strbuf_release(&qhost);
}

static void on_log(struct wconn *c, const struct sl_proto_log *l)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t id;
	bool accepted = false;
	int rc;

	if (c->s->db_down) {
		/* The worker keeps what it cannot send (docs/worker.md). */
		conn_close(c, "the database is unavailable");
		goto out;
	}
	if (!live_parse_id(l->attempt_id, &id) || l->seq > INT_MAX || !l->len) {
		sl_log("warn", "log_ignored", "worker=%s attempt=%s seq=%" PRIu64, c->worker_id,
		       l->attempt_id, l->seq);
		goto out;
	}
	if ((rc = sl_engine_log(&c->s->engine, c->worker_id, id, (int64_t)l->fence, (int)l->seq,
	                        l->data, l->len, c->s->cfg.log_limit, &accepted, &err))) {
		sched_db_error(c->s, "log", rc, &err);
		if (rc == SL_EUNAVAIL)
			conn_close(c, "cannot record a log chunk");
		goto out;
	}
	if (!accepted && !report_refused(c, "log", id))
		sl_log("info", "log_stale", "worker=%s attempt=%" PRId64 " fence=%" PRIu64,
		       c->worker_id, id, l->fence);
out:
	sl_strbuf_release(&err);
}

static char *outputs_json(const struct sl_proto_kvlist *kv)
{
	json_t *o = json_object();
	char *text, *copy;

	if (!o)
		return NULL;
	for (size_t i = 0; i < kv->nr; i++)
		json_object_set_new(o, kv->items[i].key, json_string(kv->items[i].value));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return NULL;
	copy = sl_xstrdup(text);
	free(text);
	return copy;
}

static void on_result(struct wconn *c, const struct sl_proto_result *r)
{
	struct sched *s = c->s;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_engine_result res;
	struct sl_engine_dispatches next = SL_ENGINE_DISPATCHES_INIT;
	struct sl_proto_msg m;
	char *outputs = NULL;
	bool accepted = false;
	int64_t id;
	int rc;

	if (s->db_down) {
		/* No ACK: the worker sends the result again after reconnecting. */
		conn_close(c, "the database is unavailable");
		goto out;
	}
	if (!live_parse_id(r->attempt_id, &id)) {
		/* Not an attempt of ours: acknowledge, so the worker forgets it. */
		sl_log("warn", "result_unknown", "worker=%s attempt=%s", c->worker_id,
		       r->attempt_id);
		goto ack;
	}
	if (r->outcome == SL_OUTCOME_LOST) {
		/* The worker's RESULT says it killed the task: cut off past its lease. */
		if (lose_attempt(s, c->worker_id, id, (int64_t)r->fence,
		                 "the worker killed it: it heard from no scheduler for longer "
		                 "than its lease",
		                 &accepted)) {
			conn_close(c, "cannot record a result");
			goto out;
		}
		if (accepted)
			sl_metric_inc(s->m.results[SL_OUTCOME_LOST]);
		else
			report_refused(c, "result", id);
		live_remove(c, id);
		goto ack;
	}
	outputs = outputs_json(&r->outputs);
	res.outcome = r->outcome;
	res.exit_code = r->exit_code;
	res.signal = r->signal;
	res.outputs = outputs;
	if (r->outcome == SL_OUTCOME_CANCELLED) {
		/*
		 * This scheduler sends CANCEL only for attempts already ended in
		 * the database (runs cancel, tasks clear, tasks mark), so such a
		 * result is stale. One still live was cancelled by its worker
		 * itself, stopping (SIGTERM) when its grace ran out: not an
		 * operator's cancel, which would fail the run, but an attempt
		 * lost, retried as the task's retries allow.
		 */
		rc = sl_engine_fail_attempt(&s->engine, c->worker_id, id, (int64_t)r->fence,
		                            wall_ms(),
		                            "the worker cancelled it while stopping: its grace "
		                            "period ran out",
		                            &accepted, &err);
	} else if (lease_held(s) && !s->stopping && !conn_worker_silent(c)) {
		/*
		 * The leader advances the run with the result and claims the next
		 * work for the slot it frees: one durable commit, whose DISPATCH
		 * leaves with the ACK, rather than three and a tick between them.
		 */
		struct sl_engine_claim_req req = {
		    (const char *const *)c->queues, c->queues_nr,
		    c->slots - c->live_nr + (live_find(c, id) ? 1 : 0), (size_t)s->cfg.parallelism};

		rc = sl_engine_result_claim(&s->engine, c->worker_id, id, (int64_t)r->fence, &res,
		                            wall_ms(), &req, &accepted, &next, &err);
	} else {
		rc = (lease_held(s) ? sl_engine_result_advance : sl_engine_result)(
		    &s->engine, c->worker_id, id, (int64_t)r->fence, &res, wall_ms(), &accepted,
		    &err);
	}
	if (rc) {
		/* No ACK: the worker keeps the result and sends it again on reconnect. */
		sched_db_error(s, "result", rc, &err);
		conn_close(c, "cannot record a result");
		goto out;
	}
	if (accepted && sl_outcome_valid(r->outcome))
		sl_metric_inc(s->m.results[r->outcome]);
	/* Another worker's attempt is acknowledged as a stale one is (docs/security.md). */
	if (accepted || !report_refused(c, "result", id))
		sl_log("info", accepted ? "result" : "result_stale",
		       "worker=%s attempt=%" PRId64 " fence=%" PRIu64 " outcome=%s exit_code=%d",
		       c->worker_id, id, r->fence, sl_outcome_name(r->outcome), r->exit_code);
	live_remove(c, id);
	sched_kick(s);
ack:
	sl_proto_msg_init(&m, SL_PROTO_ACK);
	m.u.ack.attempt_id = sl_xstrdup(r->attempt_id);
	m.u.ack.fence = r->fence;
	conn_send(c, &m);
	sl_proto_msg_release(&m);
	sl_metric_add(s->m.claims, (double)next.nr);
	for (size_t i = 0; i < next.nr; i++)
		dispatch_send(c, &next.items[i]);
out:
	sl_engine_dispatches_release(&next);
	free(outputs);
	sl_strbuf_release(&err);
}

/*
 * A frame the decoder refused (its fields break a rule) costs only itself:
 * a RESULT that can never be recorded ends its attempt as lost, with the
 * reason, and a NACK tells the worker to stop sending it; anything else is
 * logged and dropped. Before HELLO there is nobody to answer: close.
 */
static void on_refused(struct sl_frameconn *fc, const struct sl_proto_refusal *r, const char *why)
{
	struct wconn *c = container_of(fc, struct wconn, fc);
	struct sched *s = c->s;
	struct sl_strbuf q = SL_STRBUF_INIT, reason = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	bool accepted;
	int64_t id;

	if (c->state != WCONN_READY) {
		conn_close(c, why);
		goto out;
	}
	sl_log_quote(&q, why);
	sl_log("warn", "frame_refused", "worker=%s type=%s attempt=%s reason=%s", c->worker_id,
	       sl_proto_type_name((int)r->type), r->attempt_id ? r->attempt_id : "-", q.buf);
	if (r->type != SL_PROTO_RESULT || !r->attempt_id || !r->fence ||
	    !live_parse_id(r->attempt_id, &id))
		goto out;
	if (s->db_down) {
		conn_close(c, "the database is unavailable");
		goto out;
	}
	sl_strbuf_addf(&reason, "its result was refused: %s", why);
	if (lose_attempt(s, c->worker_id, id, (int64_t)r->fence, reason.buf, &accepted)) {
		conn_close(c, "cannot record a result");
		goto out;
	}
	if (!accepted)
		report_refused(c, "result", id);
	live_remove(c, id);
	sl_proto_msg_init(&m, SL_PROTO_NACK);
	m.u.nack.attempt_id = sl_xstrdup(r->attempt_id);
	m.u.nack.fence = r->fence;
	m.u.nack.reason = sl_xstrdup(why);
	conn_send(c, &m);
	sl_proto_msg_release(&m);
out:
	sl_strbuf_release(&q);
	sl_strbuf_release(&reason);
}

static void handle(struct sl_frameconn *fc, struct sl_proto_msg *m)
{
	struct wconn *c = container_of(fc, struct wconn, fc);
	struct sl_strbuf r = SL_STRBUF_INIT;

	if (c->state == WCONN_AWAIT_HELLO) {
		if (m->type == SL_PROTO_HELLO) {
			on_hello(c, &m->u.hello);
		} else {
			sl_strbuf_addf(&r, "unexpected %s frame before HELLO",
			               sl_proto_type_name((int)m->type));
			conn_close(c, r.buf);
		}
		goto out;
	}
	switch (m->type) {
	case SL_PROTO_HEARTBEAT:
		live_heartbeat(c, &m->u.heartbeat);
		break;
	case SL_PROTO_LOG:
		on_log(c, &m->u.log);
		break;
	case SL_PROTO_RESULT:
		on_result(c, &m->u.result);
		break;
	default:
		sl_strbuf_addf(&r, "unexpected %s frame after the handshake",
		               sl_proto_type_name((int)m->type));
		conn_close(c, r.buf);
		break;
	}
out:
	sl_strbuf_release(&r);
}

/* The handlers' statements may have read notifications, or reconnected. */
static void on_read_done(struct sl_frameconn *fc)
{
	notify_sync(container_of(fc, struct wconn, fc)->s);
}

static void on_error(struct sl_frameconn *fc, enum sl_frameconn_error e, const char *reason)
{
	struct wconn *c = container_of(fc, struct wconn, fc);
	struct sl_strbuf q = SL_STRBUF_INIT;

	if (e == SL_FRAMECONN_TLS) {
		sl_log_quote(&q, reason);
		sl_log("warn", "tls_failed", "peer=%s reason=%s", c->peer, q.buf);
		sl_strbuf_release(&q);
	}
	conn_close(c, e == SL_FRAMECONN_EOF ? "the worker closed the connection" : reason);
}

static const struct sl_frameconn_ops conn_ops = {
    .on_frame = handle,
    .on_refused = on_refused,
    .on_read_done = on_read_done,
    .on_error = on_error,
    .on_closed = on_closed,
};

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/*
 * Over a cap: accept and close at once. Leaving the connection in the
 * backlog would make the listener report it again and again (a busy loop)
 * and leave the peer waiting; closing tells it to retry later.
 */
static void refuse_connection(struct sched *s, uv_stream_t *server, const char *cap)
{
	uv_tcp_t *t = sl_xmalloc(sizeof(*t));
	uint64_t now = uv_now(s->loop);
	int rc;

	if ((rc = uv_tcp_init(s->loop, t))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		free(t);
		return;
	}
	if ((rc = uv_accept(server, (uv_stream_t *)t)))
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
	uv_close((uv_handle_t *)t, free_handle);
	/* A flood of them is one line per REFUSED_LOG_MS, with the count. */
	s->conns_refused++;
	if (s->conns_refused_logged_at && now - s->conns_refused_logged_at < REFUSED_LOG_MS)
		return;
	sl_log("warn", "connection_refused", "cap=%s refused=%zu connections=%zu", cap,
	       s->conns_refused, s->conns_nr);
	s->conns_refused = 0;
	s->conns_refused_logged_at = now;
}

static size_t preauth_count(const struct sched *s)
{
	size_t n = 0;

	for (const struct wconn *c = s->conns; c; c = c->next)
		n += c->state == WCONN_AWAIT_HELLO;
	return n;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sched *s = container_of((uv_tcp_t *)server, struct sched, listener);
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct wconn *c;
	int rc;

	if (status < 0) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(status));
		return;
	}
	/* Closing connections count: their sockets are still open. */
	if (s->conns_nr >= (size_t)s->cfg.max_connections) {
		refuse_connection(s, server, "max_connections");
		return;
	}
	if (preauth_count(s) >= preauth_max(s)) {
		refuse_connection(s, server, "before_hello");
		return;
	}
	c = sl_xcalloc(1, sizeof(*c));
	c->s = s;
	c->state = WCONN_AWAIT_HELLO;
	if ((rc = sl_frameconn_init(&c->fc, s->loop, &conn_ops))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		free(c);
		return;
	}
	/* Only a HELLO may come first: no more than a HELLO is buffered. */
	sl_frameconn_set_max_frame(&c->fc, preauth_max_frame(s));
	c->accepted_at = uv_now(s->loop);
	/* In the list from now on: on_closed unlinks and frees it. */
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->conns_nr++;
	if ((rc = sl_frameconn_accept(&c->fc, server))) {
		c->peer = sl_xstrdup("unknown");
		conn_close(c, uv_strerror(rc));
		goto out;
	}
	c->peer = sl_frameconn_peer(&c->fc);
	if (s->tls && sl_frameconn_set_tls(&c->fc, s->tls, NULL, &err)) {
		conn_close(c, err.buf);
		goto out;
	}
	if ((rc = sl_frameconn_start(&c->fc))) {
		conn_close(c, uv_strerror(rc));
		goto out;
	}
	sl_log("info", "accepted", "peer=%s tls=%s", c->peer, s->tls ? "yes" : "no");
out:
	sl_strbuf_release(&err);
}

int conn_listen(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sockaddr_storage addr;
	char *host = NULL;
	int port, rc;

	if ((rc = sl_hostport_parse(s->cfg.listen, &host, &port, &err))) {
		fprintf(stderr, "sluice-scheduler: listen: %s\n", err.buf);
		goto out;
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) &&
	    (rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr))) {
		fprintf(stderr, "sluice-scheduler: listen: '%s' is not an IP address\n", host);
		goto out;
	}
	if ((rc = uv_tcp_init(s->loop, &s->listener))) {
		fprintf(stderr, "sluice-scheduler: tcp_init: %s\n", uv_strerror(rc));
		goto out;
	}
	if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) ||
	    (rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection))) {
		fprintf(stderr, "sluice-scheduler: cannot listen on %s: %s\n", s->cfg.listen,
		        uv_strerror(rc));
		uv_close((uv_handle_t *)&s->listener, NULL);
		goto out;
	}
	sl_log("info", "listening", "address=%s", s->cfg.listen);
out:
	free(host);
	sl_strbuf_release(&err);
	return rc;
}

void conn_close_all(struct sched *s, const char *reason)
{
	struct wconn *next;

	for (struct wconn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == WCONN_READY)
			conn_close(c, reason);
	}
}

void conn_check_all(struct sched *s)
{
	uint64_t now = uv_now(s->loop);
	struct wconn *next;

	for (struct wconn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == WCONN_CLOSING)
			continue;
		/* From accept, whatever it sends: trickled bytes do not extend it. */
		if (c->state == WCONN_AWAIT_HELLO && now - c->accepted_at >= hello_timeout_ms(s)) {
			sl_log("warn", "hello_timeout", "peer=%s", c->peer);
			conn_close(c, "no HELLO within hello_timeout");
			continue;
		}
		/* Silence closes too, should hello_timeout be the longer. */
		if (now - c->fc.last_rx >= timeout_ms(s)) {
			conn_close(c, c->state == WCONN_READY
			                  ? "no frame within heartbeat_timeout"
			                  : "no HELLO within heartbeat_timeout");
			continue;
		}
		if (c->state == WCONN_READY && now - c->fc.last_tx >= sched_heartbeat_ms(s)) {
			struct sl_proto_msg m;

			sl_proto_msg_init(&m, SL_PROTO_HEARTBEAT);
			conn_send(c, &m);
			sl_proto_msg_release(&m);
		}
	}
}

void conn_shutdown_all(struct sched *s)
{
	struct wconn *next;

	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	for (struct wconn *c = s->conns; c; c = next) {
		struct sl_proto_msg m;

		next = c->next;
		if (c->state == WCONN_CLOSING)
			continue;
		if (c->state == WCONN_READY) {
			sl_proto_msg_init(&m, SL_PROTO_DRAIN);
			conn_send(c, &m);
			sl_proto_msg_release(&m);
		}
		if (c->state == WCONN_CLOSING)
			continue;
		sl_log("info", "worker_drained", "peer=%s worker=%s live=%zu", c->peer,
		       c->worker_id ? c->worker_id : "-", c->live_nr);
		c->state = WCONN_CLOSING;
		/* Let the DRAIN (and any ACK) reach the socket first. */
		sl_frameconn_shutdown(&c->fc);
	}
}
