/*
 * sluice test: run a DAG file locally, with no database and no daemons,
 * through the library's own execution code (taskenv, taskexec) and state
 * rules (rules.h), so that what a DAG author sees is what production does.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/dag.h"
#include "sluice/diag.h"
#include "sluice/params.h"
#include "sluice/rules.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "sluice/tz.h"
#include "table.h"
#include "sluice/banned.h"

extern char **environ;

static int run_test(struct cli *cli, int argc, char **argv);

enum {
	OPT_CONF = CLI_OPT_BASE,
	OPT_CONF_JSON,
	OPT_LOGICAL_DATE,
	OPT_PARALLEL,
	OPT_POOL,
};

static const struct option test_options[] = {
    {"conf", required_argument, NULL, OPT_CONF},
    {"conf-json", required_argument, NULL, OPT_CONF_JSON},
    {"logical-date", required_argument, NULL, OPT_LOGICAL_DATE},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"pool", required_argument, NULL, OPT_POOL},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_test = {
    .path = "test",
    .usage = "PATH [TASK...] [--conf k=v]... [--conf-json JSON] [--logical-date ISO] "
             "[--parallel N] [--pool NAME=SLOTS]...",
    .summary = "Run a DAG file locally, with no database or daemons.",
    .help = "Loads and validates the DAG file (errors as file:line:col, exit 1), then runs\n"
            "its tasks on this machine with the same execution code as sluice-worker:\n"
            "trigger rules, retries (waiting retry_delay), sensors (poking again after\n"
            "poke_interval), timeouts, outputs passed downstream, exit 99 skipping,\n"
            "branching, pools and priority. depends_on_past always holds: there is no\n"
            "previous run.\n"
            "Each task's state changes and log lines are printed prefixed with its id,\n"
            "then a table of every task's state, tries and duration.\n"
            "\n"
            "When the whole DAG ran, its on_failure (run failed) or on_success (run\n"
            "succeeded) command then runs once the same way, with SLUICE_RUN_STATE and\n"
            "SLUICE_FAILED_TASKS set; its state and log are printed, and its failure\n"
            "does not change the exit status.\n"
            "\n"
            "A task's cwd is taken relative to the current directory, so run this from\n"
            "the root of the DAG repository, as the worker runs tasks from the root of\n"
            "its checkout.\n"
            "\n"
            "  TASK...             run only these tasks; their upstream tasks that are not\n"
            "                      listed are not run and count as succeeded (their outputs\n"
            "                      are then empty)\n"
            "  --conf KEY=VALUE    override a param the DAG declares (as for trigger)\n"
            "  --conf-json JSON    override params from a JSON object; --conf wins\n"
            "  --logical-date ISO  the run's logical date (default now); without an offset\n"
            "                      it is read in the DAG's timezone. The run id is\n"
            "                      test__<logical date>\n"
            "  --parallel N        run at most N tasks at once (default 4; the DAG's\n"
            "                      max_active_tasks caps it too)\n"
            "  --pool NAME=SLOTS   slots of a pool the DAG's tasks name; a pool not given\n"
            "                      has 1 slot here (there is no database to ask)\n"
            "  --json              print a summary object instead of the table (task logs\n"
            "                      then go to standard error)\n"
            "\n"
            "Exit status: 0 when the run succeeded, 1 when it failed or the file is\n"
            "invalid, 2 on a usage error (unknown param, unknown task).\n",
    .options = test_options,
    .run = run_test,
};

#define PARALLEL_DEFAULT 4

struct test_opts {
	const char **conf;
	size_t conf_nr, conf_alloc;
	const char *conf_json;
	const char *logical_date;
	long parallel;
	const char **pools; /* NAME=SLOTS */
	size_t pools_nr, pools_alloc;
};

struct test_run;

/* A pool the DAG's tasks name: its slots here, and how many are running. */
struct test_pool {
	const char *name;
	long slots, busy;
};

struct test_task {
	struct test_run *run;
	size_t index;
	const char *name; /* a callback's id (index unused); NULL for a task */
	bool selected;    /* part of this run (all tasks unless TASKs were named) */
	enum sl_task_state state;
	bool poke_again;       /* SCHEDULED after a reschedule: same try */
	int try_number;        /* tries started; pokes of a sensor share one */
	int pokes;             /* attempts of the current try */
	int64_t first_poke_ms; /* loop time when the current try started */
	uint64_t duration_ms;  /* all attempts together */
	int exit_code;         /* of the last attempt; -1 = none or a signal */
	bool ran;
	struct sl_taskexec *te; /* the running attempt, or NULL */
	uv_timer_t timer;       /* waiting for a retry or the next poke */
	bool timer_init;
	struct sl_strbuf partial[2]; /* an incomplete last line, per stream */
	struct sl_kvs outputs;
	struct test_pool *pool; /* NULL: none */
};

