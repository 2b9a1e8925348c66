/*
 * sluice test: run a DAG file locally, with no database and no daemons,
 * through the library's own execution code (taskenv, taskexec), state
 * rules (rules.h) and run plan (runplan.h), so that what a DAG author sees
 * is what production does. This file is the driver: it runs the attempts
 * the plan makes ready, on a libuv loop, and feeds their outcomes back.
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
#include "sluice/rules.h"
#include "sluice/runplan.h"
#include "sluice/runstore.h"
#include "sluice/strbuf.h"
#include "sluice/taskenv.h"
#include "sluice/taskexec.h"
#include "sluice/tz.h"
#include "table.h"
#include "test_run.h"
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

static int64_t loop_ms(struct test_run *run)
{
	return (int64_t)uv_now(&run->loop);
}

static void on_log(struct sl_taskexec *te, enum sl_taskexec_stream stream, const char *buf,
                   size_t len, void *data)
{
	struct test_task *t = data;
	struct sl_strbuf *sb = &t->partial[stream == SL_TASKEXEC_STDERR];

	(void)te;
	sl_strbuf_add(sb, buf, len);
	test_print_lines(t, sb, false);
}

static void schedule(struct test_run *run);

/* A retry or a poke is due: the plan schedules it. */
static void on_timer(uv_timer_t *timer)
{
	struct test_task *t = timer->data;
	struct sl_runplan_task *pt = &t->run->plan.tasks[t->index];

	if (pt->state == SL_TASK_UP_FOR_RETRY || pt->state == SL_TASK_UP_FOR_RESCHEDULE)
		pt->due = true;
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
	cli_error("%s: cannot start a timer: %s", test_task_id(t), uv_strerror(rc));
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
	t->pokes = sl_runplan_pokes_after(t->pokes, next.state);
	test_set_state(t, next.state, why.buf);
	sl_strbuf_release(&why);
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
	test_print_lines(t, &t->partial[0], true);
	test_print_lines(t, &t->partial[1], true);
	t->duration_ms += result->duration_ms;
	t->exit_code = result->exit_code;
	sl_kvs_release(&t->outputs);
	t->outputs = result->outputs;
	memset(&result->outputs, 0, sizeof(result->outputs));
	test_describe_result(&why, result);
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
	/* The plan reads the choice of the attempt that decided the state. */
	sl_runplan_set_branch(&t->run->plan, t->index,
	                      outcome == SL_OUTCOME_SUCCESS ? branch_of(t) : NULL);
	attempt_ended(t, outcome, why.buf);
	sl_strbuf_release(&why);
	schedule(t->run);
}

/*
 * The environment of an attempt, as a worker builds it, from `ctx` (the
 * attempt's own fields set) completed with the run's: the outputs of the
 * tasks marked in `from`, or of every task when `from` is NULL (a
 * callback).
 */
static void attempt_env(struct test_run *run, struct sl_taskenv_ctx *ctx,
                        const struct sl_dag_walk *from, struct sl_env *env)
{
	const struct sl_dag *dag = run->dag;
	struct sl_taskenv_output *outs = NULL;
	size_t outs_nr = 0, outs_alloc = 0;

	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (from && !sl_dag_walk_marked(from, i))
			continue;
		for (size_t k = 0; k < run->tasks[i].outputs.nr; k++) {
			SL_ALLOC_GROW(outs, outs_nr + 1, outs_alloc);
			outs[outs_nr].task = dag->tasks[i].id;
			outs[outs_nr].key = run->tasks[i].outputs.items[k].key;
			outs[outs_nr++].value = run->tasks[i].outputs.items[k].value;
		}
	}
	ctx->dag = dag->id;
	ctx->run_id = run->run_id;
	ctx->logical_date = run->logical_date;
	ctx->data_interval_start = run->logical_date;
	ctx->data_interval_end = run->logical_date;
	ctx->params = dag->params;
	ctx->conf = run->conf;
	ctx->outputs = outs;
	ctx->outputs_nr = outs_nr;
	ctx->dag_env = &dag->env;
	sl_env_inherit_base(env, environ);
	sl_taskenv_build(env, ctx);
	free(outs);
}

/* Start an attempt of a SCHEDULED task. Returns 0, or -1 when it could not
 * start (then the failure has been applied as the attempt's outcome). */
