/*
 * A request's trip off the loop (web.h): its inputs are copied from h2o on
 * the loop, its handler runs on a thread of libuv's pool with a database
 * connection of that thread's own, and its answer is sent back on the loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <h2o.h>
#include <netdb.h>

#include "sluice/alloc.h"
#include "sluice/container.h"
#include "sluice/error.h"
#include "sluice/httpd.h"
#include "sluice/log.h"
#include "sluice/url.h"
#include "sluice/views.h"
#include "web.h"

int web_dbpool_init(struct web_dbpool *pool, const char *conninfo)
{
	memset(pool, 0, sizeof(*pool));
	pool->conninfo = conninfo;
	if (pthread_mutex_init(&pool->lock, NULL))
		return SL_ERR;
	if (pthread_cond_init(&pool->freed, NULL)) {
		pthread_mutex_destroy(&pool->lock);
		return SL_ERR;
	}
	return 0;
}

void web_dbpool_release(struct web_dbpool *pool)
{
	for (size_t i = 0; i < WEB_DB_CONNS; i++)
		sl_db_free(pool->conns[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
}

/*
 * A connection for this thread: a free one, connected on first use. libuv's
 * pool has as many threads as there are connections (UV_THREADPOOL_SIZE is
 * 4 unless the environment says more), so the wait is short or none.
 */
static int dbpool_take(struct web_dbpool *pool, size_t *slot, struct sl_strbuf *err)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		for (i = 0; i < WEB_DB_CONNS && pool->busy[i]; i++)
			;
		if (i < WEB_DB_CONNS)
			break;
		pthread_cond_wait(&pool->freed, &pool->lock);
	}
	pool->busy[i] = true;
	pthread_mutex_unlock(&pool->lock);
	*slot = i;
	if (!pool->conns[i])
		rc = sl_db_connect(&pool->conns[i], pool->conninfo, err);
	if (rc) {
		pthread_mutex_lock(&pool->lock);
		pool->busy[i] = false;
		pthread_cond_signal(&pool->freed);
		pthread_mutex_unlock(&pool->lock);
	}
	return rc;
}

static void dbpool_give(struct web_dbpool *pool, size_t slot)
{
	pthread_mutex_lock(&pool->lock);
	pool->busy[slot] = false;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

const char *web_query(const struct web_call *c, const char *key)
{
	for (size_t i = 0; i < c->query_nr; i++)
		if (!strcmp(c->query_keys[i], key))
			return c->query_values[i];
	return NULL;
}

void web_header(struct web_call *c, const char *name, const char *value)
{
	if (c->headers_nr == WEB_HEADERS_MAX)
		return;
	c->headers[c->headers_nr].name = name;
	c->headers[c->headers_nr++].value = sl_xstrdup(value);
}

void web_answer(struct web_call *c, int status, const char *type, const char *body, size_t len)
{
	c->status = status;
	c->type = type;
	sl_strbuf_reset(&c->out);
	sl_strbuf_add(&c->out, body, len);
}

void web_json(struct web_call *c, int status, json_t *doc)
{
	char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	if (body)
		web_answer(c, status, "application/json", body, strlen(body));
	else
		web_problem(c, 500, "out of memory");
	free(body);
	json_decref(doc);
}

void web_problem(struct web_call *c, int status, const char *fmt, ...)
{
	static const char oom[] =
	    "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500}";
	struct sl_strbuf detail = SL_STRBUF_INIT;
	json_t *doc;
	char *body = NULL;
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(&detail, fmt, ap);
	va_end(ap);
	doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
	                sl_httpd_reason(status), "status", status, "detail", detail.buf);
	if (doc && (body = json_dumps(doc, JSON_COMPACT)))
		web_answer(c, status, "application/problem+json", body, strlen(body));
	else
		web_answer(c, 500, "application/problem+json", oom, strlen(oom));
	free(body);
	json_decref(doc);
	sl_strbuf_release(&detail);
}

void web_db_failed(struct web_call *c, const char *what, const struct sl_strbuf *err)
{
	struct sl_strbuf q = SL_STRBUF_INIT;

	sl_log_quote(&q, err->buf);
	sl_log("warn", "db_failed", "what=%s error=%s", what, q.buf);
	sl_strbuf_release(&q);
	web_problem(c, 503, "the database does not answer");
}

/* Whether media type `v` is application/json, with parameters or not. */
static bool is_json_type(const char *v)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	v += strspn(v, " \t");
	if (strncasecmp(v, json, n))
		return false;
	v += n;
	v += strspn(v, " \t");
	return *v == '\0' || *v == ';';
}

bool web_content_json(struct web_call *c)
{
	/* A form or text body, even an empty one (a <form> with no fields),
	 * is refused before it is read: what a browser sends cross-site
	 * without a CORS preflight never reaches a handler. */
	if (c->content_type ? is_json_type(c->content_type) : !c->body_len)
		return true;
	web_problem(c, 415, "the request body must be Content-Type: application/json, not %.100s",
	            c->content_type ? c->content_type : "none");
	return false;
}

