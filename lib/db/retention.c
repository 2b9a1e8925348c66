/*
 * Retention: finished runs older than a cutoff, deleted in bounded
 * batches. See include/sluice/retention.h.
 */
#include "sluice/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/error.h"
#include "sluice/banned.h"

int sl_retention_cutoff(struct sl_db *db, int64_t older_than_s, struct sl_retention_report *report,
                        struct sl_strbuf *err)
{
	char secs[24];
	const char *params[] = {secs};
	PGresult *r = NULL;
	int rc;

	snprintf(secs, sizeof(secs), "%lld", (long long)older_than_s);
	rc = sl_db_q_idempotent(db, SL_Q_RETENTION_CUTOFF, 1, params, &r, err);
	if (rc)
		return rc;
	snprintf(report->cutoff, sizeof(report->cutoff), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int64_t column(PGresult *r, int c)
{
	return strtoll(PQgetvalue(r, 0, c), NULL, 10);
}

int sl_retention_batch(struct sl_db *db, struct sl_retention_report *report, int batch, bool dry,
                       bool *more, struct sl_strbuf *err)
{
	char limit[16];
	const char *params[] = {report->cutoff, dry ? NULL : limit, dry ? "true" : "false"};
	PGresult *r = NULL;
	int64_t deleted;
	int rc;

	*more = false;
	snprintf(limit, sizeof(limit), "%d", batch);
	/* Retried after a lost connection: it then deletes the next batch,
	 * never a run twice, and the counts are of what this call deleted. */
	rc = sl_db_q_idempotent(db, SL_Q_RETENTION_BATCH, 3, params, &r, err);
	if (rc)
		return rc;
	deleted = column(r, 4);
	if (dry || deleted) {
		report->runs += column(r, 0);
		report->task_instances += column(r, 1);
		report->attempts += column(r, 2);
		report->log_bytes += column(r, 3);
	}
	report->batches += deleted > 0;
	*more = !dry && deleted >= batch;
	PQclear(r);
	return 0;
}
