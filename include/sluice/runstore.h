#ifndef SLUICE_RUNSTORE_H
#define SLUICE_RUNSTORE_H

#ifndef SLUICE_LAYER_DB
#error "sluice/runstore.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/accounts.h"
#include "sluice/dag.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * Runs and task instances in PostgreSQL: the state changes that the CLI
 * makes by hand and the scheduler makes on its own (create a run with its
 * task instances, cancel, clear, mark), each a few statements with every
 * value a parameter and every batch one statement (arrays through unnest).
 *
 * Functions that change state run inside the caller's transaction
 * (sl_db_transaction), so that a caller can add its NOTIFY or other changes
 * to the same commit, and must be safe to call again when the transaction
 * is retried. Errors are negative SL_E* codes with one sentence in `err`:
 * SL_ENOENT for an unknown DAG, run or task (the sentence names it, with a
 * "did you mean" when one is close), SL_ERR for a refused change, and the
 * sl_db codes for the database itself.
 *
 * Times are microseconds since 1970-01-01T00:00:00Z.
 */

/** Final run states: success, failed, cancelled. */
bool sl_run_state_final(const char *state);
/** One of the five run states (docs/engine.md). */
bool sl_run_state_valid(const char *state);
/** Task states after which nothing more happens to the task by itself. */
bool sl_task_state_final(const char *state);
/** A run id the schema accepts: [A-Za-z0-9_.:+~-]{1,250}. */
bool sl_run_id_valid(const char *run_id);

/**
 * Append `t` as ISO 8601 in UTC with a `+00:00` offset (as Airflow writes
 * run ids), with microseconds only when there are some:
 * 2026-03-01T02:00:00+00:00, 2026-03-01T02:00:00.250000+00:00.
 */
void sl_run_time_format(struct sl_strbuf *sb, int64_t t);
/** `<type>__<logical date>`: manual__2026-03-01T02:00:00+00:00. */
void sl_run_id_format(struct sl_strbuf *sb, const char *run_type, int64_t logical_date);

/**
 * The DAG version a new run pins: the DAG's latest version that loaded
 * (dags.latest_version_id) with its definition, and the commit the run's
 * tasks check out (dags.run_commit when that column exists and is set,
 * else the version's own commit).
 */
struct sl_run_pin {
	char *dag_id;
	int64_t version_id;
	char *commit;
	bool paused;
	struct sl_dag *dag; /* the version's definition, rebuilt */
	/* The first load error of the DAG's file at the repository's current
	 * commit ("path:line:col: message"), NULL when it loads there; then
	 * the version above is the last one that loaded, an older one. */
	char *load_error;
	char *source_commit; /* the current commit; NULL before a refresh */
};

#define SL_RUN_PIN_INIT                                \
	{                                              \
		NULL, 0, NULL, false, NULL, NULL, NULL \
	}

/**
 * Load what a new run of `dag_id` pins. SL_ENOENT for an unknown DAG;
 * SL_ERR when the DAG was removed or has no version that loads.
 */
int sl_run_pin_load(struct sl_db *db, const char *dag_id, struct sl_run_pin *pin,
                    struct sl_strbuf *err);
void sl_run_pin_release(struct sl_run_pin *pin);

/**
 * `--latest` runs a DAG's current definition: refuse (SL_ERR) when its file
 * does not load at the current commit, with a sentence naming the error
 * (the pin then holds the last version that loaded, which is not what the
 * operator asked for). 0 otherwise.
 */
int sl_run_pin_check_latest(const struct sl_run_pin *pin, struct sl_strbuf *err);

/** One run to create. */
struct sl_run_new {
	const char *run_id;
	const char *run_type; /* "manual", "scheduled" or "backfill" */
	int64_t logical_date;
	int64_t interval_start, interval_end;
	const char *conf; /* the text of a JSON object; NULL for {} */
	int64_t run_pk;   /* set by sl_runs_create; 0 when skipped */
};

