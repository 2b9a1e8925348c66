#ifndef SLUICE_SCHEDULER_H
#define SLUICE_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/config.h"
#include "sluice/dagstore.h"
#include "sluice/db.h"
#include "sluice/proto.h"
#include "sluice/log.h"
#include "sluice/strbuf.h"

/* The scheduler daemon (docs/scheduler.md): one libuv loop. */

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

enum wconn_state {
	WCONN_AWAIT_HELLO, /* accepted; the worker speaks first */
	WCONN_READY,       /* WELCOME sent */
	WCONN_CLOSING,     /* uv_close called */
};

/* An attempt dispatched to (or reported held by) a connected worker. */
struct live_attempt {
	int64_t attempt_id;
	int64_t fence; /* 0: unknown (listed in HELLO) */
	bool cancel_sent;
};

/* One worker connection. */
struct wconn {
	struct sched *s;
	uv_tcp_t tcp;
	struct sl_proto_decoder dec;
	enum wconn_state state;
	char *peer; /* "ip:port" */
	char *worker_id, *host;
	char **queues;
	size_t queues_nr;
	uint32_t slots;
	struct live_attempt *live;
	size_t live_nr, live_alloc;
	uint64_t last_rx, last_tx; /* loop time */
	uint32_t heartbeat_ms;
	uv_shutdown_t shutdown_req;
	struct wconn *prev, *next;
};

struct sched {
	uv_loop_t *loop;
	struct sl_config cfg;
	char *token;
	size_t token_len;
	char *scheduler_id;
	struct sl_db *db; /* the loop's connection: bounded synchronous calls */

	uv_tcp_t listener;
	uv_timer_t tick_timer, refresh_timer, watchdog_timer;
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
	uint64_t last_lost_check;
	bool stopping;
};

/* scheduler/main.c */
int64_t wall_ms(void);
/* Run a tick as soon as possible (a result came in, a worker connected). */
void sched_kick(struct sched *s);

/* scheduler/conn.c */
int conn_listen(struct sched *s);
void conn_close(struct wconn *c, const char *reason);
bool conn_send(struct wconn *c, const struct sl_proto_msg *msg);
/* Dispatch to every ready worker with free slots. */
void conn_dispatch_all(struct sched *s, int64_t now_ms);
/*
 * Close silent connections, send due HEARTBEATs and, with `cancels`, CANCEL
 * the attempts the database says have ended.
 */
void conn_check_all(struct sched *s, bool cancels);
/* DRAIN every worker, close the listener and every connection. */
void conn_shutdown_all(struct sched *s);
bool conn_worker_connected(const struct sched *s, const char *worker_id);

#endif
