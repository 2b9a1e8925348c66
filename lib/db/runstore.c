/*
 * Runs and task instances in PostgreSQL: create, cancel, clear, mark.
 * Every value is a statement parameter; batches are arrays given to unnest.
 */
#include "sluice/runstore.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/dag_json.h"
#include "sluice/error.h"
#include "sluice/pgarray.h"
#include "sluice/suggest.h"
#include "sluice/banned.h"

static const char *const run_states[] = {"queued", "running", "success", "failed", "cancelled"};

bool sl_run_state_valid(const char *state)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(run_states); i++)
		if (!strcmp(state, run_states[i]))
			return true;
	return false;
}

bool sl_run_state_final(const char *state)
{
	return !strcmp(state, "success") || !strcmp(state, "failed") || !strcmp(state, "cancelled");
}

bool sl_task_state_final(const char *state)
{
	static const char *const final[] = {"success", "failed",    "upstream_failed",
	                                    "skipped", "cancelled", "removed"};

	for (size_t i = 0; i < SL_ARRAY_SIZE(final); i++)
		if (!strcmp(state, final[i]))
			return true;
	return false;
}

bool sl_run_id_valid(const char *run_id)
{
	size_t n = strlen(run_id);

	if (n < 1 || n > 250)
		return false;
	for (const char *p = run_id; *p; p++) {
		char c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("_.:+~-", c)))
			return false;
	}
	return true;
}

void sl_run_time_format(struct sl_strbuf *sb, int64_t t)
{
	int64_t secs = t / 1000000, us = t % 1000000;
	struct sl_civil c;

	if (us < 0) {
		us += 1000000;
		secs--;
	}
	sl_civil_from_secs(secs, &c);
	sl_strbuf_addf(sb, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
	               c.minute, c.second);
	if (us)
		sl_strbuf_addf(sb, ".%06d", (int)us);
	sl_strbuf_adds(sb, "+00:00");
}

void sl_run_id_format(struct sl_strbuf *sb, const char *run_type, int64_t logical_date)
{
	sl_strbuf_addf(sb, "%s__", run_type);
	sl_run_time_format(sb, logical_date);
}

static void array_add_time(struct sl_strbuf *a, int64_t t)
{
	struct sl_strbuf ts = SL_STRBUF_INIT;

	sl_run_time_format(&ts, t);
	sl_pgarray_add(a, ts.buf);
	sl_strbuf_release(&ts);
}

static int64_t parse_int64(const char *s)
{
	return strtoll(s, NULL, 10);
}

