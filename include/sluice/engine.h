#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#ifndef SLUICE_LAYER_ENGINE
#error "sluice/engine.h: this target does not link the engine layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/outcome.h"

/**
 * The scheduler's database core: the few set-based transactions its loop
 * runs to create scheduled runs, advance runs (trigger rules, retries, run
 * state), claim task instances for a worker, and record what a worker
 * reports (start, log, result, lost). See docs/engine.md.
 *
 * Every function is one committed transaction (sl_db_transaction), with
 * every value a statement parameter and every batch bounded by a limit, so
 * a crash between two calls loses nothing that was reported as done, and
 * calling a function again after a crash is safe.
 *
 * Time: `now_ms` is the wall clock in milliseconds since 1970-01-01 UTC,
 * given explicitly so that tests control time. Every time the engine
 * writes (started_at, ended_at, next_retry_at, queued_at) comes from it.
 *
 * Errors: 0, or a negative SL_E* code with one sentence in `err`.
 */

struct sl_engine_def;

/**
 * The engine of one database connection: the connection it runs its
 * transactions on, and the parsed DAG definitions it has read, by version
 * (a version's definition never changes once stored, so they stay valid
 * across calls and reconnects; at most 64, least recently used out first).
 *
 * The engine borrows `db` and never frees it: the scheduler's connection
 * also carries its lease, LISTEN and its own statements, so the caller
 * that opened it frees it (sl_db_free) after sl_engine_release. An engine
 * is used by one thread at a time, like its connection.
 */
struct sl_engine {
	struct sl_db *db;
	/* The definition cache (lib/engine/defcache.c); nothing else reads it. */
	struct sl_engine_def **defs;
	size_t defs_nr, defs_alloc;
	uint64_t defs_clock;
};

#define SL_ENGINE_INIT              \
	{                           \
		NULL, NULL, 0, 0, 0 \
	}

/** Start an engine on `db` (borrowed); allocates nothing. */
void sl_engine_init(struct sl_engine *e, struct sl_db *db);
/** Free the cached definitions; `e` is SL_ENGINE_INIT again, `db` untouched. */
void sl_engine_release(struct sl_engine *e);

/**
 * Create the scheduled runs that are due at `now_ms`: for each DAG that is
 * not paused, not removed, has a version that loads and a cron or @once
 * schedule, and whose `dags.next_run_after` is unset or not after now, the
 * intervals that have ended by now (sl_schedule_next): every missed one,
 * oldest first, with catchup; only the latest without. Never more than the
 * DAG's max_active_runs minus its live (queued or running) runs, and never
 * more than `limit` runs in all. Runs are created through sl_runs_create
 * with SL_RUNS_SKIP_EXISTING (runs_interval_key prevents duplicates), then
 * `dags.next_run_after` is set to the end of the next interval not yet
 * created ('infinity' when there is none). `@once` creates one run ever,
 * at the start date. `*created` (may be NULL) counts the runs created.
 */
int sl_engine_create_scheduled_runs(struct sl_engine *e, int64_t now_ms, size_t limit,
                                    size_t *created, struct sl_strbuf *err);

/**
 * Advance up to `limit` live runs (oldest logical date first) that have
 * something to decide: every `pending` task instance whose direct upstream
 * states (the pinned definition) give a verdict through
 * sl_trigger_evaluate becomes scheduled, skipped or upstream_failed
 * (evaluated in topological order, so a skip or failure cascades in one
 * call); a depends_on_past task also waits until the same task of the
 * previous run by logical date is success or skipped. A pending task whose
 * direct upstream branch task succeeded without choosing it (its `branch`
 * output, sl_branch_takes) is skipped first, whatever its trigger rule.
 * up_for_retry and up_for_reschedule task instances whose next_retry_at <=
 * now become scheduled. A task about to become scheduled, or scheduled,
 * whose pool does not exist becomes failed instead (no attempt, no retry).
 * Each change sets task_instances.reason (why, or NULL). Then each run's state is rolled up
 * (sl_rules_run_state): a queued run with any task past pending becomes running, a run whose tasks
 * are all finished becomes success or failed with its end time. A run that
 * becomes success or failed and whose definition has an on_success or
 * on_failure command gets that callback in the same transaction: a task
 * instance of kind 'callback' (task_id "on_success" / "on_failure"),
 * scheduled, one try, no pool, queue "default". Callbacks never count in a
 * run's state; a cancelled run gets none.
 * `*changes` (may be NULL) counts task instances and runs changed.
 */
int sl_engine_advance(struct sl_engine *e, int64_t now_ms, size_t limit, size_t *changes,
                      struct sl_strbuf *err);

