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

#define READ_CHUNK     (64 * 1024)
#define LISTEN_BACKLOG 128

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
	char data[];
};

static uint64_t timeout_ms(const struct sched *s)
{
	return (uint64_t)s->cfg.heartbeat_timeout * 1000;
}

static void on_closed(uv_handle_t *h)
{
	struct wconn *c = container_of((uv_tcp_t *)h, struct wconn, tcp);
	struct sched *s = c->s;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->conns_nr--;
	sl_proto_decoder_release(&c->dec);
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
	/* Closing cancels every queued write (UV_ECANCELED). */
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = container_of(req, struct write_req, req);
	struct wconn *c = container_of((uv_tcp_t *)req->handle, struct wconn, tcp);

	free(wr);
	if (status < 0 && status != UV_ECANCELED) {
		struct sl_strbuf r = SL_STRBUF_INIT;

		sl_strbuf_addf(&r, "write failed: %s", uv_strerror(status));
		conn_close(c, r.buf);
		sl_strbuf_release(&r);
	}
}

/*
 * Whatever reaches a worker renews its lease, so a worker the scheduler
 * has not heard from for the lease's length gets nothing more: if it is
 * cut off, its lease then runs out well before its attempts are failed
 * (docs/reliability.md). Its own next frame makes it a peer again.
 */
static bool worker_silent(const struct wconn *c)
{
	return c->state == WCONN_READY && uv_now(c->s->loop) - c->last_rx >= sched_lease_ms(c->s);
}

static bool send_frame(struct wconn *c, const char *bytes, size_t len)
{
	struct write_req *wr;
	int rc;

	if (c->state == WCONN_CLOSING || worker_silent(c))
		return false;
	wr = sl_xmalloc(sizeof(*wr) + len);
	memcpy(wr->data, bytes, len);
	wr->buf = uv_buf_init(wr->data, (unsigned)len);
	if ((rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &wr->buf, 1, on_write))) {
		struct sl_strbuf r = SL_STRBUF_INIT;

		free(wr);
		sl_strbuf_addf(&r, "write failed: %s", uv_strerror(rc));
		conn_close(c, r.buf);
		sl_strbuf_release(&r);
		return false;
	}
	c->last_tx = uv_now(c->s->loop);
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
	sent = send_frame(c, frame.buf, frame.len);
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

static bool parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return false;
	*out = v;
	return true;
}

static struct live_attempt *live_find(struct wconn *c, int64_t id)
{
	for (size_t i = 0; i < c->live_nr; i++)
		if (c->live[i].attempt_id == id)
			return &c->live[i];
	return NULL;
}

static void live_add(struct wconn *c, int64_t id, int64_t fence, uint64_t dispatch_seq)
{
	struct live_attempt *a = live_find(c, id);

	if (a) {
		if (fence)
			a->fence = fence;
		return;
	}
	SL_ALLOC_GROW(c->live, c->live_nr + 1, c->live_alloc);
	c->live[c->live_nr++] = (struct live_attempt){id, fence, false, dispatch_seq};
}

static void live_remove(struct wconn *c, int64_t id)
{
	for (size_t i = 0; i < c->live_nr; i++) {
		if (c->live[i].attempt_id == id) {
			c->live[i] = c->live[--c->live_nr];
			return;
		}
	}
}

static void on_shutdown(uv_shutdown_t *req, int status);

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
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->state = WCONN_CLOSING;
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static int upsert_worker(struct sched *s, struct wconn *c, int version, struct sl_strbuf *err)
{
	static const char sql[] =
	    "INSERT INTO workers (worker_id, host, queues, slots, state, version, started_at, "
	    "last_heartbeat_at) VALUES ($1, $2, string_to_array($3, ','), $4::integer, 'active', "
	    "$5, now(), now()) ON CONFLICT (worker_id) DO UPDATE SET host = EXCLUDED.host, "
	    "queues = EXCLUDED.queues, slots = EXCLUDED.slots, state = 'active', version = "
	    "EXCLUDED.version, started_at = now(), last_heartbeat_at = now()";
	struct sl_strbuf queues = SL_STRBUF_INIT;
	char slots[16], ver[16];
	const char *params[5];
	int rc;

	for (size_t i = 0; i < c->queues_nr; i++) {
		if (i)
			sl_strbuf_addch(&queues, ',');
		sl_strbuf_adds(&queues, c->queues[i]);
	}
	snprintf(slots, sizeof(slots), "%" PRIu32, c->slots);
	params[0] = c->worker_id;
	params[1] = c->host;
	params[2] = queues.buf;
	params[3] = slots;
	snprintf(ver, sizeof(ver), "%d", version);
	params[4] = ver;
	rc = sl_db_exec_idempotent(s->db, sql, 5, params, NULL, err);
	sl_strbuf_release(&queues);
	return rc;
}