struct test_run {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	bool sigint_init, sigterm_init;
	const struct sl_dag *dag;
	struct test_task *tasks;
	const json_t *conf;
	int64_t logical_date; /* UTC seconds */
	const char *run_id;
	const char *outdir;
	long parallel; /* --parallel, capped by max_active_tasks */
	int running;
	struct test_pool *pools;
	size_t pools_nr;
	size_t *ready; /* scratch for schedule() */
	bool cancelling;
	bool closed;                 /* every handle has been closed */
	FILE *log;                   /* where task logs and state changes go */
	struct sl_dag_walk upstream; /* scratch for start_attempt() */
	bool whole;                  /* every task runs, so the callbacks do too */
	struct test_task callback;   /* on_failure / on_success, once it started */
};

static int on_option(struct cli *cli, int opt, const char *arg, void *ctx)
{
	struct test_opts *o = ctx;

	(void)cli;
	switch (opt) {
	case OPT_CONF:
		SL_ALLOC_GROW(o->conf, o->conf_nr + 1, o->conf_alloc);
		o->conf[o->conf_nr++] = arg;
		return 0;
	case OPT_CONF_JSON:
		o->conf_json = arg;
		return 0;
	case OPT_LOGICAL_DATE:
		o->logical_date = arg;
		return 0;
	case OPT_PARALLEL:
		return cli_parse_long(&cli_cmd_test, "--parallel", arg, 1, 1024, &o->parallel);
	case OPT_POOL:
		SL_ALLOC_GROW(o->pools, o->pools_nr + 1, o->pools_alloc);
		o->pools[o->pools_nr++] = arg;
		return 0;
	}
	return CLI_EXIT_USAGE;
}

static void kvs_release(struct sl_kvs *kvs)
{
	for (size_t i = 0; i < kvs->nr; i++) {
		free(kvs->items[i].key);
		free(kvs->items[i].value);
	}
	free(kvs->items);
	kvs->items = NULL;
	kvs->nr = kvs->alloc = 0;
}

static const char *task_id(const struct test_task *t)
{
	return t->name ? t->name : t->run->dag->tasks[t->index].id;
}

static int64_t loop_ms(struct test_run *run)
{
	return (int64_t)uv_now(&run->loop);
}

static void set_state(struct test_task *t, enum sl_task_state state, const char *why)
{
	t->state = state;
	fprintf(t->run->log, "[%s] %s%s%s\n", task_id(t), sl_task_state_name(state),
	        why && *why ? ": " : "", why ? why : "");
	fflush(t->run->log);
}

/* Print the complete lines of `sb` prefixed with the task id, keeping an
 * incomplete last line for later (or all of it when `flush`). */
static void print_lines(struct test_task *t, struct sl_strbuf *sb, bool flush)
{
	size_t start = 0;

	for (;;) {
		const char *nl = memchr(sb->buf + start, '\n', sb->len - start);
		size_t len;

		if (!nl) {
			if (!flush || start == sb->len)
				break;
			len = sb->len - start;
		} else {
			len = (size_t)(nl - (sb->buf + start));
		}
		fprintf(t->run->log, "[%s] %.*s\n", task_id(t), (int)len, sb->buf + start);
		start += len + (nl ? 1 : 0);
		if (!nl)
			break;
	}
	if (start) {
		memmove(sb->buf, sb->buf + start, sb->len - start);
		sl_strbuf_setlen(sb, sb->len - start);
	}
	fflush(t->run->log);
}

static void on_log(struct sl_taskexec *te, enum sl_taskexec_stream stream, const char *buf,
                   size_t len, void *data)
{
	struct test_task *t = data;
	struct sl_strbuf *sb = &t->partial[stream == SL_TASKEXEC_STDERR];

	(void)te;
	sl_strbuf_add(sb, buf, len);
	print_lines(t, sb, false);
}

static void schedule(struct test_run *run);

static void on_timer(uv_timer_t *timer)
{
	struct test_task *t = timer->data;

	if (t->state == SL_TASK_UP_FOR_RETRY || t->state == SL_TASK_UP_FOR_RESCHEDULE) {
		t->poke_again = t->state == SL_TASK_UP_FOR_RESCHEDULE;
		t->state = SL_TASK_SCHEDULED;
	}
	schedule(t->run);
}

