#include "sluice/cron.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/tz.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include "sluice/banned.h"

#define NFIELDS     5
#define FIELD_NAMES "minute hour day-of-month month day-of-week"
/* sl_cron_next looks this far ahead: 400 Gregorian years, one full cycle of
 * the calendar, after which every pattern of dates has repeated. */
#define SEARCH_SPAN ((int64_t)146097 * 86400)
/* Instants beyond this (about a million years) are not searched from. */
#define AFTER_LIMIT ((int64_t)1 << 45)

struct field_spec {
	const char *what; /* used in messages: "minute 60 is out of range 0-59" */
	int lo, hi;
	const char *const *names; /* names[i] stands for lo + i */
	int nnames;
	unsigned star_flag;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field_spec fields[NFIELDS] = {
    {"minute", 0, 59, NULL, 0, SL_CRON_MIN_STAR},
    {"hour", 0, 23, NULL, 0, SL_CRON_HOUR_STAR},
    {"day-of-month", 1, 31, NULL, 0, SL_CRON_MDAY_STAR},
    {"month", 1, 12, month_names, 12, 0},
    /* 7 is accepted as a second Sunday and folded onto 0 below. */
    {"day-of-week", 0, 7, wday_names, 7, SL_CRON_WDAY_STAR},
};

struct preset {
	const char *name, *expansion;
};

static const struct preset presets[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* The parser's state: the whole expression, for offsets, and the error sink. */
struct cron_parser {
	const char *expr;
	struct sl_strbuf *err;
	size_t *err_offset;
};

static int cron_fail(struct cron_parser *ps, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cron_fail(struct cron_parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(ps->err, fmt, ap);
	va_end(ap);
	if (ps->err_offset)
		*ps->err_offset = (size_t)(at - ps->expr);
	return SL_EINVAL;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool ends_token(char ch)
{
	return ch == '\0' || is_blank(ch) || ch == ',';
}

/* One value: a number, or a name where the field has names. */
static int parse_value(struct cron_parser *ps, const struct field_spec *f, const char **p, int *out)
{
	const char *start = *p;

	if (isdigit((unsigned char)**p)) {
		long v = 0;

		/* Cap the value so that long digit strings cannot overflow;
		 * anything capped is out of range anyway. */
		while (isdigit((unsigned char)**p)) {
			v = v < 100000 ? v * 10 + (**p - '0') : v;
			(*p)++;
		}
		if (v < f->lo || v > f->hi)
			return cron_fail(ps, start, "%s %.*s is out of range %d-%d", f->what,
			                 (int)(*p - start), start, f->lo, f->hi);
		*out = (int)v;
		return 0;
	}
	if (isalpha((unsigned char)**p)) {
		while (isalpha((unsigned char)**p))
			(*p)++;
		for (int i = 0; i < f->nnames; i++) {
			if (*p - start == 3 && !strncasecmp(start, f->names[i], 3)) {
				*out = f->lo + i;
				return 0;
			}
		}
		if (f->nnames)
			return cron_fail(ps, start, "unknown %s name '%.*s' (expected %s)", f->what,
			                 (int)(*p - start), start,
			                 f->names == month_names ? "JAN-DEC" : "SUN-SAT");
		return cron_fail(ps, start, "'%.*s' is not a valid %s (expected a number %d-%d)",
		                 (int)(*p - start), start, f->what, f->lo, f->hi);
	}
	if (**p == '\0' || is_blank(**p))
		return cron_fail(ps, start, "the %s field ends where a value was expected",
		                 f->what);
	/* Quartz-style L, W, # and ? land here as well as plain typos. */
	return cron_fail(ps, start, "unexpected character '%c' in the %s field", **p, f->what);
}

/* One list item: "*", "N", "N-M", each with an optional "/STEP". */
static int parse_item(struct cron_parser *ps, const struct field_spec *f, const char **p,
                      uint64_t *bits)
{
	const char *start = *p;
	int lo = f->lo, hi = f->hi, step = 1;
	int rc;

	if (**p == '*') {
		(*p)++;
	} else {
		rc = parse_value(ps, f, p, &lo);
		if (rc)
			return rc;
		hi = lo;
		if (**p == '-') {
			(*p)++;
			rc = parse_value(ps, f, p, &hi);
			if (rc)
				return rc;
			if (hi < lo)
				return cron_fail(ps, start,
				                 "range %.*s in the %s field is reversed (%d > %d)",
				                 (int)(*p - start), start, f->what, lo, hi);
		} else if (**p == '/') {
			/* cronie reads "N/STEP" as "N-max/STEP". */
			hi = f->hi;
		}
	}
	if (**p == '/') {
		const char *step_at = ++(*p);
		long v = 0;

		if (!isdigit((unsigned char)**p))
			return cron_fail(ps, step_at, "expected a number after '/' in the %s field",
			                 f->what);
		while (isdigit((unsigned char)**p)) {
			v = v < 100000 ? v * 10 + (**p - '0') : v;
			(*p)++;
		}
		if (v < 1 || v > f->hi - f->lo + 1)
			return cron_fail(ps, step_at,
			                 "step %.*s in the %s field is out of range 1-%d",
			                 (int)(*p - step_at), step_at, f->what, f->hi - f->lo + 1);
		step = (int)v;
	}
	if (!ends_token(**p))
		return cron_fail(ps, *p, "unexpected character '%c' in the %s field", **p, f->what);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

static int parse_field(struct cron_parser *ps, const struct field_spec *f, const char **p,
                       uint64_t *bits, unsigned *flags)
{
	int rc;

	*bits = 0;
	if (**p == '*')
		*flags |= f->star_flag;
	for (;;) {
		if (**p == ',')
			return cron_fail(ps, *p, "empty item in the list of the %s field", f->what);
		rc = parse_item(ps, f, p, bits);
		if (rc)
			return rc;
		if (**p != ',')
			return 0;
		(*p)++;
		if (ends_token(**p))
			return cron_fail(ps, *p, "empty item in the list of the %s field", f->what);
	}
}

static const char *skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

/*
 * When the day fields are AND-ed, a day-of-month that no selected month has
 * (30 in February, 31 in April) leaves nothing to match. Only 30 and 31 can
 * be missing from a month (February has 29 in leap years), so say which.
 */
static int check_can_fire(struct cron_parser *ps, const struct sl_cron *c, const char *mday_at,
                          const char *expr_end)
{
	static const int month_len[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *start = skip_blanks(ps->expr);
	bool day30 = c->mdays & (1u << 30), day31 = c->mdays & (1u << 31);

	if (!(c->flags & (SL_CRON_MDAY_STAR | SL_CRON_WDAY_STAR)))
		return 0;
	for (int m = 1; m <= 12; m++) {
		if (!(c->months & (1u << m)))
			continue;
		for (int d = 1; d <= month_len[m]; d++) {
			if (c->mdays & (1u << d))
				return 0;
		}
	}
	return cron_fail(ps, mday_at, "%.*s can never fire: no month in the month field has day %s",
	                 (int)(expr_end - start), start,
	                 day30 && day31 ? "30 or 31"
	                 : day30        ? "30"
	                                : "31");
}

static int parse_preset(struct cron_parser *ps, struct sl_cron *cron, const char *at)
{
	size_t len = 0;
	const char *rest;

	while (at[len] && !is_blank(at[len]))
		len++;
	rest = skip_blanks(at + len);
	for (size_t i = 0; i < SL_ARRAY_SIZE(presets); i++) {
		if (strlen(presets[i].name) != len || strncmp(at, presets[i].name, len))
			continue;
		if (*rest)
			return cron_fail(ps, rest, "unexpected text after %s", presets[i].name);
		/* The expansions are constant and valid; parse them so that
		 * presets get exactly the flags of the written-out form. */
		return sl_cron_parse(cron, presets[i].expansion, ps->err, NULL);
	}
	if ((len == 5 && !strncmp(at, "@once", 5)) || (len == 7 && !strncmp(at, "@reboot", 7)))
		return cron_fail(ps, at,
		                 "%.*s is not a cron expression: it names no time to fire at",
		                 (int)len, at);
	return cron_fail(ps, at,
	                 "unknown preset '%.*s' (expected @yearly, @annually, @monthly, @weekly, "
	                 "@daily, @midnight or @hourly)",
	                 (int)len, at);
}

/* `word` (up to a blank) is a preset's name without its '@' (`daily`, as
 * Airflow users write it): that preset, else NULL. */
static const char *preset_without_at(const char *word)
{
	size_t len = 0;

	while (word[len] && !is_blank(word[len]))
		len++;
	for (size_t i = 0; i < SL_ARRAY_SIZE(presets); i++)
		if (strlen(presets[i].name + 1) == len && !strncmp(word, presets[i].name + 1, len))
			return presets[i].name;
	return NULL;
}

/* Check the field count first: a sixth field is more likely a pasted
 * crontab command or a Quartz seconds field than a typo in field five. */
static int count_fields(struct cron_parser *ps, const char *p)
{
	const char *sixth = NULL, *first = p, *preset;
	size_t n = 0;

	while (*p) {
		if (++n == NFIELDS + 1)
			sixth = p;
		while (*p && !is_blank(*p))
			p++;
		p = skip_blanks(p);
	}
	if (n == NFIELDS)
		return 0;
	if (n == 1 && (preset = preset_without_at(first)))
		return cron_fail(ps, first,
		                 "expected 5 fields (" FIELD_NAMES "), got 1 (did you mean '%s'?)",
		                 preset);
	return cron_fail(ps, sixth ? sixth : p, "expected 5 fields (" FIELD_NAMES "), got %zu", n);
}

int sl_cron_parse(struct sl_cron *cron, const char *expr, struct sl_strbuf *err, size_t *err_offset)
{
	struct cron_parser ps = {expr, err, err_offset};
	struct sl_cron c = {0};
	const char *p = skip_blanks(expr), *end = p, *at[NFIELDS] = {NULL};
	uint64_t bits[NFIELDS];
	size_t nfields = 0;
	int rc;

	if (*p == '@')
		return parse_preset(&ps, cron, p);
	if (*p == '\0')
		return cron_fail(&ps, p,
		                 "empty cron expression (expected 5 fields: " FIELD_NAMES ")");
	rc = count_fields(&ps, p);
	if (rc)
		return rc;
	while (*p) {
		at[nfields] = p;
		rc = parse_field(&ps, &fields[nfields], &p, &bits[nfields], &c.flags);
		if (rc)
			return rc;
		nfields++;
		end = p;
		p = skip_blanks(p);
	}

	c.minutes = bits[0];
	c.hours = (uint32_t)bits[1];
	c.mdays = (uint32_t)bits[2];
	c.months = (uint16_t)bits[3];
	c.wdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	rc = check_can_fire(&ps, &c, at[2], end);
	if (rc)
		return rc;
	*cron = c;
	return 0;
}

/* ---- next fire time ---- */

static bool day_matches(const struct sl_cron *c, const struct sl_civil *t)
{
	bool mday = c->mdays & (1u << t->day);
	bool wday = c->wdays & (1u << t->wday);

	if (c->flags & (SL_CRON_MDAY_STAR | SL_CRON_WDAY_STAR))
		return mday && wday;
	return mday || wday;
}

/* The lowest set bit of `bits` at or above `from`, or -1. */
static int next_bit(uint64_t bits, int from)
{
	if (from > 63)
		return -1;
	bits &= ~(uint64_t)0 << from;
	return bits ? __builtin_ctzll(bits) : -1;
}

/*
 * The first wall-clock minute at or after local time `from` (a whole minute)
 * that the fields match, if there is one by `limit`. Whole months, days and
 * hours that cannot match are skipped at once, so even a rare date costs
 * only a few steps per year searched.
 */
static bool next_local_match(const struct sl_cron *c, int64_t from, int64_t limit, int64_t *out)
{
	int64_t s = from;

	while (s <= limit) {
		struct sl_civil t;
		int64_t day_start;
		int h, m;

		sl_civil_from_secs(s, &t);
		day_start = s - (t.hour * 3600 + t.minute * 60 + t.second);
		if (!(c->months & (1u << t.month))) {
			t.month++;
			t.day = 1;
			t.hour = t.minute = t.second = 0;
			s = sl_secs_from_civil(&t);
			continue;
		}
		if (!day_matches(c, &t)) {
			s = day_start + 86400;
			continue;
		}
		h = next_bit(c->hours, t.hour);
		if (h < 0) {
			s = day_start + 86400;
			continue;
		}
		m = next_bit(c->minutes, h == t.hour ? t.minute : 0);
		if (m < 0) {
			s = day_start + (h + 1) * 3600;
			continue;
		}
		*out = day_start + h * 3600 + m * 60;
		return true;
	}
	return false;
}

int sl_cron_next(const struct sl_cron *cron, const struct sl_tz *tz, int64_t after, int64_t *next)
{
	bool fixed = !(cron->flags & (SL_CRON_MIN_STAR | SL_CRON_HOUR_STAR));
	int64_t local, limit, best = 0, inst[2], gap_end;
	int32_t lo, hi;
	bool found = false;

	if (!tz)
		tz = sl_tz_utc();
	if (after < -AFTER_LIMIT || after > AFTER_LIMIT)
		return SL_ENOENT;
	/*
	 * A fire instant I > after shows wall-clock time I + offset(I), which
	 * is at least after + 1 + lo; a gap's end T fires for wall times just
	 * below T + offset, bounded the same way. Wall-clock order is not
	 * instant order across a fall-back, so candidates are scanned from
	 * there until none can beat the best instant found.
	 */
	sl_tz_offset_range(tz, after, &lo, &hi);
	local = after + 1 + lo;
	local += (60 - (local % 60 + 60) % 60) % 60; /* up to a whole minute */
	limit = after + hi + SEARCH_SPAN;
	while (next_local_match(cron, local, limit, &local)) {
		int n;

		/* Any instant for this wall time is >= local - hi. */
		if (found && local - hi > best)
			break;
		n = sl_tz_local_to_utc(tz, local, inst, &gap_end);
		if (n == 0) {
			/* A wildcard job follows the wall clock, which never
			 * showed this time; a fixed-time job still runs once. */
			if (fixed)
				inst[n++] = gap_end;
		} else if (n == 2 && fixed) {
			/* A fixed-time job ran at the first occurrence. */
			n = 1;
		}
		for (int i = 0; i < n; i++) {
			if (inst[i] > after && (!found || inst[i] < best)) {
				best = inst[i];
				found = true;
			}
		}
		local += 60;
	}
	if (!found)
		return SL_ENOENT;
	*next = best;
	return 0;
}
