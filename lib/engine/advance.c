/*
 * Advance runs: decide the pending tasks of live runs by their trigger
 * rules, branches, depends_on_past and pools, make due retries and pokes
 * scheduled, roll each run's state up, and schedule the callbacks of runs
 * that finish.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/rules.h"
#include "sluice/banned.h"

/*
 * Live runs with something to decide: a pending task, a retry or poke that
 * is due, nothing left unfinished, or a queued run with work started. A
 * paused DAG's running runs go on to their end, as `dags pause` promises;
 * its queued runs (triggered while paused, or cleared) wait for unpause.
 */
static const char sql_live_runs[] =
    "SELECT r.run_pk, r.version_id, r.state FROM runs r JOIN dags d ON d.dag_id = r.dag_id"
    " WHERE r.state IN ('queued', 'running') AND (NOT d.paused OR r.state = 'running') AND ("
    "  EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk AND ti.kind = 'task'"
    "   AND (ti.state = 'pending' OR (ti.state IN ('up_for_retry', 'up_for_reschedule')"
    "   AND ti.next_retry_at <= $1::timestamptz)))"
    "  OR NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk"
    "   AND ti.kind = 'task' AND ti.state IN ('pending', 'scheduled', 'queued', 'running',"
    "   'up_for_retry', 'up_for_reschedule'))"
    "  OR EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk"
    "   AND ti.state = 'scheduled' AND ti.pool IS NOT NULL"
    "   AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.name = ti.pool))"
    "  OR (r.state = 'queued' AND EXISTS (SELECT 1 FROM task_instances ti"
    "   WHERE ti.run_pk = r.run_pk AND ti.kind = 'task' AND ti.state <> 'pending')))"
    " ORDER BY r.logical_date, r.run_pk LIMIT $2";

/*
 * The runs that the unlocked first pass would change, locked: a pass that
 * changes nothing (a run waiting on its running tasks) then writes nothing,
 * not even row locks, and its COMMIT flushes no WAL.
 */
static const char sql_lock_runs[] =
    "SELECT r.run_pk, r.version_id, r.state FROM runs r JOIN dags d ON d.dag_id = r.dag_id"
    " WHERE r.run_pk = ANY($1::bigint[]) AND r.state IN ('queued', 'running')"
    " AND (NOT d.paused OR r.state = 'running')"
    " ORDER BY r.logical_date, r.run_pk FOR UPDATE OF r SKIP LOCKED";

static const char sql_run_tis[] =
    "SELECT run_pk, ti_id, task_id, state,"
    " COALESCE(next_retry_at <= $2::timestamptz, false),"
    " pool IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.name = pool),"
    " CASE WHEN state = 'success' THEN (SELECT a.outputs->>'" SL_BRANCH_OUTPUT "'"
    "  FROM attempts a WHERE a.ti_id = task_instances.ti_id AND a.outcome = 'success'"
    "  ORDER BY a.try_number DESC LIMIT 1) END"
    " FROM task_instances WHERE run_pk = ANY($1::bigint[]) AND kind = 'task'"
    " ORDER BY run_pk, ti_id";

/* The state of the same task in the run before (by logical date). */
static const char sql_past[] =
    "SELECT u.run_pk, u.task_id, p.state"
    " FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, task_id)"
    " JOIN runs r ON r.run_pk = u.run_pk"
    " CROSS JOIN LATERAL (SELECT r2.run_pk FROM runs r2 WHERE r2.dag_id = r.dag_id"
    "  AND (r2.logical_date, r2.run_pk) < (r.logical_date, r.run_pk)"
    "  ORDER BY r2.logical_date DESC, r2.run_pk DESC LIMIT 1) AS prev"
    " JOIN task_instances p ON p.run_pk = prev.run_pk AND p.kind = 'task'"
    " AND p.task_id = u.task_id";

static const char sql_update_tis[] =
    "UPDATE task_instances ti SET state = u.state, next_retry_at = NULL,"
    " ended_at = CASE WHEN u.state IN ('skipped', 'upstream_failed', 'failed')"
    "  THEN GREATEST($4::timestamptz, ti.started_at) ELSE ti.ended_at END,"
    " reason = u.reason, updated_at = now()"
    " FROM unnest($1::bigint[], $2::text[], $3::text[], $5::text[])"
    " AS u(ti_id, state, old, reason)"
    " WHERE ti.ti_id = u.ti_id AND ti.state = u.old";

