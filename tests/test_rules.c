#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/rules.h"

/*
 * Upstream states as letters, one per upstream task:
 *   S success  F failed  U upstream_failed  K skipped  C cancelled
 *   R removed  . running  p pending  r up_for_retry  s up_for_reschedule
 */
static enum sl_task_state state_of(char c)
{
	switch (c) {
	case 'S':
		return SL_TASK_SUCCESS;
	case 'F':
		return SL_TASK_FAILED;
	case 'U':
		return SL_TASK_UPSTREAM_FAILED;
	case 'K':
		return SL_TASK_SKIPPED;
	case 'C':
		return SL_TASK_CANCELLED;
	case 'R':
		return SL_TASK_REMOVED;
	case '.':
		return SL_TASK_RUNNING;
	case 'p':
		return SL_TASK_PENDING;
	case 'r':
		return SL_TASK_UP_FOR_RETRY;
	case 's':
		return SL_TASK_UP_FOR_RESCHEDULE;
	}
	fail_msg("bad state letter '%c'", c);
	return SL_TASK_PENDING;
}

static struct sl_upstream_counts counts_of(const char *ups)
{
	struct sl_upstream_counts c = SL_UPSTREAM_COUNTS_INIT;

	for (; *ups; ups++)
		sl_upstream_counts_add(&c, state_of(*ups));
	return c;
}

/* Verdicts as letters: R ready, W wait, K skip, U upstream_failed. */
static char verdict_letter(enum sl_trigger_verdict v)
{
	switch (v) {
	case SL_VERDICT_READY:
		return 'R';
	case SL_VERDICT_WAIT:
		return 'W';
	case SL_VERDICT_SKIP:
		return 'K';
	case SL_VERDICT_UPSTREAM_FAILED:
		return 'U';
	}
	return '?';
}

/*
 * The trigger-rule table of docs/execution.md. Columns, in enum order:
 *   all_success all_failed all_done all_skipped one_success one_failed
 *   one_done none_failed none_failed_min_one_success none_skipped always
 */
static const struct {
	const char *upstream;
	const char *verdicts;
} table[] = {
    /*             AS AF AD AK OS OF OD NF NM NK AL */
    {"", "RRRRRRRRRRR"},     {"R", "RRRRRRRRRRR"}, /* a removed upstream is no upstream */
    {".", "WWWWWWWWWWR"},    {"p", "WWWWWWWWWWR"},    {"r", "WWWWWWWWWWR"},
    {"s", "WWWWWWWWWWR"},    {"..", "WWWWWWWWWWR"},   {"S", "RKRKRKRRRRR"},
    {"SS", "RKRKRKRRRRR"},   {"SR", "RKRKRKRRRRR"},   {"F", "URRKURRUURR"},
    {"C", "URRKURRUURR"}, /* cancelled counts as failed */
    {"U", "URRKURKUURR"},    {"K", "KKRRKKKRKKR"},    {"KK", "KKRRKKKRKKR"},
    {"FF", "URRKURRUURR"},   {"FU", "URRKURRUURR"},   {"UU", "URRKURKUURR"},
    {"SF", "UKRKRRRUURR"},   {"SU", "UKRKRRRUURR"},   {"SK", "KKRKRKRRRKR"},
    {"SSK", "KKRKRKRRRKR"},  {"FK", "UKRKURRUUKR"},   {"UK", "UKRKURKUUKR"},
    {"S.", "WKWKRWRWWWR"},   {"F.", "UWWKWRRUUWR"},   {"U.", "UWWKWRWUUWR"},
    {"K.", "KKWWWWWWWKR"},   {"SK.", "KKWKRWRWWKR"},  {"FK.", "UKWKWRRUUKR"},
    {"SFK.", "UKWKRRRUUKR"}, {"SSS.", "WKWKRWRWWWR"},
};

static void test_trigger_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sl_upstream_counts c = counts_of(table[i].upstream);

		assert_int_equal(strlen(table[i].verdicts), SL_TRIGGER_ALWAYS + 1);
		for (int r = SL_TRIGGER_ALL_SUCCESS; r <= SL_TRIGGER_ALWAYS; r++) {
			char got = verdict_letter(sl_trigger_evaluate((enum sl_trigger_rule)r, &c));

			if (got != table[i].verdicts[r])
				fail_msg("%s with upstream \"%s\": expected %c, got %c",
				         sl_trigger_rule_name((enum sl_trigger_rule)r),
				         table[i].upstream, table[i].verdicts[r], got);
		}
	}
}

/* Every combination of up to four upstream tasks: once all of them are
 * finished no rule waits, and while none has finished only `always` (or
 * a removed-only upstream) is anything but WAIT. */
