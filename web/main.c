/*
 * sluice-web: the HTTP daemon (docs/web.md): the configuration, the
 * server (sluice/httpd.h), readiness and a clean stop. Requests are routed
 * by routes.c and answered off the loop by call.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "sluice/config.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/httpd.h"
#include "sluice/log.h"
#include "sluice/sdnotify.h"
#include "sluice/strbuf.h"
#include "sluice/tls.h"
#include "sluice_version.h"
#include "web.h"

/* A request body larger than this is refused (413) before any handler. */
#define WEB_MAX_BODY (1024 * 1024)

static void on_request(void *data, struct st_h2o_req_t *req)
{
	web_route_request(data, req);
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct web *w = sig->data;

	if (w->stopping)
		return;
	w->stopping = true;
	sl_sdnotify("STOPPING=1");
	sl_log("info", "stopping", "signal=%s", strsignal(signum));
	/* Answers in progress finish; the loop ends once the last is sent. */
	web_events_stop(w->events);
	sl_httpd_stop(w->httpd);
	w->httpd = NULL;
	close_handle((uv_handle_t *)&w->watchdog_timer);
	close_handle((uv_handle_t *)&w->sigterm);
	close_handle((uv_handle_t *)&w->sigint);
}

static int start(struct web *w)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	if ((rc = uv_timer_init(w->loop, &w->watchdog_timer)) ||
	    (rc = uv_signal_init(w->loop, &w->sigterm)) ||
	    (rc = uv_signal_init(w->loop, &w->sigint))) {
		sl_log("error", "init_failed", "error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	w->sigterm.data = w->sigint.data = w;
	if ((rc = uv_signal_start(&w->sigterm, on_signal, SIGTERM)) ||
	    (rc = uv_signal_start(&w->sigint, on_signal, SIGINT))) {
		sl_log("error", "init_failed", "what=signal error=\"%s\"", uv_strerror(rc));
		return rc;
	}
	/* Before the server: a failure of either leaves nothing of h2o's to undo. */
	if ((rc = web_events_start(w, &w->events)))
		return rc;
	if ((rc = sl_httpd_start(&w->httpd, w->loop, w->cfg.web_listen,
	                         w->tls ? sl_tls_ctx_ssl(w->tls) : NULL, WEB_MAX_BODY, on_request,
	                         w, &err))) {
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, err.buf);
		sl_log("error", "listen_failed", "listen=%s error=%s", w->cfg.web_listen, q.buf);
		web_events_stop(w->events);
		sl_strbuf_release(&q);
		sl_strbuf_release(&err);
		return rc;
	}
	sl_sdnotify_watchdog_start(&w->watchdog_timer);
	sl_log("info", "started", "listen=%s tls=%s base_url=%s database=%s:%s version=%s",
	       w->cfg.web_listen, w->tls ? "yes" : "no",
	       w->cfg.web_base_url ? w->cfg.web_base_url : "-", sl_db_where(w->pool.conns[0]),
	       sl_db_name(w->pool.conns[0]), SLUICE_VERSION);
	if (w->cfg.web_insecure && !w->tls)
		sl_log("warn", "insecure",
		       "listen=%s reason=\"web.insecure: true: HTTP in clear text off loopback\"",
		       w->cfg.web_listen);
	sl_sdnotify("READY=1");
	return 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	close_handle(h);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sluice-web --config FILE [--check-config]\n       sluice-web --routes\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'}, /* parse, print "ok", exit 0 or 2 */
	    {"routes", no_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = SL_CONFIG_DEFAULT_PATH;
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sigaction sa;
	struct web w;
	uv_loop_t loop;
	int c, rc, status = 1;
	bool loop_ok = false, pool_ok = false, check_only = false;

	memset(&w, 0, sizeof(w));
	sl_config_init(&w.cfg);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		case 'V':
			printf("sluice-web %s\n", SLUICE_VERSION);
			status = 0;
			goto out;
		case 'C':
			check_only = true;
			break;
		case 'R':
			web_routes_print(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		status = 2;
		goto out;
	}
	rc = sl_config_load(&w.cfg, config, &diags);
	sl_diags_print(&diags, stderr);
	if (rc) {
		status = 2;
		goto out;
	}
	if (check_only) {
		printf("ok\n");
		status = 0;
		goto out;
	}
	if (w.cfg.web_tls_cert &&
	    sl_tls_ctx_server(&w.tls, w.cfg.web_tls_cert, w.cfg.web_tls_key, &err)) {
		fprintf(stderr, "sluice-web: web.tls_cert: %s\n", err.buf);
		goto out;
	}
	w.conninfo = w.cfg.web_database_url ? w.cfg.web_database_url : w.cfg.database_url;
	if (web_dbpool_init(&w.pool, w.conninfo)) {
		fprintf(stderr, "sluice-web: out of memory\n");
		goto out;
	}
	pool_ok = true;
	/* The first connection is made now, so that a wrong database_url stops the start. */
	if (sl_db_connect(&w.pool.conns[0], w.conninfo, &err)) {
		fprintf(stderr, "sluice-web: %s\n", err.buf);
		goto out;
	}
	/* A client that goes away mid-answer must be an error code, not a death. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((rc = uv_loop_init(&loop))) {
		fprintf(stderr, "sluice-web: uv_loop_init: %s\n", uv_strerror(rc));
		goto out;
	}
	loop_ok = true;
	w.loop = &loop;
	if (start(&w)) {
		/* No client yet: close ours, run the close callbacks. */
		w.stopping = true;
		uv_walk(&loop, close_any, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
		goto out;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	sl_log("info", "stopped", "version=%s", SLUICE_VERSION);
	status = 0;
out:
	if (loop_ok && (rc = uv_loop_close(&loop))) {
		sl_log("error", "loop_close_failed", "error=\"%s\"", uv_strerror(rc));
		status = 1;
	}
	web_events_free(w.events);
	web_graph_release();
	if (pool_ok)
		web_dbpool_release(&w.pool);
	sl_tls_ctx_free(w.tls);
	sl_diags_release(&diags);
	sl_strbuf_release(&err);
	sl_config_release(&w.cfg);
	return status;
}