/*
 * Attempts of this worker that an operator ended and that its HELLO does
 * not list have no process left: their tasks may run again.
 */
static int confirm_stopped(struct wconn *c, struct sl_strbuf *err)
{
	int64_t *ids = sl_xcalloc(c->live_nr + 1, sizeof(*ids));
	size_t confirmed = 0;
	int rc;

	for (size_t i = 0; i < c->live_nr; i++)
		ids[i] = c->live[i].attempt_id;
	rc = sl_engine_confirm_stopped(&c->s->engine, c->worker_id, ids, c->live_nr, &confirmed,
	                               err);
	if (!rc && confirmed)
		sl_log("info", "attempts_stopped", "worker=%s attempts=%zu", c->worker_id,
		       confirmed);
	free(ids);
	return rc;
}

/*
 * End an attempt that its worker does not run (any more) as lost, with the
 * reason for people; a failure is reported (sched_db_error) and returned.
 */
static int lose_attempt(struct sched *s, const char *worker_id, int64_t id, int64_t fence,
                        const char *reason)
{
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	bool accepted = false;
	int rc;

	if ((rc = sl_engine_fail_attempt(&s->engine, id, fence, wall_ms(), reason, &accepted,
	                                 &err))) {
		sched_db_error(s, "fail_attempt", rc, &err);
		goto out;
	}
	sl_log_quote(&q, reason);
	sl_log("warn", "attempt_lost",
	       "worker=%s attempt=%" PRId64 " fence=%" PRId64 " ended=%s reason=%s", worker_id, id,
	       fence, accepted ? "yes" : "no", q.buf);
	sched_kick(s);
out:
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	return rc;
}

static bool listed(const struct sl_proto_strlist *l, int64_t id)
{
	for (size_t i = 0; i < l->nr; i++) {
		int64_t v;

		if (parse_id(l->items[i], &v) && v == id)
			return true;
	}
	return false;
}

/*
 * A worker's HELLO lists everything it holds: any attempt the database
 * has live on that worker name and that is not listed has no process on
 * it (the worker restarted, or a DISPATCH never reached it), whichever
 * connection or scheduler dispatched it. Ending it now, not after
 * heartbeat_timeout, is what keeps a quickly restarted worker from
 * stranding its attempts.
 */
static int reconcile_hello(struct wconn *c, const struct sl_proto_hello *h, struct sl_strbuf *err)
{
	struct sched *s = c->s;
	struct sl_engine_live live = SL_ENGINE_LIVE_INIT;
	const char *names[1] = {c->worker_id};
	int rc;

	if ((rc = sl_engine_worker_live(&s->engine, names, 1, false, &live, err))) {
		sched_db_error(s, "worker_live", rc, err);
		goto out;
	}
	for (size_t i = 0; i < live.nr; i++) {
		const struct sl_engine_live_attempt *a = &live.items[i];

		if (listed(&h->running, a->attempt_id))
			continue;
		if ((rc = lose_attempt(s, c->worker_id, a->attempt_id, a->fencing,
		                       "the worker does not hold it any more (it restarted, or "
		                       "the dispatch never reached it)")))
			break;
	}
out:
	sl_engine_live_release(&live);
	return rc;
}