enum {
	/*
	 * Skip a run whose run id, or whose interval (a scheduled or backfill
	 * run of the same logical date), already exists, instead of failing.
	 */
	SL_RUNS_SKIP_EXISTING = 1 << 0,
};

/**
 * Create `nr` queued runs of `pin`'s DAG, each with one pending task
 * instance per task of the pinned definition (max_tries = retries + 1,
 * priority, pool and queue from the definition), in two statements
 * whatever `nr`. `*created` (may be NULL) is how many were created. Without
 * SL_RUNS_SKIP_EXISTING, an existing run id fails with SL_ERR, "run 'x' of
 * DAG 'y' already exists" (the unique constraint decides, so of two
 * concurrent creators exactly one wins). With `who` (a person: the CLI or
 * the web, not the scheduler's own runs), one audit row says who asked:
 * "trigger" for a manual run, "backfill" for the others. Call inside a
 * transaction.
 */
int sl_runs_create(struct sl_db *db, const struct sl_actor *who, const struct sl_run_pin *pin,
                   struct sl_run_new *runs, size_t nr, unsigned flags, size_t *created,
                   struct sl_strbuf *err);

/** Wake the scheduler: NOTIFY sluice, '<event> <dag_id>' (sent at COMMIT). */
int sl_runs_notify(struct sl_db *db, const char *event, const char *dag_id, struct sl_strbuf *err);
/**
 * Receive those notifications on this session (LISTEN sluice), through
 * PQnotifies on sl_db_conn(). A reconnect is a new session: call it again
 * when sl_db_reconnects() changed.
 */
int sl_runs_listen(struct sl_db *db, struct sl_strbuf *err);

/** 0 when DAG `dag_id` exists, else SL_ENOENT: "no DAG 'x'" (did you mean). */
int sl_run_dag_check(struct sl_db *db, const char *dag_id, struct sl_strbuf *err);

/** Where a run (and one of its tasks) is. */
struct sl_run_ref {
	int64_t run_pk;
	char state[24];    /* the run's state */
	int64_t ti_id;     /* 0 when no task was asked for */
	char ti_state[24]; /* the task instance's state */
	int ti_try_number; /* the task instance's try_number */
	bool ti_callback;  /* it is the run's on_failure / on_success callback */
};

/**
 * Find run `run_id` of `dag_id` and, when `task_id` is not NULL, its task
 * instance. SL_ENOENT names what is missing: "no DAG 'x'", "no run 'r' of
 * DAG 'x'", "run 'r' of DAG 'x' has no task 't'" (with "did you mean" for
 * DAGs and tasks). When no task has the id `task_id` but the run's
 * callback does ("on_failure", "on_success"), that callback is found, with
 * `ti_callback` set.
 */
int sl_run_lookup(struct sl_db *db, const char *dag_id, const char *run_id, const char *task_id,
                  struct sl_run_ref *ref, struct sl_strbuf *err);

/** What a change did. */
struct sl_run_change {
	size_t tasks;    /* task instances changed */
	size_t attempts; /* live attempts ended with outcome 'cancelled' */
	char prev_state[24];
};

/**
 * Cancel a live run: the run becomes cancelled (with its end time), every
 * unfinished task instance cancelled, every live attempt ended with
 * outcome 'cancelled'. A finished run is refused with SL_ERR,
 * "run 'r' of DAG 'x' is already success". Its audit row names `who`.
 * Call inside a transaction.
 */
int sl_run_cancel(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                  const char *run_id, struct sl_run_change *out, struct sl_strbuf *err);

/** Which task instances of a run `sl_run_clear` resets. */
struct sl_clear_opts {
	const char *const *tasks; /* task ids; none means every task */
	size_t tasks_nr;
	bool failed_only; /* keep only failed, upstream_failed and cancelled */
	bool downstream;  /* then add every task downstream of those */
	/* First move the run to the DAG's current version and commit
	 * (sl_run_pin_load; refused as sl_run_pin_check_latest says), and
	 * choose the tasks in that version's graph. */
	bool latest;
};

