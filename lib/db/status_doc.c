/*
 * `pools list`, `workers list` and `status` as JSON, for the CLI and the
 * API alike (sluice/status_doc.h). Moved out of the CLI so that
 * sluice-web, which links no program's code, builds the very same
 * documents.
 */
#include "sluice/status_doc.h"

#include <string.h>

#include "sluice/dags_list.h"
#include "sluice/banned.h"

/* A nullable instant column (seconds) as JSON, in UTC. */
static json_t *time_col_json(const struct sl_rows *res, int row, int col)
{
	return sl_rows_null(res, row, col) ? json_null()
	                                   : sl_dags_time_json(sl_rows_int(res, row, col, 0), NULL);
}

static json_t *queues_json(const char *list)
{
	json_t *queues = json_array();

	while (*list) {
		size_t len = strcspn(list, ",");

		json_array_append_new(queues, json_stringn(list, len));
		list += len + (list[len] == ',');
	}
	return queues;
}
static json_t *worker_json(const struct sl_rows *res, int row)
{
	int64_t beat = sl_rows_int(res, row, SL_WORKER_HEARTBEAT, 0);

	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:s, s:b, s:s?, s:o, s:o, s:I, s:s}", "worker",
	                 sl_rows_str(res, row, SL_WORKER_ID), "host",
	                 sl_rows_str(res, row, SL_WORKER_HOST), "queues",
	                 queues_json(sl_rows_str(res, row, SL_WORKER_QUEUES)), "slots",
	                 (json_int_t)sl_rows_int(res, row, SL_WORKER_SLOTS, 0), "running",
	                 (json_int_t)sl_rows_int(res, row, SL_WORKER_RUNNING, 0), "state",
	                 sl_rows_str(res, row, SL_WORKER_STATE), "stale",
	                 sl_rows_bool(res, row, SL_WORKER_STALE), "version",
	                 sl_rows_str(res, row, SL_WORKER_VERSION), "started_at",
	                 time_col_json(res, row, SL_WORKER_STARTED), "last_heartbeat_at",
	                 sl_dags_time_json(beat, NULL), "heartbeat_age_seconds",
	                 (json_int_t)(sl_rows_int(res, row, SL_WORKER_NOW, 0) - beat), "credential",
	                 sl_rows_str(res, row, SL_WORKER_CREDENTIAL));
}
json_t *sl_workers_json(const struct sl_rows *res)
{
	json_t *list = json_array();

	for (int row = 0; row < sl_rows_nr(res); row++)
		json_array_append_new(list, worker_json(res, row));
	return list;
}

json_t *sl_pool_json(const struct sl_rows *res, int row)
{
	int64_t slots = sl_rows_int(res, row, SL_POOL_SLOTS, 0),
	        used = sl_rows_int(res, row, SL_POOL_USED, 0);

	return json_pack(
	    "{s:s, s:b, s:I, s:I, s:I, s:I, s:s}", "pool", sl_rows_str(res, row, SL_POOL_NAME),
	    "defined", sl_rows_bool(res, row, SL_POOL_DEFINED), "slots", (json_int_t)slots, "used",
	    (json_int_t)used, "queued", (json_int_t)sl_rows_int(res, row, SL_POOL_QUEUED, 0),
	    "open", (json_int_t)(slots - used), "description",
	    sl_rows_str(res, row, SL_POOL_DESCRIPTION));
}
json_t *sl_pools_json(const struct sl_rows *res)
{
	json_t *list = json_array();

	for (int row = 0; row < sl_rows_nr(res); row++)
		json_array_append_new(list, sl_pool_json(res, row));
	return list;
}

int sl_status_read(struct sl_db *db, int64_t heartbeat_timeout, struct sl_status *st,
                   struct sl_strbuf *err)
{
	int rc;

	rc = sl_view_lease(db, &st->lease, err);
	if (!rc)
		rc = sl_view_source(db, &st->source, err);
	if (!rc)
		rc = sl_view_worker_counts(db, heartbeat_timeout, &st->workers, err);
	if (!rc)
		rc = sl_view_queues(db, heartbeat_timeout, &st->queues, err);
	if (!rc)
		rc = sl_view_live_runs(db, &st->runs, err);
	return rc;
}