/** What a worker needs to run one attempt: the fields of a DISPATCH. */
struct sl_engine_dispatch {
	int64_t attempt_id;
	int64_t fencing_token;
	int64_t ti_id;
	char *dag;
	char *run_id;
	char *task;
	int try_number;    /* the try; a sensor's pokes share it */
	int poke_number;   /* which poke of the try (1 but for a sensor poked again) */
	char *command;     /* templates expanded (sl_taskenv_expand) */
	struct sl_env env; /* "NAME=value": DAG env, task env, SLUICE_* */
	char *cwd;         /* relative to the checkout; "" is its root */
	char *commit;      /* the run's pinned commit */
	int64_t timeout_s; /* 0: none */
	bool sensor;
	/*
	 * When the task instance became scheduled (ready to claim), in the
	 * database server's clock, milliseconds since 1970 UTC: the start of
	 * the scheduler's dispatch latency.
	 */
	int64_t ready_ms;
};

struct sl_engine_dispatches {
	struct sl_engine_dispatch *items;
	size_t nr, alloc;
};

#define SL_ENGINE_DISPATCHES_INIT \
	{                         \
		NULL, 0, 0        \
	}

void sl_engine_dispatches_release(struct sl_engine_dispatches *d);

/**
 * Claim up to `free_slots` scheduled task instances for worker
 * `worker_id`, whose queue is one of `queues`: highest priority first, then
 * oldest logical date, then file order (ti_id). Pools (a task naming a pool
 * that does not exist is never claimed; sl_engine_advance fails it), each run's
 * max_active_tasks and the global `parallelism` (0: no limit) count
 * task instances queued or running. For each one picked: a live attempt
 * (its try and poke numbers from sl_runplan_next_attempt: the next poke of
 * the same try for a sensor poked again, else try_number + 1 at poke 1;
 * the worker; a random fencing token) is inserted and the task instance
 * becomes queued with those numbers. One transaction, serialised with other claimers by a
 * transaction-level advisory lock (SL_ENGINE_CLAIM_LOCK) and reading rows
 * with FOR UPDATE SKIP LOCKED, so no task instance is handed out twice.
 * The dispatches are appended to `*out` (release it with
 * sl_engine_dispatches_release).
 *
 * A scheduled callback of a finished run (even of a paused DAG) is claimed
 * like a task: its command is the definition's on_failure / on_success,
 * its cwd the checkout's root, no timeout, and its environment the run's
 * (DAG env, params, the outputs of every task) with SLUICE_TASK set to its
 * id, SLUICE_RUN_STATE and SLUICE_FAILED_TASKS.
 */
int sl_engine_claim(struct sl_engine *e, const char *worker_id, const char *const *queues,
                    size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                    struct sl_engine_dispatches *out, struct sl_strbuf *err);

/**
 * sl_engine_claim for a caller that sends each DISPATCH at once (the
 * scheduler): in the same transaction the task instances go straight to
 * running and the attempts get started_at, as sl_engine_started would set
 * them, which saves a durable commit per task. A DISPATCH that then cannot
 * be sent leaves a running attempt, failed when the worker is lost, as a
 * queued one would be.
 */
int sl_engine_claim_started(struct sl_engine *e, const char *worker_id, const char *const *queues,
                            size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                            struct sl_engine_dispatches *out, struct sl_strbuf *err);

/** The advisory lock that serialises claims ("sluice" in ASCII, plus 2). */
#define SL_ENGINE_CLAIM_LOCK "126909663503207"

/*
 * The reports below name the worker that sends them (`worker_id`, the name
 * its connection authenticated as): a report is accepted only for an
 * attempt dispatched to that worker. The shared token lets any client call
 * itself a worker, and tokens are unguessable but visible to the worker
 * that holds them; the owner check is what keeps one worker from ending or
 * writing into another's attempt. A report about another worker's attempt
 * changes nothing and is not accepted, like a stale one.
 */

/**
 * Worker `worker_id` started attempt `attempt_id`: its started_at is set
 * and its task instance becomes running. `*accepted` (may be NULL) is
 * false when the fencing token is not that of the attempt, the attempt is
 * not that worker's, or the attempt has ended: ignored.
 */
int sl_engine_started(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                      int64_t fencing, int64_t now_ms, bool *accepted, struct sl_strbuf *err);

/**
 * Store log chunk `seq` (1 to 65536 bytes) of an attempt. At most
 * `log_limit` bytes (0: no limit) are kept per attempt: the part of a chunk
 * past it is dropped and attempts.log_truncated set. A chunk received twice
 * is stored once. `*accepted` (may be NULL) is false for a wrong fencing
 * token or another worker's attempt: nothing is stored.
 */
int sl_engine_log(struct sl_engine *e, const char *worker_id, int64_t attempt_id, int64_t fencing,
                  int seq, const void *bytes, size_t len, int64_t log_limit, bool *accepted,
                  struct sl_strbuf *err);

/** How an attempt ended, as a worker reports it. */
struct sl_engine_result {
	enum sl_outcome outcome;
	int exit_code;       /* 0-255, or -1 when none (signal, timeout) */
	int signal;          /* 1-127, or 0 */
	const char *outputs; /* the text of a JSON object of strings; NULL: {} */
};

