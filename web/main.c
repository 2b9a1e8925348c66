/*
 * sluice-web: the HTTP daemon (docs/web.md): the configuration, the
 * listener, readiness and a clean stop; /health and /api/v1/version open
 * to all; bearer tokens for the rest of /api/v1 (authorize) and its first
 * read route, /api/v1/dags; a problem+json 404 for the rest.
 *
 * HTTP is h2o's (Debian's libh2o, the libuv flavour) on our own loop: no
 * request is parsed here. h2o answers a malformed request itself (400).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <h2o.h>
#include <jansson.h>
#include <uv.h>

#include "sluice/accounts.h"
#include "sluice/config.h"
#include "sluice/dags_list.h"
#include "sluice/db.h"
#include "sluice/diag.h"
#include "sluice/log.h"
#include "sluice/sdnotify.h"
#include "sluice/strbuf.h"
#include "sluice/tls.h"
#include "sluice/views.h"
#include "sluice_version.h"

struct web {
	struct sl_config cfg;
	struct sl_db *db;
	struct sl_tls_ctx *tls; /* NULL: clear text */
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_signal_t sigterm, sigint;
	uv_timer_t watchdog_timer;
	h2o_globalconf_t h2o_cfg;
	h2o_context_t h2o_ctx;
	h2o_accept_ctx_t accept_ctx;
	bool h2o_ready;  /* h2o_cfg and h2o_ctx are initialised, not yet disposed */
	size_t conns_nr; /* client connections open */
	bool stopping;
};

/*
 * A client connection: h2o owns its handle (and uses the handle's data),
 * this daemon counts it, so that a stop can wait for the last one.
 */
struct web_conn {
	uv_tcp_t tcp; /* first: the handle's address is the connection's */
	struct web *w;
};

/* h2o hands a handler only itself: the daemon is found through it. */
struct web_handler {
	h2o_handler_t super;
	struct web *w;
};

static void respond(h2o_req_t *req, int status, const char *reason, const char *type,
                    const char *body, size_t len)
{
	req->res.status = status;
	req->res.reason = reason;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
	               strlen(type));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	h2o_send_inline(req, body, len);
}

/* An RFC 9457 problem document; `detail` may hold anything (it is escaped). */
static void problem(h2o_req_t *req, int status, const char *title, const char *detail)
{
	json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title,
	                        "status", status, "detail", detail);
	char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	if (body) {
		respond(req, status, title, "application/problem+json", body, strlen(body));
	} else {
		/* Out of memory in jansson: still a well-formed answer. */
		respond(req, 500, "Internal Server Error", "application/problem+json",
		        H2O_STRLIT("{\"type\":\"about:blank\",\"title\":\"Internal Server "
		                   "Error\",\"status\":500}"));
	}
	free(body);
	json_decref(doc);
}

/* A database error: logged with its sentence, answered without it. */
static void db_failed(h2o_req_t *req, const char *what, const struct sl_strbuf *err)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	sl_log_quote(&q, err->buf);
	sl_log("warn", "db_failed", "what=%s error=%s", what, q.buf);
	sl_strbuf_release(&q);
	problem(req, 503, "Service Unavailable", "the database does not answer");
}

/*
 * The database is asked synchronously, on the loop: one bounded query
 * (SELECT 1) that stalls every other request while it runs. This is the
 * skeleton's shortcut; asking asynchronously (libpq non-blocking on the
 * loop) is still to be built (docs/web.md).
 */
static void route_health(struct web *w, h2o_req_t *req)
{
	struct sl_strbuf err = SL_STRBUF_INIT;

	if (sl_db_ping(w->db, &err) == 0)
		respond(req, 200, "OK", "application/json", H2O_STRLIT("{\"status\":\"ok\"}"));
	else
		db_failed(req, "health", &err);
	sl_strbuf_release(&err);
}

