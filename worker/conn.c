#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/*
 * The worker's one connection to a scheduler. States (enum conn_state):
 *
 *   IDLE --retry timer--> RESOLVING --> CONNECTING --> HANDSHAKE --WELCOME--> READY
 *     ^                                     |              |                    |
 *     +--------- CLOSING <--- any failure, REJECT, bad frame, silence ---------+
 *
 * Every failure goes through one path (close the socket, then arm the retry
 * timer from the close callback), so there is never more than one socket and
 * the back-off applies to every kind of failure alike.
 */

#define CONNECT_TIMEOUT_MS 10000 /* connect + handshake, before any lease is known */
#define BACKOFF_MIN_MS     500
#define BACKOFF_MAX_MS     30000

bool conn_ready(const struct worker *w)
{
	return w->state == CONN_READY;
}

static bool has_socket(const struct worker *w)
{
	return w->state == CONN_CONNECTING || w->state == CONN_HANDSHAKE || w->state == CONN_READY;
}

static void on_lease_check(uv_check_t *h)
{
	struct worker *w = container_of(h, struct worker, lease_check);
	uint64_t silent = uv_now(w->loop) - w->last_heard;
	struct sl_strbuf reason = SL_STRBUF_INIT;

	if (w->state == CONN_READY && uv_now(w->loop) - w->fc.last_rx >= w->lease_ms) {
		sl_strbuf_addf(&reason, "no frame from the scheduler for %llu ms (the lease)",
		               (unsigned long long)(uv_now(w->loop) - w->fc.last_rx));
		conn_drop(w, reason.buf);
		sl_strbuf_reset(&reason);
	}
	if (!w->lease_ms || !w->last_heard || w->lease_expired || silent < w->lease_ms)
		goto out;
	w->lease_expired = true;
	if (!w->attempts_nr)
		goto out;
	sl_strbuf_addf(&reason,
	               "no word from any scheduler for %llu ms, longer than the lease (%u ms): "
	               "killed so that it cannot run twice when it is retried",
	               (unsigned long long)silent, (unsigned)w->lease_ms);
	sl_log("warn", "lease_expired", "silent_ms=%llu lease_ms=%u attempts=%zu",
	       (unsigned long long)silent, (unsigned)w->lease_ms, w->attempts_nr);
	attempt_fence_all(w, reason.buf);
out:
	sl_strbuf_release(&reason);
}

/* Nothing to do but wake the loop: on_lease_check judges after its I/O. */
static void on_lease_timer(uv_timer_t *t)
{
	(void)t;
}

static void heard(struct worker *w)
{
	w->last_heard = uv_now(w->loop);
	w->lease_expired = false;
	if (w->lease_ms)
		(void)uv_timer_start(&w->lease_timer, on_lease_timer, w->lease_ms, 0);
}

