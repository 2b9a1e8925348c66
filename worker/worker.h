#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sluice/checkout.h"
#include "sluice/config.h"
#include "sluice/container.h"
#include "sluice/frameconn.h"
#include "sluice/proto.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/metricsd.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"

/*
 * sluice-worker's parts (docs/worker.md): main.c wires the loop, signals and
 * systemd; conn.c is the one connection to a scheduler (connect, handshake,
 * heartbeats, back-off); attempt.c runs dispatched attempts through
 * sl_taskexec; results.c keeps finished results on disk until acknowledged;
 * pgroups.c records the attempts' process groups and, at start, kills those
 * a killed worker left running; taskuser.c decides who tasks run as and
 * lays out state_dir so that they cannot reach the worker's secrets.
 */

/** Log bytes per LOG frame (docs/protocol.md recommends 64 KiB). */
#define WORKER_LOG_CHUNK (64 * 1024)
/** Log bytes kept per attempt while disconnected when its log_limit is 0. */
#define WORKER_BACKLOG_MAX (16 * 1024 * 1024)
/** Bytes of LOG frames already sent that are kept to send again (see log_backlog). */
#define WORKER_LOG_REPLAY (64 * 1024)

enum conn_state {
	CONN_IDLE,       /* no socket; the retry timer may be armed */
	CONN_RESOLVING,  /* uv_getaddrinfo in flight */
	CONN_CONNECTING, /* uv_tcp_connect in flight */
	CONN_HANDSHAKE,  /* HELLO sent, waiting for WELCOME */
	CONN_READY,      /* WELCOME received */
	CONN_CLOSING,    /* sl_frameconn_close called, waiting for on_closed */
};

/** A finished result kept on disk until the scheduler acknowledges it. */
struct kept_result {
	char *attempt_id;
	uint64_t fence;
	struct sl_strbuf frame; /* the encoded RESULT frame, as stored */
};

/*
 * The LOG frames of one attempt that may not have reached the database:
 * those produced while no scheduler was connected, and the last ones sent
 * (a scheduler that dies may not have stored what it read, and a write
 * into a dying socket succeeds). After each WELCOME they are all sent again
 * (before the results) with their own seq, which the scheduler stores
 * once; the record goes when the attempt's RESULT is acknowledged.
 */
struct log_backlog {
	char *attempt_id;
	struct sl_strbuf frames; /* encoded LOG frames in seq order: sent, then unsent */
	size_t unsent;           /* offset of the first unsent frame */
	uint64_t bytes;          /* log bytes in the unsent frames */
	bool dropped;            /* an unsent chunk went past the bound (logged once) */
};

struct attempt;

/* The series the loop observes (metrics.c, docs/metrics.md). */
struct worker_metrics {
	struct sl_metric *slots, *slots_busy, *results_kept, *connected, *connections;
	struct sl_metric *attempts[SL_OUTCOME_LOST + 1];
	struct sl_metric *checkout_hits, *checkout_misses, *checkout_entries, *checkout_bytes;
};

struct worker {
	uv_loop_t *loop;
	struct sl_worker_config cfg;
	char *token;
	char *host;
	struct sl_tls_ctx *tls; /* NULL: clear text (loopback or insecure: true) */

	/* connection (conn.c) */
	enum conn_state state;
	struct sl_frameconn fc; /* its memory in use from CONNECTING to the end of CLOSING */
	uv_getaddrinfo_t resolve_req;
	uv_timer_t conn_timer;  /* connect/handshake timeout, then heartbeat ticks */
	uv_timer_t retry_timer; /* back-off before the next connect */
	size_t sched_idx;       /* which entry of cfg.schedulers */
	unsigned failures;      /* consecutive failed rounds over the list, for back-off */
	uint32_t heartbeat_ms;
	uint64_t dispatches_read; /* DISPATCH frames read on this connection */