static bool path_is(const h2o_req_t *req, const char *path)
{
	return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

/*
 * The caller of an /api/v1 route: its bearer token is checked against
 * api_tokens (sl_token_check) and its user's role compared with `need`.
 * Returns true when the request may go on, with the role in `*role`;
 * false once it has been answered: 401 without a token or with one that is
 * malformed, unknown or revoked (the same answer for all three, so that it
 * tells nothing about which tokens exist), 403 for a role too low, 503
 * when the database does not answer.
 */
static bool authorize(struct web *w, h2o_req_t *req, enum sl_role need, enum sl_role *role)
{
	static const char scheme[] = "Bearer ";
	struct sl_strbuf err = SL_STRBUF_INIT, user = SL_STRBUF_INIT;
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	const h2o_iovec_t *v = i < 0 ? NULL : &req->headers.entries[i].value;
	bool ok = false, revoked = false;
	char *token;

	/* RFC 9110: the scheme's name is case-insensitive. */
	if (!v || v->len < sizeof(scheme) - 1 || strncasecmp(v->base, scheme, sizeof(scheme) - 1)) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
		               H2O_STRLIT("Bearer realm=\"sluice\""));
		problem(req, 401, "Unauthorized",
		        "this resource needs an API token: Authorization: Bearer sluice-tk1...");
		goto out;
	}
	/* The header's bytes are not NUL-terminated: a copy in the request's pool. */
	token = h2o_mem_alloc_pool(&req->pool, v->len - (sizeof(scheme) - 1) + 1);
	memcpy(token, v->base + sizeof(scheme) - 1, v->len - (sizeof(scheme) - 1));
	token[v->len - (sizeof(scheme) - 1)] = '\0';
	if (sl_token_check(w->db, token, strlen(token), &ok, &revoked, &user, role, &err)) {
		db_failed(req, "token_check", &err);
		ok = false;
		goto out;
	}
	if (!ok) {
		sl_log("info", "auth_refused", "reason=%s", revoked ? "revoked" : "unknown");
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
		               H2O_STRLIT("Bearer realm=\"sluice\", error=\"invalid_token\""));
		problem(req, 401, "Unauthorized", "the API token is unknown or revoked");
		goto out;
	}
	if (*role < need) {
		char *detail = h2o_mem_alloc_pool(&req->pool, 128);

		snprintf(detail, 128, "this needs the role %s; user %.40s is %s",
		         sl_role_name(need), user.buf, sl_role_name(*role));
		problem(req, 403, "Forbidden", detail);
		ok = false;
	}
out:
	sl_strbuf_release(&user);
	sl_strbuf_release(&err);
	return ok;
}

/* GET /api/v1/dags: `sluice dags list --json`'s document (sluice/dags_list.h). */
static void route_dags(struct web *w, h2o_req_t *req)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	json_t *list = NULL;
	char *body = NULL;

	if (sl_view_dags(w->db, NULL, &res, &err)) {
		db_failed(req, "dags_list", &err);
		goto out;
	}
	list = json_array();
	for (int row = 0; list && row < sl_rows_nr(res); row++) {
		struct sl_schedule s = SL_SCHEDULE_INIT;
		bool readable = sl_dags_schedule_read(res, row, &s, &err) == 0;

		if (!readable) {
			/* As the CLI does: the row is listed, its next run is null. */
			struct sl_strbuf q = SL_STRBUF_INIT;

			sl_log_quote(&q, err.buf);
			sl_log("warn", "dag_unreadable", "dag=%s error=%s",
			       sl_rows_str(res, row, SL_DAGS_COL_ID), q.buf);
			sl_strbuf_release(&q);
			sl_strbuf_reset(&err);
		}
		if (json_array_append_new(list, sl_dags_row_json(res, row, &s, readable)))
			json_decref(list), list = NULL;
		sl_schedule_release(&s);
	}
	if (!list || !(body = json_dumps(list, JSON_COMPACT))) {
		problem(req, 500, "Internal Server Error", "out of memory");
		goto out;
	}
	respond(req, 200, "OK", "application/json", body, strlen(body));
