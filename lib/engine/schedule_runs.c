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
#include "sluice/banned.h"

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
 * The intervals of DAG `dag_id` to create now (at most `budget`), and the
 * time its next run is due (`*next_s`, or `*never`).
 */
static int plan_dag(const char *dag_id, const struct sl_schedule *s, size_t budget,
                    struct new_runs *runs, int64_t *next_s, bool *never, struct sl_strbuf *err)
{
	const struct sl_schedule_state *st = &s->st;
	struct sl_interval iv;
	int rc;

	*never = false;
	if (s->kind == SL_SCHEDULE_ONCE) {
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
	if (s->kind != SL_SCHEDULE_CRON) {
		*never = true;
		return 0;
	}
	rc = sl_schedule_next(&s->cron, s->tz, st, &iv);
	while (!rc && iv.end <= st->now && runs->nr < budget) {
		new_runs_add(runs, iv.start, iv.end);
		rc = sl_schedule_following(&s->cron, s->tz, &iv, st->has_end_date, st->end_date,
		                           &iv);
	}
	if (rc == SL_ENOENT) {
		*never = true;
		return 0;
	}
	if (rc) {
		sl_strbuf_addf(err, "cannot compute the next interval of DAG '%s'", dag_id);
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
	struct sl_schedule sched = SL_SCHEDULE_INIT;
	struct sl_schedule_def def;
	const char *dag_id = PQgetvalue(due, row, 0);
	int64_t active = sl__int_at(due, row, 3), next_s = 0;
	size_t budget, created = 0;
	bool never = false;
	int rc;

	rc = sl_run_pin_load(db, dag_id, &pin, err);
	if (rc)
		goto fail;
	def = (struct sl_schedule_def){
	    .schedule = pin.dag->schedule,
	    .timezone = pin.dag->timezone,
	    .has_start_date = pin.dag->has_start_date,
	    .start_date = pin.dag->start_date,
	    .has_end_date = pin.dag->has_end_date,
	    .end_date = pin.dag->end_date,
	    .catchup = pin.dag->catchup,
	};
	rc = sl_schedule_load(&sched, &def, sl__int_at(due, row, 1), !PQgetisnull(due, row, 2),
	                      sl__int_at(due, row, 2), c->now_ms / 1000, err);
	if (rc)
		goto fail;
	budget = c->limit - c->created;
	if (active < pin.dag->max_active_runs &&
	    (size_t)(pin.dag->max_active_runs - active) < budget)
		budget = (size_t)(pin.dag->max_active_runs - active);
	else if (active >= pin.dag->max_active_runs)
		budget = 0;
	rc = plan_dag(dag_id, &sched, budget, &runs, &next_s, &never, err);
	if (rc)
		goto fail;
	if (runs.nr) {
		/* The scheduler's own runs: no person to audit. */
		rc = sl_runs_create(db, NULL, &pin, runs.items, runs.nr, SL_RUNS_SKIP_EXISTING,
		                    &created, err);
		if (rc)
			goto fail;
		c->created += created;
	}
	sl_pgarray_add(dag_ids, dag_id);
	if (never) {
		sl_pgarray_add(nexts, "infinity");
	} else {
		struct ts t;

		sl_pgarray_add(nexts, sl__ts_of(&t, next_s * 1000));
	}
fail:
	new_runs_release(&runs);
	sl_schedule_release(&sched);
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
	rc = sl_db_q(db, SL_Q_ENGINE_SCHEDULE_RUNS_DUE_DAGS, 2, params, &due, err);
	if (rc)
		goto fail;
	for (int i = 0; i < PQntuples(due) && c->created < c->limit; i++) {
		rc = schedule_one(db, c, due, i, &dag_ids, &nexts, err);
		if (rc)
			goto fail;
	}
	if (dag_ids.len) {
		const char *up[] = {sl_pgarray_end(&dag_ids), sl_pgarray_end(&nexts)};

		rc = sl_db_q(db, SL_Q_ENGINE_SCHEDULE_RUNS_SET_NEXT, 2, up, NULL, err);
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