/* Arm the task's timer to fire at loop time `at_ms`. */
static int wait_until(struct test_task *t, int64_t at_ms)
{
	int64_t delay = at_ms - loop_ms(t->run);
	int rc;

	if (!t->timer_init) {
		rc = uv_timer_init(&t->run->loop, &t->timer);
		if (rc < 0)
			goto fail;
		t->timer.data = t;
		t->timer_init = true;
	}
	rc = uv_timer_start(&t->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	cli_error("%s: cannot start a timer: %s", task_id(t), uv_strerror(rc));
	return rc;
}

/* Apply the outcome of an attempt through the shared rules. */
static void attempt_ended(struct test_task *t, enum sl_outcome outcome, const char *detail)
{
	const struct sl_task *task = &t->run->dag->tasks[t->index];
	struct sl_next_state next;
	struct sl_strbuf why = SL_STRBUF_INIT;
	int64_t now = loop_ms(t->run);

	sl_rules_after_attempt(task, outcome, t->try_number, now, t->first_poke_ms, &next);
	if (t->run->cancelling && next.state != SL_TASK_SUCCESS && next.state != SL_TASK_SKIPPED)
		next.state = SL_TASK_CANCELLED;
	if (outcome != SL_OUTCOME_SUCCESS)
		sl_strbuf_addf(&why, "%s", detail);
	if (next.state == SL_TASK_UP_FOR_RETRY || next.state == SL_TASK_UP_FOR_RESCHEDULE) {
		sl_strbuf_adds(&why, why.len ? "; " : "");
		sl_strbuf_adds(&why, next.state == SL_TASK_UP_FOR_RETRY ? "retrying in "
		                                                        : "poking again in ");
		cli_fmt_duration(&why, (next.at_ms - now + 999) / 1000);
		if (next.state == SL_TASK_UP_FOR_RETRY)
			sl_strbuf_addf(&why, " (try %d of %d)", t->try_number + 1,
			               task->retries + 1);
		if (wait_until(t, next.at_ms) < 0)
			next.state = SL_TASK_FAILED;
	} else if (next.state == SL_TASK_FAILED && outcome == SL_OUTCOME_RESCHEDULE) {
		sl_strbuf_adds(&why, "; the sensor timed out");
	}
	set_state(t, next.state, why.buf);
	sl_strbuf_release(&why);
}

static void describe_result(struct sl_strbuf *sb, const struct sl_taskexec_result *r)
{
	switch (r->outcome) {
	case SL_OUTCOME_TIMEOUT:
		sl_strbuf_adds(sb, "timed out");
		break;
	case SL_OUTCOME_CANCELLED:
		sl_strbuf_adds(sb, "cancelled");
		break;
	case SL_OUTCOME_RESCHEDULE:
		sl_strbuf_adds(sb, "not yet (exit 75)");
		break;
	default:
		if (r->term_signal)
			sl_strbuf_addf(sb, "killed by signal %d", r->term_signal);
		else
			sl_strbuf_addf(sb, "exit %d", r->exit_code);
	}
	sl_strbuf_adds(sb, " after ");
	sl_strbuf_addf(sb, "%.2fs", (double)r->duration_ms / 1000.0);
	if (r->outputs_error)
		sl_strbuf_addf(sb, "; outputs refused: %s", r->outputs_error);
}

/* The `branch` output of a task, or NULL. */
static const char *branch_of(const struct test_task *t)
{
	for (size_t i = 0; i < t->outputs.nr; i++)
		if (!strcmp(t->outputs.items[i].key, SL_BRANCH_OUTPUT))
			return t->outputs.items[i].value;
	return NULL;
}

static void on_done(struct sl_taskexec *te, struct sl_taskexec_result *result, void *data)
{
	struct test_task *t = data;
	struct sl_strbuf why = SL_STRBUF_INIT;
	enum sl_outcome outcome = result->outcome;

	(void)te;
	t->te = NULL;
	t->run->running--;
	if (t->pool)
		t->pool->busy--;
	print_lines(t, &t->partial[0], true);
	print_lines(t, &t->partial[1], true);
	t->duration_ms += result->duration_ms;
	t->exit_code = result->exit_code;
	kvs_release(&t->outputs);
	t->outputs = result->outputs;
	memset(&result->outputs, 0, sizeof(result->outputs));
	describe_result(&why, result);
	/* As the scheduler does: a branch to a task that is not directly
	 * downstream fails the branch task. */
	if (outcome == SL_OUTCOME_SUCCESS && branch_of(t)) {
		struct sl_strbuf bad = SL_STRBUF_INIT;

		if (sl_branch_check(t->run->dag, t->index, branch_of(t), &bad)) {
			outcome = SL_OUTCOME_FAILED;
			sl_strbuf_addf(&why, "; %s", bad.buf);
		}
		sl_strbuf_release(&bad);
	}
	attempt_ended(t, outcome, why.buf);
	sl_strbuf_release(&why);
	schedule(t->run);
}

/* Start an attempt of a SCHEDULED task. Returns 0, or -1 when it could not
 * start (then the failure has been applied as the attempt's outcome). */
static int start_attempt(struct test_task *t)
{
	struct test_run *run = t->run;
	const struct sl_dag *dag = run->dag;
	const struct sl_task *task = &dag->tasks[t->index];
	struct sl_env env = SL_ENV_INIT;
	struct sl_strbuf cmd = SL_STRBUF_INIT, err = SL_STRBUF_INIT, note = SL_STRBUF_INIT;
	struct sl_taskenv_output *outs = NULL;
	size_t outs_nr = 0, outs_alloc = 0;
	struct sl_taskenv_ctx ctx;
	struct sl_taskexec_opts o;
	int rc;

	if (!t->poke_again) {
		t->try_number++;
		t->first_poke_ms = loop_ms(run);
		t->pokes = 0;
	}
	t->pokes++;
	t->poke_again = false;
	t->ran = true;

	/* Outputs of every ancestor: the loader lets a command name any task
	 * upstream of it, direct or not. */
	sl_dag_walk_ancestors(&run->upstream, t->index);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (!sl_dag_walk_marked(&run->upstream, i))
			continue;
		for (size_t k = 0; k < run->tasks[i].outputs.nr; k++) {
			SL_ALLOC_GROW(outs, outs_nr + 1, outs_alloc);
			outs[outs_nr].task = dag->tasks[i].id;
			outs[outs_nr].key = run->tasks[i].outputs.items[k].key;
			outs[outs_nr++].value = run->tasks[i].outputs.items[k].value;
		}
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.dag = dag->id;
	ctx.task = task->id;
	ctx.run_id = run->run_id;
	ctx.logical_date = run->logical_date;
	ctx.data_interval_start = run->logical_date;
	ctx.data_interval_end = run->logical_date;
	ctx.try_number = t->try_number;
	ctx.params = dag->params;
	ctx.conf = run->conf;
	ctx.outputs = outs;
	ctx.outputs_nr = outs_nr;
	ctx.dag_env = &dag->env;
	ctx.task_env = &task->env;
	sl_env_inherit_base(&env, environ);
	sl_taskenv_build(&env, &ctx);

	rc = sl_taskenv_expand(&cmd, task->command, &err);
	if (rc < 0)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.command = cmd.buf;
	o.cwd = task->cwd;
	o.env = sl_env_array(&env);
	o.timeout = task->timeout > 0 ? (uint64_t)task->timeout : 0;
	o.sensor = task->sensor;
	o.output_dir = run->outdir;
	o.on_log = on_log;
	o.on_done = on_done;
	o.data = t;
	rc = sl_taskexec_start(&run->loop, &o, &t->te, &err);
	if (rc < 0)
		goto fail;
	run->running++;
	if (t->pool)
		t->pool->busy++;
	if (task->sensor && t->pokes > 1)
		sl_strbuf_addf(&note, "poke %d of try %d", t->pokes, t->try_number);
	else
		sl_strbuf_addf(&note, "try %d of %d", t->try_number, task->retries + 1);
	set_state(t, SL_TASK_RUNNING, note.buf);
	goto out;
fail:
	t->te = NULL;
	sl_strbuf_addf(&note, "cannot start: %s", err.buf);
	attempt_ended(t, SL_OUTCOME_FAILED, note.buf);
	rc = -1;
out:
	free(outs);
	sl_env_release(&env);
	sl_strbuf_release(&cmd);
	sl_strbuf_release(&err);
	sl_strbuf_release(&note);
	return rc;
}

static void close_all(struct test_run *run)
{
	if (run->closed)
		return;
	run->closed = true;
	for (size_t i = 0; i < run->dag->tasks_nr; i++) {
		if (run->tasks[i].timer_init)
			uv_close((uv_handle_t *)&run->tasks[i].timer, NULL);
	}
	if (run->sigint_init)
		uv_close((uv_handle_t *)&run->sigint, NULL);
	if (run->sigterm_init)
		uv_close((uv_handle_t *)&run->sigterm, NULL);
}

/*
 * Skip task `i` when a direct upstream branch task that succeeded chose
 * other tasks, whatever its trigger rule (the scheduler does the same).
 */
static bool branch_skipped(struct test_run *run, size_t i)
{
	const struct sl_task *task = &run->dag->tasks[i];

	for (size_t u = 0; u < task->upstream_nr; u++) {
		const struct test_task *up = &run->tasks[task->upstream[u]];
		struct sl_strbuf why = SL_STRBUF_INIT;

		if (!up->selected || up->state != SL_TASK_SUCCESS || !branch_of(up) ||
		    sl_branch_takes(branch_of(up), task->id))
			continue;
		sl_strbuf_addf(&why, "branch not taken by %s", task_id(up));
		set_state(&run->tasks[i], SL_TASK_SKIPPED, why.buf);
		sl_strbuf_release(&why);
		return true;
	}
	return false;
}

/* Decide what the trigger rules allow for every pending task, in
 * topological order so that a decision reaches the downstream tasks in the
 * same pass. Returns true when something changed. */
static bool evaluate_pending(struct test_run *run)
{
	const struct sl_dag *dag = run->dag;
	bool changed = false;

	for (size_t k = 0; k < dag->tasks_nr; k++) {
		size_t i = dag->topo[k];
		struct test_task *t = &run->tasks[i];
		const struct sl_task *task = &dag->tasks[i];
		struct sl_upstream_counts c = SL_UPSTREAM_COUNTS_INIT;

		if (!t->selected || t->state != SL_TASK_PENDING)
			continue;
		if (branch_skipped(run, i)) {
			changed = true;
			continue;
		}
		for (size_t u = 0; u < task->upstream_nr; u++) {
			const struct test_task *up = &run->tasks[task->upstream[u]];

			/* Upstream tasks left out of the run count as succeeded. */
			sl_upstream_counts_add(&c, up->selected ? up->state : SL_TASK_SUCCESS);
		}
		switch (sl_trigger_evaluate(task->trigger_rule, &c)) {
		case SL_VERDICT_WAIT:
			break;
		case SL_VERDICT_READY:
			t->state = SL_TASK_SCHEDULED;
			changed = true;
			break;
		case SL_VERDICT_SKIP:
			set_state(t, SL_TASK_SKIPPED, sl_trigger_rule_name(task->trigger_rule));
			changed = true;
			break;
		case SL_VERDICT_UPSTREAM_FAILED:
			set_state(t, SL_TASK_UPSTREAM_FAILED,
			          sl_trigger_rule_name(task->trigger_rule));
			changed = true;
			break;
		}
	}
	return changed;
}

static void on_callback_done(struct sl_taskexec *te, struct sl_taskexec_result *result, void *data)
{
	struct test_task *t = data;
	struct sl_strbuf why = SL_STRBUF_INIT;
	enum sl_task_state state = SL_TASK_FAILED;

	(void)te;
	t->te = NULL;
	print_lines(t, &t->partial[0], true);
	print_lines(t, &t->partial[1], true);
	t->duration_ms = result->duration_ms;
	t->exit_code = result->exit_code;
	if (result->outcome == SL_OUTCOME_SUCCESS)
		state = SL_TASK_SUCCESS;
	else if (result->outcome == SL_OUTCOME_SKIPPED)
		state = SL_TASK_SKIPPED;
	describe_result(&why, result);
	set_state(t, state, why.buf);
	sl_strbuf_release(&why);
	close_all(t->run);
}

/*
 * Start the run's callback for `state`, as a worker runs it: the run's
 * environment with every task's outputs, SLUICE_RUN_STATE and the failed
 * tasks, one try, no timeout. Returns 0, or -1 when it did not start.
 */
static int start_callback(struct test_run *run, enum sl_run_state state, const char *name,
                          const char *command)
{
	const struct sl_dag *dag = run->dag;
	struct test_task *t = &run->callback;
	struct sl_env env = SL_ENV_INIT;
	struct sl_strbuf cmd = SL_STRBUF_INIT, err = SL_STRBUF_INIT, failed = SL_STRBUF_INIT;
	struct sl_strbuf why = SL_STRBUF_INIT;
	struct sl_taskenv_output *outs = NULL;
	size_t outs_nr = 0, outs_alloc = 0;
	struct sl_taskenv_ctx ctx;
	struct sl_taskexec_opts o;
	int rc;

	t->name = name;
	t->try_number = 1;
	t->ran = true;
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		for (size_t k = 0; k < run->tasks[i].outputs.nr; k++) {
			SL_ALLOC_GROW(outs, outs_nr + 1, outs_alloc);
			outs[outs_nr].task = dag->tasks[i].id;
			outs[outs_nr].key = run->tasks[i].outputs.items[k].key;
			outs[outs_nr++].value = run->tasks[i].outputs.items[k].value;
		}
		if (run->tasks[i].state == SL_TASK_FAILED)
			sl_strbuf_addf(&failed, "%s%s", failed.len ? " " : "", dag->tasks[i].id);
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.dag = dag->id;
	ctx.task = name;
	ctx.run_id = run->run_id;
	ctx.logical_date = run->logical_date;
	ctx.data_interval_start = run->logical_date;
	ctx.data_interval_end = run->logical_date;
	ctx.try_number = 1;
	ctx.params = dag->params;
	ctx.conf = run->conf;
	ctx.outputs = outs;
	ctx.outputs_nr = outs_nr;
	ctx.dag_env = &dag->env;
	ctx.run_state = sl_run_state_name(state);
	ctx.failed_tasks = failed.buf;
	sl_env_inherit_base(&env, environ);
	sl_taskenv_build(&env, &ctx);
	rc = sl_taskenv_expand(&cmd, command, &err);
	if (rc < 0)
		goto fail;
	memset(&o, 0, sizeof(o));
	o.command = cmd.buf;
	o.env = sl_env_array(&env);
	o.output_dir = run->outdir;
	o.on_log = on_log;
	o.on_done = on_callback_done;
	o.data = t;
	rc = sl_taskexec_start(&run->loop, &o, &t->te, &err);
	if (rc < 0)
		goto fail;
	set_state(t, SL_TASK_RUNNING, "the run's callback");
	goto out;
fail:
	t->te = NULL;
	sl_strbuf_addf(&why, "cannot start: %s", err.buf);
	set_state(t, SL_TASK_FAILED, why.buf);
	rc = -1;
out:
	free(outs);
	sl_env_release(&env);
	sl_strbuf_release(&cmd);
	sl_strbuf_release(&err);
	sl_strbuf_release(&failed);
	sl_strbuf_release(&why);
	return rc;
}

/*
 * Once the run has ended: start its callback if it has one for this state
 * (not for a cancelled run, nor when only some tasks were asked for).
 * Returns true while the callback runs.
 */
static bool run_callback(struct test_run *run, enum sl_run_state state)
{
	const char *name = NULL, *command = NULL;

	if (run->callback.te)
		return true;
	if (run->callback.ran || run->cancelling || !run->whole)
		return false;
	if (state == SL_RUN_SUCCESS && run->dag->on_success) {
		name = "on_success";
		command = run->dag->on_success;
	} else if (state == SL_RUN_FAILED && run->dag->on_failure) {
		name = "on_failure";
		command = run->dag->on_failure;
	}
	return command && start_callback(run, state, name, command) == 0;
}

static const struct sl_dag *sort_dag;

/* The scheduler's claim order within one run: priority, then file order. */
static int claim_order(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int px = sort_dag->tasks[x].priority, py = sort_dag->tasks[y].priority;

	if (px != py)
		return px > py ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void schedule(struct test_run *run)
{
	const struct sl_dag *dag = run->dag;
	bool again = true;
	enum sl_task_state *states;
	enum sl_run_state state;
	size_t n = 0;

	while (again && !run->cancelling) {
		size_t nready = 0;

		again = evaluate_pending(run);
		for (size_t i = 0; i < dag->tasks_nr; i++)
			if (run->tasks[i].state == SL_TASK_SCHEDULED)
				run->ready[nready++] = i;
		sort_dag = dag;
		qsort(run->ready, nready, sizeof(*run->ready), claim_order);
		for (size_t k = 0; k < nready && run->running < run->parallel; k++) {
			struct test_task *t = &run->tasks[run->ready[k]];

			/* A full pool holds its task back; others may still start. */
			if (t->pool && t->pool->busy >= t->pool->slots)
				continue;
			if (start_attempt(t) < 0)
				again = true;
		}
	}
	if (run->running)
		return;
	states = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*states));
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (run->tasks[i].selected)
			states[n++] = run->tasks[i].state;
	}
	state = sl_rules_run_state(states, n);
	if (state != SL_RUN_RUNNING && !run_callback(run, state))
		close_all(run);
	free(states);
}

