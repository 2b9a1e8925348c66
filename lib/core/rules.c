#include "sluice/rules.h"

#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

static const char *const task_state_names[] = {
    [SL_TASK_PENDING] = "pending",
    [SL_TASK_SCHEDULED] = "scheduled",
    [SL_TASK_QUEUED] = "queued",
    [SL_TASK_RUNNING] = "running",
    [SL_TASK_SUCCESS] = "success",
    [SL_TASK_FAILED] = "failed",
    [SL_TASK_UP_FOR_RETRY] = "up_for_retry",
    [SL_TASK_UP_FOR_RESCHEDULE] = "up_for_reschedule",
    [SL_TASK_UPSTREAM_FAILED] = "upstream_failed",
    [SL_TASK_SKIPPED] = "skipped",
    [SL_TASK_CANCELLED] = "cancelled",
    [SL_TASK_REMOVED] = "removed",
};

static const char *const run_state_names[] = {
    [SL_RUN_QUEUED] = "queued", [SL_RUN_RUNNING] = "running",     [SL_RUN_SUCCESS] = "success",
    [SL_RUN_FAILED] = "failed", [SL_RUN_CANCELLED] = "cancelled",
};

static const char *const verdict_names[] = {
    [SL_VERDICT_WAIT] = "wait",
    [SL_VERDICT_READY] = "ready",
    [SL_VERDICT_SKIP] = "skip",
    [SL_VERDICT_UPSTREAM_FAILED] = "upstream_failed",
};

const char *sl_task_state_name(enum sl_task_state state)
{
	if ((size_t)state >= SL_ARRAY_SIZE(task_state_names))
		return "unknown";
	return task_state_names[state];
}

int sl_task_state_parse(const char *name, enum sl_task_state *state)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(task_state_names); i++) {
		if (!strcmp(name, task_state_names[i])) {
			*state = (enum sl_task_state)i;
			return 0;
		}
	}
	return -1;
}

const char *sl_run_state_name(enum sl_run_state state)
{
	if ((size_t)state >= SL_ARRAY_SIZE(run_state_names))
		return "unknown";
	return run_state_names[state];
}

const char *sl_trigger_verdict_name(enum sl_trigger_verdict verdict)
{
	if ((size_t)verdict >= SL_ARRAY_SIZE(verdict_names))
		return "unknown";
	return verdict_names[verdict];
}

bool sl_task_state_finished(enum sl_task_state state)
{
	switch (state) {
	case SL_TASK_SUCCESS:
	case SL_TASK_FAILED:
	case SL_TASK_UPSTREAM_FAILED:
	case SL_TASK_SKIPPED:
	case SL_TASK_CANCELLED:
	case SL_TASK_REMOVED:
		return true;
	default:
		return false;
	}
}

void sl_upstream_counts_add(struct sl_upstream_counts *c, enum sl_task_state state)
{
	switch (state) {
	case SL_TASK_REMOVED:
		return;
	case SL_TASK_SUCCESS:
		c->success++;
		c->done++;
		break;
	case SL_TASK_FAILED:
	case SL_TASK_CANCELLED:
		c->failed++;
		c->done++;
		break;
	case SL_TASK_UPSTREAM_FAILED:
		c->upstream_failed++;
		c->done++;
		break;
	case SL_TASK_SKIPPED:
		c->skipped++;
		c->done++;
		break;
	default:
		break;
	}
	c->total++;
}

enum sl_trigger_verdict sl_trigger_evaluate(enum sl_trigger_rule rule,
                                            const struct sl_upstream_counts *c)
{
	unsigned failures = c->failed + c->upstream_failed;
	bool all_done = c->done >= c->total;

	if (c->total == 0)
		return SL_VERDICT_READY;

	/* Each case first gives the verdicts that are final before every
	 * upstream is done, then what all-done means. */
	switch (rule) {
	case SL_TRIGGER_ALL_SUCCESS:
		if (failures)
			return SL_VERDICT_UPSTREAM_FAILED;
		if (c->skipped)
			return SL_VERDICT_SKIP;
		return c->success == c->total ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_ALL_FAILED:
		if (c->success || c->skipped)
			return SL_VERDICT_SKIP;
		return failures == c->total ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_ALL_DONE:
		return all_done ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_ALL_SKIPPED:
		if (c->success || failures)
			return SL_VERDICT_SKIP;
		return c->skipped == c->total ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_ONE_SUCCESS:
		if (c->success)
			return SL_VERDICT_READY;
		if (!all_done)
			return SL_VERDICT_WAIT;
		return c->skipped == c->total ? SL_VERDICT_SKIP : SL_VERDICT_UPSTREAM_FAILED;
	case SL_TRIGGER_ONE_FAILED:
		if (failures)
			return SL_VERDICT_READY;
		return all_done ? SL_VERDICT_SKIP : SL_VERDICT_WAIT;
	case SL_TRIGGER_ONE_DONE:
		/* As in Airflow, "done" here is success or failed: an upstream
		 * that never ran (skipped, upstream_failed) does not fire it. */
		if (c->success || c->failed)
			return SL_VERDICT_READY;
		return all_done ? SL_VERDICT_SKIP : SL_VERDICT_WAIT;
	case SL_TRIGGER_NONE_FAILED:
		if (failures)
			return SL_VERDICT_UPSTREAM_FAILED;
		return all_done ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_NONE_FAILED_MIN_ONE_SUCCESS:
		if (failures)
			return SL_VERDICT_UPSTREAM_FAILED;
		if (!all_done)
			return SL_VERDICT_WAIT;
		return c->success ? SL_VERDICT_READY : SL_VERDICT_SKIP;
	case SL_TRIGGER_NONE_SKIPPED:
		if (c->skipped)
			return SL_VERDICT_SKIP;
		return all_done ? SL_VERDICT_READY : SL_VERDICT_WAIT;
	case SL_TRIGGER_ALWAYS:
		return SL_VERDICT_READY;
	}
	return SL_VERDICT_WAIT;
}

