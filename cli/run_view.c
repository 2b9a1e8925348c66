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

json_t *runs_time_json(const struct sl_rows *r, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *v;

	if (sl_rows_null(r, row, col))
		return json_null();
	sl_run_time_format(&sb, sl_rows_int(r, row, col, 0));
	v = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return v;
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

int runs_show_load(struct sl_db *db, const char *dag_id, const char *run_id, struct sl_rows **res,
                   struct sl_strbuf *err)
{
	struct sl_run_ref ref;
	int rc = sl_view_run(db, dag_id, run_id, res, err);

	if (!rc && !sl_rows_nr(*res)) {
		sl_rows_free(*res);
		*res = NULL;
		/* Says which of the two is missing. */
		rc = sl_run_lookup(db, dag_id, run_id, NULL, &ref, err);
		if (!rc) {
			sl_strbuf_addf(err, "run '%s' of DAG '%s' disappeared", run_id, dag_id);
			rc = SL_ENOENT;
		}
	}
	return rc;
}

int runs_id_resolve(struct sl_db *db, const char *dag_id, const char **run_id,
                    struct sl_strbuf *hold, struct sl_strbuf *err)
{
	struct sl_rows *r = NULL;
	int rc;

	if (strcmp(*run_id, "latest"))
		return 0;
	rc = sl_view_run_latest(db, dag_id, &r, err);
	if (!rc && !sl_rows_nr(r)) {
		rc = sl_run_dag_check(db, dag_id, err);
		if (!rc) {
			sl_strbuf_addf(err, "DAG '%s' has no run yet: 'latest' names none", dag_id);
			rc = SL_ENOENT;
		}
	}
	if (!rc) {
		sl_strbuf_reset(hold);
		sl_strbuf_adds(hold, sl_rows_value(r, 0, 0));
		*run_id = hold->buf;
	}
	sl_rows_free(r);
	return rc;
}

static json_t *int_or_null(const struct sl_rows *r, int row, int col)
{
	return sl_rows_null(r, row, col) ? json_null() : json_integer(sl_rows_int(r, row, col, 0));
}

static json_t *str_or_null(const struct sl_rows *r, int row, int col)
{
	const char *s = sl_rows_str(r, row, col);

	return s ? json_string(s) : json_null();
}

/* The outputs of the task's latest attempt; {} when it has none. */
static json_t *outputs_json(const struct sl_rows *r, int row)
{
	json_t *o = NULL;

	if (!sl_rows_null(r, row, RUNS_SHOW_OUTPUTS))
		o = json_loads(sl_rows_value(r, row, RUNS_SHOW_OUTPUTS), 0, NULL);
	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

/* The commits the run's tries ran on, oldest first (space-separated in the row). */
static json_t *commits_json(const struct sl_rows *r)
{
	json_t *a = json_array();
	const char *p = sl_rows_str(r, 0, RUNS_SHOW_COMMITS);

	while (p && *p) {
		size_t n = strcspn(p, " ");

		json_array_append_new(a, json_stringn(p, n));
		p += n + (p[n] == ' ');
	}
	return a;
}

/*
 * Once the run has run on a commit other than the one it pins now (it was
 * moved by `--latest`), which task's latest try ran on which commit.
 */
static void print_commits(const struct sl_rows *r)
{
	const char *pinned = sl_rows_value(r, 0, RUNS_SHOW_COMMIT);
	const char *all = sl_rows_str(r, 0, RUNS_SHOW_COMMITS);
	json_t *commits;
	size_t k;
	json_t *c;

	if (!all || !strcmp(all, pinned))
		return;
	printf("\ncommits (latest try of each task):\n");
	commits = commits_json(r);
	json_array_foreach(commits, k, c)
	{
		const char *id = json_string_value(c);
		bool any = false;

		printf("  %.12s%s:", id, strcmp(id, pinned) ? "" : " (pinned now)");
		for (int i = 0; i < sl_rows_nr(r); i++) {
			const char *tc = sl_rows_str(r, i, RUNS_SHOW_TASK_COMMIT);

			if (sl_rows_null(r, i, RUNS_SHOW_TASK) || !tc || strcmp(tc, id))
				continue;
			printf("%s %s", any ? "," : "", sl_rows_value(r, i, RUNS_SHOW_TASK));
			any = true;
		}
		printf("%s\n", any ? "" : " (no latest try)");
	}
	json_decref(commits);
}

/* The row of `tries` holding the latest attempt of `task`, or -1. */
static int latest_try(const struct sl_rows *tries, const char *task)
{
	int found = -1;

	for (int i = 0; tries && i < sl_rows_nr(tries); i++)
		if (!strcmp(sl_rows_value(tries, i, RUNS_TRY_TASK), task))
			found = i;
	return found;
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
 * Why an attempt ended when its own exit code does not say it; NULL when
 * it does (or it runs). The scheduler's reason, when it gave one, is the
 * task instance's and wins over this one.
 */
static const char *try_reason(struct sl_strbuf *sb, const char *outcome, const char *signal,
                              const char *stop)
{
	sl_strbuf_reset(sb);
	if (stop)
		sl_strbuf_addf(sb, "stopped by %s",
		               !strcmp(stop, "cancel")  ? "runs cancel"
		               : !strcmp(stop, "clear") ? "tasks clear"
		                                        : "tasks mark");
	else if (outcome && !strcmp(outcome, "timeout"))
		sl_strbuf_adds(sb, "stopped by its timeout");
	else if (outcome && !strcmp(outcome, "lost"))
		sl_strbuf_adds(sb, "its worker was lost");
	else if (signal)
		sl_strbuf_addf(sb, "killed by signal %s", signal);
	return sb->len ? sb->buf : NULL;
}

/* Which operator command stopped the latest attempt (runs_tries), or NULL. */
static const char *latest_stop(const struct sl_rows *tries, int last)
{
	return last < 0 ? NULL : sl_rows_str(tries, last, RUNS_TRY_STOP);
}

/* The reason of task row `i`: the scheduler's (or the mark's), else its
 * latest attempt's. */
static const char *task_reason(struct sl_strbuf *sb, const struct sl_rows *r, int i,
                               const struct sl_rows *tries, int last)
{
	if (!sl_rows_null(r, i, RUNS_SHOW_REASON))
		return sl_rows_value(r, i, RUNS_SHOW_REASON);
	return try_reason(sb, sl_rows_str(r, i, RUNS_SHOW_OUTCOME),
	                  sl_rows_str(r, i, RUNS_SHOW_SIGNAL), latest_stop(tries, last));
}

/* One attempt of the `tries` list (docs/json.md). */
static json_t *try_json(const struct sl_rows *tries, int row)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	const char *why = try_reason(&sb, sl_rows_str(tries, row, RUNS_TRY_OUTCOME),
	                             sl_rows_str(tries, row, RUNS_TRY_SIGNAL),
	                             sl_rows_str(tries, row, RUNS_TRY_STOP));
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "try_number",
	                      int_or_null(tries, row, RUNS_TRY_NUMBER), "started_at",
	                      runs_time_json(tries, row, RUNS_TRY_STARTED), "ended_at",
	                      runs_time_json(tries, row, RUNS_TRY_ENDED), "outcome",
	                      str_or_null(tries, row, RUNS_TRY_OUTCOME), "exit_code",
	                      int_or_null(tries, row, RUNS_TRY_EXIT_CODE), "signal",
	                      int_or_null(tries, row, RUNS_TRY_SIGNAL), "stopped_by",
	                      str_or_null(tries, row, RUNS_TRY_STOP), "worker",
	                      str_or_null(tries, row, RUNS_TRY_WORKER), "reason",
	                      why ? json_string(why) : json_null());

	sl_strbuf_release(&sb);
	return o;
}

/* {"state", "by", "at"} of a marked task, else null. */
static json_t *marked_json(const struct sl_rows *r, int i)
{
	if (sl_rows_null(r, i, RUNS_SHOW_MARKED_BY))
		return json_null();
	return json_pack("{s:s, s:s, s:o}", "state", sl_rows_value(r, i, RUNS_SHOW_TASK_STATE),
	                 "by", sl_rows_value(r, i, RUNS_SHOW_MARKED_BY), "at",
	                 runs_time_json(r, i, RUNS_SHOW_TASK_ENDED));
}

static json_t *task_json(const struct sl_rows *r, int i, const struct sl_rows *tries)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	const char *task = sl_rows_value(r, i, RUNS_SHOW_TASK);
	int last = latest_try(tries, task);
	const char *why = task_reason(&sb, r, i, tries, last);
	json_t *o = json_pack(
	    "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "task", task,
	    "state", sl_rows_value(r, i, RUNS_SHOW_TASK_STATE), "try_number",
	    int_or_null(r, i, RUNS_SHOW_TRY), "poke_number", int_or_null(r, i, RUNS_SHOW_POKE),
	    "started_at", runs_time_json(r, i, RUNS_SHOW_TASK_STARTED), "ended_at",
	    runs_time_json(r, i, RUNS_SHOW_TASK_ENDED), "exit_code",
	    int_or_null(r, i, RUNS_SHOW_EXIT_CODE), "worker", str_or_null(r, i, RUNS_SHOW_WORKER),
	    "reason", why ? json_string(why) : json_null(), "outputs", outputs_json(r, i),
	    "outcome", str_or_null(r, i, RUNS_SHOW_OUTCOME), "signal",
	    int_or_null(r, i, RUNS_SHOW_SIGNAL), "marked", marked_json(r, i));

	json_object_set_new(o, "commit", str_or_null(r, i, RUNS_SHOW_TASK_COMMIT));
	if (tries) {
		json_t *list = json_array();

		for (int k = 0; k < sl_rows_nr(tries); k++)
			if (!strcmp(sl_rows_value(tries, k, RUNS_TRY_TASK), task))
				json_array_append_new(list, try_json(tries, k));
		json_object_set_new(o, "tries", list);
	}
	sl_strbuf_release(&sb);
	return o;
}

