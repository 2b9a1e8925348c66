/*
 * Advance runs: load live runs into run plans (what is decided, and how, is
 * in lib/core/runplan.c, shared with `sluice test`), write the plans'
 * changes and run states back, and schedule the callbacks of runs that
 * finish.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/rules.h"
#include "sluice/runplan.h"
#include "sluice/banned.h"

/*
 * One run as the run plan sees it, with the task instance of each task of
 * its definition (to write the plan's changes back). A task with no task
 * instance (the run was created from another version) is absent from the
 * plan, and counts as removed for the tasks downstream of it.
 */
struct run_view {
	int64_t run_pk;
	int64_t *ti_id; /* by task index; 0: no task instance */
	struct sl_runplan plan;
};

static void run_view_release(struct run_view *v)
{
	free(v->ti_id);
	sl_runplan_release(&v->plan);
}

static void run_view_init(struct run_view *v, int64_t run_pk, const struct sl_dag *dag)
{
	v->run_pk = run_pk;
	v->ti_id = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*v->ti_id));
	sl_runplan_init(&v->plan, dag, SL_RUNPLAN_ABSENT_REMOVED);
}

/* Decide one run and add its changes to the arrays of the update. */
static void advance_run(struct run_view *v, struct sl_strbuf *ids, struct sl_strbuf *states,
                        struct sl_strbuf *olds, struct sl_strbuf *reasons, size_t *nr)
{
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;

	sl_runplan_advance(&v->plan, &ch);
	for (size_t i = 0; i < ch.nr; i++) {
		const struct sl_runplan_change *c = &ch.items[i];

		sl_pgarray_add_int(ids, v->ti_id[c->task]);
		sl_pgarray_add(states, sl_task_state_name(c->to));
		sl_pgarray_add(olds, sl_task_state_name(c->from));
		sl_pgarray_add(reasons, c->reason);
	}
	*nr += ch.nr;
	sl_runplan_changes_release(&ch);
}

/* Mark depends_on_past tasks whose previous run's task is not done well. */
static int load_past(struct sl_db *db, struct run_view *views, size_t nviews, struct sl_strbuf *err)
{
	struct sl_strbuf pks = SL_STRBUF_INIT, tasks = SL_STRBUF_INIT;
	PGresult *r = NULL;
	int rc = 0;

	for (size_t v = 0; v < nviews; v++) {
		const struct sl_runplan *plan = &views[v].plan;

		for (size_t i = 0; i < plan->dag->tasks_nr; i++) {
			if (!plan->dag->tasks[i].depends_on_past || !plan->tasks[i].present ||
			    plan->tasks[i].state != SL_TASK_PENDING)
				continue;
			sl_pgarray_add_int(&pks, views[v].run_pk);
			sl_pgarray_add(&tasks, plan->dag->tasks[i].id);
		}
	}
	if (!pks.len)
		goto fail;
	{
		const char *params[] = {sl_pgarray_end(&pks), sl_pgarray_end(&tasks)};

		rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_PAST, 2, params, &r, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t pk = sl__int_at(r, row, 0);
		const char *st = PQgetvalue(r, row, 2);

		if (!strcmp(st, "success") || !strcmp(st, "skipped"))
			continue;
		for (size_t v = 0; v < nviews; v++) {
			long t;

			if (views[v].run_pk != pk)
				continue;
			t = sl_dag_task_index(views[v].plan.dag, PQgetvalue(r, row, 1));
			if (t >= 0)
				views[v].plan.tasks[t].past_blocked = true;
		}
	}
fail:
	PQclear(r);
	sl_strbuf_release(&pks);
	sl_strbuf_release(&tasks);
	return rc;
}

static int load_views(struct sl_db *db, struct advance_ctx *c, PGresult *runs,
                      struct defcache *defs, struct run_view *views, size_t *nviews,
                      struct sl_strbuf *err)
{
	struct sl_strbuf pks = SL_STRBUF_INIT;
	struct ts now;
	PGresult *r = NULL;
	int rc = 0;