int64_t sl_retry_delay(const struct sl_task *task, int try_number)
{
	int64_t delay = task->retry_delay > 0 ? task->retry_delay : 0;
	int64_t cap = task->max_retry_delay > 0 ? task->max_retry_delay : 0;

	if (task->retry_backoff != SL_BACKOFF_EXPONENTIAL)
		return delay;
	if (delay > cap)
		return cap;
	/* Double try_number - 1 times, stopping at the cap: at most 63
	 * doublings before any int64 would overflow, and none past the cap. */
	for (int i = 1; i < try_number && delay < cap; i++)
		delay = delay > cap / 2 ? cap : delay * 2;
	return delay;
}

/* now + secs seconds, in ms, saturating instead of overflowing. */
static int64_t after(int64_t now_ms, int64_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs > (INT64_MAX - (now_ms > 0 ? now_ms : 0)) / 1000)
		return INT64_MAX;
	return now_ms + secs * 1000;
}

void sl_rules_after_attempt(const struct sl_task *task, enum sl_outcome outcome, int try_number,
                            int64_t now_ms, int64_t first_poke_ms, struct sl_next_state *out)
{
	out->at_ms = 0;
	switch (outcome) {
	case SL_OUTCOME_SUCCESS:
		out->state = SL_TASK_SUCCESS;
		return;
	case SL_OUTCOME_SKIPPED:
		out->state = SL_TASK_SKIPPED;
		return;
	case SL_OUTCOME_CANCELLED:
		out->state = SL_TASK_CANCELLED;
		return;
	case SL_OUTCOME_RESCHEDULE:
		if (!task->sensor)
			break;
		/* The sensor's timeout runs from the first poke of this try;
		 * past it the sensor fails for good, as in Airflow, since a
		 * retry would only wait for the same condition again. */
		if (now_ms - first_poke_ms > task->sensor_timeout * 1000) {
			out->state = SL_TASK_FAILED;
			return;
		}
		out->state = SL_TASK_UP_FOR_RESCHEDULE;
		out->at_ms = after(now_ms, task->poke_interval);
		return;
	case SL_OUTCOME_FAILED:
	case SL_OUTCOME_TIMEOUT:
	case SL_OUTCOME_LOST:
		break;
	}
	if (try_number >= 1 && try_number <= task->retries) {
		out->state = SL_TASK_UP_FOR_RETRY;
		out->at_ms = after(now_ms, sl_retry_delay(task, try_number));
		return;
	}
	out->state = SL_TASK_FAILED;
}

enum sl_run_state sl_rules_run_state(const enum sl_task_state *states, size_t nr)
{
	bool failed = false;

	for (size_t i = 0; i < nr; i++) {
		if (!sl_task_state_finished(states[i]))
			return SL_RUN_RUNNING;
		if (states[i] == SL_TASK_FAILED || states[i] == SL_TASK_UPSTREAM_FAILED ||
		    states[i] == SL_TASK_CANCELLED)
			failed = true;
	}
	return failed ? SL_RUN_FAILED : SL_RUN_SUCCESS;
}

/* The next id of a branch list: its start and length, blanks trimmed; NULL at the end. */
static const char *branch_next(const char **p, size_t *len)
{
	const char *s = *p, *end;

	if (!*s)
		return NULL;
	end = s + strcspn(s, ",");
	*p = *end ? end + 1 : end;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*len = (size_t)(end - s);
	return s;
}

int sl_branch_check(const struct sl_dag *dag, size_t from, const char *value, struct sl_strbuf *err)
{
	const struct sl_task *t = &dag->tasks[from];
	const char *p = value, *id;
	size_t len;

	while ((id = branch_next(&p, &len))) {
		bool found = false;

		/* "a,,b" and a trailing comma name nothing: only an empty id. */
		if (!len)
			continue;
		for (size_t d = 0; d < t->downstream_nr && !found; d++) {
			const char *name = dag->tasks[t->downstream[d]].id;

			found = strlen(name) == len && !memcmp(name, id, len);
		}
		if (found)
			continue;
		sl_strbuf_addf(err,
		               "branch names '%.*s', which is not a direct downstream task of '%s'",
		               (int)(len > 200 ? 200 : len), id, t->id);
		if (!t->downstream_nr) {
			sl_strbuf_adds(err, " (it has none)");
		} else {
			sl_strbuf_adds(err, " (");
			for (size_t d = 0; d < t->downstream_nr; d++)
				sl_strbuf_addf(err, "%s%s", d ? ", " : "",
				               dag->tasks[t->downstream[d]].id);
			sl_strbuf_adds(err, ")");
		}
		return SL_EINVAL;
	}
	return 0;
}

bool sl_branch_takes(const char *value, const char *task_id)
{
	const char *p = value, *id;
	size_t len, want = strlen(task_id);

	while ((id = branch_next(&p, &len)))
		if (len == want && !memcmp(id, task_id, len))
			return true;
	return false;
}
