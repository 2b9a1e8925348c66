#ifndef SLUICE_CLI_TEST_RUN_H
#define SLUICE_CLI_TEST_RUN_H

/*
 * `sluice test`'s run in memory: the driver (cmd_test.c) runs the attempts
 * the run plan makes ready; test_report.c prints what happens and the
 * summary.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <uv.h>

#include "sluice/dag.h"
#include "sluice/rules.h"
#include "sluice/runplan.h"
#include "sluice/strbuf.h"
#include "sluice/taskexec.h"

struct cli;
struct test_run;

/* A pool the DAG's tasks name: its slots here, and how many are running. */
struct test_pool {
	const char *name;
	long slots, busy;
};

/* A task of the DAG, or the run's callback. */
struct test_task {
	struct test_run *run;
	size_t index;
	const char *name; /* a callback's id (index unused); NULL for a task */
	/* A callback's state; a task's is in run->plan, which decides it. */
	enum sl_task_state cb_state;
	int try_number;        /* tries started; pokes of a sensor share one */
	int pokes;             /* pokes of the current try while it is poked, else 0
	                          (sl_runplan_pokes_after) */
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
	/* Every decision: the tasks not named on the line are absent and
	 * count as succeeded (SL_RUNPLAN_ABSENT_SUCCEEDED). */
	struct sl_runplan plan;
	enum sl_run_state state;
	struct test_task *tasks;
	const json_t *conf;
	int64_t logical_date; /* UTC seconds */
	const char *run_id;
	const char *outdir;
	long parallel; /* --parallel, capped by max_active_tasks */
	int running;
	struct test_pool *pools;
	size_t pools_nr;
	size_t *ready; /* scratch for the claim order */
	bool cancelling;
	bool closed;                 /* every handle has been closed */
	FILE *log;                   /* where task logs and state changes go */
	bool colour;                 /* states on `log` are coloured (cli/colour.h) */
	struct sl_dag_walk upstream; /* scratch for the outputs of ancestors */
	bool whole;                  /* every task runs, so the callbacks do too */
	struct test_task callback;   /* on_failure / on_success, once it started */
};

const char *test_task_id(const struct test_task *t);
enum sl_task_state test_task_state(const struct test_task *t);

/** Set the state of `t` and print it, with `why` when not NULL or empty. */
void test_set_state(struct test_task *t, enum sl_task_state state, const char *why);

/** Print the complete lines of `sb` prefixed with the task id, keeping an
 * incomplete last line for later (or all of it when `flush`). */
void test_print_lines(struct test_task *t, struct sl_strbuf *sb, bool flush);

/** How an attempt ended, for its state line ("exit 1 after 0.01s"). */
void test_describe_result(struct sl_strbuf *sb, const struct sl_taskexec_result *r);

/** The table of every task of the run (or its --json object); an exit code. */
int test_print_summary(struct cli *cli, const struct test_run *run);

#endif
