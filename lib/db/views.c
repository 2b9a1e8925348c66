/*
 * The CLI's views: read-only statements run by id, with typed arguments,
 * their rows behind a small accessor.
 */
#include "sluice/views.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/pgarray.h"
#include "sluice/runstore.h"
#include "sluice/banned.h"

struct sl_rows {
	PGresult *res;
};

int sl_rows_nr(const struct sl_rows *rows)
{
	return PQntuples(rows->res);
}

const char *sl_rows_value(const struct sl_rows *rows, int row, int col)
{
	return PQgetvalue(rows->res, row, col);
}

bool sl_rows_null(const struct sl_rows *rows, int row, int col)
{
	return PQgetisnull(rows->res, row, col) != 0;
}

const char *sl_rows_str(const struct sl_rows *rows, int row, int col)
{
	return sl_rows_null(rows, row, col) ? NULL : sl_rows_value(rows, row, col);
}

int64_t sl_rows_int(const struct sl_rows *rows, int row, int col, int64_t dflt)
{
	const char *s = sl_rows_str(rows, row, col);
	char *end;
	long long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return dflt;
	return v;
}

bool sl_rows_bool(const struct sl_rows *rows, int row, int col)
{
	const char *s = sl_rows_str(rows, row, col);

	return s && s[0] == 't';
}

void sl_rows_free(struct sl_rows *rows)
{
	if (!rows)
		return;
	PQclear(rows->res);
	free(rows);
}

static int view(struct sl_db *db, enum sl_query q, int nparams, const char *const *params,
                struct sl_rows **out, struct sl_strbuf *err)
{
	PGresult *r = NULL;
	int rc = sl_db_q_idempotent(db, q, nparams, params, &r, err);

	*out = NULL;
	if (rc)
		return rc;
	*out = sl_xcalloc(1, sizeof(**out));
	(*out)->res = r;
	return 0;
}

/* A number as a statement parameter. */
struct num {
	char buf[24];
};

static const char *num(struct num *n, int64_t v)
{
	snprintf(n->buf, sizeof(n->buf), "%lld", (long long)v);
	return n->buf;
}

int sl_view_dag_definition(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                           struct sl_strbuf *err)
{
	const char *params[] = {dag_id};

	return view(db, SL_Q_DAGS_DEFINITION, 1, params, out, err);
}

int sl_view_dags(struct sl_db *db, const char *dag_id, struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {dag_id};

	return view(db, SL_Q_DAGS_LIST, 1, params, out, err);
}

int sl_view_load_errors(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_DAGS_ERRORS, 0, NULL, out, err);
}

int sl_view_dag_versions(struct sl_db *db, const char *dag_id, long limit, struct sl_rows **out,
                         struct sl_strbuf *err)
{
	struct num n;
	const char *params[] = {dag_id, num(&n, limit)};

	return view(db, SL_Q_DAGS_VERSIONS, 2, params, out, err);
}

int sl_view_dag_errors(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                       struct sl_strbuf *err)
{
	const char *params[] = {dag_id};

	return view(db, SL_Q_DAGS_DAG_ERRORS, 1, params, out, err);
}

int sl_view_dag_source(struct sl_db *db, const char *dag_id, const char *commit,
                       struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {dag_id, commit};

	return view(db, SL_Q_DAGS_SOURCE, 2, params, out, err);
}

int sl_view_web_metrics(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_METRICS_WEB, 0, NULL, out, err);
}

int sl_view_pools(struct sl_db *db, const char *name, struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {name};

	return view(db, SL_Q_POOLS_LIST, 1, params, out, err);
}

int sl_view_runs(struct sl_db *db, const char *dag_id, const char *state, long limit,
                 struct sl_rows **out, struct sl_strbuf *err)
{
	struct num n;
	const char *params[] = {dag_id, state, num(&n, limit)};

	return view(db, SL_Q_RUNS_LIST, 3, params, out, err);
}

int sl_view_runs_grid(struct sl_db *db, const char *dag_id, long runs, struct sl_rows **out,
                      struct sl_strbuf *err)
{
	struct num n;
	const char *params[] = {dag_id, num(&n, runs)};

	return view(db, SL_Q_RUNS_GRID, 2, params, out, err);
}

int sl_view_runs_page(struct sl_db *db, const struct sl_runs_page *q, struct sl_rows **out,
                      struct sl_strbuf *err)
{
	struct num since, until, after, pk, limit;
	const char *params[] = {q->dag_id,
	                        q->state,
	                        q->run_type,
	                        q->has_since ? num(&since, q->since_us) : NULL,
	                        q->has_until ? num(&until, q->until_us) : NULL,
	                        q->has_after ? num(&after, q->after_us) : NULL,
	                        q->has_after ? num(&pk, q->after_pk) : NULL,
	                        num(&limit, q->limit)};

	return view(db, SL_Q_RUNS_PAGE, 8, params, out, err);
}

int sl_view_run(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **out,
                struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id};

	return view(db, SL_Q_RUNS_SHOW, 2, params, out, err);
}

int sl_view_run_tries(struct sl_db *db, const char *dag_id, const char *run_id,
                      struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id};

	return view(db, SL_Q_RUNS_TRIES, 2, params, out, err);
}

int sl_view_run_states(struct sl_db *db, const char *dag_id, const char *const *run_ids, size_t nr,
                       struct sl_rows **out, struct sl_strbuf *err)
{
	struct sl_strbuf ids = SL_STRBUF_INIT;
	const char *params[2] = {dag_id, NULL};
	int rc;

