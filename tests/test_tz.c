#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/tz.h"

static struct sl_tz *load(const char *name)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;

	if (sl_tz_load(&tz, name, &err))
		fail_msg("cannot load %s: %s", name, err.buf);
	assert_string_equal(sl_tz_name(tz), name);
	sl_strbuf_release(&err);
	return tz;
}

struct offset_case {
	const char *utc;
	int32_t offset;
};

static void check_offsets(const char *zone, const struct offset_case *cases, size_t n)
{
	struct sl_tz *tz = load(zone);

	for (size_t i = 0; i < n; i++) {
		int32_t got = sl_tz_offset(tz, T(cases[i].utc));

		if (got != cases[i].offset)
			fail_msg("%s at %s: offset %d, want %d", zone, cases[i].utc, (int)got,
			         (int)cases[i].offset);
		assert_int_equal(sl_tz_to_local(tz, T(cases[i].utc)),
		                 T(cases[i].utc) + cases[i].offset);
	}
	sl_tz_free(tz);
}

static void test_paris(void **state)
{
	static const struct offset_case cases[] = {
	    {"2026-01-15T12:00:00Z", 3600},
	    {"2026-07-15T12:00:00Z", 7200},
	    /* Last Sunday of March and October, at 01:00 UTC. */
	    {"2026-03-29T00:59:59Z", 3600},
	    {"2026-03-29T01:00:00Z", 7200},
	    {"2026-10-25T00:59:59Z", 7200},
	    {"2026-10-25T01:00:00Z", 3600},
	    /* 2100 is far past the last transition: the footer rule. */
	    {"2100-03-28T00:59:59Z", 3600},
	    {"2100-03-28T01:00:00Z", 7200},
	    {"2100-10-31T00:59:59Z", 7200},
	    {"2100-10-31T01:00:00Z", 3600},
	    {"2426-03-30T01:00:00Z", 7200}, /* the rule, one 400-year cycle on */
	    {"1942-07-01T00:00:00Z", 7200}, /* German summer time */
	    {"1900-01-01T00:00:00Z", 561},  /* Paris mean time */
	};

	(void)state;
	check_offsets("Europe/Paris", cases, SL_ARRAY_SIZE(cases));
}

static void test_new_york(void **state)
{
	static const struct offset_case cases[] = {
	    {"2026-03-08T06:59:59Z", -18000}, {"2026-03-08T07:00:00Z", -14400},
	    {"2026-11-01T05:59:59Z", -14400}, {"2026-11-01T06:00:00Z", -18000},
	    {"2100-01-01T00:00:00Z", -18000}, {"2100-07-01T00:00:00Z", -14400},
	    {"1880-01-01T00:00:00Z", -17762},
	};

	(void)state;
	check_offsets("America/New_York", cases, SL_ARRAY_SIZE(cases));
}

static void test_lord_howe(void **state)
{
	/* +10:30 standard, +11 in summer: DST moves the clock 30 minutes. */
	static const struct offset_case cases[] = {
	    {"2026-01-15T00:00:00Z", 39600}, {"2026-07-15T00:00:00Z", 37800},
	    {"2026-04-04T14:59:59Z", 39600}, {"2026-04-04T15:00:00Z", 37800},
	    {"2026-10-03T15:29:59Z", 37800}, {"2026-10-03T15:30:00Z", 39600},
	    {"2100-01-01T00:00:00Z", 39600}, {"2100-07-01T00:00:00Z", 37800},
	};

	(void)state;
	check_offsets("Australia/Lord_Howe", cases, SL_ARRAY_SIZE(cases));
}

static void test_kolkata(void **state)
{
	static const struct offset_case cases[] = {
	    {"2026-01-01T00:00:00Z", 19800},
	    {"2100-07-01T00:00:00Z", 19800},
	    {"1943-01-01T00:00:00Z", 23400}, /* war time, +06:30 */
	};

	(void)state;
	check_offsets("Asia/Kolkata", cases, SL_ARRAY_SIZE(cases));
}