	/*
	 * The lease (docs/reliability.md): when no scheduler has been heard
	 * from for lease_ms, every attempt is killed, so that none still runs
	 * when the scheduler retries it elsewhere. Checked after each loop
	 * turn's I/O (a uv_check_t), so that a loop that was late reads what
	 * arrived meanwhile before it judges the silence.
	 */
	uint32_t lease_ms;   /* from WELCOME; 0 before the first */
	uint64_t last_heard; /* loop time of the last bytes from any scheduler */
	bool lease_expired;  /* this silence has been acted on */
	uv_check_t lease_check;
	uv_timer_t lease_timer; /* wakes the loop when the lease runs out */
	bool drained;           /* this connection got DRAIN */
	bool ever_connected;
	char *peer; /* "host:port" being tried or connected */

	/* attempts (attempt.c) */
	struct attempt **attempts;
	size_t attempts_nr, attempts_alloc;
	struct sl_checkout_cache checkouts; /* state_dir/checkouts */
	uv_timer_t prune_timer;
	uv_work_t prune_req;
	struct sl_strbuf prune_err;
	size_t pruned;
	bool prune_busy;
	char exe[4096]; /* this program, run again to build a checkout */
	bool checkouts_ok, prune_timer_ok;
	bool repo_credentials_warned; /* a DISPATCH's repo held credentials (logged once) */

	/* the task user and the layout (taskuser.c) */
	struct sl_taskexec_user task_user;      /* task_user's ids, once looked up */
	const struct sl_taskexec_user *task_as; /* &task_user when tasks run as it, else NULL */
	char *work_dir;                         /* state_dir/work */

	/* results (results.c) */
	char *results_dir;
	struct kept_result *kept;
	size_t kept_nr, kept_alloc;
	struct log_backlog *backlog;
	size_t backlog_nr, backlog_alloc;

	/* process groups (pgroups.c) */
	char *pgroups_dir;
	char *boot_id; /* this boot's, from /proc/sys/kernel/random/boot_id */

	/* lifecycle (main.c) */
	uv_signal_t sigterm, sigint;
	uv_timer_t grace_timer;
	uv_timer_t watchdog_timer;
	bool watchdog;
	bool stopping;
	bool stopped; /* every handle closed or closing */

	/* its own metrics (metrics.c) */
	struct sl_metrics metrics;
	struct worker_metrics m;
	struct sl_metricsd metricsd; /* serving metrics_listen */
};

/* main.c */
/** Called when something the stop sequence waits for has finished. */
void worker_maybe_exit(struct worker *w);
void worker_notify_ready(struct worker *w);

/* metrics.c */
/** Register every series (nothing is served unless metrics_listen is set). */
void worker_metrics_init(struct worker *w);
void worker_metrics_release(struct worker *w);
/** Serve metrics_listen when it is set; a failure is logged and returned. */
int worker_metrics_start(struct worker *w);

/* conn.c */
int conn_init(struct worker *w);
void conn_start(struct worker *w);
/** Encode and queue a message; false when not connected (the message is dropped). */
bool conn_send(struct worker *w, const struct sl_proto_msg *msg);
/** Queue already encoded frame bytes. */
bool conn_send_raw(struct worker *w, const char *bytes, size_t len);
bool conn_ready(const struct worker *w);
/** Drop the connection (logged with `reason`) and reconnect after back-off. */
void conn_drop(struct worker *w, const char *reason);
/** Attempts held: running, or with a result not yet acknowledged (HELLO, HEARTBEAT). */
void conn_held_attempts(const struct worker *w, struct sl_proto_strlist *l);
/** Close the connection when the scheduler sent DRAIN and nothing is held. */
void conn_check_drained(struct worker *w);
/** Close every handle of the connection for good (queued frames are flushed first). */
void conn_shutdown(struct worker *w);
/** Free what the connection holds, after the loop has ended. */
void conn_release(struct worker *w);

/* attempt.c */
/** Set up libgit2, the checkout cache and its prune timer. */
int attempt_init(struct worker *w, struct sl_strbuf *err);
/* The main of `sluice-worker --checkout STATE_DIR REPO COMMIT`: builds the
 * checkout (sl_checkout_build), its error on stderr; exit status 0 or 1. */
