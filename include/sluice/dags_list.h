#ifndef SLUICE_DAGS_LIST_H
#define SLUICE_DAGS_LIST_H

#ifndef SLUICE_LAYER_DB
#error "sluice/dags_list.h: this target does not link the database layer (docs/architecture.md)"
/**
 * The rows of sl_view_load_errors or sl_view_dag_errors as `sluice dags
 * errors --json` prints them: [{"file", "line", "column", "message", "dag"}].
 */
json_t *sl_load_errors_json(const struct sl_rows *res);

#endif

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/schedule.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"
#include "sluice/views.h"

/**
 * The rows of sl_view_dags (lib/db/sql/dags.sql, dags_list) read as
 * `sluice dags list` and `GET /api/v1/dags` show them: one JSON builder for
 * both, so that the API's document is the CLI's `--json` by construction.
 */

/** The columns of dags_list, in the order it selects them. */
enum sl_dags_col {
	SL_DAGS_COL_ID,
	SL_DAGS_COL_PAUSED,
	SL_DAGS_COL_REMOVED,
	SL_DAGS_COL_HAS_VERSION,
	SL_DAGS_COL_COMMIT,
	SL_DAGS_COL_SCHEDULE,
	SL_DAGS_COL_TZ,
	SL_DAGS_COL_START,
	SL_DAGS_COL_END,
	SL_DAGS_COL_CATCHUP,
	SL_DAGS_COL_FIRST_SEEN,
	SL_DAGS_COL_LAST_END,
	SL_DAGS_COL_LAST_STATE,
	SL_DAGS_COL_LAST_RUN_ID,
	SL_DAGS_COL_LAST_LOGICAL,
	SL_DAGS_COL_ERROR,
	SL_DAGS_COL_NOW,
	SL_DAGS_COL_TAGS,
	SL_DAGS_COL_OWNER,
	SL_DAGS_COL_LATEST_RUNS,
};

/**
 * The schedule of row `row`, as the scheduler sees it (sl_schedule_load).
 * A DAG without a version has none. Returns 0, or a negative code with a
 * sentence in `err` for a stored schedule that this sluice cannot read
 * (`s` must still be released).
 */
int sl_dags_schedule_read(const struct sl_rows *res, int row, struct sl_schedule *s,
                          struct sl_strbuf *err);

/**
 * The next run shown for row `row`: only for a cron DAG that is neither
 * paused nor removed. Returns true with `*iv` set.
 */
bool sl_dags_next_run(const struct sl_rows *res, int row, const struct sl_schedule *s,
                      struct sl_interval *iv);

/** `t` as an ISO 8601 string in `tz` (NULL: UTC). */
json_t *sl_dags_time_json(int64_t t, const struct sl_tz *tz);
/** {"logical_date", "run_after"} of interval `iv`. */
json_t *sl_dags_interval_json(const struct sl_interval *iv, const struct sl_tz *tz);

/**
 * The JSON object of row `row`; `readable` is false when its schedule could
 * not be read (sl_dags_schedule_read failed): its next run is then null.
 */
json_t *sl_dags_row_json(const struct sl_rows *res, int row, const struct sl_schedule *s,
                         bool readable);

/**
 * The rows of sl_view_load_errors or sl_view_dag_errors as `sluice dags
 * errors --json` prints them: [{"file", "line", "column", "message", "dag"}].
 */
json_t *sl_load_errors_json(const struct sl_rows *res);

#endif