static void test_apia(void **state)
{
	/* Samoa crossed the date line: 2011-12-29 23:59:59 -10:00 was
	 * followed by 2011-12-31 00:00:00 +14:00. */
	static const struct offset_case cases[] = {
	    {"2011-06-01T00:00:00Z", -39600}, {"2011-12-30T09:59:59Z", -36000},
	    {"2011-12-30T10:00:00Z", 50400},  {"2026-01-01T00:00:00Z", 46800},
	    {"2100-07-01T00:00:00Z", 46800},
	};

	(void)state;
	check_offsets("Pacific/Apia", cases, SL_ARRAY_SIZE(cases));
}

static void test_footer_rule_forms(void **state)
{
	/* Rules with negative times, times past 24:00, negative DST and the
	 * southern hemisphere, all evaluated in 2100 (past the tables). */
	static const struct offset_case nuuk[] = {
	    /* M3.5.0/-1: Saturday 23:00 local before the last Sunday. */
	    {"2026-03-29T00:59:59Z", -7200},
	    {"2026-03-29T01:00:00Z", -3600},
	    {"2026-10-25T00:59:59Z", -3600},
	    {"2026-10-25T01:00:00Z", -7200},
	};
	static const struct offset_case jerusalem[] = {
	    /* M3.4.4/26: 02:00 on the Friday after the 4th Thursday. */
	    {"2100-03-25T23:59:59Z", 7200},
	    {"2100-03-26T00:00:00Z", 10800},
	};
	static const struct offset_case dublin[] = {
	    /* IST-1GMT0: "standard" is summer time, winter is the DST. */
	    {"2100-03-28T00:59:59Z", 0},
	    {"2100-03-28T01:00:00Z", 3600},
	    {"2100-07-01T00:00:00Z", 3600},
	    {"2100-12-01T00:00:00Z", 0},
	};
	static const struct offset_case santiago[] = {
	    {"2100-09-05T03:59:59Z", -14400},
	    {"2100-09-05T04:00:00Z", -10800},
	};
	static const struct offset_case chatham[] = {
	    {"2100-09-25T13:59:59Z", 45900},
	    {"2100-09-25T14:00:00Z", 49500},
	};

	(void)state;
	check_offsets("America/Nuuk", nuuk, SL_ARRAY_SIZE(nuuk));
	check_offsets("Asia/Jerusalem", jerusalem, SL_ARRAY_SIZE(jerusalem));
	check_offsets("Europe/Dublin", dublin, SL_ARRAY_SIZE(dublin));
	check_offsets("America/Santiago", santiago, SL_ARRAY_SIZE(santiago));
	check_offsets("Pacific/Chatham", chatham, SL_ARRAY_SIZE(chatham));
}

static void expect_local(const struct sl_tz *tz, const char *local, int n, const char *first,
                         const char *second)
{
	int64_t out[2] = {0, 0}, gap_end = 0;
	int got = sl_tz_local_to_utc(tz, T(local), out, &gap_end);

	if (got != n)
		fail_msg("%s %s: %d instants, want %d", sl_tz_name(tz), local, got, n);
	if (n == 0) {
		assert_int_equal(gap_end, T(first));
		return;
	}
	assert_int_equal(out[0], T(first));
	if (n == 2)
		assert_int_equal(out[1], T(second));
}