static int start_attempt(struct test_task *t)
{
	struct test_run *run = t->run;
	const struct sl_task *task = &run->dag->tasks[t->index];
	struct sl_env env = SL_ENV_INIT;
	struct sl_strbuf cmd = SL_STRBUF_INIT, err = SL_STRBUF_INIT, note = SL_STRBUF_INIT;
	struct sl_taskenv_ctx ctx;
	struct sl_taskexec_opts o;
	int rc;

	/* The scheduler's rule: a poke continues its try, anything else is a new try. */
	sl_runplan_next_attempt(t->try_number, t->pokes, &t->try_number, &t->pokes);
	if (t->pokes == 1)
		t->first_poke_ms = loop_ms(run);
	t->ran = true;

	/* Outputs of every ancestor: the loader lets a command name any task
	 * upstream of it, direct or not. */
	sl_dag_walk_ancestors(&run->upstream, t->index);
	memset(&ctx, 0, sizeof(ctx));
	ctx.task = task->id;
	ctx.try_number = t->try_number;
	ctx.poke_number = t->pokes;
	ctx.task_env = &task->env;
	attempt_env(run, &ctx, &run->upstream, &env);

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
	test_set_state(t, SL_TASK_RUNNING, note.buf);
	goto out;
fail:
	t->te = NULL;
	sl_strbuf_addf(&note, "cannot start: %s", err.buf);
	attempt_ended(t, SL_OUTCOME_FAILED, note.buf);
	rc = -1;
out:
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

static void on_callback_done(struct sl_taskexec *te, struct sl_taskexec_result *result, void *data)
{
	struct test_task *t = data;
	struct sl_strbuf why = SL_STRBUF_INIT;
	enum sl_task_state state = SL_TASK_FAILED;

	(void)te;
	t->te = NULL;
	test_print_lines(t, &t->partial[0], true);
	test_print_lines(t, &t->partial[1], true);
	t->duration_ms = result->duration_ms;
	t->exit_code = result->exit_code;
	if (result->outcome == SL_OUTCOME_SUCCESS)
		state = SL_TASK_SUCCESS;
	else if (result->outcome == SL_OUTCOME_SKIPPED)
		state = SL_TASK_SKIPPED;
	test_describe_result(&why, result);
	test_set_state(t, state, why.buf);
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
	struct sl_taskenv_ctx ctx;
	struct sl_taskexec_opts o;
	int rc;

	t->name = name;
	t->try_number = 1;
	t->ran = true;
	for (size_t i = 0; i < dag->tasks_nr; i++)
		if (run->plan.tasks[i].state == SL_TASK_FAILED)
			sl_strbuf_addf(&failed, "%s%s", failed.len ? " " : "", dag->tasks[i].id);
	memset(&ctx, 0, sizeof(ctx));
	ctx.task = name;
	ctx.try_number = 1;
	ctx.run_state = sl_run_state_name(state);
	ctx.failed_tasks = failed.buf;
	attempt_env(run, &ctx, NULL, &env);
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
	test_set_state(t, SL_TASK_RUNNING, "the run's callback");
	goto out;
fail:
	t->te = NULL;
	sl_strbuf_addf(&why, "cannot start: %s", err.buf);
	test_set_state(t, SL_TASK_FAILED, why.buf);
	rc = -1;
out:
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

/*
 * Let the plan decide, print what it decided (becoming scheduled is shown
 * when the attempt starts), and start its ready tasks in the claim order
 * while there is room; again while a start fails at once (that failure may
 * decide more). Once nothing runs, the run's state says whether it is over.
 */
static void schedule(struct test_run *run)
{
	bool again = true;

	while (again && !run->cancelling) {
		struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;
		size_t nready;

		again = sl_runplan_advance(&run->plan, &ch) > 0;
		for (size_t i = 0; i < ch.nr; i++)
			if (ch.items[i].to != SL_TASK_SCHEDULED)
				test_set_state(&run->tasks[ch.items[i].task], ch.items[i].to,
				               ch.items[i].reason);
		sl_runplan_changes_release(&ch);
		nready = sl_runplan_ready(&run->plan, run->ready);
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
	run->state = sl_runplan_run_state(&run->plan, run->state);
	if (run->state != SL_RUN_QUEUED && run->state != SL_RUN_RUNNING &&
	    !run_callback(run, run->state))
		close_all(run);
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
		} else if (run->plan.tasks[i].present &&
		           !sl_task_state_finished(run->plan.tasks[i].state)) {
			if (t->timer_init) {
				int rc = uv_timer_stop(&t->timer);

				if (rc < 0)
					cli_error("cannot stop a timer: %s", uv_strerror(rc));
			}
			test_set_state(t, SL_TASK_CANCELLED, NULL);
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
		run->plan.tasks[i].present = args->n < 2;
	for (int a = 1; a < args->n; a++) {
		long i = sl_dag_task_index(dag, args->v[a]);

		if (i < 0)
			return cli_usage_error(&cli_cmd_test, "DAG '%s' has no task '%s'", dag->id,
			                       args->v[a]);
		run->plan.tasks[i].present = true;
	}
	for (size_t i = 0; i < dag->tasks_nr; i++)
		if (run->plan.tasks[i].present)
			run->plan.tasks[i].state = SL_TASK_PENDING;
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
	bool outdir_made = false, loop_init = false;
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
	sl_runplan_init(&run.plan, dag, SL_RUNPLAN_ABSENT_SUCCEEDED);
	run.state = SL_RUN_QUEUED;
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		run.tasks[i].run = &run;
		run.tasks[i].index = i;
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
	run.colour = cli_colour_on(cli, run.log);

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

	rc = test_print_summary(cli, &run);
	if (!rc && run.state != SL_RUN_SUCCESS)
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
		sl_kvs_release(&run.tasks[i].outputs);
		sl_strbuf_release(&run.tasks[i].partial[0]);
		sl_strbuf_release(&run.tasks[i].partial[1]);
	}
	sl_kvs_release(&run.callback.outputs);
	sl_strbuf_release(&run.callback.partial[0]);
	sl_strbuf_release(&run.callback.partial[1]);
	free(run.tasks);
	sl_runplan_release(&run.plan);
	sl_dag_walk_release(&run.upstream);
	free(run.ready);
	free(run.pools);
	free(o.pools);
	sl_strbuf_release(&run_id);
	json_decref(conf);
	sl_dag_free(dag);
	sl_diags_release(&diags);
	free(o.conf);
	free(args.v);
	return rc;
}
