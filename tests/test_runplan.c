#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sluice/dag.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/runplan.h"
#include "sluice/strbuf.h"

/*
 * States as letters, one per task in file order:
 *   p pending  d scheduled  q queued  . running  S success  F failed
 *   r up_for_retry  s up_for_reschedule  U upstream_failed  K skipped
 *   C cancelled  - absent from the run
 */
static const struct {
	char letter;
	enum sl_task_state state;
} letters[] = {
    {'p', SL_TASK_PENDING},      {'d', SL_TASK_SCHEDULED},         {'q', SL_TASK_QUEUED},
    {'.', SL_TASK_RUNNING},      {'S', SL_TASK_SUCCESS},           {'F', SL_TASK_FAILED},
    {'r', SL_TASK_UP_FOR_RETRY}, {'s', SL_TASK_UP_FOR_RESCHEDULE}, {'U', SL_TASK_UPSTREAM_FAILED},
    {'K', SL_TASK_SKIPPED},      {'C', SL_TASK_CANCELLED},
};

static enum sl_task_state state_of(char c)
{
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (letters[i].letter == c)
			return letters[i].state;
	fail_msg("bad state letter '%c'", c);
	return SL_TASK_PENDING;
}

static char letter_of(const struct sl_runplan_task *t)
{
	if (!t->present)
		return '-';
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (letters[i].state == t->state)
			return letters[i].letter;
	return '?';
}

static struct sl_dag *load(const char *yaml)
{
	struct sl_diags d = SL_DIAGS_INIT;
	struct sl_dag *dag = NULL;

	if (sl_dag_load(&dag, "plan.yaml", yaml, strlen(yaml), NULL, &d) != SL_OK) {
		sl_diags_print(&d, stderr);
		fail_msg("the test DAG does not load");
	}
	sl_diags_release(&d);
	return dag;
}

/* A plan of `dag` with task i in state `states[i]` ('-': absent). */
static void plan_of(struct sl_runplan *plan, const struct sl_dag *dag, const char *states,
                    enum sl_runplan_absent absent)
{
	assert_int_equal(strlen(states), dag->tasks_nr);
	sl_runplan_init(plan, dag, absent);
	for (size_t i = 0; i < dag->tasks_nr; i++) {
		if (states[i] == '-')
			continue;
		plan->tasks[i].present = true;
		plan->tasks[i].state = state_of(states[i]);
	}
}

/* Advance and check the states that result, as letters. */
static void expect_advance(struct sl_runplan *plan, const char *expected)
{
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;
	char got[64];
	size_t n = plan->dag->tasks_nr;

	sl_runplan_advance(plan, &ch);
	for (size_t i = 0; i < n; i++)
		got[i] = letter_of(&plan->tasks[i]);
	got[n] = '\0';
	assert_string_equal(got, expected);
	sl_runplan_changes_release(&ch);
}

/* The change of task `t` in `ch`, or NULL. */
static const struct sl_runplan_change *change_of(const struct sl_runplan_changes *ch, size_t t)
{
	for (size_t i = 0; i < ch->nr; i++)
		if (ch->items[i].task == t)
			return &ch->items[i];
	return NULL;
}

/*
 * Every trigger rule over the upstream combinations of docs/execution.md's
 * table, through the plan: task `t` with the rule depends on up to four
 * upstream tasks in the given states. Expected letters, one per rule in
 * enum order: d scheduled (ready), p pending (wait), K skipped, U
 * upstream_failed.
 */
static const struct {
	const char *upstream;
	const char *expect;
} trigger_table[] = {
    /*              AS AF AD AK OS OF OD NF NM NK AL */
    {"", "ddddddddddd"},   {"SS", "dKdKdKddddd"},   {"S.", "pKpKdpdpppd"}, {"F", "UddKUddUUdd"},
    {"U", "UddKUdKUUdd"},  {"F.", "UppKpddUUpd"},   {"K", "KKddKKKdKKd"},  {"K.", "KKpppppppKd"},
    {"SF", "UKdKdddUUdd"}, {"SK", "KKdKdKdddKd"},   {"FK", "UKdKUddUUKd"}, {"C", "UddKUddUUdd"},
    {"Sr", "pKpKdpdpppd"}, {"SSFK", "UKdKdddUUKd"},
};

