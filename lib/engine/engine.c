/*
 * The scheduler's database core: create scheduled runs, advance runs,
 * claim task instances, record what workers report. Each entry point is one
 * transaction; see include/sluice/engine.h and docs/engine.md.
 */
#include "sluice/engine.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/dag_json.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/rules.h"
#include "sluice/runstore.h"
#include "sluice/schedule.h"
#include "sluice/tz.h"
#include "sluice/banned.h"

/* ---- helpers ------------------------------------------------------------ */

/* A PostgreSQL array literal built element by element (see runstore.c). */
static void arr_add(struct sl_strbuf *a, const char *s)
{
	sl_strbuf_addch(a, a->len ? ',' : '{');
	if (!s) {
		sl_strbuf_adds(a, "NULL");
		return;
	}
	sl_strbuf_addch(a, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sl_strbuf_addch(a, '\\');
		sl_strbuf_addch(a, *s);
	}
	sl_strbuf_addch(a, '"');
}

static void arr_add_int(struct sl_strbuf *a, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	arr_add(a, num);
}

static const char *arr_end(struct sl_strbuf *a)
{
	if (!a->len)
		sl_strbuf_addch(a, '{');
	sl_strbuf_addch(a, '}');
	return a->buf;
}

static int64_t int_at(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool bool_at(PGresult *r, int row, int col)
{
	return !strcmp(PQgetvalue(r, row, col), "t");
}

/* A timestamptz parameter for `ms` milliseconds since the epoch. */
struct ts {
	char buf[48];
};

static const char *ts_of(struct ts *t, int64_t ms)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_run_time_format(&sb, ms * 1000);
	snprintf(t->buf, sizeof(t->buf), "%s", sb.buf);
	sl_strbuf_release(&sb);
	return t->buf;
}

struct num {
	char buf[24];
};

static const char *num_of(struct num *n, int64_t v)
{
	snprintf(n->buf, sizeof(n->buf), "%lld", (long long)v);
	return n->buf;
}

/* ---- definitions, cached by version ------------------------------------ */

/*
 * A version's definition never changes once stored, so its parsed DAG is
 * kept with the connection (sl_db_cache) across calls: a chain step would
 * otherwise fetch and parse it in every call. At most DEFSTORE_MAX
 * versions are kept, least recently used out first, except those a call
 * still holds.
 */
enum { DEFSTORE_MAX = 64 };

struct defentry {
	int64_t version_id;
	struct sl_dag *dag;
	unsigned holds;
	uint64_t used;
};

struct defstore {
	struct defentry **items;
	size_t nr, alloc;
	uint64_t clock;
};

static void defstore_free(void *p)
{
	struct defstore *st = p;

	for (size_t i = 0; i < st->nr; i++) {
		sl_dag_free(st->items[i]->dag);
		free(st->items[i]);
	}
	free(st->items);
	free(st);
}

static void defstore_evict(struct defstore *st)
{
	size_t victim = st->nr;

	for (size_t i = 0; i < st->nr; i++)
		if (!st->items[i]->holds &&
		    (victim == st->nr || st->items[i]->used < st->items[victim]->used))
			victim = i;
	if (victim == st->nr)
		return;
	sl_dag_free(st->items[victim]->dag);
	free(st->items[victim]);
	st->items[victim] = st->items[--st->nr];
}

/* The entries one call holds: they stay until defcache_release. */
struct defcache {
	struct defentry **items;
	size_t nr, alloc;
};

static void defcache_release(struct defcache *c)
{
	for (size_t i = 0; i < c->nr; i++)
		c->items[i]->holds--;
	free(c->items);
	memset(c, 0, sizeof(*c));
}

static int defload(struct sl_db *db, int64_t version_id, struct sl_dag **out, struct sl_strbuf *err)
{
	struct sl_strbuf why = SL_STRBUF_INIT;
	struct num vid;
	const char *params[] = {num_of(&vid, version_id)};
	PGresult *r = NULL;
	json_error_t jerr;
	json_t *def = NULL;
	int rc;

	rc = sl_db_exec(db, "SELECT definition FROM dag_versions WHERE version_id = $1", 1, params,
	                &r, err);
	if (rc)
		goto fail;
	if (PQntuples(r) != 1) {
		sl_strbuf_addf(err, "DAG version %lld does not exist", (long long)version_id);
		rc = SL_ERR;
		goto fail;
	}
	def = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
	if (!def)
		sl_strbuf_adds(&why, jerr.text);
	if (!def || sl_dag_from_json(out, def, &why) < 0) {
		sl_strbuf_addf(err, "the stored definition of DAG version %lld is unreadable: %s",
		               (long long)version_id, why.buf);
		rc = SL_ERR;
		goto fail;
	}
fail:
	json_decref(def);
	sl_strbuf_release(&why);
	PQclear(r);
	return rc;
}

static int defcache_get(struct sl_db *db, struct defcache *c, int64_t version_id,
                        const struct sl_dag **out, struct sl_strbuf *err)
{
	struct defstore *st = sl_db_cache(db);
	struct defentry *e = NULL;
	struct sl_dag *dag = NULL;
	int rc;

	if (!st) {
		st = sl_xcalloc(1, sizeof(*st));
		sl_db_set_cache(db, st, defstore_free);
	}
	for (size_t i = 0; i < st->nr && !e; i++)
		if (st->items[i]->version_id == version_id)
			e = st->items[i];
	if (!e) {
		rc = defload(db, version_id, &dag, err);
		if (rc)
			return rc;
		if (st->nr >= DEFSTORE_MAX)
			defstore_evict(st);
		e = sl_xcalloc(1, sizeof(*e));
		e->version_id = version_id;
		e->dag = dag;
		SL_ALLOC_GROW(st->items, st->nr + 1, st->alloc);
		st->items[st->nr++] = e;
	}
	e->used = ++st->clock;
	*out = e->dag;
	for (size_t i = 0; i < c->nr; i++)
		if (c->items[i] == e)
			return 0;
	e->holds++;
	SL_ALLOC_GROW(c->items, c->nr + 1, c->alloc);
	c->items[c->nr++] = e;
	return 0;
}

/* ---- scheduled runs ----------------------------------------------------- */

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
	int64_t active = int_at(due, row, 3), next_s = 0;
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
	st.start_date = pin.dag->has_start_date ? pin.dag->start_date : int_at(due, row, 1);
	st.has_end_date = pin.dag->has_end_date;
	st.end_date = pin.dag->end_date;
	st.catchup = pin.dag->catchup;
	st.has_last = !PQgetisnull(due, row, 2);
	st.last_end = st.has_last ? int_at(due, row, 2) : 0;
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
	arr_add(dag_ids, dag_id);
	if (never) {
		arr_add(nexts, "infinity");
	} else {
		struct ts t;

		arr_add(nexts, ts_of(&t, next_s * 1000));
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
	const char *params[] = {ts_of(&now, c->now_ms), num_of(&lim, (int64_t)c->limit)};
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
		const char *up[] = {arr_end(&dag_ids), arr_end(&nexts)};

		rc = sl_db_exec(db, sql_set_next, 2, up, NULL, err);
	}
