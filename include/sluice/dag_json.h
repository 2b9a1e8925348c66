#ifndef SLUICE_DAG_JSON_H
#define SLUICE_DAG_JSON_H

#include <jansson.h>

#include "sluice/dag.h"
#include "sluice/strbuf.h"

/**
 * The JSON form of a loaded DAG: the shape `sluice dags show --json` prints
 * (docs/json.md) and the definition a DAG version stores. `defaults` are
 * already merged into each task; durations are strings in the DAG file
 * syntax ("1h30m"); instants are ISO 8601 in UTC. Converting a DAG to JSON
 * and back gives an equal DAG (file positions aside).
 *
 * SQL reads two things of a stored definition, and only these
 * (lib/db/sql/runs.sql; docs/database.md): `tasks`, an array of the tasks
 * in file order whose elements' `task` is the task id, and each task's
 * `retries`, an integer >= 0. Changing either shape means changing those
 * statements and migrating the stored versions. What else SQL needs of a
 * DAG (schedule, time zone, dates, catchup, limits) is a column of
 * dag_versions, written from the parsed DAG, not read from this JSON.
 */

/** A new reference to the JSON of `dag`. */
json_t *sl_dag_to_json(const struct sl_dag *dag);

/**
 * Rebuild a DAG from its JSON form, checking it as strictly as the loader
 * checks a file (ids, durations, cron, dependencies, cycles), since stored
 * JSON may come from another version of sluice. Returns 0 and a new DAG in
 * `*out`, or SL_EINVAL with a sentence in `err` that names the field.
 */
int sl_dag_from_json(struct sl_dag **out, const json_t *json, struct sl_strbuf *err);

/**
 * sl_dag_from_json for a DAG whose tasks come one at a time, so that a DAG
 * of 10,000 tasks is never one tree of JSON values in memory (about 2 KiB a
 * task): `json` holds the DAG's fields (its `tasks`, if any, is not read)
 * and `load(ctx, i, err)` returns a new reference to task `i` of
 * `tasks_nr`, or NULL after filling `err`.
 */
int sl_dag_from_json_tasks(struct sl_dag **out, const json_t *json, size_t tasks_nr,
                           json_t *(*load)(void *ctx, size_t i, struct sl_strbuf *err), void *ctx,
                           struct sl_strbuf *err);

#endif
