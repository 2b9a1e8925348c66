#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"

/*
 * A DAG built by hand: `n` tasks t0..t(n-1); `edges` holds pairs
 * {task, upstream}, ended by {-1, -1}.
 */
static struct sl_dag *make_dag(size_t n, const int (*edges)[2])
{
	struct sl_dag *dag = sl_xcalloc(1, sizeof(*dag));

	dag->tasks = sl_xcalloc(n, sizeof(*dag->tasks));
	dag->tasks_nr = n;
	for (size_t i = 0; i < n; i++) {
		dag->tasks[i].id = sl_xasprintf("t%zu", i);
		dag->tasks[i].upstream = sl_xcalloc(n, sizeof(size_t));
	}
	for (size_t e = 0; edges[e][0] >= 0; e++) {
		struct sl_task *t = &dag->tasks[edges[e][0]];

		t->upstream[t->upstream_nr++] = (size_t)edges[e][1];
	}
	return dag;
}

/* `n` tasks each depending on the next: deep, so nothing may recurse. */
static struct sl_dag *make_chain(size_t n)
{
	struct sl_dag *dag = sl_xcalloc(1, sizeof(*dag));

	dag->tasks = sl_xcalloc(n, sizeof(*dag->tasks));
	dag->tasks_nr = n;
	for (size_t i = 0; i < n; i++) {
		dag->tasks[i].id = sl_xasprintf("t%zu", i);
		if (i + 1 < n) {
			dag->tasks[i].upstream = sl_xcalloc(1, sizeof(size_t));
			dag->tasks[i].upstream[0] = i + 1;
			dag->tasks[i].upstream_nr = 1;
		}
	}
	return dag;
}

static void topo_is(const struct sl_dag *dag, const char *want)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	for (size_t i = 0; i < dag->tasks_nr; i++)
		sl_strbuf_addf(&sb, "%s%s", i ? " " : "", dag->tasks[dag->topo[i]].id);
	assert_string_equal(sb.buf, want);
	sl_strbuf_release(&sb);
}

static void test_topo_keeps_file_order(void **state)
{
	/* t1 <- t0, t2 <- t0, t3 <- t1 t2: file order is already valid */
	static const int edges[][2] = {{1, 0}, {2, 0}, {3, 1}, {3, 2}, {-1, -1}};
	struct sl_dag *dag = make_dag(5, edges);
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, &cycles), SL_OK);
	assert_int_equal(cycles.nr, 0);
	topo_is(dag, "t0 t1 t2 t3 t4");
	assert_int_equal(dag->tasks[0].downstream_nr, 2);
	assert_int_equal(dag->tasks[0].downstream[0], 1);
	assert_int_equal(dag->tasks[0].downstream[1], 2);
	assert_int_equal(dag->tasks[3].downstream_nr, 0);
	sl_dag_free(dag);
}

static void test_topo_reorders_when_needed(void **state)
{
	/* t0 <- t2, t1 <- t0, t2 alone: t2 must come first */
	static const int edges[][2] = {{0, 2}, {1, 0}, {-1, -1}};
	struct sl_dag *dag = make_dag(4, edges);

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, NULL), SL_OK);
	topo_is(dag, "t2 t0 t1 t3");
	assert_int_equal(dag->tasks[2].downstream_nr, 1);
	assert_int_equal(dag->tasks[2].downstream[0], 0);
	sl_dag_free(dag);
}

static void test_topo_long_chain(void **state)
{
	/* 100,000 tasks each depending on the next: deep, so no recursion. */
	size_t n = 100000;
	struct sl_dag *dag = make_chain(n);

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, NULL), SL_OK);
	assert_int_equal(dag->topo[0], n - 1);
	assert_int_equal(dag->topo[n - 1], 0);
	sl_dag_free(dag);
}

static void walk_is(const struct sl_dag_walk *w, const char *want)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	for (size_t i = 0; i < w->dag->tasks_nr; i++)
		if (sl_dag_walk_marked(w, i))
			sl_strbuf_addf(&sb, "%s%s", sb.len ? " " : "", w->dag->tasks[i].id);
	assert_string_equal(sb.buf, want);
	sl_strbuf_release(&sb);
}

static void test_walks(void **state)
{
	/* t1 <- t0, t2 <- t0, t3 <- t1 t2, t5 <- t4 */
	static const int edges[][2] = {{1, 0}, {2, 0}, {3, 1}, {3, 2}, {5, 4}, {-1, -1}};
	struct sl_dag *dag = make_dag(6, edges);
	struct sl_dag_walk w;

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, NULL), SL_OK);
	sl_dag_walk_init(&w, dag);
	walk_is(&w, "");
	sl_dag_walk_ancestors(&w, 3);
	walk_is(&w, "t0 t1 t2");
	sl_dag_walk_ancestors(&w, 5);
	walk_is(&w, "t4");
	sl_dag_walk_ancestors(&w, 0);
	walk_is(&w, "");
	sl_dag_walk_clear(&w);
	sl_dag_walk_add_descendants(&w, 1);
	walk_is(&w, "t3");
	sl_dag_walk_add_descendants(&w, 4);
	walk_is(&w, "t3 t5");
	sl_dag_walk_clear(&w);
	sl_dag_walk_add_descendants(&w, 0);
	walk_is(&w, "t1 t2 t3");
	sl_dag_walk_release(&w);
	sl_dag_free(dag);
}

