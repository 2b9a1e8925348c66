/*
 * Live updates (docs/web.md, "Live updates"): GET /api/v1/events streams
 * Server-Sent Events fed by LISTEN sluice_events (sluice/events.h).
 *
 * One connection, used for nothing else, listens; the loop polls its
 * socket and reads without blocking. Connecting (and LISTEN) happen on
 * libuv's thread pool, so that a database that does not answer never
 * holds the loop; a lost connection is made again with a backoff, and
 * every stream is then told to read again (`event: resync`), since what
 * was notified meanwhile is lost.
 *
 * Each stream has a queue: h2o takes one buffer at a time and asks for the
 * next (proceed). A client that reads slower than events come is cut off
 * once 1 MiB waits for it, so it cannot make the daemon hold memory; its
 * browser reconnects and reads the pages again.
 */
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "sluice/alloc.h"
#include "sluice/container.h"
#include "sluice/events.h"
#include "sluice/httpd.h"
#include "sluice/log.h"
#include "web.h"

#define SSE_CLIENTS_MAX 256
#define SSE_PENDING_MAX (1024 * 1024)
#define SSE_PING_MS     15000
#define RETRY_MIN_MS    500
#define RETRY_MAX_MS    30000

struct sse_client {
	h2o_generator_t gen; /* first: h2o hands it back */
	struct web_events *ev;
	h2o_req_t *req;
	char *dag; /* only this DAG's events; NULL: all */
	struct sl_strbuf pending, inflight;
	bool sending;  /* h2o holds `inflight` until it asks for more */
	bool closing;  /* the next send is the last */
	bool finished; /* the last has been sent, or h2o stopped the stream */
	struct sse_client *prev, *next;
};

struct web_events {
	struct web *w;
	struct sl_db *db; /* the listening connection; NULL while there is none */
	uv_poll_t *poll;  /* on the heap: its close callback frees it */
	uv_timer_t retry, ping;
	uint64_t retry_ms;
	uv_work_t connect_work;
	bool connecting;
	struct sl_db *connected; /* what the thread made */
	struct sl_strbuf connect_err;
	struct sse_client *clients;
	size_t clients_nr;
	bool stopping;
};

static void client_flush(struct sse_client *cl);

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct sse_client *cl = (struct sse_client *)gen;

	(void)req;
	cl->sending = false;
	sl_strbuf_reset(&cl->inflight);
	client_flush(cl);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	struct sse_client *cl = (struct sse_client *)gen;

	(void)req;
	cl->finished = true;
}

/* The request's pool is cleared: the stream is over, whatever ended it. */
static void client_dispose(void *p)
{
	struct sse_client *cl = p;
	struct web_events *ev = cl->ev;

	if (cl->prev)
		cl->prev->next = cl->next;
	else
		ev->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	ev->clients_nr--;
	free(cl->dag);
	sl_strbuf_release(&cl->pending);
	sl_strbuf_release(&cl->inflight);
}

