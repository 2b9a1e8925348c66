#ifndef SLUICE_RULES_H
#define SLUICE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/dag.h"
#include "sluice/strbuf.h"
#include "sluice/outcome.h"

/**
 * The state rules of a run, as pure functions: when a task may start
 * (trigger rules), what state an attempt's outcome leads to (retries,
 * back-off, sensor reschedules), and the state of a run from the states of
 * its tasks. The scheduler and `sluice test` both decide through these, so
 * that a local test run and a production run take the same decisions. The
 * tables are in docs/execution.md.
 */

/** Task states (docs/engine.md). */
enum sl_task_state {
	SL_TASK_PENDING,
	SL_TASK_SCHEDULED,
	SL_TASK_QUEUED,
	SL_TASK_RUNNING,
	SL_TASK_SUCCESS,
	SL_TASK_FAILED,
	SL_TASK_UP_FOR_RETRY,
	SL_TASK_UP_FOR_RESCHEDULE,
	SL_TASK_UPSTREAM_FAILED,
	SL_TASK_SKIPPED,
	SL_TASK_CANCELLED,
	SL_TASK_REMOVED,
};

/** Run states (docs/engine.md). */
enum sl_run_state {
	SL_RUN_QUEUED,
	SL_RUN_RUNNING,
	SL_RUN_SUCCESS,
	SL_RUN_FAILED,
	SL_RUN_CANCELLED,
};

/** The state's name as stored and printed ("up_for_retry"); "unknown" if out of range. */
const char *sl_task_state_name(enum sl_task_state state);
/** Returns 0 and sets `*state`, or -1 for an unknown name. */
int sl_task_state_parse(const char *name, enum sl_task_state *state);
const char *sl_run_state_name(enum sl_run_state state);

/**
 * True for the states a task instance does not leave by itself: success,
 * failed, upstream_failed, skipped, cancelled, removed. up_for_retry and
 * up_for_reschedule are not finished.
 */
bool sl_task_state_finished(enum sl_task_state state);

/**
 * What a task's direct upstream tasks have come to. Fill it with
 * sl_upstream_counts_add, one call per upstream task. `done` counts the
 * finished upstreams (success + failed + upstream_failed + skipped).
 */
struct sl_upstream_counts {
	unsigned total;
	unsigned done;
	unsigned success;
	unsigned failed;
	unsigned upstream_failed;
	unsigned skipped;
};

#define SL_UPSTREAM_COUNTS_INIT  \
	{                        \
		0, 0, 0, 0, 0, 0 \
	}

/**
 * Count one upstream task in state `state`. A cancelled upstream counts as
 * failed; a removed one is not counted at all (as if the edge were gone);
 * every other unfinished state counts towards `total` only.
 */
void sl_upstream_counts_add(struct sl_upstream_counts *c, enum sl_task_state state);

/** What a trigger rule makes of a task's upstream, for a task not yet started. */
enum sl_trigger_verdict {
	SL_VERDICT_WAIT,            /* not decided yet: upstream tasks are still running */
	SL_VERDICT_READY,           /* the task may run now */
	SL_VERDICT_SKIP,            /* the task will never run: it becomes skipped */
	SL_VERDICT_UPSTREAM_FAILED, /* ... it becomes upstream_failed */
};

const char *sl_trigger_verdict_name(enum sl_trigger_verdict verdict);

/**
 * Apply trigger rule `rule` to upstream counts `c`, with Airflow's
 * semantics (the table in docs/execution.md). A task with no upstream is
 * always READY. A verdict other than WAIT is meant to be applied at once:
 * a rule that can no longer be met says so without waiting for the other
 * upstream tasks (all_success with one failed upstream is UPSTREAM_FAILED
 * while others still run), and a rule met early fires early (one_success).
 */
enum sl_trigger_verdict sl_trigger_evaluate(enum sl_trigger_rule rule,
                                            const struct sl_upstream_counts *c);

/**
 * The delay in seconds before the retry that follows failed attempt
 * `try_number` (1 for the first attempt): `retry_delay` with fixed back-off;
 * `retry_delay * 2^(try_number - 1)`, capped by `max_retry_delay`, with
 * exponential back-off. Never overflows; never negative.
 */
int64_t sl_retry_delay(const struct sl_task *task, int try_number);

/** The decision taken when an attempt ends. */
struct sl_next_state {
	enum sl_task_state state;
	/* up_for_retry / up_for_reschedule: when to start again, in the clock of
	 * `now_ms`; otherwise 0. */
	int64_t at_ms;
};

/**
 * The state task `task` goes to when attempt `try_number` (1-based; a
 * sensor's pokes share their try number) ends with `outcome` at `now_ms`
 * (milliseconds on any clock: `at_ms` uses the same one):
 *
 * - success -> success; skipped (exit 99) -> skipped; cancelled -> cancelled;
 * - failed or timeout -> up_for_retry at now + sl_retry_delay while
 *   `try_number <= task->retries`, else failed;
 * - reschedule (exit 75 of a sensor) -> up_for_reschedule at now +
 *   poke_interval, unless more than the sensor's timeout has passed since
 *   `first_poke_ms` (the start of the first poke of this try) -> failed,
 *   without a retry (as Airflow's sensor timeout). A reschedule from a task
 *   that is not a sensor is treated as a failure.
 */
void sl_rules_after_attempt(const struct sl_task *task, enum sl_outcome outcome, int try_number,
                            int64_t now_ms, int64_t first_poke_ms, struct sl_next_state *out);

/**
 * Branching. A task that succeeds with a `branch` output (`branch=a,b` in
 * $SLUICE_OUTPUT) chooses which of its *direct* downstream tasks run; the
 * others are skipped, and the skip reaches further tasks through their
 * trigger rules. `value` is that output: task ids separated by commas,
 * blanks around an id ignored; an empty value chooses none.
 *
 * sl_branch_check: 0 when every id of `value` names a direct downstream
 * task of task `from` of `dag`; else SL_EINVAL with a sentence in `err`
 * naming the id and the downstream tasks it could have named. Applied when
 * the branch task's attempt ends: a wrong choice fails the branch task.
 *
 * sl_branch_takes: whether `value` names task `task_id`.
 */
int sl_branch_check(const struct sl_dag *dag, size_t from, const char *value,
                    struct sl_strbuf *err);
bool sl_branch_takes(const char *value, const char *task_id);

/** The output key a branch task writes its choice to. */
#define SL_BRANCH_OUTPUT "branch"

/**
 * The state of a run from the states of its `nr` tasks: running while any
 * task is unfinished (sl_task_state_finished); then success when no task is
 * failed, upstream_failed or cancelled (skipped and removed are fine), else
 * failed. A run with no task is a success.
 */
enum sl_run_state sl_rules_run_state(const enum sl_task_state *states, size_t nr);

#endif