int conn_init(struct worker *w)
{
	int rc;

	w->state = CONN_IDLE;
	if ((rc = uv_timer_init(w->loop, &w->conn_timer)) ||
	    (rc = uv_timer_init(w->loop, &w->retry_timer)) ||
	    (rc = uv_timer_init(w->loop, &w->lease_timer)) ||
	    (rc = uv_check_init(w->loop, &w->lease_check)) ||
	    (rc = uv_check_start(&w->lease_check, on_lease_check))) {
		sl_log("error", "init_failed", "what=timer error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	return 0;
}

static void on_retry(uv_timer_t *t);

static void schedule_retry(struct worker *w)
{
	uint64_t delay = 0;
	int rc;

	if (w->stopped)
		return;
	if (w->cfg.schedulers_nr > 1)
		w->sched_idx = (w->sched_idx + 1) % w->cfg.schedulers_nr;
	/* Try the next scheduler of the list at once; back off after a whole round. */
	if (w->sched_idx == 0) {
		unsigned shift = w->failures < 6 ? w->failures : 6;
		uint64_t base = (uint64_t)BACKOFF_MIN_MS << shift;

		if (base > BACKOFF_MAX_MS)
			base = BACKOFF_MAX_MS;
		/*
		 * A worker that holds attempts must be back within its lease or
		 * kill them: it retries at least four times per lease.
		 */
		if (w->lease_ms && (w->attempts_nr || w->kept_nr) && base > w->lease_ms / 4)
			base = w->lease_ms / 4 > BACKOFF_MIN_MS / 5 ? w->lease_ms / 4
			                                            : BACKOFF_MIN_MS / 5;
		/* Up to +25% jitter, so that a fleet of workers does not reconnect in step. */
		delay = base + (uint64_t)rand() % (base / 4 + 1);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		w->failures++;
	}
	sl_log("info", "reconnect_scheduled", "scheduler=%s delay_ms=%llu",
	       w->cfg.schedulers[w->sched_idx], (unsigned long long)delay);
	if ((rc = uv_timer_start(&w->retry_timer, on_retry, delay, 0)))
		sl_log("error", "timer_failed", "error=\"%s\"", uv_strerror(rc));
}

static void on_closed(struct sl_frameconn *fc)
{
	struct worker *w = container_of(fc, struct worker, fc);

	w->state = CONN_IDLE;
	if (w->stopping)
		worker_maybe_exit(w);
	schedule_retry(w);
}

void conn_drop(struct worker *w, const char *reason)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	if (!has_socket(w))
		return;
	sl_log_quote(&q, reason);
	sl_log(w->state == CONN_READY ? "warn" : "info",
	       w->state == CONN_CONNECTING ? "connect_failed" : "disconnected",
	       "scheduler=%s reason=%s", w->peer ? w->peer : "-", q.buf);
	sl_strbuf_release(&q);
	uv_timer_stop(&w->conn_timer);
	w->state = CONN_CLOSING;
	sl_frameconn_close(&w->fc);
}

/* A failure before a socket exists (name resolution, tcp init). */
static void fail_early(struct worker *w, const char *what, int rc)
{
	sl_log("warn", "connect_failed", "scheduler=%s what=%s error=\"%s\"",
	       w->peer ? w->peer : "-", what, uv_strerror(rc));
	w->state = CONN_IDLE;
	if (w->stopping)
		worker_maybe_exit(w);
	schedule_retry(w);
}

bool conn_send_raw(struct worker *w, const char *bytes, size_t len)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (w->state != CONN_HANDSHAKE && w->state != CONN_READY)
		return false;
	if (sl_frameconn_write(&w->fc, bytes, len, &err)) {
		conn_drop(w, err.buf);
		sl_strbuf_release(&err);
		return false;
	}
	return true;
}

bool conn_send(struct worker *w, const struct sl_proto_msg *msg)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	bool sent = false;
	int rc;

	if (w->state != CONN_HANDSHAKE && w->state != CONN_READY)
		return false;
	if ((rc = sl_proto_encode(msg, &frame))) {
		sl_log("error", "encode_failed", "type=%s", sl_proto_type_name((int)msg->type));
		goto out;
	}
	sent = conn_send_raw(w, frame.buf, frame.len);
out:
	sl_strbuf_release(&frame);
	return sent;
}

void conn_held_attempts(const struct worker *w, struct sl_proto_strlist *l)
{
	attempt_list_running(w, l);
	results_list(w, l);
}

static void send_hello(struct worker *w)
{
	struct sl_proto_msg m;

	sl_proto_msg_init(&m, SL_PROTO_HELLO);
	m.u.hello.version_min = SL_PROTO_VERSION_MIN;
	m.u.hello.version_max = SL_PROTO_VERSION_MAX;
	m.u.hello.token = sl_xstrdup(w->token);
	m.u.hello.worker_id = sl_xstrdup(w->cfg.name);
	m.u.hello.host = sl_xstrdup(w->host);
	m.u.hello.slots = (uint32_t)w->cfg.slots;
	for (size_t i = 0; i < w->cfg.queues_nr; i++)
		sl_proto_strlist_push(&m.u.hello.queues, w->cfg.queues[i]);
	conn_held_attempts(w, &m.u.hello.running);
	conn_send(w, &m);
	sl_proto_msg_release(&m);
}

