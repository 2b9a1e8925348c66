/*
 * Reading and printing runs: the `runs show` query, its table and JSON
 * forms, and the cells the run and task commands share.
 */
#include "run_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/runstore.h"
#include "sluice/suggest.h"
#include "sluice/banned.h"

int runs_fail(const struct sl_strbuf *err, int rc)
{
	cli_error("%s", err->buf);
	return cli_exit_code(rc);
}

static int64_t us_to_secs(int64_t us)
{
	return us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
}

void runs_time_cell(struct cli_table *t, const struct sl_rows *r, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (sl_rows_null(r, row, col)) {
		cli_table_add(t, NULL);
		return;
	}
	cli_fmt_time(&sb, us_to_secs(sl_rows_int(r, row, col, 0)), NULL);
	cli_table_add_buf(t, &sb);
}

void runs_duration_cell(struct cli_table *t, const struct sl_rows *r, int row, int start, int end,
                        int now)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int64_t from, to;

	if (sl_rows_null(r, row, start)) {
		cli_table_add(t, NULL);
		return;
	}
	from = sl_rows_int(r, row, start, 0);
	to = sl_rows_int(r, row, sl_rows_null(r, row, end) ? now : end, from);
	cli_fmt_duration(&sb, us_to_secs(to - from));
	cli_table_add_buf(t, &sb);
}

int runs_bad_state(const struct cli_command *cmd, const char *state)
{
	static const char *const states[] = {"queued", "running", "success", "failed", "cancelled"};
	const char *best = sl_suggest_best(state, states, SL_ARRAY_SIZE(states));

	if (best)
		return cli_usage_error(cmd, "unknown run state '%s' (did you mean '%s'?)", state,
		                       best);
	return cli_usage_error(cmd,
	                       "unknown run state '%s' (queued, running, success, failed, "
	                       "cancelled)",
	                       state);
}

/*
 * Once the run has run on a commit other than the one it pins now (it was
 * moved by `--latest`), which task's latest try ran on which commit.
 */
static void print_commits(const struct sl_rows *r)
{
	const char *pinned = sl_rows_value(r, 0, SL_RUN_SHOW_COMMIT);
	const char *all = sl_rows_str(r, 0, SL_RUN_SHOW_COMMITS);
	json_t *commits;
	size_t k;
	json_t *c;

	if (!all || !strcmp(all, pinned))
		return;
	printf("\ncommits (latest try of each task):\n");
	commits = sl_run_commits_json(r);
	json_array_foreach(commits, k, c)
	{
		const char *id = json_string_value(c);
		bool any = false;

		printf("  %.12s%s:", id, strcmp(id, pinned) ? "" : " (pinned now)");
		for (int i = 0; i < sl_rows_nr(r); i++) {
			const char *tc = sl_rows_str(r, i, SL_RUN_SHOW_TASK_COMMIT);

			if (sl_rows_null(r, i, SL_RUN_SHOW_TASK) || !tc || strcmp(tc, id))
				continue;
			printf("%s %s", any ? "," : "", sl_rows_value(r, i, SL_RUN_SHOW_TASK));
			any = true;
		}
		printf("%s\n", any ? "" : " (no latest try)");
	}
	json_decref(commits);
}

/*
 * How an attempt ended, as a table cell: its exit code when its process
 * exited, else "signal N", "timeout", "lost", or who stopped it
 * ("cancelled" by runs cancel, "cleared", "marked"); "-" while it runs.
 */
static void try_outcome_cell(struct cli_table *t, const char *outcome, const char *exit_code,
                             const char *signal, const char *stop)
{
	if (stop)
		cli_table_add(t, !strcmp(stop, "cancel")  ? "cancelled"
		                 : !strcmp(stop, "clear") ? "cleared"
		                                          : "marked");
	else if (outcome && (!strcmp(outcome, "timeout") || !strcmp(outcome, "lost")))
		cli_table_add(t, outcome);
	else if (exit_code)
		cli_table_add(t, exit_code);
	else if (signal)
		cli_table_addf(t, "signal %s", signal);
	else
		cli_table_add(t, outcome);
}

/*
 * Below the table, what does not fit a column: why a task is in its state
 * (the scheduler's reason, a mark with who and when, how its latest
 * attempt was stopped), and each task's outputs (latest attempt).
 */
