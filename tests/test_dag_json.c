#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/dag_json.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"

static struct sl_dag *load(const char *path)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_dag *dag = NULL;

	if (sl_dag_load_file(&dag, path, NULL, &diags) < 0) {
		for (size_t i = 0; i < diags.nr; i++)
			print_error("%s:%u:%u: %s\n", diags.items[i].file, diags.items[i].line,
			            diags.items[i].column, diags.items[i].message);
		fail_msg("cannot load %s", path);
	}
	sl_diags_release(&diags);
	return dag;
}

/* load -> JSON -> DAG -> JSON must give the same JSON, and the rebuilt DAG
 * the same graph (topological order, edges) as the loaded one. */
static void check_round_trip(const char *path)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_dag *dag = load(path), *back = NULL;
	json_t *first = sl_dag_to_json(dag), *second;

	if (sl_dag_from_json(&back, first, &err) < 0)
		fail_msg("%s: %s", path, err.buf);
	second = sl_dag_to_json(back);
	if (!json_equal(first, second)) {
		char *a = json_dumps(first, JSON_INDENT(1)),
		     *b = json_dumps(second, JSON_INDENT(1));

		print_error("first:\n%s\nsecond:\n%s\n", a, b);
		free(a);
		free(b);
		fail_msg("%s does not round-trip", path);
	}
	assert_int_equal(back->tasks_nr, dag->tasks_nr);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		assert_int_equal(back->topo[i], dag->topo[i]);
		assert_int_equal(back->tasks[i].downstream_nr, dag->tasks[i].downstream_nr);
		assert_int_equal(sl_dag_task_index(back, dag->tasks[i].id), (long)i);
	}
	assert_int_equal(back->schedule_kind, dag->schedule_kind);
	assert_memory_equal(&back->cron, &dag->cron, sizeof(dag->cron));
	json_decref(first);
	json_decref(second);
	sl_dag_free(dag);
	sl_dag_free(back);
	sl_strbuf_release(&err);
}

static void test_examples_round_trip(void **state)
{
	DIR *dir = opendir("../dags-examples");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char *path;

		if (!strstr(de->d_name, ".yaml"))
			continue;
		path = sl_xasprintf("../dags-examples/%s", de->d_name);
		check_round_trip(path);
		free(path);
		n++;
	}
	closedir(dir);
	assert_true(n >= 4);
}

static void test_fixtures_round_trip(void **state)
{
	(void)state;
	check_round_trip("fixtures/valid/full.yaml");
	check_round_trip("fixtures/valid/minimal.yaml");
}

static void expect_rejected(const char *json_text, const char *message)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_dag *dag = (struct sl_dag *)1;
	json_error_t jerr;
	json_t *json = json_loads(json_text, 0, &jerr);

	if (!json)
		fail_msg("bad test JSON: %s", jerr.text);
	assert_int_not_equal(sl_dag_from_json(&dag, json, &err), 0);
	assert_null(dag);
	if (!strstr(err.buf, message))
		fail_msg("expected '%s' in '%s'", message, err.buf);
	json_decref(json);
	sl_strbuf_release(&err);
}

/* Edit one field of a valid DAG's JSON and check the message. */
static void expect_field_rejected(const char *pointer_key, json_t *value, const char *message)
{
	struct sl_dag *dag = load("fixtures/valid/minimal.yaml");
	json_t *json = sl_dag_to_json(dag);
	json_t *task = json_array_get(json_object_get(json, "tasks"), 0);
	char *text;

	if (!strncmp(pointer_key, "task.", 5))
		json_object_set_new(task, pointer_key + 5, value);
	else
		json_object_set_new(json, pointer_key, value);
	text = json_dumps(json, 0);
	expect_rejected(text, message);
	free(text);
	json_decref(json);
	sl_dag_free(dag);
}

static void test_bad_json_rejected(void **state)
{
	(void)state;
	expect_rejected("[]", "a DAG must be a JSON object");
	expect_rejected("{}", "missing field 'dag'");
	expect_rejected("{\"dag\": \"a b\"}", "bad DAG id 'a b'");
	expect_field_rejected("schedule", json_string("61 * * * *"), "schedule: minute 61");
	expect_field_rejected("catchup", json_string("yes"), "'catchup' must be true or false");
	expect_field_rejected("tasks", json_array(), "no tasks");
	expect_field_rejected("start_date", json_string("2026-02-30"), "field 'start_date'");
	expect_field_rejected("task.retry_delay", json_string("5 minutes"), "'retry_delay'");
	expect_field_rejected("task.trigger_rule", json_string("sometimes"),
	                      "unknown trigger rule 'sometimes'");
	expect_field_rejected("task.depends_on", json_pack("[s]", "nope"), "bad dependency");
	expect_field_rejected("task.retries", json_integer(5000), "'retries' is out of range");
	expect_field_rejected("task.env", json_pack("{s:i}", "A", 1), "env.A must be a string");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_round_trip),
	    cmocka_unit_test(test_fixtures_round_trip),
	    cmocka_unit_test(test_bad_json_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