static void on_signal(uv_signal_t *sig, int signum)
{
	struct test_run *run = sig->data;

	if (run->cancelling)
		return;
	run->cancelling = true;
	fprintf(run->log, "sluice test: %s: stopping the running tasks\n",
	        signum == SIGINT ? "interrupted" : "terminated");
	if (run->callback.te)
		sl_taskexec_cancel(run->callback.te);
	for (size_t i = 0; i < run->dag->tasks_nr; i++) {
		struct test_task *t = &run->tasks[i];

		if (t->te) {
			sl_taskexec_cancel(t->te);
		} else if (t->selected && !sl_task_state_finished(t->state)) {
			if (t->timer_init) {
				int rc = uv_timer_stop(&t->timer);

				if (rc < 0)
					cli_error("cannot stop a timer: %s", uv_strerror(rc));
			}
			set_state(t, SL_TASK_CANCELLED, NULL);
		}
	}
	schedule(run);
}

static int start_signal(struct test_run *run, uv_signal_t *sig, bool *init, int signum)
{
	int rc = uv_signal_init(&run->loop, sig);

	if (rc < 0)
		goto fail;
	*init = true;
	sig->data = run;
	rc = uv_signal_start(sig, on_signal, signum);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	cli_error("cannot watch signal %d: %s", signum, uv_strerror(rc));
	return rc;
}

