/*
 * The worker's own series (docs/metrics.md): attempts counted where their
 * RESULT is made, the gauges and the checkout cache's counts read just
 * before each scrape.
 */
#include <stddef.h>

#include "worker.h"

#include "sluice/alloc.h"
#include "sluice/banned.h"

#define PLAIN(kind, name, member, help) \
	SL_METRIC_PLAIN(kind, name, struct worker_metrics, member, help)

static const struct sl_metric_plain plain[] = {
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_slots", slots,
          "Attempts this worker runs at once at most."),
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_slots_busy", slots_busy,
          "Attempts held: getting their checkout, running, or being stopped."),
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_results_unacknowledged", results_kept,
          "Results kept on disk until a scheduler acknowledges them."),
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_scheduler_connected", connected,
          "1 while a scheduler has welcomed this worker, else 0."),
    PLAIN(SL_METRIC_COUNTER, "sluice_worker_scheduler_connections_total", connections,
          "Connections a scheduler welcomed (1 plus the reconnections)."),
    PLAIN(SL_METRIC_COUNTER, "sluice_worker_checkout_cache_hits_total", checkout_hits,
          "Attempts whose commit was already checked out."),
    PLAIN(SL_METRIC_COUNTER, "sluice_worker_checkout_cache_misses_total", checkout_misses,
          "Attempts whose commit had to be checked out."),
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_checkout_cache_entries", checkout_entries,
          "Checkouts kept, as the last prune counted them."),
    PLAIN(SL_METRIC_GAUGE, "sluice_worker_checkout_cache_bytes", checkout_bytes,
          "Disk the checkouts take, as the last prune measured it."),
};

void worker_metrics_init(struct worker *w)
{
	static const char *const outcome[] = {"outcome"};
	struct sl_metric_family *f;

	sl_metrics_init(&w->metrics);
	sl_metrics_add_plain(&w->metrics, plain, SL_ARRAY_SIZE(plain), &w->m);
	f = sl_metrics_counter(&w->metrics, "sluice_worker_attempts_total",
	                       "Attempts ended, by the outcome their RESULT reports.", outcome, 1);
	sl_metric_outcome_series(f, w->m.attempts);
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
	return sl_metricsd_start(&w->metricsd, w->loop, w->cfg.metrics_listen, &w->metrics, refresh,
	                         w);
}
