/*
 * The scheduler's own series (docs/metrics.md): registered once at start,
 * observed where the loop does the work, the few gauges read from the
 * loop's state just before each scrape.
 */
#include <stddef.h>
#include <stdint.h>

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

#define PLAIN(kind, name, member, help) \
	SL_METRIC_PLAIN(kind, name, struct sched_metrics, member, help)

static const struct sl_metric_plain plain[] = {
    PLAIN(SL_METRIC_COUNTER, "sluice_scheduler_claims_total", claims,
          "Task instances claimed for a worker."),
    PLAIN(SL_METRIC_COUNTER, "sluice_scheduler_transactions_total", commits,
          "Database transactions this scheduler committed."),
    PLAIN(SL_METRIC_GAUGE, "sluice_scheduler_lease_holder", lease_holder,
          "1 when this scheduler holds the leader lease, else 0."),
    PLAIN(SL_METRIC_GAUGE, "sluice_scheduler_workers_connected", workers,
          "Worker connections that completed their HELLO."),
};

void sched_metrics_init(struct sched *s)
{
	static const char *const outcome[] = {"outcome"};
	static const char *const kind[] = {"kind"};
	struct sched_metrics *m = &s->m;
	struct sl_metrics *r = &s->metrics;
	struct sl_metric_family *f;

	sl_metrics_init(r);
	f = sl_metrics_histogram(r, "sluice_scheduler_tick_duration_seconds",
	                         "Time one scheduler tick took (lease, runs created and advanced, "
	                         "claims and dispatches).",
	                         NULL, 0, tick_buckets, SL_ARRAY_SIZE(tick_buckets));
	m->tick = sl_metric_series(f, NULL);
	f = sl_metrics_histogram(r, "sluice_scheduler_dispatch_latency_seconds",
	                         "Time from a task instance becoming ready (scheduled) to its "
	                         "DISPATCH leaving for a worker.",
	                         NULL, 0, latency_buckets, SL_ARRAY_SIZE(latency_buckets));
	m->dispatch_latency = sl_metric_series(f, NULL);
	sl_metrics_add_plain(r, plain, SL_ARRAY_SIZE(plain), m);
	f = sl_metrics_counter(r, "sluice_scheduler_db_errors_total",
	                       "Database calls that failed, by kind: unavailable (the server "
	                       "could not be reached), fenced (the lease was lost), error (the "
	                       "server refused the statement).",
	                       kind, 1);
	m->db_unavailable = sl_metric_series(f, (const char *[]){"unavailable"});
	m->db_fenced = sl_metric_series(f, (const char *[]){"fenced"});
	m->db_error = sl_metric_series(f, (const char *[]){"error"});
	f = sl_metrics_counter(r, "sluice_scheduler_results_total",
	                       "Results recorded from workers, by outcome.", outcome, 1);
	sl_metric_outcome_series(f, m->results);
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
	return sl_metricsd_start(&s->metricsd, s->loop, s->cfg.metrics_listen, &s->metrics, refresh,
	                         s);
}
