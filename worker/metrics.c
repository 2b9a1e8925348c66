/*
 * The worker's own series (docs/metrics.md): attempts counted where their
 * RESULT is made, the gauges and the checkout cache's counts read just
 * before each scrape.
 */
#include <stdio.h>

#include "worker.h"

#include "sluice/banned.h"

void worker_metrics_init(struct worker *w)
{
	static const char *const outcome[] = {"outcome"};
	struct worker_metrics *m = &w->m;
	struct sl_metrics *r = &w->metrics;

	sl_metrics_init(r);
	m->slots = sl_metric_series(sl_metrics_gauge(r, "sluice_worker_slots",
	                                             "Attempts this worker runs at once at most.",
	                                             NULL, 0),
	                            NULL);
	m->slots_busy = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_worker_slots_busy",
	                     "Attempts held: getting their checkout, running, or being stopped.",
	                     NULL, 0),
	    NULL);
	sl_metric_outcome_series(sl_metrics_counter(r, "sluice_worker_attempts_total",
	                                            "Attempts ended, by the outcome their RESULT "
	                                            "reports.",
	                                            outcome, 1),
	                         m->attempts);
	m->results_kept = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_worker_results_unacknowledged",
	                     "Results kept on disk until a scheduler acknowledges them.", NULL, 0),
	    NULL);
	m->connected = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_worker_scheduler_connected",
	                     "1 while a scheduler has welcomed this worker, else 0.", NULL, 0),
	    NULL);
	m->connections = sl_metric_series(
	    sl_metrics_counter(r, "sluice_worker_scheduler_connections_total",
	                       "Connections a scheduler welcomed (1 plus the reconnections).", NULL,
	                       0),
	    NULL);
	m->checkout_hits = sl_metric_series(
	    sl_metrics_counter(r, "sluice_worker_checkout_cache_hits_total",
	                       "Attempts whose commit was already checked out.", NULL, 0),
	    NULL);
	m->checkout_misses = sl_metric_series(
	    sl_metrics_counter(r, "sluice_worker_checkout_cache_misses_total",
	                       "Attempts whose commit had to be checked out.", NULL, 0),
	    NULL);
	m->checkout_entries = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_worker_checkout_cache_entries",
	                     "Checkouts kept, as the last prune counted them.", NULL, 0),
	    NULL);
	m->checkout_bytes = sl_metric_series(
	    sl_metrics_gauge(r, "sluice_worker_checkout_cache_bytes",
	                     "Disk the checkouts take, as the last prune measured it.", NULL, 0),
	    NULL);
}

void worker_metrics_release(struct worker *w)
{
	sl_metrics_release(&w->metrics);
}

/* Read the gauges and the checkout cache's counts, just before a scrape renders them. */
static void refresh(void *data)
{
	struct worker *w = data;
	struct worker_metrics *m = &w->m;

	sl_metric_set(m->slots, w->cfg.slots);
	sl_metric_set(m->slots_busy, (double)w->attempts_nr);
	sl_metric_set(m->results_kept, (double)w->kept_nr);
	sl_metric_set(m->connected, w->state == CONN_READY ? 1 : 0);
	if (w->checkouts_ok) {
		struct sl_checkout_stats st;

		sl_checkout_stats(&w->checkouts, &st);
		sl_metric_set(m->checkout_hits, (double)st.hits);
		sl_metric_set(m->checkout_misses, (double)st.misses);
		sl_metric_set(m->checkout_entries, (double)st.entries);
		sl_metric_set(m->checkout_bytes, (double)st.bytes);
	}
}

int worker_metrics_start(struct worker *w)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = 0;

	if (w->cfg.metrics_listen &&
	    (rc = sl_metricsd_start(&w->metricsd, w->loop, w->cfg.metrics_listen, &w->metrics,
	                            refresh, w, &err)))
		fprintf(stderr, "sluice-worker: metrics_listen: %s\n", err.buf);
	sl_strbuf_release(&err);
	return rc;
}

void worker_metrics_stop(struct worker *w)
{
	sl_metricsd_stop(&w->metricsd);
}