static void send_heartbeat(struct worker *w)
{
	struct sl_proto_msg m;

	sl_proto_msg_init(&m, SL_PROTO_HEARTBEAT);
	conn_held_attempts(w, &m.u.heartbeat.running);
	m.u.heartbeat.dispatches = w->dispatches_read;
	conn_send(w, &m);
	sl_proto_msg_release(&m);
}

/*
 * Connect and handshake: once a lease is known, no longer than it (at
 * least a second), so that a scheduler whose kernel accepts but whose
 * process is frozen does not keep the worker from the next one for long.
 */
static uint64_t connect_timeout_ms(const struct worker *w)
{
	if (!w->lease_ms)
		return CONNECT_TIMEOUT_MS;
	return w->lease_ms < 1000 ? 1000 : w->lease_ms;
}

/* The silence of a ready connection is judged in on_lease_check, after I/O. */
static void on_conn_timer(uv_timer_t *t)
{
	struct worker *w = container_of(t, struct worker, conn_timer);

	if (w->state != CONN_READY) {
		struct sl_strbuf r = SL_STRBUF_INIT;

		sl_strbuf_addf(&r, "no WELCOME within %llu ms",
		               (unsigned long long)connect_timeout_ms(w));
		conn_drop(w, r.buf);
		sl_strbuf_release(&r);
		return;
	}
	send_heartbeat(w);
}

void conn_check_drained(struct worker *w)
{
	if (w->state == CONN_READY && w->drained && !w->attempts_nr && !w->kept_nr)
		conn_drop(w, "drained, holding nothing");
}

static void on_welcome(struct worker *w, const struct sl_proto_welcome *wel)
{
	int rc;

	if (wel->version < SL_PROTO_VERSION_MIN || wel->version > SL_PROTO_VERSION_MAX) {
		conn_drop(w, "WELCOME names a protocol version this worker did not offer");
		return;
	}
	w->state = CONN_READY;
	sl_metric_inc(w->m.connections);
	w->heartbeat_ms = wel->heartbeat_ms;
	w->lease_ms = wel->lease_ms;
	heard(w);
	w->failures = 0;
	w->drained = false;
	sl_log("info", "connected", "scheduler=%s scheduler_id=%s heartbeat_ms=%u lease_ms=%u",
	       w->peer, wel->scheduler_id, (unsigned)wel->heartbeat_ms, (unsigned)wel->lease_ms);
	if ((rc =
	         uv_timer_start(&w->conn_timer, on_conn_timer, w->heartbeat_ms, w->heartbeat_ms))) {
		sl_log("error", "timer_failed", "error=\"%s\"", uv_strerror(rc));
		conn_drop(w, "cannot start the heartbeat timer");
		return;
	}
	if (!w->ever_connected) {
		w->ever_connected = true;
		worker_notify_ready(w);
	}
	results_resend(w);
}

static void protocol_error(struct worker *w, const struct sl_proto_msg *m)
{
	struct sl_strbuf r = SL_STRBUF_INIT;

	sl_strbuf_addf(&r, "unexpected %s frame %s", sl_proto_type_name((int)m->type),
	               w->state == CONN_READY ? "after the handshake" : "during the handshake");
	conn_drop(w, r.buf);
	sl_strbuf_release(&r);
}

