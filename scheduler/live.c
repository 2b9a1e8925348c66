#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/engine.h"
#include "sluice/workers.h"
#include "sluice/banned.h"

/*
 * The attempts each worker connection counts as live on its worker, and
 * how they are checked against the worker's own word and the database
 * (docs/protocol.md, "Reconciliation"): at HELLO at once, at each
 * HEARTBEAT at the next tick, for every worker in one statement.
 */

bool live_parse_id(const char *s, int64_t *out)
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

struct live_attempt *live_find(struct wconn *c, int64_t id)
{
	for (size_t i = 0; i < c->live_nr; i++)
		if (c->live[i].attempt_id == id)
			return &c->live[i];
	return NULL;
}

void live_add(struct wconn *c, int64_t id, int64_t fence, uint64_t dispatch_seq)
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

void live_remove(struct wconn *c, int64_t id)
{
	for (size_t i = 0; i < c->live_nr; i++) {
		if (c->live[i].attempt_id == id) {
			c->live[i] = c->live[--c->live_nr];
			return;
		}
	}
}

static bool listed(const struct sl_proto_strlist *l, int64_t id)
{
	for (size_t i = 0; i < l->nr; i++) {
		int64_t v;

		if (live_parse_id(l->items[i], &v) && v == id)
			return true;
	}
	return false;
}

/*
 * Count as live the attempts the HELLO lists that the database attributes
 * to this worker, in any state (an ended one is then sent its CANCEL), in
 * one statement: another worker's attempt id in the list must not make
 * this connection receive that attempt's CANCEL and fencing token.
 */
static int adopt_listed(struct wconn *c, const struct sl_proto_hello *h, struct sl_strbuf *err)
{
	int64_t *ids = sl_xcalloc(h->running.nr + 1, sizeof(*ids));
	struct sl_attempt_fence *owned = NULL;
	size_t n = 0, owned_nr = 0;
	int rc = 0;

	for (size_t i = 0; i < h->running.nr; i++)
		if (live_parse_id(h->running.items[i], &ids[n]))
			n++;
	if (!n)
		goto out;
	if ((rc = sl_worker_owned_attempts(c->s->db, c->worker_id, ids, n, &owned, &owned_nr,
	                                   err))) {
		sched_db_error(c->s, "owned_attempts", rc, err);
		goto out;
	}
	for (size_t i = 0; i < owned_nr; i++)
		live_add(c, owned[i].attempt_id, 0, 0);
	if (owned_nr < n)
		sl_log("warn", "hello_not_owned", "worker=%s listed=%zu not_owned=%zu",
		       c->worker_id, n, n - owned_nr);
out:
	free(ids);
	free(owned);
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
	if (rc)
		sched_db_error(c->s, "confirm_stopped", rc, err);
	else if (confirmed)
		sl_log("info", "attempts_stopped", "worker=%s attempts=%zu", c->worker_id,
		       confirmed);
	free(ids);
	return rc;
}

int live_reconcile_hello(struct wconn *c, const struct sl_proto_hello *h, struct sl_strbuf *err)
{
	struct sched *s = c->s;
	struct sl_engine_live live = SL_ENGINE_LIVE_INIT;
	const char *names[1] = {c->worker_id};
	int rc;

	if ((rc = adopt_listed(c, h, err)) || (rc = confirm_stopped(c, err)))
		goto out;
	if ((rc = sl_engine_worker_live(&s->engine, names, 1, false, &live, err))) {
		sched_db_error(s, "worker_live", rc, err);
		goto out;
	}
	for (size_t i = 0; i < live.nr; i++) {
		const struct sl_engine_live_attempt *a = &live.items[i];

		if (listed(&h->running, a->attempt_id))
			continue;
		rc = conn_lose_attempt(s, c->worker_id, a->attempt_id, a->fencing,
		                       "the worker does not hold it any more (it restarted, or "
		                       "the dispatch never reached it)");
		if (rc)
			break;
	}
out:
	sl_engine_live_release(&live);
	return rc;
}

void live_heartbeat(struct wconn *c, struct sl_proto_heartbeat *hb)
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

		if (live_parse_id(c->hb_running.items[i], &id))
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

void live_heartbeats_flush(struct sched *s)
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
		if (conn_lose_attempt(
		        s, a->worker_id, a->attempt_id, a->fencing,
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