fail:
	PQclear(due);
	sl_strbuf_release(&dag_ids);
	sl_strbuf_release(&nexts);
	return rc;
}

int sl_engine_create_scheduled_runs(struct sl_db *db, int64_t now_ms, size_t limit, size_t *created,
                                    struct sl_strbuf *err)
{
	struct sched_ctx c = {now_ms, limit, 0};
	int rc = 0;

	if (limit)
		rc = sl_db_transaction(db, 0, schedule_tx, &c, err);
	if (created)
		*created = rc ? 0 : c.created;
	return rc;
}

/* ---- advance ------------------------------------------------------------ */

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

struct advance_ctx {
	int64_t now_ms;
	size_t limit;
	size_t changes;
};

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
	arr_add_int(ids, ti_id);
	arr_add(states, sl_task_state_name(to));
	arr_add(olds, sl_task_state_name(from));
	arr_add(reasons, why);
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
			arr_add_int(&pks, views[v].run_pk);
			arr_add(&tasks, views[v].dag->tasks[i].id);
		}
	}
	if (!pks.len)
		goto fail;
	{
		const char *params[] = {arr_end(&pks), arr_end(&tasks)};

		rc = sl_db_exec(db, sql_past, 2, params, &r, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t pk = int_at(r, row, 0);
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

		rc = defcache_get(db, defs, int_at(runs, i, 1), &dag, err);
		if (rc)
			goto fail;
		run_view_init(&views[i], int_at(runs, i, 0), dag);
		*nviews = (size_t)i + 1;
		arr_add_int(&pks, views[i].run_pk);
	}
	{
		const char *params[] = {arr_end(&pks), ts_of(&now, c->now_ms)};

		rc = sl_db_exec(db, sql_run_tis, 2, params, &r, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t pk = int_at(r, row, 0);
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
		views[v].ti_id[t] = int_at(r, row, 1);
		views[v].state[t] = st;
		views[v].due[t] = bool_at(r, row, 4);
		views[v].pool_missing[t] = bool_at(r, row, 5);
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
	arr_add_int(pks, v->run_pk);
	arr_add(ids, id);
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
			arr_add_int(&d->run_pks, views[v].run_pk);
			arr_add(&d->run_states, sl_run_state_name(next));
			d->run_changes++;
			add_callback(&views[v], next, &d->cb_pks, &d->cb_ids);
		}
		if (next != cur || d->ti_changes != before)
			arr_add_int(&d->changed, views[v].run_pk);
	}
	for (size_t v = 0; v < nviews; v++)
		run_view_release(&views[v]);
	free(views);
	return rc;
}

/* Lock the runs `pks` (a bigint[] literal), decide them again, write. */
static int advance_locked(struct sl_db *db, struct advance_ctx *c, const char *pks,
                          struct defcache *defs, struct sl_strbuf *err)
{
	struct decisions d;
	struct ts now;
	const char *params[] = {pks};
	PGresult *runs = NULL, *r = NULL;
	int rc;

