/*
 * Scheduled runs: for each DAG that is due, the intervals that have ended
 * (sl_schedule_next), created as runs, and when the DAG is due next.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/runstore.h"
#include "sluice/schedule.h"
#include "sluice/tz.h"
#include "sluice/banned.h"

/*
 * DAGs due for a scheduled run, with the start date fallback (first seen),
 * the latest scheduled interval end, and whether a scheduled run exists.
 * DAGs already at max_active_runs are left out here, so they cost nothing
 * until a run finishes. Locked, so two schedulers take different DAGs.
 */
static const char sql_due_dags[] =
    "SELECT d.dag_id, floor(extract(epoch FROM d.first_seen_at))::bigint,"
    " (SELECT floor(extract(epoch FROM max(r.data_interval_end)))::bigint FROM runs r"
    "  WHERE r.dag_id = d.dag_id AND r.run_type = 'scheduled'),"
    " (SELECT count(*) FROM runs r WHERE r.dag_id = d.dag_id"
    "  AND r.state IN ('queued', 'running'))"
    " FROM dags d JOIN dag_versions v ON v.version_id = d.latest_version_id"
    " WHERE NOT d.paused AND d.removed_at IS NULL"
    " AND (d.next_run_after IS NULL OR d.next_run_after <= $1::timestamptz)"
    " AND jsonb_typeof(v.definition->'schedule') = 'string'"
    " AND (SELECT count(*) FROM runs r WHERE r.dag_id = d.dag_id"
    "  AND r.state IN ('queued', 'running')) < (v.definition->>'max_active_runs')::int"
    " ORDER BY d.next_run_after NULLS FIRST, d.dag_id LIMIT $2"
    " FOR UPDATE OF d SKIP LOCKED";

static const char sql_set_next[] = "UPDATE dags d SET next_run_after = u.next, updated_at = now()"
                                   " FROM unnest($1::text[], $2::timestamptz[]) AS u(dag_id, next)"
                                   " WHERE d.dag_id = u.dag_id";

struct sched_ctx {
	int64_t now_ms;
	size_t limit;
	size_t created;
};

struct new_runs {
	struct sl_run_new *items;
	size_t nr, alloc;
};

static void new_runs_release(struct new_runs *n)
{
	for (size_t i = 0; i < n->nr; i++)
		free((char *)n->items[i].run_id);
	free(n->items);
	memset(n, 0, sizeof(*n));
}

static void new_runs_add(struct new_runs *n, int64_t start_s, int64_t end_s)
{
	struct sl_strbuf id = SL_STRBUF_INIT;

	sl_run_id_format(&id, "scheduled", start_s * 1000000);
	SL_ALLOC_GROW(n->items, n->nr + 1, n->alloc);
	n->items[n->nr++] = (struct sl_run_new){
	    .run_id = sl_strbuf_detach(&id, NULL),
	    .run_type = "scheduled",
	    .logical_date = start_s * 1000000,
	    .interval_start = start_s * 1000000,
	    .interval_end = end_s * 1000000,
	    .conf = NULL,
	};
}

/*
 * The intervals of one DAG to create now (at most `budget`), and the time
 * its next run is due (`*next_s`, or `*never`).
 */
static int plan_dag(const struct sl_dag *dag, const struct sl_tz *tz,
                    const struct sl_schedule_state *st, size_t budget, struct new_runs *runs,
                    int64_t *next_s, bool *never, struct sl_strbuf *err)
{
	struct sl_interval iv;
	int rc;

	*never = false;
	if (dag->schedule_kind == SL_SCHEDULE_ONCE) {
		/* One run ever, at the start date; then never again. */
		if (st->has_last) {
			*never = true;
		} else if (st->start_date > st->now || !budget) {
			*next_s = st->start_date;
		} else {
			new_runs_add(runs, st->start_date, st->start_date);
			*never = true;
		}
		return 0;
	}
	if (dag->schedule_kind != SL_SCHEDULE_CRON) {
		*never = true;
		return 0;
	}
	rc = sl_schedule_next(&dag->cron, tz, st, &iv);
	while (!rc && iv.end <= st->now && runs->nr < budget) {
		new_runs_add(runs, iv.start, iv.end);
		rc =
		    sl_schedule_following(&dag->cron, tz, &iv, st->has_end_date, st->end_date, &iv);
	}
	if (rc == SL_ENOENT) {
		*never = true;
		return 0;
	}
	if (rc) {
		sl_strbuf_addf(err, "cannot compute the next interval of DAG '%s'", dag->id);
		return rc;
	}
	*next_s = iv.end;
	return 0;
}