out:
	free(body);
	json_decref(list);
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

static void not_found(h2o_req_t *req)
{
	char *detail = h2o_mem_alloc_pool(&req->pool, req->path_normalized.len + 32);

	snprintf(detail, req->path_normalized.len + 32, "no resource at %.*s",
	         (int)req->path_normalized.len, req->path_normalized.base);
	problem(req, 404, "Not Found", detail);
}

/*
 * Routing. /health and /api/v1/version need no token (load balancers and
 * client version checks); every other path under /api/v1/ does, even one
 * that does not exist, so that an anonymous client cannot map the API.
 */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct web *w = ((struct web_handler *)self)->w;
	bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
	           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
	bool api = req->path_normalized.len >= 8 &&
	           !memcmp(req->path_normalized.base, "/api/v1/", 8) &&
	           !path_is(req, "/api/v1/version");
	bool known = path_is(req, "/health") || path_is(req, "/api/v1/version") ||
	             path_is(req, "/api/v1/dags");
	enum sl_role role;

	if (api && !authorize(w, req, SL_ROLE_VIEWER, &role))
		return 0;
	if (known && !get) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
		               H2O_STRLIT("GET, HEAD"));
		problem(req, 405, "Method Not Allowed", "this resource is read with GET");
	} else if (path_is(req, "/health")) {
		route_health(w, req);
	} else if (path_is(req, "/api/v1/version")) {
		respond(req, 200, "OK", "application/json",
		        H2O_STRLIT("{\"version\":\"" SLUICE_VERSION "\"}"));
	} else if (path_is(req, "/api/v1/dags")) {
		route_dags(w, req);
	} else {
		not_found(req);
	}
	return 0;
}

/*
 * h2o's context holds handles of its own (timers, a uv_async for its
 * queue) that keep the loop running: disposed once nothing uses them.
 */
static void h2o_done(struct web *w)
{
	if (!w->h2o_ready)
		return;
	w->h2o_ready = false;
	/*
	 * h2o_context_request_shutdown linked h2o's HTTP/2 GOAWAY re-sender into
	 * its one-second timeout; with no connection left it has nothing to
	 * do, and h2o_context_dispose asserts that no timeout is still armed.
	 */
	if (h2o_timeout_is_linked(&w->h2o_ctx.http2._graceful_shutdown_timeout))
		h2o_timeout_unlink(&w->h2o_ctx.http2._graceful_shutdown_timeout);
	h2o_context_dispose(&w->h2o_ctx);
	h2o_config_dispose(&w->h2o_cfg);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct web_conn *conn = (struct web_conn *)h;
	struct web *w = conn->w;

	free(conn);
	if (--w->conns_nr == 0 && w->stopping)
		h2o_done(w);
}

static void on_accept(uv_stream_t *listener, int status)
{
	struct web *w = listener->data;
	struct web_conn *conn;
	int rc;

	if (status) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(status));
		return;
	}
	conn = h2o_mem_alloc(sizeof(*conn));
	conn->w = w;
	if ((rc = uv_tcp_init(listener->loop, &conn->tcp))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		free(conn);
		return;
	}
	w->conns_nr++;
	if ((rc = uv_accept(listener, (uv_stream_t *)&conn->tcp))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
		return;
	}
	/* h2o owns the handle from here and calls on_conn_closed once it is closed. */
	h2o_accept(&w->accept_ctx, h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_conn_closed));
}

