#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/cron.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"

static struct sl_cron parse_ok(const char *expr)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_cron c;
	size_t off = 0;

	if (sl_cron_parse(&c, expr, &err, &off))
		fail_msg("'%s' did not parse: %s (at %zu)", expr, err.buf, off);
	sl_strbuf_release(&err);
	return c;
}

static void expect_error(const char *expr, size_t offset, const char *message)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_cron c;
	size_t off = 12345;

	assert_int_equal(sl_cron_parse(&c, expr, &err, &off), SL_EINVAL);
	assert_string_equal(err.buf, message);
	if (off != offset)
		fail_msg("'%s': error offset %zu, want %zu", expr, off, offset);
	sl_strbuf_release(&err);
}

static uint64_t bits(const int *v, size_t n)
{
	uint64_t b = 0;

	for (size_t i = 0; i < n; i++)
		b |= (uint64_t)1 << v[i];
	return b;
}

#define BITS(...) bits((const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

static void test_parse_fields(void **state)
{
	struct sl_cron c;

	(void)state;
	c = parse_ok("*/15 9-17 * * MON-FRI");
	assert_int_equal(c.minutes, BITS(0, 15, 30, 45));
	assert_int_equal(c.hours, BITS(9, 10, 11, 12, 13, 14, 15, 16, 17));
	assert_int_equal(c.mdays, 0xfffffffe);
	assert_int_equal(c.months, 0x1ffe);
	assert_int_equal(c.wdays, BITS(1, 2, 3, 4, 5));
	assert_int_equal(c.flags, SL_CRON_MIN_STAR | SL_CRON_MDAY_STAR);

	c = parse_ok("5-59/10 */6 1,15 jan-Mar,DEC sun");
	assert_int_equal(c.minutes, BITS(5, 15, 25, 35, 45, 55));
	assert_int_equal(c.hours, BITS(0, 6, 12, 18));
	assert_int_equal(c.mdays, BITS(1, 15));
	assert_int_equal(c.months, BITS(1, 2, 3, 12));
	assert_int_equal(c.wdays, BITS(0));
	assert_int_equal(c.flags, SL_CRON_HOUR_STAR);

	/* cronie's "N/STEP" is "N-max/STEP". */
	c = parse_ok("10/15 3/8 2/10 6/3 1/2");
	assert_int_equal(c.minutes, BITS(10, 25, 40, 55));
	assert_int_equal(c.hours, BITS(3, 11, 19));
	assert_int_equal(c.mdays, BITS(2, 12, 22));
	assert_int_equal(c.months, BITS(6, 9, 12));
	assert_int_equal(c.wdays, BITS(1, 3, 5, 0)); /* 7 = Sunday */
	assert_int_equal(c.flags, 0);

	/* 7 is Sunday; 5-7 is Friday to Sunday. */
	assert_int_equal(parse_ok("0 0 * * 7").wdays, BITS(0));
	assert_int_equal(parse_ok("0 0 * * 5-7").wdays, BITS(0, 5, 6));
	assert_int_equal(parse_ok("0 0 * * 0-7").wdays, 0x7f);
	/* Star flags follow the text: "*,5" and "*\/2" start with '*'. */
	assert_int_equal(parse_ok("*/2 *,5 */2 * *,1").flags, SL_CRON_MIN_STAR | SL_CRON_HOUR_STAR |
	                                                          SL_CRON_MDAY_STAR |
	                                                          SL_CRON_WDAY_STAR);
	assert_int_equal(parse_ok("0-59 0-23 1-31 1-12 0-6").flags, 0);
	/* Blanks around and between fields, leading zeros. */
	c = parse_ok("  \t00  07\t* * *  ");
	assert_int_equal(c.minutes, 1);
	assert_int_equal(c.hours, BITS(7));
	assert_int_equal(parse_ok("*/60 * * * *").minutes, 1);
}

