#ifndef SLUICE_RETENTION_H
#define SLUICE_RETENTION_H

#ifndef SLUICE_LAYER_DB
#error "sluice/retention.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * Retention: deleting finished runs older than a cutoff with their task
 * instances, attempts and logs (`sluice db clean`, the scheduler's
 * `retention:`). A DAG's newest run and newest scheduled run are always
 * kept (the scheduler's next interval and depends_on_past read them), and
 * so is any run with an unfinished task instance or an attempt that may
 * still run. See lib/db/sql/retention.sql.
 */

/** Runs deleted per transaction: bounds its locks, its time and its WAL. */
#define SL_RETENTION_BATCH 200

/** What a clean deleted (or, dry, would delete). */
struct sl_retention_report {
	char cutoff[64]; /* the server's timestamptz text */
	int64_t runs, task_instances, attempts, log_bytes;
	int64_t batches; /* transactions that deleted something */
};

#define SL_RETENTION_REPORT_INIT   \
	{                          \
		{0}, 0, 0, 0, 0, 0 \
	}

/** The cutoff, now minus `older_than_s` in the server's clock, into `report`. */
int sl_retention_cutoff(struct sl_db *db, int64_t older_than_s, struct sl_retention_report *report,
                        struct sl_strbuf *err);

/**
 * One batch: up to `batch` runs that ended before report->cutoff are
 * deleted in one transaction (one statement) and added to `report`;
 * `*more` says whether a full batch was deleted (call again). With `dry`,
 * nothing is deleted and every run there is is counted, in one read.
 */
int sl_retention_batch(struct sl_db *db, struct sl_retention_report *report, int batch, bool dry,
                       bool *more, struct sl_strbuf *err);

#endif