static int web_listen(struct web *w)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sockaddr_storage addr;
	char *host = NULL;
	int port, rc;

	if ((rc = sl_hostport_parse(w->cfg.web_listen, &host, &port, &err))) {
		sl_log("error", "listen_failed", "listen=%s error=\"%s\"", w->cfg.web_listen,
		       err.buf);
		goto out;
	}
	if (uv_ip4_addr(!strcmp(host, "localhost") ? "127.0.0.1" : host, port,
	                (struct sockaddr_in *)&addr) &&
	    (rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr))) {
		sl_log("error", "listen_failed",
		       "listen=%s error=\"not a numeric IPv4 or IPv6 address\"", w->cfg.web_listen);
		goto out;
	}
	if ((rc = uv_tcp_init(w->loop, &w->listener)))
		goto fail;
	w->listener.data = w;
	if ((rc = uv_tcp_bind(&w->listener, (struct sockaddr *)&addr, 0)) ||
	    (rc = uv_listen((uv_stream_t *)&w->listener, 128, on_accept)))
		goto fail;
	goto out;
fail:
	sl_log("error", "listen_failed", "listen=%s error=\"%s\"", w->cfg.web_listen,
	       uv_strerror(rc));
out:
	free(host);
	sl_strbuf_release(&err);
	return rc;
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
	/*
	 * No more keep-alive: each open connection closes after its answer
	 * (an idle one at h2o's keep-alive timeout); h2o is disposed of after
	 * the last.
	 */
	if (w->conns_nr == 0)
		h2o_done(w);
	else
		h2o_context_request_shutdown(&w->h2o_ctx);
	close_handle((uv_handle_t *)&w->listener);
	close_handle((uv_handle_t *)&w->watchdog_timer);
	close_handle((uv_handle_t *)&w->sigterm);
	close_handle((uv_handle_t *)&w->sigint);
}

static int start(struct web *w)
{
	struct web_handler *h;
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	int rc;

	h2o_config_init(&w->h2o_cfg);
	host = h2o_config_register_host(&w->h2o_cfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	path = h2o_config_register_path(host, "/", 0);
	h = (struct web_handler *)h2o_create_handler(path, sizeof(*h));
	h->super.on_req = on_req;
	h->w = w;
	h2o_context_init(&w->h2o_ctx, w->loop, &w->h2o_cfg);
	w->h2o_ready = true;
	w->accept_ctx.ctx = &w->h2o_ctx;
	w->accept_ctx.hosts = w->h2o_cfg.hosts;
	if (w->tls) {
		w->accept_ctx.ssl_ctx = sl_tls_ctx_ssl(w->tls);
		/* HTTP/2 for clients that offer it, HTTP/1.1 otherwise. */
		h2o_ssl_register_alpn_protocols(w->accept_ctx.ssl_ctx, h2o_http2_alpn_protocols);
	}

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
	if ((rc = web_listen(w)))
		return rc;
	sl_sdnotify_watchdog_start(&w->watchdog_timer);
	sl_log("info", "started", "listen=%s tls=%s base_url=%s database=%s:%s version=%s",
	       w->cfg.web_listen, w->tls ? "yes" : "no",
	       w->cfg.web_base_url ? w->cfg.web_base_url : "-", sl_db_where(w->db),
	       sl_db_name(w->db), SLUICE_VERSION);
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
	fprintf(f, "usage: sluice-web --config FILE [--check-config]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'}, /* parse, print "ok", exit 0 or 2 */
	    {NULL, 0, NULL, 0},
	};
	const char *config = SL_CONFIG_DEFAULT_PATH;
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sigaction sa;
	struct web w;
	uv_loop_t loop;
	int c, rc, status = 1;
	bool loop_ok = false, check_only = false;

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
	if (sl_db_connect(&w.db, w.cfg.database_url, &err)) {
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
		/* No client yet: dispose of h2o, close ours, run the close callbacks. */
		w.stopping = true;
		h2o_done(&w);
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
	sl_db_free(w.db);
	sl_tls_ctx_free(w.tls);
	sl_diags_release(&diags);
	sl_strbuf_release(&err);
	sl_config_release(&w.cfg);
	return status;
}