static void test_presets(void **state)
{
	static const char *const pairs[][2] = {
	    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},  {"@monthly", "0 0 1 * *"},
	    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
	    {"@hourly", "0 * * * *"}, {"  @daily  ", "0 0 * * *"},
	};

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(pairs); i++) {
		struct sl_cron a = parse_ok(pairs[i][0]), b = parse_ok(pairs[i][1]);

		assert_memory_equal(&a, &b, sizeof(a));
	}
	assert_int_equal(parse_ok("@hourly").flags,
	                 SL_CRON_HOUR_STAR | SL_CRON_MDAY_STAR | SL_CRON_WDAY_STAR);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *expr;
		size_t offset;
		const char *message;
	} cases[] = {
	    {"", 0,
	     "empty cron expression (expected 5 fields: minute hour day-of-month month "
	     "day-of-week)"},
	    {"0 0 * * * *", 10,
	     "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
	    {"0 0 * * * /bin/true", 10,
	     "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
	    {"0 0 * *", 7, "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
	    {"60 * * * *", 0, "minute 60 is out of range 0-59"},
	    {"0 24 * * *", 2, "hour 24 is out of range 0-23"},
	    {"0 0 0 * *", 4, "day-of-month 0 is out of range 1-31"},
	    {"0 0 32 * *", 4, "day-of-month 32 is out of range 1-31"},
	    {"0 0 1 13 *", 6, "month 13 is out of range 1-12"},
	    {"0 0 * * 8", 8, "day-of-week 8 is out of range 0-7"},
	    {"0 0 1-99999999999999 * *", 6, "day-of-month 99999999999999 is out of range 1-31"},
	    {"0 0 * * FRI-MON", 8, "range FRI-MON in the day-of-week field is reversed (5 > 1)"},
	    {"30-10 * * * *", 0, "range 30-10 in the minute field is reversed (30 > 10)"},
	    {"*/0 * * * *", 2, "step 0 in the minute field is out of range 1-60"},
	    {"0 */25 * * *", 4, "step 25 in the hour field is out of range 1-24"},
	    {"0/ * * * *", 2, "expected a number after '/' in the minute field"},
	    {"0 0 * JANUARY *", 6, "unknown month name 'JANUARY' (expected JAN-DEC)"},
	    {"0 0 * * MONDAY", 8, "unknown day-of-week name 'MONDAY' (expected SUN-SAT)"},
	    {"MON * * * *", 0, "'MON' is not a valid minute (expected a number 0-59)"},
	    {"0 0 L * *", 4, "'L' is not a valid day-of-month (expected a number 1-31)"},
	    {"0 0 ? * *", 4, "unexpected character '?' in the day-of-month field"},
	    {"0 0 * * 5#3", 9, "unexpected character '#' in the day-of-week field"},
	    {"1,,2 * * * *", 2, "empty item in the list of the minute field"},
	    {"1, * * * *", 2, "empty item in the list of the minute field"},
	    {",1 * * * *", 0, "empty item in the list of the minute field"},
	    {"5- * * * *", 2, "the minute field ends where a value was expected"},
	    {"*-5 * * * *", 1, "unexpected character '-' in the minute field"},
	    {"1-2-3 * * * *", 3, "unexpected character '-' in the minute field"},
	    {"@once", 0, "@once is not a cron expression: it names no time to fire at"},
	    {"@reboot", 0, "@reboot is not a cron expression: it names no time to fire at"},
	    {" @fortnightly", 1,
	     "unknown preset '@fortnightly' (expected @yearly, @annually, @monthly, "
	     "@weekly, @daily, @midnight or @hourly)"},
	    {"@DAILY", 0,
	     "unknown preset '@DAILY' (expected @yearly, @annually, @monthly, "
	     "@weekly, @daily, @midnight or @hourly)"},
	    {"@daily 0", 7, "unexpected text after @daily"},
	};

	(void)state;
	for (size_t i = 0; i < SL_ARRAY_SIZE(cases); i++)
		expect_error(cases[i].expr, cases[i].offset, cases[i].message);
}

static void test_never_fires(void **state)
{
	(void)state;
	expect_error("0 0 30 2 *", 4,
	             "0 0 30 2 * can never fire: no month in the month field "
	             "has day 30");
	expect_error("0 0 31 4,6,9,11 *", 4,
	             "0 0 31 4,6,9,11 * can never fire: no month in the month field has day 31");
	expect_error(" 0 0 30,31 FEB *  ", 5,
	             "0 0 30,31 FEB * can never fire: no month in the month field has day 30 or "
	             "31");
	/* AND-ed through a starred day-of-week. */
	expect_error("0 0 30 2 */2", 4,
	             "0 0 30 2 */2 can never fire: no month in the month field has day 30");
	/* These can fire: Feb 29 exists, the OR rule adds Mondays, and
	 * "*\/30" in day-of-month also holds day 1. */
	parse_ok("0 0 29 2 *");
	parse_ok("0 0 30 2 MON");
	parse_ok("0 0 */30 2 *");
	parse_ok("0 0 31 1-4 *");
}

/* Check successive fire times of `expr` in `zone`, each as a UTC ISO string. */
static void expect_next(const char *expr, const char *zone, const char *from,
                        const char *const *want, size_t n)
{
	struct sl_strbuf err = SL_STRBUF_INIT, got = SL_STRBUF_INIT;
	struct sl_cron c = parse_ok(expr);
	struct sl_tz *tz = NULL;
	int64_t t = T(from);

	if (sl_tz_load(&tz, zone, &err))
		fail_msg("%s", err.buf);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sl_cron_next(&c, tz, t, &t), 0);
		sl_strbuf_reset(&got);
		sl_iso_format(&got, t, NULL);
		if (strcmp(got.buf, want[i]))
			fail_msg("%s in %s from %s, fire %zu: got %s, want %s", expr, zone, from,
			         i + 1, got.buf, want[i]);
	}
	sl_tz_free(tz);
	sl_strbuf_release(&err);
	sl_strbuf_release(&got);
}

