/*
 * The HTTP server shared by sluice-web and the daemons' metrics endpoints
 * (sluice/httpd.h): h2o on the caller's loop.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include <jansson.h>

#include "sluice/alloc.h"
#include "sluice/config.h"
#include "sluice/error.h"
#include "sluice/httpd.h"
#include "sluice/log.h"

struct sl_httpd {
	uv_tcp_t listener;
	h2o_globalconf_t cfg;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	sl_httpd_handler_fn fn;
	void *data;
	size_t conns_nr; /* client connections open */
	bool stopping;
	bool listener_open; /* its close callback has not run yet */
};

/*
 * A client connection: h2o owns its handle (and uses the handle's data),
 * the server counts it, so that a stop can wait for the last one.
 */
struct httpd_conn {
	uv_tcp_t tcp; /* first: the handle's address is the connection's */
	struct sl_httpd *h;
};

/* h2o hands a handler only itself: the server is found through it. */
struct httpd_handler {
	h2o_handler_t super;
	struct sl_httpd *h;
};

const char *sl_httpd_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Range Not Satisfiable";
	case 422:
		return "Unprocessable Content";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

void sl_httpd_respond(h2o_req_t *req, int status, const char *type, const char *body, size_t len)
{
	req->res.status = status;
	req->res.reason = sl_httpd_reason(status);
	if (type)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
		               strlen(type));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	/*
	 * Answers carry names, logs and files that others wrote: a browser
	 * must neither guess they are HTML nor run or frame anything in them,
	 * unless the answer says otherwise (the UI's page, an SVG; see
	 * docs/security.md, "Answers a browser opens").
	 */
	if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-content-type-options"), -1) < 0)
		h2o_add_header_by_str(&req->pool, &req->res.headers,
		                      H2O_STRLIT("x-content-type-options"), 0, NULL,
		                      H2O_STRLIT("nosniff"));
	if (h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("content-security-policy"), -1) <
	    0)
		h2o_add_header_by_str(&req->pool, &req->res.headers,
		                      H2O_STRLIT("content-security-policy"), 0, NULL,
		                      H2O_STRLIT("default-src 'none'; frame-ancestors 'none'"));
	h2o_send_inline(req, body, len);
}

void sl_httpd_problem(h2o_req_t *req, int status, const char *detail)
{
	json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
	                        sl_httpd_reason(status), "status", status, "detail", detail);
	char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	if (body) {
		sl_httpd_respond(req, status, "application/problem+json", body, strlen(body));
	} else {
		/* Out of memory in jansson: still a well-formed answer. */
		sl_httpd_respond(req, 500, "application/problem+json",
		                 H2O_STRLIT("{\"type\":\"about:blank\",\"title\":\"Internal Server "
		                            "Error\",\"status\":500}"));
	}
	free(body);
	json_decref(doc);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct sl_httpd *h = ((struct httpd_handler *)self)->h;

	h->fn(h->data, req);
	return 0;
}

/* Once nothing uses it: h2o's context holds handles that keep the loop alive. */
static void httpd_free(struct sl_httpd *h)
{
	/*
	 * h2o_context_request_shutdown linked h2o's HTTP/2 GOAWAY re-sender into
	 * its one-second timeout; with no connection left it has nothing to
	 * do, and h2o_context_dispose asserts that no timeout is still armed.
	 */
	if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
		h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
	h2o_context_dispose(&h->ctx);
	h2o_config_dispose(&h->cfg);
	free(h);
}

static void maybe_free(struct sl_httpd *h)
{
	if (h->stopping && h->conns_nr == 0 && !h->listener_open)
		httpd_free(h);
}

static void on_listener_closed(uv_handle_t *handle)
{
	struct sl_httpd *h = handle->data;

	h->listener_open = false;
	maybe_free(h);
}

