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

json_t *runs_time_json(const PGresult *r, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *v;

	if (cli_pq_null(r, row, col))
		return json_null();
	sl_run_time_format(&sb, cli_pq_int(r, row, col, 0));
	v = json_string(sb.buf);
	sl_strbuf_release(&sb);
	return v;
}

void runs_time_cell(struct cli_table *t, const PGresult *r, int row, int col)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (cli_pq_null(r, row, col)) {
		cli_table_add(t, NULL);
		return;
	}
	cli_fmt_time(&sb, us_to_secs(cli_pq_int(r, row, col, 0)), NULL);
	cli_table_add_buf(t, &sb);
}

void runs_duration_cell(struct cli_table *t, const PGresult *r, int row, int start, int end,
                        int now)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;
	int64_t from, to;

	if (cli_pq_null(r, row, start)) {
		cli_table_add(t, NULL);
		return;
	}
	from = cli_pq_int(r, row, start, 0);
	to = cli_pq_int(r, row, cli_pq_null(r, row, end) ? now : end, from);
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

int runs_show_load(struct sl_db *db, const char *dag_id, const char *run_id, PGresult **res,
                   struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id};
	struct sl_run_ref ref;
	int rc = sl_db_q_idempotent(db, SL_Q_RUNS_SHOW, 2, params, res, err);

	if (!rc && !PQntuples(*res)) {
		PQclear(*res);
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

static json_t *int_or_null(const PGresult *r, int row, int col)
{
	return cli_pq_null(r, row, col) ? json_null() : json_integer(cli_pq_int(r, row, col, 0));
}

static json_t *str_or_null(const PGresult *r, int row, int col)
{
	const char *s = cli_pq_str(r, row, col);

	return s ? json_string(s) : json_null();
}

/* The outputs of the task's latest attempt; {} when it has none. */
static json_t *outputs_json(const PGresult *r, int row)
{
	json_t *o = NULL;

	if (!cli_pq_null(r, row, RUNS_SHOW_OUTPUTS))
		o = json_loads(PQgetvalue(r, row, RUNS_SHOW_OUTPUTS), 0, NULL);
	if (json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

json_t *runs_show_json(const char *dag_id, const char *run_id, const PGresult *r)
{
	json_t *tasks = json_array();

	for (int i = 0; i < PQntuples(r); i++) {
		if (cli_pq_null(r, i, RUNS_SHOW_TASK))
			continue;
		json_array_append_new(
		    tasks,
		    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "task",
		              PQgetvalue(r, i, RUNS_SHOW_TASK), "state",
		              PQgetvalue(r, i, RUNS_SHOW_TASK_STATE), "try_number",
		              int_or_null(r, i, RUNS_SHOW_TRY), "started_at",
		              runs_time_json(r, i, RUNS_SHOW_TASK_STARTED), "ended_at",
		              runs_time_json(r, i, RUNS_SHOW_TASK_ENDED), "exit_code",
		              int_or_null(r, i, RUNS_SHOW_EXIT_CODE), "worker",
		              str_or_null(r, i, RUNS_SHOW_WORKER), "reason",
		              str_or_null(r, i, RUNS_SHOW_REASON), "outputs", outputs_json(r, i)));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "dag", dag_id, "run_id", run_id, "state",
	                 PQgetvalue(r, 0, RUNS_SHOW_STATE), "commit",
	                 PQgetvalue(r, 0, RUNS_SHOW_COMMIT), "logical_date",
	                 runs_time_json(r, 0, RUNS_SHOW_LOGICAL_DATE), "tasks", tasks);
}

/* "exit 1", "signal 9", or "-". */
static void outcome_cell(struct cli_table *t, const PGresult *r, int row)
{
	if (!cli_pq_null(r, row, RUNS_SHOW_EXIT_CODE))
		cli_table_addf(t, "%s", PQgetvalue(r, row, RUNS_SHOW_EXIT_CODE));
	else if (!cli_pq_null(r, row, RUNS_SHOW_SIGNAL))
		cli_table_addf(t, "signal %s", PQgetvalue(r, row, RUNS_SHOW_SIGNAL));
	else
		cli_table_add(t, NULL);
}

/*
 * Below the table, what does not fit a column: why the scheduler set a
 * state without running the task, and each task's outputs (latest attempt).
 */
static void print_notes(const PGresult *r)
{
	bool head = false;

	for (int i = 0; i < PQntuples(r); i++) {
		if (cli_pq_null(r, i, RUNS_SHOW_TASK) || cli_pq_null(r, i, RUNS_SHOW_REASON))
			continue;
		if (!head)
			printf("\nreasons:\n");
		head = true;
		printf("  %s: %s\n", PQgetvalue(r, i, RUNS_SHOW_TASK),
		       PQgetvalue(r, i, RUNS_SHOW_REASON));
	}
	head = false;
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o, *v;
		const char *k;

		if (cli_pq_null(r, i, RUNS_SHOW_TASK))
			continue;
		o = outputs_json(r, i);
		json_object_foreach(o, k, v)
		{
			if (!head)
				printf("\noutputs:\n");
			head = true;
			printf("  %s.%s=%s\n", PQgetvalue(r, i, RUNS_SHOW_TASK), k,
			       json_string_value(v) ? json_string_value(v) : "");
		}
		json_decref(o);
	}
}

void runs_show_print(const char *dag_id, const char *run_id, const PGresult *r)
{
	struct cli_table head = CLI_TABLE_INIT, t = CLI_TABLE_INIT;

	cli_table_header(&head, "DAG", dag_id, NULL);
	cli_table_add(&head, "run");
	cli_table_add(&head, run_id);
	cli_table_add(&head, "state");
	cli_table_addf(&head, "%s (%s run)", PQgetvalue(r, 0, RUNS_SHOW_STATE),
	               PQgetvalue(r, 0, RUNS_SHOW_TYPE));
	cli_table_add(&head, "commit");
	cli_table_add(&head, PQgetvalue(r, 0, RUNS_SHOW_COMMIT));
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
	for (int i = 0; i < PQntuples(r); i++) {
		if (cli_pq_null(r, i, RUNS_SHOW_TASK))
			continue;
		cli_table_add(&t, PQgetvalue(r, i, RUNS_SHOW_TASK));
		cli_table_add(&t, PQgetvalue(r, i, RUNS_SHOW_TASK_STATE));
		cli_table_addf(&t, "%s/%s", PQgetvalue(r, i, RUNS_SHOW_TRY),
		               PQgetvalue(r, i, RUNS_SHOW_MAX_TRIES));
		runs_time_cell(&t, r, i, RUNS_SHOW_TASK_STARTED);
		runs_duration_cell(&t, r, i, RUNS_SHOW_TASK_STARTED, RUNS_SHOW_TASK_ENDED,
		                   RUNS_SHOW_NOW);
		outcome_cell(&t, r, i);
		cli_table_add(&t, cli_pq_str(r, i, RUNS_SHOW_WORKER));
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

int runs_callbacks_load(struct sl_db *db, const char *dag_id, const char *run_id, PGresult **res,
                        struct sl_strbuf *err)
{
	const char *params[] = {dag_id, run_id};

	return sl_db_q_idempotent(db, SL_Q_RUNS_CALLBACKS, 2, params, res, err);
}

void runs_callbacks_json(json_t *show, const PGresult *cb)
{
	json_t *list = json_array();

	for (int i = 0; cb && i < PQntuples(cb); i++)
		json_array_append_new(list,
		                      json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "callback",
		                                PQgetvalue(cb, i, RUNS_CB_ID), "state",
		                                PQgetvalue(cb, i, RUNS_CB_STATE), "try_number",
		                                int_or_null(cb, i, RUNS_CB_TRY), "started_at",
		                                runs_time_json(cb, i, RUNS_CB_STARTED), "ended_at",
		                                runs_time_json(cb, i, RUNS_CB_ENDED), "exit_code",
		                                int_or_null(cb, i, RUNS_CB_EXIT_CODE), "worker",
		                                str_or_null(cb, i, RUNS_CB_WORKER)));
	json_object_set_new(show, "callbacks", list);
}

void runs_callbacks_print(const PGresult *cb)
{
	struct cli_table t = CLI_TABLE_INIT;

	if (!cb || !PQntuples(cb))
		return;
	cli_table_header(&t, "CALLBACK", "STATE", "TRY", "STARTED", "DURATION", "EXIT", "WORKER",
	                 NULL);
	cli_table_align_right(&t, 2);
	cli_table_align_right(&t, 4);
	cli_table_align_right(&t, 5);
	for (int i = 0; i < PQntuples(cb); i++) {
		cli_table_add(&t, PQgetvalue(cb, i, RUNS_CB_ID));
		cli_table_add(&t, PQgetvalue(cb, i, RUNS_CB_STATE));
		cli_table_add(&t, PQgetvalue(cb, i, RUNS_CB_TRY));
		runs_time_cell(&t, cb, i, RUNS_CB_STARTED);
		runs_duration_cell(&t, cb, i, RUNS_CB_STARTED, RUNS_CB_ENDED, RUNS_CB_NOW);
		if (!cli_pq_null(cb, i, RUNS_CB_EXIT_CODE))
			cli_table_add(&t, PQgetvalue(cb, i, RUNS_CB_EXIT_CODE));
		else if (!cli_pq_null(cb, i, RUNS_CB_SIGNAL))
			cli_table_addf(&t, "signal %s", PQgetvalue(cb, i, RUNS_CB_SIGNAL));
		else
			cli_table_add(&t, NULL);
		cli_table_add(&t, cli_pq_str(cb, i, RUNS_CB_WORKER));
	}
	printf("\ncallbacks:\n");
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}
