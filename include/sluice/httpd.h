#ifndef SLUICE_HTTPD_H
#define SLUICE_HTTPD_H

#ifndef SLUICE_LAYER_HTTP
#error "sluice/httpd.h: this target does not link the http layer (docs/architecture.md)"
#endif

#include <stddef.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "sluice/strbuf.h"

/**
 * An HTTP server on a daemon's libuv loop: h2o (Debian's libh2o, the libuv
 * flavour) parses HTTP/1.1 and HTTP/2, this module owns the listener, the
 * h2o context and the count of open connections, so that sluice-web and
 * the daemons' metrics endpoints share one way to listen and to stop. No
 * request is parsed here: h2o answers a malformed one itself (400).
 */
struct sl_httpd;
struct st_h2o_req_t;

/*
 * Takes one request, on the loop: answers it now, or later (on the loop
 * too) once it has what the answer needs.
 */
typedef void (*sl_httpd_handler_fn)(void *data, struct st_h2o_req_t *req);

/**
 * Starts serving on `listen` ("HOST:PORT", a numeric IPv4 or IPv6 address
 * or localhost): clear text when `ssl` is NULL, otherwise TLS with ALPN
 * offering HTTP/2 and HTTP/1.1 (the caller keeps `ssl` alive until the
 * server has stopped). Request bodies above `max_body` bytes are refused
 * by h2o with 413. Returns 0 with `*out` set, or a negative error with a
 * sentence in `err` and nothing left on the loop.
 */
int sl_httpd_start(struct sl_httpd **out, uv_loop_t *loop, const char *listen, SSL_CTX *ssl,
                   size_t max_body, sl_httpd_handler_fn fn, void *data, struct sl_strbuf *err);

/**
 * Stops accepting and lets each open connection close after its answer
 * (an idle one at h2o's keep-alive timeout); the server frees itself once
 * the last has closed. Requests still being answered keep their
 * connection, so a handler that answers later still can. NULL is a no-op.
 */
void sl_httpd_stop(struct sl_httpd *h);

/**
 * Answers with `status` and a body (copied by h2o) of media type `type`
 * (NULL: none, for 204), never cached.
 */
void sl_httpd_respond(struct st_h2o_req_t *req, int status, const char *type, const char *body,
                      size_t len);

/**
 * Answers with an RFC 9457 problem document: `title` is the status's
 * reason phrase, `detail` a sentence meant for a human (escaped here).
 */
void sl_httpd_problem(struct st_h2o_req_t *req, int status, const char *detail);

/** The reason phrase of an HTTP status ("Not Found"), "Error" if unknown. */
const char *sl_httpd_reason(int status);

#endif
