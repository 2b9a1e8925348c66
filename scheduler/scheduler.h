#ifndef SLUICE_SCHEDULER_H
#define SLUICE_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/container.h"
#include "sluice/credentials.h"
#include "sluice/dagstore.h"
#include "sluice/db.h"
#include "sluice/engine.h"
#include "sluice/frameconn.h"
#include "sluice/metrics.h"
#include "sluice/metricsd.h"
#include "sluice/proto.h"
#include "sluice/retention.h"
#include "sluice/log.h"
#include "sluice/strbuf.h"

/* The scheduler daemon (docs/scheduler.md): one libuv loop. */

enum wconn_state {
	WCONN_AWAIT_HELLO, /* accepted; the worker speaks first */
	WCONN_READY,       /* WELCOME sent */
	WCONN_CLOSING,     /* shut down or closed; freed when its sl_frameconn is closed */
};

/* An attempt dispatched to (or reported held by) a connected worker. */
struct live_attempt {
	int64_t attempt_id;
	int64_t fence; /* 0: unknown (listed in HELLO) */
	bool cancel_sent;
	/* Which DISPATCH of the connection it was (1, 2, ...); 0: listed in HELLO. */
	uint64_t dispatch_seq;
};

/* One worker connection. */
struct wconn {
	struct sched *s;
	struct sl_frameconn fc;
	enum wconn_state state;
	char *peer;           /* "ip:port" */
	uint64_t accepted_at; /* loop time: the HELLO deadline counts from here */
	char *worker_id, *host;
	/*
	 * How its HELLO authenticated: kept to check it again when a
	 * credential changes (auth_recheck_all), never the token itself.
	 */
	enum sl_credential_auth auth;
	unsigned char token_hash[SL_CREDENTIAL_HASH_LEN];
	bool shared_ok; /* the token was the shared one */
	char **queues;
	size_t queues_nr;
	uint32_t slots;
	struct live_attempt *live;
	size_t live_nr, live_alloc;
	uint64_t dispatches_sent;
	/* The last HEARTBEAT, checked against the database at the next tick. */
	struct sl_proto_strlist hb_running;
	uint64_t hb_dispatches;
	bool hb_pending;
	struct wconn *prev, *next;
};

/* The series the loop observes (metrics.c, docs/metrics.md). */
struct sched_metrics {
	struct sl_metric *tick, *dispatch_latency, *claims, *commits;
	struct sl_metric *db_unavailable, *db_fenced, *db_error;
	struct sl_metric *lease_holder, *workers;
	struct sl_metric *results[SL_OUTCOME_LOST + 1];
};

struct sched {
	uv_loop_t *loop;
	struct sl_config cfg;
	/* cfg.dags_repo without credentials (sluice/url.h), for DISPATCH: the
	 * scheduler fetches with them, a worker with its own (docs/security.md). */
	char *dags_repo_sent;
	char *token; /* the shared token; NULL: none, only workers' own secrets */
	size_t token_len;
	struct sl_tls_ctx *tls; /* NULL: workers connect in clear text (docs/security.md) */
	char *scheduler_id;
	struct sl_db *db; /* the loop's connection: bounded synchronous calls */
	/* The engine's transactions run on `db`; it keeps parsed definitions. */
	struct sl_engine engine;

	uv_tcp_t listener;
	uv_timer_t tick_timer, refresh_timer, watchdog_timer;
	uv_timer_t hb_timer; /* HEARTBEATs to workers and their silence, no database work */
	uv_signal_t sigterm, sigint;

	/* The DAG refresh, off the loop, on a connection of its own. */
	uv_work_t refresh_req;
	bool refreshing, git_ready;
	struct sl_db *refresh_db;
	int refresh_rc;
	struct sl_strbuf refresh_err;
	struct sl_dagstore_report refresh_report;

	struct wconn *conns;
	size_t conns_nr;
	/* Connections closed at accept because of a cap, since the last log line. */
	size_t conns_refused;
	uint64_t conns_refused_logged_at;
	uint64_t last_lost_check;
	bool stopping;
	/* Reports a connection sent about another worker's attempt (conn.c). */
	uint64_t reports_refused;
	/* A worker credential changed (NOTIFY): check the connections at the next tick. */
	bool creds_changed;