#define EXPECT_NEXT(expr, zone, from, ...)                                \
	expect_next(expr, zone, from, (const char *const[]){__VA_ARGS__}, \
	            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void test_next_business_hours(void **state)
{
	(void)state;
	/* 08:00Z is 09:00 in Paris (CET); "strictly after" skips 09:00. */
	EXPECT_NEXT("*/15 9-17 * * MON-FRI", "Europe/Paris", "2026-03-27T08:00:00Z",
	            "2026-03-27T08:15:00Z", "2026-03-27T08:30:00Z", "2026-03-27T08:45:00Z",
	            "2026-03-27T09:00:00Z", "2026-03-27T09:15:00Z");
	/* Friday's last run is 17:45 CET; Monday after the change to CEST
	 * starts at 09:00 CEST = 07:00Z. */
	EXPECT_NEXT("*/15 9-17 * * MON-FRI", "Europe/Paris", "2026-03-27T16:30:00Z",
	            "2026-03-27T16:45:00Z", "2026-03-30T07:00:00Z", "2026-03-30T07:15:00Z");
}

static void test_next_calendar(void **state)
{
	(void)state;
	EXPECT_NEXT("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z",
	            "2032-02-29T00:00:00Z");
	EXPECT_NEXT("0 0 28-31 * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z",
	            "2026-03-28T00:00:00Z", "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z",
	            "2026-03-31T00:00:00Z", "2026-04-28T00:00:00Z", "2026-04-29T00:00:00Z",
	            "2026-04-30T00:00:00Z", "2026-05-28T00:00:00Z");
	/* Both day fields restricted: the 13th OR any Friday (2026-01-01 is
	 * a Thursday; 2026-02-13 is both). */
	EXPECT_NEXT("0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
	            "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z",
	            "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-06T00:00:00Z",
	            "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z");
	/* Day-of-month starts with '*': odd days that are Fridays. */
	EXPECT_NEXT("0 0 */2 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z",
	            "2026-01-23T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-27T00:00:00Z");
	EXPECT_NEXT("0 12 * * 7", "UTC", "2026-03-27T00:00:00Z", "2026-03-29T12:00:00Z",
	            "2026-04-05T12:00:00Z");
	EXPECT_NEXT("0 12 * * 0", "UTC", "2026-03-27T00:00:00Z", "2026-03-29T12:00:00Z");
	EXPECT_NEXT("@hourly", "UTC", "2026-03-27T08:10:00Z", "2026-03-27T09:00:00Z",
	            "2026-03-27T10:00:00Z");
	EXPECT_NEXT("@daily", "UTC", "2026-03-27T08:10:00Z", "2026-03-28T00:00:00Z");
	EXPECT_NEXT("@weekly", "UTC", "2026-03-27T08:10:00Z", "2026-03-29T00:00:00Z");
	EXPECT_NEXT("@monthly", "UTC", "2026-03-27T08:10:00Z", "2026-04-01T00:00:00Z");
	EXPECT_NEXT("@yearly", "UTC", "2026-03-27T08:10:00Z", "2027-01-01T00:00:00Z");
	/* Strictly after: a fire time equal to `after` is not repeated. */
	EXPECT_NEXT("* * * * *", "UTC", "2026-03-27T08:10:00Z", "2026-03-27T08:11:00Z");
	EXPECT_NEXT("* * * * *", "UTC", "2026-03-27T08:10:59Z", "2026-03-27T08:11:00Z");
	/* Before the epoch, and across a year end. */
	EXPECT_NEXT("59 23 31 12 *", "UTC", "1969-06-01T00:00:00Z", "1969-12-31T23:59:00Z",
	            "1970-12-31T23:59:00Z");
	/* Local midnight in Kolkata (+05:30). */
	EXPECT_NEXT("0 0 * * *", "Asia/Kolkata", "2026-03-27T00:00:00Z", "2026-03-27T18:30:00Z");
}

static void test_next_dst_paris(void **state)
{
	(void)state;
	/* Spring forward 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z).
	 * A fixed 02:30 job runs once, at the end of the gap. */
	EXPECT_NEXT("30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z",
	            "2026-03-30T00:30:00Z");
	/* Gap times collapse to one run: 02:00 and 02:30 both map to 01:00Z. */
	EXPECT_NEXT("0,30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z",
	            "2026-03-30T00:00:00Z");
	/* A wildcard job follows the wall clock: 02:00 and 02:30 never show. */
	EXPECT_NEXT("*/30 * * * *", "Europe/Paris", "2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z",
	            "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z");
	EXPECT_NEXT("30 */1 * * *", "Europe/Paris", "2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z",
	            "2026-03-29T01:30:00Z");

	/* Fall back 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z), so
	 * 02:00-02:59 happens at 00:xxZ and again at 01:xxZ. */
	EXPECT_NEXT("30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z",
	            "2026-10-26T01:30:00Z");
	/* Having run at the first 02:30, it does not run at the second. */
	EXPECT_NEXT("30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
	EXPECT_NEXT("*/30 * * * *", "Europe/Paris", "2026-10-24T23:45:00Z", "2026-10-25T00:00:00Z",
	            "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z",
	            "2026-10-25T02:00:00Z");
	EXPECT_NEXT("30 */1 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z",
	            "2026-10-25T02:30:00Z");
	/* Far beyond the zone file's table, the footer rule decides. */
	EXPECT_NEXT("30 2 * * *", "Europe/Paris", "2100-03-27T12:00:00Z", "2100-03-28T01:00:00Z",
	            "2100-03-29T00:30:00Z");
}

static void test_next_dst_new_york(void **state)
{
	(void)state;
	/* 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z). */
	EXPECT_NEXT("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
	            "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z");
	EXPECT_NEXT("*/30 * * * *", "America/New_York", "2026-03-08T06:00:00Z",
	            "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z");
	/* 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00Z); 01:xx repeats. */
	EXPECT_NEXT("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
	            "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z");
	EXPECT_NEXT("*/30 * * * *", "America/New_York", "2026-11-01T04:45:00Z",
	            "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
	            "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z");
}

static void test_next_odd_zones(void **state)
{
	(void)state;
	/* Samoa skipped 2011-12-30: a fixed noon job runs once when the day
	 * resumes at 2011-12-31T00:00+14:00; an hourly job just skips it. */
	EXPECT_NEXT("0 12 * * *", "Pacific/Apia", "2011-12-29T12:00:00Z", "2011-12-29T22:00:00Z",
	            "2011-12-30T10:00:00Z", "2011-12-30T22:00:00Z");
	EXPECT_NEXT("0 * * * *", "Pacific/Apia", "2011-12-30T09:30:00Z", "2011-12-30T10:00:00Z",
	            "2011-12-30T11:00:00Z");
	/* Lord Howe moves its clock by 30 minutes: on 2026-10-04 02:00-02:29
	 * is skipped, so 02:15 runs at 02:30 (15:30Z). */
	EXPECT_NEXT("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
	            "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z");
	/* On 2026-04-05, 01:30-01:59 repeats: 01:45 runs at the first. */
	EXPECT_NEXT("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z",
	            "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z");
}

static void test_next_limits(void **state)
{
	struct sl_cron c = parse_ok("* * * * *");
	int64_t t = 0;

	(void)state;
	assert_int_equal(sl_cron_next(&c, NULL, INT64_MAX, &t), SL_ENOENT);
	assert_int_equal(sl_cron_next(&c, NULL, INT64_MIN, &t), SL_ENOENT);
	assert_int_equal(sl_cron_next(&c, NULL, -1, &t), 0);
	assert_int_equal(t, 0);
}

/* Rare matches, and many far-apart ones in a row, are found (how fast: bench, not here). */
static void test_next_rare(void **state)
{
	/* "0 0 29 2 1" is Feb 29 OR a Monday in February (both restricted);
	 * "*\/28" AND-s the day fields: Feb 1 or 29 that is a Monday, which
	 * is rare. */
	static const char *const exprs[] = {"0 0 29 2 1", "0 0 */28 2 1", "0 0 29 2 *", "* * * * *",
	                                    "59 23 31 12 *"};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *paris = NULL;
	int calls = 0;

	(void)state;
	assert_int_equal(sl_tz_load(&paris, "Europe/Paris", &err), 0);
	EXPECT_NEXT("0 0 */28 2 1", "UTC", "2026-01-01T00:00:00Z", "2027-02-01T00:00:00Z",
	            "2038-02-01T00:00:00Z", "2044-02-01T00:00:00Z", "2044-02-29T00:00:00Z");
	for (size_t i = 0; i < SL_ARRAY_SIZE(exprs); i++) {
		struct sl_cron c = parse_ok(exprs[i]);

		for (int64_t t = T("2026-01-01T00:00Z"); calls < 200 * ((int)i + 1); calls++)
			assert_int_equal(sl_cron_next(&c, paris, t, &t), 0);
	}
	sl_tz_free(paris);
	sl_strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_fields),        cmocka_unit_test(test_presets),
	    cmocka_unit_test(test_parse_errors),        cmocka_unit_test(test_never_fires),
	    cmocka_unit_test(test_next_business_hours), cmocka_unit_test(test_next_calendar),
	    cmocka_unit_test(test_next_dst_paris),      cmocka_unit_test(test_next_dst_new_york),
	    cmocka_unit_test(test_next_odd_zones),      cmocka_unit_test(test_next_limits),
	    cmocka_unit_test(test_next_rare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