static void copy_state(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* ---- pinning ------------------------------------------------------------ */

/* A stored definition (JSON text) rebuilt as a DAG; a sentence in `why`. */
static int dag_from_text(const char *text, struct sl_dag **out, struct sl_strbuf *why)
{
	json_error_t jerr;
	json_t *def = json_loads(text, 0, &jerr);
	int rc;

	if (!def) {
		sl_strbuf_adds(why, jerr.text);
		return SL_EINVAL;
	}
	rc = sl_dag_from_json(out, def, why);
	json_decref(def);
	return rc;
}

/*
 * Append " (did you mean 'x'?)" when one of the values the query `q`
 * returns is close to `word`. A failing query only loses the hint.
 */
static void add_suggestion(struct sl_db *db, enum sl_query q, const char *param, const char *word,
                           struct sl_strbuf *err)
{
	const char *params[] = {param};
	PGresult *r = NULL;
	struct sl_suggest s;

	if (sl_db_q(db, q, param ? 1 : 0, param ? params : NULL, &r, NULL) == 0) {
		sl_suggest_init(&s, word);
		for (int i = 0; i < PQntuples(r); i++)
			sl_suggest_consider(&s, PQgetvalue(r, i, 0));
		if (s.best)
			sl_strbuf_addf(err, " (did you mean '%s'?)", s.best);
	}
	PQclear(r);
}

/* "no DAG 'x'", with the closest known DAG id. */
static int no_dag(struct sl_db *db, const char *dag_id, struct sl_strbuf *err)
{
	sl_strbuf_addf(err, "no DAG '%s'", dag_id);
	add_suggestion(db, SL_Q_RUNS_DAG_IDS, NULL, dag_id, err);
	return SL_ENOENT;
}

void sl_run_pin_release(struct sl_run_pin *pin)
{
	free(pin->dag_id);
	free(pin->commit);
	sl_dag_free(pin->dag);
	free(pin->load_error);
	free(pin->source_commit);
	*pin = (struct sl_run_pin)SL_RUN_PIN_INIT;
}

int sl_run_pin_load(struct sl_db *db, const char *dag_id, struct sl_run_pin *pin,
                    struct sl_strbuf *err)
{
	const char *params[] = {dag_id};
	struct sl_strbuf why = SL_STRBUF_INIT;
	PGresult *r = NULL;
	int rc;

	sl_run_pin_release(pin);
	rc = sl_db_q_idempotent(db, SL_Q_RUNS_PIN, 1, params, &r, err);
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = no_dag(db, dag_id, err);
		goto out;
	}
	if (!strcmp(PQgetvalue(r, 0, 1), "t")) {
		sl_strbuf_addf(err, "DAG '%s' was removed: its file is gone from the repository",
		               dag_id);
		rc = SL_ERR;
		goto out;
	}
	if (PQgetisnull(r, 0, 2) || PQgetisnull(r, 0, 4)) {
		sl_strbuf_addf(err, "DAG '%s' has no version that loads (see 'sluice dags errors')",
		               dag_id);
		rc = SL_ERR;
		goto out;
	}
	if (dag_from_text(PQgetvalue(r, 0, 4), &pin->dag, &why) < 0) {
		sl_strbuf_addf(err,
		               "the stored definition of DAG '%s' (version %s) is unreadable: %s",
		               dag_id, PQgetvalue(r, 0, 2), why.buf);
		rc = SL_ERR;
		goto out;
	}
	pin->dag_id = sl_xstrdup(dag_id);
	pin->paused = !strcmp(PQgetvalue(r, 0, 0), "t");
	pin->version_id = parse_int64(PQgetvalue(r, 0, 2));
	pin->commit = sl_xstrdup(PQgetvalue(r, 0, 3));
	if (!PQgetisnull(r, 0, 5))
		pin->load_error = sl_xstrdup(PQgetvalue(r, 0, 5));
	if (!PQgetisnull(r, 0, 6))
		pin->source_commit = sl_xstrdup(PQgetvalue(r, 0, 6));
out:
	sl_strbuf_release(&why);
	PQclear(r);
	return rc;
}

int sl_run_pin_check_latest(const struct sl_run_pin *pin, struct sl_strbuf *err)
{
	if (!pin->load_error)
		return 0;
	sl_strbuf_addf(err,
	               "DAG '%s' does not load at the current commit %.12s: %s; --latest "
	               "would run its last version that loaded (commit %.12s) instead: fix the "
	               "file and refresh, or leave out --latest",
	               pin->dag_id, pin->source_commit ? pin->source_commit : "?", pin->load_error,
	               pin->commit);
	return SL_ERR;
}

/* ---- creating runs ------------------------------------------------------ */

enum { RUN_ARRAYS = 6, TASK_ARRAYS = 5 };

/*
 * The task list of a definition as TASK_ARRAYS arrays, in file order:
 * task, max_tries (retries + 1), priority, pool, queue. The shape of
 * runs_create's and runs_repin's task parameters.
 */
static void task_arrays(const struct sl_dag *dag, struct sl_strbuf *arrays)
{
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const struct sl_task *t = &dag->tasks[i];

		sl_pgarray_add(&arrays[0], t->id);
		sl_pgarray_add_int(&arrays[1], (int64_t)t->retries + 1);
		sl_pgarray_add_int(&arrays[2], t->priority);
		sl_pgarray_add(&arrays[3], t->pool);
		sl_pgarray_add(&arrays[4], t->queue);
	}
}

static int cmp_run_id(const void *a, const void *b)
{
	const struct sl_run_new *const *x = a, *const *y = b;

	return strcmp((*x)->run_id, (*y)->run_id);
}