/* [{"callback", "state", "exit_code", "duration_ms"}], or [] when none ran. */
static json_t *callbacks_json(const struct test_run *run)
{
	const struct test_task *t = &run->callback;
	json_t *list = json_array();

	if (t->ran)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:o, s:I}", "callback", task_id(t), "state",
		                    sl_task_state_name(t->state), "exit_code",
		                    t->exit_code >= 0 ? json_integer(t->exit_code) : json_null(),
		                    "duration_ms", (json_int_t)t->duration_ms));
	return list;
}

static int print_summary(struct cli *cli, struct test_run *run, enum sl_run_state state)
{
	const struct sl_dag *dag = run->dag;
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int rc;

	if (cli->json) {
		json_t *tasks = json_array();

		for (size_t k = 0; k < dag->tasks_nr; k++) {
			const struct test_task *t = &run->tasks[dag->topo[k]];
			json_t *outputs = json_object();

			if (!t->selected)
				continue;
			for (size_t i = 0; i < t->outputs.nr; i++)
				json_object_set_new(outputs, t->outputs.items[i].key,
				                    json_string(t->outputs.items[i].value));
			json_array_append_new(
			    tasks,
			    json_pack("{s:s, s:s, s:i, s:o, s:I, s:o}", "task", task_id(t), "state",
			              sl_task_state_name(t->state), "try_number", t->try_number,
			              "exit_code",
			              t->ran && t->exit_code >= 0 ? json_integer(t->exit_code)
			                                          : json_null(),
			              "duration_ms", (json_int_t)t->duration_ms, "outputs",
			              outputs));
		}
		sl_run_time_format(&sb, run->logical_date * 1000000);
		rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "dag", dag->id,
		                              "run_id", run->run_id, "state",
		                              sl_run_state_name(state), "logical_date", sb.buf,
		                              "tasks", tasks, "callbacks", callbacks_json(run)));
		sl_strbuf_release(&sb);
		return rc;
	}

	cli_table_header(&table, "TASK", "STATE", "TRIES", "DURATION", NULL);
	cli_table_align_right(&table, 2);
	cli_table_align_right(&table, 3);
	for (size_t k = 0; k < dag->tasks_nr; k++) {
		const struct test_task *t = &run->tasks[dag->topo[k]];

		if (!t->selected)
			continue;
		cli_table_add(&table, task_id(t));
		cli_table_add(&table, sl_task_state_name(t->state));
		cli_table_addf(&table, "%d", t->try_number);
		if (t->ran)
			cli_table_addf(&table, "%.2fs", (double)t->duration_ms / 1000.0);
		else
			cli_table_add(&table, NULL);
	}
	printf("\n");
	cli_table_print(&table, stdout);
	if (run->callback.ran)
		printf("\ncallback %s: %s\n", task_id(&run->callback),
		       sl_task_state_name(run->callback.state));
	printf("\nrun %s: %s\n", run->run_id, sl_run_state_name(state));
	cli_table_release(&table);
	sl_strbuf_release(&sb);
	return CLI_EXIT_OK;
}