static int schedule_one(struct sl_db *db, struct sched_ctx *c, PGresult *due, int row,
                        struct sl_strbuf *dag_ids, struct sl_strbuf *nexts, struct sl_strbuf *err)
{
	struct sl_run_pin pin = SL_RUN_PIN_INIT;
	struct new_runs runs = {NULL, 0, 0};
	struct sl_schedule_state st;
	struct sl_tz *tz = NULL;
	const char *dag_id = PQgetvalue(due, row, 0);
	int64_t active = sl__int_at(due, row, 3), next_s = 0;
	size_t budget, created = 0;
	bool never = false;
	int rc;

	rc = sl_run_pin_load(db, dag_id, &pin, err);
	if (rc)
		goto fail;
	rc = sl_tz_load(&tz, pin.dag->timezone, err);
	if (rc)
		goto fail;
	memset(&st, 0, sizeof(st));
	st.start_date = pin.dag->has_start_date ? pin.dag->start_date : sl__int_at(due, row, 1);
	st.has_end_date = pin.dag->has_end_date;
	st.end_date = pin.dag->end_date;
	st.catchup = pin.dag->catchup;
	st.has_last = !PQgetisnull(due, row, 2);
	st.last_end = st.has_last ? sl__int_at(due, row, 2) : 0;
	st.now = c->now_ms / 1000;
	budget = c->limit - c->created;
	if (active < pin.dag->max_active_runs &&
	    (size_t)(pin.dag->max_active_runs - active) < budget)
		budget = (size_t)(pin.dag->max_active_runs - active);
	else if (active >= pin.dag->max_active_runs)
		budget = 0;
	rc = plan_dag(pin.dag, tz, &st, budget, &runs, &next_s, &never, err);
	if (rc)
		goto fail;
	if (runs.nr) {
		rc = sl_runs_create(db, &pin, runs.items, runs.nr, SL_RUNS_SKIP_EXISTING, &created,
		                    err);
		if (rc)
			goto fail;
		c->created += created;
	}
	sl__arr_add(dag_ids, dag_id);
	if (never) {
		sl__arr_add(nexts, "infinity");
	} else {
		struct ts t;

		sl__arr_add(nexts, sl__ts_of(&t, next_s * 1000));
	}
fail:
	new_runs_release(&runs);
	sl_tz_free(tz);
	sl_run_pin_release(&pin);
	return rc;
}

static int schedule_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct sched_ctx *c = ctx;
	struct sl_strbuf dag_ids = SL_STRBUF_INIT, nexts = SL_STRBUF_INIT;
	struct ts now;
	struct num lim;
	const char *params[] = {sl__ts_of(&now, c->now_ms), sl__num_of(&lim, (int64_t)c->limit)};
	PGresult *due = NULL;
	int rc;

	c->created = 0;
	rc = sl_db_exec(db, sql_due_dags, 2, params, &due, err);
	if (rc)
		goto fail;
	for (int i = 0; i < PQntuples(due) && c->created < c->limit; i++) {
		rc = schedule_one(db, c, due, i, &dag_ids, &nexts, err);
		if (rc)
			goto fail;
	}
	if (dag_ids.len) {
		const char *up[] = {sl__arr_end(&dag_ids), sl__arr_end(&nexts)};

		rc = sl_db_exec(db, sql_set_next, 2, up, NULL, err);
	}
fail:
	PQclear(due);
	sl_strbuf_release(&dag_ids);
	sl_strbuf_release(&nexts);
	return rc;
}

int sl_engine_create_scheduled_runs(struct sl_engine *e, int64_t now_ms, size_t limit,
                                    size_t *created, struct sl_strbuf *err)
{
	struct sched_ctx c = {now_ms, limit, 0};
	int rc = 0;

	if (limit)
		rc = sl_db_transaction(e->db, 0, schedule_tx, &c, err);
	if (created)
		*created = rc ? 0 : c.created;
	return rc;
}
