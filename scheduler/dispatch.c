/*
 * What the scheduler sends about attempts: DISPATCH for the work its claim
 * gives each ready worker, CANCEL for live attempts the database has ended.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/engine.h"
#include "sluice/error.h"
#include "sluice/workers.h"
#include "sluice/banned.h"

void dispatch_send(struct wconn *c, const struct sl_engine_dispatch *d)
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
	m.u.dispatch.repo = s->dags_repo_sent ? sl_xstrdup(s->dags_repo_sent) : NULL;
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
		conn_lose_attempt(s, c->worker_id, d->attempt_id, d->fencing_token, reason.buf);
		goto out;
	}
	live_add(c, d->attempt_id, d->fencing_token, ++c->dispatches_sent);
	/*
	 * A DISPATCH that cannot be sent leaves a live attempt: the worker's
	 * next HEARTBEAT (or its loss) fails and retries it.
	 */
	if (!conn_send_frame(c, frame.buf, frame.len))
		goto out;
	/* Two clocks (the server's, the scheduler's): a skew never makes it negative. */
	sl_metric_observe(s->m.dispatch_latency,
	                  wall_ms() > d->ready_ms ? (double)(wall_ms() - d->ready_ms) / 1000 : 0);
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

/* Whether every queue `c` serves is one of `of`'s. */
static bool queues_within(const struct wconn *c, const struct wconn *of)
{
	for (size_t i = 0; i < c->queues_nr; i++) {
		size_t j = 0;

		while (j < of->queues_nr && strcmp(c->queues[i], of->queues[j]))
			j++;
		if (j == of->queues_nr)
			return false;
	}
	return true;
}

void dispatch_all(struct sched *s, int64_t now_ms)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	/*
	 * A claim that came back short took all there was for its queues, and
	 * nothing commits between the claims of one pass: a worker whose
	 * queues are all among them would claim nothing. An idle fleet of
	 * like workers costs one claim a tick instead of one per worker.
	 */
	const struct wconn **drained = NULL;
	size_t drained_nr = 0, drained_alloc = 0;

	if (s->stopping)
		return;
	for (struct wconn *c = s->conns; c && !s->db_down; c = c->next) {
		struct sl_engine_dispatches out = SL_ENGINE_DISPATCHES_INIT;
		size_t want;
		size_t d = 0;
		int rc;

		if (c->state != WCONN_READY || c->live_nr >= c->slots || conn_worker_silent(c))
			continue;
		while (d < drained_nr && !queues_within(c, drained[d]))
			d++;
		if (d < drained_nr)
			continue;
		want = c->slots - c->live_nr;
		/* Started in the claim: the DISPATCHes go out right after it. */
		if ((rc = sl_engine_claim_started(
		         &s->engine, c->worker_id, (const char *const *)c->queues, c->queues_nr,
		         want, (size_t)s->cfg.parallelism, now_ms, &out, &err))) {
			sched_db_error(s, "claim", rc, &err);
			sl_strbuf_reset(&err);
		} else if (out.nr < want) {
			SL_ALLOC_GROW(drained, drained_nr + 1, drained_alloc);
			drained[drained_nr++] = c;
		}
		sl_metric_add(s->m.claims, (double)out.nr);
		for (size_t i = 0; i < out.nr; i++)
			dispatch_send(c, &out.items[i]);
		sl_engine_dispatches_release(&out);
	}
	free(drained);
	sl_strbuf_release(&err);
}

void dispatch_cancel_ended(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_attempt_fence *ended = NULL;
	int64_t *ids = NULL;
	size_t n = 0, ids_alloc = 0, ended_nr = 0;
	int rc;

	for (struct wconn *c = s->conns; c; c = c->next) {
		if (c->state != WCONN_READY)
			continue;
		for (size_t i = 0; i < c->live_nr; i++) {
			if (c->live[i].cancel_sent)
				continue;
			SL_ALLOC_GROW(ids, n + 1, ids_alloc);
			ids[n++] = c->live[i].attempt_id;
		}
	}
	if (!n)
		goto out;
	if ((rc = sl_attempts_ended(s->db, ids, n, &ended, &ended_nr, &err))) {
		sched_db_error(s, "cancel_check", rc, &err);
		goto out;
	}
	for (size_t e = 0; e < ended_nr; e++) {
		int64_t id = ended[e].attempt_id;
		int64_t fence = ended[e].fence;

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
	free(ended);
	free(ids);
	sl_strbuf_release(&err);
}