static void handle(struct sl_frameconn *fc, struct sl_proto_msg *m)
{
	struct worker *w = container_of(fc, struct worker, fc);
	struct sl_strbuf q = SL_STRBUF_INIT;

	if (w->state == CONN_HANDSHAKE) {
		if (m->type == SL_PROTO_WELCOME) {
			on_welcome(w, &m->u.welcome);
		} else if (m->type == SL_PROTO_REJECT) {
			sl_log_quote(&q, m->u.reject.reason);
			sl_log("error", "rejected", "scheduler=%s reason=%s", w->peer, q.buf);
			conn_drop(w, "rejected by the scheduler");
		} else {
			protocol_error(w, m);
		}
		sl_strbuf_release(&q);
		return;
	}
	switch (m->type) {
	case SL_PROTO_HEARTBEAT:
		break;
	case SL_PROTO_DISPATCH:
		w->dispatches_read++;
		if (w->stopping || w->drained)
			sl_log("warn", "dispatch_refused", "attempt=%s reason=%s",
			       m->u.dispatch.attempt_id, w->stopping ? "stopping" : "drained");
		else
			attempt_dispatch(w, &m->u.dispatch);
		break;
	case SL_PROTO_CANCEL:
		attempt_cancel(w, &m->u.cancel);
		break;
	case SL_PROTO_ACK:
		results_ack(w, &m->u.ack);
		conn_check_drained(w);
		break;
	case SL_PROTO_NACK:
		results_nack(w, &m->u.nack);
		conn_check_drained(w);
		break;
	case SL_PROTO_DRAIN:
		sl_log("info", "drain", "scheduler=%s", w->peer);
		w->drained = true;
		conn_check_drained(w);
		break;
	default:
		protocol_error(w, m);
		break;
	}
}

/*
 * One bad frame costs itself only; a DISPATCH that names its attempt fails
 * it. During the handshake there is nothing to go on with: drop.
 */
static void on_refused(struct sl_frameconn *fc, const struct sl_proto_refusal *r, const char *why)
{
	struct worker *w = container_of(fc, struct worker, fc);
	struct sl_strbuf q = SL_STRBUF_INIT;

	if (w->state != CONN_READY) {
		conn_drop(w, why);
		return;
	}
	sl_log_quote(&q, why);
	sl_log("warn", "frame_refused", "scheduler=%s type=%s attempt=%s reason=%s", w->peer,
	       sl_proto_type_name((int)r->type), r->attempt_id ? r->attempt_id : "-", q.buf);
	sl_strbuf_release(&q);
	if (r->type != SL_PROTO_DISPATCH)
		return;
	w->dispatches_read++;
	attempt_refused(w, r, why);
}

/* Only a scheduler that has welcomed us renews the lease. */
static void on_read_done(struct sl_frameconn *fc)
{
	struct worker *w = container_of(fc, struct worker, fc);

	if (w->state == CONN_READY)
		heard(w);
}

static void on_error(struct sl_frameconn *fc, enum sl_frameconn_error e, const char *reason)
{
	struct worker *w = container_of(fc, struct worker, fc);
	struct sl_strbuf q = SL_STRBUF_INIT;

	/* Nothing was sent: the next scheduler of the list is tried. */
	if (e == SL_FRAMECONN_TLS) {
		sl_log_quote(&q, reason);
		sl_log("error", "tls_failed", "scheduler=%s reason=%s", w->peer, q.buf);
		sl_strbuf_release(&q);
	}
	conn_drop(w, e == SL_FRAMECONN_EOF ? "the scheduler closed the connection" : reason);
}

static const struct sl_frameconn_ops conn_ops = {
    .on_frame = handle,
    .on_refused = on_refused,
    .on_read_done = on_read_done,
    .on_error = on_error,
    .on_closed = on_closed,
};

static void on_connected(struct sl_frameconn *fc, int status)
{
	struct worker *w = container_of(fc, struct worker, fc);
	struct sl_strbuf r = SL_STRBUF_INIT;
	int rc;

	if (status < 0) {
		sl_strbuf_addf(&r, "connect: %s", uv_strerror(status));
		conn_drop(w, r.buf);
		goto out;
	}
	w->state = CONN_HANDSHAKE;
	w->dispatches_read = 0;
	if ((rc = sl_frameconn_start(&w->fc))) {
		sl_strbuf_addf(&r, "read: %s", uv_strerror(rc));
		conn_drop(w, r.buf);
		goto out;
	}
	send_hello(w);
out:
	sl_strbuf_release(&r);
}

