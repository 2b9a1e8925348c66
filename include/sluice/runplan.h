#ifndef SLUICE_RUNPLAN_H
#define SLUICE_RUNPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/dag.h"
#include "sluice/rules.h"

/**
 * The run plan: what happens next in one run, decided from a view of it in
 * memory, with no database and no clock. The scheduler's engine loads the
 * view from its tables and writes back the changes; `sluice test` keeps the
 * view itself and runs what the plan makes ready. Both decide through these
 * functions, so a local test run and a production run take the same
 * decisions (docs/engine.md, "sl_engine_advance"; docs/execution.md).
 *
 *	struct sl_runplan plan;
 *	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;
 *
 *	sl_runplan_init(&plan, dag, SL_RUNPLAN_ABSENT_REMOVED);
 *	plan.tasks[i].present = true; plan.tasks[i].state = ...;   (the view)
 *	sl_runplan_advance(&plan, &ch);        (decide; plan.tasks[] follow)
 *	st = sl_runplan_run_state(&plan, cur);
 *	sl_runplan_changes_release(&ch);
 *	sl_runplan_release(&plan);
 */

/**
 * What a task of the definition that is not part of the run (`present`
 * false) is to the tasks downstream of it:
 *
 * - REMOVED: the engine's run with no task instance for it (a run created
 *   from another version of the definition): it is not counted at all, as
 *   if the edge were gone (sl_upstream_counts_add of SL_TASK_REMOVED).
 * - SUCCEEDED: `sluice test TASK...`, where tasks not named are not run
 *   and count as succeeded (with no outputs, so no branch choice).
 *
 * Either way an absent task is never decided itself and is left out of
 * the run's state.
 */
enum sl_runplan_absent {
	SL_RUNPLAN_ABSENT_REMOVED,
	SL_RUNPLAN_ABSENT_SUCCEEDED,
};

/** One task of the definition, as the run has it. Inputs, set by the caller. */
struct sl_runplan_task {
	bool present;             /* the run has this task (see sl_runplan_absent) */
	enum sl_task_state state; /* its state; sl_runplan_advance updates it */
	bool due;                 /* up_for_retry / up_for_reschedule whose time has come */
	bool past_blocked;        /* depends_on_past and the previous run's task is not
	                             success or skipped */
	bool pool_missing;        /* names a pool that does not exist */
	char *branch;             /* a successful branch task's choice (its `branch`
	                             output), owned; NULL when none */
};

/** One run's view of itself. */
struct sl_runplan {
	const struct sl_dag *dag; /* not owned */
	enum sl_runplan_absent absent;
	struct sl_runplan_task *tasks; /* dag->tasks_nr, by task index */
	/* States of the run's task instances that the definition does not
	 * have (a task since removed from the file): they still count in the
	 * run's state. */
	enum sl_task_state *others;
	size_t others_nr, others_alloc;
};

/** One decision of sl_runplan_advance. */
struct sl_runplan_change {
	size_t task; /* index into dag->tasks */
	enum sl_task_state from, to;
	/* Why, when the plan decided more than the trigger rule says, as the
	 * scheduler stores it in task_instances.reason and `sluice test`
	 * prints it: "branch not taken by TASK", "pool 'X' does not exist
	 * (create it with: sluice pools set X SLOTS)". NULL otherwise. Owned. */
	char *reason;
};

struct sl_runplan_changes {
	struct sl_runplan_change *items;
	size_t nr, alloc;
};

#define SL_RUNPLAN_CHANGES_INIT \
	{                       \
		NULL, 0, 0      \
	}

/**
 * A view of a run of `dag` in which every task is absent (not present,
 * SL_TASK_REMOVED, nothing due or blocked); the caller then fills in
 * `tasks`. Allocates the task array.
 */
void sl_runplan_init(struct sl_runplan *plan, const struct sl_dag *dag,
                     enum sl_runplan_absent absent);
void sl_runplan_release(struct sl_runplan *plan);

/** Set the branch choice of task `t` (a copy of `value`; NULL clears it). */
void sl_runplan_set_branch(struct sl_runplan *plan, size_t t, const char *value);
/** Add the state of a task instance that the definition does not have. */
void sl_runplan_add_other(struct sl_runplan *plan, enum sl_task_state state);

void sl_runplan_changes_release(struct sl_runplan_changes *changes);

/**
 * Decide the run: each present task, in the definition's topological
 * order, so that a decision reaches the tasks downstream of it in the same
 * call (a skip or a failure cascades through the whole graph at once):
 *
 * 1. up_for_retry / up_for_reschedule and `due` -> scheduled (`due` is
 *    cleared); not due -> unchanged.
 * 2. scheduled and `pool_missing` (its pool was deleted after it became
 *    ready) -> failed, with the pool's reason.
 * 3. pending: when a direct upstream task succeeded with a `branch` choice
 *    that does not name it (sl_branch_takes) -> skipped, "branch not taken
 *    by UPSTREAM", whatever its trigger rule. Otherwise
 *    sl_trigger_evaluate over its direct upstream states (absent ones per
 *    `absent`): READY -> scheduled unless `past_blocked`; SKIP -> skipped;
 *    UPSTREAM_FAILED -> upstream_failed; WAIT -> unchanged.
 * 4. A task about to become scheduled with `pool_missing` becomes failed
 *    instead, with the pool's reason: waiting could last forever without
 *    anyone noticing, and failing makes the run fail where an operator
 *    looks.
 *
 * Every change is applied to `plan->tasks[].state` and appended to
 * `changes`, in the order decided. Returns the number appended.
 */
size_t sl_runplan_advance(struct sl_runplan *plan, struct sl_runplan_changes *changes);

/**
 * The run's state from its present tasks and `others`
 * (sl_rules_run_state), given its current state `cur` (queued or
 * running): a queued run stays queued until one of its tasks has left
 * pending; a run whose tasks are all finished is success or failed.
 */
enum sl_run_state sl_runplan_run_state(const struct sl_runplan *plan, enum sl_run_state cur);

/**
 * The run's scheduled tasks in the scheduler's claim order within a run:
 * higher `priority` first, then file order (the engine's claim query
 * orders by priority DESC, logical date, ti_id, and task instances are
 * inserted in file order). Writes their indices to `out` (room for
 * dag->tasks_nr) and returns how many.
 */
size_t sl_runplan_ready(const struct sl_runplan *plan, size_t *out);

/**
 * The try and poke numbers of a task's next attempt, the one rule the
 * scheduler's claim and `sluice test` both follow. `try_number` is the
 * task's last try (0 before the first) and `pokes` the pokes that try has
 * made while it is being poked (sl_runplan_pokes_after): a poke continues
 * its try as poke `pokes` + 1; anything else (the first attempt, a retry,
 * a `tasks clear`) begins try `try_number` + 1 at poke 1. A poke is not a
 * try: the retry rules count tries only, as Airflow's reschedule sensors.
 */
void sl_runplan_next_attempt(int try_number, int pokes, int *next_try, int *next_poke);

/**
 * The `pokes` to keep after poke `poke_number` of a try ended and its task
 * went to `state`: the poke number while the sensor is to be poked again
 * (up_for_reschedule), else 0, so that the next attempt begins a new try.
 */
int sl_runplan_pokes_after(int poke_number, enum sl_task_state state);

#endif