/* The logical date: --logical-date in the DAG's zone, else now. */
static int logical_date(const struct test_opts *o, const struct sl_dag *dag, int64_t *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;
	int rc = 0;

	if (!o->logical_date) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		*out = (int64_t)ts.tv_sec;
		return 0;
	}
	rc = sl_tz_load(&tz, dag->timezone, &err);
	if (!rc)
		rc = sl_iso_parse(o->logical_date, tz, out, &err);
	if (rc)
		rc = cli_usage_error(&cli_cmd_test, "--logical-date: %s", err.buf);
	sl_tz_free(tz);
	sl_strbuf_release(&err);
	return rc;
}

/* Select the tasks named on the line (all when none); an exit code. */
static int select_tasks(struct test_run *run, struct cli_args *args)
{
	const struct sl_dag *dag = run->dag;

	for (size_t i = 0; i < dag->tasks_nr; i++)
		run->tasks[i].selected = args->n < 2;
	for (int a = 1; a < args->n; a++) {
		long i = sl_dag_task_index(dag, args->v[a]);

		if (i < 0)
			return cli_usage_error(&cli_cmd_test, "DAG '%s' has no task '%s'", dag->id,
			                       args->v[a]);
		run->tasks[i].selected = true;
	}
	return 0;
}

/*
 * The pools the DAG's tasks name, with the slots --pool gives (1 when not
 * given: one at a time is the safe guess without a database), linked to
 * their tasks. A --pool that no task names is a usage error.
 */
