/*
 * Routing (web.h): a request's method and path choose a route from one
 * table, its "{}" segments become the handler's parameters, and the call
 * goes off the loop. /health, /api/v1/version and /api/v1/openapi.json
 * need no token (load balancers, client version checks, and a document
 * that is public in the sources anyway); every other path under /api/v1/
 * does, even one that does not exist or a method a route does not take,
 * so that an anonymous client cannot map the API. The UI's files (/ and
 * /ui/...) are answered on the loop before the table (ui.c): they need
 * neither a caller nor the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "sluice/alloc.h"
#include "sluice/httpd.h"
#include "sluice/url.h"
#include "api_act.h"
#include "web.h"

static void not_found(struct web_call *c, struct sl_db *db);
static void not_allowed(struct web_call *c, struct sl_db *db);

static const struct web_route routes[] = {
    {"GET", "/health", WEB_OPEN, web_api_health},
    {"GET", "/metrics", WEB_VIEWER, web_api_metrics},
    {"GET", "/api/v1/version", WEB_OPEN, web_api_version},
    {"GET", "/api/v1/openapi.json", WEB_OPEN, web_api_openapi},
    {"GET", "/api/v1/dags", WEB_VIEWER, web_api_dags},
    {"GET", "/api/v1/events", WEB_VIEWER, web_api_events},
    {"GET", "/api/v1/dags/{}/graph", WEB_VIEWER, web_api_graph},
    {"GET", "/api/v1/dags/{}", WEB_VIEWER, web_api_dag},
    {"GET", "/api/v1/dags/{}/versions/{}/source", WEB_VIEWER, web_api_dag_source},
    {"GET", "/api/v1/dags/{}/runs", WEB_VIEWER, web_api_runs},
    {"GET", "/api/v1/dags/{}/runs/{}", WEB_VIEWER, web_api_run},
    {"GET", "/api/v1/dags/{}/grid", WEB_VIEWER, web_api_grid},
    {"GET", "/api/v1/dags/{}/runs/{}/tasks/{}/tries/{}/log", WEB_VIEWER, web_api_log},
    {"GET", "/api/v1/pools", WEB_VIEWER, web_api_pools},
    {"GET", "/api/v1/workers", WEB_VIEWER, web_api_workers},
    {"GET", "/api/v1/status", WEB_VIEWER, web_api_status},
    {"POST", "/api/v1/session", WEB_OPEN, web_api_session_create},
    {"GET", "/api/v1/session", WEB_OPEN, web_api_session_get},
    {"DELETE", "/api/v1/session", WEB_OPEN, web_api_session_delete},
    /* actions (api_act.h) */
    {"POST", "/api/v1/dags/{}/runs", WEB_OPERATOR, web_api_trigger},
    {"POST", "/api/v1/dags/{}/runs/{}/cancel", WEB_OPERATOR, web_api_cancel},
    {"POST", "/api/v1/dags/{}/runs/{}/clear", WEB_OPERATOR, web_api_clear},
    {"POST", "/api/v1/dags/{}/runs/{}/tasks/{}/mark", WEB_OPERATOR, web_api_mark},
    {"PATCH", "/api/v1/dags/{}", WEB_OPERATOR, web_api_dag_patch},
    {"PUT", "/api/v1/pools/{}", WEB_ADMIN, web_api_pool_put},
    {"DELETE", "/api/v1/pools/{}", WEB_ADMIN, web_api_pool_delete},
    {"GET", "/api/v1/users", WEB_ADMIN, web_api_users},
    {"POST", "/api/v1/users", WEB_ADMIN, web_api_user_add},
    {"DELETE", "/api/v1/users/{}", WEB_ADMIN, web_api_user_delete},
    {"POST", "/api/v1/users/{}/tokens", WEB_ADMIN, web_api_token_create},
    {"DELETE", "/api/v1/tokens/{}", WEB_ADMIN, web_api_token_revoke},
    {"GET", "/api/v1/audit", WEB_ADMIN, web_api_audit},
    {"GET", "/api/v1/load-errors", WEB_VIEWER, web_api_load_errors},
};

/* Answers for /api/v1/ paths without a route, once the caller is known. */
static const struct web_route route_not_found = {"", "", WEB_VIEWER, not_found};
static const struct web_route route_not_allowed = {"", "", WEB_VIEWER, not_allowed};

/* The path's segments, split at "/" and not yet decoded. */
struct segments {
	h2o_iovec_t v[16];
	size_t nr;
	bool too_many;
};

