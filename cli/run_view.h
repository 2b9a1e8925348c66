#ifndef SLUICE_CLI_RUN_VIEW_H
#define SLUICE_CLI_RUN_VIEW_H

/*
 * Reading and printing runs, shared by the run and task commands: the
 * `runs show` query and its two forms (table, JSON), time cells, and the
 * checks of DAG names and states that turn into exit codes.
 */

#include <jansson.h>
#include <libpq-fe.h>

#include "cli.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"
#include "table.h"

/* Print a library error; returns its exit code. */
int runs_fail(const struct sl_strbuf *err, int rc);

/*
 * A microseconds cell (a timestamptz column selected as
 * `(extract(epoch FROM col) * 1000000)::bigint`, exact) as an ISO 8601
 * string with +00:00, or null.
 */
json_t *runs_time_json(const struct sl_rows *r, int row, int col);
/* A microseconds cell as a table cell, to the second in UTC, or "-". */
void runs_time_cell(struct cli_table *t, const struct sl_rows *r, int row, int col);
/* The time from cell `start` to cell `end` (else to cell `now`), or "-". */
void runs_duration_cell(struct cli_table *t, const struct sl_rows *r, int row, int start, int end,
                        int now);

/* A usage error for an unknown run state, with "did you mean". */
int runs_bad_state(const struct cli_command *cmd, const char *state);

/*
 * A run and its task instances, one row per task in the pinned file's
 * order (RUNS_SHOW_* columns). SL_ENOENT names the missing DAG or run.
 */
int runs_show_load(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **res,
                   struct sl_strbuf *err);

enum {
	RUNS_SHOW_STATE,
	RUNS_SHOW_COMMIT,
	RUNS_SHOW_TYPE,
	RUNS_SHOW_LOGICAL_DATE,
	RUNS_SHOW_STARTED,
	RUNS_SHOW_ENDED,
	RUNS_SHOW_NOW,
	RUNS_SHOW_TASK,
	RUNS_SHOW_TASK_STATE,
	RUNS_SHOW_TRY,
	RUNS_SHOW_MAX_TRIES,
	RUNS_SHOW_TASK_STARTED,
	RUNS_SHOW_TASK_ENDED,
	RUNS_SHOW_EXIT_CODE,
	RUNS_SHOW_SIGNAL,
	RUNS_SHOW_WORKER,
	RUNS_SHOW_REASON,
	RUNS_SHOW_OUTPUTS,
	RUNS_SHOW_CONF,
	RUNS_SHOW_INTERVAL_START,
	RUNS_SHOW_INTERVAL_END,
	RUNS_SHOW_OUTCOME,
	RUNS_SHOW_MARKED_BY,
	RUNS_SHOW_TASK_COMMIT,
	RUNS_SHOW_COMMITS,
	RUNS_SHOW_POKE, /* of the latest attempt; NULL before one */
};

/* The columns of runs_tries (lib/db/sql/runs.sql): one row per attempt. */
enum {
	RUNS_TRY_TASK,
	RUNS_TRY_NUMBER,
	RUNS_TRY_STARTED,
	RUNS_TRY_ENDED,
	RUNS_TRY_OUTCOME,
	RUNS_TRY_EXIT_CODE,
	RUNS_TRY_SIGNAL,
	RUNS_TRY_WORKER,
	RUNS_TRY_STOP,
};

/*
 * trigger --wait (cli/run_wait.c): follow run `run_id` of `dag_id` until
 * it ends, printing each change of a task's state, try or poke; the run's
 * `runs show --json` object at the end with --json. Returns the command's
 * exit code: 0 when the run succeeded, 1 when it failed or was cancelled,
 * 4 when the database stayed unreachable.
 */
int runs_wait(struct cli *cli, struct sl_db *db, const char *dag_id, const char *run_id);

/*
 * Resolve the run id argument `*run_id` of DAG `dag_id`: the alias
 * `latest` becomes the DAG's newest run (by logical date; a run really
 * named `latest` wins), whose id is kept in `hold`, which must outlive
 * `*run_id`. Any other id is left as it is. SL_ENOENT when the DAG has no
 * run (or does not exist).
 */
int runs_id_resolve(struct sl_db *db, const char *dag_id, const char **run_id,
                    struct sl_strbuf *hold, struct sl_strbuf *err);

/*
 * The run's on_failure / on_success callbacks (kind 'callback' task
 * instances, each with its latest attempt, from sl_view_run_callbacks;
 * no rows when it has none): add "callbacks": [...] (docs/json.md) to a
 * runs_show_json object.
 */
void runs_callbacks_json(json_t *show, const struct sl_rows *cb);
/* A "callbacks:" table after the task table; nothing when there are none. */
void runs_callbacks_print(const struct sl_rows *cb);

/*
 * The `runs show --json` object (docs/json.md) and the table. `tries` is
 * the run's sl_view_run_tries, or NULL when they were not read (then no
 * "tries" and outcomes from the latest attempt alone).
 */
json_t *runs_show_json(const char *dag_id, const char *run_id, const struct sl_rows *r,
                       const struct sl_rows *tries);
void runs_show_print(const char *dag_id, const char *run_id, const struct sl_rows *r,
                     const struct sl_rows *tries);

#endif