/* The run's conf as stored (an object); {} when it cannot be read. */
static json_t *conf_json(const struct sl_rows *r)
{
	json_t *o = json_loads(sl_rows_value(r, 0, RUNS_SHOW_CONF), 0, NULL);

	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

json_t *runs_show_json(const char *dag_id, const char *run_id, const struct sl_rows *r,
                       const struct sl_rows *tries)
{
	json_t *tasks = json_array(), *show;

	for (int i = 0; i < sl_rows_nr(r); i++)
		if (!sl_rows_null(r, i, RUNS_SHOW_TASK))
			json_array_append_new(tasks, task_json(r, i, tries));
	show = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "dag",
	                 dag_id, "run_id", run_id, "state", sl_rows_value(r, 0, RUNS_SHOW_STATE),
	                 "commit", sl_rows_value(r, 0, RUNS_SHOW_COMMIT), "logical_date",
	                 runs_time_json(r, 0, RUNS_SHOW_LOGICAL_DATE), "tasks", tasks, "run_type",
	                 sl_rows_value(r, 0, RUNS_SHOW_TYPE), "data_interval_start",
	                 runs_time_json(r, 0, RUNS_SHOW_INTERVAL_START), "data_interval_end",
	                 runs_time_json(r, 0, RUNS_SHOW_INTERVAL_END), "started_at",
	                 runs_time_json(r, 0, RUNS_SHOW_STARTED), "ended_at",
	                 runs_time_json(r, 0, RUNS_SHOW_ENDED), "conf", conf_json(r));
	json_object_set_new(show, "commits", commits_json(r));
	return show;
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
		const char *task = sl_rows_str(r, i, RUNS_SHOW_TASK), *why;

		if (!task)
			continue;
		why = task_reason(&sb, r, i, tries, latest_try(tries, task));
		if (!why)
			continue;
		if (!head)
			printf("\nreasons:\n");
		head = true;
		printf("  %s: %s", task, why);
		if (!sl_rows_null(r, i, RUNS_SHOW_MARKED_BY)) {
			sl_strbuf_reset(&at);
			cli_fmt_time(&at, us_to_secs(sl_rows_int(r, i, RUNS_SHOW_TASK_ENDED, 0)),
			             NULL);
			printf(" at %s", at.buf);
		}
		printf("\n");
	}
	head = false;
	for (int i = 0; i < sl_rows_nr(r); i++) {
		json_t *o, *v;
		const char *k;

		if (sl_rows_null(r, i, RUNS_SHOW_TASK))
			continue;
		o = outputs_json(r, i);
		json_object_foreach(o, k, v)
		{
			if (!head)
				printf("\noutputs:\n");
			head = true;
			printf("  %s.%s=%s\n", sl_rows_value(r, i, RUNS_SHOW_TASK), k,
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
		cli_table_add(&t, sl_rows_value(tries, k, RUNS_TRY_TASK));
		cli_table_add(&t, sl_rows_value(tries, k, RUNS_TRY_NUMBER));
		runs_time_cell(&t, tries, k, RUNS_TRY_STARTED);
		runs_time_cell(&t, tries, k, RUNS_TRY_ENDED);
		if (sl_rows_null(tries, k, RUNS_TRY_ENDED))
			cli_table_add(&t, NULL);
		else
			runs_duration_cell(&t, tries, k, RUNS_TRY_STARTED, RUNS_TRY_ENDED,
			                   RUNS_TRY_ENDED);
		try_outcome_cell(&t, sl_rows_str(tries, k, RUNS_TRY_OUTCOME),
		                 sl_rows_str(tries, k, RUNS_TRY_EXIT_CODE),
		                 sl_rows_str(tries, k, RUNS_TRY_SIGNAL),
		                 sl_rows_str(tries, k, RUNS_TRY_STOP));
		cli_table_add(&t, sl_rows_str(tries, k, RUNS_TRY_WORKER));
	}
	printf("\ntries:\n");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}

/* The run's header: what it is, what it covers, when it ran, with what. */
static void print_head(const char *dag_id, const char *run_id, const struct sl_rows *r)
{
	struct cli_table head = CLI_TABLE_INIT;
	struct sl_strbuf s = SL_STRBUF_INIT, e = SL_STRBUF_INIT;

	cli_table_header(&head, "DAG", dag_id, NULL);
	cli_table_add(&head, "run");
	cli_table_add(&head, run_id);
	cli_table_add(&head, "state");
	cli_table_addf(&head, "%s (%s run)", sl_rows_value(r, 0, RUNS_SHOW_STATE),
	               sl_rows_value(r, 0, RUNS_SHOW_TYPE));
	cli_table_add(&head, "commit");
	cli_table_add(&head, sl_rows_value(r, 0, RUNS_SHOW_COMMIT));
	cli_table_add(&head, "logical date");
	runs_time_cell(&head, r, 0, RUNS_SHOW_LOGICAL_DATE);
	cli_table_add(&head, "data interval");
	cli_fmt_time(&s, us_to_secs(sl_rows_int(r, 0, RUNS_SHOW_INTERVAL_START, 0)), NULL);
	cli_fmt_time(&e, us_to_secs(sl_rows_int(r, 0, RUNS_SHOW_INTERVAL_END, 0)), NULL);
	cli_table_addf(&head, "[%s, %s)", s.buf, e.buf);
	cli_table_add(&head, "started");
	runs_time_cell(&head, r, 0, RUNS_SHOW_STARTED);
	cli_table_add(&head, "ended");
	runs_time_cell(&head, r, 0, RUNS_SHOW_ENDED);
	cli_table_add(&head, "duration");
	runs_duration_cell(&head, r, 0, RUNS_SHOW_STARTED, RUNS_SHOW_ENDED, RUNS_SHOW_NOW);
	cli_table_add(&head, "conf");
	cli_table_add(&head, sl_rows_value(r, 0, RUNS_SHOW_CONF));
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
	if (sl_rows_null(r, i, RUNS_SHOW_MARKED_BY))
		runs_duration_cell(t, r, i, RUNS_SHOW_TASK_STARTED, RUNS_SHOW_TASK_ENDED,
		                   RUNS_SHOW_NOW);
	else if (last < 0 || sl_rows_null(tries, last, RUNS_TRY_ENDED))
		cli_table_add(t, NULL);
	else
		runs_duration_cell(t, tries, last, RUNS_TRY_STARTED, RUNS_TRY_ENDED,
		                   RUNS_TRY_ENDED);
}

void runs_show_print(const char *dag_id, const char *run_id, const struct sl_rows *r,
                     const struct sl_rows *tries)
{
	struct cli_table t = CLI_TABLE_INIT;

	print_head(dag_id, run_id, r);
	printf("\n");
	cli_table_header(&t, "TASK", "STATE", "TRY", "STARTED", "DURATION", "OUTCOME", "WORKER",
	                 NULL);
	cli_table_align_right(&t, 2);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int i = 0; i < sl_rows_nr(r); i++) {
		const char *task = sl_rows_str(r, i, RUNS_SHOW_TASK);
		int last;

		if (!task)
			continue;
		last = latest_try(tries, task);
		cli_table_add(&t, task);
		cli_table_add(&t, sl_rows_value(r, i, RUNS_SHOW_TASK_STATE));
		/* A sensor's pokes share their try: say which poke, once there are more. */
		if (sl_rows_int(r, i, RUNS_SHOW_POKE, 1) > 1)
			cli_table_addf(&t, "%s/%s poke %s", sl_rows_value(r, i, RUNS_SHOW_TRY),
			               sl_rows_value(r, i, RUNS_SHOW_MAX_TRIES),
			               sl_rows_value(r, i, RUNS_SHOW_POKE));
		else
			cli_table_addf(&t, "%s/%s", sl_rows_value(r, i, RUNS_SHOW_TRY),
			               sl_rows_value(r, i, RUNS_SHOW_MAX_TRIES));
		runs_time_cell(&t, r, i, RUNS_SHOW_TASK_STARTED);
		task_duration_cell(&t, r, i, tries, last);
		if (!sl_rows_null(r, i, RUNS_SHOW_MARKED_BY))
			cli_table_add(&t, "marked");
		else
			try_outcome_cell(&t, sl_rows_str(r, i, RUNS_SHOW_OUTCOME),
			                 sl_rows_str(r, i, RUNS_SHOW_EXIT_CODE),
			                 sl_rows_str(r, i, RUNS_SHOW_SIGNAL),
			                 latest_stop(tries, last));
		cli_table_add(&t, sl_rows_str(r, i, RUNS_SHOW_WORKER));
	}
	cli_table_print(&t, stdout);
	print_notes(r, tries);
	print_tries(tries);
	print_commits(r);
	cli_table_release(&t);
}