static void test_trigger_exhaustive(void **state)
{
	static const char letters[] = "SFUKC.";
	char ups[5];

	(void)state;
	for (int n = 0; n <= 4; n++) {
		int combos = 1;

		for (int k = 0; k < n; k++)
			combos *= 6;
		for (int x = 0; x < combos; x++) {
			bool all_done = true, none_done = true;
			struct sl_upstream_counts c;

			for (int k = 0, y = x; k < n; k++, y /= 6) {
				ups[k] = letters[y % 6];
				if (ups[k] == '.')
					all_done = false;
				else
					none_done = false;
			}
			ups[n] = '\0';
			c = counts_of(ups);
			assert_int_equal(c.total, (unsigned)n);
			for (int r = SL_TRIGGER_ALL_SUCCESS; r <= SL_TRIGGER_ALWAYS; r++) {
				enum sl_trigger_verdict v =
				    sl_trigger_evaluate((enum sl_trigger_rule)r, &c);

				if (all_done && v == SL_VERDICT_WAIT)
					fail_msg("%s waits on finished upstream \"%s\"",
					         sl_trigger_rule_name((enum sl_trigger_rule)r),
					         ups);
				if (n && none_done && r != SL_TRIGGER_ALWAYS &&
				    v != SL_VERDICT_WAIT)
					fail_msg("%s decided on unfinished upstream \"%s\"",
					         sl_trigger_rule_name((enum sl_trigger_rule)r),
					         ups);
			}
		}
	}
}

static void test_upstream_counts(void **state)
{
	struct sl_upstream_counts c = counts_of("SFUKC.prsR");

	(void)state;
	assert_int_equal(c.total, 9);
	assert_int_equal(c.done, 5);
	assert_int_equal(c.success, 1);
	assert_int_equal(c.failed, 2);
	assert_int_equal(c.upstream_failed, 1);
	assert_int_equal(c.skipped, 1);
}

static void test_state_names(void **state)
{
	enum sl_task_state s;

	(void)state;
	for (int i = SL_TASK_PENDING; i <= SL_TASK_REMOVED; i++) {
		assert_int_equal(sl_task_state_parse(sl_task_state_name((enum sl_task_state)i), &s),
		                 0);
		assert_int_equal(s, i);
	}
	assert_string_equal(sl_task_state_name(SL_TASK_UP_FOR_RETRY), "up_for_retry");
	assert_string_equal(sl_task_state_name((enum sl_task_state)99), "unknown");
	assert_int_equal(sl_task_state_parse("done", &s), -1);
	assert_string_equal(sl_run_state_name(SL_RUN_SUCCESS), "success");
	assert_string_equal(sl_trigger_verdict_name(SL_VERDICT_UPSTREAM_FAILED), "upstream_failed");
	assert_true(sl_task_state_finished(SL_TASK_SKIPPED));
	assert_true(sl_task_state_finished(SL_TASK_REMOVED));
	assert_false(sl_task_state_finished(SL_TASK_UP_FOR_RETRY));
	assert_false(sl_task_state_finished(SL_TASK_UP_FOR_RESCHEDULE));
	assert_false(sl_task_state_finished(SL_TASK_QUEUED));
}

static struct sl_task task_with(int retries, int64_t delay, enum sl_backoff backoff, int64_t max)
{
	struct sl_task t;

	memset(&t, 0, sizeof(t));
	t.retries = retries;
	t.retry_delay = delay;
	t.retry_backoff = backoff;
	t.max_retry_delay = max;
	t.poke_interval = 60;
	t.sensor_timeout = 7 * 86400;
	return t;
}

static void test_retry_delay(void **state)
{
	struct sl_task fixed = task_with(5, 30, SL_BACKOFF_FIXED, 10);
	struct sl_task expo = task_with(10, 10, SL_BACKOFF_EXPONENTIAL, 100);
	static const int64_t seq[] = {10, 20, 40, 80, 100, 100, 100};
	struct sl_task huge = task_with(100, (int64_t)100 * 365 * 86400, SL_BACKOFF_EXPONENTIAL,
	                                (int64_t)100 * 365 * 86400);
	struct sl_task big = task_with(100, 1, SL_BACKOFF_EXPONENTIAL, INT64_MAX);
	struct sl_task zero = task_with(3, 0, SL_BACKOFF_EXPONENTIAL, 100);
	struct sl_task over = task_with(3, 500, SL_BACKOFF_EXPONENTIAL, 100);

	(void)state;
	/* Fixed: the same delay every time; max_retry_delay is for back-off. */
	for (int try = 1; try <= 5; try++)
		assert_int_equal(sl_retry_delay(&fixed, try), 30);
	for (int try = 1; try <= 7; try++)
		assert_int_equal(sl_retry_delay(&expo, try), seq[try - 1]);
	assert_int_equal(sl_retry_delay(&expo, 1000), 100);
	assert_int_equal(sl_retry_delay(&expo, 0), 10);
	assert_int_equal(sl_retry_delay(&huge, 80), huge.max_retry_delay);
	/* No overflow far past 2^63. */
	assert_int_equal(sl_retry_delay(&big, 62), (int64_t)1 << 61);
	assert_true(sl_retry_delay(&big, 64) > 0);
	assert_true(sl_retry_delay(&big, 200) > 0);
	assert_true(sl_retry_delay(&big, 200) <= INT64_MAX);
	assert_int_equal(sl_retry_delay(&zero, 5), 0);
	assert_int_equal(sl_retry_delay(&over, 1), 100);
}