/* Set run_pk of each created run from the rows (run_pk, run_id) returned. */
static void match_created(struct sl_run_new *runs, size_t nr, PGresult *r)
{
	struct sl_run_new **by_id = sl_xcalloc(nr, sizeof(*by_id));

	for (size_t i = 0; i < nr; i++) {
		runs[i].run_pk = 0;
		by_id[i] = &runs[i];
	}
	qsort(by_id, nr, sizeof(*by_id), cmp_run_id);
	for (int row = 0; row < PQntuples(r); row++) {
		struct sl_run_new key = {.run_id = PQgetvalue(r, row, 1)}, *pk = &key;
		struct sl_run_new **hit = bsearch(&pk, by_id, nr, sizeof(*by_id), cmp_run_id);

		if (hit)
			(*hit)->run_pk = parse_int64(PQgetvalue(r, row, 0));
	}
	free(by_id);
}

/* The audit row of runs created by a person: one row for the batch. */
static int audit_create(struct sl_db *db, const struct sl_actor *who, const struct sl_run_pin *pin,
                        const struct sl_run_new *runs, size_t nr, size_t created,
                        struct sl_strbuf *err)
{
	bool manual = nr && !strcmp(runs[0].run_type, "manual");
	char *target;
	int rc;

	if (nr == 1)
		target = sl_xasprintf("%s %s", pin->dag_id, runs[0].run_id);
	else
		target = sl_xasprintf("%s %s..%s intervals=%zu created=%zu", pin->dag_id,
		                      nr ? runs[0].run_id : "", nr ? runs[nr - 1].run_id : "", nr,
		                      created);
	rc = sl_audit_add(db, who, manual ? "trigger" : "backfill", target, err);
	free(target);
	return rc;
}

int sl_runs_create(struct sl_db *db, const struct sl_actor *who, const struct sl_run_pin *pin,
                   struct sl_run_new *runs, size_t nr, unsigned flags, size_t *created,
                   struct sl_strbuf *err)
{
	struct sl_strbuf arrays[RUN_ARRAYS + TASK_ARRAYS];
	const char *params[3 + RUN_ARRAYS + TASK_ARRAYS];
	char version[24];
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		sl_strbuf_init(&arrays[i]);
	for (size_t i = 0; i < nr; i++) {
		sl_pgarray_add(&arrays[0], runs[i].run_id);
		sl_pgarray_add(&arrays[1], runs[i].run_type);
		array_add_time(&arrays[2], runs[i].logical_date);
		array_add_time(&arrays[3], runs[i].interval_start);
		array_add_time(&arrays[4], runs[i].interval_end);
		sl_pgarray_add(&arrays[5], runs[i].conf);
	}
	task_arrays(pin->dag, &arrays[RUN_ARRAYS]);
	snprintf(version, sizeof(version), "%lld", (long long)pin->version_id);
	params[0] = pin->dag_id;
	params[1] = version;
	params[2] = pin->commit;
	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		params[3 + i] = sl_pgarray_end(&arrays[i]);

	rc = sl_db_q(db, SL_Q_RUNS_CREATE, (int)SL_ARRAY_SIZE(params), params, &r, err);
	/* The unique constraints decided what was skipped: of two creators, one
	 * wins. The caller's transaction rolls the others back. */
	if (!rc && !(flags & SL_RUNS_SKIP_EXISTING) && (size_t)PQntuples(r) != nr) {
		rc = SL_ERR;
		if (nr == 1)
			sl_strbuf_addf(err, "run '%s' of DAG '%s' already exists", runs[0].run_id,
			               pin->dag_id);
		else
			sl_strbuf_addf(err, "a run of DAG '%s' in this batch already exists",
			               pin->dag_id);
	}
	if (rc)
		goto out;
	match_created(runs, nr, r);
	if (created)
		*created = (size_t)PQntuples(r);
	if (who)
		rc = audit_create(db, who, pin, runs, nr, (size_t)PQntuples(r), err);
out:
	PQclear(r);
	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		sl_strbuf_release(&arrays[i]);
	return rc;
}

int sl_runs_notify(struct sl_db *db, const char *event, const char *dag_id, struct sl_strbuf *err)
{
	char *payload = sl_xasprintf("%s %s", event, dag_id);
	const char *params[] = {payload};
	int rc = sl_db_q(db, SL_Q_RUNS_NOTIFY, 1, params, NULL, err);

	free(payload);
	return rc;
}

int sl_runs_listen(struct sl_db *db, struct sl_strbuf *err)
{
	return sl_db_q(db, SL_Q_RUNS_LISTEN, 0, NULL, NULL, err);
}