static void on_hello(struct wconn *c, struct sl_proto_hello *h)
{
	struct sched *s = c->s;
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	int version, rc;

	if (s->stopping) {
		send_reject(c, "the scheduler is stopping");
		goto out;
	}
	/* Always compare, so that the answer takes the same time either way. */
	if (!sl_proto_token_equal(h->token, strlen(h->token), s->token, s->token_len)) {
		send_reject(c, "bad token");
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
	if (s->db_down) {
		send_reject(c, "the scheduler cannot reach its database");
		goto out;
	}
	/* A worker that reconnects replaces its old connection. */
	for (struct wconn *o = s->conns; o; o = o->next)
		if (o != c && o->state == WCONN_READY && !strcmp(o->worker_id, h->worker_id))
			conn_close(o, "replaced by a new connection of the same worker");
	c->worker_id = sl_xstrdup(h->worker_id);
	c->host = sl_xstrdup(h->host);
	c->slots = h->slots;
	c->queues = sl_xcalloc(h->queues.nr, sizeof(*c->queues));
	for (size_t i = 0; i < h->queues.nr; i++)
		c->queues[c->queues_nr++] = sl_xstrdup(h->queues.items[i]);
	for (size_t i = 0; i < h->running.nr; i++) {
		int64_t id;

		if (parse_id(h->running.items[i], &id))
			live_add(c, id, 0, 0);
	}
	if ((rc = upsert_worker(s, c, version, &err)) || (rc = confirm_stopped(c, &err))) {
		sched_db_error(s, "worker_upsert", rc, &err);
		send_reject(c, "the scheduler cannot reach its database");
		goto out;
	}
	/* Its failures are reported where they happen. */
	if ((rc = reconcile_hello(c, h, &err))) {
		send_reject(c, "the scheduler cannot record what the worker holds");
		goto out;
	}
	sl_proto_msg_init(&m, SL_PROTO_WELCOME);
	m.u.welcome.version = (uint32_t)version;
	m.u.welcome.heartbeat_ms = (uint32_t)sched_heartbeat_ms(s);
	m.u.welcome.lease_ms = (uint32_t)sched_lease_ms(s);
	m.u.welcome.scheduler_id = sl_xstrdup(s->scheduler_id);
	c->state = WCONN_READY;
	conn_send(c, &m);
	sl_proto_msg_release(&m);
	for (size_t i = 0; i < c->queues_nr; i++) {
		if (i)
			sl_strbuf_addch(&q, ',');
		sl_strbuf_adds(&q, c->queues[i]);
	}
	sl_log("info", "worker_connected",
	       "peer=%s worker=%s host=%s slots=%" PRIu32 " queues=%s held=%zu", c->peer,
	       c->worker_id, c->host, c->slots, q.buf, c->live_nr);
	sched_kick(s);
out:
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
}

/* The check itself waits for the next tick: see conn_heartbeats_flush. */
static void on_heartbeat(struct wconn *c, struct sl_proto_heartbeat *hb)
{
	for (size_t i = 0; i < c->hb_running.nr; i++)
		free(c->hb_running.items[i]);
	free(c->hb_running.items);
	c->hb_running = hb->running;
	memset(&hb->running, 0, sizeof(hb->running));
	c->hb_dispatches = hb->dispatches;
	c->hb_pending = true;
}

static struct wconn *conn_of(struct sched *s, const char *worker_id)
{
	for (struct wconn *c = s->conns; c; c = c->next)
		if (c->state == WCONN_READY && !strcmp(c->worker_id, worker_id))
			return c;
	return NULL;
}

/* Not listed, and not sent after the HEARTBEAT left: the worker does not run it. */
static bool heartbeat_disowns(struct wconn *c, int64_t id)
{
	struct live_attempt *a = live_find(c, id);

	if (listed(&c->hb_running, id))
		return false;
	return !a || a->dispatch_seq <= c->hb_dispatches;
}

/*
 * What the connection still counts as held but the worker disowns has
 * ended in the database already (a cancel, a clear, a mark): its process
 * is gone, so an operator-ended attempt's stop_pending is lifted (the
 * task may run again) and its slot is free. Rare: a statement only then.
 */
static int forget_disowned(struct wconn *c)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t *held = sl_xcalloc(c->live_nr + c->hb_running.nr + 1, sizeof(*held));
	size_t held_nr = 0, confirmed = 0;
	bool any = false;
	int rc = 0;

	for (size_t i = 0; i < c->live_nr; i++) {
		if (heartbeat_disowns(c, c->live[i].attempt_id))
			any = true;
		else
			held[held_nr++] = c->live[i].attempt_id;
	}
	if (!any)
		goto out;
	for (size_t i = 0; i < c->hb_running.nr; i++) {
		int64_t id;

		if (parse_id(c->hb_running.items[i], &id))
			held[held_nr++] = id;
	}
	if ((rc = sl_engine_confirm_stopped(&c->s->engine, c->worker_id, held, held_nr, &confirmed,
	                                    &err))) {
		sched_db_error(c->s, "confirm_stopped", rc, &err);
		goto out;
	}
	for (size_t i = 0; i < c->live_nr;) {
		if (heartbeat_disowns(c, c->live[i].attempt_id))
			live_remove(c, c->live[i].attempt_id);
		else
			i++;
	}
	if (confirmed)
		sl_log("info", "attempts_stopped", "worker=%s attempts=%zu", c->worker_id,
		       confirmed);
out:
	free(held);
	sl_strbuf_release(&err);
	return rc;
}