	for (int i = 0; i < PQntuples(runs); i++) {
		const struct sl_dag *dag;

		rc = sl__defcache_get(c->e, defs, sl__int_at(runs, i, 1), &dag, err);
		if (rc)
			goto fail;
		run_view_init(&views[i], sl__int_at(runs, i, 0), dag);
		*nviews = (size_t)i + 1;
		sl_pgarray_add_int(&pks, views[i].run_pk);
	}
	{
		const char *params[] = {sl_pgarray_end(&pks), sl__ts_of(&now, c->now_ms),
		                        SL_BRANCH_OUTPUT};

		rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_RUN_TIS, 3, params, &r, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t pk = sl__int_at(r, row, 0);
		struct sl_runplan *plan;
		enum sl_task_state st;
		size_t v = 0;
		long t;

		while (v < *nviews && views[v].run_pk != pk)
			v++;
		if (v == *nviews)
			continue;
		if (sl_task_state_parse(PQgetvalue(r, row, 3), &st) < 0)
			st = SL_TASK_FAILED;
		plan = &views[v].plan;
		t = sl_dag_task_index(plan->dag, PQgetvalue(r, row, 2));
		if (t < 0) {
			sl_runplan_add_other(plan, st);
			continue;
		}
		views[v].ti_id[t] = sl__int_at(r, row, 1);
		plan->tasks[t].present = true;
		plan->tasks[t].state = st;
		plan->tasks[t].due = sl__bool_at(r, row, 4);
		plan->tasks[t].pool_missing = sl__bool_at(r, row, 5);
		if (!PQgetisnull(r, row, 6))
			sl_runplan_set_branch(plan, (size_t)t, PQgetvalue(r, row, 6));
	}
	rc = load_past(db, views, *nviews, err);
fail:
	PQclear(r);
	sl_strbuf_release(&pks);
	return rc;
}

/*
 * A run that finished with a callback for its state gets it now, in the
 * transaction that finishes it, so a crash can neither lose nor repeat it.
 * A cancelled run runs none: someone stopped it on purpose.
 */
static void add_callback(const struct run_view *v, enum sl_run_state st, struct sl_strbuf *pks,
                         struct sl_strbuf *ids)
{
	const char *id = NULL;

	if (st == SL_RUN_SUCCESS && v->plan.dag->on_success)
		id = "on_success";
	else if (st == SL_RUN_FAILED && v->plan.dag->on_failure)
		id = "on_failure";
	if (!id)
		return;
	sl_pgarray_add_int(pks, v->run_pk);
	sl_pgarray_add(ids, id);
}

/* What one pass decided, as the arrays of the updates. */
struct decisions {
	struct sl_strbuf ids, states, olds, reasons;
	struct sl_strbuf run_pks, run_states, cb_pks, cb_ids;
	struct sl_strbuf changed; /* the runs with any change */
	size_t ti_changes, run_changes;
};

static void decisions_init(struct decisions *d)
{
	sl_strbuf_init(&d->ids);
	sl_strbuf_init(&d->states);
	sl_strbuf_init(&d->olds);
	sl_strbuf_init(&d->reasons);
	sl_strbuf_init(&d->run_pks);
	sl_strbuf_init(&d->run_states);
	sl_strbuf_init(&d->cb_pks);
	sl_strbuf_init(&d->cb_ids);
	sl_strbuf_init(&d->changed);
	d->ti_changes = d->run_changes = 0;
}

static void decisions_release(struct decisions *d)
{
	sl_strbuf_release(&d->ids);
	sl_strbuf_release(&d->states);
	sl_strbuf_release(&d->olds);
	sl_strbuf_release(&d->reasons);
	sl_strbuf_release(&d->run_pks);
	sl_strbuf_release(&d->run_states);
	sl_strbuf_release(&d->cb_pks);
	sl_strbuf_release(&d->cb_ids);
	sl_strbuf_release(&d->changed);
}

static int decide(struct sl_db *db, struct advance_ctx *c, PGresult *runs, struct defcache *defs,
                  struct decisions *d, struct sl_strbuf *err)
{
	struct run_view *views = sl_xcalloc((size_t)PQntuples(runs) + 1, sizeof(*views));
	size_t nviews = 0;
	int rc = load_views(db, c, runs, defs, views, &nviews, err);