static void test_trigger_rules(void **state)
{
	(void)state;
	for (size_t row = 0; row < sizeof(trigger_table) / sizeof(trigger_table[0]); row++) {
		const char *ups = trigger_table[row].upstream;
		size_t nup = strlen(ups);

		assert_int_equal(strlen(trigger_table[row].expect), SL_TRIGGER_ALWAYS + 1);
		for (int r = SL_TRIGGER_ALL_SUCCESS; r <= SL_TRIGGER_ALWAYS; r++) {
			const char *rule = sl_trigger_rule_name((enum sl_trigger_rule)r);
			struct sl_strbuf y = SL_STRBUF_INIT, states = SL_STRBUF_INIT;
			struct sl_runplan plan;
			struct sl_dag *dag;
			char got;

			sl_strbuf_adds(&y, "tasks:\n");
			for (size_t u = 0; u < nup; u++)
				sl_strbuf_addf(&y, "  u%zu: {command: 'true'}\n", u);
			sl_strbuf_addf(&y, "  t: {command: 'true', trigger_rule: %s, depends_on: [",
			               rule);
			for (size_t u = 0; u < nup; u++)
				sl_strbuf_addf(&y, "%su%zu", u ? ", " : "", u);
			sl_strbuf_adds(&y, "]}\n");
			sl_strbuf_addf(&states, "%sp", ups);
			dag = load(y.buf);
			plan_of(&plan, dag, states.buf, SL_RUNPLAN_ABSENT_REMOVED);
			{
				struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;

				sl_runplan_advance(&plan, &ch);
				got = letter_of(&plan.tasks[nup]);
				if (got != trigger_table[row].expect[r])
					fail_msg("%s with upstream \"%s\": expected %c, got %c",
					         rule, ups, trigger_table[row].expect[r], got);
				/* Only t changes: the upstream tasks are not pending. */
				assert_int_equal(ch.nr, got == 'p' ? 0 : 1);
				if (ch.nr)
					assert_null(ch.items[0].reason);
				sl_runplan_changes_release(&ch);
			}
			sl_runplan_release(&plan);
			sl_dag_free(dag);
			sl_strbuf_release(&y);
			sl_strbuf_release(&states);
		}
	}
}

static const char branch_dag[] = "tasks:\n"
                                 "  pick: {command: 'true'}\n"
                                 "  left: {command: 'true', depends_on: [pick]}\n"
                                 "  right: {command: 'true', depends_on: [pick]}\n"
                                 "  after: {command: 'true', depends_on: [right]}\n"
                                 "  keep: {command: 'true', depends_on: [right], "
                                 "trigger_rule: all_done}\n"
                                 "  join: {command: 'true', depends_on: [left, after], "
                                 "trigger_rule: none_failed_min_one_success}\n"
                                 "  anyway: {command: 'true', depends_on: [pick], "
                                 "trigger_rule: always}\n";