static void print_notes(const struct sl_rows *r, const struct sl_rows *tries)
{
	struct sl_strbuf sb = SL_STRBUF_INIT, at = SL_STRBUF_INIT;
	bool head = false;

	print_commits(r);
	for (int i = 0; i < sl_rows_nr(r); i++) {
		const char *task = sl_rows_str(r, i, SL_RUN_SHOW_TASK), *why;

		if (!task)
			continue;
		why = sl_run_task_reason(&sb, r, i, tries, sl_run_latest_try(tries, task));
		if (!why)
			continue;
		if (!head)
			printf("\nreasons:\n");
		head = true;
		printf("  %s: %s", task, why);
		if (!sl_rows_null(r, i, SL_RUN_SHOW_MARKED_BY)) {
			sl_strbuf_reset(&at);
			cli_fmt_time(&at, us_to_secs(sl_rows_int(r, i, SL_RUN_SHOW_TASK_ENDED, 0)),
			             NULL);
			printf(" at %s", at.buf);
		}
		printf("\n");
	}
	head = false;
	for (int i = 0; i < sl_rows_nr(r); i++) {
		json_t *o, *v;
		const char *k;

		if (sl_rows_null(r, i, SL_RUN_SHOW_TASK))
			continue;
		o = sl_run_outputs_json(r, i);
		json_object_foreach(o, k, v)
		{
			if (!head)
				printf("\noutputs:\n");
			head = true;
			printf("  %s.%s=%s\n", sl_rows_value(r, i, SL_RUN_SHOW_TASK), k,
			       json_string_value(v) ? json_string_value(v) : "");
		}
		json_decref(o);
	}
	sl_strbuf_release(&sb);
	sl_strbuf_release(&at);
}

/* Every attempt of every task, oldest first: the history behind each row. */
static void print_tries(const struct sl_rows *tries)
{
	struct cli_table t = CLI_TABLE_INIT;

	if (!tries || !sl_rows_nr(tries))
		return;
	cli_table_header(&t, "TASK", "TRY", "STARTED", "ENDED", "DURATION", "OUTCOME", "WORKER",
	                 NULL);
	cli_table_align_right(&t, 1);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int k = 0; k < sl_rows_nr(tries); k++) {
		cli_table_add(&t, sl_rows_value(tries, k, SL_RUN_TRY_TASK));
		cli_table_add(&t, sl_rows_value(tries, k, SL_RUN_TRY_NUMBER));
		runs_time_cell(&t, tries, k, SL_RUN_TRY_STARTED);
		runs_time_cell(&t, tries, k, SL_RUN_TRY_ENDED);
		if (sl_rows_null(tries, k, SL_RUN_TRY_ENDED))
			cli_table_add(&t, NULL);
		else
			runs_duration_cell(&t, tries, k, SL_RUN_TRY_STARTED, SL_RUN_TRY_ENDED,
			                   SL_RUN_TRY_ENDED);
		try_outcome_cell(&t, sl_rows_str(tries, k, SL_RUN_TRY_OUTCOME),
		                 sl_rows_str(tries, k, SL_RUN_TRY_EXIT_CODE),
		                 sl_rows_str(tries, k, SL_RUN_TRY_SIGNAL),
		                 sl_rows_str(tries, k, SL_RUN_TRY_STOP));
		cli_table_add(&t, sl_rows_str(tries, k, SL_RUN_TRY_WORKER));
	}
	printf("\ntries:\n");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}

/* The run's header: what it is, what it covers, when it ran, with what. */
static void print_head(const char *dag_id, const char *run_id, const struct sl_rows *r, bool colour)
{
	struct cli_table head = CLI_TABLE_INIT;
	struct sl_strbuf s = SL_STRBUF_INIT, e = SL_STRBUF_INIT;

	cli_table_header(&head, "DAG", dag_id, NULL);
	cli_table_add(&head, "run");
	cli_table_add(&head, run_id);
	cli_table_add(&head, "state");
	cli_colour_state(&s, colour, sl_rows_value(r, 0, SL_RUN_SHOW_STATE));
	sl_strbuf_addf(&s, " (%s run)", sl_rows_value(r, 0, SL_RUN_SHOW_TYPE));
	cli_table_add_buf(&head, &s);
	cli_table_add(&head, "commit");
	cli_table_add(&head, sl_rows_value(r, 0, SL_RUN_SHOW_COMMIT));
	cli_table_add(&head, "logical date");
	runs_time_cell(&head, r, 0, SL_RUN_SHOW_LOGICAL_DATE);
	cli_table_add(&head, "data interval");
	cli_fmt_time(&s, us_to_secs(sl_rows_int(r, 0, SL_RUN_SHOW_INTERVAL_START, 0)), NULL);
	cli_fmt_time(&e, us_to_secs(sl_rows_int(r, 0, SL_RUN_SHOW_INTERVAL_END, 0)), NULL);
	cli_table_addf(&head, "[%s, %s)", s.buf, e.buf);
	cli_table_add(&head, "started");
	runs_time_cell(&head, r, 0, SL_RUN_SHOW_STARTED);
	cli_table_add(&head, "ended");
	runs_time_cell(&head, r, 0, SL_RUN_SHOW_ENDED);
	cli_table_add(&head, "duration");
	runs_duration_cell(&head, r, 0, SL_RUN_SHOW_STARTED, SL_RUN_SHOW_ENDED, SL_RUN_SHOW_NOW);
	cli_table_add(&head, "conf");
	cli_table_add(&head, sl_rows_value(r, 0, SL_RUN_SHOW_CONF));
	cli_table_print(&head, stdout);
	cli_table_release(&head);
	sl_strbuf_release(&s);
	sl_strbuf_release(&e);
}