/* The columns of runs_callbacks (lib/db/sql/runs.sql). */
enum {
	RUNS_CB_ID,
	RUNS_CB_STATE,
	RUNS_CB_TRY,
	RUNS_CB_STARTED,
	RUNS_CB_ENDED,
	RUNS_CB_NOW,
	RUNS_CB_EXIT_CODE,
	RUNS_CB_SIGNAL,
	RUNS_CB_WORKER,
};

void runs_callbacks_json(json_t *show, const struct sl_rows *cb)
{
	json_t *list = json_array();

	for (int i = 0; cb && i < sl_rows_nr(cb); i++)
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "callback",
		                                sl_rows_value(cb, i, RUNS_CB_ID), "state",
		                                sl_rows_value(cb, i, RUNS_CB_STATE), "try_number",
		                                int_or_null(cb, i, RUNS_CB_TRY), "started_at",
		                                runs_time_json(cb, i, RUNS_CB_STARTED), "ended_at",
		                                runs_time_json(cb, i, RUNS_CB_ENDED), "exit_code",
		                                int_or_null(cb, i, RUNS_CB_EXIT_CODE), "worker",
		                                str_or_null(cb, i, RUNS_CB_WORKER)));
	json_object_set_new(show, "callbacks", list);
}

void runs_callbacks_print(const struct sl_rows *cb)
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
		cli_table_add(&t, sl_rows_value(cb, i, RUNS_CB_ID));
		cli_table_add(&t, sl_rows_value(cb, i, RUNS_CB_STATE));
		cli_table_add(&t, sl_rows_value(cb, i, RUNS_CB_TRY));
		runs_time_cell(&t, cb, i, RUNS_CB_STARTED);
		runs_duration_cell(&t, cb, i, RUNS_CB_STARTED, RUNS_CB_ENDED, RUNS_CB_NOW);
		if (!sl_rows_null(cb, i, RUNS_CB_EXIT_CODE))
			cli_table_add(&t, sl_rows_value(cb, i, RUNS_CB_EXIT_CODE));
		else if (!sl_rows_null(cb, i, RUNS_CB_SIGNAL))
			cli_table_addf(&t, "signal %s", sl_rows_value(cb, i, RUNS_CB_SIGNAL));
		else
			cli_table_add(&t, NULL);
		cli_table_add(&t, sl_rows_str(cb, i, RUNS_CB_WORKER));
	}
	printf("\ncallbacks:\n");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}