static void test_after_attempt_retry(void **state)
{
	struct sl_task t = task_with(2, 30, SL_BACKOFF_FIXED, 86400);
	struct sl_task e = task_with(3, 10, SL_BACKOFF_EXPONENTIAL, 25);
	struct sl_next_state n;

	(void)state;
	sl_rules_after_attempt(&t, SL_OUTCOME_FAILED, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RETRY);
	assert_int_equal(n.at_ms, 31000);
	sl_rules_after_attempt(&t, SL_OUTCOME_TIMEOUT, 2, 5000, 0, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RETRY);
	assert_int_equal(n.at_ms, 35000);
	sl_rules_after_attempt(&t, SL_OUTCOME_FAILED, 3, 5000, 0, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);
	assert_int_equal(n.at_ms, 0);
	sl_rules_after_attempt(&t, SL_OUTCOME_TIMEOUT, 3, 5000, 0, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);

	/* The back-off sequence through the outcome: 10s, 20s, capped 25s. */
	sl_rules_after_attempt(&e, SL_OUTCOME_FAILED, 1, 0, 0, &n);
	assert_int_equal(n.at_ms, 10000);
	sl_rules_after_attempt(&e, SL_OUTCOME_FAILED, 2, 0, 0, &n);
	assert_int_equal(n.at_ms, 20000);
	sl_rules_after_attempt(&e, SL_OUTCOME_FAILED, 3, 0, 0, &n);
	assert_int_equal(n.at_ms, 25000);
	sl_rules_after_attempt(&e, SL_OUTCOME_FAILED, 4, 0, 0, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);

	/* No retries at all. */
	t.retries = 0;
	sl_rules_after_attempt(&t, SL_OUTCOME_FAILED, 1, 0, 0, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);

	/* A retry time that would overflow saturates. */
	t.retries = 1;
	t.retry_delay = (int64_t)100 * 365 * 86400;
	sl_rules_after_attempt(&t, SL_OUTCOME_FAILED, 1, INT64_MAX - 5, 0, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RETRY);
	assert_true(n.at_ms == INT64_MAX);
}

static void test_after_attempt_simple(void **state)
{
	struct sl_task t = task_with(3, 30, SL_BACKOFF_FIXED, 86400);
	struct sl_next_state n;

	(void)state;
	sl_rules_after_attempt(&t, SL_OUTCOME_SUCCESS, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_SUCCESS);
	assert_int_equal(n.at_ms, 0);
	sl_rules_after_attempt(&t, SL_OUTCOME_SKIPPED, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_SKIPPED);
	/* Cancelled is final, even with retries left. */
	sl_rules_after_attempt(&t, SL_OUTCOME_CANCELLED, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_CANCELLED);
	/* A reschedule from a task that is no sensor is a failure. */
	sl_rules_after_attempt(&t, SL_OUTCOME_RESCHEDULE, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RETRY);
	t.retries = 0;
	sl_rules_after_attempt(&t, SL_OUTCOME_RESCHEDULE, 1, 1000, 0, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);
}

