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

json_t *runs_show_json(const char *dag_id, const char *run_id, const struct sl_rows *r)
{
	json_t *tasks = json_array();

	for (int i = 0; i < sl_rows_nr(r); i++) {
		if (sl_rows_null(r, i, RUNS_SHOW_TASK))
			continue;
		json_array_append_new(
		    tasks,
		    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "task",
		              sl_rows_value(r, i, RUNS_SHOW_TASK), "state",
		              sl_rows_value(r, i, RUNS_SHOW_TASK_STATE), "try_number",
		              int_or_null(r, i, RUNS_SHOW_TRY), "poke_number",
		              int_or_null(r, i, RUNS_SHOW_POKE), "started_at",
		              runs_time_json(r, i, RUNS_SHOW_TASK_STARTED), "ended_at",
		              runs_time_json(r, i, RUNS_SHOW_TASK_ENDED), "exit_code",
		              int_or_null(r, i, RUNS_SHOW_EXIT_CODE), "worker",
		              str_or_null(r, i, RUNS_SHOW_WORKER), "reason",
		              str_or_null(r, i, RUNS_SHOW_REASON), "outputs", outputs_json(r, i)));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "dag", dag_id, "run_id", run_id, "state",
	                 sl_rows_value(r, 0, RUNS_SHOW_STATE), "commit",
	                 sl_rows_value(r, 0, RUNS_SHOW_COMMIT), "logical_date",
	                 runs_time_json(r, 0, RUNS_SHOW_LOGICAL_DATE), "tasks", tasks);
}

/* "exit 1", "signal 9", or "-". */
static void outcome_cell(struct cli_table *t, const struct sl_rows *r, int row)
{
	if (!sl_rows_null(r, row, RUNS_SHOW_EXIT_CODE))
		cli_table_addf(t, "%s", sl_rows_value(r, row, RUNS_SHOW_EXIT_CODE));
	else if (!sl_rows_null(r, row, RUNS_SHOW_SIGNAL))
		cli_table_addf(t, "signal %s", sl_rows_value(r, row, RUNS_SHOW_SIGNAL));
	else
		cli_table_add(t, NULL);
}

/*
 * Below the table, what does not fit a column: why the scheduler set a
 * state without running the task, and each task's outputs (latest attempt).
 */
static void print_notes(const struct sl_rows *r)
{
	bool head = false;

	for (int i = 0; i < sl_rows_nr(r); i++) {
		if (sl_rows_null(r, i, RUNS_SHOW_TASK) || sl_rows_null(r, i, RUNS_SHOW_REASON))
			continue;
		if (!head)
			printf("\nreasons:\n");
		head = true;
		printf("  %s: %s\n", sl_rows_value(r, i, RUNS_SHOW_TASK),
		       sl_rows_value(r, i, RUNS_SHOW_REASON));
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
}

void runs_show_print(const char *dag_id, const char *run_id, const struct sl_rows *r)
{
	struct cli_table head = CLI_TABLE_INIT, t = CLI_TABLE_INIT;

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
	cli_table_add(&head, "started");
	runs_time_cell(&head, r, 0, RUNS_SHOW_STARTED);
	cli_table_add(&head, "duration");
	runs_duration_cell(&head, r, 0, RUNS_SHOW_STARTED, RUNS_SHOW_ENDED, RUNS_SHOW_NOW);
	cli_table_print(&head, stdout);
	printf("\n");

	cli_table_header(&t, "TASK", "STATE", "TRY", "STARTED", "DURATION", "EXIT", "WORKER", NULL);
	cli_table_align_right(&t, 2);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int i = 0; i < sl_rows_nr(r); i++) {
		if (sl_rows_null(r, i, RUNS_SHOW_TASK))
			continue;
		cli_table_add(&t, sl_rows_value(r, i, RUNS_SHOW_TASK));
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
		runs_duration_cell(&t, r, i, RUNS_SHOW_TASK_STARTED, RUNS_SHOW_TASK_ENDED,
		                   RUNS_SHOW_NOW);
		outcome_cell(&t, r, i);
		cli_table_add(&t, sl_rows_str(r, i, RUNS_SHOW_WORKER));
	}
	cli_table_print(&t, stdout);
	print_notes(r);
	cli_table_release(&t);
	cli_table_release(&head);
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
