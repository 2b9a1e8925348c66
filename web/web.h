#ifndef SLUICE_WEB_H
#define SLUICE_WEB_H

/*
 * sluice-web's own modules (docs/web.md): the daemon (main.c), a request's
 * trip off the loop (call.c), the routes (routes.c) and their handlers.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

#include "sluice/accounts.h"
#include "sluice/config.h"
#include "sluice/db.h"
#include "sluice/sessions.h"
#include "sluice/strbuf.h"

struct st_h2o_req_t;

/*
 * The database connections handlers run on, one per thread of libuv's
 * pool at most: a handler blocks its own thread on PostgreSQL, never the
 * loop, so a slow query stalls no other request.
 */
#define WEB_DB_CONNS 4
struct web_dbpool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	const char *conninfo;
	struct sl_db *conns[WEB_DB_CONNS]; /* NULL: not connected yet */
	bool busy[WEB_DB_CONNS];
};

struct web {
	struct sl_config cfg;
	const char *conninfo;   /* web.database_url, else database_url */
	struct sl_tls_ctx *tls; /* NULL: clear text */
	uv_loop_t *loop;
	struct sl_httpd *httpd;
	struct web_dbpool pool;
	struct web_events *events;
	uv_signal_t sigterm, sigint;
	uv_timer_t watchdog_timer;
	bool stopping;
};

/* A route's handler, on a thread of libuv's pool with a connection of its own. */
struct web_call;
typedef void (*web_handler_fn)(struct web_call *c, struct sl_db *db);

/* Who may call a route: anyone, or a signed-in caller with at least a role. */
enum web_access { WEB_OPEN, WEB_VIEWER, WEB_OPERATOR, WEB_ADMIN };

struct web_route {
	const char *method;  /* GET also answers HEAD */
	const char *pattern; /* "/api/v1/dags/{}/runs": "{}" matches one segment */
	enum web_access access;
	web_handler_fn fn;
};

#define WEB_PARAMS_MAX  4
#define WEB_QUERY_MAX   16
#define WEB_HEADERS_MAX 8 /* a ranged log answer alone sets four (api_runs.c) */

struct web_header {
	const char *name; /* a static lowercase name */
	char *value;
};

/*
 * One request on its way through a handler. Everything the handler reads
 * is copied from h2o's request on the loop first, so that the thread never
 * touches h2o; the answer is built here and sent on the loop.
 */
struct web_call {
	uv_work_t work;
	struct web *w;
	struct st_h2o_req_t *req; /* NULL once h2o has disposed of it */
	void *req_ref;            /* in the request's pool: how h2o tells us so */
	const struct web_route *route;

	/* the request */
	char *params[WEB_PARAMS_MAX]; /* the "{}" segments, percent-decoded */
	size_t params_nr;
	char *query_keys[WEB_QUERY_MAX], *query_values[WEB_QUERY_MAX];
	size_t query_nr;
	char *body;
	size_t body_len;
	char *method;
	char *authorization; /* NULL when absent */
	char *range;
	char *content_type;
	char *cookie;     /* every Cookie header, joined by "; "; NULL when none */
	char *origin;     /* NULL when absent */
	char *csrf;       /* X-CSRF-Token, NULL when absent */
	char *own_origin; /* "http(s)://" and the request's Host */
	char *peer;       /* the client's address, for the audit log */

	/* the caller, once authorised */
	struct sl_strbuf user;
	enum sl_role role;

	/* the answer */
	bool stream; /* a 200 becomes an event stream (events.c), not a body */
	int status;
	const char *type;
	struct sl_strbuf out;
	struct web_header headers[WEB_HEADERS_MAX];
	size_t headers_nr;
};

/* call.c */
int web_dbpool_init(struct web_dbpool *pool, const char *conninfo);
void web_dbpool_release(struct web_dbpool *pool);
/* Takes `req` off the loop to `route`'s handler, after the access check. */
void web_call_start(struct web *w, struct st_h2o_req_t *req, const struct web_route *route,
                    char **params, size_t params_nr);