static void test_walk_long_chain(void **state)
{
	/* t(i) depends on t(i+1): the ancestors of t0 are 100,000 deep. */
	size_t n = 100000, marked = 0;
	struct sl_dag *dag = make_chain(n);
	struct sl_dag_walk w;

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, NULL), SL_OK);
	sl_dag_walk_init(&w, dag);
	sl_dag_walk_ancestors(&w, 0);
	for (size_t i = 0; i < n; i++)
		marked += sl_dag_walk_marked(&w, i);
	assert_int_equal(marked, n - 1);
	sl_dag_walk_clear(&w);
	sl_dag_walk_add_descendants(&w, n - 1);
	assert_false(sl_dag_walk_marked(&w, n - 1));
	assert_true(sl_dag_walk_marked(&w, 0));
	sl_dag_walk_release(&w);
	sl_dag_free(dag);
}

static void cycle_is(const struct sl_dag *dag, const struct sl_dag_cycle *c, const char *want)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	for (size_t i = 0; i < c->nr; i++)
		sl_strbuf_addf(&sb, "%s -> ", dag->tasks[c->tasks[i]].id);
	sl_strbuf_adds(&sb, dag->tasks[c->tasks[0]].id);
	assert_string_equal(sb.buf, want);
	sl_strbuf_release(&sb);
}

static void test_cycles(void **state)
{
	/* t0 <- t2, t1 <- t0, t2 <- t1 (a 3-cycle); t3 <- t4, t4 <- t3; t5 <- t0 */
	static const int edges[][2] = {{0, 2}, {1, 0}, {2, 1}, {3, 4}, {4, 3}, {5, 0}, {-1, -1}};
	struct sl_dag *dag = make_dag(6, edges);
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;

	(void)state;
	assert_int_equal(sl_dag_graph_build(dag, &cycles), SL_EINVAL);
	assert_null(dag->topo);
	assert_int_equal(cycles.nr, 2);
	/* each arrow points from a task to one that depends on it */
	cycle_is(dag, &cycles.items[0], "t0 -> t1 -> t2 -> t0");
	cycle_is(dag, &cycles.items[1], "t3 -> t4 -> t3");
	sl_dag_cycles_release(&cycles);
	sl_dag_free(dag);
}

static void test_cycles_are_capped(void **state)
{
	/* 50 separate 2-cycles */
	int edges[101][2];
	struct sl_dag *dag;
	struct sl_dag_cycles cycles = SL_DAG_CYCLES_INIT;

	(void)state;
	for (int i = 0; i < 50; i++) {
		edges[2 * i][0] = 2 * i;
		edges[2 * i][1] = 2 * i + 1;
		edges[2 * i + 1][0] = 2 * i + 1;
		edges[2 * i + 1][1] = 2 * i;
	}
	edges[100][0] = edges[100][1] = -1;
	dag = make_dag(100, (const int(*)[2])edges);
	assert_int_equal(sl_dag_graph_build(dag, &cycles), SL_EINVAL);
	assert_int_equal(cycles.nr, SL_DAG_MAX_CYCLES);
	sl_dag_cycles_release(&cycles);
	sl_dag_free(dag);
}

static void test_task_index(void **state)
{
	static const int edges[][2] = {{-1, -1}};
	struct sl_dag *dag = make_dag(300, edges);

	(void)state;
	/* without an index: a scan */
	assert_int_equal(sl_dag_task_index(dag, "t17"), 17);
	assert_int_equal(sl_dag_task_index(dag, "nope"), -1);
	sl_dag_index_build(dag);
	for (size_t i = 0; i < dag->tasks_nr; i++)
		assert_int_equal(sl_dag_task_index(dag, dag->tasks[i].id), (long)i);
	assert_int_equal(sl_dag_task_index(dag, "t300"), -1);
	assert_int_equal(sl_dag_task_index(dag, ""), -1);
	assert_int_equal(sl_dag_task_index(dag, "u"), -1);
	sl_dag_free(dag);
}

static void test_trigger_rules(void **state)
{
	enum sl_trigger_rule r;

	(void)state;
	for (int i = SL_TRIGGER_ALL_SUCCESS; i <= SL_TRIGGER_ALWAYS; i++) {
		assert_int_equal(
		    sl_trigger_rule_parse(sl_trigger_rule_name((enum sl_trigger_rule)i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(sl_trigger_rule_name(SL_TRIGGER_NONE_FAILED_MIN_ONE_SUCCESS),
	                    "none_failed_min_one_success");
	assert_int_equal(sl_trigger_rule_parse("all_sucess", &r), -1);
	assert_int_equal(sl_trigger_rule_parse("", &r), -1);
}

static void test_id_valid(void **state)
{
	char id[202];

	(void)state;
	assert_true(sl_id_valid("nightly_etl"));
	assert_true(sl_id_valid("a.b-c_9"));
	assert_true(sl_id_valid("1"));
	assert_false(sl_id_valid(""));
	assert_false(sl_id_valid("a b"));
	assert_false(sl_id_valid("a/b"));
	assert_false(sl_id_valid("caf\xc3\xa9"));
	memset(id, 'x', 200);
	id[200] = '\0';
	assert_true(sl_id_valid(id));
	id[200] = 'x';
	id[201] = '\0';
	assert_false(sl_id_valid(id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_topo_keeps_file_order),
	    cmocka_unit_test(test_topo_reorders_when_needed),
	    cmocka_unit_test(test_topo_long_chain),
	    cmocka_unit_test(test_walks),
	    cmocka_unit_test(test_walk_long_chain),
	    cmocka_unit_test(test_cycles),
	    cmocka_unit_test(test_cycles_are_capped),
	    cmocka_unit_test(test_task_index),
	    cmocka_unit_test(test_trigger_rules),
	    cmocka_unit_test(test_id_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