static const char sql_update_runs[] =
    "UPDATE runs r SET state = u.state, started_at = COALESCE(r.started_at, $3::timestamptz),"
    " ended_at = CASE WHEN u.state IN ('success', 'failed')"
    "  THEN GREATEST($3::timestamptz, r.started_at) END,"
    " updated_at = now()"
    " FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, state)"
    " WHERE r.run_pk = u.run_pk";

/*
 * The callbacks of runs that just finished. A run finishes again only after
 * a `tasks clear`, which has ended its callbacks: the row is reused, with
 * one more try, so its earlier attempts and logs stay.
 */
static const char sql_insert_callbacks[] =
    "INSERT INTO task_instances AS ti (run_pk, kind, task_id, state, max_tries, priority,"
    " pool, queue)"
    " SELECT u.run_pk, 'callback', u.task_id, 'scheduled', 1, 0, NULL, 'default'"
    " FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, task_id)"
    " ON CONFLICT (run_pk, kind, task_id) DO UPDATE SET state = 'scheduled',"
    " max_tries = ti.try_number + 1, next_retry_at = NULL, started_at = NULL,"
    " ended_at = NULL, reason = NULL, updated_at = now()"
    " WHERE ti.state NOT IN ('scheduled', 'queued', 'running')";

/* The task instances of one run, by task index of its definition. */
struct run_view {
	int64_t run_pk;
	const struct sl_dag *dag;
	int64_t *ti_id;             /* 0: no task instance */
	enum sl_task_state *state;  /* SL_TASK_REMOVED when none */
	bool *due;                  /* retry or poke due */
	bool *past_blocked;         /* depends_on_past not met */
	bool *pool_missing;         /* names a pool that does not exist */
	char **branch;              /* a successful branch task's choice, or NULL */
	enum sl_task_state *others; /* states of TIs not in the definition */
	size_t others_nr, others_alloc;
};

static void run_view_release(struct run_view *v)
{
	free(v->ti_id);
	free(v->state);
	free(v->due);
	free(v->past_blocked);
	free(v->pool_missing);
	for (size_t i = 0; v->branch && i < v->dag->tasks_nr; i++)
		free(v->branch[i]);
	free(v->branch);
	free(v->others);
}

static void run_view_init(struct run_view *v, int64_t run_pk, const struct sl_dag *dag)
{
	size_t n = dag->tasks_nr ? dag->tasks_nr : 1;

	memset(v, 0, sizeof(*v));
	v->run_pk = run_pk;
	v->dag = dag;
	v->ti_id = sl_xcalloc(n, sizeof(*v->ti_id));
	v->state = sl_xcalloc(n, sizeof(*v->state));
	v->due = sl_xcalloc(n, sizeof(*v->due));
	v->past_blocked = sl_xcalloc(n, sizeof(*v->past_blocked));
	v->pool_missing = sl_xcalloc(n, sizeof(*v->pool_missing));
	v->branch = sl_xcalloc(n, sizeof(*v->branch));
	for (size_t i = 0; i < dag->tasks_nr; i++)
		v->state[i] = SL_TASK_REMOVED;
}

static void change_ti(struct sl_strbuf *ids, struct sl_strbuf *states, struct sl_strbuf *olds,
                      struct sl_strbuf *reasons, int64_t ti_id, enum sl_task_state from,
                      enum sl_task_state to, const char *why)
{
	sl__arr_add_int(ids, ti_id);
	sl__arr_add(states, sl_task_state_name(to));
	sl__arr_add(olds, sl_task_state_name(from));
	sl__arr_add(reasons, why);
}

/*
 * A task ready to run whose pool does not exist fails at once, with the
 * fix in its reason: waiting could last forever without anyone noticing,
 * and failing makes the run fail where an operator looks.
 */
static char *pool_missing_reason(const struct run_view *v, size_t i)
{
	const char *pool = v->dag->tasks[i].pool ? v->dag->tasks[i].pool : "";

	return sl_xasprintf("pool '%s' does not exist (create it with: sluice pools set %s SLOTS)",
	                    pool, pool);
}