	for (size_t i = 0; i < nr; i++)
		sl_pgarray_add(&ids, run_ids[i]);
	params[1] = sl_pgarray_end(&ids);
	rc = view(db, SL_Q_RUNS_STATES, 2, params, out, err);
	sl_strbuf_release(&ids);
	return rc;
}

int sl_view_run_latest(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                       struct sl_strbuf *err)
{
	const char *params[] = {dag_id};

	return view(db, SL_Q_RUNS_LATEST, 1, params, out, err);
}

int sl_view_run_callbacks(struct sl_db *db, const char *dag_id, const char *run_id,
                          struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id};

	return view(db, SL_Q_RUNS_CALLBACKS, 2, params, out, err);
}

int sl_view_task_attempt(struct sl_db *db, int64_t ti_id, long try_number, long poke_number,
                         struct sl_rows **out, struct sl_strbuf *err)
{
	struct num ti, t, p;
	const char *params[] = {num(&ti, ti_id), try_number ? num(&t, try_number) : NULL,
	                        poke_number ? num(&p, poke_number) : NULL};

	return view(db, SL_Q_TASKS_ATTEMPT, 3, params, out, err);
}

int sl_view_log_index(struct sl_db *db, const char *attempt_id, struct sl_rows **out,
                      struct sl_strbuf *err)
{
	const char *params[] = {attempt_id};

	return view(db, SL_Q_TASKS_LOG_INDEX, 1, params, out, err);
}

int sl_view_log_chunk_span(struct sl_db *db, const char *attempt_id, long from_seq, long to_seq,
                           struct sl_rows **out, struct sl_strbuf *err)
{
	struct num a, b;
	const char *params[] = {attempt_id, num(&a, from_seq), num(&b, to_seq)};

	return view(db, SL_Q_TASKS_LOG_CHUNK_SPAN, 3, params, out, err);
}

int sl_view_log_chunks(struct sl_db *db, const char *attempt_id, long seq, struct sl_rows **out,
                       struct sl_strbuf *err)
{
	struct num s;
	const char *params[] = {attempt_id, num(&s, seq)};

	return view(db, SL_Q_TASKS_LOG_CHUNKS, 2, params, out, err);
}

int sl_view_lease(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_STATUS_LEASE, 0, NULL, out, err);
}

int sl_view_source(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_STATUS_SOURCE, 0, NULL, out, err);
}

int sl_view_worker_counts(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                          struct sl_strbuf *err)
{
	struct num t;
	const char *params[] = {num(&t, heartbeat_timeout)};

	return view(db, SL_Q_STATUS_WORKER_COUNTS, 1, params, out, err);
}

int sl_view_workers(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                    struct sl_strbuf *err)
{
	struct num t;
	const char *params[] = {num(&t, heartbeat_timeout)};

	return view(db, SL_Q_STATUS_WORKERS, 1, params, out, err);
}

int sl_view_queues(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                   struct sl_strbuf *err)
{
	struct num t;
	const char *params[] = {num(&t, heartbeat_timeout)};

	return view(db, SL_Q_STATUS_QUEUES, 1, params, out, err);
}

int sl_view_unserved_queues(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                            struct sl_strbuf *err)
{
	struct num t;
	const char *params[] = {num(&t, heartbeat_timeout)};

	return view(db, SL_Q_STATUS_UNSERVED, 1, params, out, err);
}

int sl_view_live_runs(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_STATUS_LIVE_RUNS, 0, NULL, out, err);
}

int sl_view_users(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_ACCOUNTS_USERS_LIST, 0, NULL, out, err);
}

int sl_view_tokens(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err)
{
	return view(db, SL_Q_ACCOUNTS_TOKENS_LIST, 0, NULL, out, err);
}

int sl_view_audit(struct sl_db *db, long limit, struct sl_rows **out, struct sl_strbuf *err)
{
	struct num n;
	const char *params[] = {num(&n, limit)};

	return view(db, SL_Q_ACCOUNTS_AUDIT_LIST, 1, params, out, err);
}

int sl_view_complete_dags(struct sl_db *db, const char *prefix, struct sl_rows **out,
                          struct sl_strbuf *err)
{
	const char *params[] = {prefix};

	return view(db, SL_Q_COMPLETE_DAGS, 1, params, out, err);
}

int sl_view_complete_runs(struct sl_db *db, const char *dag_id, const char *prefix,
                          struct sl_rows **out, struct sl_strbuf *err)
{
	const char *params[] = {dag_id, prefix};

	return view(db, SL_Q_COMPLETE_RUNS, 2, params, out, err);
}

int sl_run_id_resolve(struct sl_db *db, const char *dag_id, const char **run_id,
                      struct sl_strbuf *hold, struct sl_strbuf *err)
{
	struct sl_rows *r = NULL;
	int rc;

	if (strcmp(*run_id, "latest"))
		return 0;
	rc = sl_view_run_latest(db, dag_id, &r, err);
	if (!rc && !sl_rows_nr(r)) {
		rc = sl_run_dag_check(db, dag_id, err);
		if (!rc) {
			sl_strbuf_addf(err, "DAG '%s' has no run yet: 'latest' names none", dag_id);
			rc = SL_ENOENT;
		}
	}
	if (!rc) {
		sl_strbuf_reset(hold);
		sl_strbuf_adds(hold, sl_rows_value(r, 0, 0));
		*run_id = hold->buf;
	}
	sl_rows_free(r);
	return rc;
}