void conn_heartbeats_flush(struct sched *s)
{
	struct sl_engine_live live = SL_ENGINE_LIVE_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char **names = sl_xcalloc(s->conns_nr + 1, sizeof(*names));
	size_t n = 0;
	int rc;

	for (struct wconn *c = s->conns; c; c = c->next)
		if (c->state == WCONN_READY && c->hb_pending)
			names[n++] = c->worker_id;
	if (!n)
		goto out;
	if ((rc = sl_engine_worker_live(&s->engine, names, n, true, &live, &err))) {
		sched_db_error(s, "heartbeats", rc, &err);
		goto out;
	}
	for (size_t i = 0; i < live.nr; i++) {
		const struct sl_engine_live_attempt *a = &live.items[i];
		struct wconn *c = conn_of(s, a->worker_id);

		if (!c || !c->hb_pending || !heartbeat_disowns(c, a->attempt_id))
			continue;
		if (lose_attempt(s, a->worker_id, a->attempt_id, a->fencing,
		                 "the worker's heartbeat does not list it (the worker lost it or "
		                 "refused its dispatch)"))
			goto out;
		live_remove(c, a->attempt_id);
	}
	for (struct wconn *c = s->conns; c; c = c->next) {
		if (c->hb_pending && forget_disowned(c))
			goto out;
		c->hb_pending = false;
	}
out:
	sl_engine_live_release(&live);
	sl_strbuf_release(&err);
	free(names);
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
	if (!parse_id(l->attempt_id, &id) || l->seq > INT_MAX || !l->len) {
		sl_log("warn", "log_ignored", "worker=%s attempt=%s seq=%" PRIu64, c->worker_id,
		       l->attempt_id, l->seq);
		goto out;
	}
	if ((rc = sl_engine_log(&c->s->engine, id, (int64_t)l->fence, (int)l->seq, l->data, l->len,
	                        c->s->cfg.log_limit, &accepted, &err))) {
		sched_db_error(c->s, "log", rc, &err);
		if (rc == SL_EUNAVAIL)
			conn_close(c, "cannot record a log chunk");
		goto out;
	}
	if (!accepted)
		sl_log("info", "log_stale", "worker=%s attempt=%" PRId64 " fence=%" PRIu64,
		       c->worker_id, id, l->fence);
out:
	sl_strbuf_release(&err);
}

static enum sl_outcome outcome_of(enum sl_proto_outcome o)
{
	switch (o) {
	case SL_PROTO_SUCCESS:
		return SL_OUTCOME_SUCCESS;
	case SL_PROTO_SKIPPED:
		return SL_OUTCOME_SKIPPED;
	case SL_PROTO_RESCHEDULE:
		return SL_OUTCOME_RESCHEDULE;
	case SL_PROTO_TIMEOUT:
		return SL_OUTCOME_TIMEOUT;
	case SL_PROTO_CANCELLED:
		return SL_OUTCOME_CANCELLED;
	case SL_PROTO_LOST:
	case SL_PROTO_FAILED:
	default:
		return SL_OUTCOME_FAILED;
	}
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
	if (!parse_id(r->attempt_id, &id)) {
		/* Not an attempt of ours: acknowledge, so the worker forgets it. */
		sl_log("warn", "result_unknown", "worker=%s attempt=%s", c->worker_id,
		       r->attempt_id);
		goto ack;
	}
	if (r->outcome == SL_PROTO_LOST) {
		/* The worker's RESULT says it killed the task: cut off past its lease. */
		if (lose_attempt(s, c->worker_id, id, (int64_t)r->fence,
		                 "the worker killed it: it heard from no scheduler for longer "
		                 "than its lease")) {
			conn_close(c, "cannot record a result");
			goto out;
		}
		live_remove(c, id);
		goto ack;
	}
	outputs = outputs_json(&r->outputs);
	res.outcome = outcome_of(r->outcome);
	res.exit_code = r->exit_code;
	res.signal = r->signal;
	res.outputs = outputs;
	/* The leader advances the run with the result: one durable commit, not two. */
	if ((rc = (lease_held(s) ? sl_engine_result_advance : sl_engine_result)(
	         &s->engine, id, (int64_t)r->fence, &res, wall_ms(), &accepted, &err))) {
		/* No ACK: the worker keeps the result and sends it again on reconnect. */
		sched_db_error(s, "result", rc, &err);
		conn_close(c, "cannot record a result");
		goto out;
	}
	sl_log("info", accepted ? "result" : "result_stale",
	       "worker=%s attempt=%" PRId64 " fence=%" PRIu64 " outcome=%d exit_code=%d",
	       c->worker_id, id, r->fence, (int)r->outcome, r->exit_code);
	live_remove(c, id);
	sched_kick(s);
ack:
	sl_proto_msg_init(&m, SL_PROTO_ACK);
	m.u.ack.attempt_id = sl_xstrdup(r->attempt_id);
	m.u.ack.fence = r->fence;
	conn_send(c, &m);
	sl_proto_msg_release(&m);
out:
	free(outputs);
	sl_strbuf_release(&err);
}