static void test_local_to_utc(void **state)
{
	struct sl_tz *paris = load("Europe/Paris"), *ny = load("America/New_York");
	struct sl_tz *lh = load("Australia/Lord_Howe"), *apia = load("Pacific/Apia");

	(void)state;
	expect_local(paris, "2026-03-27T09:15", 1, "2026-03-27T08:15Z", NULL);
	/* Spring forward: 02:00-02:59 does not exist; the gap ends at 01:00Z. */
	expect_local(paris, "2026-03-29T01:59:59", 1, "2026-03-29T00:59:59Z", NULL);
	expect_local(paris, "2026-03-29T02:00", 0, "2026-03-29T01:00Z", NULL);
	expect_local(paris, "2026-03-29T02:30", 0, "2026-03-29T01:00Z", NULL);
	expect_local(paris, "2026-03-29T03:00", 1, "2026-03-29T01:00Z", NULL);
	/* Fall back: 02:00-02:59 happens twice. */
	expect_local(paris, "2026-10-25T01:59:59", 1, "2026-10-24T23:59:59Z", NULL);
	expect_local(paris, "2026-10-25T02:00", 2, "2026-10-25T00:00Z", "2026-10-25T01:00Z");
	expect_local(paris, "2026-10-25T02:30", 2, "2026-10-25T00:30Z", "2026-10-25T01:30Z");
	expect_local(paris, "2026-10-25T03:00", 1, "2026-10-25T02:00Z", NULL);
	expect_local(paris, "2100-03-28T02:30", 0, "2100-03-28T01:00Z", NULL);
	expect_local(paris, "2100-10-31T02:30", 2, "2100-10-31T00:30Z", "2100-10-31T01:30Z");

	expect_local(ny, "2026-03-08T02:30", 0, "2026-03-08T07:00Z", NULL);
	expect_local(ny, "2026-03-08T03:00", 1, "2026-03-08T07:00Z", NULL);
	expect_local(ny, "2026-11-01T01:30", 2, "2026-11-01T05:30Z", "2026-11-01T06:30Z");
	expect_local(ny, "2026-11-01T02:00", 1, "2026-11-01T07:00Z", NULL);

	expect_local(lh, "2026-04-05T01:45", 2, "2026-04-04T14:45Z", "2026-04-04T15:15Z");
	expect_local(lh, "2026-04-05T02:00", 1, "2026-04-04T15:30Z", NULL);
	expect_local(lh, "2026-10-04T02:15", 0, "2026-10-03T15:30Z", NULL);
	expect_local(lh, "2026-10-04T02:30", 1, "2026-10-03T15:30Z", NULL);

	/* The whole of 2011-12-30 was skipped in Samoa. */
	expect_local(apia, "2011-12-29T23:59:59", 1, "2011-12-30T09:59:59Z", NULL);
	expect_local(apia, "2011-12-30T00:00", 0, "2011-12-30T10:00Z", NULL);
	expect_local(apia, "2011-12-30T12:00", 0, "2011-12-30T10:00Z", NULL);
	expect_local(apia, "2011-12-31T00:00", 1, "2011-12-30T10:00Z", NULL);

	expect_local(sl_tz_utc(), "2026-03-29T02:30", 1, "2026-03-29T02:30Z", NULL);
	sl_tz_free(paris);
	sl_tz_free(ny);
	sl_tz_free(lh);
	sl_tz_free(apia);
}

static void test_offset_range(void **state)
{
	struct sl_tz *paris = load("Europe/Paris"), *apia = load("Pacific/Apia");
	int32_t lo, hi;

	(void)state;
	sl_tz_offset_range(paris, T("2026-01-01T00:00Z"), &lo, &hi);
	assert_int_equal(lo, 3600);
	assert_int_equal(hi, 7200);
	sl_tz_offset_range(apia, T("2011-12-01T00:00Z"), &lo, &hi);
	assert_int_equal(lo, -36000);
	assert_int_equal(hi, 50400);
	sl_tz_offset_range(apia, T("2026-01-01T00:00Z"), &lo, &hi);
	assert_int_equal(lo, 46800);
	assert_int_equal(hi, 46800);
	sl_tz_offset_range(sl_tz_utc(), 0, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	sl_tz_free(paris);
	sl_tz_free(apia);
}

static void expect_load_error(const char *name, int rc, const char *message)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_tz *tz = (struct sl_tz *)1;

	assert_int_equal(sl_tz_load(&tz, name, &err), rc);
	assert_null(tz);
	assert_string_equal(err.buf, message);
	sl_strbuf_release(&err);
}