static void test_branch(void **state)
{
	struct sl_dag *dag = load(branch_dag);
	struct sl_runplan plan;
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;
	const struct sl_runplan_change *c;

	(void)state;
	/* The branch task chose left: right and anyway (its rule
	 * notwithstanding) are skipped, the skip follows the trigger rules
	 * downstream (after skipped, keep runs), join waits for left. */
	plan_of(&plan, dag, "Spppppp", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_set_branch(&plan, 0, "left");
	assert_int_equal(sl_runplan_advance(&plan, &ch), 5);
	c = change_of(&ch, 2);
	assert_non_null(c);
	assert_int_equal(c->from, SL_TASK_PENDING);
	assert_int_equal(c->to, SL_TASK_SKIPPED);
	assert_string_equal(c->reason, "branch not taken by pick");
	c = change_of(&ch, 6);
	assert_non_null(c);
	assert_string_equal(c->reason, "branch not taken by pick");
	c = change_of(&ch, 3);
	assert_non_null(c);
	assert_int_equal(c->to, SL_TASK_SKIPPED);
	assert_null(c->reason); /* skipped by its trigger rule, not by the branch */
	assert_int_equal(change_of(&ch, 4)->to, SL_TASK_SCHEDULED);
	assert_null(change_of(&ch, 5));
	sl_runplan_changes_release(&ch);
	{
		char got[8];

		for (size_t i = 0; i < 7; i++)
			got[i] = letter_of(&plan.tasks[i]);
		got[7] = '\0';
		assert_string_equal(got, "SdKKdpK");
	}
	/* left succeeds: join runs (one success, the rest skipped). */
	plan.tasks[1].state = SL_TASK_SUCCESS;
	expect_advance(&plan, "SSKKddK");
	sl_runplan_release(&plan);

	/* An empty choice takes nothing; a choice of several takes each. */
	plan_of(&plan, dag, "Spppppp", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_set_branch(&plan, 0, "");
	expect_advance(&plan, "SKKKdKK");
	sl_runplan_release(&plan);
	plan_of(&plan, dag, "Spppppp", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_set_branch(&plan, 0, " right , anyway");
	expect_advance(&plan, "SKdpppd");
	sl_runplan_release(&plan);

	/* A branch task that did not succeed chooses nothing: its choice of an
	 * earlier try is not looked at. */
	plan_of(&plan, dag, "Fpppppp", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_set_branch(&plan, 0, "left");
	expect_advance(&plan, "FUUUdUd");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_skip_cascade(void **state)
{
	struct sl_dag *dag =
	    load("tasks:\n"
	         "  a: {command: 'true'}\n"
	         "  b: {command: 'true', depends_on: [a]}\n"
	         "  c: {command: 'true', depends_on: [b]}\n"
	         "  d: {command: 'true', depends_on: [c]}\n"
	         "  e: {command: 'true', depends_on: [d], trigger_rule: all_done}\n"
	         "  f: {command: 'true', depends_on: [d], trigger_rule: "
	         "none_failed}\n"
	         "  g: {command: 'true', depends_on: [e, f]}\n");
	struct sl_runplan plan;

	(void)state;
	/* exit 99 at the top: the whole chain is skipped in one call; the
	 * all_done and none_failed tasks run. */
	plan_of(&plan, dag, "Kpppppp", SL_RUNPLAN_ABSENT_REMOVED);
	expect_advance(&plan, "KKKKddp");
	/* Nothing more to decide while they run. */
	plan.tasks[4].state = SL_TASK_RUNNING;
	plan.tasks[5].state = SL_TASK_RUNNING;
	expect_advance(&plan, "KKKK..p");
	plan.tasks[4].state = SL_TASK_SUCCESS;
	plan.tasks[5].state = SL_TASK_SKIPPED;
	expect_advance(&plan, "KKKKSKK");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_upstream_failed_cascade(void **state)
{
	struct sl_dag *dag = load("tasks:\n"
	                          "  a: {command: 'true'}\n"
	                          "  b: {command: 'true', depends_on: [a]}\n"
	                          "  c: {command: 'true', depends_on: [b]}\n"
	                          "  alert: {command: 'true', depends_on: [c], trigger_rule: "
	                          "one_failed}\n"
	                          "  tidy: {command: 'true', depends_on: [c], trigger_rule: "
	                          "none_failed}\n"
	                          "  done: {command: 'true', depends_on: [a, c], trigger_rule: "
	                          "all_done}\n"
	                          "  ok: {command: 'true', depends_on: [c], trigger_rule: "
	                          "all_failed}\n");
	struct sl_runplan plan;
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;

	(void)state;
	plan_of(&plan, dag, "Fpppppp", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_advance(&plan, &ch);
	/* In topological order, each decision seen by the next. */
	assert_int_equal(ch.nr, 6);
	assert_int_equal(ch.items[0].task, 1);
	assert_int_equal(ch.items[1].task, 2);
	for (size_t i = 0; i < ch.nr; i++)
		assert_null(ch.items[i].reason);
	sl_runplan_changes_release(&ch);
	expect_advance(&plan, "FUUdUdd");
	sl_runplan_release(&plan);

	/* A failure still being retried decides nothing downstream. */
	plan_of(&plan, dag, "rpppppp", SL_RUNPLAN_ABSENT_REMOVED);
	expect_advance(&plan, "rpppppp");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_claim_order(void **state)
{
	struct sl_dag *dag = load("tasks:\n"
	                          "  a: {command: 'true'}\n"
	                          "  b: {command: 'true', priority: 5}\n"
	                          "  c: {command: 'true'}\n"
	                          "  d: {command: 'true', priority: 5}\n"
	                          "  e: {command: 'true', priority: -1}\n"
	                          "  f: {command: 'true', priority: 9}\n"
	                          "  g: {command: 'true', priority: 10}\n"
	                          "  h: {command: 'true', priority: 7}\n");
	struct sl_runplan plan;
	size_t out[8];

	(void)state;
	/* f is running and g is absent: neither is ready. */
	plan_of(&plan, dag, "dddddd-d", SL_RUNPLAN_ABSENT_REMOVED);
	plan.tasks[5].state = SL_TASK_RUNNING;
	assert_int_equal(sl_runplan_ready(&plan, out), 6);
	assert_int_equal(out[0], 7); /* h: 7 */
	assert_int_equal(out[1], 1); /* b: 5, before d: file order */
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 0); /* a: 0, before c */
	assert_int_equal(out[4], 2);
	assert_int_equal(out[5], 4); /* e: -1 */
	sl_runplan_release(&plan);

	plan_of(&plan, dag, "pppppppp", SL_RUNPLAN_ABSENT_REMOVED);
	assert_int_equal(sl_runplan_ready(&plan, out), 0);
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_depends_on_past(void **state)
{
	struct sl_dag *dag = load("tasks:\n"
	                          "  a: {command: 'true', depends_on_past: true}\n"
	                          "  b: {command: 'true', depends_on: [a]}\n"
	                          "  c: {command: 'true', depends_on_past: true}\n");
	struct sl_runplan plan;
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;

	(void)state;
	plan_of(&plan, dag, "ppp", SL_RUNPLAN_ABSENT_REMOVED);
	plan.tasks[0].past_blocked = true;
	assert_int_equal(sl_runplan_advance(&plan, &ch), 1);
	assert_int_equal(ch.items[0].task, 2);
	sl_runplan_changes_release(&ch);
	expect_advance(&plan, "ppd");
	/* The previous run's task done well: it may run. */
	plan.tasks[0].past_blocked = false;
	expect_advance(&plan, "dpd");
	sl_runplan_release(&plan);

	/* Only a task that is ready is held back: blocked, a skip still
	 * reaches it. */
	plan_of(&plan, dag, "ppp", SL_RUNPLAN_ABSENT_REMOVED);
	plan.tasks[1].past_blocked = true;
	plan.tasks[0].state = SL_TASK_SKIPPED;
	expect_advance(&plan, "KKd");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_pool_missing(void **state)
{
	struct sl_dag *dag =
	    load("tasks:\n"
	         "  a: {command: 'true', pool: gone}\n"
	         "  b: {command: 'true', depends_on: [a]}\n"
	         "  c: {command: 'true', depends_on: [a], trigger_rule: all_done}\n"
	         "  d: {command: 'true', pool: gone, retries: 1}\n"
	         "  e: {command: 'true', pool: gone}\n");
	struct sl_runplan plan;
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;
	const struct sl_runplan_change *c;

	(void)state;
	/* a is ready: it fails, and its downstream follow their rules at
	 * once. d was due for a retry and e scheduled when the pool went. */
	plan_of(&plan, dag, "ppprd", SL_RUNPLAN_ABSENT_REMOVED);
	plan.tasks[0].pool_missing = plan.tasks[3].pool_missing = true;
	plan.tasks[4].pool_missing = true;
	plan.tasks[3].due = true;
	sl_runplan_advance(&plan, &ch);
	c = change_of(&ch, 0);
	assert_non_null(c);
	assert_int_equal(c->from, SL_TASK_PENDING);
	assert_int_equal(c->to, SL_TASK_FAILED);
	assert_string_equal(c->reason,
	                    "pool 'gone' does not exist (create it with: sluice pools set gone "
	                    "SLOTS)");
	assert_int_equal(change_of(&ch, 1)->to, SL_TASK_UPSTREAM_FAILED);
	assert_null(change_of(&ch, 1)->reason);
	assert_int_equal(change_of(&ch, 2)->to, SL_TASK_SCHEDULED);
	assert_int_equal(change_of(&ch, 3)->from, SL_TASK_UP_FOR_RETRY);
	assert_int_equal(change_of(&ch, 3)->to, SL_TASK_FAILED);
	assert_non_null(change_of(&ch, 3)->reason);
	assert_int_equal(change_of(&ch, 4)->from, SL_TASK_SCHEDULED);
	assert_int_equal(change_of(&ch, 4)->to, SL_TASK_FAILED);
	sl_runplan_changes_release(&ch);
	assert_int_equal(sl_runplan_run_state(&plan, SL_RUN_RUNNING), SL_RUN_RUNNING);
	plan.tasks[2].state = SL_TASK_SUCCESS;
	assert_int_equal(sl_runplan_run_state(&plan, SL_RUN_RUNNING), SL_RUN_FAILED);
	sl_runplan_release(&plan);

	/* A task already running keeps going; one not yet due waits. */
	plan_of(&plan, dag, "ppprq", SL_RUNPLAN_ABSENT_REMOVED);
	plan.tasks[0].state = SL_TASK_RUNNING;
	plan.tasks[3].pool_missing = plan.tasks[4].pool_missing = true;
	expect_advance(&plan, ".pprq");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_due(void **state)
{
	struct sl_dag *dag = load("tasks:\n"
	                          "  a: {command: 'true', retries: 2}\n"
	                          "  s: {command: 'true', sensor: true}\n"
	                          "  b: {command: 'true', depends_on: [a, s]}\n");
	struct sl_runplan plan;
	struct sl_runplan_changes ch = SL_RUNPLAN_CHANGES_INIT;

	(void)state;
	plan_of(&plan, dag, "rsp", SL_RUNPLAN_ABSENT_REMOVED);
	expect_advance(&plan, "rsp");
	plan.tasks[0].due = true;
	assert_int_equal(sl_runplan_advance(&plan, &ch), 1);
	assert_int_equal(ch.items[0].from, SL_TASK_UP_FOR_RETRY);
	assert_int_equal(ch.items[0].to, SL_TASK_SCHEDULED);
	assert_null(ch.items[0].reason);
	assert_false(plan.tasks[0].due); /* used up */
	sl_runplan_changes_release(&ch);
	plan.tasks[1].due = true;
	expect_advance(&plan, "ddp");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

static void test_run_state(void **state)
{
	struct sl_dag *dag =
	    load("tasks:\n"
	         "  a: {command: 'true'}\n"
	         "  b: {command: 'true', depends_on: [a]}\n"
	         "  c: {command: 'true', depends_on: [a], trigger_rule: all_done}\n");
	static const struct {
		const char *states;
		enum sl_run_state cur, expect;
	} rows[] = {
	    /* queued until a task leaves pending, scheduled included */
	    {"ppp", SL_RUN_QUEUED, SL_RUN_QUEUED},
	    {"dpp", SL_RUN_QUEUED, SL_RUN_RUNNING},
	    {"ppp", SL_RUN_RUNNING, SL_RUN_RUNNING}, /* a cleared run stays running */
	    {".pp", SL_RUN_RUNNING, SL_RUN_RUNNING},
	    {"rpp", SL_RUN_RUNNING, SL_RUN_RUNNING},
	    {"Ss.", SL_RUN_RUNNING, SL_RUN_RUNNING},
	    {"SSS", SL_RUN_RUNNING, SL_RUN_SUCCESS},
	    {"SKS", SL_RUN_RUNNING, SL_RUN_SUCCESS}, /* skipped is fine */
	    {"FUS", SL_RUN_RUNNING, SL_RUN_FAILED},
	    {"SSC", SL_RUN_RUNNING, SL_RUN_FAILED},
	    {"SUS", SL_RUN_RUNNING, SL_RUN_FAILED},
	    {"KKK", SL_RUN_QUEUED, SL_RUN_SUCCESS},
	    {"S-p", SL_RUN_RUNNING, SL_RUN_RUNNING},
	    {"S-S", SL_RUN_RUNNING, SL_RUN_SUCCESS}, /* absent tasks do not count */
	    {"-p-", SL_RUN_QUEUED, SL_RUN_QUEUED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sl_runplan plan;
		enum sl_run_state got;

		plan_of(&plan, dag, rows[i].states, SL_RUNPLAN_ABSENT_REMOVED);
		got = sl_runplan_run_state(&plan, rows[i].cur);
		if (got != rows[i].expect)
			fail_msg("\"%s\" from %s: expected %s, got %s", rows[i].states,
			         sl_run_state_name(rows[i].cur), sl_run_state_name(rows[i].expect),
			         sl_run_state_name(got));
		sl_runplan_release(&plan);
	}
	sl_dag_free(dag);
}

/* Task instances the definition no longer has still count in the run. */
static void test_unknown_instances(void **state)
{
	struct sl_dag *dag = load("tasks:\n  a: {command: 'true'}\n");
	struct sl_runplan plan;

	(void)state;
	plan_of(&plan, dag, "S", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_add_other(&plan, SL_TASK_RUNNING);
	assert_int_equal(sl_runplan_run_state(&plan, SL_RUN_RUNNING), SL_RUN_RUNNING);
	sl_runplan_release(&plan);

	plan_of(&plan, dag, "S", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_add_other(&plan, SL_TASK_SUCCESS);
	sl_runplan_add_other(&plan, SL_TASK_FAILED);
	assert_int_equal(sl_runplan_run_state(&plan, SL_RUN_RUNNING), SL_RUN_FAILED);
	sl_runplan_release(&plan);

	/* One that has started starts the run. */
	plan_of(&plan, dag, "p", SL_RUNPLAN_ABSENT_REMOVED);
	sl_runplan_add_other(&plan, SL_TASK_RUNNING);
	assert_int_equal(sl_runplan_run_state(&plan, SL_RUN_QUEUED), SL_RUN_RUNNING);
	expect_advance(&plan, "d");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

/*
 * The two readings of a task absent from the run: the engine's (no task
 * instance: the edge is gone) and sluice test's (not selected: succeeded).
 */
static void test_absent(void **state)
{
	struct sl_dag *dag =
	    load("tasks:\n"
	         "  a: {command: 'true'}\n"
	         "  b: {command: 'true', depends_on: [a]}\n"
	         "  c: {command: 'true', depends_on: [a], trigger_rule: one_failed}\n"
	         "  d: {command: 'true', depends_on: [a], trigger_rule: "
	         "all_skipped}\n"
	         "  e: {command: 'true', depends_on: [b, a]}\n");
	struct sl_runplan plan;

	(void)state;
	plan_of(&plan, dag, "-pppp", SL_RUNPLAN_ABSENT_REMOVED);
	expect_advance(&plan, "-dddp");
	sl_runplan_release(&plan);
	plan_of(&plan, dag, "-pppp", SL_RUNPLAN_ABSENT_SUCCEEDED);
	expect_advance(&plan, "-dKKp");
	plan.tasks[1].state = SL_TASK_SUCCESS;
	expect_advance(&plan, "-SKKd");
	sl_runplan_release(&plan);
	/* An absent task is never decided, nor its branch choice used. */
	plan_of(&plan, dag, "-pppp", SL_RUNPLAN_ABSENT_SUCCEEDED);
	sl_runplan_set_branch(&plan, 0, "c");
	expect_advance(&plan, "-dKKp");
	sl_runplan_release(&plan);
	sl_dag_free(dag);
}

/* A poke is not a try: a sensor's pokes share their try; a retry or a clear starts a new one. */
static void test_next_attempt(void **state)
{
	int try_number = 0, pokes = 0;
	static const enum sl_task_state after[] = {
	    SL_TASK_UP_FOR_RESCHEDULE, SL_TASK_UP_FOR_RESCHEDULE, SL_TASK_UP_FOR_RETRY,
	    SL_TASK_UP_FOR_RESCHEDULE, SL_TASK_SUCCESS,
	};
	static const int want[][2] = {{1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2}};

	(void)state;
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
		sl_runplan_next_attempt(try_number, pokes, &try_number, &pokes);
		assert_int_equal(try_number, want[i][0]);
		assert_int_equal(pokes, want[i][1]);
		pokes = sl_runplan_pokes_after(pokes, after[i]);
	}
	assert_int_equal(pokes, 0);
	/* After a clear (pokes reset to 0 by the store), the next try. */
	sl_runplan_next_attempt(2, 0, &try_number, &pokes);
	assert_int_equal(try_number, 3);
	assert_int_equal(pokes, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trigger_rules), cmocka_unit_test(test_branch),
	    cmocka_unit_test(test_skip_cascade),  cmocka_unit_test(test_upstream_failed_cascade),
	    cmocka_unit_test(test_claim_order),   cmocka_unit_test(test_depends_on_past),
	    cmocka_unit_test(test_pool_missing),  cmocka_unit_test(test_due),
	    cmocka_unit_test(test_run_state),     cmocka_unit_test(test_unknown_instances),
	    cmocka_unit_test(test_absent),        cmocka_unit_test(test_next_attempt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
