/*
 * The scheduler's `retention:`: `sluice db clean`'s deletion
 * (sluice/retention.h), by the leader, one bounded batch per tick.
 */
#include <inttypes.h>

#include "scheduler.h"

#include "sluice/retention.h"
#include "sluice/banned.h"

/* A pass starts this long after the previous one ended. */
#define RETENTION_PERIOD_MS ((uint64_t)24 * 3600 * 1000)
/* After a failed batch: not every tick (a broken statement would log each
 * second), but well before tomorrow (an outage is usually short). */
#define RETENTION_RETRY_MS ((uint64_t)3600 * 1000)

static void retention_end(struct sched *s, uint64_t next_ms)
{
	s->retention_running = false;
	s->retention_due = mono_ms() + next_ms;
}

void retention_tick(struct sched *s)
{
	struct sl_retention_report *r = &s->retention_report;
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	bool more = false;
	int rc;

	if (!s->cfg.retention || (!s->retention_running && mono_ms() < s->retention_due))
		return;
	if (!s->retention_running) {
		/* The cutoff is fixed for the whole pass, so that it ends even
		 * while runs keep ageing past a cutoff that would move. */
		*r = (struct sl_retention_report)SL_RETENTION_REPORT_INIT;
		if ((rc = sl_retention_cutoff(s->db, s->cfg.retention, r, &err)))
			goto fail;
		s->retention_running = true;
		s->retention_started = mono_ms();
	}
	/* One batch a tick: the loop is never held longer than one batch. */
	if ((rc = sl_retention_batch(s->db, r, SL_RETENTION_BATCH, false, &more, &err)))
		goto fail;
	if (more)
		goto out;
	sl_log_quote(&q, r->cutoff);
	sl_log("info", "retention",
	       "older_than=%" PRId64 "s cutoff=%s runs=%" PRId64 " task_instances=%" PRId64
	       " attempts=%" PRId64 " log_bytes=%" PRId64 " batches=%" PRId64 " ms=%" PRIu64,
	       s->cfg.retention, q.buf, r->runs, r->task_instances, r->attempts, r->log_bytes,
	       r->batches, mono_ms() - s->retention_started);
	retention_end(s, RETENTION_PERIOD_MS);
	goto out;
fail:
	/* Batches already committed stay deleted; the next pass takes a new
	 * cutoff and goes on from there. */
	sched_db_error(s, "retention", rc, &err);
	retention_end(s, RETENTION_RETRY_MS);
out:
	sl_strbuf_release(&q);
	sl_strbuf_release(&err);
}