/* ---- finding a run ------------------------------------------------------ */

int sl_run_dag_check(struct sl_db *db, const char *dag_id, struct sl_strbuf *err)
{
	const char *params[] = {dag_id};
	PGresult *r = NULL;
	int rc = sl_db_q_idempotent(db, SL_Q_RUNS_DAG_EXISTS, 1, params, &r, err);

	if (!rc && PQntuples(r) != 1)
		rc = no_dag(db, dag_id, err);
	PQclear(r);
	return rc;
}

static int no_task(struct sl_db *db, const char *dag_id, const char *run_id, int64_t run_pk,
                   const char *task_id, struct sl_strbuf *err)
{
	char pk[24];

	snprintf(pk, sizeof(pk), "%lld", (long long)run_pk);
	sl_strbuf_addf(err, "run '%s' of DAG '%s' has no task '%s'", run_id, dag_id, task_id);
	add_suggestion(db, SL_Q_RUNS_TASK_IDS, pk, task_id, err);
	return SL_ENOENT;
}

int sl_run_lookup(struct sl_db *db, const char *dag_id, const char *run_id, const char *task_id,
                  struct sl_run_ref *ref, struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id, task_id};
	PGresult *r = NULL;
	int rc;

	memset(ref, 0, sizeof(*ref));
	rc = sl_db_q_idempotent(db, SL_Q_RUNS_LOOKUP, 3, params, &r, err);
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = no_dag(db, dag_id, err);
		goto out;
	}
	if (PQgetisnull(r, 0, 0)) {
		sl_strbuf_addf(err, "no run '%s' of DAG '%s'", run_id, dag_id);
		rc = SL_ENOENT;
		goto out;
	}
	ref->run_pk = parse_int64(PQgetvalue(r, 0, 0));
	copy_state(ref->state, sizeof(ref->state), PQgetvalue(r, 0, 1));
	if (!task_id)
		goto out;
	if (PQgetisnull(r, 0, 2)) {
		rc = no_task(db, dag_id, run_id, ref->run_pk, task_id, err);
		goto out;
	}
	ref->ti_id = parse_int64(PQgetvalue(r, 0, 2));
	copy_state(ref->ti_state, sizeof(ref->ti_state), PQgetvalue(r, 0, 3));
	ref->ti_try_number = atoi(PQgetvalue(r, 0, 4));
	ref->ti_callback = !strcmp(PQgetvalue(r, 0, 5), "t");
out:
	PQclear(r);
	return rc;
}

/* ---- cancel ------------------------------------------------------------- */