static void test_bad_names(void **state)
{
	char long_name[300];

	(void)state;
	expect_load_error("../etc/passwd", SL_EINVAL,
	                  "invalid time zone name '../etc/passwd': "
	                  "'.' and '..' components are not allowed");
	expect_load_error("Europe/../../etc/passwd", SL_EINVAL,
	                  "invalid time zone name 'Europe/../../etc/passwd': "
	                  "'.' and '..' components are not allowed");
	expect_load_error("/etc/localtime", SL_EINVAL,
	                  "invalid time zone name '/etc/localtime': "
	                  "it must be a relative name like Europe/Paris");
	expect_load_error("Europe//Paris", SL_EINVAL,
	                  "invalid time zone name 'Europe//Paris': it has an empty path component");
	expect_load_error("Europe/Paris/", SL_EINVAL,
	                  "invalid time zone name 'Europe/Paris/': it has an empty path component");
	expect_load_error(
	    "Europe/Paris ", SL_EINVAL,
	    "invalid time zone name 'Europe/Paris ': the character ' ' is not allowed");
	expect_load_error("Europe/Paris\n", SL_EINVAL,
	                  "invalid time zone name: the byte 0x0a is not allowed");
	expect_load_error("", SL_EINVAL, "empty time zone name");
	memset(long_name, 'A', 256);
	long_name[256] = '\0';
	expect_load_error(long_name, SL_EINVAL,
	                  "time zone name 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...' is longer "
	                  "than 255 bytes");
	expect_load_error("Nope/Zone", SL_ENOENT, "unknown time zone 'Nope/Zone'");
	expect_load_error("Europe/Pariss", SL_ENOENT, "unknown time zone 'Europe/Pariss'");
	expect_load_error("Europe", SL_ENOENT, "unknown time zone 'Europe'");
	expect_load_error("Europe/Paris/x", SL_ENOENT, "unknown time zone 'Europe/Paris/x'");
}

/* A scratch TZDIR; the test restores the real one when done with it. */
struct scratch {
	char dir[64];
	char *saved;
};

static void scratch_open(struct scratch *s)
{
	const char *old = getenv("TZDIR");

	strcpy(s->dir, "/tmp/sluice-tz-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->saved = old ? sl_xstrdup(old) : NULL;
	setenv("TZDIR", s->dir, 1);
}

static void scratch_write(struct scratch *s, const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void scratch_close(struct scratch *s, const char *const *names, size_t n)
{
	char path[128];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, names[i]);
		unlink(path);
	}
	rmdir(s->dir);
	if (s->saved)
		setenv("TZDIR", s->saved, 1);
	else
		unsetenv("TZDIR");
	free(s->saved);
}

static void put32(struct sl_strbuf *sb, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};

	sl_strbuf_add(sb, b, 4);
}

/*
 * A version 2 TZif file: an empty version 1 block, then `n` 64-bit
 * transitions, each to its own type of offset offs[i] (type 0 is offs[n]
 * for the time before), then the footer.
 */
