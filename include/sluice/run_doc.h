#ifndef SLUICE_RUN_DOC_H
#define SLUICE_RUN_DOC_H

#ifndef SLUICE_LAYER_DB
#error "sluice/run_doc.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <jansson.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"

/**
 * Runs as `sluice runs list|show --json` and the API's run routes show
 * them (docs/json.md): one builder for both, so that the API's documents
 * are the CLI's by construction. The rows are the views' (sluice/views.h).
 */

/** The columns of runs_show (lib/db/sql/runs.sql), in the order it selects them. */
enum sl_run_show_col {
	SL_RUN_SHOW_STATE,
	SL_RUN_SHOW_COMMIT,
	SL_RUN_SHOW_TYPE,
	SL_RUN_SHOW_LOGICAL_DATE,
	SL_RUN_SHOW_STARTED,
	SL_RUN_SHOW_ENDED,
	SL_RUN_SHOW_NOW,
	SL_RUN_SHOW_TASK,
	SL_RUN_SHOW_TASK_STATE,
	SL_RUN_SHOW_TRY,
	SL_RUN_SHOW_MAX_TRIES,
	SL_RUN_SHOW_TASK_STARTED,
	SL_RUN_SHOW_TASK_ENDED,
	SL_RUN_SHOW_EXIT_CODE,
	SL_RUN_SHOW_SIGNAL,
	SL_RUN_SHOW_WORKER,
	SL_RUN_SHOW_REASON,
	SL_RUN_SHOW_OUTPUTS,
	SL_RUN_SHOW_CONF,
	SL_RUN_SHOW_INTERVAL_START,
	SL_RUN_SHOW_INTERVAL_END,
	SL_RUN_SHOW_OUTCOME,
	SL_RUN_SHOW_MARKED_BY,
	SL_RUN_SHOW_TASK_COMMIT,
	SL_RUN_SHOW_COMMITS,
	SL_RUN_SHOW_POKE, /* of the latest attempt; NULL before one */
};

/** The columns of runs_tries: one row per attempt. */
enum sl_run_try_col {
	SL_RUN_TRY_TASK,
	SL_RUN_TRY_NUMBER,
	SL_RUN_TRY_STARTED,
	SL_RUN_TRY_ENDED,
	SL_RUN_TRY_OUTCOME,
	SL_RUN_TRY_EXIT_CODE,
	SL_RUN_TRY_SIGNAL,
	SL_RUN_TRY_WORKER,
	SL_RUN_TRY_STOP,
};

/** The columns of runs_callbacks: one row per callback. */
enum sl_run_cb_col {
	SL_RUN_CB_ID,
	SL_RUN_CB_STATE,
	SL_RUN_CB_TRY,
	SL_RUN_CB_STARTED,
	SL_RUN_CB_ENDED,
	SL_RUN_CB_NOW,
	SL_RUN_CB_EXIT_CODE,
	SL_RUN_CB_SIGNAL,
	SL_RUN_CB_WORKER,
};

/**
 * A microseconds cell (a timestamptz column selected as
 * `(extract(epoch FROM col) * 1000000)::bigint`, exact) as an ISO 8601
 * string with +00:00, or null.
 */
json_t *sl_run_time_json(const struct sl_rows *r, int row, int col);

/**
 * A run and its task instances, one row per task in the pinned file's
 * order (SL_RUN_SHOW_* columns). SL_ENOENT names the missing DAG or run
 * ("no DAG 'x'", "no run 'r' of DAG 'x'").
 */
int sl_run_show_load(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **res,
                     struct sl_strbuf *err);

/** The row of `tries` holding the latest attempt of `task`, or -1. */
int sl_run_latest_try(const struct sl_rows *tries, const char *task);
/** Which operator command stopped the latest attempt (row `last`), or NULL. */
const char *sl_run_latest_stop(const struct sl_rows *tries, int last);
/**
 * Why an attempt ended when its own exit code does not say it ("stopped by
 * runs cancel", "killed by signal 9", ...), in `sb`; NULL when it does.
 */
const char *sl_run_try_reason(struct sl_strbuf *sb, const char *outcome, const char *signal,
                              const char *stop);
/** The reason of task row `i`: the scheduler's (or the mark's), else its latest attempt's. */
const char *sl_run_task_reason(struct sl_strbuf *sb, const struct sl_rows *r, int i,
                               const struct sl_rows *tries, int last);
/** The outputs of task row `i`'s latest attempt; {} when it has none. */
json_t *sl_run_outputs_json(const struct sl_rows *r, int row);
/** The commits the run's tries ran on, oldest first. */
json_t *sl_run_commits_json(const struct sl_rows *r);

/**
 * The `runs show --json` object without its callbacks. `tries` is the
 * run's sl_view_run_tries, or NULL when they were not read (then no
 * "tries" and outcomes from the latest attempt alone).
 */
json_t *sl_run_show_json(const char *dag_id, const char *run_id, const struct sl_rows *r,
                         const struct sl_rows *tries);
/** Adds "callbacks": [...] (the rows of sl_view_run_callbacks) to a sl_run_show_json object. */
void sl_run_callbacks_json(json_t *show, const struct sl_rows *cb);

/**
 * The whole `runs show --json` document of run `run_id` of `dag_id`: its
 * rows, tries and callbacks read, then built. Errors as sl_run_show_load.
 */
int sl_run_show_doc(struct sl_db *db, const char *dag_id, const char *run_id, json_t **out,
                    struct sl_strbuf *err);

/**
 * The `runs list --json` array of the first `nr` rows of sl_view_runs or
 * sl_view_runs_page (their first seven columns are the same).
 */
json_t *sl_runs_list_json(const struct sl_rows *r, int nr);

/**
 * The runs of sl_view_runs_grid's rows, newest first, each a `runs list
 * --json` run with its `commit` and its `tasks` (task, state, try_number,
 * started_at, ended_at, exit_code, worker: the `runs show --json` fields
 * that a grid cell shows), in the run's definition order.
 */
json_t *sl_runs_grid_json(const struct sl_rows *r);

/**
 * The cursor of the page after row `row` of sl_view_runs_page's rows: its
 * logical date and run_pk, base64url-encoded (opaque to clients).
 */
void sl_runs_cursor(const struct sl_rows *r, int row, struct sl_strbuf *sb);
/** Reads a cursor back into `q->after_*`; -1 when `s` is not one. */
int sl_runs_cursor_parse(const char *s, struct sl_runs_page *q);

#endif