json_t *web_body_object(struct web_call *c)
{
	json_error_t jerr;
	json_t *doc;

	if (!web_content_json(c))
		return NULL;
	if (!c->body_len) {
		web_problem(c, 400, "the request needs a JSON object as its body");
		return NULL;
	}
	doc = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		web_problem(c, 400, "request body:%d:%d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		web_problem(c, 400, "request body: expected a JSON object");
		return NULL;
	}
	return doc;
}

/*
 * A bearer token's caller: its token is checked against api_tokens
 * (sl_token_check). True when it is a live token; false once answered 401
 * without a token or with one that is malformed, unknown or revoked (the
 * same answer for all three, so that it tells nothing about which tokens
 * exist), 503 when the database does not answer.
 */
static bool by_token(struct web_call *c, struct sl_db *db)
{
	static const char scheme[] = "Bearer ";
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *v = c->authorization;
	bool ok = false, revoked = false;

	/* RFC 9110: the scheme's name is case-insensitive. */
	if (!v || strncasecmp(v, scheme, sizeof(scheme) - 1)) {
		web_header(c, "www-authenticate", "Bearer realm=\"sluice\"");
		web_problem(
		    c, 401,
		    "this resource needs an API token: Authorization: Bearer sluice-tk1...");
		goto out;
	}
	v += sizeof(scheme) - 1;
	if (sl_token_check(db, v, strlen(v), &ok, &revoked, &c->user, &c->role, &err)) {
		web_db_failed(c, "token_check", &err);
		ok = false;
		goto out;
	}
	if (!ok) {
		sl_log("info", "auth_refused", "reason=%s", revoked ? "revoked" : "unknown");
		web_header(c, "www-authenticate",
		           "Bearer realm=\"sluice\", error=\"invalid_token\"");
		web_problem(c, 401, "the API token is unknown or revoked");
	}
out:
	sl_strbuf_release(&err);
	return ok;
}

/*
 * The caller of a route that is not open: by its bearer token, or, for a
 * request without an Authorization header, by its UI session's cookie
 * (web_session_auth, which also wants the CSRF token of a request that
 * changes something); then its role is compared with the route's. True
 * when the request may go on; false once it has been answered: 401, 403
 * for a role too low, 503 when the database does not answer.
 */
static bool authorize(struct web_call *c, struct sl_db *db)
{
	enum sl_role need = (enum sl_role)(c->route->access - WEB_VIEWER + SL_ROLE_VIEWER);

	if (!c->authorization && c->cookie ? !web_session_auth(c, db, NULL) : !by_token(c, db))
		return false;
	if (c->role < need) {
		web_problem(c, 403, "this needs the role %s; user %.40s is %s", sl_role_name(need),
		            c->user.buf, sl_role_name(c->role));
		return false;
	}
	return true;
}

/*
 * A run route's run id `latest` is the DAG's newest run, as in the CLI
 * (sl_run_id_resolve). False once answered: 404 for a DAG without runs.
 */
static bool resolve_run(struct web_call *c, struct sl_db *db)
{
	static const char run_route[] = "/api/v1/dags/{}/runs/{}";
	struct sl_strbuf hold = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	const char *run;
	bool ok = true;
	int rc;

	if (c->params_nr < 2 || strncmp(c->route->pattern, run_route, sizeof(run_route) - 1))
		return true;
	run = c->params[1];
	rc = sl_run_id_resolve(db, c->params[0], &run, &hold, &err);
	if (rc == SL_ENOENT) {
		web_problem(c, 404, "%s", err.buf);
		ok = false;
	} else if (rc) {
		web_db_failed(c, "run_latest", &err);
		ok = false;
	} else if (run != c->params[1]) {
		free(c->params[1]);
		c->params[1] = sl_strbuf_detach(&hold, NULL);
	}
	sl_strbuf_release(&hold);
	sl_strbuf_release(&err);
	return ok;
}

static void on_work(uv_work_t *work)
{
	struct web_call *c = container_of(work, struct web_call, work);
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db;
	size_t slot;

	if (dbpool_take(&c->w->pool, &slot, &err)) {
		web_db_failed(c, "connect", &err);
		goto out;
	}
	db = c->w->pool.conns[slot];
	if ((c->route->access == WEB_OPEN || authorize(c, db)) && resolve_run(c, db))
		c->route->fn(c, db);
	dbpool_give(&c->w->pool, slot);
out:
	sl_strbuf_release(&err);
}

static void call_free(struct web_call *c)
{
	for (size_t i = 0; i < c->params_nr; i++)
		free(c->params[i]);
	for (size_t i = 0; i < c->query_nr; i++) {
		free(c->query_keys[i]);
		free(c->query_values[i]);
	}
	for (size_t i = 0; i < c->headers_nr; i++)
		free(c->headers[i].value);
	free(c->body);
	free(c->method);
	free(c->authorization);
	free(c->range);
	free(c->content_type);
	free(c->cookie);
	free(c->origin);
	free(c->csrf);
	free(c->own_origin);
	free(c->peer);
	sl_strbuf_release(&c->user);
	sl_strbuf_release(&c->out);
	free(c);
}

