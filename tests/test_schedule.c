#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include "sluice/civil.h"
#include "sluice/cron.h"
#include "sluice/error.h"
#include "sluice/schedule.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"

static struct sl_cron cron(const char *expr)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_cron c;
	size_t off;

	if (sl_cron_parse(&c, expr, &err, &off))
		fail_msg("'%s': %s", expr, err.buf);
	sl_strbuf_release(&err);
	return c;
}

static struct sl_tz *zone(const char *name)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;

	if (sl_tz_load(&tz, name, &err))
		fail_msg("zone %s: %s", name, err.buf);
	sl_strbuf_release(&err);
	return tz;
}

static void expect_interval(const struct sl_cron *c, const struct sl_tz *tz,
                            const struct sl_schedule_state *st, const char *start, const char *end)
{
	struct sl_interval iv = {0, 0};

	assert_int_equal(sl_schedule_next(c, tz, st, &iv), 0);
	assert_int_equal(iv.start, T(start));
	assert_int_equal(iv.end, T(end));
}

static void test_prev(void **state)
{
	struct sl_cron daily = cron("0 2 * * *"), leap = cron("0 0 29 2 *");
	struct sl_cron minute = cron("* * * * *");
	struct sl_tz *paris = zone("Europe/Paris");
	int64_t p;

	(void)state;
	assert_int_equal(sl_cron_prev(&daily, paris, T("2026-03-30T12:00:00Z"), &p), 0);
	assert_int_equal(p, T("2026-03-30T02:00:00+02:00"));
	/* At a fire time: that fire time. */
	assert_int_equal(sl_cron_prev(&daily, paris, T("2026-03-30T00:00:00Z"), &p), 0);
	assert_int_equal(p, T("2026-03-30T02:00:00+02:00"));
	/* 02:00 does not exist on 2026-03-29 in Paris: it fired at 03:00 CEST. */
	assert_int_equal(sl_cron_prev(&daily, paris, T("2026-03-29T23:00:00+02:00"), &p), 0);
	assert_int_equal(p, T("2026-03-29T03:00:00+02:00"));
	/* Years back, found by doubling the window. */
	assert_int_equal(sl_cron_prev(&leap, NULL, T("2027-02-28T00:00:00Z"), &p), 0);
	assert_int_equal(p, T("2024-02-29T00:00:00Z"));
	assert_int_equal(sl_cron_prev(&minute, NULL, T("2026-01-01T00:00:59Z"), &p), 0);
	assert_int_equal(p, T("2026-01-01T00:00:00Z"));
	sl_tz_free(paris);
}

static void test_first_run(void **state)
{
	struct sl_cron daily = cron("0 2 * * *");
	struct sl_tz *paris = zone("Europe/Paris");
	struct sl_schedule_state st = {0};

	(void)state;
	/* A start date in the future: the first interval starts at the
	 * first fire time on or after it, catchup or not. */
	st.start_date = T("2030-03-30T00:00:00+01:00");
	st.now = T("2026-01-01T00:00:00Z");
	expect_interval(&daily, paris, &st, "2030-03-30T02:00:00+01:00",
	                "2030-03-31T03:00:00+02:00");
	st.catchup = true;
	expect_interval(&daily, paris, &st, "2030-03-30T02:00:00+01:00",
	                "2030-03-31T03:00:00+02:00");

	/* A past start date with catchup: the first interval after it. */
	st.start_date = T("2026-01-01T00:00:00+01:00");
	st.now = T("2026-06-15T12:00:00Z");
	expect_interval(&daily, paris, &st, "2026-01-01T02:00:00+01:00",
	                "2026-01-02T02:00:00+01:00");

	/* Without catchup: the latest interval that has ended by now, whose
	 * run is due at once. */
	st.catchup = false;
	expect_interval(&daily, paris, &st, "2026-06-14T02:00:00+02:00",
	                "2026-06-15T02:00:00+02:00");
	/* Exactly at a fire time, that interval has just ended. */
	st.now = T("2026-06-15T02:00:00+02:00");
	expect_interval(&daily, paris, &st, "2026-06-14T02:00:00+02:00",
	                "2026-06-15T02:00:00+02:00");
	st.now--;
	expect_interval(&daily, paris, &st, "2026-06-13T02:00:00+02:00",
	                "2026-06-14T02:00:00+02:00");
	sl_tz_free(paris);
}

