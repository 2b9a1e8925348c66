/*
 * The scheduler's own series (docs/metrics.md): registered once at start,
 * observed where the loop does the work, the few gauges read from the
 * loop's state just before each scrape.
 */
#include <stdint.h>
#include <stdio.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

/* A tick is a few transactions: milliseconds, or seconds when the database is slow. */
static const double tick_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};
/* From ready to dispatched: a tick or two when slots are free, minutes when they are not. */
static const double latency_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                         2.5,  5,     10,   30,  60,   300, 1800};

void sched_metrics_init(struct sched *s)
{
	static const char *const outcome[] = {"outcome"};
	static const char *const kind[] = {"kind"};
	struct sched_metrics *m = &s->m;
	struct sl_metrics *r = &s->metrics;
	struct sl_metric_family *f;

	sl_metrics_init(r);
	m->tick = sl_metric_series(
	    sl_metrics_histogram(r, "sluice_scheduler_tick_duration_seconds",
	                         "Time one scheduler tick took (lease, runs created and "
	                         "advanced, claims and dispatches).",
	                         NULL, 0, tick_buckets, SL_ARRAY_SIZE(tick_buckets)),
	    NULL);
	m->dispatch_latency = sl_metric_series(
	    sl_metrics_histogram(r, "sluice_scheduler_dispatch_latency_seconds",
	                         "Time from a task instance becoming ready (scheduled) to its "
	                         "DISPATCH leaving for a worker.",
	                         NULL, 0, latency_buckets, SL_ARRAY_SIZE(latency_buckets)),
	    NULL);
	m->claims =
	    sl_metric_series(sl_metrics_counter(r, "sluice_scheduler_claims_total",
	                                        "Task instances claimed for a worker.", NULL, 0),
	                     NULL);
	m->commits = sl_metric_series(
	    sl_metrics_counter(r, "sluice_scheduler_transactions_total",
	                       "Database transactions this scheduler committed.", NULL, 0),
	    NULL);
	f = sl_metrics_counter(r, "sluice_scheduler_db_errors_total",
	                       "Database calls that failed, by kind: unavailable (the server "
	                       "could not be reached), fenced (the lease was lost), error (the "
	                       "server refused the statement).",
	                       kind, 1);
	m->db_unavailable = sl_metric_series(f, (const char *[]){"unavailable"});
	m->db_fenced = sl_metric_series(f, (const char *[]){"fenced"});
	m->db_error = sl_metric_series(f, (const char *[]){"error"});
	m->lease_holder = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_scheduler_lease_holder",
	                     "1 when this scheduler holds the leader lease, else 0.", NULL, 0),
	    NULL);
	m->workers = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_scheduler_workers_connected",
	                     "Worker connections that completed their HELLO.", NULL, 0),
	    NULL);
	sl_metric_outcome_series(sl_metrics_counter(r, "sluice_scheduler_results_total",
	                                            "Results recorded from workers, by outcome.",
	                                            outcome, 1),
	                         m->results);
}

void sched_metrics_release(struct sched *s)
{
	sl_metrics_release(&s->metrics);
}

void sched_metrics_db_error(struct sched *s, int rc)
{
	sl_metric_inc(rc == SL_EUNAVAIL  ? s->m.db_unavailable
	              : rc == SL_EFENCED ? s->m.db_fenced
	                                 : s->m.db_error);
}

/* Read the gauges from the loop's state, just before a scrape renders them. */
static void refresh(void *data)
{
	struct sched *s = data;

	size_t ready = 0;

	for (const struct wconn *c = s->conns; c; c = c->next)
		ready += c->state == WCONN_READY;
	sl_metric_set(s->m.workers, (double)ready);
	sl_metric_set(s->m.lease_holder, lease_held(s) ? 1 : 0);
	/* The refresh's connection belongs to its thread: counted as of its last refresh. */
	sl_metric_set(s->m.commits, (double)(sl_db_commits(s->db) + s->refresh_commits));
}

int sched_metrics_start(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = 0;

	if (s->cfg.metrics_listen &&
	    (rc = sl_metricsd_start(&s->metricsd, s->loop, s->cfg.metrics_listen, &s->metrics,
	                            refresh, s, &err)))
		fprintf(stderr, "sluice-scheduler: metrics_listen: %s\n", err.buf);
	sl_strbuf_release(&err);
	return rc;
}

void sched_metrics_stop(struct sched *s)
{
	sl_metricsd_stop(&s->metricsd);
}
