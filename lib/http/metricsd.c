/*
 * GET /metrics for the scheduler and the worker (sluice/metricsd.h): the
 * routing of one path, on the shared HTTP server.
 */
#include "sluice/metricsd.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "sluice/config.h"
#include "sluice/httpd.h"
#include "sluice/log.h"
#include "sluice/banned.h"

/* Scrapes are a few kilobytes; nothing is read from a request body. */
#define METRICSD_MAX_BODY 0

static bool method_is(const h2o_req_t *req, const char *m)
{
	return req->method.len == strlen(m) && !memcmp(req->method.base, m, req->method.len);
}

static void on_request(void *data, h2o_req_t *req)
{
	struct sl_metricsd *d = data;
	size_t path_len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
	struct sl_strbuf body = SL_STRBUF_INIT;

	if (path_len != strlen("/metrics") || memcmp(req->path.base, "/metrics", path_len)) {
		sl_httpd_problem(req, 404, "this server has /metrics only");
		return;
	}
	if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
		               H2O_STRLIT("GET, HEAD"));
		sl_httpd_problem(req, 405, "/metrics takes GET, HEAD");
		return;
	}
	if (d->refresh)
		d->refresh(d->data);
	sl_metrics_render(d->metrics, &body);
	d->scrapes++;
	sl_httpd_respond(req, 200, SL_METRICS_CONTENT_TYPE, body.buf, body.len);
	sl_strbuf_release(&body);
}

/* The configuration allowed it (metrics_insecure): said at every start all the same. */
static void warn_off_loopback(const char *listen)
{
	struct sl_strbuf ignored = SL_STRBUF_INIT;
	char *host = NULL;
	int port;

	if (!sl_hostport_parse(listen, &host, &port, &ignored) && !sl_host_is_loopback(host))
		sl_log("warn", "insecure",
		       "metrics_listen=%s reason=\"metrics_insecure: true: /metrics is served "
		       "without TLS or authentication off loopback\"",
		       listen);
	free(host);
	sl_strbuf_release(&ignored);
}

int sl_metricsd_start(struct sl_metricsd *d, uv_loop_t *loop, const char *listen,
                      struct sl_metrics *metrics, void (*refresh)(void *data), void *data)
{
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	int rc;

	d->metrics = metrics;
	d->refresh = refresh;
	d->data = data;
	d->scrapes = 0;
	d->httpd = NULL;
	if (!listen)
		return 0;
	rc = sl_httpd_start(&d->httpd, loop, listen, NULL, METRICSD_MAX_BODY, on_request, d, &err);
	if (rc) {
		sl_log_quote(&q, err.buf);
		sl_log("error", "listen_failed", "what=metrics listen=%s error=%s", listen, q.buf);
	} else {
		warn_off_loopback(listen);
	}
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	return rc;
}

void sl_metricsd_stop(struct sl_metricsd *d)
{
	sl_httpd_stop(d->httpd);
	d->httpd = NULL;
}