	/* The leader lease (lease.c); times are mono_ms(). */
	bool leader;
	int64_t epoch;
	uint64_t lease_until; /* surely ours before this, counted from before the renewal */
	uint64_t last_renew;
	uint64_t lost_checks_after; /* workers get heartbeat_timeout to come back */
	char *holder;               /* the holder last seen when not leader; NULL: none */
	char *commit;               /* the commit of the last refresh */

	/* LISTEN sluice on the loop's connection (notify.c). */
	uv_poll_t *notify_poll;   /* NULL: not listening */
	unsigned long listen_gen; /* sl_db_reconnects() when LISTEN was sent */

	/* The database is unreachable: no DB work until db_retry_at (main.c). */
	bool db_down;
	uint64_t db_down_at, db_retry_at, db_backoff;

	/* cfg.retention's passes (retention.c); times are mono_ms(). */
	bool retention_running;
	uint64_t retention_due, retention_started;
	struct sl_retention_report retention_report;

	/* Its own metrics (metrics.c). */
	struct sl_metrics metrics;
	struct sched_metrics m;
	struct sl_metricsd metricsd; /* serving metrics_listen */
	uint64_t refresh_commits;    /* sl_db_commits(refresh_db) after the last refresh */
};

/* scheduler/main.c */
int64_t wall_ms(void);
/* Monotonic milliseconds, read now (uv_now is the loop's cached time). */
uint64_t mono_ms(void);
/* Run a tick as soon as possible (a result came in, a worker connected). */
void sched_kick(struct sched *s);
/*
 * Report a failed database call: a lost server starts an outage (logged
 * once as db_failed; no database work until a capped back-off probe
 * succeeds, logged as db_recovered); any other error is logged each time.
 */
void sched_db_error(struct sched *s, const char *what, int rc, const struct sl_strbuf *err);
/* Start the DAG refresh now (the new leader's first). */
void sched_refresh_now(struct sched *s);

/* scheduler/metrics.c */
/* Register every series (nothing is served unless metrics_listen is set). */
void sched_metrics_init(struct sched *s);
void sched_metrics_release(struct sched *s);
/* Count a failed database call by its kind (SL_EUNAVAIL, SL_EFENCED, else). */
void sched_metrics_db_error(struct sched *s, int rc);
/* Serve metrics_listen when it is set; a failure is logged and returned. */
int sched_metrics_start(struct sched *s);

/* scheduler/retention.c */
/*
 * The leader's share of `retention:` (docs/scheduler.md): when a pass is
 * due, or one is under way, delete one batch of old runs; a pass that has
 * nothing left is logged and the next one starts a day later.
 */
void retention_tick(struct sched *s);

/* scheduler/lease.c */
/*
 * Take or renew the leader lease when due (about every second). Returns
 * SL_EUNAVAIL when the database could not be reached, else 0.
 */
int lease_tick(struct sched *s);
bool lease_held(const struct sched *s);
/* A lease not renewed in time is lost: stop leading, close worker connections. */
void lease_check(struct sched *s);
/* A write was refused by the lease's fence: this scheduler leads no more. */
void lease_fenced(struct sched *s);
/* Give the lease up at SIGTERM so a standby takes over at once. */
void lease_release(struct sched *s);
/* The REJECT reason of a standby. */
char *lease_reject_reason(const struct sched *s);

/* scheduler/notify.c */
/*
 * After synchronous database calls: LISTEN again on a new connection
 * (after a reconnect), and drain the notifications libpq read meanwhile
 * (a tick is kicked for them). Cheap when nothing changed.
 */
void notify_sync(struct sched *s);
void notify_stop(struct sched *s);

/*
 * The timing of worker liveness (docs/reliability.md), all derived from
 * heartbeat_timeout T: each side sends a frame at least every T/8; the
 * scheduler stops speaking to a worker it has not heard from for 3/8 T; a
 * worker that hears nothing for 3/8 T (its lease) kills its attempts; the
 * scheduler fails a worker's attempts only after T of silence. So a worker
 * cut off has killed its processes a quarter of T before they are retried.
 */