/* The value of query parameter `key` (percent-decoded), NULL when absent. */
const char *web_query(const struct web_call *c, const char *key);
/* Adds a response header; `name` must be static and lowercase. */
void web_header(struct web_call *c, const char *name, const char *value);
/* The answer is `len` bytes of `body` (copied), of media type `type` (static). */
void web_answer(struct web_call *c, int status, const char *type, const char *body, size_t len);
/* The answer is `doc` (stolen) as JSON with `status`. */
void web_json(struct web_call *c, int status, json_t *doc);
/* The answer is a problem document; `fmt` gives its detail. */
void web_problem(struct web_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The database failed: logged with its sentence, answered 503 without it. */
void web_db_failed(struct web_call *c, const char *what, const struct sl_strbuf *err);
/*
 * False once answered 415: a Content-Type other than application/json, or
 * none with a body.
 */
bool web_content_json(struct web_call *c);
/*
 * The request's body as a JSON object; NULL once answered 415
 * (web_content_json) or 400 (no body, malformed JSON at line:col, not an
 * object).
 */
json_t *web_body_object(struct web_call *c);

/* session.c: UI sessions (docs/web.md, "Signing in") */
/*
 * The signed-in caller of a request that carries the sluice_session
 * cookie: true with c->user and c->role set (and its CSRF token in `csrf`
 * when not NULL); false once answered 401 (no live session), 403 (a
 * request that changes something without the session's X-CSRF-Token, or
 * from another Origin) or 503.
 */
bool web_session_auth(struct web_call *c, struct sl_db *db, char csrf[SL_CSRF_LEN + 1]);
/* Whether the request's method only reads (GET, HEAD): no CSRF token needed. */
bool web_method_safe(const struct web_call *c);
void web_api_session_create(struct web_call *c, struct sl_db *db);
void web_api_session_get(struct web_call *c, struct sl_db *db);
void web_api_session_delete(struct web_call *c, struct sl_db *db);

/* ui.c: the UI's files, compiled in (docs/web.md, "The UI") by web/ui/embed.py */
struct web_ui_file {
	const char *name; /* under /ui/; "index.html" is also "/" */
	const char *type;
	const unsigned char *data;
	size_t len;
};
extern const struct web_ui_file web_ui_files[];
extern const size_t web_ui_files_nr;
/* Answers `req` (on the loop) when its path is the UI's; false otherwise. */
bool web_ui_serve(struct st_h2o_req_t *req, const char *path, size_t len);

/* routes.c */
void web_route_request(struct web *w, struct st_h2o_req_t *req);
/* The route table, one "METHOD PATTERN ACCESS" line each (sluice-web --routes). */
void web_routes_print(FILE *f);

/* api_read.c */
void web_api_health(struct web_call *c, struct sl_db *db);
void web_api_version(struct web_call *c, struct sl_db *db);
void web_api_openapi(struct web_call *c, struct sl_db *db);
void web_api_dags(struct web_call *c, struct sl_db *db);
struct sl_rows;
/* Row `row` of sl_view_dags as `dags list --json` shows it. */
json_t *web_dag_row_json(const struct sl_rows *res, int row);

/* api_runs.c */
void web_api_dag(struct web_call *c, struct sl_db *db);
void web_api_dag_source(struct web_call *c, struct sl_db *db);
void web_api_runs(struct web_call *c, struct sl_db *db);
void web_api_run(struct web_call *c, struct sl_db *db);
void web_api_grid(struct web_call *c, struct sl_db *db);
void web_api_log(struct web_call *c, struct sl_db *db);
void web_api_pools(struct web_call *c, struct sl_db *db);
void web_api_workers(struct web_call *c, struct sl_db *db);
void web_api_status(struct web_call *c, struct sl_db *db);

/* api_pages.c: what the UI's pages read beyond the routes above */
void web_api_load_errors(struct web_call *c, struct sl_db *db);

/* metrics.c: GET /metrics from the database */
void web_api_metrics(struct web_call *c, struct sl_db *db);

/* graph.c: GET /api/v1/dags/{dag}/graph, laid out by libgvc */
void web_api_graph(struct web_call *c, struct sl_db *db);
/* Frees Graphviz's context, once no handler runs. */
void web_graph_release(void);

/* events.c: live updates, GET /api/v1/events */
struct web_events;
int web_events_start(struct web *w, struct web_events **out);
/* Ends every stream (their last bytes are sent) and stops listening. */
void web_events_stop(struct web_events *ev);
/* Once the loop has ended. */
void web_events_free(struct web_events *ev);
/* Turns `req` into an event stream of `dag`'s events (all when NULL), on the loop. */
void web_events_attach(struct web_events *ev, struct st_h2o_req_t *req, const char *dag);
void web_api_events(struct web_call *c, struct sl_db *db);

#endif
