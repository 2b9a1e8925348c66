#ifndef SLUICE_VIEWS_H
#define SLUICE_VIEWS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/views.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * What the CLI shows, read from PostgreSQL: each view is one read-only
 * statement of lib/db/sql (named beside each function), run with
 * sl_db_q_idempotent, whose rows come back as a `struct sl_rows`. A view's
 * columns are in the order its statement selects them; the statement's
 * comment says what they mean. Times are whole seconds since the epoch
 * unless the statement says microseconds. Errors are the sl_db codes with
 * one sentence in `err`; `*out` is then NULL.
 */

/** The rows of a view, read by row and column (both from 0). */
struct sl_rows;

int sl_rows_nr(const struct sl_rows *rows);
/** A cell's text; "" when it is SQL NULL (as libpq gives it). */
const char *sl_rows_value(const struct sl_rows *rows, int row, int col);
/** A cell's text; NULL when it is SQL NULL. */
const char *sl_rows_str(const struct sl_rows *rows, int row, int col);
bool sl_rows_null(const struct sl_rows *rows, int row, int col);
/** A cell as an integer; `dflt` for NULL or a value that is not one. */
int64_t sl_rows_int(const struct sl_rows *rows, int row, int col, int64_t dflt);
/** A boolean cell: true for 't'. */
bool sl_rows_bool(const struct sl_rows *rows, int row, int col);
/** NULL is allowed. */
void sl_rows_free(struct sl_rows *rows);

/** dags_definition: the stored definition of DAG `dag_id`'s latest version. */
int sl_view_dag_definition(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                           struct sl_strbuf *err);
/** dags_list: one row per DAG, or only `dag_id`'s when it is not NULL. */
int sl_view_dags(struct sl_db *db, const char *dag_id, struct sl_rows **out, struct sl_strbuf *err);
/** dags_errors: the load errors at the current commit. */
int sl_view_load_errors(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);

/** dags_versions: the newest `limit` versions of DAG `dag_id`, newest first. */
int sl_view_dag_versions(struct sl_db *db, const char *dag_id, long limit, struct sl_rows **out,
                         struct sl_strbuf *err);
/** dags_dag_errors: the load errors of DAG `dag_id` at the current commit. */
int sl_view_dag_errors(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                       struct sl_strbuf *err);
/**
 * dags_source: the version of DAG `dag_id` at `commit` (lowercase hex, full
 * or abbreviated): none, one, or two when the abbreviation is ambiguous.
 */
int sl_view_dag_source(struct sl_db *db, const char *dag_id, const char *commit,
                       struct sl_rows **out, struct sl_strbuf *err);

/** pools_list: every pool, or only `name` when it is not NULL. */
/**
 * metrics_web: sluice-web's /metrics from the database, one row per sample
 * (family, label, label, value); see lib/db/sql/metrics.sql.
 */
int sl_view_web_metrics(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);
int sl_view_pools(struct sl_db *db, const char *name, struct sl_rows **out, struct sl_strbuf *err);

/** runs_list: the latest `limit` runs of `dag_id` (NULL: all) in `state` (NULL: any). */
int sl_view_runs(struct sl_db *db, const char *dag_id, const char *state, long limit,
                 struct sl_rows **out, struct sl_strbuf *err);
/** What runs_page selects: NULL / false for "any". Times in microseconds. */
struct sl_runs_page {
	const char *dag_id;
	const char *state;
	const char *run_type;
	bool has_since, has_until, has_after;
	int64_t since_us, until_us;
	int64_t after_us, after_pk; /* the cursor: the last row of the previous page */
	long limit;
};

/** runs_page: one page of a DAG's runs, newest first (keyset, no OFFSET). */
int sl_view_runs_page(struct sl_db *db, const struct sl_runs_page *q, struct sl_rows **out,
                      struct sl_strbuf *err);
/** runs_grid: the `runs` newest runs of `dag_id` and their tasks (the grid view). */
int sl_view_runs_grid(struct sl_db *db, const char *dag_id, long runs, struct sl_rows **out,
                      struct sl_strbuf *err);
/** runs_show: run `run_id` of `dag_id` and its tasks; no row when there is no such run. */
int sl_view_run(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **out,
                struct sl_strbuf *err);