/* Lock the run's row, so that its state cannot change under the caller. */
static int lock_run(struct sl_db *db, struct sl_run_ref *ref, struct sl_strbuf *err)
{
	char pk[24];
	const char *params[] = {pk};
	PGresult *r = NULL;
	int rc;

	snprintf(pk, sizeof(pk), "%lld", (long long)ref->run_pk);
	rc = sl_db_q(db, SL_Q_RUNS_LOCK, 1, params, &r, err);
	if (!rc && PQntuples(r) == 1)
		copy_state(ref->state, sizeof(ref->state), PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int sl_run_cancel(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                  const char *run_id, struct sl_run_change *out, struct sl_strbuf *err)
{
	struct sl_run_ref ref;
	char *target;
	char pk[24];
	const char *params[] = {pk};
	PGresult *r = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sl_run_lookup(db, dag_id, run_id, NULL, &ref, err);
	if (!rc)
		rc = lock_run(db, &ref, err);
	if (rc)
		return rc;
	copy_state(out->prev_state, sizeof(out->prev_state), ref.state);
	if (sl_run_state_final(ref.state)) {
		sl_strbuf_addf(err, "run '%s' of DAG '%s' is already %s", run_id, dag_id,
		               ref.state);
		return SL_ERR;
	}
	snprintf(pk, sizeof(pk), "%lld", (long long)ref.run_pk);
	rc = sl_db_q(db, SL_Q_RUNS_CANCEL, 1, params, &r, err);
	if (!rc) {
		out->tasks = (size_t)parse_int64(PQgetvalue(r, 0, 0));
		out->attempts = (size_t)parse_int64(PQgetvalue(r, 0, 1));
		target = sl_xasprintf("%s %s", dag_id, run_id);
		rc = sl_audit_add(db, who, "runs cancel", target, err);
		free(target);
	}
	PQclear(r);
	return rc;
}

/* ---- moving runs to the current version (--latest) ---------------------- */

void sl_run_repin_release(struct sl_run_repin *repin)
{
	free(repin->from_commit);
	free(repin->to_commit);
	sl_task_ids_release(&repin->added);
	sl_task_ids_release(&repin->removed);
	*repin = (struct sl_run_repin)SL_RUN_REPIN_INIT;
}

static void task_ids_add(struct sl_task_ids *ids, const char *id)
{
	SL_ALLOC_GROW(ids->items, ids->nr + 1, ids->alloc);
	ids->items[ids->nr++] = sl_xstrdup(id);
}

/*
 * Move the runs `run_pks` (an array literal) to `pin`'s version and commit:
 * tasks the version no longer has become removed, new ones pending
 * (runs_repin says exactly how). `from_commit` is where they were.
 */
static int repin_runs(struct sl_db *db, const char *run_pks, size_t nruns, const char *from_commit,
                      const struct sl_run_pin *pin, struct sl_run_repin *repin, size_t *attempts,
                      struct sl_strbuf *err)
{
	struct sl_strbuf arrays[TASK_ARRAYS];
	const char *params[4 + TASK_ARRAYS];
	char version[24], *reason;
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		sl_strbuf_init(&arrays[i]);
	task_arrays(pin->dag, arrays);
	snprintf(version, sizeof(version), "%lld", (long long)pin->version_id);
	reason = sl_xasprintf("not in the DAG's version at commit %.12s, which the run moved to",
	                      pin->commit);
	params[0] = run_pks;
	params[1] = version;
	params[2] = pin->commit;
	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		params[3 + i] = sl_pgarray_end(&arrays[i]);
	params[3 + TASK_ARRAYS] = reason;
	rc = sl_db_q(db, SL_Q_RUNS_REPIN, (int)SL_ARRAY_SIZE(params), params, &r, err);
	if (rc)
		goto out;
	for (int row = 0; row < PQntuples(r); row++) {
		if (!PQgetisnull(r, row, 0))
			task_ids_add(&repin->added, PQgetvalue(r, row, 0));
		else if (!PQgetisnull(r, row, 1))
			task_ids_add(&repin->removed, PQgetvalue(r, row, 1));
		else
			*attempts += (size_t)parse_int64(PQgetvalue(r, row, 2));
	}
	repin->runs += nruns;
	free(repin->from_commit);
	repin->from_commit = sl_xstrdup(from_commit);
	free(repin->to_commit);
	repin->to_commit = sl_xstrdup(pin->commit);
out:
	PQclear(r);
	free(reason);
	for (size_t i = 0; i < SL_ARRAY_SIZE(arrays); i++)
		sl_strbuf_release(&arrays[i]);
	return rc;
}

/* ---- clear -------------------------------------------------------------- */

static int clear_tis(struct sl_db *db, const char *run_pks, const char *task_ids, PGresult **res,
                     struct sl_run_change *out, struct sl_strbuf *err)
{
	const char *params[] = {run_pks, task_ids};
	int rc = sl_db_q(db, SL_Q_RUNS_CLEAR, 2, params, res, err);

	if (!rc) {
		out->tasks = (size_t)PQntuples(*res);
		out->attempts = out->tasks ? (size_t)parse_int64(PQgetvalue(*res, 0, 1)) : 0;
	}
	return rc;
}

void sl_task_ids_release(struct sl_task_ids *ids)
{
	for (size_t i = 0; i < ids->nr; i++)
		free(ids->items[i]);
	free(ids->items);
	*ids = (struct sl_task_ids)SL_TASK_IDS_INIT;
}

/*
 * A run's DAG (its pinned one, or the version it is about to move to) and
 * the state of each of its tasks (by index), and the run's commit.
 */
struct run_graph {
	const struct sl_dag *dag;
	struct sl_dag *pinned; /* owned, when `dag` is the run's own */
	const char **state;    /* borrowed from the result; NULL: no task instance */
	const char *commit;    /* borrowed from the result */
	PGresult *res;
};

static void run_graph_release(struct run_graph *g)
{
	sl_dag_free(g->pinned);
	free(g->state);
	PQclear(g->res);
}

/* `latest`: read the states into that DAG's graph rather than the pinned one's. */
static int run_graph_load(struct sl_db *db, int64_t run_pk, const struct sl_dag *latest,
                          struct run_graph *g, struct sl_strbuf *err)
{
	struct sl_strbuf why = SL_STRBUF_INIT;
	char pk[24];
	const char *params[] = {pk};
	int rc;

	snprintf(pk, sizeof(pk), "%lld", (long long)run_pk);
	rc = sl_db_q(db, SL_Q_RUNS_TASKS, 1, params, &g->res, err);
	if (rc)
		goto out;
	if (!PQntuples(g->res)) {
		sl_strbuf_adds(err, "the run has no task instances");
		rc = SL_ERR;
		goto out;
	}
	g->commit = PQgetvalue(g->res, 0, 3);
	g->dag = latest;
	if (!latest) {
		if (dag_from_text(PQgetvalue(g->res, 0, 0), &g->pinned, &why) < 0) {
			sl_strbuf_addf(err, "the run's pinned definition is unreadable: %s",
			               why.buf);
			rc = SL_ERR;
			goto out;
		}
		g->dag = g->pinned;
	}
	g->state = sl_xcalloc(g->dag->tasks_nr, sizeof(*g->state));
	for (int i = 0; i < PQntuples(g->res); i++) {
		long t = sl_dag_task_index(g->dag, PQgetvalue(g->res, i, 1));

		if (t >= 0)
			g->state[t] = PQgetvalue(g->res, i, 2);
	}
out:
	sl_strbuf_release(&why);
	return rc;
}

static bool clearable_failed(const char *state)
{
	return state && (!strcmp(state, "failed") || !strcmp(state, "upstream_failed") ||
	                 !strcmp(state, "cancelled"));
}

/*
 * Which tasks to clear: the named ones (or all), then only the failed ones
 * with `failed_only`, then everything downstream of what is left.
 */
static int choose_tasks(const struct run_graph *g, const struct sl_clear_opts *opts,
                        const char *dag_id, const char *run_id, bool *chosen, struct sl_strbuf *err)
{
	const struct sl_dag *dag = g->dag;
	size_t n = dag->tasks_nr;
	bool *seed = sl_xcalloc(n, sizeof(*seed));

	for (size_t i = 0; i < opts->tasks_nr; i++) {
		long t = sl_dag_task_index(dag, opts->tasks[i]);

		if (t < 0) {
			struct sl_suggest s;

			sl_suggest_init(&s, opts->tasks[i]);
			for (size_t j = 0; j < n; j++)
				sl_suggest_consider(&s, dag->tasks[j].id);
			if (opts->latest)
				sl_strbuf_addf(err,
				               "the current version of DAG '%s' has no task '%s'",
				               dag_id, opts->tasks[i]);
			else
				sl_strbuf_addf(err, "run '%s' of DAG '%s' has no task '%s'", run_id,
				               dag_id, opts->tasks[i]);
			if (s.best)
				sl_strbuf_addf(err, " (did you mean '%s'?)", s.best);
			free(seed);
			return SL_ENOENT;
		}
		seed[t] = true;
	}
	for (size_t i = 0; i < n; i++) {
		chosen[i] = (opts->tasks_nr == 0 || seed[i]) && g->state[i] &&
		            (!opts->failed_only || clearable_failed(g->state[i]));
	}
	if (opts->downstream) {
		struct sl_dag_walk below;

		sl_dag_walk_init(&below, dag);
		for (size_t i = 0; i < n; i++)
			if (chosen[i])
				sl_dag_walk_add_descendants(&below, i);
		for (size_t i = 0; i < n; i++)
			chosen[i] = chosen[i] || sl_dag_walk_marked(&below, i);
		sl_dag_walk_release(&below);
	}
	free(seed);
	return 0;
}

/* "DAG RUN tasks=a,b" (tasks=- when none), with " latest" for --latest. */
static int audit_clear(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                       const char *run_id, const struct sl_clear_opts *opts,
                       const struct sl_task_ids *cleared, struct sl_strbuf *err)
{
	struct sl_strbuf target = SL_STRBUF_INIT;
	int rc;

	sl_strbuf_addf(&target, "%s %s tasks=", dag_id, run_id);
	for (size_t i = 0; i < cleared->nr; i++)
		sl_strbuf_addf(&target, "%s%s", i ? "," : "", cleared->items[i]);
	if (!cleared->nr)
		sl_strbuf_adds(&target, "-");
	if (opts->latest)
		sl_strbuf_adds(&target, " latest");
	rc = sl_audit_add(db, who, "tasks clear", target.buf, err);
	sl_strbuf_release(&target);
	return rc;
}

int sl_run_clear(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                 const char *run_id, const struct sl_clear_opts *opts, struct sl_task_ids *cleared,
                 struct sl_run_repin *repin, struct sl_run_change *out, struct sl_strbuf *err)
{
	struct sl_strbuf pks = SL_STRBUF_INIT, ids = SL_STRBUF_INIT;
	struct run_graph g = {NULL, NULL, NULL, NULL, NULL};
	struct sl_run_pin pin = SL_RUN_PIN_INIT;
	struct sl_run_ref ref;
	PGresult *r = NULL;
	bool *chosen = NULL;
	size_t moved = 0; /* attempts of removed tasks ended by the move */
	int rc;

	memset(out, 0, sizeof(*out));
	sl_task_ids_release(cleared);
	if (opts->latest)
		sl_run_repin_release(repin);
	rc = sl_run_lookup(db, dag_id, run_id, NULL, &ref, err);
	if (!rc)
		rc = lock_run(db, &ref, err);
	if (!rc && opts->latest) {
		rc = sl_run_pin_load(db, dag_id, &pin, err);
		if (!rc)
			rc = sl_run_pin_check_latest(&pin, err);
	}
	if (!rc)
		rc = run_graph_load(db, ref.run_pk, pin.dag, &g, err);
	if (rc)
		goto out;
	copy_state(out->prev_state, sizeof(out->prev_state), ref.state);
	chosen = sl_xcalloc(g.dag->tasks_nr, sizeof(*chosen));
	rc = choose_tasks(&g, opts, dag_id, run_id, chosen, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < g.dag->tasks_nr; i++)
		if (chosen[i])
			sl_pgarray_add(&ids, g.dag->tasks[i].id);
	if (!ids.len)
		goto audit; /* nothing to clear */
	sl_pgarray_add_int(&pks, ref.run_pk);
	sl_pgarray_end(&pks);
	/* The clear then reads the retries of the version the run moved to. */
	if (opts->latest)
		rc = repin_runs(db, pks.buf, 1, g.commit, &pin, repin, &moved, err);
	if (!rc)
		rc = clear_tis(db, pks.buf, sl_pgarray_end(&ids), &r, out, err);
	if (rc)
		goto out;
	out->attempts += moved;
	/* Report in file order, whatever order the UPDATE returned. */
	for (size_t i = 0; i < g.dag->tasks_nr; i++) {
		for (int row = 0; row < PQntuples(r); row++) {
			if (strcmp(PQgetvalue(r, row, 0), g.dag->tasks[i].id))
				continue;
			SL_ALLOC_GROW(cleared->items, cleared->nr + 1, cleared->alloc);
			cleared->items[cleared->nr++] = sl_xstrdup(g.dag->tasks[i].id);
			break;
		}
	}
audit:
	rc = audit_clear(db, who, dag_id, run_id, opts, cleared, err);
out:
	PQclear(r);
	free(chosen);
	run_graph_release(&g);
	sl_run_pin_release(&pin);
	sl_strbuf_release(&pks);
	sl_strbuf_release(&ids);
	return rc;
}

int sl_runs_reset(struct sl_db *db, const char *dag_id, const struct sl_run_new *runs, size_t nr,
                  const struct sl_run_pin *latest, struct sl_run_repin *repin, size_t *runs_reset,
                  size_t *tasks, struct sl_strbuf *err)
{
	struct sl_strbuf dates = SL_STRBUF_INIT, pks = SL_STRBUF_INIT;
	struct sl_run_change change = {0, 0, ""};
	const char *params[2] = {dag_id, NULL};
	PGresult *r = NULL;
	size_t moved = 0;
	int rc = 0, found = 0;

	if (latest)
		sl_run_repin_release(repin);
	for (size_t i = 0; i < nr; i++)
		if (!runs[i].run_pk)
			array_add_time(&dates, runs[i].logical_date);
	if (!dates.len)
		goto out;
	params[1] = sl_pgarray_end(&dates);
	rc = sl_db_q(db, SL_Q_RUNS_AT_DATES, 2, params, &r, err);
	if (rc)
		goto out;
	found = PQntuples(r);
	for (int i = 0; i < found; i++)
		sl_pgarray_add(&pks, PQgetvalue(r, i, 0));
	sl_pgarray_end(&pks);
	if (found && latest)
		rc = repin_runs(db, pks.buf, (size_t)found, PQgetvalue(r, found - 1, 1), latest,
		                repin, &moved, err);
	PQclear(r);
	r = NULL;
	if (found && !rc)
		rc = clear_tis(db, pks.buf, NULL, &r, &change, err);
out:
	if (runs_reset)
		*runs_reset = rc ? 0 : (size_t)found;
	if (tasks)
		*tasks = change.tasks;
	PQclear(r);
	sl_strbuf_release(&dates);
	sl_strbuf_release(&pks);
	return rc;
}

int sl_runs_existing(struct sl_db *db, const char *dag_id, const struct sl_run_new *runs, size_t nr,
                     char **found, struct sl_strbuf *err)
{
	struct sl_strbuf dates = SL_STRBUF_INIT, ids = SL_STRBUF_INIT;
	const char *params[3] = {dag_id, NULL, NULL};
	PGresult *r = NULL;
	size_t *which = sl_xcalloc(nr ? nr : 1, sizeof(*which));
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < nr; i++) {
		free(found[i]);
		found[i] = NULL;
		if (runs[i].run_pk)
			continue;
		array_add_time(&dates, runs[i].logical_date);
		sl_pgarray_add(&ids, runs[i].run_id);
		which[n++] = i;
	}
	if (!n)
		goto out;
	params[1] = sl_pgarray_end(&dates);
	params[2] = sl_pgarray_end(&ids);
	rc = sl_db_q(db, SL_Q_RUNS_EXISTING, 3, params, &r, err);
	if (rc)
		goto out;
	if ((size_t)PQntuples(r) != n) {
		sl_strbuf_addf(err, "looking up the existing runs of DAG '%s' gave %d rows for %zu",
		               dag_id, PQntuples(r), n);
		rc = SL_ERR;
		goto out;
	}
	/* A run deleted since the insert skipped it leaves NULL: none stands. */
	for (size_t k = 0; k < n; k++)
		if (!PQgetisnull(r, (int)k, 0))
			found[which[k]] = sl_xstrdup(PQgetvalue(r, (int)k, 0));
out:
	PQclear(r);
	free(which);
	sl_strbuf_release(&dates);
	sl_strbuf_release(&ids);
	return rc;
}

/* ---- mark --------------------------------------------------------------- */

int sl_task_mark(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                 const char *run_id, const char *task_id, const char *state,
                 struct sl_run_change *out, struct sl_strbuf *err)
{
	struct sl_run_ref ref;
	char ti[24];
	const char *params[] = {ti, state, who->name};
	PGresult *r = NULL;
	char *target;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(state, "success") && strcmp(state, "failed")) {
		sl_strbuf_addf(err, "a task can be marked success or failed, not '%s'", state);
		return SL_EINVAL;
	}
	rc = sl_run_lookup(db, dag_id, run_id, task_id, &ref, err);
	if (!rc && ref.ti_callback)
		rc = no_task(db, dag_id, run_id, ref.run_pk, task_id, err);
	if (rc)
		return rc;
	copy_state(out->prev_state, sizeof(out->prev_state), ref.ti_state);
	snprintf(ti, sizeof(ti), "%lld", (long long)ref.ti_id);
	rc = sl_db_q(db, SL_Q_RUNS_MARK, 3, params, &r, err);
	if (!rc) {
		out->tasks = (size_t)parse_int64(PQgetvalue(r, 0, 0));
		out->attempts = (size_t)parse_int64(PQgetvalue(r, 0, 1));
		target = sl_xasprintf("%s %s %s state=%s", dag_id, run_id, task_id, state);
		rc = sl_audit_add(db, who, "tasks mark", target, err);
		free(target);
	}
	PQclear(r);
	return rc;
}
