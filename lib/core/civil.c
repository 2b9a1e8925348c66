#include "sluice/civil.h"

#include "sluice/error.h"
#include "sluice/tz.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "sluice/banned.h"

/*
 * The calendar algorithms are Howard Hinnant's days_from_civil and
 * civil_from_days: they shift the year to start in March, so that the leap
 * day is the last day of the shifted year, and count in 400-year eras of
 * 146097 days. Every division is made floor-like by hand, so negative years
 * and instants before 1970 need no special case.
 */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t sl_days_from_civil(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                         /* [0, 399] */
	int64_t mp = month > 2 ? month - 3 : month + 9;      /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + day - 1;          /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t days, struct sl_civil *out)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;

	out->year = (int)(yoe + era * 400 + (month <= 2));
	out->month = (int)month;
	out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	/* 1970-01-01 was a Thursday. */
	out->wday = (int)(days - floor_div(days + 4, 7) * 7 + 4);
}

void sl_civil_from_secs(int64_t secs, struct sl_civil *out)
{
	int64_t days = floor_div(secs, 86400);
	int64_t rem = secs - days * 86400;

	civil_from_days(days, out);
	out->hour = (int)(rem / 3600);
	out->minute = (int)(rem / 60 % 60);
	out->second = (int)(rem % 60);
}

int64_t sl_secs_from_civil(const struct sl_civil *c)
{
	/*
	 * Normalise the month so that callers may step "to the next month" by
	 * adding one; days, hours, minutes and seconds beyond their range are
	 * linear in the formulas and need no care.
	 */
	int64_t m0 = (int64_t)c->month - 1;
	int64_t year = (int64_t)c->year + floor_div(m0, 12);
	int month = (int)(m0 - floor_div(m0, 12) * 12) + 1;
	int64_t days = sl_days_from_civil((int)year, month, 1) + c->day - 1;

	return days * 86400 + (int64_t)c->hour * 3600 + (int64_t)c->minute * 60 + c->second;
}

bool sl_is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int sl_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && sl_is_leap_year(year))
		return 29;
	return days[month - 1];
}

static const char *const month_names[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December",
};

/* The ISO parser reads left to right through this cursor. */
struct iso_cursor {
	const char *s;
	size_t pos;
};

/* Read exactly `n` digits; false if any is missing. */
static bool read_digits(struct iso_cursor *cur, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char ch = cur->s[cur->pos + (size_t)i];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	cur->pos += (size_t)n;
	*out = v;
	return true;
}

static bool accept(struct iso_cursor *cur, char ch)
{
	if (cur->s[cur->pos] != ch)
		return false;
	cur->pos++;
	return true;
}

#define ISO_FORMS "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM offset"

