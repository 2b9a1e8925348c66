#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/runstore.h"
#include "sluice/banned.h"

/*
 * LISTEN sluice on the loop's connection, so that `sluice trigger`, a
 * pause, a refresh or a backfill (pg_notify('sluice', ...)) starts a tick
 * at once instead of at the next periodic one.
 *
 * A uv_poll_t watches PQsocket(). A notification can also be read by libpq
 * while a synchronous statement waits for its result: the socket is then
 * no longer readable, so notify_sync drains libpq's queue after the loop's
 * database work. A reconnect (sl_db_reconnects changes) gives a new socket
 * and a new session without the LISTEN: the old poll is stopped before
 * anything else (libuv refuses a second watcher on an fd number that the
 * new socket may reuse), and LISTEN is sent again.
 *
 * Most payloads only wake the tick. `credential NAME` (a worker's own
 * credential was added, replaced or revoked: lib/db/sql/credentials.sql)
 * also makes the tick check the credentials of the connected workers again,
 * so a revoked worker is closed at once; so does a new LISTEN, since a
 * notification sent while there was none is lost.
 */

static void on_poll_closed(uv_handle_t *h)
{
	free(h);
}

void notify_stop(struct sched *s)
{
	if (!s->notify_poll)
		return;
	uv_poll_stop(s->notify_poll);
	uv_close((uv_handle_t *)s->notify_poll, on_poll_closed);
	s->notify_poll = NULL;
}

/* Whether `payload` says that a worker's credential changed. */
static bool credential_changed(const char *payload)
{
	size_t len = strlen(SL_CREDENTIAL_NOTIFY);

	return !strncmp(payload, SL_CREDENTIAL_NOTIFY, len) && payload[len] == ' ';
}

static void drain(struct sched *s)
{
	PGconn *conn = sl_db_conn(s->db);
	struct sl_strbuf q = SL_STRBUF_INIT;
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn))) {
		sl_strbuf_reset(&q);
		sl_log_quote(&q, n->extra ? n->extra : "");
		sl_log("info", "notified", "payload=%s", q.buf);
		if (n->extra && credential_changed(n->extra))
			s->creds_changed = true;
		PQfreemem(n);
		any = true;
	}
	sl_strbuf_release(&q);
	if (any)
		sched_kick(s);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct sched *s = p->data;
	PGconn *conn = sl_db_conn(s->db);

	(void)events;
	/* Reading EOF is what a server going away looks like: stop polling, or
	 * the readable socket would spin the loop; the tick finds the outage. */
	if (status < 0 || !PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
		notify_stop(s);
		sched_kick(s);
		return;
	}
	drain(s);
}

static void start(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int fd, rc;

	if ((rc = sl_runs_listen(s->db, &err))) {
		sched_db_error(s, "listen", rc, &err);
		goto out;
	}
	/* Read after LISTEN: a reconnect before it was sent is the session it ran in. */
	fd = PQsocket(sl_db_conn(s->db));
	s->notify_poll = sl_xcalloc(1, sizeof(*s->notify_poll));
	s->notify_poll->data = s;
	if ((rc = uv_poll_init(s->loop, s->notify_poll, fd))) {
		sl_log("error", "listen_failed", "error=\"%s\"", uv_strerror(rc));
		free(s->notify_poll);
		s->notify_poll = NULL;
		goto out;
	}
	if ((rc = uv_poll_start(s->notify_poll, UV_READABLE, on_readable))) {
		sl_log("error", "listen_failed", "error=\"%s\"", uv_strerror(rc));
		notify_stop(s);
		goto out;
	}
	s->listen_gen = sl_db_reconnects(s->db);
	s->creds_changed = true;
	sched_kick(s);
	sl_log("info", "listening_notify", "channel=sluice");
out:
	sl_strbuf_release(&err);
}

void notify_sync(struct sched *s)
{
	PGconn *conn = sl_db_conn(s->db);

	if (s->stopping)
		return;
	if (s->notify_poll && sl_db_reconnects(s->db) != s->listen_gen)
		notify_stop(s);
	if (!s->notify_poll && !s->db_down && PQstatus(conn) == CONNECTION_OK &&
	    !sl_db_in_transaction(s->db))
		start(s);
	if (PQstatus(conn) == CONNECTION_OK)
		drain(s);
}
