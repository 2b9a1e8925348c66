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
#include "sluice/run_doc.h"
#include "sluice/views.h"
#include "table.h"

/* Print a library error; returns its exit code. */
int runs_fail(const struct sl_strbuf *err, int rc);

/* A microseconds cell as a table cell, to the second in UTC, or "-". */
void runs_time_cell(struct cli_table *t, const struct sl_rows *r, int row, int col);
/* The time from cell `start` to cell `end` (else to cell `now`), or "-". */
void runs_duration_cell(struct cli_table *t, const struct sl_rows *r, int row, int start, int end,
                        int now);

/* A usage error for an unknown run state, with "did you mean". */
int runs_bad_state(const struct cli_command *cmd, const char *state);

/*
 * trigger --wait (cli/run_wait.c): follow run `run_id` of `dag_id` until
 * it ends, printing each change of a task's state, try or poke; the run's
 * `runs show --json` object at the end with --json. Returns the command's
 * exit code: 0 when the run succeeded, 1 when it failed or was cancelled,
 * 4 when the database stayed unreachable.
 */
int runs_wait(struct cli *cli, struct sl_db *db, const char *dag_id, const char *run_id);

/*
 * backfill --wait (cli/run_wait.c): follow the `nr` runs `run_ids` of
 * `dag_id` until every one has ended, printing each as it ends and, on a
 * terminal, a progress line; then "backfill of DAG 'D': N/N runs done, F
 * failed". With --json nothing is printed. `states` (`nr` entries, NULL on
 * entry) receives each run's final state as it ends (strings the caller
 * frees; NULL for a run that was deleted meanwhile). `*all_ended` says
 * whether the wait saw every run end. Returns 0 when every run succeeded,
 * 1 when one did not, else the exit code of the error that stopped the
 * wait (4 when the database stayed unreachable).
 */
int runs_wait_all(struct cli *cli, struct sl_db *db, const char *dag_id, const char *const *run_ids,
                  size_t nr, char **states, bool *all_ended);

/* The run's callbacks as a "callbacks:" table after the task table; nothing when there are none. */
void runs_callbacks_print(const struct sl_rows *cb, bool colour);

/*
 * The `runs show` table. `tries` is the run's sl_view_run_tries, or NULL
 * when they were not read; states are coloured when `colour`.
 */
void runs_show_print(const char *dag_id, const char *run_id, const struct sl_rows *r,
                     const struct sl_rows *tries, bool colour);

#endif