/* TLS to the scheduler being tried, verified for the host part of its entry. */
static int use_tls(struct worker *w)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *host = NULL;
	int port, rc;

	if (!(rc = sl_hostport_parse(w->peer, &host, &port, &err)))
		rc = sl_frameconn_set_tls(&w->fc, w->tls, host, &err);
	if (rc)
		conn_drop(w, err.buf);
	free(host);
	sl_strbuf_release(&err);
	return rc;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct worker *w = container_of(req, struct worker, resolve_req);
	int rc;

	if (w->stopped) {
		w->state = CONN_IDLE;
		goto out;
	}
	if (status < 0) {
		fail_early(w, "resolve", status);
		goto out;
	}
	if ((rc = sl_frameconn_init(&w->fc, w->loop, &conn_ops))) {
		fail_early(w, "tcp_init", rc);
		goto out;
	}
	w->state = CONN_CONNECTING;
	if (w->tls && use_tls(w))
		goto out;
	if ((rc = sl_frameconn_connect(&w->fc, res->ai_addr, on_connected)) ||
	    (rc = uv_timer_start(&w->conn_timer, on_conn_timer, connect_timeout_ms(w), 0))) {
		struct sl_strbuf r = SL_STRBUF_INIT;

		sl_strbuf_addf(&r, "connect: %s", uv_strerror(rc));
		conn_drop(w, r.buf);
		sl_strbuf_release(&r);
	}
out:
	uv_freeaddrinfo(res);
}

void conn_start(struct worker *w)
{
	const char *target = w->cfg.schedulers[w->sched_idx];
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct addrinfo hints;
	char *host = NULL, port_s[16];
	int port, rc;

	if (w->stopped || w->state != CONN_IDLE)
		return;
	free(w->peer);
	w->peer = sl_xstrdup(target);
	/* The config reader checked the syntax already. */
	if (sl_hostport_parse(target, &host, &port, &err)) {
		fail_early(w, "parse", UV_EINVAL);
		goto out;
	}
	snprintf(port_s, sizeof(port_s), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	w->state = CONN_RESOLVING;
	if ((rc = uv_getaddrinfo(w->loop, &w->resolve_req, on_resolved, host, port_s, &hints)))
		fail_early(w, "resolve", rc);
out:
	free(host);
	sl_strbuf_release(&err);
}

static void on_retry(uv_timer_t *t)
{
	conn_start(container_of(t, struct worker, retry_timer));
}

void conn_shutdown(struct worker *w)
{
	uv_close((uv_handle_t *)&w->conn_timer, NULL);
	uv_close((uv_handle_t *)&w->retry_timer, NULL);
	uv_close((uv_handle_t *)&w->lease_timer, NULL);
	uv_close((uv_handle_t *)&w->lease_check, NULL);
	if (w->state == CONN_READY || w->state == CONN_HANDSHAKE) {
		/* Let the queued frames (results above all) reach the socket first. */
		sl_frameconn_shutdown(&w->fc);
	} else if (w->state == CONN_CONNECTING) {
		w->state = CONN_CLOSING;
		sl_frameconn_close(&w->fc);
	}
	/*
	 * RESOLVING: on_resolved sees w->stopped and frees the answer. Cancelling
	 * only succeeds while the lookup still waits for a thread (UV_EBUSY
	 * otherwise, and then the lookup is simply awaited), so its result is
	 * not an error.
	 */
	if (w->state == CONN_RESOLVING)
		(void)uv_cancel((uv_req_t *)&w->resolve_req);
}

void conn_release(struct worker *w)
{
	free(w->peer);
	w->peer = NULL;
}
