/*
 * The run plan: the decisions of one run (include/sluice/runplan.h), shared
 * by the scheduler's engine and `sluice test`.
 */
#include "sluice/runplan.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/banned.h"

void sl_runplan_init(struct sl_runplan *plan, const struct sl_dag *dag,
                     enum sl_runplan_absent absent)
{
	memset(plan, 0, sizeof(*plan));
	plan->dag = dag;
	plan->absent = absent;
	plan->tasks = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*plan->tasks));
	for (size_t i = 0; i < dag->tasks_nr; i++)
		plan->tasks[i].state = SL_TASK_REMOVED;
}

void sl_runplan_release(struct sl_runplan *plan)
{
	for (size_t i = 0; plan->tasks && i < plan->dag->tasks_nr; i++)
		free(plan->tasks[i].branch);
	free(plan->tasks);
	free(plan->others);
	plan->tasks = NULL;
	plan->others = NULL;
	plan->others_nr = plan->others_alloc = 0;
}

void sl_runplan_set_branch(struct sl_runplan *plan, size_t t, const char *value)
{
	free(plan->tasks[t].branch);
	plan->tasks[t].branch = value ? sl_xstrdup(value) : NULL;
}

void sl_runplan_add_other(struct sl_runplan *plan, enum sl_task_state state)
{
	SL_ALLOC_GROW(plan->others, plan->others_nr + 1, plan->others_alloc);
	plan->others[plan->others_nr++] = state;
}

void sl_runplan_changes_release(struct sl_runplan_changes *changes)
{
	for (size_t i = 0; i < changes->nr; i++)
		free(changes->items[i].reason);
	free(changes->items);
	changes->items = NULL;
	changes->nr = changes->alloc = 0;
}

/* The state an upstream task counts as for the tasks downstream of it. */
static enum sl_task_state upstream_state(const struct sl_runplan *plan, size_t u)
{
	if (plan->tasks[u].present)
		return plan->tasks[u].state;
	return plan->absent == SL_RUNPLAN_ABSENT_SUCCEEDED ? SL_TASK_SUCCESS : SL_TASK_REMOVED;
}

/* The direct upstream branch task that did not choose task `i`, or -1. */
static long branch_skipper(const struct sl_runplan *plan, size_t i)
{
	const struct sl_task *t = &plan->dag->tasks[i];

	for (size_t k = 0; k < t->upstream_nr; k++) {
		const struct sl_runplan_task *up = &plan->tasks[t->upstream[k]];

		if (up->present && up->state == SL_TASK_SUCCESS && up->branch &&
		    !sl_branch_takes(up->branch, t->id))
			return (long)t->upstream[k];
	}
	return -1;
}

/*
 * What pending task `i` becomes, or `from` itself when it waits; `*why`
 * gets the reason of a branch skip.
 */
static enum sl_task_state decide_pending(const struct sl_runplan *plan, size_t i, char **why)
{
	const struct sl_task *t = &plan->dag->tasks[i];
	struct sl_upstream_counts c = SL_UPSTREAM_COUNTS_INIT;
	long skipper = branch_skipper(plan, i);

	if (skipper >= 0) {
		*why = sl_xasprintf("branch not taken by %s", plan->dag->tasks[skipper].id);
		return SL_TASK_SKIPPED;
	}
	for (size_t k = 0; k < t->upstream_nr; k++)
		sl_upstream_counts_add(&c, upstream_state(plan, t->upstream[k]));
	switch (sl_trigger_evaluate(t->trigger_rule, &c)) {
	case SL_VERDICT_READY:
		return plan->tasks[i].past_blocked ? SL_TASK_PENDING : SL_TASK_SCHEDULED;
	case SL_VERDICT_SKIP:
		return SL_TASK_SKIPPED;
	case SL_VERDICT_UPSTREAM_FAILED:
		return SL_TASK_UPSTREAM_FAILED;
	case SL_VERDICT_WAIT:
		break;
	}
	return SL_TASK_PENDING;
}

size_t sl_runplan_advance(struct sl_runplan *plan, struct sl_runplan_changes *changes)
{
	const struct sl_dag *dag = plan->dag;
	size_t before = changes->nr;

	for (size_t k = 0; k < dag->tasks_nr; k++) {
		size_t i = dag->topo[k];
		struct sl_runplan_task *t = &plan->tasks[i];
		enum sl_task_state from = t->state, to = from;
		char *why = NULL;

		if (!t->present)
			continue;
		if (from == SL_TASK_UP_FOR_RETRY || from == SL_TASK_UP_FOR_RESCHEDULE) {
			if (t->due)
				to = SL_TASK_SCHEDULED;
			t->due = false;
		} else if (from == SL_TASK_PENDING) {
			to = decide_pending(plan, i, &why);
		}
		/* A scheduled task whose pool was deleted since fails here too. */
		if (to == SL_TASK_SCHEDULED && t->pool_missing) {
			const char *pool = dag->tasks[i].pool ? dag->tasks[i].pool : "";

			to = SL_TASK_FAILED;
			why = sl_xasprintf("pool '%s' does not exist (create it with: sluice pools "
			                   "set %s SLOTS)",
			                   pool, pool);
		}
		if (to == from)
			continue;
		SL_ALLOC_GROW(changes->items, changes->nr + 1, changes->alloc);
		changes->items[changes->nr++] =
		    (struct sl_runplan_change){.task = i, .from = from, .to = to, .reason = why};
		t->state = to;
	}
	return changes->nr - before;
}

enum sl_run_state sl_runplan_run_state(const struct sl_runplan *plan, enum sl_run_state cur)
{
	const struct sl_dag *dag = plan->dag;
	enum sl_task_state *all = sl_xcalloc(dag->tasks_nr + plan->others_nr + 1, sizeof(*all));
	bool started = false;
	enum sl_run_state st;
	size_t n = 0;

	for (size_t i = 0; i < dag->tasks_nr; i++)
		if (plan->tasks[i].present)
			all[n++] = plan->tasks[i].state;
	for (size_t i = 0; i < plan->others_nr; i++)
		all[n++] = plan->others[i];
	for (size_t i = 0; i < n; i++)
		if (all[i] != SL_TASK_PENDING)
			started = true;
	st = sl_rules_run_state(all, n);
	free(all);
	if (st == SL_RUN_RUNNING && cur == SL_RUN_QUEUED && !started)
		return SL_RUN_QUEUED;
	return st;
}

struct ready_item {
	int priority;
	size_t index;
};

static int claim_order(const void *a, const void *b)
{
	const struct ready_item *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

size_t sl_runplan_ready(const struct sl_runplan *plan, size_t *out)
{
	const struct sl_dag *dag = plan->dag;
	struct ready_item *items = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*items));
	size_t n = 0;

	for (size_t i = 0; i < dag->tasks_nr; i++)
		if (plan->tasks[i].present && plan->tasks[i].state == SL_TASK_SCHEDULED)
			items[n++] = (struct ready_item){dag->tasks[i].priority, i};
	qsort(items, n, sizeof(*items), claim_order);
	for (size_t k = 0; k < n; k++)
		out[k] = items[k].index;
	free(items);
	return n;
}

void sl_runplan_next_attempt(int try_number, int pokes, int *next_try, int *next_poke)
{
	if (pokes > 0 && try_number > 0) {
		*next_try = try_number;
		*next_poke = pokes + 1;
		return;
	}
	*next_try = try_number + 1;
	*next_poke = 1;
}

int sl_runplan_pokes_after(int poke_number, enum sl_task_state state)
{
	return state == SL_TASK_UP_FOR_RESCHEDULE ? poke_number : 0;
}
