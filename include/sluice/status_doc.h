#ifndef SLUICE_STATUS_DOC_H
#define SLUICE_STATUS_DOC_H

#ifndef SLUICE_LAYER_DB
#error "sluice/status_doc.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <jansson.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/views.h"

/**
 * `sluice pools list`, `workers list` and `status` as JSON (docs/json.md),
 * for the CLI and the API's /pools, /workers and /status alike: one
 * builder each, so that the API's documents are the CLI's by
 * construction. The rows are the views' (sluice/views.h); each enum is
 * the columns of one statement, in the order it selects them.
 */

/** pools_list (lib/db/sql/pools.sql) */
enum {
	SL_POOL_NAME,
	SL_POOL_DEFINED,
	SL_POOL_SLOTS,
	SL_POOL_USED,
	SL_POOL_QUEUED,
	SL_POOL_DESCRIPTION
};

/** status_workers (lib/db/sql/status.sql) */
enum {
	SL_WORKER_ID,
	SL_WORKER_HOST,
	SL_WORKER_QUEUES,
	SL_WORKER_SLOTS,
	SL_WORKER_RUNNING,
	SL_WORKER_STATE,
	SL_WORKER_HEARTBEAT,
	SL_WORKER_NOW,
	SL_WORKER_VERSION,
	SL_WORKER_STARTED,
	SL_WORKER_STALE,
	SL_WORKER_CREDENTIAL,
};

/** status_lease, status_source, status_worker_counts, status_queues, status_live_runs */
enum {
	SL_LEASE_HOLDER,
	SL_LEASE_EPOCH,
	SL_LEASE_COMMIT,
	SL_LEASE_HEARTBEAT,
	SL_LEASE_EXPIRES,
	SL_LEASE_ACQUIRED,
	SL_LEASE_ALIVE,
	SL_LEASE_NOW
};
enum {
	SL_SOURCE_COMMIT,
	SL_SOURCE_REPO,
	SL_SOURCE_BRANCH,
	SL_SOURCE_PATH,
	SL_SOURCE_REFRESHED,
	SL_SOURCE_NOW
};
enum { SL_WCOUNT_ACTIVE, SL_WCOUNT_DRAINING, SL_WCOUNT_GONE, SL_WCOUNT_STALE };
enum { SL_QUEUE_QUEUE, SL_QUEUE_SCHEDULED, SL_QUEUE_QUEUED, SL_QUEUE_SERVED };
enum { SL_LIVE_DAG, SL_LIVE_RUN_ID, SL_LIVE_STATE, SL_LIVE_SINCE, SL_LIVE_NOW };

/** One pool of pools_list as `pools list --json` shows it. */
json_t *sl_pool_json(const struct sl_rows *res, int row);
/** Every row of pools_list: the `pools list --json` array. */
json_t *sl_pools_json(const struct sl_rows *res);
/** Every row of status_workers: the `workers list --json` array. */
json_t *sl_workers_json(const struct sl_rows *res);

/** What `status` reads, one result per part. */
struct sl_status {
	struct sl_rows *lease, *source, *workers, *queues, *runs;
};

#define SL_STATUS_INIT                       \
	{                                    \
		NULL, NULL, NULL, NULL, NULL \
	}

/**
 * Reads every part; `heartbeat_timeout` (seconds) is how long a worker may
 * be silent before it counts as lost. Errors are the views'.
 */
int sl_status_read(struct sl_db *db, int64_t heartbeat_timeout, struct sl_status *st,
                   struct sl_strbuf *err);
void sl_status_release(struct sl_status *st);
/** The number of live runs in `state` (status_live_runs rows). */
int sl_status_count_runs(const struct sl_rows *runs, const char *state);
/** The `status --json` document. */
json_t *sl_status_json(const struct sl_status *st);

#endif