static void split(struct segments *s, const char *path, size_t len)
{
	size_t i = 0;

	s->nr = 0;
	s->too_many = false;
	while (i < len) {
		size_t start;

		if (path[i] == '/')
			i++;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		if (s->nr == sizeof(s->v) / sizeof(s->v[0])) {
			s->too_many = true;
			return;
		}
		s->v[s->nr++] = h2o_iovec_init(path + start, i - start);
	}
}

static bool matches(const char *pattern, const struct segments *s)
{
	size_t n = 0;

	for (const char *p = pattern; *p; n++) {
		const char *end;
		size_t len;
		bool wild;

		if (*p == '/')
			p++;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (n == s->nr)
			return false;
		wild = len == 2 && !memcmp(p, "{}", 2);
		if (wild ? s->v[n].len == 0 : !h2o_memis(p, len, s->v[n].base, s->v[n].len))
			return false;
		p = end;
	}
	return n == s->nr;
}

static void take_params(const char *pattern, const struct segments *s, char **params, size_t *nr)
{
	size_t n = 0;

	*nr = 0;
	for (const char *p = pattern; *p; n++) {
		const char *end;

		if (*p == '/')
			p++;
		end = strchrnul(p, '/');
		if (end - p == 2 && !memcmp(p, "{}", 2) && *nr < WEB_PARAMS_MAX)
			params[(*nr)++] = sl_url_pct_decode(s->v[n].base, s->v[n].len, false);
		p = end;
	}
}

static bool method_is(const h2o_req_t *req, const char *method)
{
	if (h2o_memis(req->method.base, req->method.len, method, strlen(method)))
		return true;
	return !strcmp(method, "GET") && h2o_memis(req->method.base, req->method.len, "HEAD", 4);
}

static void not_found(struct web_call *c, struct sl_db *db)
{
	(void)db;
	web_problem(c, 404, "no resource at %s", c->params[0]);
}

static void not_allowed(struct web_call *c, struct sl_db *db)
{
	(void)db;
	web_header(c, "allow", c->params[0]);
	web_problem(c, 405, "%s is not one of the methods this resource takes: %s", c->params[1],
	            c->params[0]);
}

void web_routes_print(FILE *f)
{
	static const char *const access[] = {"open", "viewer", "operator", "admin"};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		fprintf(f, "%s %s %s\n", routes[i].method, routes[i].pattern,
		        access[routes[i].access]);
}

void web_route_request(struct web *w, h2o_req_t *req)
{
	size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	bool api = path_len >= 8 && !memcmp(req->path.base, "/api/v1/", 8);
	struct sl_strbuf allow = SL_STRBUF_INIT;
	char *params[WEB_PARAMS_MAX];
	struct segments s;
	size_t nr;

	if (!api && web_ui_serve(req, req->path.base, path_len))
		return;
	split(&s, req->path.base, path_len);
	for (size_t i = 0; !s.too_many && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!matches(routes[i].pattern, &s))
			continue;
		if (method_is(req, routes[i].method)) {
			take_params(routes[i].pattern, &s, params, &nr);
			web_call_start(w, req, &routes[i], params, nr);
			sl_strbuf_release(&allow);
			return;
		}
		sl_strbuf_addf(&allow, "%s%s", allow.len ? ", " : "", routes[i].method);
		if (!strcmp(routes[i].method, "GET"))
			sl_strbuf_adds(&allow, ", HEAD");
	}
	if (allow.len) {
		params[0] = sl_strbuf_detach(&allow, NULL);
		params[1] = sl_xstrndup(req->method.base, req->method.len);
		if (api) {
			web_call_start(w, req, &route_not_allowed, params, 2);
		} else {
			char detail[256];

			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
			               h2o_strdup(&req->pool, params[0], SIZE_MAX).base,
			               strlen(params[0]));
			snprintf(detail, sizeof(detail), "this resource takes %s", params[0]);
			sl_httpd_problem(req, 405, detail);
			free(params[0]);
			free(params[1]);
		}
		return;
	}
	params[0] = sl_xstrndup(req->path.base, path_len);
	if (api) {
		web_call_start(w, req, &route_not_found, params, 1);
	} else {
		char detail[256];

		snprintf(detail, sizeof(detail), "no resource at %.200s", params[0]);
		sl_httpd_problem(req, 404, detail);
		free(params[0]);
	}
	sl_strbuf_release(&allow);
}