/*
 * A frame the decoder refused (its fields break a rule) costs only itself:
 * a RESULT that can never be recorded ends its attempt as lost, with the
 * reason, and a NACK tells the worker to stop sending it; anything else is
 * logged and dropped. Before HELLO there is nobody to answer: close.
 */
static void on_refused(struct wconn *c, const struct sl_proto_refusal *r, const char *why)
{
	struct sched *s = c->s;
	struct sl_strbuf q = SL_STRBUF_INIT, reason = SL_STRBUF_INIT;
	struct sl_proto_msg m;
	int64_t id;

	if (c->state != WCONN_READY) {
		conn_close(c, why);
		goto out;
	}
	sl_log_quote(&q, why);
	sl_log("warn", "frame_refused", "worker=%s type=%s attempt=%s reason=%s", c->worker_id,
	       sl_proto_type_name((int)r->type), r->attempt_id ? r->attempt_id : "-", q.buf);
	if (r->type != SL_PROTO_RESULT || !r->attempt_id || !r->fence ||
	    !parse_id(r->attempt_id, &id))
		goto out;
	if (s->db_down) {
		conn_close(c, "the database is unavailable");
		goto out;
	}
	sl_strbuf_addf(&reason, "its result was refused: %s", why);
	if (lose_attempt(s, c->worker_id, id, (int64_t)r->fence, reason.buf)) {
		conn_close(c, "cannot record a result");
		goto out;
	}
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

static void handle(struct wconn *c, struct sl_proto_msg *m)
{
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
		on_heartbeat(c, &m->u.heartbeat);
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

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = sl_xmalloc(READ_CHUNK);
	buf->len = READ_CHUNK;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct wconn *c = container_of((uv_tcp_t *)st, struct wconn, tcp);
	struct sched *s = c->s;
	struct sl_proto_msg m = SL_PROTO_MSG_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	if (nread < 0) {
		conn_close(c, nread == UV_EOF ? "the worker closed the connection"
		                              : uv_strerror((int)nread));
		goto out;
	}
	if (!nread)
		goto out;
	c->last_rx = uv_now(c->s->loop);
	sl_proto_decoder_feed(&c->dec, buf->base, (size_t)nread);
	while ((c->state == WCONN_AWAIT_HELLO || c->state == WCONN_READY) &&
	       (rc = sl_proto_decoder_next(&c->dec, &m, &err)) != 0) {
		if (rc < 0) {
			conn_close(c, err.buf);
			break;
		}
		if (rc == SL_PROTO_REFUSED)
			on_refused(c, sl_proto_decoder_refusal(&c->dec), err.buf);
		else
			handle(c, &m);
		sl_strbuf_reset(&err);
	}
	/* The handlers' statements may have read notifications, or reconnected. */
	notify_sync(s);
out:
	sl_proto_msg_release(&m);
	sl_strbuf_release(&err);
	free(buf->base);
}

static char *peer_name(uv_tcp_t *tcp)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[64] = "?";
	int port = 0;

	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len))
		return sl_xstrdup("unknown");
	if (ss.ss_family == AF_INET) {
		uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		return sl_xasprintf("%s:%d", ip, port);
	}
	if (ss.ss_family == AF_INET6) {
		uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		return sl_xasprintf("[%s]:%d", ip, port);
	}
	return sl_xstrdup("unknown");
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sched *s = container_of((uv_tcp_t *)server, struct sched, listener);
	struct wconn *c;
	int rc;

	if (status < 0) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(status));
		return;
	}
	c = sl_xcalloc(1, sizeof(*c));
	c->s = s;
	c->state = WCONN_AWAIT_HELLO;
	sl_proto_decoder_init(&c->dec, 0);
	if ((rc = uv_tcp_init(s->loop, &c->tcp))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		sl_proto_decoder_release(&c->dec);
		free(c);
		return;
	}
	/* In the list from now on: on_closed unlinks and frees it. */
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->conns_nr++;
	if ((rc = uv_accept(server, (uv_stream_t *)&c->tcp))) {
		c->peer = sl_xstrdup("unknown");
		conn_close(c, uv_strerror(rc));
		return;
	}
	c->peer = peer_name(&c->tcp);
	c->last_rx = c->last_tx = uv_now(s->loop);
	if ((rc = uv_tcp_nodelay(&c->tcp, 1)) ||
	    (rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))) {
		conn_close(c, uv_strerror(rc));
		return;
	}
	sl_log("info", "accepted", "peer=%s", c->peer);
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