/*
 * A task's duration cell: its instance's start to end (or now), except for
 * a marked task, whose end is the mark: that one shows its latest
 * attempt's own duration ("-" without one), and the mark is in the notes.
 */
static void task_duration_cell(struct cli_table *t, const struct sl_rows *r, int i,
                               const struct sl_rows *tries, int last)
{
	if (sl_rows_null(r, i, SL_RUN_SHOW_MARKED_BY))
		runs_duration_cell(t, r, i, SL_RUN_SHOW_TASK_STARTED, SL_RUN_SHOW_TASK_ENDED,
		                   SL_RUN_SHOW_NOW);
	else if (last < 0 || sl_rows_null(tries, last, SL_RUN_TRY_ENDED))
		cli_table_add(t, NULL);
	else
		runs_duration_cell(t, tries, last, SL_RUN_TRY_STARTED, SL_RUN_TRY_ENDED,
		                   SL_RUN_TRY_ENDED);
}

void runs_show_print(const char *dag_id, const char *run_id, const struct sl_rows *r,
                     const struct sl_rows *tries, bool colour)
{
	struct cli_table t = CLI_TABLE_INIT;

	print_head(dag_id, run_id, r, colour);
	printf("\n");
	cli_table_header(&t, "TASK", "STATE", "TRY", "STARTED", "DURATION", "OUTCOME", "WORKER",
	                 NULL);
	cli_table_align_right(&t, 2);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int i = 0; i < sl_rows_nr(r); i++) {
		const char *task = sl_rows_str(r, i, SL_RUN_SHOW_TASK);
		int last;

		if (!task)
			continue;
		last = sl_run_latest_try(tries, task);
		cli_table_add(&t, task);
		cli_colour_cell(&t, colour, sl_rows_value(r, i, SL_RUN_SHOW_TASK_STATE));
		/* A sensor's pokes share their try: say which poke, once there are more. */
		if (sl_rows_int(r, i, SL_RUN_SHOW_POKE, 1) > 1)
			cli_table_addf(&t, "%s/%s poke %s", sl_rows_value(r, i, SL_RUN_SHOW_TRY),
			               sl_rows_value(r, i, SL_RUN_SHOW_MAX_TRIES),
			               sl_rows_value(r, i, SL_RUN_SHOW_POKE));
		else
			cli_table_addf(&t, "%s/%s", sl_rows_value(r, i, SL_RUN_SHOW_TRY),
			               sl_rows_value(r, i, SL_RUN_SHOW_MAX_TRIES));
		runs_time_cell(&t, r, i, SL_RUN_SHOW_TASK_STARTED);
		task_duration_cell(&t, r, i, tries, last);
		if (!sl_rows_null(r, i, SL_RUN_SHOW_MARKED_BY))
			cli_table_add(&t, "marked");
		else
			try_outcome_cell(&t, sl_rows_str(r, i, SL_RUN_SHOW_OUTCOME),
			                 sl_rows_str(r, i, SL_RUN_SHOW_EXIT_CODE),
			                 sl_rows_str(r, i, SL_RUN_SHOW_SIGNAL),
			                 sl_run_latest_stop(tries, last));
		cli_table_add(&t, sl_rows_str(r, i, SL_RUN_SHOW_WORKER));
	}
	cli_table_print(&t, stdout);
	print_notes(r, tries);
	print_tries(tries);
	print_commits(r);
	cli_table_release(&t);
}

void runs_callbacks_print(const struct sl_rows *cb, bool colour)
{
	struct cli_table t = CLI_TABLE_INIT;

	if (!cb || !sl_rows_nr(cb))
		return;
	cli_table_header(&t, "CALLBACK", "STATE", "TRY", "STARTED", "DURATION", "EXIT", "WORKER",
	                 NULL);
	cli_table_align_right(&t, 2);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int i = 0; i < sl_rows_nr(cb); i++) {
		cli_table_add(&t, sl_rows_value(cb, i, SL_RUN_CB_ID));
		cli_colour_cell(&t, colour, sl_rows_value(cb, i, SL_RUN_CB_STATE));
		cli_table_add(&t, sl_rows_value(cb, i, SL_RUN_CB_TRY));
		runs_time_cell(&t, cb, i, SL_RUN_CB_STARTED);
		runs_duration_cell(&t, cb, i, SL_RUN_CB_STARTED, SL_RUN_CB_ENDED, SL_RUN_CB_NOW);
		if (!sl_rows_null(cb, i, SL_RUN_CB_EXIT_CODE))
			cli_table_add(&t, sl_rows_value(cb, i, SL_RUN_CB_EXIT_CODE));
		else if (!sl_rows_null(cb, i, SL_RUN_CB_SIGNAL))
			cli_table_addf(&t, "signal %s", sl_rows_value(cb, i, SL_RUN_CB_SIGNAL));
		else
			cli_table_add(&t, NULL);
		cli_table_add(&t, sl_rows_str(cb, i, SL_RUN_CB_WORKER));
	}
	printf("\ncallbacks:\n");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}
