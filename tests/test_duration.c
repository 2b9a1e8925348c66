#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"

static int64_t parse_ok(const char *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t secs = -1;

	assert_int_equal(sl_duration_parse(s, &secs, &err), SL_OK);
	assert_string_equal(err.buf, "");
	sl_strbuf_release(&err);
	return secs;
}

static void parse_bad(const char *s, const char *why)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t secs = 7;

	assert_int_equal(sl_duration_parse(s, &secs, &err), SL_EINVAL);
	assert_int_equal(secs, 7);
	if (!strstr(err.buf, why))
		fail_msg("'%s': message '%s' lacks '%s'", s, err.buf, why);
	sl_strbuf_release(&err);
}

static void test_parse_valid(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("0"), 0);
	assert_int_equal(parse_ok("90"), 90);
	assert_int_equal(parse_ok("007"), 7);
	assert_int_equal(parse_ok("90s"), 90);
	assert_int_equal(parse_ok("5m"), 300);
	assert_int_equal(parse_ok("1h30m"), 5400);
	assert_int_equal(parse_ok("2d"), 172800);
	assert_int_equal(parse_ok("1d12h"), 129600);
	assert_int_equal(parse_ok("1d2h3m4s"), 93784);
	assert_int_equal(parse_ok("90m"), 5400);
	assert_int_equal(parse_ok("0s"), 0);
	assert_int_equal(parse_ok("36525d"), 3155760000LL);
}

static void test_parse_invalid(void **state)
{
	(void)state;
	parse_bad("", "empty");
	parse_bad("-5", "negative");
	parse_bad("-5m", "negative");
	parse_bad("5x", "units are d, h, m and s");
	parse_bad("5 m", "units are d, h, m and s");
	parse_bad("1m30h", "largest to smallest");
	parse_bad("1m1m", "largest to smallest");
	parse_bad("1h30", "no unit");
	parse_bad("h", "expected a number");
	parse_bad("1.5h", "units are d, h, m and s");
	parse_bad("36526d", "100 years");
	parse_bad("99999999999999999999999", "100 years");
	parse_bad("3155760001", "100 years");
}

static void format_is(int64_t secs, const char *want)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_duration_format(&sb, secs);
	assert_string_equal(sb.buf, want);
	sl_strbuf_release(&sb);
}

static void test_format(void **state)
{
	(void)state;
	format_is(0, "0s");
	format_is(59, "59s");
	format_is(90, "1m30s");
	format_is(5400, "1h30m");
	format_is(86400, "1d");
	format_is(93784, "1d2h3m4s");
	format_is(-60, "-1m");
}

static void test_round_trip(void **state)
{
	(void)state;
	for (int64_t s = 0; s < 200000; s += 37) {
		struct sl_strbuf sb = SL_STRBUF_INIT;

		sl_duration_format(&sb, s);
		assert_int_equal(parse_ok(sb.buf), s);
		sl_strbuf_release(&sb);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