static void send_dispatch(struct wconn *c, const struct sl_engine_dispatch *d)
{
	struct sched *s = c->s;
	struct sl_strbuf frame = SL_STRBUF_INIT, err = SL_STRBUF_INIT, reason = SL_STRBUF_INIT;
	struct sl_proto_msg m;

	sl_proto_msg_init(&m, SL_PROTO_DISPATCH);
	m.u.dispatch.attempt_id = sl_xasprintf("%" PRId64, d->attempt_id);
	m.u.dispatch.fence = (uint64_t)d->fencing_token;
	m.u.dispatch.dag = sl_xstrdup(d->dag);
	m.u.dispatch.run_id = sl_xstrdup(d->run_id);
	m.u.dispatch.task = sl_xstrdup(d->task);
	m.u.dispatch.try_number = (uint32_t)d->try_number;
	m.u.dispatch.command = sl_xstrdup(d->command);
	for (size_t i = 0; i < d->env.nr; i++) {
		const char *eq = strchr(d->env.items[i], '=');
		char *name;

		if (!eq)
			continue;
		name = sl_xasprintf("%.*s", (int)(eq - d->env.items[i]), d->env.items[i]);
		sl_proto_kvlist_push(&m.u.dispatch.env, name, eq + 1);
		free(name);
	}
	m.u.dispatch.cwd = sl_xstrdup(d->cwd ? d->cwd : "");
	m.u.dispatch.commit = sl_xstrdup(d->commit);
	m.u.dispatch.repo = s->cfg.dags_repo ? sl_xstrdup(s->cfg.dags_repo) : NULL;
	m.u.dispatch.timeout_s =
	    d->timeout_s > 0 && d->timeout_s < INT32_MAX ? (uint32_t)d->timeout_s : 0;
	m.u.dispatch.log_limit = s->cfg.log_limit > 0 ? (uint64_t)s->cfg.log_limit : 0;
	m.u.dispatch.sensor = d->sensor;
	/*
	 * What the worker's decoder would refuse never leaves: the attempt
	 * fails here, with the reason, and the connection stays up.
	 */
	if (sl_proto_encode_checked(&m, &frame, &err)) {
		sl_strbuf_addf(&reason, "it cannot be dispatched: %s", err.buf);
		lose_attempt(s, c->worker_id, d->attempt_id, d->fencing_token, reason.buf);
		goto out;
	}
	live_add(c, d->attempt_id, d->fencing_token, ++c->dispatches_sent);
	/*
	 * A DISPATCH that cannot be sent leaves a live attempt: the worker's
	 * next HEARTBEAT (or its loss) fails and retries it.
	 */
	if (!send_frame(c, frame.buf, frame.len))
		goto out;
	sl_log("info", "dispatched",
	       "worker=%s attempt=%" PRId64 " fence=%" PRId64 " dag=%s run=%s task=%s try=%d",
	       c->worker_id, d->attempt_id, d->fencing_token, d->dag, d->run_id, d->task,
	       d->try_number);
out:
	sl_proto_msg_release(&m);
	sl_strbuf_release(&frame);
	sl_strbuf_release(&err);
	sl_strbuf_release(&reason);
}