int checkout_main(const char *state_dir, const char *repo, const char *commit);
/** Close the prune timer (at stop). */
void attempt_close(struct worker *w);
/** Free the checkout cache and shut libgit2 down, after the loop has ended. */
void attempt_release(struct worker *w);
void attempt_dispatch(struct worker *w, struct sl_proto_dispatch *d);
void attempt_cancel(struct worker *w, const struct sl_proto_ref *c);
void attempt_cancel_all(struct worker *w);
/**
 * The lease ran out: SIGKILL every attempt's process group now; their
 * RESULTs say `lost` and their logs say why (`reason`).
 */
void attempt_fence_all(struct worker *w, const char *reason);
/**
 * A DISPATCH the decoder refused: when it names its attempt, that attempt
 * fails at once with the reason in its log, so that it never waits for a
 * timeout.
 */
void attempt_refused(struct worker *w, const struct sl_proto_refusal *r, const char *why);
/** Attempt ids currently running, appended to `l`. */
void attempt_list_running(const struct worker *w, struct sl_proto_strlist *l);

/* results.c */
int results_init(struct worker *w, struct sl_strbuf *err);
void results_release(struct worker *w);
/**
 * Store (write .new, fsync, rename) and keep one result; then send it if
 * connected. SL_EINVAL or SL_ETOOBIG, with the reason, when the scheduler's
 * decoder would refuse the frame: nothing is kept. SL_ERR when it could not
 * be stored: it is kept in memory and sent all the same.
 */
int results_add(struct worker *w, const struct sl_proto_msg *result, struct sl_strbuf *err);
void results_ack(struct worker *w, const struct sl_proto_ref *ack);
/** The scheduler refused a result for good: move it aside (results/dead/), forget it. */
void results_nack(struct worker *w, const struct sl_proto_ref *nack);
/** After WELCOME: every log backlog, then every kept result. */
void results_resend(struct worker *w);
/**
 * Send a LOG frame, and keep it: the last WORKER_LOG_REPLAY bytes of sent
 * frames, and while disconnected up to `log_limit` log bytes per attempt
 * (0: WORKER_BACKLOG_MAX) of unsent ones.
 */
void results_log(struct worker *w, const struct sl_proto_msg *log, uint64_t log_limit);
bool results_has(const struct worker *w, const char *attempt_id);
void results_list(const struct worker *w, struct sl_proto_strlist *l);

/* taskuser.c */
/**
 * Clear the ambient and inheritable capabilities; look task_user up and
 * check that tasks can be run as it (capabilities, group) or, without it,
 * that the worker is not root; log who tasks run as. Errors name the file
 * (and file:line:col of task_user). Call first, before anything is spawned.
 */
int taskuser_init(struct worker *w, struct sl_strbuf *err);
/** Create state_dir's folders with the owner and modes of the layout; sets work_dir. */
int taskuser_layout(struct worker *w, struct sl_strbuf *err);
/** Create an attempt's folder (work/<attempt>) for the task user to write; `*dir` to free. */
int workdir_create(struct worker *w, const char *attempt_id, char **dir, struct sl_strbuf *err);
/** A task's HOME, USER and LOGNAME when it runs as task_user (HOME: its folder `dir`). */
void taskuser_env(const struct worker *w, struct sl_env *env, const char *dir);
/**
 * Remove an attempt's folder (takes `dir`): emptied by a process run as the
 * task user, then removed; on the loop, a failure logged.
 */
void workdir_remove(struct worker *w, char *dir);
/** At start: remove every folder a previous life left in work/. */
void workdir_sweep(struct worker *w);

/* pgroups.c */
/**
 * Create state_dir/pgroups and settle every record a previous life left
 * there: SIGKILL each recorded process group unless the machine has
 * rebooted since or its pid now names another process, then remove the
 * record (each logged). Call before connecting, so that no attempt is
 * taken while an old copy of one may still run. Fails only when the folder
 * or the boot id cannot be had.
 */
int pgroups_init(struct worker *w, struct sl_strbuf *err);
void pgroups_release(struct worker *w);
/**
 * Record (write .new, fsync, rename) the process group of an attempt whose
 * process has just started; a failure is logged and the task runs on.
 */
void pgroups_add(struct worker *w, const char *attempt_id, int pgid);
/** Forget the record once the attempt's process has ended. */
void pgroups_remove(struct worker *w, const char *attempt_id);

#endif