/** runs_tries: every attempt of the run's tasks, by task instance then try. */
int sl_view_run_tries(struct sl_db *db, const char *dag_id, const char *run_id,
                      struct sl_rows **out, struct sl_strbuf *err);
/** runs_states: (run id, state) of each run of `dag_id` among the `nr` `run_ids`. */
int sl_view_run_states(struct sl_db *db, const char *dag_id, const char *const *run_ids, size_t nr,
                       struct sl_rows **out, struct sl_strbuf *err);
/** runs_latest: the run id that the alias `latest` stands for; no row without runs. */
int sl_view_run_latest(struct sl_db *db, const char *dag_id, struct sl_rows **out,
                       struct sl_strbuf *err);
/**
 * The run id argument `*run_id` of DAG `dag_id`, as the CLI and the API
 * take it: the alias `latest` becomes the DAG's newest run (by logical
 * date; a run really named `latest` wins), whose id is kept in `hold`,
 * which must outlive `*run_id`. Any other id is left as it is.
 * SL_ENOENT, with the sentence, when the DAG has no run or does not exist.
 */
int sl_run_id_resolve(struct sl_db *db, const char *dag_id, const char **run_id,
                      struct sl_strbuf *hold, struct sl_strbuf *err);
/** runs_callbacks: the run's callbacks. */
int sl_view_run_callbacks(struct sl_db *db, const char *dag_id, const char *run_id,
                          struct sl_rows **out, struct sl_strbuf *err);

/**
 * tasks_attempt: task instance `ti_id`'s attempt of try `try_number` and
 * poke `poke_number` (0: the latest; a sensor's pokes share their try).
 */
int sl_view_task_attempt(struct sl_db *db, int64_t ti_id, long try_number, long poke_number,
                         struct sl_rows **out, struct sl_strbuf *err);
/** tasks_log_index: the seq and length of each chunk of `attempt_id`'s log. */
int sl_view_log_index(struct sl_db *db, const char *attempt_id, struct sl_rows **out,
                      struct sl_strbuf *err);
/** tasks_log_chunk_span: the chunks `from_seq` to `to_seq` of `attempt_id`'s log. */
int sl_view_log_chunk_span(struct sl_db *db, const char *attempt_id, long from_seq, long to_seq,
                           struct sl_rows **out, struct sl_strbuf *err);
/** tasks_log_chunks: the next chunks of `attempt_id`'s log, from `seq` on. */
int sl_view_log_chunks(struct sl_db *db, const char *attempt_id, long seq, struct sl_rows **out,
                       struct sl_strbuf *err);

/*
 * `sluice status` and `workers list`. `heartbeat_timeout` (seconds) is how
 * long a worker may be silent before it counts as lost.
 */
/** status_lease */
int sl_view_lease(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);
/** status_source */
int sl_view_source(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);
/** status_worker_counts */
int sl_view_worker_counts(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                          struct sl_strbuf *err);
/** status_workers */
int sl_view_workers(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                    struct sl_strbuf *err);
/** status_queues */
int sl_view_queues(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                   struct sl_strbuf *err);
/** status_unserved */
int sl_view_unserved_queues(struct sl_db *db, int64_t heartbeat_timeout, struct sl_rows **out,
                            struct sl_strbuf *err);
/** status_live_runs */
int sl_view_live_runs(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);

/** accounts_users_list: every user (name, role, created, active tokens). */
int sl_view_users(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);
/** accounts_tokens_list: every API token, never its hash. */
int sl_view_tokens(struct sl_db *db, struct sl_rows **out, struct sl_strbuf *err);
/** accounts_audit_list: the newest `limit` rows of the audit log, newest first. */
int sl_view_audit(struct sl_db *db, long limit, struct sl_rows **out, struct sl_strbuf *err);

/** complete_dags: the DAG ids that start with `prefix` ("" for all), sorted. */
int sl_view_complete_dags(struct sl_db *db, const char *prefix, struct sl_rows **out,
                          struct sl_strbuf *err);
/** complete_runs: the run ids of DAG `dag_id` that start with `prefix`, newest first. */
int sl_view_complete_runs(struct sl_db *db, const char *dag_id, const char *prefix,
                          struct sl_rows **out, struct sl_strbuf *err);

#endif