void sl_status_release(struct sl_status *st)
{
	sl_rows_free(st->lease);
	sl_rows_free(st->source);
	sl_rows_free(st->workers);
	sl_rows_free(st->queues);
	sl_rows_free(st->runs);
}
int sl_status_count_runs(const struct sl_rows *res, const char *state)
{
	int n = 0;

	for (int row = 0; row < sl_rows_nr(res); row++)
		n += !strcmp(sl_rows_str(res, row, SL_LIVE_STATE), state);
	return n;
}
static json_t *scheduler_json(const struct sl_rows *l)
{
	bool row = sl_rows_nr(l) > 0;
	int64_t now = row ? sl_rows_int(l, 0, SL_LEASE_NOW, 0) : 0;

	if (!row)
		return json_pack("{s:b, s:n, s:n, s:n, s:n, s:n, s:n, s:n}", "alive", 0, "holder",
		                 "epoch", "commit", "acquired_at", "heartbeat_at",
		                 "heartbeat_age_seconds", "expires_at");
	return json_pack("{s:b, s:s, s:I, s:s?, s:o, s:o, s:I, s:o}", "alive",
	                 sl_rows_bool(l, 0, SL_LEASE_ALIVE), "holder",
	                 sl_rows_str(l, 0, SL_LEASE_HOLDER), "epoch",
	                 (json_int_t)sl_rows_int(l, 0, SL_LEASE_EPOCH, 0), "commit",
	                 sl_rows_str(l, 0, SL_LEASE_COMMIT), "acquired_at",
	                 time_col_json(l, 0, SL_LEASE_ACQUIRED), "heartbeat_at",
	                 time_col_json(l, 0, SL_LEASE_HEARTBEAT), "heartbeat_age_seconds",
	                 (json_int_t)(now - sl_rows_int(l, 0, SL_LEASE_HEARTBEAT, 0)), "expires_at",
	                 time_col_json(l, 0, SL_LEASE_EXPIRES));
}
json_t *sl_status_json(const struct sl_status *st)
{
	const struct sl_rows *s = st->source, *w = st->workers, *q = st->queues, *r = st->runs;
	json_t *source, *queues = json_array(), *running = json_array();

	if (sl_rows_nr(s))
		source = json_pack(
		    "{s:s, s:s, s:s?, s:s, s:o}", "commit", sl_rows_str(s, 0, SL_SOURCE_COMMIT),
		    "repo", sl_rows_str(s, 0, SL_SOURCE_REPO), "branch",
		    sl_rows_str(s, 0, SL_SOURCE_BRANCH), "path", sl_rows_str(s, 0, SL_SOURCE_PATH),
		    "refreshed_at", time_col_json(s, 0, SL_SOURCE_REFRESHED));
	else
		source = json_pack("{s:n, s:n, s:n, s:n, s:n}", "commit", "repo", "branch", "path",
		                   "refreshed_at");
	for (int row = 0; row < sl_rows_nr(q); row++)
		json_array_append_new(
		    queues,
		    json_pack("{s:s, s:I, s:I, s:b}", "queue", sl_rows_str(q, row, SL_QUEUE_QUEUE),
		              "scheduled", (json_int_t)sl_rows_int(q, row, SL_QUEUE_SCHEDULED, 0),
		              "queued", (json_int_t)sl_rows_int(q, row, SL_QUEUE_QUEUED, 0),
		              "served", sl_rows_bool(q, row, SL_QUEUE_SERVED)));
	for (int row = 0; row < sl_rows_nr(r); row++)
		if (!strcmp(sl_rows_str(r, row, SL_LIVE_STATE), "running"))
			json_array_append_new(
			    running,
			    json_pack("{s:s, s:s, s:o}", "dag", sl_rows_str(r, row, SL_LIVE_DAG),
			              "run_id", sl_rows_str(r, row, SL_LIVE_RUN_ID), "started_at",
			              time_col_json(r, row, SL_LIVE_SINCE)));
	return json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I}, s:o, s:{s:i, s:i, s:o}}", "scheduler",
	                 scheduler_json(st->lease), "source", source, "workers", "active",
	                 (json_int_t)sl_rows_int(w, 0, SL_WCOUNT_ACTIVE, 0), "draining",
	                 (json_int_t)sl_rows_int(w, 0, SL_WCOUNT_DRAINING, 0), "gone",
	                 (json_int_t)sl_rows_int(w, 0, SL_WCOUNT_GONE, 0), "stale",
	                 (json_int_t)sl_rows_int(w, 0, SL_WCOUNT_STALE, 0), "queues", queues,
	                 "runs", "running", sl_status_count_runs(r, "running"), "queued",
	                 sl_status_count_runs(r, "queued"), "running_runs", running);
}