void conn_dispatch_all(struct sched *s, int64_t now_ms)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (s->stopping)
		return;
	for (struct wconn *c = s->conns; c && !s->db_down; c = c->next) {
		struct sl_engine_dispatches out = SL_ENGINE_DISPATCHES_INIT;
		int rc;

		if (c->state != WCONN_READY || c->live_nr >= c->slots || worker_silent(c))
			continue;
		/* Started in the claim: the DISPATCHes go out right after it. */
		if ((rc = sl_engine_claim_started(
		         &s->engine, c->worker_id, (const char *const *)c->queues, c->queues_nr,
		         c->slots - c->live_nr, (size_t)s->cfg.parallelism, now_ms, &out, &err))) {
			sched_db_error(s, "claim", rc, &err);
			sl_strbuf_reset(&err);
		}
		for (size_t i = 0; i < out.nr; i++)
			send_dispatch(c, &out.items[i]);
		sl_engine_dispatches_release(&out);
	}
	sl_strbuf_release(&err);
}

void conn_cancel_ended(struct sched *s)
{
	static const char sql[] = "SELECT attempt_id, fencing_token FROM attempts "
	                          "WHERE attempt_id = ANY($1::bigint[]) AND ended_at IS NOT NULL";
	struct sl_strbuf ids = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	PGresult *res = NULL;
	const char *params[1];
	size_t n = 0;
	int rc;

	sl_strbuf_addch(&ids, '{');
	for (struct wconn *c = s->conns; c; c = c->next) {
		if (c->state != WCONN_READY)
			continue;
		for (size_t i = 0; i < c->live_nr; i++) {
			if (c->live[i].cancel_sent)
				continue;
			sl_strbuf_addf(&ids, "%s%" PRId64, n++ ? "," : "", c->live[i].attempt_id);
		}
	}
	sl_strbuf_addch(&ids, '}');
	if (!n)
		goto out;
	params[0] = ids.buf;
	if ((rc = sl_db_exec_idempotent(s->db, sql, 1, params, &res, &err))) {
		sched_db_error(s, "cancel_check", rc, &err);
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		int64_t fence = strtoll(PQgetvalue(res, r, 1), NULL, 10);

		for (struct wconn *c = s->conns; c; c = c->next) {
			struct live_attempt *a;
			struct sl_proto_msg m;

			if (c->state != WCONN_READY || !(a = live_find(c, id)) || a->cancel_sent)
				continue;
			a->cancel_sent = true;
			sl_proto_msg_init(&m, SL_PROTO_CANCEL);
			m.u.cancel.attempt_id = sl_xasprintf("%" PRId64, id);
			m.u.cancel.fence = (uint64_t)(a->fence ? a->fence : fence);
			m.u.cancel.reason = sl_xstrdup("the attempt has ended (cancelled or lost)");
			if (conn_send(c, &m))
				sl_log("info", "cancel_sent", "worker=%s attempt=%" PRId64,
				       c->worker_id, id);
			sl_proto_msg_release(&m);
		}
	}
out:
	PQclear(res);
	sl_strbuf_release(&ids);
	sl_strbuf_release(&err);
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
		if (now - c->last_rx >= timeout_ms(s)) {
			conn_close(c, c->state == WCONN_READY
			                  ? "no frame within heartbeat_timeout"
			                  : "no HELLO within heartbeat_timeout");
			continue;
		}
		if (c->state == WCONN_READY && now - c->last_tx >= sched_heartbeat_ms(s)) {
			struct sl_proto_msg m;

			sl_proto_msg_init(&m, SL_PROTO_HEARTBEAT);
			conn_send(c, &m);
			sl_proto_msg_release(&m);
		}
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct wconn *c = container_of((uv_tcp_t *)req->handle, struct wconn, tcp);

	(void)status;
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
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
		uv_read_stop((uv_stream_t *)&c->tcp);
		/* Let the DRAIN (and any ACK) reach the socket first. */
		if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown))
			uv_close((uv_handle_t *)&c->tcp, on_closed);
	}
}