static void on_conn_closed(uv_handle_t *handle)
{
	struct httpd_conn *conn = (struct httpd_conn *)handle;
	struct sl_httpd *h = conn->h;

	free(conn);
	h->conns_nr--;
	maybe_free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
	struct sl_httpd *h = listener->data;
	struct httpd_conn *conn;
	int rc;

	if (status) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(status));
		return;
	}
	conn = sl_xmalloc(sizeof(*conn));
	conn->h = h;
	if ((rc = uv_tcp_init(listener->loop, &conn->tcp))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		free(conn);
		return;
	}
	h->conns_nr++;
	if ((rc = uv_accept(listener, (uv_stream_t *)&conn->tcp))) {
		sl_log("warn", "accept_failed", "error=\"%s\"", uv_strerror(rc));
		uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
		return;
	}
	/* h2o owns the handle from here and calls on_conn_closed once it is closed. */
	h2o_accept(&h->accept_ctx, h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_conn_closed));
}

static int resolve(const char *listen, struct sockaddr_storage *addr, struct sl_strbuf *err)
{
	char *host = NULL;
	int port, rc;

	if ((rc = sl_hostport_parse(listen, &host, &port, err)))
		return rc;
	if (uv_ip4_addr(!strcmp(host, "localhost") ? "127.0.0.1" : host, port,
	                (struct sockaddr_in *)addr) &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr)) {
		sl_strbuf_addf(err, "%s: not a numeric IPv4 or IPv6 address", listen);
		rc = SL_EINVAL;
	}
	free(host);
	return rc;
}

/* A listener that never served: nothing of h2o's to dispose of. */
static void on_unused_closed(uv_handle_t *handle)
{
	free(handle->data);
}

int sl_httpd_start(struct sl_httpd **out, uv_loop_t *loop, const char *listen, SSL_CTX *ssl,
                   size_t max_body, sl_httpd_handler_fn fn, void *data, struct sl_strbuf *err)
{
	struct sockaddr_storage addr;
	struct httpd_handler *handler;
	struct sl_httpd *h;
	h2o_hostconf_t *host;
	int rc;

	*out = NULL;
	if ((rc = resolve(listen, &addr, err)))
		return rc;
	h = sl_xcalloc(1, sizeof(*h));
	if ((rc = uv_tcp_init(loop, &h->listener))) {
		sl_strbuf_addf(err, "%s: %s", listen, uv_strerror(rc));
		free(h);
		return rc;
	}
	h->listener.data = h;
	if ((rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&addr, 0)) ||
	    (rc = uv_listen((uv_stream_t *)&h->listener, 128, on_accept))) {
		sl_strbuf_addf(err, "%s: %s", listen, uv_strerror(rc));
		uv_close((uv_handle_t *)&h->listener, on_unused_closed);
		return rc;
	}
	/* No connection is accepted before the loop runs again: h2o is ready by then. */
	h->listener_open = true;
	h->fn = fn;
	h->data = data;
	h2o_config_init(&h->cfg);
	h->cfg.max_request_entity_size = max_body;
	host = h2o_config_register_host(&h->cfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	handler = (struct httpd_handler *)h2o_create_handler(h2o_config_register_path(host, "/", 0),
	                                                     sizeof(*handler));
	handler->super.on_req = on_req;
	handler->h = h;
	h2o_context_init(&h->ctx, loop, &h->cfg);
	h->accept_ctx.ctx = &h->ctx;
	h->accept_ctx.hosts = h->cfg.hosts;
	if (ssl) {
		h->accept_ctx.ssl_ctx = ssl;
		h2o_ssl_register_alpn_protocols(ssl, h2o_http2_alpn_protocols);
	}
	*out = h;
	return 0;
}

void sl_httpd_stop(struct sl_httpd *h)
{
	if (!h || h->stopping)
		return;
	h->stopping = true;
	if (h->conns_nr)
		h2o_context_request_shutdown(&h->ctx);
	uv_close((uv_handle_t *)&h->listener, on_listener_closed);
}
