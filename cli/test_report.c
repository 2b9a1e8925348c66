/*
 * What `sluice test` prints: each task's state changes and log lines
 * prefixed with its id, then the summary table or JSON object.
 */
#include "test_run.h"

#include <string.h>

#include "cli.h"
#include "sluice/runstore.h"
#include "table.h"
#include "sluice/banned.h"

const char *test_task_id(const struct test_task *t)
{
	return t->name ? t->name : t->run->dag->tasks[t->index].id;
}

enum sl_task_state test_task_state(const struct test_task *t)
{
	return t->name ? t->cb_state : t->run->plan.tasks[t->index].state;
}

void test_set_state(struct test_task *t, enum sl_task_state state, const char *why)
{
	struct sl_strbuf name = SL_STRBUF_INIT;

	if (t->name)
		t->cb_state = state;
	else
		t->run->plan.tasks[t->index].state = state;
	cli_colour_state(&name, t->run->colour, sl_task_state_name(state));
	fprintf(t->run->log, "[%s] %s%s%s\n", test_task_id(t), name.buf, why && *why ? ": " : "",
	        why ? why : "");
	fflush(t->run->log);
	sl_strbuf_release(&name);
}

void test_print_lines(struct test_task *t, struct sl_strbuf *sb, bool flush)
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
		fprintf(t->run->log, "[%s] %.*s\n", test_task_id(t), (int)len, sb->buf + start);
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

void test_describe_result(struct sl_strbuf *sb, const struct sl_taskexec_result *r)
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

/* [{"callback", "state", "exit_code", "duration_ms"}], or [] when none ran. */
static json_t *callbacks_json(const struct test_run *run)
{
	const struct test_task *t = &run->callback;
	json_t *list = json_array();

	if (t->ran)
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:o, s:I}", "callback", test_task_id(t), "state",
		                    sl_task_state_name(t->cb_state), "exit_code",
		                    t->exit_code >= 0 ? json_integer(t->exit_code) : json_null(),
		                    "duration_ms", (json_int_t)t->duration_ms));
	return list;
}

static int print_json(const struct test_run *run)
{
	const struct sl_dag *dag = run->dag;
	struct sl_strbuf sb = SL_STRBUF_INIT;
	json_t *tasks = json_array();
	int rc;

	for (size_t k = 0; k < dag->tasks_nr; k++) {
		const struct test_task *t = &run->tasks[dag->topo[k]];
		json_t *outputs;

		if (!run->plan.tasks[t->index].present)
			continue;
		outputs = json_object();
		for (size_t i = 0; i < t->outputs.nr; i++)
			json_object_set_new(outputs, t->outputs.items[i].key,
			                    json_string(t->outputs.items[i].value));
		json_array_append_new(
		    tasks,
		    json_pack("{s:s, s:s, s:i, s:o, s:I, s:o}", "task", test_task_id(t), "state",
		              sl_task_state_name(test_task_state(t)), "try_number", t->try_number,
		              "exit_code",
		              t->ran && t->exit_code >= 0 ? json_integer(t->exit_code)
		                                          : json_null(),
		              "duration_ms", (json_int_t)t->duration_ms, "outputs", outputs));
	}
	sl_run_time_format(&sb, run->logical_date * 1000000);
	rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "dag", dag->id, "run_id",
	                              run->run_id, "state", sl_run_state_name(run->state),
	                              "logical_date", sb.buf, "tasks", tasks, "callbacks",
	                              callbacks_json(run)));
	sl_strbuf_release(&sb);
	return rc;
}

int test_print_summary(struct cli *cli, const struct test_run *run)
{
	const struct sl_dag *dag = run->dag;
	struct cli_table table = CLI_TABLE_INIT;
	struct sl_strbuf sb = SL_STRBUF_INIT;

	if (cli->json)
		return print_json(run);
	cli_table_header(&table, "TASK", "STATE", "TRIES", "DURATION", NULL);
	cli_table_align_right(&table, 2);
	cli_table_align_right(&table, 3);
	for (size_t k = 0; k < dag->tasks_nr; k++) {
		const struct test_task *t = &run->tasks[dag->topo[k]];

		if (!run->plan.tasks[t->index].present)
			continue;
		cli_table_add(&table, test_task_id(t));
		cli_colour_cell(&table, run->colour, sl_task_state_name(test_task_state(t)));
		cli_table_addf(&table, "%d", t->try_number);
		if (t->ran)
			cli_table_addf(&table, "%.2fs", (double)t->duration_ms / 1000.0);
		else
			cli_table_add(&table, NULL);
	}
	printf("\n");
	cli_table_print(&table, stdout);
	if (run->callback.ran) {
		cli_colour_state(&sb, run->colour, sl_task_state_name(run->callback.cb_state));
		printf("\ncallback %s: %s\n", test_task_id(&run->callback), sb.buf);
		sl_strbuf_reset(&sb);
	}
	cli_colour_state(&sb, run->colour, sl_run_state_name(run->state));
	printf("\nrun %s: %s\n", run->run_id, sb.buf);
	sl_strbuf_release(&sb);
	cli_table_release(&table);
	return CLI_EXIT_OK;
}