static void make_tzif(struct sl_strbuf *sb, const int64_t *at, const int32_t *offs, size_t n,
                      const char *footer)
{
	static const char zeros[15];

	for (int block = 1; block <= 2; block++) {
		size_t ntimes = block == 1 ? 0 : n, ntypes = block == 1 ? 1 : n + 1;

		sl_strbuf_add(sb, "TZif2", 5);
		sl_strbuf_add(sb, zeros, 15);
		put32(sb, 0);
		put32(sb, 0);
		put32(sb, 0);
		put32(sb, (uint32_t)ntimes);
		put32(sb, (uint32_t)ntypes);
		put32(sb, 4);
		for (size_t i = 0; i < ntimes; i++) {
			put32(sb, (uint32_t)((uint64_t)at[i] >> 32));
			put32(sb, (uint32_t)at[i]);
		}
		for (size_t i = 0; i < ntimes; i++)
			sl_strbuf_addch(sb, (int)(i + 1));
		for (size_t i = 0; i < ntypes; i++) {
			put32(sb, (uint32_t)(i == 0 ? offs[n] : offs[i - 1]));
			sl_strbuf_addch(sb, 0);
			sl_strbuf_addch(sb, 0);
		}
		sl_strbuf_add(sb, "ABC", 4);
	}
	sl_strbuf_addf(sb, "\n%s\n", footer);
}

static void test_footer_only_files(void **state)
{
	static const char *const names[] = {"Tehran", "Eastern", "Julian", "Zero", "Table"};
	struct sl_strbuf sb = SL_STRBUF_INIT;
	struct scratch s;
	struct sl_tz *tz;
	int32_t off0[1] = {0};

	(void)state;
	scratch_open(&s);
	make_tzif(&sb, NULL, off0, 0, "<+0330>-3:30");
	scratch_write(&s, "Tehran", sb.buf, sb.len);
	sl_strbuf_reset(&sb);
	make_tzif(&sb, NULL, off0, 0, "EST5EDT,M3.2.0,M11.1.0");
	scratch_write(&s, "Eastern", sb.buf, sb.len);
	sl_strbuf_reset(&sb);
	make_tzif(&sb, NULL, off0, 0, "AAA-1BBB,J60,59");
	scratch_write(&s, "Julian", sb.buf, sb.len);
	sl_strbuf_reset(&sb);
	/* DST named without dates: tzcode's default US rules. */
	make_tzif(&sb, NULL, off0, 0, "EST5EDT");
	scratch_write(&s, "Zero", sb.buf, sb.len);
	sl_strbuf_reset(&sb);
	{
		int64_t at[2] = {T("2000-01-01T00:00Z"), T("2010-01-01T00:00Z")};
		int32_t offs[3] = {7200, 3600, 0};

		make_tzif(&sb, at, offs, 2, "");
		scratch_write(&s, "Table", sb.buf, sb.len);
	}

	{
		static const struct offset_case tehran[] = {
		    {"1900-01-01T00:00:00Z", 12600},
		    {"2300-06-01T00:00:00Z", 12600},
		};
		static const struct offset_case eastern[] = {
		    {"2026-03-08T06:59:59Z", -18000},
		    {"2026-03-08T07:00:00Z", -14400},
		    {"1850-07-01T00:00:00Z", -14400},
		};
		/* J60 is March 1 even in leap years; 59 (zero-based) is Feb 29
		 * in leap years and March 1 otherwise. Here DST runs from J60
		 * to day 59 of the next year, ending at 02:00 DST (00:00Z) and
		 * starting again at 02:00 standard time (01:00Z). */
		static const struct offset_case julian[] = {
		    {"2028-02-28T23:59:59Z", 7200}, {"2028-02-29T00:00:00Z", 3600},
		    {"2028-03-01T00:59:59Z", 3600}, {"2028-03-01T01:00:00Z", 7200},
		    {"2026-02-28T23:59:59Z", 7200}, {"2026-03-01T00:00:00Z", 3600},
		    {"2026-03-01T01:00:00Z", 7200},
		};
		static const struct offset_case zero[] = {
		    {"2026-07-01T00:00:00Z", -14400},
		    {"2026-01-01T00:00:00Z", -18000},
		};

		check_offsets("Tehran", tehran, SL_ARRAY_SIZE(tehran));
		check_offsets("Eastern", eastern, SL_ARRAY_SIZE(eastern));
		check_offsets("Julian", julian, SL_ARRAY_SIZE(julian));
		check_offsets("Zero", zero, SL_ARRAY_SIZE(zero));
	}
	tz = load("Eastern");
	expect_local(tz, "2026-11-01T01:30", 2, "2026-11-01T05:30Z", "2026-11-01T06:30Z");
	sl_tz_free(tz);

	/* No footer: the last transition holds for ever. */
	{
		static const struct offset_case table[] = {
		    {"1999-12-31T23:59:59Z", 0},
		    {"2000-01-01T00:00:00Z", 7200},
		    {"2010-01-01T00:00:00Z", 3600},
		    {"2500-01-01T00:00:00Z", 3600},
		};

		check_offsets("Table", table, SL_ARRAY_SIZE(table));
	}
	tz = load("Table");
	expect_local(tz, "2010-01-01T01:30", 2, "2009-12-31T23:30Z", "2010-01-01T00:30Z");
	expect_local(tz, "2000-01-01T01:00", 0, "2000-01-01T00:00Z", NULL);
	sl_tz_free(tz);

	scratch_close(&s, names, SL_ARRAY_SIZE(names));
	sl_strbuf_release(&sb);
}