/* h2o has disposed of the request (its client went away): nobody to answer. */
static void on_req_disposed(void *p)
{
	struct web_call **ref = p;

	if (*ref)
		(*ref)->req = NULL;
}

static void on_done(uv_work_t *work, int status)
{
	struct web_call *c = container_of(work, struct web_call, work);
	h2o_req_t *req = c->req;

	(void)status; /* work is never cancelled: uv_cancel is not called */
	if (req) {
		*(struct web_call **)c->req_ref = NULL;
		for (size_t i = 0; i < c->headers_nr; i++)
			h2o_add_header_by_str(
			    &req->pool, &req->res.headers, c->headers[i].name,
			    strlen(c->headers[i].name), 0, NULL,
			    h2o_strdup(&req->pool, c->headers[i].value, SIZE_MAX).base,
			    strlen(c->headers[i].value));
		if (c->stream && c->status == 200)
			web_events_attach(c->w->events, req, web_query(c, "dag"));
		else
			/* h2o copies the body before this returns; HEAD gets none. */
			sl_httpd_respond(req, c->status, c->type, c->out.buf, c->out.len);
	}
	call_free(c);
}

/* Header `i` of `req`, as found by h2o_find_header*: NULL when not found (-1). */
static char *copy_found(h2o_req_t *req, ssize_t i)
{
	if (i < 0)
		return NULL;
	return sl_xstrndup(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

/*
 * Every Cookie header, joined as one (RFC 6265 §5.4): HTTP/2 clients may
 * send each cookie in a header of its own (RFC 9113 §8.2.3).
 */
static char *copy_cookies(h2o_req_t *req)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
		if (sb.len)
			sl_strbuf_adds(&sb, "; ");
		sl_strbuf_add(&sb, req->headers.entries[i].value.base,
		              req->headers.entries[i].value.len);
	}
	return sb.len ? sl_strbuf_detach(&sb, NULL) : NULL;
}

static char *copy_peer(h2o_req_t *req)
{
	struct sockaddr_storage ss;
	char host[NI_MAXHOST];
	socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

	if (len == 0 || h2o_socket_getnumerichost((struct sockaddr *)&ss, len, host) == SIZE_MAX)
		return sl_xstrdup("-");
	return sl_xstrdup(host);
}

static void copy_query(struct web_call *c, const char *q, size_t len)
{
	while (len && c->query_nr < WEB_QUERY_MAX) {
		const char *amp = memchr(q, '&', len);
		size_t part = amp ? (size_t)(amp - q) : len;
		const char *eq = memchr(q, '=', part);
		size_t klen = eq ? (size_t)(eq - q) : part;

		if (klen) {
			c->query_keys[c->query_nr] = sl_url_pct_decode(q, klen, true);
			c->query_values[c->query_nr++] =
			    eq ? sl_url_pct_decode(eq + 1, part - klen - 1, true) : sl_xstrdup("");
		}
		q += part + (amp != NULL);
		len -= part + (amp != NULL);
	}
}

void web_call_start(struct web *w, h2o_req_t *req, const struct web_route *route, char **params,
                    size_t params_nr)
{
	struct web_call *c = sl_xcalloc(1, sizeof(*c));
	struct web_call **ref;
	int rc;

	c->w = w;
	c->req = req;
	c->route = route;
	c->user = (struct sl_strbuf)SL_STRBUF_INIT;
	c->out = (struct sl_strbuf)SL_STRBUF_INIT;
	for (size_t i = 0; i < params_nr; i++)
		c->params[c->params_nr++] = params[i];
	if (req->query_at != SIZE_MAX)
		copy_query(c, req->path.base + req->query_at + 1,
		           req->path.len - req->query_at - 1);
	if (req->entity.base) {
		c->body = sl_xstrndup(req->entity.base, req->entity.len);
		c->body_len = req->entity.len;
	}
	c->method = sl_xstrndup(req->method.base, req->method.len);
	c->authorization =
	    copy_found(req, h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1));
	c->range = copy_found(req, h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1));
	c->cookie = copy_cookies(req);
	c->origin =
	    copy_found(req, h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1));
	c->csrf =
	    copy_found(req, h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-csrf-token"), -1));
	c->own_origin = sl_xasprintf("%s://%.*s", w->tls ? "https" : "http",
	                             (int)req->input.authority.len, req->input.authority.base);
	c->peer = copy_peer(req);
	c->content_type =
	    copy_found(req, h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1));
	ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_req_disposed);
	*ref = c;
	c->req_ref = ref;
	if ((rc = uv_queue_work(w->loop, &c->work, on_work, on_done))) {
		*ref = NULL;
		sl_httpd_problem(req, 500, uv_strerror(rc));
		call_free(c);
	}
}