/* The direct upstream branch task that did not choose task `i`, or -1. */
static long branch_skipper(const struct run_view *v, size_t i)
{
	const struct sl_task *t = &v->dag->tasks[i];

	for (size_t u = 0; u < t->upstream_nr; u++) {
		size_t up = t->upstream[u];

		if (v->state[up] == SL_TASK_SUCCESS && v->branch[up] &&
		    !sl_branch_takes(v->branch[up], t->id))
			return (long)up;
	}
	return -1;
}

/* Decide the pending tasks of one run, in topological order. */
static void advance_run(struct run_view *v, struct sl_strbuf *ids, struct sl_strbuf *states,
                        struct sl_strbuf *olds, struct sl_strbuf *reasons, size_t *nr)
{
	const struct sl_dag *dag = v->dag;

	for (size_t k = 0; k < dag->tasks_nr; k++) {
		size_t i = dag->topo[k];
		const struct sl_task *t = &dag->tasks[i];
		struct sl_upstream_counts c = SL_UPSTREAM_COUNTS_INIT;
		enum sl_task_state to;
		char *why = NULL;
		long skipper;

		if (!v->ti_id[i])
			continue;
		if (v->state[i] == SL_TASK_UP_FOR_RETRY ||
		    v->state[i] == SL_TASK_UP_FOR_RESCHEDULE) {
			if (!v->due[i])
				continue;
			to = SL_TASK_SCHEDULED;
		} else if (v->state[i] == SL_TASK_SCHEDULED) {
			/* Its pool was deleted after it became ready. */
			if (!v->pool_missing[i])
				continue;
			to = SL_TASK_SCHEDULED;
		} else if (v->state[i] != SL_TASK_PENDING) {
			continue;
		} else if ((skipper = branch_skipper(v, i)) >= 0) {
			to = SL_TASK_SKIPPED;
			why = sl_xasprintf("branch not taken by %s", dag->tasks[skipper].id);
		} else {
			for (size_t u = 0; u < t->upstream_nr; u++)
				sl_upstream_counts_add(&c, v->state[t->upstream[u]]);
			switch (sl_trigger_evaluate(t->trigger_rule, &c)) {
			case SL_VERDICT_WAIT:
				continue;
			case SL_VERDICT_READY:
				if (v->past_blocked[i])
					continue;
				to = SL_TASK_SCHEDULED;
				break;
			case SL_VERDICT_SKIP:
				to = SL_TASK_SKIPPED;
				break;
			default:
				to = SL_TASK_UPSTREAM_FAILED;
				break;
			}
		}
		if (to == SL_TASK_SCHEDULED && v->pool_missing[i]) {
			to = SL_TASK_FAILED;
			why = pool_missing_reason(v, i);
		}
		change_ti(ids, states, olds, reasons, v->ti_id[i], v->state[i], to, why);
		free(why);
		v->state[i] = to;
		(*nr)++;
	}
}

/* The run's state after the decisions; SL_RUN_QUEUED/RUNNING as it is. */
static enum sl_run_state roll_up(const struct run_view *v, enum sl_run_state cur)
{
	enum sl_task_state *all;
	size_t n = 0;
	bool started = false;
	enum sl_run_state st;

	all = sl_xcalloc(v->dag->tasks_nr + v->others_nr + 1, sizeof(*all));
	for (size_t i = 0; i < v->dag->tasks_nr; i++) {
		if (!v->ti_id[i])
			continue;
		all[n++] = v->state[i];
	}
	for (size_t i = 0; i < v->others_nr; i++)
		all[n++] = v->others[i];
	for (size_t i = 0; i < n; i++)
		if (all[i] != SL_TASK_PENDING)
			started = true;
	st = sl_rules_run_state(all, n);
	free(all);
	if (st == SL_RUN_RUNNING && cur == SL_RUN_QUEUED && !started)
		return SL_RUN_QUEUED;
	return st;
}