static void expect_corrupt(struct scratch *s, const void *data, size_t len, const char *why)
{
	struct sl_strbuf err = SL_STRBUF_INIT, want = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;

	scratch_write(s, "Bad", data, len);
	assert_int_equal(sl_tz_load(&tz, "Bad", &err), SL_EINVAL);
	assert_null(tz);
	sl_strbuf_addf(&want, "time zone file %s/Bad is corrupt: %s", s->dir, why);
	assert_string_equal(err.buf, want.buf);
	sl_strbuf_release(&err);
	sl_strbuf_release(&want);
}

static void test_corrupt_files(void **state)
{
	static const char *const names[] = {"Bad", "UTC"};
	struct sl_strbuf good = SL_STRBUF_INIT, bad = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int64_t at[2] = {1000, 2000};
	int32_t offs[3] = {3600, 7200, 0};
	struct scratch s;
	struct sl_tz *tz;

	(void)state;
	make_tzif(&good, at, offs, 2, "AAA-1");
	scratch_open(&s);

	expect_corrupt(&s, "", 0, "it does not start with the TZif magic");
	expect_corrupt(&s, "#!/bin/sh\necho hello, this is not a zone file at all\n", 50,
	               "it does not start with the TZif magic");
	expect_corrupt(&s, good.buf, 60, "it is truncated");
	expect_corrupt(&s, good.buf, good.len - 1, "its footer is not terminated");

	/* Counts far beyond the file, including ones whose sizes overflow
	 * 32 bits, in both headers. */
	for (size_t hdr = 0; hdr < 2; hdr++) {
		size_t base = hdr ? 44 + 6 + 4 : 0;

		sl_strbuf_reset(&bad);
		sl_strbuf_add(&bad, good.buf, good.len);
		memset(bad.buf + base + 32, 0xff, 4); /* timecnt */
		expect_corrupt(&s, bad.buf, bad.len, "it is truncated");
		memset(bad.buf + base + 32, 0x00, 4);
		memset(bad.buf + base + 40, 0x7f, 4); /* charcnt */
		expect_corrupt(&s, bad.buf, bad.len, "it is truncated");
		memset(bad.buf + base + 40, 0x00, 3);
		memset(bad.buf + base + 36, 0x00, 4); /* typecnt */
		expect_corrupt(&s, bad.buf, bad.len,
		               "its count of local time types is out of range");
	}
	/* Second block: transition type index 9 of 3, then times reversed. */
	sl_strbuf_reset(&bad);
	sl_strbuf_add(&bad, good.buf, good.len);
	bad.buf[54 + 44 + 16] = 9;
	expect_corrupt(&s, bad.buf, bad.len,
	               "a transition names a local time type that does not exist");
	bad.buf[54 + 44 + 16] = 1;
	bad.buf[54 + 44 + 6] = (char)0xff; /* 1000 becomes 65512 */
	expect_corrupt(&s, bad.buf, bad.len, "its transition times are not in ascending order");
	sl_strbuf_reset(&bad);
	sl_strbuf_add(&bad, good.buf, good.len - 4);
	sl_strbuf_adds(&bad, "1x\n");
	expect_corrupt(&s, bad.buf, bad.len, "its footer is not a valid POSIX TZ rule");

	/* Every truncation of a real file fails cleanly (ASan checks reads). */
	sl_strbuf_reset(&bad);
	assert_int_equal(
	    sl_strbuf_read_file(&bad, "/usr/share/zoneinfo/Europe/Paris", 1 << 20, &err), 0);
	for (size_t len = 0; len < bad.len; len++) {
		scratch_write(&s, "Bad", bad.buf, len);
		tz = NULL;
		assert_int_equal(sl_tz_load(&tz, "Bad", &err), SL_EINVAL);
		assert_null(tz);
	}
	/* Any single byte set to 0xff: loads or fails, never misbehaves. */
	for (size_t i = 0; i < bad.len; i++) {
		char saved = bad.buf[i];

		bad.buf[i] = (char)0xff;
		scratch_write(&s, "Bad", bad.buf, bad.len);
		bad.buf[i] = saved;
		tz = NULL;
		if (sl_tz_load(&tz, "Bad", &err) == 0) {
			int64_t out[2], gap_end;

			sl_tz_offset(tz, T("2026-03-29T01:00Z"));
			sl_tz_local_to_utc(tz, T("2026-03-29T02:30"), out, &gap_end);
			sl_tz_free(tz);
		}
	}

	/* UTC needs no file, even when the directory has a broken one. */
	scratch_write(&s, "UTC", "garbage", 7);
	sl_strbuf_reset(&err);
	assert_int_equal(sl_tz_load(&tz, "UTC", &err), 0);
	assert_ptr_equal(tz, sl_tz_utc());
	assert_int_equal(sl_tz_offset(tz, T("2026-07-01T00:00Z")), 0);
	sl_tz_free(tz);
	assert_int_equal(sl_tz_load(&tz, "Etc/UTC", &err), 0);
	assert_int_equal(sl_tz_load(&tz, "GMT", &err), 0);
	assert_string_equal(sl_tz_name(tz), "UTC");
	assert_int_equal(err.len, 0);

	scratch_close(&s, names, SL_ARRAY_SIZE(names));
	sl_strbuf_release(&good);
	sl_strbuf_release(&bad);
	sl_strbuf_release(&err);
}

static void test_extreme_instants(void **state)
{
	struct sl_tz *paris = load("Europe/Paris");
	int64_t out[2], gap_end;

	(void)state;
	/* Nothing meaningful lives here; it must only stay defined. */
	sl_tz_offset(paris, INT64_MAX);
	sl_tz_offset(paris, INT64_MIN);
	sl_tz_to_local(paris, INT64_MAX);
	sl_tz_to_local(paris, INT64_MIN);
	assert_int_equal(sl_tz_local_to_utc(paris, INT64_MAX, out, &gap_end), 1);
	assert_int_equal(sl_tz_local_to_utc(paris, INT64_MIN, out, &gap_end), 1);
	sl_tz_free(paris);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paris),         cmocka_unit_test(test_new_york),
	    cmocka_unit_test(test_lord_howe),     cmocka_unit_test(test_kolkata),
	    cmocka_unit_test(test_apia),          cmocka_unit_test(test_footer_rule_forms),
	    cmocka_unit_test(test_local_to_utc),  cmocka_unit_test(test_offset_range),
	    cmocka_unit_test(test_bad_names),     cmocka_unit_test(test_footer_only_files),
	    cmocka_unit_test(test_corrupt_files), cmocka_unit_test(test_extreme_instants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