static void test_after_attempt_sensor(void **state)
{
	struct sl_task t = task_with(2, 30, SL_BACKOFF_FIXED, 86400);
	struct sl_next_state n;

	(void)state;
	t.sensor = true;
	t.poke_interval = 5;
	t.sensor_timeout = 60;
	/* Pokes 5 s apart while within 60 s of the first poke's start. */
	sl_rules_after_attempt(&t, SL_OUTCOME_RESCHEDULE, 1, 100000, 100000, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RESCHEDULE);
	assert_int_equal(n.at_ms, 105000);
	sl_rules_after_attempt(&t, SL_OUTCOME_RESCHEDULE, 1, 160000, 100000, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RESCHEDULE);
	assert_int_equal(n.at_ms, 165000);
	/* Past the timeout: failed, with retries left all the same. */
	sl_rules_after_attempt(&t, SL_OUTCOME_RESCHEDULE, 1, 160001, 100000, &n);
	assert_int_equal(n.state, SL_TASK_FAILED);
	assert_int_equal(n.at_ms, 0);
	/* A sensor's other outcomes follow the usual rules. */
	sl_rules_after_attempt(&t, SL_OUTCOME_FAILED, 1, 160001, 100000, &n);
	assert_int_equal(n.state, SL_TASK_UP_FOR_RETRY);
	sl_rules_after_attempt(&t, SL_OUTCOME_SUCCESS, 1, 160001, 100000, &n);
	assert_int_equal(n.state, SL_TASK_SUCCESS);
}

static enum sl_run_state run_of(const char *letters)
{
	enum sl_task_state states[16];
	size_t n = strlen(letters);

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		states[i] = state_of(letters[i]);
	return sl_rules_run_state(states, n);
}

static void test_run_state(void **state)
{
	(void)state;
	assert_int_equal(run_of(""), SL_RUN_SUCCESS);
	assert_int_equal(run_of("S"), SL_RUN_SUCCESS);
	assert_int_equal(run_of("SKR"), SL_RUN_SUCCESS);
	assert_int_equal(run_of("KK"), SL_RUN_SUCCESS);
	assert_int_equal(run_of("SF"), SL_RUN_FAILED);
	assert_int_equal(run_of("SU"), SL_RUN_FAILED);
	assert_int_equal(run_of("SC"), SL_RUN_FAILED);
	assert_int_equal(run_of("F."), SL_RUN_RUNNING);
	assert_int_equal(run_of("Sp"), SL_RUN_RUNNING);
	assert_int_equal(run_of("Sr"), SL_RUN_RUNNING);
	assert_int_equal(run_of("Ss"), SL_RUN_RUNNING);
}

/* pick -> {a, b}; c is downstream of a, not of pick. */
static void test_branch(void **state)
{
	size_t pick_down[] = {1, 2}, a_down[] = {3};
	struct sl_task tasks[4];
	struct sl_dag dag;
	struct sl_strbuf err = SL_STRBUF_INIT;

	(void)state;
	memset(tasks, 0, sizeof(tasks));
	memset(&dag, 0, sizeof(dag));
	tasks[0].id = (char *)"pick";
	tasks[0].downstream = pick_down;
	tasks[0].downstream_nr = 2;
	tasks[1].id = (char *)"a";
	tasks[1].downstream = a_down;
	tasks[1].downstream_nr = 1;
	tasks[2].id = (char *)"b";
	tasks[3].id = (char *)"c";
	dag.tasks = tasks;
	dag.tasks_nr = 4;

	assert_int_equal(sl_branch_check(&dag, 0, "a", &err), 0);
	assert_int_equal(sl_branch_check(&dag, 0, " a , b ", &err), 0);
	assert_int_equal(sl_branch_check(&dag, 0, "", &err), 0);
	assert_int_equal(sl_branch_check(&dag, 0, "a,,b,", &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(sl_branch_check(&dag, 0, "a,c", &err), SL_EINVAL);
	assert_string_equal(err.buf, "branch names 'c', which is not a direct downstream task "
	                             "of 'pick' (a, b)");
	sl_strbuf_reset(&err);
	assert_int_equal(sl_branch_check(&dag, 0, "ab", &err), SL_EINVAL);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_branch_check(&dag, 2, "a", &err), SL_EINVAL);
	assert_string_equal(err.buf, "branch names 'a', which is not a direct downstream task "
	                             "of 'b' (it has none)");
	sl_strbuf_release(&err);

	assert_true(sl_branch_takes("a", "a"));
	assert_true(sl_branch_takes(" b ,a", "a"));
	assert_true(sl_branch_takes("x,\tb", "b"));
	assert_false(sl_branch_takes("ab", "a"));
	assert_false(sl_branch_takes("a", "ab"));
	assert_false(sl_branch_takes("", "a"));
	assert_false(sl_branch_takes(",", "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trigger_table),
	    cmocka_unit_test(test_trigger_exhaustive),
	    cmocka_unit_test(test_upstream_counts),
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_retry_delay),
	    cmocka_unit_test(test_after_attempt_retry),
	    cmocka_unit_test(test_after_attempt_simple),
	    cmocka_unit_test(test_after_attempt_sensor),
	    cmocka_unit_test(test_run_state),
	    cmocka_unit_test(test_branch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