	decisions_init(&d);
	ts_of(&now, c->now_ms);
	rc = sl_db_exec(db, sql_lock_runs, 1, params, &runs, err);
	if (rc || !PQntuples(runs))
		goto fail;
	rc = decide(db, c, runs, defs, &d, err);
	if (rc)
		goto fail;
	if (d.ti_changes) {
		const char *up[] = {arr_end(&d.ids), arr_end(&d.states), arr_end(&d.olds), now.buf,
		                    arr_end(&d.reasons)};

		rc = sl_db_exec(db, sql_update_tis, 5, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.run_changes) {
		const char *up[] = {arr_end(&d.run_pks), arr_end(&d.run_states), now.buf};

		PQclear(r);
		r = NULL;
		rc = sl_db_exec(db, sql_update_runs, 3, up, &r, err);
		if (rc)
			goto fail;
		c->changes += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	}
	if (d.cb_pks.len) {
		const char *up[] = {arr_end(&d.cb_pks), arr_end(&d.cb_ids)};

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
	struct defcache defs = {NULL, 0, 0};
	struct ts now;
	struct num lim;
	const char *params[] = {ts_of(&now, c->now_ms), num_of(&lim, (int64_t)c->limit)};
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
		rc = advance_locked(db, c, arr_end(&d.changed), &defs, err);
fail:
	defcache_release(&defs);
	PQclear(runs);
	decisions_release(&d);
	return rc;
}

int sl_engine_advance(struct sl_db *db, int64_t now_ms, size_t limit, size_t *changes,
                      struct sl_strbuf *err)
{
	struct advance_ctx c = {now_ms, limit, 0};
	int rc = 0;

	if (limit)
		rc = sl_db_transaction(db, 0, advance_tx, &c, err);
	if (changes)
		*changes = rc ? 0 : c.changes;
	return rc;
}

/* ---- claim -------------------------------------------------------------- */

static const char sql_busy[] =
    "SELECT count(*) FROM task_instances WHERE state IN ('queued', 'running')";

/*
 * Candidates in claim order, locked (SKIP LOCKED: rows another transaction
 * holds are not waited for), with the counts the limits need: the run's
 * task instances in flight and the free slots of the task's pool (NULL:
 * the pool does not exist). Tasks whose pool is full or missing, or whose
 * run is at max_active_tasks, are left out here, so that they cannot fill
 * the window and hold back runnable tasks behind them; the counts then
 * account for the tasks picked within this batch. The counts and the
 * run's max_active_tasks (in its large definition) are computed once per
 * run and pool, not once per candidate: per candidate, a run of n
 * scheduled tasks costs n squared.
 */
static const char sql_candidates[] =
    "WITH rl AS MATERIALIZED (SELECT r.run_pk,"
    "  (v.definition->>'max_active_tasks')::int AS max_active,"
    "  (SELECT count(*) FROM task_instances x WHERE x.run_pk = r.run_pk"
    "   AND x.state IN ('queued', 'running')) AS busy"
    " FROM runs r JOIN dag_versions v ON v.version_id = r.version_id"
    " WHERE r.run_pk IN (SELECT c.run_pk FROM task_instances c"
    "  WHERE c.state = 'scheduled' AND c.queue = ANY($1::text[]))),"
    " pl AS MATERIALIZED (SELECT p.name, p.slots - (SELECT count(*) FROM task_instances y"
    "  WHERE y.pool = p.name AND y.state IN ('queued', 'running')) AS free FROM pools p"
    " WHERE p.name IN (SELECT c.pool FROM task_instances c"
    "  WHERE c.state = 'scheduled' AND c.queue = ANY($1::text[])))"
    " SELECT ti.ti_id, ti.run_pk, ti.task_id, ti.pool, r.version_id, r.dag_id, r.run_id,"
    " r.commit, floor(extract(epoch FROM r.logical_date))::bigint,"
    " floor(extract(epoch FROM r.data_interval_start))::bigint,"
    " floor(extract(epoch FROM r.data_interval_end))::bigint, r.conf::text,"
    " rl.busy, pl.free, ti.kind = 'callback', r.state"
    " FROM task_instances ti JOIN rl ON rl.run_pk = ti.run_pk"
    " JOIN runs r ON r.run_pk = ti.run_pk JOIN dags d ON d.dag_id = r.dag_id"
    " LEFT JOIN pl ON pl.name = ti.pool"
    " WHERE ti.state = 'scheduled' AND ti.queue = ANY($1::text[])"
    " AND ((ti.kind = 'task' AND r.state IN ('queued', 'running')"
    "  AND (NOT d.paused OR r.state = 'running'))"
    "  OR (ti.kind = 'callback' AND r.state IN ('success', 'failed')))"
    " AND (ti.pool IS NULL OR pl.free > 0) AND rl.busy < rl.max_active"
    " AND NOT EXISTS (SELECT 1 FROM attempts s WHERE s.ti_id = ti.ti_id AND s.stop_pending)"
    " ORDER BY ti.priority DESC, r.logical_date, ti.ti_id LIMIT $2"
    " FOR UPDATE OF ti SKIP LOCKED";

enum {
	C_TI,
	C_RUN,
	C_TASK,
	C_POOL,
	C_VERSION,
	C_DAG,
	C_RUN_ID,
	C_COMMIT,
	C_LOGICAL,
	C_START,
	C_END,
	C_CONF,
	C_RUN_BUSY,
	C_POOL_FREE,
	C_CALLBACK,
	C_RUN_STATE,
};

/* $4: started as well (sl_engine_claim_started), as sql_started would. */
static const char sql_insert_attempts[] =
    "WITH u AS (UPDATE task_instances ti"
    "  SET state = CASE WHEN $4::boolean THEN 'running' ELSE 'queued' END,"
    "  try_number = ti.try_number + 1, next_retry_at = NULL,"
    "  started_at = CASE WHEN $4::boolean THEN $3::timestamptz ELSE ti.started_at END,"
    "  ended_at = CASE WHEN $4::boolean THEN NULL ELSE ti.ended_at END, updated_at = now()"
    " WHERE ti.ti_id = ANY($1::bigint[]) AND ti.state = 'scheduled'"
    " RETURNING ti.ti_id, ti.try_number)"
    " INSERT INTO attempts (ti_id, try_number, worker_id, queued_at, started_at)"
    " SELECT ti_id, try_number, $2, $3::timestamptz,"
    " CASE WHEN $4::boolean THEN $3::timestamptz END FROM u"
    " RETURNING attempt_id, ti_id, try_number, fencing_token";

/* Outputs of the latest successful attempt of each successful task. */
static const char sql_outputs[] =
    "SELECT ti.run_pk, ti.task_id, o.key, o.value FROM task_instances ti"
    " CROSS JOIN LATERAL (SELECT a.outputs FROM attempts a WHERE a.ti_id = ti.ti_id"
    "  AND a.outcome = 'success' ORDER BY a.try_number DESC LIMIT 1) AS a"
    " CROSS JOIN LATERAL jsonb_each_text(a.outputs) AS o"
    " WHERE ti.run_pk = ANY($1::bigint[]) AND ti.kind = 'task' AND ti.state = 'success'"
    " ORDER BY ti.run_pk, ti.ti_id, o.key";

/* For callbacks: the failed tasks of each run, in file order. */
static const char sql_failed_tasks[] =
    "SELECT run_pk, string_agg(task_id, ' ' ORDER BY ti_id) FROM task_instances"
    " WHERE run_pk = ANY($1::bigint[]) AND kind = 'task' AND state = 'failed'"
    " GROUP BY run_pk";

static const char sql_fail_unrunnable[] =
    "UPDATE task_instances SET state = 'failed', ended_at = GREATEST($2::timestamptz,"
    " started_at), updated_at = now() WHERE ti_id = ANY($1::bigint[]) AND state = 'scheduled'";

struct claim_ctx {
	const char *worker_id;
	const char *const *queues;
	size_t queues_nr;
	size_t free_slots;
	size_t parallelism;
	int64_t now_ms;
	struct sl_engine_dispatches *out;
	size_t out_start;
	bool started;
};

/* A picked candidate: its row in the candidates and its pinned task. */
struct pick {
	int row;
	const struct sl_dag *dag;
	const struct sl_task *task; /* NULL for a run's callback */
	char *command;
};

static void dispatch_release(struct sl_engine_dispatch *d)
{
	free(d->dag);
	free(d->run_id);
	free(d->task);
	free(d->command);
	sl_env_release(&d->env);
	free(d->cwd);
	free(d->commit);
}

void sl_engine_dispatches_release(struct sl_engine_dispatches *d)
{
	for (size_t i = 0; i < d->nr; i++)
		dispatch_release(&d->items[i]);
	free(d->items);
	memset(d, 0, sizeof(*d));
}

/* A small counter keyed by text (pools) or number (runs). */
struct counter {
	struct counter_item {
		int64_t pk;
		const char *name;
		int64_t value;
	} * items;
	size_t nr, alloc;
};

static struct counter_item *counter_find(struct counter *c, int64_t pk, const char *name)
{
	for (size_t i = 0; i < c->nr; i++)
		if (name ? !strcmp(c->items[i].name, name) : c->items[i].pk == pk)
			return &c->items[i];
	return NULL;
}

static struct counter_item *counter_get(struct counter *c, int64_t pk, const char *name,
                                        int64_t initial)
{
	struct counter_item *it = counter_find(c, pk, name);

	if (it)
		return it;
	SL_ALLOC_GROW(c->items, c->nr + 1, c->alloc);
	c->items[c->nr] = (struct counter_item){pk, name, initial};
	return &c->items[c->nr++];
}

/* The failed tasks of a callback's run, or "" when none failed. */
static const char *failed_tasks(PGresult *failed, int64_t run_pk)
{
	for (int row = 0; failed && row < PQntuples(failed); row++)
		if (int_at(failed, row, 0) == run_pk)
			return PQgetvalue(failed, row, 1);
	return "";
}

/*
 * The environment of one dispatch: DAG env, task env, SLUICE_* values. A
 * callback has no task env, sees the outputs of every task (it runs after
 * them all), and the run's state and failed tasks.
 */
static void build_env(struct sl_engine_dispatch *d, const struct pick *p, PGresult *cand,
                      PGresult *outs, PGresult *failed)
{
	const struct sl_dag *dag = p->dag;
	struct sl_taskenv_output *ov = NULL;
	size_t ov_nr = 0, ov_alloc = 0;
	int64_t run_pk = int_at(cand, p->row, C_RUN);
	struct sl_dag_walk upstream;
	struct sl_taskenv_ctx ctx;
	json_t *conf = json_loads(PQgetvalue(cand, p->row, C_CONF), 0, NULL);

	sl_dag_walk_init(&upstream, dag);
	if (p->task)
		sl_dag_walk_ancestors(&upstream, (size_t)(p->task - dag->tasks));
	for (int row = 0; outs && row < PQntuples(outs); row++) {
		long t;

		if (int_at(outs, row, 0) != run_pk)
			continue;
		t = sl_dag_task_index(dag, PQgetvalue(outs, row, 1));
		if (t < 0 || (p->task && !sl_dag_walk_marked(&upstream, (size_t)t)))
			continue;
		SL_ALLOC_GROW(ov, ov_nr + 1, ov_alloc);
		ov[ov_nr++] = (struct sl_taskenv_output){
		    PQgetvalue(outs, row, 1), PQgetvalue(outs, row, 2), PQgetvalue(outs, row, 3)};
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.dag = d->dag;
	ctx.task = d->task;
	ctx.run_id = d->run_id;
	ctx.logical_date = int_at(cand, p->row, C_LOGICAL);
	ctx.data_interval_start = int_at(cand, p->row, C_START);
	ctx.data_interval_end = int_at(cand, p->row, C_END);
	ctx.try_number = d->try_number;
	ctx.params = dag->params;
	ctx.conf = json_is_object(conf) ? conf : NULL;
	ctx.outputs = ov;
	ctx.outputs_nr = ov_nr;
	ctx.dag_env = &dag->env;
	ctx.task_env = p->task ? &p->task->env : NULL;
	if (!p->task) {
		ctx.run_state = PQgetvalue(cand, p->row, C_RUN_STATE);
		ctx.failed_tasks = failed_tasks(failed, run_pk);
	}
	sl_taskenv_build(&d->env, &ctx);
	json_decref(conf);
	free(ov);
	sl_dag_walk_release(&upstream);
}

/* The command of callback `id` (on_failure, on_success), or NULL. */
static const char *callback_command(const struct sl_dag *dag, const char *id)
{
	if (!strcmp(id, "on_failure"))
		return dag->on_failure;
	if (!strcmp(id, "on_success"))
		return dag->on_success;
	return NULL;
}

/* Choose within the limits; expand commands; fail what cannot run. */
static int pick_candidates(struct sl_db *db, PGresult *cand, size_t cap, struct defcache *defs,
                           struct pick **picks, size_t *npicks, struct sl_strbuf *bad,
                           struct sl_strbuf *err)
{
	struct counter runs = {NULL, 0, 0}, pools = {NULL, 0, 0};
	size_t alloc = 0;
	int rc = 0;

	for (int row = 0; row < PQntuples(cand) && *npicks < cap; row++) {
		const struct sl_dag *dag;
		const struct sl_task *task = NULL;
		const char *command = NULL;
		struct counter_item *run, *pool = NULL;
		struct sl_strbuf cmd = SL_STRBUF_INIT, why = SL_STRBUF_INIT;

		rc = defcache_get(db, defs, int_at(cand, row, C_VERSION), &dag, err);
		if (rc)
			goto fail;
		if (bool_at(cand, row, C_CALLBACK)) {
			command = callback_command(dag, PQgetvalue(cand, row, C_TASK));
		} else {
			long t = sl_dag_task_index(dag, PQgetvalue(cand, row, C_TASK));

			task = t < 0 ? NULL : &dag->tasks[t];
			command = task ? task->command : NULL;
		}
		if (!command || sl_taskenv_expand(&cmd, command, &why) < 0) {
			/* Cannot happen with a definition that loaded; never hand it out. */
			arr_add(bad, PQgetvalue(cand, row, C_TI));
			sl_strbuf_release(&cmd);
			sl_strbuf_release(&why);
			continue;
		}
		sl_strbuf_release(&why);
		run = counter_get(&runs, int_at(cand, row, C_RUN), NULL,
		                  int_at(cand, row, C_RUN_BUSY));
		if (!PQgetisnull(cand, row, C_POOL))
			pool = counter_get(&pools, 0, PQgetvalue(cand, row, C_POOL),
			                   PQgetisnull(cand, row, C_POOL_FREE)
			                       ? 0
			                       : int_at(cand, row, C_POOL_FREE));
		if (run->value >= dag->max_active_tasks || (pool && pool->value <= 0)) {
			sl_strbuf_release(&cmd);
			continue;
		}
		run->value++;
		if (pool)
			pool->value--;
		SL_ALLOC_GROW(*picks, *npicks + 1, alloc);
		(*picks)[(*npicks)++] = (struct pick){row, dag, task, sl_strbuf_detach(&cmd, NULL)};
	}
fail:
	free(runs.items);
	free(pools.items);
	return rc;
}

static int claim_insert(struct sl_db *db, struct claim_ctx *c, PGresult *cand,
                        const struct pick *picks, size_t npicks, struct sl_strbuf *err)
{
	struct sl_strbuf ids = SL_STRBUF_INIT, pks = SL_STRBUF_INIT, cb_pks = SL_STRBUF_INIT;
	struct ts now;
	PGresult *r = NULL, *outs = NULL, *failed = NULL;
	int rc;

	for (size_t i = 0; i < npicks; i++) {
		arr_add(&ids, PQgetvalue(cand, picks[i].row, C_TI));
		/* Outputs come from ancestors: a root task needs none of its run's. */
		if (!picks[i].task || picks[i].task->upstream_nr)
			arr_add(&pks, PQgetvalue(cand, picks[i].row, C_RUN));
		if (!picks[i].task)
			arr_add(&cb_pks, PQgetvalue(cand, picks[i].row, C_RUN));
	}
	{
		const char *params[] = {arr_end(&ids), c->worker_id, ts_of(&now, c->now_ms),
		                        c->started ? "true" : "false"};

		rc = sl_db_exec(db, sql_insert_attempts, 4, params, &r, err);
	}
	if (rc)
		goto fail;
	if (pks.len) {
		const char *params[] = {arr_end(&pks)};

		rc = sl_db_exec(db, sql_outputs, 1, params, &outs, err);
	}
	if (!rc && cb_pks.len) {
		const char *params[] = {arr_end(&cb_pks)};

		rc = sl_db_exec(db, sql_failed_tasks, 1, params, &failed, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t ti = int_at(r, row, 1);
		const struct pick *p = NULL;
		struct sl_engine_dispatch *d;

		for (size_t i = 0; i < npicks && !p; i++)
			if (int_at(cand, picks[i].row, C_TI) == ti)
				p = &picks[i];
		if (!p)
			continue;
		SL_ALLOC_GROW(c->out->items, c->out->nr + 1, c->out->alloc);
		d = &c->out->items[c->out->nr++];
		memset(d, 0, sizeof(*d));
		d->attempt_id = int_at(r, row, 0);
		d->ti_id = ti;
		d->try_number = (int)int_at(r, row, 2);
		d->fencing_token = int_at(r, row, 3);
		d->dag = sl_xstrdup(PQgetvalue(cand, p->row, C_DAG));
		d->run_id = sl_xstrdup(PQgetvalue(cand, p->row, C_RUN_ID));
		d->task = sl_xstrdup(PQgetvalue(cand, p->row, C_TASK));
		d->command = sl_xstrdup(p->command);
		d->cwd = sl_xstrdup(p->task && p->task->cwd ? p->task->cwd : "");
		d->commit = sl_xstrdup(PQgetvalue(cand, p->row, C_COMMIT));
		d->timeout_s = p->task ? p->task->timeout : 0;
		d->sensor = p->task && p->task->sensor;
		build_env(d, p, cand, outs, failed);
	}
fail:
	PQclear(r);
	PQclear(outs);
	PQclear(failed);
	sl_strbuf_release(&ids);
	sl_strbuf_release(&pks);
	sl_strbuf_release(&cb_pks);
	return rc;
}

static int claim_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct claim_ctx *c = ctx;
	struct sl_strbuf queues = SL_STRBUF_INIT, bad = SL_STRBUF_INIT;
	struct defcache defs = {NULL, 0, 0};
	struct pick *picks = NULL;
	size_t npicks = 0, cap = c->free_slots;
	struct num lim;
	struct ts now;
	PGresult *r = NULL, *cand = NULL;
	int rc;

	/* A retried transaction starts again from what the caller had. */
	while (c->out->nr > c->out_start)
		dispatch_release(&c->out->items[--c->out->nr]);
	/*
	 * Claimers take turns: the counts behind pools, max_active_tasks and
	 * parallelism are read after the lock, so they include every claim
	 * committed before (READ COMMITTED takes a snapshot per statement).
	 */
	rc = sl_db_exec(db, "SELECT pg_advisory_xact_lock(" SL_ENGINE_CLAIM_LOCK ")", 0, NULL, NULL,
	                err);
	if (rc)
		goto fail;
	if (c->parallelism) {
		int64_t busy;

		rc = sl_db_exec(db, sql_busy, 0, NULL, &r, err);
		if (rc)
			goto fail;
		busy = int_at(r, 0, 0);
		if (busy >= (int64_t)c->parallelism)
			cap = 0;
		else if ((size_t)((int64_t)c->parallelism - busy) < cap)
			cap = (size_t)((int64_t)c->parallelism - busy);
	}
	if (!cap)
		goto fail;
	for (size_t i = 0; i < c->queues_nr; i++)
		arr_add(&queues, c->queues[i]);
	{
		/* More rows than slots: some may be held back by their limits. */
		size_t want = cap * 4 + 16;
		const char *params[] = {arr_end(&queues),
		                        num_of(&lim, (int64_t)(want > 10000 ? 10000 : want))};

		rc = sl_db_exec(db, sql_candidates, 2, params, &cand, err);
	}
	if (rc)
		goto fail;
	rc = pick_candidates(db, cand, cap, &defs, &picks, &npicks, &bad, err);
	if (rc)
		goto fail;
	if (bad.len) {
		const char *params[] = {arr_end(&bad), ts_of(&now, c->now_ms)};

		rc = sl_db_exec(db, sql_fail_unrunnable, 2, params, NULL, err);
		if (rc)
			goto fail;
	}
	if (npicks)
		rc = claim_insert(db, c, cand, picks, npicks, err);
fail:
	for (size_t i = 0; i < npicks; i++)
		free(picks[i].command);
	free(picks);
	defcache_release(&defs);
	PQclear(r);
	PQclear(cand);
	sl_strbuf_release(&queues);
	sl_strbuf_release(&bad);
	return rc;
}

static int claim(struct sl_db *db, const char *worker_id, const char *const *queues,
                 size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                 bool started, struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	struct claim_ctx c = {worker_id, queues, queues_nr, free_slots, parallelism,
	                      now_ms,    out,    out->nr,   started};
	int rc;

	if (!free_slots || !queues_nr)
		return 0;
	rc = sl_db_transaction(db, 0, claim_tx, &c, err);
	if (rc) {
		while (out->nr > c.out_start)
			dispatch_release(&out->items[--out->nr]);
	}
	return rc;
}

int sl_engine_claim(struct sl_db *db, const char *worker_id, const char *const *queues,
                    size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                    struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	return claim(db, worker_id, queues, queues_nr, free_slots, parallelism, now_ms, false, out,
	             err);
}

int sl_engine_claim_started(struct sl_db *db, const char *worker_id, const char *const *queues,
                            size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                            struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	return claim(db, worker_id, queues, queues_nr, free_slots, parallelism, now_ms, true, out,
	             err);
}

/* ---- reports from workers ----------------------------------------------- */

static const char sql_started[] =
    "WITH a AS (UPDATE attempts SET started_at = COALESCE(started_at, $3::timestamptz)"
    " WHERE attempt_id = $1 AND fencing_token = $2 AND ended_at IS NULL RETURNING ti_id),"
    " t AS (UPDATE task_instances ti SET state = 'running', started_at = $3::timestamptz,"
    "  ended_at = NULL, updated_at = now() FROM a"
    "  WHERE ti.ti_id = a.ti_id AND ti.state = 'queued' RETURNING ti.ti_id)"
    " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM t)";

struct report_ctx {
	int64_t attempt_id, fencing, now_ms;
	bool accepted;
	/* log */
	int seq;
	const unsigned char *bytes;
	size_t len;
	int64_t log_limit;
	/* result */
	const struct sl_engine_result *res;
	const char *outcome; /* as stored: the result's, or "lost" */
	const char *reason;  /* task_instances.reason when the rules give none */
	/* fail_worker */
	const char *worker_id;
	size_t ended;
	/* result_advance: the run of the attempt, and whether to advance it */
	bool advance;
	int64_t run_pk;
	bool downstream;
};

static int started_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct report_ctx *c = ctx;
	struct num a, f;
	struct ts now;
	const char *params[] = {num_of(&a, c->attempt_id), num_of(&f, c->fencing),
	                        ts_of(&now, c->now_ms)};
	PGresult *r = NULL;
	int rc = sl_db_exec(db, sql_started, 3, params, &r, err);

	c->accepted = !rc && int_at(r, 0, 0) > 0;
	PQclear(r);
	return rc;
}

int sl_engine_started(struct sl_db *db, int64_t attempt_id, int64_t fencing, int64_t now_ms,
                      bool *accepted, struct sl_strbuf *err)
{
	struct report_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.attempt_id = attempt_id;
	c.fencing = fencing;
	c.now_ms = now_ms;
	rc = sl_db_transaction(db, 0, started_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

static const char sql_log_lock[] =
    "SELECT log_bytes FROM attempts WHERE attempt_id = $1 AND fencing_token = $2 FOR UPDATE";

/* The chunk, and its bytes counted only when it was not stored before. */
static const char sql_log_insert[] =
    "WITH c AS (INSERT INTO log_chunks (attempt_id, seq, data)"
    " VALUES ($1, $2, decode($3, 'hex')) ON CONFLICT DO NOTHING RETURNING octet_length(data) AS n)"
    " UPDATE attempts SET log_bytes = log_bytes + COALESCE((SELECT sum(n) FROM c), 0),"
    " log_truncated = log_truncated OR $4::boolean WHERE attempt_id = $1";

static int log_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	static const char hex[] = "0123456789abcdef";
	struct report_ctx *c = ctx;
	struct sl_strbuf data = SL_STRBUF_INIT;
	struct num a, f, s;
	const char *params[4] = {num_of(&a, c->attempt_id), num_of(&f, c->fencing), NULL, NULL};
	PGresult *r = NULL;
	size_t keep = c->len;
	int rc;

	c->accepted = false;
	rc = sl_db_exec(db, sql_log_lock, 2, params, &r, err);
	if (rc || PQntuples(r) != 1)
		goto fail;
	c->accepted = true;
	if (c->log_limit > 0) {
		int64_t have = int_at(r, 0, 0);
		int64_t room = have >= c->log_limit ? 0 : c->log_limit - have;

		if ((int64_t)keep > room)
			keep = (size_t)room;
	}
	for (size_t i = 0; i < keep; i++) {
		sl_strbuf_addch(&data, hex[c->bytes[i] >> 4]);
		sl_strbuf_addch(&data, hex[c->bytes[i] & 15]);
	}
	if (keep) {
		const char *ins[] = {params[0], num_of(&s, c->seq), data.buf,
		                     keep < c->len ? "true" : "false"};

		rc = sl_db_exec(db, sql_log_insert, 4, ins, NULL, err);
	} else {
		rc =
		    sl_db_exec(db, "UPDATE attempts SET log_truncated = true WHERE attempt_id = $1",
		               1, params, NULL, err);
	}
fail:
	PQclear(r);
	sl_strbuf_release(&data);
	return rc;
}

int sl_engine_log(struct sl_db *db, int64_t attempt_id, int64_t fencing, int seq, const void *bytes,
                  size_t len, int64_t log_limit, bool *accepted, struct sl_strbuf *err)
{
	struct report_ctx c;
	int rc = 0;

	if (accepted)
		*accepted = false;
	if (seq < 0 || len < 1 || len > 65536) {
		sl_strbuf_addf(err, "a log chunk has a sequence number >= 0 and 1 to 65536 bytes");
		return SL_EINVAL;
	}
	memset(&c, 0, sizeof(c));
	c.attempt_id = attempt_id;
	c.fencing = fencing;
	c.seq = seq;
	c.bytes = bytes;
	c.len = len;
	c.log_limit = log_limit;
	rc = sl_db_transaction(db, 0, log_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

/*
 * The live attempt, locked with its task instance, and when the current
 * chain of sensor pokes began: the earliest start among this attempt and
 * the reschedule attempts right before it.
 */
static const char sql_attempt_lock[] =
    "SELECT a.ti_id, a.try_number, ti.max_tries, r.version_id, ti.task_id,"
    " (SELECT floor(extract(epoch FROM min(COALESCE(b.started_at, b.queued_at))) * 1000)::bigint"
    "  FROM attempts b WHERE b.ti_id = a.ti_id AND b.attempt_id > COALESCE("
    "   (SELECT max(x.attempt_id) FROM attempts x WHERE x.ti_id = a.ti_id"
    "    AND x.attempt_id <> a.attempt_id AND x.outcome IS DISTINCT FROM 'reschedule'), 0)),"
    " ti.kind = 'callback', ti.run_pk"
    " FROM attempts a JOIN task_instances ti ON ti.ti_id = a.ti_id"
    " JOIN runs r ON r.run_pk = ti.run_pk"
    " WHERE a.attempt_id = $1 AND a.fencing_token = $2 AND a.ended_at IS NULL"
    " FOR UPDATE OF a, ti";

/*
 * A report about an attempt that an operator ended (stop_pending) says its
 * process is gone: a RESULT, or the worker's own word that it does not run
 * it. Its task instance may be handed out again.
 */
static const char sql_attempt_stopped[] =
    "UPDATE attempts SET stop_pending = false"
    " WHERE attempt_id = $1 AND fencing_token = $2 AND stop_pending";

/*
 * End the attempt and move its task instance. A reschedule uses no try:
 * each poke is an attempt of its own (one attempt per try number), so the
 * task's max_tries grows by one with it.
 */
static const char sql_end_attempt[] =
    "WITH a AS (UPDATE attempts SET ended_at = GREATEST($2::timestamptz, started_at),"
    "  outcome = $3, exit_code = $4::int, signal = $5::int,"
    "  outputs = COALESCE($6::jsonb, '{}') WHERE attempt_id = $1 RETURNING ti_id)"
    " UPDATE task_instances ti SET state = $7, next_retry_at = $8::timestamptz,"
    " ended_at = GREATEST($2::timestamptz, ti.started_at),"
    " max_tries = ti.max_tries + $9::int, reason = $10, updated_at = now()"
    " FROM a WHERE ti.ti_id = a.ti_id";

/*
 * A callback ends with its first attempt: it has no retries (an alert sent
 * twice is worse than one that failed and says so in its log), no sensor,
 * and nothing downstream.
 */
static void callback_next(enum sl_outcome outcome, struct sl_next_state *next)
{
	memset(next, 0, sizeof(*next));
	if (outcome == SL_OUTCOME_SUCCESS)
		next->state = SL_TASK_SUCCESS;
	else if (outcome == SL_OUTCOME_SKIPPED)
		next->state = SL_TASK_SKIPPED;
	else
		next->state = SL_TASK_FAILED;
}

/*
 * A branch task that succeeded names only direct downstream tasks; else
 * it has failed (the reason in `why`), since the DAG author's choice
 * cannot be followed. Checked here, once, so that advance can trust it.
 */
static bool branch_invalid(const struct sl_dag *dag, size_t t, const char *outputs,
                           struct sl_strbuf *why)
{
	json_t *o = outputs ? json_loads(outputs, 0, NULL) : NULL;
	const char *value = json_string_value(json_object_get(o, SL_BRANCH_OUTPUT));
	bool bad = value && sl_branch_check(dag, t, value, why);

	json_decref(o);
	return bad;
}

/*
 * A task's next state after an attempt (row of sql_attempt_lock), by the
 * rules, and in `why` the reason when the scheduler decided more than the
 * outcome says (a wrong branch, a sensor out of time).
 */
static int task_next(struct sl_db *db, struct report_ctx *c, PGresult *r, enum sl_outcome outcome,
                     const char *outputs, struct sl_next_state *next, struct sl_strbuf *why,
                     struct sl_strbuf *err)
{
	const struct sl_dag *dag;
	const struct sl_task *task;
	struct defcache defs = {NULL, 0, 0};
	int64_t first_poke;
	int try_number, effective;
	long t;
	int rc;

	rc = defcache_get(db, &defs, int_at(r, 0, 3), &dag, err);
	if (rc)
		goto fail;
	t = sl_dag_task_index(dag, PQgetvalue(r, 0, 4));
	if (t < 0) {
		sl_strbuf_addf(err, "task '%s' is not in its run's definition",
		               PQgetvalue(r, 0, 4));
		rc = SL_ERR;
		goto fail;
	}
	task = &dag->tasks[t];
	c->downstream = task->downstream_nr > 0;
	try_number = (int)int_at(r, 0, 1);
	/* The try as the retry rules count it: 1 after a clear or a reschedule. */
	effective = try_number - ((int)int_at(r, 0, 2) - (task->retries + 1));
	if (effective < 1)
		effective = 1;
	first_poke = PQgetisnull(r, 0, 5) ? c->now_ms : int_at(r, 0, 5);
	if (outcome == SL_OUTCOME_SUCCESS && branch_invalid(dag, (size_t)t, outputs, why))
		outcome = SL_OUTCOME_FAILED;
	sl_rules_after_attempt(task, outcome, effective, c->now_ms, first_poke, next);
	if (outcome == SL_OUTCOME_RESCHEDULE && task->sensor && next->state == SL_TASK_FAILED) {
		sl_strbuf_adds(why, "sensor timed out after ");
		sl_duration_format(why, (c->now_ms - first_poke) / 1000);
		sl_strbuf_adds(why, " (timeout ");
		sl_duration_format(why, task->sensor_timeout);
		sl_strbuf_adds(why, ")");
	}
fail:
	defcache_release(&defs);
	return rc;
}

static int end_attempt(struct sl_db *db, struct report_ctx *c, enum sl_outcome outcome,
                       int exit_code, int sig, const char *outputs, struct sl_strbuf *err)
{
	struct sl_next_state next;
	struct num a, f, ex, sg;
	struct ts now, at;
	const char *params[10] = {num_of(&a, c->attempt_id), num_of(&f, c->fencing)};
	struct sl_strbuf why = SL_STRBUF_INIT;
	PGresult *r = NULL;
	int rc;

	rc = sl_db_exec(db, sql_attempt_lock, 2, params, &r, err);
	if (rc || PQntuples(r) != 1) {
		c->accepted = false;
		/* Over already (a cancel, a clear): now its process is too. */
		if (!rc)
			rc = sl_db_exec(db, sql_attempt_stopped, 2, params, NULL, err);
		goto fail;
	}
	c->accepted = true;
	c->run_pk = int_at(r, 0, 7);
	c->downstream = false;
	if (bool_at(r, 0, 6))
		callback_next(outcome, &next);
	else
		rc = task_next(db, c, r, outcome, outputs, &next, &why, err);
	if (rc)
		goto fail;
	/* A retry or a poke decides nothing downstream until it is due. */
	if (next.state == SL_TASK_UP_FOR_RETRY || next.state == SL_TASK_UP_FOR_RESCHEDULE)
		c->downstream = false;
	params[1] = ts_of(&now, c->now_ms);
	params[2] = c->outcome;
	params[3] = exit_code >= 0 && exit_code <= 255 ? num_of(&ex, exit_code) : NULL;
	params[4] = sig >= 1 && sig <= 127 && !params[3] ? num_of(&sg, sig) : NULL;
	params[5] = outputs;
	params[6] = sl_task_state_name(next.state);
	params[7] = next.at_ms ? ts_of(&at, next.at_ms) : NULL;
	params[8] = next.state == SL_TASK_UP_FOR_RESCHEDULE ? "1" : "0";
	params[9] = why.len ? why.buf : c->reason;
	PQclear(r);
	r = NULL;
	rc = sl_db_exec(db, sql_end_attempt, 10, params, NULL, err);
fail:
	PQclear(r);
	sl_strbuf_release(&why);
	return rc;
}

static int result_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct report_ctx *c = ctx;
	struct advance_ctx ac = {c->now_ms, 1, 0};
	struct defcache defs = {NULL, 0, 0};
	struct sl_strbuf pks = SL_STRBUF_INIT;
	int rc = end_attempt(db, c, c->res->outcome, c->res->exit_code, c->res->signal,
	                     c->res->outputs, err);

	/*
	 * Only a task with downstream tasks: loading a large run to learn that
	 * nothing changes costs more than the commit it saves. The tick rolls
	 * a run up when its last task ends.
	 */
	if (!rc && c->advance && c->accepted && c->downstream) {
		arr_add_int(&pks, c->run_pk);
		rc = advance_locked(db, &ac, arr_end(&pks), &defs, err);
	}
	defcache_release(&defs);
	sl_strbuf_release(&pks);
	return rc;
}

static int result(struct sl_db *db, int64_t attempt_id, int64_t fencing,
                  const struct sl_engine_result *res, int64_t now_ms, bool advance, bool *accepted,
                  struct sl_strbuf *err)
{
	struct report_ctx c;
	int rc;

	if (accepted)
		*accepted = false;
	if (res->outputs) {
		json_t *o = json_loads(res->outputs, 0, NULL);
		bool object = json_is_object(o);

		json_decref(o);
		if (!object) {
			sl_strbuf_adds(err, "the outputs of a result must be a JSON object");
			return SL_EINVAL;
		}
	}
	memset(&c, 0, sizeof(c));
	c.attempt_id = attempt_id;
	c.fencing = fencing;
	c.now_ms = now_ms;
	c.res = res;
	c.outcome = sl_outcome_name(res->outcome);
	c.advance = advance;
	rc = sl_db_transaction(db, 0, result_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

int sl_engine_result(struct sl_db *db, int64_t attempt_id, int64_t fencing,
                     const struct sl_engine_result *res, int64_t now_ms, bool *accepted,
                     struct sl_strbuf *err)
{
	return result(db, attempt_id, fencing, res, now_ms, false, accepted, err);
}

int sl_engine_result_advance(struct sl_db *db, int64_t attempt_id, int64_t fencing,
                             const struct sl_engine_result *res, int64_t now_ms, bool *accepted,
                             struct sl_strbuf *err)
{
	return result(db, attempt_id, fencing, res, now_ms, true, accepted, err);
}

static const char sql_worker_live[] =
    "SELECT attempt_id, fencing_token FROM attempts"
    " WHERE worker_id = $1 AND ended_at IS NULL ORDER BY attempt_id";

static const char sql_worker_stopped[] =
    "UPDATE attempts SET stop_pending = false WHERE worker_id = $1 AND stop_pending";

static int fail_worker_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct report_ctx *c = ctx;
	const char *params[] = {c->worker_id};
	PGresult *r = NULL;
	int rc;

	c->ended = 0;
	/* A lost worker runs nothing we can wait for any more. */
	rc = sl_db_exec(db, sql_worker_stopped, 1, params, NULL, err);
	if (!rc)
		rc = sl_db_exec(db, sql_worker_live, 1, params, &r, err);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		c->attempt_id = int_at(r, i, 0);
		c->fencing = int_at(r, i, 1);
		rc = end_attempt(db, c, SL_OUTCOME_FAILED, -1, 0, NULL, err);
		if (!rc && c->accepted)
			c->ended++;
	}
	PQclear(r);
	return rc;
}

int sl_engine_fail_worker(struct sl_db *db, const char *worker_id, int64_t now_ms,
                          const char *reason, size_t *ended, struct sl_strbuf *err)
{
	struct report_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.worker_id = worker_id;
	c.now_ms = now_ms;
	c.outcome = "lost";
	c.reason = reason;
	rc = sl_db_transaction(db, 0, fail_worker_tx, &c, err);
	if (ended)
		*ended = rc ? 0 : c.ended;
	return rc;
}

static int fail_attempt_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct report_ctx *c = ctx;

	return end_attempt(db, c, SL_OUTCOME_FAILED, -1, 0, NULL, err);
}

int sl_engine_fail_attempt(struct sl_db *db, int64_t attempt_id, int64_t fencing, int64_t now_ms,
                           const char *reason, bool *accepted, struct sl_strbuf *err)
{
	struct report_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.attempt_id = attempt_id;
	c.fencing = fencing;
	c.now_ms = now_ms;
	c.outcome = "lost";
	c.reason = reason;
	rc = sl_db_transaction(db, 0, fail_attempt_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

static const char sql_stopped_except[] =
    "UPDATE attempts SET stop_pending = false"
    " WHERE worker_id = $1 AND stop_pending AND attempt_id <> ALL($2::bigint[])";

int sl_engine_confirm_stopped(struct sl_db *db, const char *worker_id, const int64_t *running,
                              size_t running_nr, size_t *confirmed, struct sl_strbuf *err)
{
	struct sl_strbuf ids = SL_STRBUF_INIT;
	const char *params[2] = {worker_id, NULL};
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < running_nr; i++)
		arr_add_int(&ids, running[i]);
	params[1] = arr_end(&ids);
	rc = sl_db_exec_idempotent(db, sql_stopped_except, 2, params, &r, err);
	if (confirmed)
		*confirmed = rc ? 0 : (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	sl_strbuf_release(&ids);
	return rc;
}

void sl_engine_live_release(struct sl_engine_live *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->items[i].worker_id);
	free(l->items);
	*l = (struct sl_engine_live)SL_ENGINE_LIVE_INIT;
}

static int live_read(PGresult *r, struct sl_engine_live *out)
{
	for (int i = 0; i < PQntuples(r); i++) {
		struct sl_engine_live_attempt *a;

		SL_ALLOC_GROW(out->items, out->nr + 1, out->alloc);
		a = &out->items[out->nr++];
		a->worker_id = sl_xstrdup(PQgetvalue(r, i, 0));
		a->attempt_id = int_at(r, i, 1);
		a->fencing = int_at(r, i, 2);
	}
	return 0;
}

static const char sql_live_of[] =
    "SELECT worker_id, attempt_id, fencing_token FROM attempts"
    " WHERE worker_id = ANY($1::text[]) AND ended_at IS NULL ORDER BY attempt_id";

static const char sql_heartbeats[] =
    "UPDATE workers SET last_heartbeat_at = now(), state = 'active'"
    " WHERE worker_id = ANY($1::text[])";

struct heartbeats_ctx {
	const char *workers; /* a text[] literal */
	bool record;
	struct sl_engine_live *out;
	size_t mark;
};

static int heartbeats_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct heartbeats_ctx *c = ctx;
	const char *params[1] = {c->workers};
	PGresult *r = NULL;
	int rc = 0;

	/* A transaction run again must not list its attempts twice. */
	for (size_t i = c->mark; i < c->out->nr; i++)
		free(c->out->items[i].worker_id);
	c->out->nr = c->mark;
	if (c->record)
		rc = sl_db_exec(db, sql_heartbeats, 1, params, NULL, err);
	if (!rc)
		rc = sl_db_exec(db, sql_live_of, 1, params, &r, err);
	if (!rc)
		rc = live_read(r, c->out);
	PQclear(r);
	return rc;
}

int sl_engine_worker_live(struct sl_db *db, const char *const *workers, size_t workers_nr,
                          bool record_heartbeat, struct sl_engine_live *out, struct sl_strbuf *err)
{
	struct sl_strbuf names = SL_STRBUF_INIT;
	struct heartbeats_ctx c = {NULL, record_heartbeat, out, out->nr};
	int rc;

	for (size_t i = 0; i < workers_nr; i++)
		arr_add(&names, workers[i]);
	c.workers = arr_end(&names);
	rc = sl_db_transaction(db, 0, heartbeats_tx, &c, err);
	sl_strbuf_release(&names);
	return rc;
}