/** Task ids, in the pinned definition's file order. */
struct sl_task_ids {
	char **items;
	size_t nr, alloc;
};

#define SL_TASK_IDS_INIT   \
	{                  \
		NULL, 0, 0 \
	}

void sl_task_ids_release(struct sl_task_ids *ids);

/**
 * What moving runs to the DAG's current version did (`--latest`): the
 * commit they were on (of the last run moved) and are on now, the tasks
 * the new version added (a pending task instance each) and those it no
 * longer has (now `removed`); a task appears once per run moved.
 */
struct sl_run_repin {
	size_t runs; /* runs moved */
	char *from_commit, *to_commit;
	struct sl_task_ids added, removed;
};

#define SL_RUN_REPIN_INIT                                         \
	{                                                         \
		0, NULL, NULL, SL_TASK_IDS_INIT, SL_TASK_IDS_INIT \
	}

void sl_run_repin_release(struct sl_run_repin *repin);

/**
 * Reset task instances of a run for another try, as Airflow's clear does:
 * state pending, max_tries = try_number + retries + 1 (so the retries are
 * available again), times and next_retry_at NULL, live attempts ended
 * 'cancelled'; the run goes back to queued (no end time). The selection
 * follows `opts`, using the run's pinned version for the graph (the DAG's
 * current one with `latest`); an unknown task is SL_ENOENT. `cleared`
 * receives the reset tasks. Clearing nothing changes nothing (not even the
 * run, nor its pin). With `latest`, the run is first moved to the current
 * version and commit, and `repin` (required then, ignored otherwise) says
 * what that changed. Its audit row names `who` and the tasks cleared (it is
 * written when nothing was, too: it was asked). Call inside a transaction.
 */
int sl_run_clear(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                 const char *run_id, const struct sl_clear_opts *opts, struct sl_task_ids *cleared,
                 struct sl_run_repin *repin, struct sl_run_change *out, struct sl_strbuf *err);

/**
 * The backfill --reset: for each of `runs` that sl_runs_create skipped
 * (run_pk 0), clear every task instance of the scheduled or backfill run
 * that already covers its logical date, as sl_run_clear does.
 * `*runs_reset` and `*tasks` (either may be NULL) count what was reset.
 * With `latest` (a pin from sl_run_pin_load that passed
 * sl_run_pin_check_latest), those runs first move to its version and
 * commit, as sl_run_clear's `latest` does, and `repin` says what changed.
 * Call inside a transaction.
 */
int sl_runs_reset(struct sl_db *db, const char *dag_id, const struct sl_run_new *runs, size_t nr,
                  const struct sl_run_pin *latest, struct sl_run_repin *repin, size_t *runs_reset,
                  size_t *tasks, struct sl_strbuf *err);

/**
 * For each of `runs` that sl_runs_create skipped (run_pk 0), the id of the
 * run that stands in its place: the scheduled or backfill run of its
 * interval, else the run that has its run id. `found[i]` (an array of `nr`
 * pointers, NULL or malloc'd) is freed and set to a malloc'd id, or NULL
 * for a created run; the caller frees them. Call inside the transaction
 * that created the runs, so that what is reported is what was skipped.
 */
int sl_runs_existing(struct sl_db *db, const char *dag_id, const struct sl_run_new *runs, size_t nr,
                     char **found, struct sl_strbuf *err);

/**
 * Set task `task_id` of a run to `state` ("success" or "failed"), with an
 * end time (the mark's time) and the reason "marked STATE by NAME" (`who`'s
 * name), and its audit row; its live attempt is ended 'cancelled'. The
 * run's state is left as it is. SL_EINVAL: another state, "a task can be
 * marked success or failed, not 'x'". Call inside a transaction.
 */
int sl_task_mark(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                 const char *run_id, const char *task_id, const char *state,
                 struct sl_run_change *out, struct sl_strbuf *err);

#endif