uint64_t sched_heartbeat_ms(const struct sched *s);
uint64_t sched_lease_ms(const struct sched *s);

/* scheduler/dispatch.c */
/* Dispatch to every ready worker with free slots. */
void dispatch_all(struct sched *s, int64_t now_ms);
/* Send one claimed attempt to the worker of `c` (its attempt is live from now on). */
void dispatch_send(struct wconn *c, const struct sl_engine_dispatch *d);
/* CANCEL the live attempts that the database says have ended. */
void dispatch_cancel_ended(struct sched *s);

/* scheduler/conn.c */
int conn_listen(struct sched *s);
void conn_close(struct wconn *c, const char *reason);
bool conn_send(struct wconn *c, const struct sl_proto_msg *msg);
/*
 * End an attempt that its worker does not run (any more) as lost, with the
 * reason for people; a failure is reported (sched_db_error) and returned.
 */
int conn_lose_attempt(struct sched *s, const char *worker_id, int64_t id, int64_t fence,
                      const char *reason);
/*
 * A worker the scheduler has not heard from for its lease's length gets
 * nothing more (docs/reliability.md).
 */
bool conn_worker_silent(const struct wconn *c);
/* Send an encoded frame; false when the connection cannot take it (closed). */
bool conn_send_frame(struct wconn *c, const char *bytes, size_t len);
/*
 * Close silent connections and those past their HELLO deadline, and send
 * due HEARTBEATs (no database work). Called every conn_check_ms.
 */
void conn_check_all(struct sched *s);
uint64_t conn_check_ms(const struct sched *s);
/* Close every worker connection (the lease is lost: workers go to the leader). */
void conn_close_all(struct sched *s, const char *reason);
/* DRAIN every worker, close the listener and every connection. */
void conn_shutdown_all(struct sched *s);
bool conn_worker_connected(const struct sched *s, const char *worker_id);

/* scheduler/auth.c: who a worker connection is */
/*
 * Whether the HELLO's token is good for its worker name; when not,
 * `*reject` is the REJECT's reason (the same "bad token" whatever was
 * wrong, so that a peer learns nothing of the name's state).
 */
bool auth_hello(struct wconn *c, const struct sl_proto_hello *h, const char **reject);
/*
 * Close every connection whose HELLO would not be accepted any more (its
 * credential was revoked or replaced, or its name got one while it used
 * the shared token), in one statement; clears creds_changed when done.
 */
void auth_recheck_all(struct sched *s);

/* scheduler/live.c: what a connection counts as live on its worker */
/* An attempt id of the wire as the database's: a positive decimal integer. */
bool live_parse_id(const char *s, int64_t *out);
struct live_attempt *live_find(struct wconn *c, int64_t id);
/* Count it as live (a known attempt only gets its fence, when given). */
void live_add(struct wconn *c, int64_t id, int64_t fence, uint64_t dispatch_seq);
void live_remove(struct wconn *c, int64_t id);
/*
 * A worker's HELLO lists everything it holds. The listed attempts that
 * were dispatched to this worker name count as live on the connection
 * (another worker's are ignored: their CANCEL must not come here); its
 * operator-ended attempts that are not listed are confirmed stopped; and
 * any attempt the database has live on that name and that is not listed
 * has no process on it (the worker restarted, or a DISPATCH never reached
 * it), whichever connection or scheduler dispatched it. Ending it now, not
 * after heartbeat_timeout, is what keeps a quickly restarted worker from
 * stranding its attempts. Failures are reported where they happen.
 */
int live_reconcile_hello(struct wconn *c, const struct sl_proto_hello *h, struct sl_strbuf *err);
/* Keep a HEARTBEAT (its list is moved out of `hb`): checked at the next flush. */
void live_heartbeat(struct wconn *c, struct sl_proto_heartbeat *hb);
/*
 * Record the HEARTBEATs received since the last call and end as lost
 * every attempt the database has live on one of those workers that the
 * worker no longer lists (and that was not sent after its HEARTBEAT left).
 */
void live_heartbeats_flush(struct sched *s);

#endif
