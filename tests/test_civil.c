#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"

static void test_known_days(void **state)
{
	(void)state;
	assert_int_equal(sl_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(sl_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(sl_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(sl_days_from_civil(2026, 3, 27), 20539);
	assert_int_equal(sl_days_from_civil(0, 3, 1), -719468);
	assert_int_equal(sl_days_from_civil(0, 1, 1), -719528);
	assert_int_equal(sl_days_from_civil(-1, 12, 31), -719529);
	/* 2^31 seconds after the epoch: 2038-01-19T03:14:08Z. */
	assert_int_equal(sl_days_from_civil(2038, 1, 19), 24855);
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_true(sl_is_leap_year(2000));
	assert_true(sl_is_leap_year(2028));
	assert_true(sl_is_leap_year(0));
	assert_true(sl_is_leap_year(-4));
	assert_true(sl_is_leap_year(-400));
	assert_false(sl_is_leap_year(1900));
	assert_false(sl_is_leap_year(2100));
	assert_false(sl_is_leap_year(2026));
	assert_false(sl_is_leap_year(-100));
	assert_false(sl_is_leap_year(-1));
	assert_int_equal(sl_days_in_month(2026, 2), 28);
	assert_int_equal(sl_days_in_month(2028, 2), 29);
	assert_int_equal(sl_days_in_month(1900, 2), 28);
	assert_int_equal(sl_days_in_month(2026, 4), 30);
	assert_int_equal(sl_days_in_month(2026, 12), 31);
	assert_int_equal(sl_days_in_month(2026, 13), 0);
}

/* Walk day by day over ~4400 years either side of the epoch, checking that
 * each day is the successor of the one before and that both directions
 * agree. */
static void test_round_trip_wide(void **state)
{
	struct sl_civil prev, c;

	(void)state;
	sl_civil_from_secs(-1600000LL * 86400, &prev);
	for (int64_t d = -1600000 + 1; d <= 1600000; d++) {
		sl_civil_from_secs(d * 86400, &c);
		assert_int_equal(sl_days_from_civil(c.year, c.month, c.day), d);
		assert_int_equal(c.wday, (prev.wday + 1) % 7);
		if (c.day == 1) {
			assert_int_equal(prev.day, sl_days_in_month(prev.year, prev.month));
			assert_int_equal(c.month, prev.month % 12 + 1);
			assert_int_equal(c.year, prev.year + (c.month == 1));
		} else {
			assert_int_equal(c.day, prev.day + 1);
			assert_int_equal(c.month, prev.month);
			assert_int_equal(c.year, prev.year);
		}
		prev = c;
	}
}

static void expect_fields(int64_t secs, int year, int month, int day, int hour, int minute,
                          int second, int wday)
{
	struct sl_civil c;

	sl_civil_from_secs(secs, &c);
	assert_int_equal(c.year, year);
	assert_int_equal(c.month, month);
	assert_int_equal(c.day, day);
	assert_int_equal(c.hour, hour);
	assert_int_equal(c.minute, minute);
	assert_int_equal(c.second, second);
	assert_int_equal(c.wday, wday);
	assert_int_equal(sl_secs_from_civil(&c), secs);
}

static void test_secs_fields(void **state)
{
	(void)state;
	expect_fields(-1, 1969, 12, 31, 23, 59, 59, 3);                  /* a Wednesday */
	expect_fields(1774602900, 2026, 3, 27, 9, 15, 0, 5);             /* a Friday */
	expect_fields(-719529LL * 86400 + 3723, -1, 12, 31, 1, 2, 3, 5); /* 1 BC ends on a Friday */
	expect_fields(-62135596800, 1, 1, 1, 0, 0, 0, 1); /* 0001-01-01 was a Monday */
}

static void test_secs_from_civil_normalises(void **state)
{
	struct sl_civil c = {.year = 2026, .month = 13, .day = 1};

	(void)state;
	assert_int_equal(sl_secs_from_civil(&c), sl_days_from_civil(2027, 1, 1) * 86400);
	c = (struct sl_civil){.year = 2026, .month = 0, .day = 1};
	assert_int_equal(sl_secs_from_civil(&c), sl_days_from_civil(2025, 12, 1) * 86400);
	c = (struct sl_civil){.year = 2026, .month = 2, .day = 29, .hour = 24};
	assert_int_equal(sl_secs_from_civil(&c), sl_days_from_civil(2026, 3, 2) * 86400);
}

static int64_t parse_ok(const char *s, const struct sl_tz *tz)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t t = 0;

	if (sl_iso_parse(s, tz, &t, &err) != 0)
		fail_msg("'%s' did not parse: %s", s, err.buf);
	assert_int_equal(err.len, 0);
	sl_strbuf_release(&err);
	return t;
}

static void expect_parse_error(const char *s, const char *message)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t t = 0;

	assert_int_equal(sl_iso_parse(s, NULL, &t, &err), SL_EINVAL);
	assert_string_equal(err.buf, message);
	sl_strbuf_release(&err);
}

static void test_iso_parse_forms(void **state)
{
	const int64_t t0915 = 1774602900; /* 2026-03-27T09:15:00Z */

	(void)state;
	assert_int_equal(parse_ok("2026-03-27", NULL), 1774569600);
	assert_int_equal(parse_ok("2026-03-27T09:15", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27 09:15", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T09:15:00", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T09:15:30", NULL), t0915 + 30);
	assert_int_equal(parse_ok("2026-03-27T09:15:30.999", NULL), t0915 + 30);
	assert_int_equal(parse_ok("2026-03-27T09:15:30.5Z", NULL), t0915 + 30);
	assert_int_equal(parse_ok("2026-03-27T09:15Z", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T10:15+01:00", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T10:15:00+0100", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T03:45-05:30", NULL), t0915);
	assert_int_equal(parse_ok("2026-03-27T09:15-00:00", NULL), t0915);
	assert_int_equal(parse_ok("1969-12-31T23:59:59Z", NULL), -1);
	assert_int_equal(parse_ok("0001-01-01", NULL), -62135596800);
	assert_int_equal(parse_ok("2028-02-29", NULL), 1835395200);
}

static void test_iso_parse_in_zone(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *paris = NULL;

	(void)state;
	assert_int_equal(sl_tz_load(&paris, "Europe/Paris", &err), 0);
	/* A wall-clock time in Paris (CET, +01:00). */
	assert_int_equal(parse_ok("2026-03-27T09:15", paris), parse_ok("2026-03-27T08:15Z", NULL));
	/* A date is midnight local time. */
	assert_int_equal(parse_ok("2026-07-01", paris), parse_ok("2026-06-30T22:00Z", NULL));
	/* An explicit offset wins over the zone. */
	assert_int_equal(parse_ok("2026-03-27T09:15Z", paris), parse_ok("2026-03-27T09:15Z", NULL));
	/* 02:30 does not exist on 2026-03-29: moved forward by the gap, it
	 * reads as 03:30 CEST. */
	assert_int_equal(parse_ok("2026-03-29T02:30", paris), parse_ok("2026-03-29T01:30Z", NULL));
	/* 02:30 happens twice on 2026-10-25: the earlier (CEST) is taken. */
	assert_int_equal(parse_ok("2026-10-25T02:30", paris), parse_ok("2026-10-25T00:30Z", NULL));
	sl_tz_free(paris);
	sl_strbuf_release(&err);
}

static void test_iso_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("2026-02-30", "invalid date '2026-02-30': February 2026 has 28 days");
	expect_parse_error("2028-02-30T10:00",
	                   "invalid date '2028-02-30': February 2028 has 29 days");
	expect_parse_error("2026-04-31", "invalid date '2026-04-31': April 2026 has 30 days");
	expect_parse_error("2026-01-00", "invalid date '2026-01-00': January 2026 has 31 days");
	expect_parse_error("2026-13-01",
	                   "invalid date-time '2026-13-01': month 13 is out of range 01-12");
	expect_parse_error("2026-03-27T25:00",
	                   "invalid date-time '2026-03-27T25:00': hour 25 is out of range 00-23");
	expect_parse_error("2026-03-27T09:60",
	                   "invalid date-time '2026-03-27T09:60': minute 60 is out of range 00-59");
	expect_parse_error("2026-03-27T09:15:60", "invalid date-time '2026-03-27T09:15:60': "
	                                          "second 60 is out of range 00-59");
	expect_parse_error("2026-03-27x",
	                   "invalid date-time '2026-03-27x': unexpected 'x' at column 11");
	expect_parse_error(
	    "2026-03-27T09:15Zjunk",
	    "invalid date-time '2026-03-27T09:15Zjunk': unexpected 'j' at column 18");
	expect_parse_error("2026-03-27T09:15 ",
	                   "invalid date-time '2026-03-27T09:15 ': unexpected ' ' at column 17");
	expect_parse_error("2026-03-27Z",
	                   "invalid date-time '2026-03-27Z': unexpected 'Z' at column 11");
	expect_parse_error("26-03-27", "invalid date-time '26-03-27': expected YYYY-MM-DD or "
	                               "YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM offset");
	expect_parse_error("2026-3-27",
	                   "invalid date-time '2026-3-27': expected YYYY-MM-DD or "
	                   "YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM offset");
	expect_parse_error("", "invalid date-time '': expected YYYY-MM-DD or "
	                       "YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM offset");
	expect_parse_error(
	    "2026-03-27T",
	    "invalid date-time '2026-03-27T': expected a time HH:MM[:SS] after the date");
	expect_parse_error("2026-03-27T9:15", "invalid date-time '2026-03-27T9:15': expected a "
	                                      "time HH:MM[:SS] after the date");
	expect_parse_error(
	    "2026-03-27T09:15:3",
	    "invalid date-time '2026-03-27T09:15:3': expected two digits of seconds");
	expect_parse_error("2026-03-27T09:15:30.",
	                   "invalid date-time '2026-03-27T09:15:30.': expected digits after '.'");
	expect_parse_error(
	    "2026-03-27T09:15+1",
	    "invalid date-time '2026-03-27T09:15+1': expected an offset +HH:MM or +HHMM");
	expect_parse_error(
	    "2026-03-27T09:15+24:00",
	    "invalid date-time '2026-03-27T09:15+24:00': offset 24:00 is out of range");
	expect_parse_error("2026-03-27T09:15:00 and a very long tail that goes on and on and on",
	                   "invalid date-time '2026-03-27T09:15:00 and a very long tail that goes "
	                   "on and on and...': unexpected ' ' at column 20");
}

static void expect_format(int64_t t, const struct sl_tz *tz, const char *want)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_iso_format(&sb, t, tz);
	assert_string_equal(sb.buf, want);
	sl_strbuf_release(&sb);
}

static void test_iso_format(void **state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *paris = NULL, *ny = NULL, *kolkata = NULL;
	const int64_t t0915 = 1774602900;

	(void)state;
	assert_int_equal(sl_tz_load(&paris, "Europe/Paris", &err), 0);
	assert_int_equal(sl_tz_load(&ny, "America/New_York", &err), 0);
	assert_int_equal(sl_tz_load(&kolkata, "Asia/Kolkata", &err), 0);
	expect_format(t0915, NULL, "2026-03-27T09:15:00Z");
	expect_format(t0915, sl_tz_utc(), "2026-03-27T09:15:00Z");
	expect_format(t0915 - 900, paris, "2026-03-27T10:00:00+01:00");
	expect_format(t0915 + 86400 * 7, paris, "2026-04-03T11:15:00+02:00");
	expect_format(t0915, ny, "2026-03-27T05:15:00-04:00");
	expect_format(t0915, kolkata, "2026-03-27T14:45:00+05:30");
	expect_format(-1, NULL, "1969-12-31T23:59:59Z");
	expect_format(-62135596800, NULL, "0001-01-01T00:00:00Z");
	expect_format(-62135596801, NULL, "0000-12-31T23:59:59Z");
	expect_format(-62167219201, NULL, "-0001-12-31T23:59:59Z");
	/* Paris mean time, +00:09:21, before 1911: the seconds are kept. */
	expect_format(-2500000000, paris, "1890-10-11T19:42:41+00:09:21");
	/* Round trips through the parser, in and out of DST. */
	for (int64_t t = 1774000000; t < 1774000000 + 400 * 86400; t += 86400 / 3 + 7) {
		struct sl_strbuf sb = SL_STRBUF_INIT;

		sl_iso_format(&sb, t, paris);
		assert_int_equal(parse_ok(sb.buf, NULL), t);
		sl_strbuf_release(&sb);
	}
	sl_tz_free(paris);
	sl_tz_free(ny);
	sl_tz_free(kolkata);
	sl_strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_days),
	    cmocka_unit_test(test_leap_years),
	    cmocka_unit_test(test_round_trip_wide),
	    cmocka_unit_test(test_secs_fields),
	    cmocka_unit_test(test_secs_from_civil_normalises),
	    cmocka_unit_test(test_iso_parse_forms),
	    cmocka_unit_test(test_iso_parse_in_zone),
	    cmocka_unit_test(test_iso_parse_errors),
	    cmocka_unit_test(test_iso_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