	for (size_t v = 0; !rc && v < nviews; v++) {
		enum sl_run_state cur =
		    !strcmp(PQgetvalue(runs, (int)v, 2), "queued") ? SL_RUN_QUEUED : SL_RUN_RUNNING;
		enum sl_run_state next;
		size_t before = d->ti_changes;

		advance_run(&views[v], &d->ids, &d->states, &d->olds, &d->reasons, &d->ti_changes);
		next = sl_runplan_run_state(&views[v].plan, cur);
		if (next != cur) {
			sl_pgarray_add_int(&d->run_pks, views[v].run_pk);
			sl_pgarray_add(&d->run_states, sl_run_state_name(next));
			d->run_changes++;
			add_callback(&views[v], next, &d->cb_pks, &d->cb_ids);
		}
		if (next != cur || d->ti_changes != before)
			sl_pgarray_add_int(&d->changed, views[v].run_pk);
	}
	for (size_t v = 0; v < nviews; v++)
		run_view_release(&views[v]);
	free(views);
	return rc;
}

/* The runs `pks` (a bigint[] literal), locked, decided again, written. */
int sl__advance_locked(struct sl_db *db, struct advance_ctx *c, const char *pks,
                       struct defcache *defs, struct sl_strbuf *err)
{
	struct decisions d;
	struct ts now;
	const char *params[] = {pks};
	PGresult *runs = NULL, *r = NULL;
	int rc;

	decisions_init(&d);
	sl__ts_of(&now, c->now_ms);
	rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_LOCK_RUNS, 1, params, &runs, err);
	if (rc || !PQntuples(runs))
		goto fail;
	rc = decide(db, c, runs, defs, &d, err);
	if (rc)
		goto fail;
	if (d.ti_changes) {
		const char *up[] = {sl_pgarray_end(&d.ids), sl_pgarray_end(&d.states),
		                    sl_pgarray_end(&d.olds), now.buf, sl_pgarray_end(&d.reasons)};

		rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_UPDATE_TIS, 5, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.run_changes) {
		const char *up[] = {sl_pgarray_end(&d.run_pks), sl_pgarray_end(&d.run_states),
		                    now.buf};

		PQclear(r);
		r = NULL;
		rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_UPDATE_RUNS, 3, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.cb_pks.len) {
		const char *up[] = {sl_pgarray_end(&d.cb_pks), sl_pgarray_end(&d.cb_ids)};

		PQclear(r);
		r = NULL;
		rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_INSERT_CALLBACKS, 2, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
fail:
	PQclear(runs);
	PQclear(r);
	decisions_release(&d);
	return rc;
}

static int advance_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct advance_ctx *c = ctx;
	struct decisions d;
	struct defcache defs = DEFCACHE_INIT;
	struct ts now;
	struct num lim;
	const char *params[] = {sl__ts_of(&now, c->now_ms), sl__num_of(&lim, (int64_t)c->limit)};
	PGresult *runs = NULL;
	int rc;

	decisions_init(&d);
	c->changes = 0;
	rc = sl_db_q(db, SL_Q_ENGINE_ADVANCE_LIVE_RUNS, 2, params, &runs, err);
	if (rc || !PQntuples(runs))
		goto fail;
	rc = decide(db, c, runs, &defs, &d, err);
	/* Decided again under the lock: what this pass read may have changed since. */
	if (!rc && d.changed.len)
		rc = sl__advance_locked(db, c, sl_pgarray_end(&d.changed), &defs, err);
fail:
	sl__defcache_release(&defs);
	PQclear(runs);
	decisions_release(&d);
	return rc;
}

int sl_engine_advance(struct sl_engine *e, int64_t now_ms, size_t limit, size_t *changes,
                      struct sl_strbuf *err)
{
	struct advance_ctx c = {e, now_ms, limit, 0};
	int rc = 0;

	if (limit)
		rc = sl_db_transaction(e->db, 0, advance_tx, &c, err);
	if (changes)
		*changes = rc ? 0 : c.changes;
	return rc;
}