static int make_pools(struct test_run *run, const struct test_opts *o)
{
	const struct sl_dag *dag = run->dag;

	run->pools = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*run->pools));
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		const char *name = dag->tasks[i].pool;
		size_t p = 0;

		if (!name)
			continue;
		while (p < run->pools_nr && strcmp(run->pools[p].name, name))
			p++;
		if (p == run->pools_nr)
			run->pools[run->pools_nr++] = (struct test_pool){name, 1, 0};
		run->tasks[i].pool = &run->pools[p];
	}
	for (size_t k = 0; k < o->pools_nr; k++) {
		const char *eq = strchr(o->pools[k], '=');
		size_t p = 0;
		long slots;
		int rc;

		if (!eq || eq == o->pools[k])
			return cli_usage_error(
			    &cli_cmd_test, "--pool: expected NAME=SLOTS, got '%s'", o->pools[k]);
		while (p < run->pools_nr &&
		       (strlen(run->pools[p].name) != (size_t)(eq - o->pools[k]) ||
		        strncmp(run->pools[p].name, o->pools[k], (size_t)(eq - o->pools[k]))))
			p++;
		if (p == run->pools_nr)
			return cli_usage_error(&cli_cmd_test,
			                       "--pool: no task of DAG '%s' uses pool '%.*s'",
			                       dag->id, (int)(eq - o->pools[k]), o->pools[k]);
		rc = cli_parse_long(&cli_cmd_test, "--pool", eq + 1, 1, 100000, &slots);
		if (rc)
			return rc;
		run->pools[p].slots = slots;
	}
	return 0;
}

