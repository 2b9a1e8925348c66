#ifndef SLUICE_METRICSD_H
#define SLUICE_METRICSD_H

#ifndef SLUICE_LAYER_HTTP
#error "sluice/metricsd.h: this target does not link the http layer (docs/architecture.md)"
#endif

#include <stdint.h>

#include <uv.h>

#include "sluice/metrics.h"

/**
 * A daemon's `metrics_listen` (docs/metrics.md): its metrics registry
 * served on the loop by the http layer (sluice/httpd.h), in clear text.
 * `GET /metrics` (and HEAD) answers 200 with the registry rendered
 * (SL_METRICS_CONTENT_TYPE); another method on /metrics is 405 with
 * `Allow: GET, HEAD`; any other path is 404. A query string is ignored.
 *
 * The caller owns the struct and keeps it (and the registry) until its
 * loop has ended: a connection still open after sl_metricsd_stop may be
 * answered until it closes.
 */
struct sl_metricsd {
	struct sl_httpd *httpd; /* NULL: not serving */
	struct sl_metrics *metrics;
	/* Called before each render, to read the gauges from the daemon's state. */
	void (*refresh)(void *data);
	void *data;
	uint64_t scrapes; /* GET /metrics answered */
};

/**
 * Start serving `metrics` on `listen` (host:port; a numeric address or
 * localhost); a NULL `listen` is off, and returns 0. Returns 0, or a
 * negative error logged as `level=error event=listen_failed what=metrics`
 * with the address and the reason, with nothing left on the loop. An address off
 * loopback (which the configuration allows only with metrics_insecure:
 * true) is logged as a `level=warn event=insecure` line at every start.
 */
int sl_metricsd_start(struct sl_metricsd *d, uv_loop_t *loop, const char *listen,
                      struct sl_metrics *metrics, void (*refresh)(void *data), void *data);

/** Stop accepting; open connections close after their answer. Idempotent. */
void sl_metricsd_stop(struct sl_metricsd *d);

#endif