static void test_after_runs(void **state)
{
	struct sl_cron hourly = cron("0 * * * *"), daily = cron("0 2 * * *");
	struct sl_schedule_state st = {0};
	struct sl_interval iv;

	(void)state;
	st.start_date = T("2026-01-01T00:00:00Z");
	st.now = T("2026-01-10T12:30:00Z");
	st.has_last = true;
	st.last_end = T("2026-01-05T07:00:00Z");
	/* catchup: where the last scheduled run ended. */
	st.catchup = true;
	expect_interval(&hourly, NULL, &st, "2026-01-05T07:00:00Z", "2026-01-05T08:00:00Z");
	/* no catchup: skip to the latest complete interval. */
	st.catchup = false;
	expect_interval(&hourly, NULL, &st, "2026-01-10T11:00:00Z", "2026-01-10T12:00:00Z");
	/* Up to date: the interval after the last run, not yet due. */
	st.last_end = T("2026-01-10T12:00:00Z");
	expect_interval(&hourly, NULL, &st, "2026-01-10T12:00:00Z", "2026-01-10T13:00:00Z");
	/* The schedule changed since: the last end is aligned down. */
	st.catchup = true;
	st.last_end = T("2026-01-05T07:30:00Z");
	expect_interval(&daily, NULL, &st, "2026-01-05T02:00:00Z", "2026-01-06T02:00:00Z");

	/* The end date stops it; `following` chains intervals. */
	st.has_end_date = true;
	st.end_date = T("2026-01-05T01:59:59Z");
	assert_int_equal(sl_schedule_next(&daily, NULL, &st, &iv), SL_ENOENT);
	st.end_date = T("2026-01-06T02:00:00Z");
	assert_int_equal(sl_schedule_next(&daily, NULL, &st, &iv), 0);
	assert_int_equal(sl_schedule_following(&daily, NULL, &iv, true, st.end_date, &iv), 0);
	assert_int_equal(iv.start, T("2026-01-06T02:00:00Z"));
	assert_int_equal(iv.end, T("2026-01-07T02:00:00Z"));
	assert_int_equal(sl_schedule_following(&daily, NULL, &iv, true, st.end_date, &iv),
	                 SL_ENOENT);
}

static void test_load(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_schedule s = SL_SCHEDULE_INIT;
	struct sl_schedule_def def = {.schedule = "0 2 * * *", .timezone = "Europe/Paris"};
	int64_t seen = T("2026-01-01T00:00:00Z"), now = T("2026-06-15T12:00:00Z");

	(void)state;
	/* Without a start date, the schedule starts when the DAG was first seen. */
	assert_int_equal(sl_schedule_load(&s, &def, seen, false, 0, now, &err), 0);
	assert_int_equal(s.kind, SL_SCHEDULE_CRON);
	assert_string_equal(sl_tz_name(s.tz), "Europe/Paris");
	assert_int_equal(s.st.start_date, seen);
	assert_false(s.st.has_last);
	assert_int_equal(s.st.now, now);
	expect_interval(&s.cron, s.tz, &s.st, "2026-06-14T02:00:00+02:00",
	                "2026-06-15T02:00:00+02:00");
	sl_schedule_release(&s);

	def = (struct sl_schedule_def){.schedule = "@once",
	                               .has_start_date = true,
	                               .start_date = T("2026-03-01T00:00:00Z"),
	                               .has_end_date = true,
	                               .end_date = T("2026-04-01T00:00:00Z"),
	                               .catchup = true};
	assert_int_equal(
	    sl_schedule_load(&s, &def, seen, true, T("2026-03-02T00:00:00Z"), now, &err), 0);
	assert_int_equal(s.kind, SL_SCHEDULE_ONCE);
	assert_null(s.tz);
	assert_int_equal(s.st.start_date, T("2026-03-01T00:00:00Z"));
	assert_true(s.st.has_end_date && s.st.catchup && s.st.has_last);
	assert_int_equal(s.st.end_date, T("2026-04-01T00:00:00Z"));
	assert_int_equal(s.st.last_end, T("2026-03-02T00:00:00Z"));
	sl_schedule_release(&s);

	def = (struct sl_schedule_def){.schedule = NULL, .timezone = "UTC"};
	assert_int_equal(sl_schedule_load(&s, &def, seen, false, 0, now, &err), 0);
	assert_int_equal(s.kind, SL_SCHEDULE_NONE);
	sl_schedule_release(&s);

	/* What another sluice may have stored and this one cannot read. */
	def = (struct sl_schedule_def){.schedule = "0 2 * * *", .timezone = "Mars/Olympus"};
	assert_int_not_equal(sl_schedule_load(&s, &def, seen, false, 0, now, &err), 0);
	assert_true(err.len > 0);
	sl_schedule_release(&s);
	sl_strbuf_reset(&err);
	def = (struct sl_schedule_def){.schedule = "0 25 * * *", .timezone = "UTC"};
	assert_int_equal(sl_schedule_load(&s, &def, seen, false, 0, now, &err), SL_EINVAL);
	assert_true(err.len > 0);
	sl_schedule_release(&s);
	sl_strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prev),
	    cmocka_unit_test(test_first_run),
	    cmocka_unit_test(test_after_runs),
	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