static void client_flush(struct sse_client *cl)
{
	struct sl_strbuf tmp;
	h2o_iovec_t buf;
	bool last;

	if (cl->sending || cl->finished)
		return;
	if (!cl->pending.len && !cl->closing)
		return;
	/* h2o keeps a pointer into `inflight` until it calls on_proceed. */
	tmp = cl->pending;
	cl->pending = cl->inflight;
	cl->inflight = tmp;
	last = cl->closing;
	cl->sending = !last;
	cl->finished = last;
	buf = h2o_iovec_init(cl->inflight.buf, cl->inflight.len);
	/* After the final send the request (and `cl`) may be gone: nothing follows. */
	h2o_send(cl->req, &buf, 1, last ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void client_add(struct sse_client *cl, const char *text, size_t len)
{
	if (cl->finished || cl->closing)
		return;
	if (cl->pending.len + len > SSE_PENDING_MAX) {
		sl_log("warn", "sse_slow_client", "pending=%zu", cl->pending.len);
		cl->closing = true;
	} else {
		sl_strbuf_add(&cl->pending, text, len);
	}
	client_flush(cl);
}

/* `event: NAME` with `data` (compact JSON: one line) to every stream that wants it. */
static void broadcast(struct web_events *ev, const char *name, json_t *data)
{
	struct sl_strbuf frame = SL_STRBUF_INIT;
	const char *dag = json_string_value(json_object_get(data, "dag"));
	char *text = json_dumps(data, JSON_COMPACT);
	struct sse_client *cl, *next;

	if (!text)
		return;
	sl_strbuf_addf(&frame, "event: %s\ndata: %s\n\n", name, text);
	free(text);
	for (cl = ev->clients; cl; cl = next) {
		next = cl->next; /* a final send may dispose of `cl` */
		if (!cl->dag || (dag && !strcmp(cl->dag, dag)))
			client_add(cl, frame.buf, frame.len);
	}
	sl_strbuf_release(&frame);
}

static void resync_all(struct web_events *ev)
{
	json_t *empty = json_object();

	if (empty)
		broadcast(ev, "resync", empty);
	json_decref(empty);
}

static void dispatch(struct web_events *ev, const char *payload)
{
	static const struct {
		const char *key, *event;
	} kinds[] = {{"runs", "run"}, {"tasks", "task"}, {"logs", "log"}};
	json_t *doc = json_loads(payload, 0, NULL);
	size_t i;
	json_t *item;

	if (!doc || json_is_true(json_object_get(doc, "overflow"))) {
		resync_all(ev);
		json_decref(doc);
		return;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		json_array_foreach(json_object_get(doc, kinds[k].key), i, item)
		    broadcast(ev, kinds[k].event, item);
	json_decref(doc);
}

static void schedule_retry(struct web_events *ev);

static void on_poll_closed(uv_handle_t *h)
{
	free(h);
}

static void listener_drop(struct web_events *ev)
{
	if (ev->poll) {
		uv_poll_stop(ev->poll);
		uv_close((uv_handle_t *)ev->poll, on_poll_closed);
		ev->poll = NULL;
	}
	sl_db_free(ev->db);
	ev->db = NULL;
}

static void drain(struct web_events *ev)
{
	char *payload;

	while ((payload = sl_events_next(ev->db))) {
		dispatch(ev, payload);
		free(payload);
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct web_events *ev = p->data;
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)events;
	if (status < 0 || sl_events_read(ev->db, &err)) {
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, status < 0 ? uv_strerror(status) : err.buf);
		sl_log("warn", "events_lost", "error=%s", q.buf);
		sl_strbuf_release(&q);
		listener_drop(ev);
		schedule_retry(ev);
	} else {
		drain(ev);
	}
	sl_strbuf_release(&err);
}

static void connect_work(uv_work_t *work)
{
	struct web_events *ev = container_of(work, struct web_events, connect_work);
	struct sl_db *db = NULL;

	sl_strbuf_reset(&ev->connect_err);
	if (sl_db_connect(&db, ev->w->conninfo, &ev->connect_err) ||
	    sl_events_listen(db, &ev->connect_err)) {
		sl_db_free(db);
		db = NULL;
	}
	ev->connected = db;
}

static void connect_done(uv_work_t *work, int status)
{
	struct web_events *ev = container_of(work, struct web_events, connect_work);
	int rc;

	(void)status;
	ev->connecting = false;
	if (ev->stopping) {
		sl_db_free(ev->connected);
		ev->connected = NULL;
		return;
	}
	if (!ev->connected) {
		struct sl_strbuf q = SL_STRBUF_INIT;

		sl_log_quote(&q, ev->connect_err.buf);
		sl_log("warn", "events_listen_failed", "retry_ms=%llu error=%s",
		       (unsigned long long)ev->retry_ms, q.buf);
		sl_strbuf_release(&q);
		schedule_retry(ev);
		return;
	}
	ev->db = ev->connected;
	ev->connected = NULL;
	ev->poll = sl_xcalloc(1, sizeof(*ev->poll));
	ev->poll->data = ev;
	if ((rc = uv_poll_init(ev->w->loop, ev->poll, sl_events_socket(ev->db)))) {
		free(ev->poll);
		ev->poll = NULL;
		goto fail;
	}
	if ((rc = uv_poll_start(ev->poll, UV_READABLE, on_readable)))
		goto fail;
	sl_log("info", "listening_events", "channel=sluice_events");
	ev->retry_ms = RETRY_MIN_MS;
	/* Whatever happened while nobody listened is news nobody sent. */
	resync_all(ev);
	/* LISTEN's answer may have brought notifications with it. */
	drain(ev);
	return;
fail:
	sl_log("error", "events_listen_failed", "error=\"%s\"", uv_strerror(rc));
	listener_drop(ev);
	schedule_retry(ev);
}

static void start_connect(struct web_events *ev)
{
	int rc;

	if (ev->connecting || ev->db || ev->stopping)
		return;
	if ((rc = uv_queue_work(ev->w->loop, &ev->connect_work, connect_work, connect_done))) {
		sl_log("error", "events_listen_failed", "error=\"%s\"", uv_strerror(rc));
		schedule_retry(ev);
		return;
	}
	ev->connecting = true;
}

static void on_retry(uv_timer_t *t)
{
	start_connect(container_of(t, struct web_events, retry));
}

static void schedule_retry(struct web_events *ev)
{
	if (ev->stopping)
		return;
	uv_timer_start(&ev->retry, on_retry, ev->retry_ms, 0);
	ev->retry_ms = ev->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ev->retry_ms * 2;
}

/* A comment line now and then: proxies and browsers keep an idle stream. */
static void on_ping(uv_timer_t *t)
{
	struct web_events *ev = container_of(t, struct web_events, ping);
	struct sse_client *cl, *next;

	for (cl = ev->clients; cl; cl = next) {
		next = cl->next;
		client_add(cl, H2O_STRLIT(": ping\n\n"));
	}
}

int web_events_start(struct web *w, struct web_events **out)
{
	struct web_events *ev = sl_xcalloc(1, sizeof(*ev));
	int rc;

	ev->w = w;
	ev->retry_ms = RETRY_MIN_MS;
	ev->connect_err = (struct sl_strbuf)SL_STRBUF_INIT;
	if ((rc = uv_timer_init(w->loop, &ev->retry)))
		goto fail;
	if ((rc = uv_timer_init(w->loop, &ev->ping))) {
		uv_close((uv_handle_t *)&ev->retry, NULL);
		goto fail;
	}
	uv_timer_start(&ev->ping, on_ping, SSE_PING_MS, SSE_PING_MS);
	*out = ev;
	start_connect(ev);
	return 0;
fail:
	sl_log("error", "init_failed", "what=events error=\"%s\"", uv_strerror(rc));
	ev->stopping = true;
	*out = ev; /* freed by web_events_free once the loop has closed the timer */
	return rc;
}

void web_events_stop(struct web_events *ev)
{
	struct sse_client *cl, *next;

	if (!ev || ev->stopping)
		return;
	ev->stopping = true;
	listener_drop(ev);
	uv_close((uv_handle_t *)&ev->retry, NULL);
	uv_close((uv_handle_t *)&ev->ping, NULL);
	for (cl = ev->clients; cl; cl = next) {
		next = cl->next;
		cl->closing = true;
		client_flush(cl);
	}
}

void web_events_free(struct web_events *ev)
{
	if (!ev)
		return;
	sl_strbuf_release(&ev->connect_err);
	free(ev);
}

void web_events_attach(struct web_events *ev, h2o_req_t *req, const char *dag)
{
	static const char hello[] = "retry: 3000\n\n";
	struct sse_client *cl;
	json_t *doc;

	if (ev->stopping || ev->clients_nr >= SSE_CLIENTS_MAX) {
		sl_httpd_problem(req, 503,
		                 ev->stopping ? "the daemon is stopping"
		                              : "too many event streams are open; try again later");
		return;
	}
	cl = h2o_mem_alloc_shared(&req->pool, sizeof(*cl), client_dispose);
	memset(cl, 0, sizeof(*cl));
	cl->gen.proceed = on_proceed;
	cl->gen.stop = on_stop;
	cl->ev = ev;
	cl->req = req;
	cl->dag = dag ? sl_xstrdup(dag) : NULL;
	cl->pending = (struct sl_strbuf)SL_STRBUF_INIT;
	cl->inflight = (struct sl_strbuf)SL_STRBUF_INIT;
	cl->next = ev->clients;
	if (cl->next)
		cl->next->prev = cl;
	ev->clients = cl;
	ev->clients_nr++;

	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
	               H2O_STRLIT("text/event-stream; charset=utf-8"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
	               H2O_STRLIT("no-store"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0,
	                      NULL, H2O_STRLIT("no"));
	h2o_start_response(req, &cl->gen);
	sl_strbuf_add(&cl->pending, hello, sizeof(hello) - 1);
	doc = json_pack("{s:b}", "listening", ev->db != NULL);
	if (doc) {
		char *text = json_dumps(doc, JSON_COMPACT);

		if (text)
			sl_strbuf_addf(&cl->pending, "event: hello\ndata: %s\n\n", text);
		free(text);
	}
	json_decref(doc);
	client_flush(cl);
}