/* Mark depends_on_past tasks whose previous run's task is not done well. */
static int load_past(struct sl_db *db, struct run_view *views, size_t nviews, struct sl_strbuf *err)
{
	struct sl_strbuf pks = SL_STRBUF_INIT, tasks = SL_STRBUF_INIT;
	PGresult *r = NULL;
	int rc = 0;

	for (size_t v = 0; v < nviews; v++) {
		for (size_t i = 0; i < views[v].dag->tasks_nr; i++) {
			if (!views[v].dag->tasks[i].depends_on_past ||
			    views[v].state[i] != SL_TASK_PENDING || !views[v].ti_id[i])
				continue;
			sl__arr_add_int(&pks, views[v].run_pk);
			sl__arr_add(&tasks, views[v].dag->tasks[i].id);
		}
	}
	if (!pks.len)
		goto fail;
	{
		const char *params[] = {sl__arr_end(&pks), sl__arr_end(&tasks)};

		rc = sl_db_exec(db, sql_past, 2, params, &r, err);
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
			t = sl_dag_task_index(views[v].dag, PQgetvalue(r, row, 1));
			if (t >= 0)
				views[v].past_blocked[t] = true;
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
		sl__arr_add_int(&pks, views[i].run_pk);
	}
	{
		const char *params[] = {sl__arr_end(&pks), sl__ts_of(&now, c->now_ms)};

		rc = sl_db_exec(db, sql_run_tis, 2, params, &r, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t pk = sl__int_at(r, row, 0);
		enum sl_task_state st;
		size_t v = 0;
		long t;

		while (v < *nviews && views[v].run_pk != pk)
			v++;
		if (v == *nviews)
			continue;
		if (sl_task_state_parse(PQgetvalue(r, row, 3), &st) < 0)
			st = SL_TASK_FAILED;
		t = sl_dag_task_index(views[v].dag, PQgetvalue(r, row, 2));
		if (t < 0) {
			SL_ALLOC_GROW(views[v].others, views[v].others_nr + 1,
			              views[v].others_alloc);
			views[v].others[views[v].others_nr++] = st;
			continue;
		}
		views[v].ti_id[t] = sl__int_at(r, row, 1);
		views[v].state[t] = st;
		views[v].due[t] = sl__bool_at(r, row, 4);
		views[v].pool_missing[t] = sl__bool_at(r, row, 5);
		if (!PQgetisnull(r, row, 6))
			views[v].branch[t] = sl_xstrdup(PQgetvalue(r, row, 6));
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

	if (st == SL_RUN_SUCCESS && v->dag->on_success)
		id = "on_success";
	else if (st == SL_RUN_FAILED && v->dag->on_failure)
		id = "on_failure";
	if (!id)
		return;
	sl__arr_add_int(pks, v->run_pk);
	sl__arr_add(ids, id);
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
		next = roll_up(&views[v], cur);
		if (next != cur) {
			sl__arr_add_int(&d->run_pks, views[v].run_pk);
			sl__arr_add(&d->run_states, sl_run_state_name(next));
			d->run_changes++;
			add_callback(&views[v], next, &d->cb_pks, &d->cb_ids);
		}
		if (next != cur || d->ti_changes != before)
			sl__arr_add_int(&d->changed, views[v].run_pk);
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
	rc = sl_db_exec(db, sql_lock_runs, 1, params, &runs, err);
	if (rc || !PQntuples(runs))
		goto fail;
	rc = decide(db, c, runs, defs, &d, err);
	if (rc)
		goto fail;
	if (d.ti_changes) {
		const char *up[] = {sl__arr_end(&d.ids), sl__arr_end(&d.states),
		                    sl__arr_end(&d.olds), now.buf, sl__arr_end(&d.reasons)};

		rc = sl_db_exec(db, sql_update_tis, 5, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.run_changes) {
		const char *up[] = {sl__arr_end(&d.run_pks), sl__arr_end(&d.run_states), now.buf};

		PQclear(r);
		r = NULL;
		rc = sl_db_exec(db, sql_update_runs, 3, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.cb_pks.len) {
		const char *up[] = {sl__arr_end(&d.cb_pks), sl__arr_end(&d.cb_ids)};

		PQclear(r);
		r = NULL;
		rc = sl_db_exec(db, sql_insert_callbacks, 2, up, &r, err);
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
	rc = sl_db_exec(db, sql_live_runs, 2, params, &runs, err);
	if (rc || !PQntuples(runs))
		goto fail;
	rc = decide(db, c, runs, &defs, &d, err);
	/* Decided again under the lock: what this pass read may have changed since. */
	if (!rc && d.changed.len)
		rc = sl__advance_locked(db, c, sl__arr_end(&d.changed), &defs, err);
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