static int run_test(struct cli *cli, int argc, char **argv)
{
	struct test_opts o = {.parallel = PARALLEL_DEFAULT};
	struct test_run run;
	struct cli_args args = {NULL, 0};
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_strbuf run_id = SL_STRBUF_INIT;
	struct sl_dag *dag = NULL;
	json_t *conf = json_object();
	enum sl_task_state *states = NULL;
	enum sl_run_state state;
	bool outdir_made = false, loop_init = false;
	size_t n = 0;
	bool stop;
	int rc;

	memset(&run, 0, sizeof(run));
	run.callback.run = &run;
	run.callback.exit_code = -1;
	sl_strbuf_init(&run.callback.partial[0]);
	sl_strbuf_init(&run.callback.partial[1]);
	rc = cli_parse_options(cli, &cli_cmd_test, argc, argv, on_option, &o, &args, &stop);
	if (rc || stop)
		goto out;
	if (args.n < 1) {
		rc = cli_usage_error(&cli_cmd_test, "missing PATH (a DAG file)");
		goto out;
	}
	if (sl_dag_load_file(&dag, args.v[0], NULL, &diags) < 0) {
		sl_diags_print(&diags, stderr);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	rc = cli_conf_build(&cli_cmd_test, o.conf_json, o.conf, o.conf_nr, dag->params, conf);
	if (rc)
		goto out;
	run.dag = dag;
	run.tasks = sl_xcalloc(dag->tasks_nr, sizeof(*run.tasks));
	sl_dag_walk_init(&run.upstream, dag);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		run.tasks[i].run = &run;
		run.tasks[i].index = i;
		run.tasks[i].state = SL_TASK_PENDING;
		run.tasks[i].exit_code = -1;
		sl_strbuf_init(&run.tasks[i].partial[0]);
		sl_strbuf_init(&run.tasks[i].partial[1]);
	}
	rc = select_tasks(&run, &args);
	if (rc)
		goto out;
	rc = make_pools(&run, &o);
	if (rc)
		goto out;
	rc = logical_date(&o, dag, &run.logical_date);
	if (rc)
		goto out;
	sl_run_id_format(&run_id, "test", run.logical_date * 1000000);
	run.run_id = run_id.buf;
	run.conf = conf;
	run.parallel = o.parallel < dag->max_active_tasks ? o.parallel : dag->max_active_tasks;
	run.ready = sl_xcalloc(dag->tasks_nr ? dag->tasks_nr : 1, sizeof(*run.ready));
	run.whole = args.n < 2;
	run.log = cli->json ? stderr : stdout;

	/* $SLUICE_OUTPUT files go to a private folder of this run. */
	{
		const char *tmp = getenv("TMPDIR");
		char *path = sl_xasprintf("%s/sluice-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");

		if (!mkdtemp(path)) {
			cli_error("cannot create a folder for task outputs in %s: %s",
			          tmp && *tmp ? tmp : "/tmp", strerror(errno));
			free(path);
			rc = CLI_EXIT_FAILED;
			goto out;
		}
		run.outdir = path;
		outdir_made = true;
	}

	rc = uv_loop_init(&run.loop);
	if (rc < 0) {
		cli_error("cannot create an event loop: %s", uv_strerror(rc));
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	loop_init = true;
	if (start_signal(&run, &run.sigint, &run.sigint_init, SIGINT) < 0 ||
	    start_signal(&run, &run.sigterm, &run.sigterm_init, SIGTERM) < 0) {
		close_all(&run);
		(void)uv_run(&run.loop, UV_RUN_DEFAULT);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	fprintf(run.log, "sluice test: DAG %s, run %s\n", dag->id, run.run_id);
	schedule(&run);
	rc = uv_run(&run.loop, UV_RUN_DEFAULT);
	if (rc != 0) {
		cli_error("the event loop stopped with live handles");
		rc = CLI_EXIT_FAILED;
		goto out;
	}

	states = sl_xcalloc(dag->tasks_nr, sizeof(*states));
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (run.tasks[i].selected)
			states[n++] = run.tasks[i].state;
	}
	state = sl_rules_run_state(states, n);
	rc = print_summary(cli, &run, state);
	if (!rc && state != SL_RUN_SUCCESS)
		rc = CLI_EXIT_FAILED;
out:
	if (loop_init) {
		int lrc = uv_loop_close(&run.loop);

		if (lrc < 0) {
			cli_error("cannot close the event loop: %s", uv_strerror(lrc));
			rc = CLI_EXIT_FAILED;
		}
	}
	if (outdir_made && rmdir(run.outdir) < 0)
		cli_error("cannot remove %s: %s", run.outdir, strerror(errno));
	free((char *)run.outdir);
	for (size_t i = 0; run.tasks && i < dag->tasks_nr; i++) {
		kvs_release(&run.tasks[i].outputs);
		sl_strbuf_release(&run.tasks[i].partial[0]);
		sl_strbuf_release(&run.tasks[i].partial[1]);
	}
	kvs_release(&run.callback.outputs);
	sl_strbuf_release(&run.callback.partial[0]);
	sl_strbuf_release(&run.callback.partial[1]);
	free(run.tasks);
	sl_dag_walk_release(&run.upstream);
	free(run.ready);
	free(run.pools);
	free(o.pools);
	free(states);
	sl_strbuf_release(&run_id);
	json_decref(conf);
	sl_dag_free(dag);
	sl_diags_release(&diags);
	free(o.conf);
	free(args.v);
	return rc;
}