static int iso_fail(struct sl_strbuf *err, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int iso_fail(struct sl_strbuf *err, const char *s, const char *fmt, ...)
{
	va_list ap;

	/* Long inputs are cut so that a message stays one readable line. */
	sl_strbuf_addf(err, "invalid date-time '%.64s%s': ", s, strlen(s) > 64 ? "..." : "");
	va_start(ap, fmt);
	sl_strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	return SL_EINVAL;
}

static int parse_date(struct iso_cursor *cur, struct sl_civil *c, struct sl_strbuf *err)
{
	const char *s = cur->s;

	if (!read_digits(cur, 4, &c->year) || !accept(cur, '-') ||
	    !read_digits(cur, 2, &c->month) || !accept(cur, '-') || !read_digits(cur, 2, &c->day))
		return iso_fail(err, s, "expected " ISO_FORMS "");
	if (c->month < 1 || c->month > 12)
		return iso_fail(err, s, "month %02d is out of range 01-12", c->month);
	if (c->day < 1 || c->day > sl_days_in_month(c->year, c->month)) {
		sl_strbuf_addf(err, "invalid date '%.10s': %s %d has %d days", s,
		               month_names[c->month - 1], c->year,
		               sl_days_in_month(c->year, c->month));
		return SL_EINVAL;
	}
	return 0;
}

static int parse_time(struct iso_cursor *cur, struct sl_civil *c, struct sl_strbuf *err)
{
	const char *s = cur->s;

	if (!read_digits(cur, 2, &c->hour) || !accept(cur, ':') || !read_digits(cur, 2, &c->minute))
		return iso_fail(err, s, "expected a time HH:MM[:SS] after the date");
	if (accept(cur, ':')) {
		if (!read_digits(cur, 2, &c->second))
			return iso_fail(err, s, "expected two digits of seconds");
		if (accept(cur, '.')) {
			size_t start = cur->pos;

			while (s[cur->pos] >= '0' && s[cur->pos] <= '9')
				cur->pos++;
			if (cur->pos == start)
				return iso_fail(err, s, "expected digits after '.'");
		}
	}
	if (c->hour > 23)
		return iso_fail(err, s, "hour %02d is out of range 00-23", c->hour);
	if (c->minute > 59)
		return iso_fail(err, s, "minute %02d is out of range 00-59", c->minute);
	if (c->second > 59)
		return iso_fail(err, s, "second %02d is out of range 00-59", c->second);
	return 0;
}

/* Parse `Z`, `±HH:MM` or `±HHMM` into seconds east; absent means *has = false. */
static int parse_offset(struct iso_cursor *cur, bool *has, int32_t *off, struct sl_strbuf *err)
{
	const char *s = cur->s;
	char sign = s[cur->pos];
	int hh, mm;

	*has = false;
	if (accept(cur, 'Z')) {
		*has = true;
		*off = 0;
		return 0;
	}
	if (sign != '+' && sign != '-')
		return 0;
	cur->pos++;
	if (!read_digits(cur, 2, &hh))
		return iso_fail(err, s, "expected an offset +HH:MM or +HHMM");
	accept(cur, ':');
	if (!read_digits(cur, 2, &mm))
		return iso_fail(err, s, "expected an offset +HH:MM or +HHMM");
	if (hh > 23 || mm > 59)
		return iso_fail(err, s, "offset %02d:%02d is out of range", hh, mm);
	*has = true;
	*off = (int32_t)((hh * 60 + mm) * 60 * (sign == '-' ? -1 : 1));
	return 0;
}

int sl_iso_parse(const char *s, const struct sl_tz *tz, int64_t *out, struct sl_strbuf *err)
{
	struct iso_cursor cur = {s, 0};
	struct sl_civil c = {0};
	bool has_off = false;
	int32_t off = 0;
	int64_t local, inst[2], gap_end;
	int rc;

	rc = parse_date(&cur, &c, err);
	if (rc)
		return rc;
	if (accept(&cur, 'T') || accept(&cur, ' ')) {
		rc = parse_time(&cur, &c, err);
		if (!rc)
			rc = parse_offset(&cur, &has_off, &off, err);
		if (rc)
			return rc;
	}
	if (s[cur.pos] != '\0')
		return iso_fail(err, s, "unexpected '%c' at column %d", (unsigned char)s[cur.pos],
		                (int)cur.pos + 1);

	local = sl_secs_from_civil(&c);
	if (has_off) {
		*out = local - off;
		return 0;
	}
	if (!tz) {
		*out = local;
		return 0;
	}
	/* A wall-clock time in a gap never happened: read it with the offset
	 * in force before the gap, which moves it forward by the gap. */
	if (sl_tz_local_to_utc(tz, local, inst, &gap_end) == 0)
		*out = local - sl_tz_offset(tz, gap_end - 1);
	else
		*out = inst[0];
	return 0;
}

void sl_iso_format(struct sl_strbuf *sb, int64_t t, const struct sl_tz *tz)
{
	int32_t off = tz ? sl_tz_offset(tz, t) : 0;
	int32_t a = off < 0 ? -off : off;
	struct sl_civil c;

	sl_civil_from_secs(t + off, &c);
	if (c.year < 0)
		sl_strbuf_addf(sb, "-%04d", -c.year);
	else
		sl_strbuf_addf(sb, "%04d", c.year);
	sl_strbuf_addf(sb, "-%02d-%02dT%02d:%02d:%02d", c.month, c.day, c.hour, c.minute, c.second);
	if (!tz || tz == sl_tz_utc()) {
		sl_strbuf_addch(sb, 'Z');
		return;
	}
	sl_strbuf_addf(sb, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	/* Local mean time offsets (before ~1900) have seconds; keep them
	 * rather than print a wall clock that disagrees with its offset. */
	if (a % 60)
		sl_strbuf_addf(sb, ":%02d", a % 60);
}