/**
 * The attempt ended. When `fencing` is not the token of the attempt, the
 * attempt is not `worker_id`'s, or the attempt has already ended (a lost
 * worker's attempt, a cancel), nothing changes and `*accepted` is false:
 * the report is stale (the caller still acknowledges it). Otherwise the
 * attempt is ended with its outcome, exit code or signal and outputs, and
 * its task instance moves as sl_rules_after_attempt says (up_for_retry
 * with the back-off delay, up_for_reschedule at the next poke, or a final
 * state), in one transaction. A callback is never retried: success,
 * skipped (exit 99) or failed, and its run's state does not change.
 */
int sl_engine_result(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                     int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                     bool *accepted, struct sl_strbuf *err);

/**
 * sl_engine_result, and when the report is accepted and the task has
 * downstream tasks (and is not up for a retry or a poke), the attempt's run
 * is then advanced as sl_engine_advance would (locked with SKIP LOCKED: a run
 * another transaction holds waits for the next advance), in the same
 * transaction: for the scheduler, whose next tick would otherwise need a
 * durable commit of its own to schedule the downstream tasks.
 */
int sl_engine_result_advance(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                             int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                             bool *accepted, struct sl_strbuf *err);

/** What sl_engine_result_claim claims for: as sl_engine_claim_started's arguments. */
struct sl_engine_claim_req {
	const char *const *queues;
	size_t queues_nr;
	size_t free_slots; /* counting the slot this result frees */
	size_t parallelism;
};

/**
 * sl_engine_result_advance, then, when the report is accepted,
 * sl_engine_claim_started for the same worker, all in one transaction: the
 * result, the downstream tasks it makes ready and the work claimed for the
 * slot it frees share one durable commit, and the DISPATCHes in `out` can
 * leave right after it (with the result's ACK). On an error nothing is
 * recorded or claimed (`out` is as it was).
 */
int sl_engine_result_claim(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                           int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                           const struct sl_engine_claim_req *req, bool *accepted,
                           struct sl_engine_dispatches *out, struct sl_strbuf *err);

/**
 * A worker is lost: every live attempt of `worker_id` ends with outcome
 * `lost` and its task instance moves as after a failure (up_for_retry while
 * tries remain, else failed). `*ended` (may be NULL) counts the attempts.
 */
int sl_engine_fail_worker(struct sl_engine *e, const char *worker_id, int64_t now_ms,
                          const char *reason, size_t *ended, struct sl_strbuf *err);

/**
 * One attempt is lost (its worker no longer holds it, though the worker is
 * connected): it ends with outcome `lost` and its task instance moves as
 * after a failure, like an attempt of a lost worker. `*accepted` is false
 * when `fencing` is not the attempt's token, the attempt is not
 * `worker_id`'s, or the attempt has ended.
 * `reason` (may be NULL), for people, goes to task_instances.reason, as
 * it does for sl_engine_fail_worker.
 */
int sl_engine_fail_attempt(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                           int64_t fencing, int64_t now_ms, const char *reason, bool *accepted,
                           struct sl_strbuf *err);

/**
 * The worker attempt `attempt_id` was dispatched to, in `*owner` (the
 * caller frees it; NULL when there is no such attempt): for logging a
 * report that was not accepted, never for deciding whether to accept one
 * (the report statements check the owner themselves, under their lock).
 */
int sl_engine_attempt_owner(struct sl_engine *e, int64_t attempt_id, char **owner,
                            struct sl_strbuf *err);

/** A live attempt, as the database has it. */
struct sl_engine_live_attempt {
	char *worker_id;
	int64_t attempt_id;
	int64_t fencing;
};

struct sl_engine_live {
	struct sl_engine_live_attempt *items;
	size_t nr, alloc;
};

#define SL_ENGINE_LIVE_INIT \
	{                   \
		NULL, 0, 0  \
	}

void sl_engine_live_release(struct sl_engine_live *l);

/**
 * The live attempts of `workers` (appended to `*out`, by attempt id), in
 * one transaction that first records a heartbeat of each of them when
 * `record_heartbeat` is set: what the scheduler checks every worker's own
 * list against (docs/reliability.md). One indexed read and one update for
 * any number of workers, so that it costs the same per tick whether 1 or
 * 500 workers sent a heartbeat.
 */
int sl_engine_worker_live(struct sl_engine *e, const char *const *workers, size_t workers_nr,
                          bool record_heartbeat, struct sl_engine_live *out, struct sl_strbuf *err);

/**
 * A worker that says hello lists every attempt it runs: each attempt of it
 * that an operator ended (stop_pending) and that is not in `running` has no
 * process any more, so its task instance may be handed out again. Run at
 * HELLO, or with a HEARTBEAT's list plus every attempt dispatched after
 * that HEARTBEAT left (which it cannot list yet).
 */
int sl_engine_confirm_stopped(struct sl_engine *e, const char *worker_id, const int64_t *running,
                              size_t running_nr, size_t *confirmed, struct sl_strbuf *err);

#endif
