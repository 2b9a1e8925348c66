#include "sluice/tz.h"

#include "sluice/alloc.h"
#include "sluice/civil.h"
#include "sluice/error.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sluice/banned.h"

#define TZ_NAME_MAX 255
/* No real zone file comes near this; it only bounds what a bad TZDIR costs. */
#define TZ_FILE_MAX (1 << 20)
/* RFC 8536 bounds UT offsets to -25:59:59 .. +25:59:59 (it says "should"),
 * which keeps every local-time computation far from int64 overflow. */
#define TZ_OFF_MIN   (-93599)
#define TZ_OFF_MAX   93599
#define TZ_OFF_REACH 93600
/* Instants beyond +-2^62 s are accepted but not converted; nothing real is
 * there, and the margin keeps offset arithmetic free of overflow. */
#define TZ_TIME_LIMIT ((int64_t)1 << 62)
/* 400 Gregorian years are a whole number of weeks, so a POSIX rule repeats
 * exactly with this period and far instants can be folded back near now. */
#define GREGORIAN_CYCLE ((int64_t)146097 * 86400)
#define CYCLE_BASE      ((int64_t)946684800) /* 2000-01-01T00:00:00Z */

/* One day of a POSIX TZ rule: "Jn", "n" or "Mm.w.d", then a "/time". */
struct rule_date {
	char kind; /* 'J', 'n' or 'M' */
	int month, week, wday, yday;
	int32_t time; /* seconds after local midnight; may be negative or > 24 h */
};

struct posix_rule {
	int32_t std_off, dst_off; /* seconds east */
	bool has_dst;
	struct rule_date start, end;
};

/* From `at` on, the offset is `utoff` (until the next transition). */
struct tz_trans {
	int64_t at;
	int32_t utoff;
};

struct sl_tz {
	char name[TZ_NAME_MAX + 1];
	int32_t first_off; /* before the first transition */
	struct tz_trans *trans;
	size_t ntrans, trans_alloc;
	bool has_rule;
	int64_t rule_from; /* the footer rule governs instants >= rule_from */
	struct posix_rule rule;
};

static const struct sl_tz utc_zone = {.name = "UTC"};

const struct sl_tz *sl_tz_utc(void)
{
	return &utc_zone;
}

const char *sl_tz_name(const struct sl_tz *tz)
{
	return tz->name;
}

void sl_tz_free(struct sl_tz *tz)
{
	if (!tz || tz == &utc_zone)
		return;
	free(tz->trans);
	free(tz);
}

static int64_t floor_div64(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* ---- POSIX TZ rules (the TZif footer) ---- */

/* Local seconds (in the offset in force before it) at which `d` falls in `year`. */
static int64_t rule_date_local(const struct rule_date *d, int year)
{
	int64_t jan1 = sl_days_from_civil(year, 1, 1);
	int64_t day;

	switch (d->kind) {
	case 'J':
		/* Jn counts 1-365 and never names February 29. */
		day = jan1 + d->yday - 1 + (sl_is_leap_year(year) && d->yday >= 60);
		break;
	case 'n':
		day = jan1 + d->yday;
		break;
	default: {
		int64_t first = sl_days_from_civil(year, d->month, 1);
		int64_t first_wday = first - floor_div64(first + 4, 7) * 7 + 4;
		int dim = sl_days_in_month(year, d->month);

		day = first + (d->wday - first_wday + 7) % 7 + (int64_t)(d->week - 1) * 7;
		/* Week 5 means "the last such weekday", which may be the 4th. */
		while (day >= first + dim)
			day -= 7;
		break;
	}
	}
	return day * 86400 + d->time;
}

/*
 * The rule's transitions of the years around the one containing `utc`, in
 * order, with whether each starts DST. Looking a year either side covers
 * southern-hemisphere rules, whose DST spans the new year, and transition
 * times like "/25" that spill into the next day or year.
 */
static size_t rule_transitions(const struct posix_rule *r, int64_t utc, int64_t at[8],
                               bool to_dst[8])
{
	struct sl_civil c;
	size_t n = 0;

	sl_civil_from_secs(utc + r->std_off, &c);
	for (int y = c.year - 1; y <= c.year + 2; y++) {
		int64_t s = rule_date_local(&r->start, y) - r->std_off;
		int64_t e = rule_date_local(&r->end, y) - r->dst_off;

		/* Ends first: when a year's end meets the next start (DST all
		 * year), the start sorts last and so wins. */
		at[n] = e;
		to_dst[n++] = false;
		at[n] = s;
		to_dst[n++] = true;
	}
	/* Insertion sort of eight items, stable so the tie rule above holds. */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && at[j - 1] > at[j]; j--) {
			int64_t t = at[j];
			bool d = to_dst[j];

			at[j] = at[j - 1];
			to_dst[j] = to_dst[j - 1];
			at[j - 1] = t;
			to_dst[j - 1] = d;
		}
	}
	return n;
}

static int64_t fold_cycles(int64_t utc, int64_t *shift)
{
	if (utc < -TZ_TIME_LIMIT)
		utc = -TZ_TIME_LIMIT;
	if (utc > TZ_TIME_LIMIT)
		utc = TZ_TIME_LIMIT;
	*shift = floor_div64(utc - CYCLE_BASE, GREGORIAN_CYCLE) * GREGORIAN_CYCLE;
	return utc - *shift;
}

static int32_t rule_offset(const struct posix_rule *r, int64_t utc)
{
	int64_t at[8], shift;
	bool to_dst[8];
	bool dst = false;
	size_t n;

	if (!r->has_dst)
		return r->std_off;
	utc = fold_cycles(utc, &shift);
	n = rule_transitions(r, utc, at, to_dst);
	for (size_t i = 0; i < n && at[i] <= utc; i++)
		dst = to_dst[i];
	return dst ? r->dst_off : r->std_off;
}

static bool rule_next(const struct posix_rule *r, int64_t utc, int64_t *next)
{
	int64_t at[8], shift, folded;
	bool to_dst[8];
	size_t n;

	if (!r->has_dst)
		return false;
	folded = fold_cycles(utc, &shift);
	n = rule_transitions(r, folded, at, to_dst);
	for (size_t i = 0; i < n; i++) {
		if (at[i] > folded) {
			*next = at[i] + shift;
			return true;
		}
	}
	return false;
}

/* The parser of footer strings reads through `p`. */
static bool parse_num(const char **p, int lo, int hi, int *out)
{
	int v = 0, digits = 0;

	while (isdigit((unsigned char)**p) && digits < 4) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (!digits || isdigit((unsigned char)**p) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh at most `max_h`, as signed seconds. */
static bool parse_hms(const char **p, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (!parse_num(p, 0, max_h, &h))
		return false;
	if (**p == ':') {
		(*p)++;
		if (!parse_num(p, 0, 59, &m))
			return false;
		if (**p == ':') {
			(*p)++;
			if (!parse_num(p, 0, 59, &s))
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool parse_abbr(const char **p)
{
	const char *start = *p;

	if (**p == '<') {
		for ((*p)++; **p != '>'; (*p)++) {
			if (!isalnum((unsigned char)**p) && **p != '+' && **p != '-')
				return false;
		}
		(*p)++;
		return *p - start >= 5;
	}
	while (isalpha((unsigned char)**p))
		(*p)++;
	return *p - start >= 3;
}

static bool parse_rule_date(const char **p, struct rule_date *d)
{
	d->time = 2 * 3600;
	if (**p == 'J') {
		(*p)++;
		d->kind = 'J';
		if (!parse_num(p, 1, 365, &d->yday))
			return false;
	} else if (**p == 'M') {
		(*p)++;
		d->kind = 'M';
		if (!parse_num(p, 1, 12, &d->month) || *(*p)++ != '.' ||
		    !parse_num(p, 1, 5, &d->week) || *(*p)++ != '.' ||
		    !parse_num(p, 0, 6, &d->wday))
			return false;
	} else {
		d->kind = 'n';
		if (!parse_num(p, 0, 365, &d->yday))
			return false;
	}
	/* RFC 8536 widens POSIX's 0-24 hours to -167..167 for rule times. */
	if (**p == '/') {
		(*p)++;
		return parse_hms(p, 167, &d->time);
	}
	return true;
}

static bool offset_ok(int32_t off)
{
	return off >= TZ_OFF_MIN && off <= TZ_OFF_MAX;
}

/* Parse a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static bool parse_posix_rule(const char *s, struct posix_rule *r)
{
	const char *p = s;
	int32_t west;

	memset(r, 0, sizeof(*r));
	if (!parse_abbr(&p) || !parse_hms(&p, 24, &west))
		return false;
	/* POSIX counts west of Greenwich as positive. */
	r->std_off = -west;
	if (*p == '\0')
		return offset_ok(r->std_off);
	if (!parse_abbr(&p))
		return false;
	r->dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (!parse_hms(&p, 24, &west))
			return false;
		r->dst_off = -west;
	}
	if (*p == '\0') {
		/* No dates: POSIX leaves them to the implementation, and tzcode
		 * uses the US rules, so do the same. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p++ != ',' || !parse_rule_date(&p, &r->start) || *p++ != ',' ||
	    !parse_rule_date(&p, &r->end) || *p != '\0')
		return false;
	r->has_dst = r->dst_off != r->std_off;
	return offset_ok(r->std_off) && offset_ok(r->dst_off);
}

/* ---- TZif files ---- */

struct tzif_reader {
	const unsigned char *p;
	size_t len, pos;
};

/* Every read goes through here, so no count from the file can over-read. */
static const unsigned char *tzif_take(struct tzif_reader *r, uint64_t n)
{
	const unsigned char *at = r->p + r->pos;

	if (n > r->len - r->pos)
		return NULL;
	r->pos += (size_t)n;
	return at;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int64_t be64(const unsigned char *b)
{
	return (int64_t)((uint64_t)be32(b) << 32 | be32(b + 4));
}

struct tzif_header {
	char version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static const char *tzif_read_header(struct tzif_reader *r, struct tzif_header *h)
{
	const unsigned char *b = tzif_take(r, 44);

	if (!b && r->len - r->pos >= 4 && !memcmp(r->p + r->pos, "TZif", 4))
		return "it is truncated";
	if (!b || memcmp(b, "TZif", 4) != 0)
		return "it does not start with the TZif magic";
	h->version = (char)b[4];
	h->isutcnt = be32(b + 20);
	h->isstdcnt = be32(b + 24);
	h->leapcnt = be32(b + 28);
	h->timecnt = be32(b + 32);
	h->typecnt = be32(b + 36);
	h->charcnt = be32(b + 40);
	if (h->typecnt == 0 || h->typecnt > 256)
		return "its count of local time types is out of range";
	if ((h->isutcnt && h->isutcnt != h->typecnt) || (h->isstdcnt && h->isstdcnt != h->typecnt))
		return "its UT/standard indicator counts do not match its type count";
	return NULL;
}

static uint64_t tzif_block_size(const struct tzif_header *h, unsigned tsize)
{
	return (uint64_t)h->timecnt * tsize + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
	       (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Read one data block (4- or 8-byte times) into `tz`. */
static const char *tzif_read_block(struct tzif_reader *r, const struct tzif_header *h,
                                   unsigned tsize, struct sl_tz *tz)
{
	const unsigned char *times, *idx, *types;
	int32_t prev;

	if (h->leapcnt)
		return "it has leap-second records ('right/' zones are not supported)";
	if (tzif_block_size(h, tsize) > r->len - r->pos)
		return "it is truncated";
	times = tzif_take(r, (uint64_t)h->timecnt * tsize);
	idx = tzif_take(r, h->timecnt);
	types = tzif_take(r, (uint64_t)h->typecnt * 6);
	tzif_take(r, (uint64_t)h->charcnt + h->isstdcnt + h->isutcnt);

	for (uint32_t i = 0; i < h->typecnt; i++) {
		if (!offset_ok((int32_t)be32(types + i * 6)))
			return "one of its UT offsets is out of range";
	}
	tz->first_off = (int32_t)be32(types);
	prev = tz->first_off;
	tz->ntrans = 0;
	tz->rule_from = INT64_MIN;
	for (uint32_t i = 0; i < h->timecnt; i++) {
		int64_t at = tsize == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4);
		int32_t off;

		if (idx[i] >= h->typecnt)
			return "a transition names a local time type that does not exist";
		if (at < -TZ_TIME_LIMIT || at > TZ_TIME_LIMIT)
			return "a transition time is out of range";
		if (i > 0 && at <= tz->rule_from)
			return "its transition times are not in ascending order";
		tz->rule_from = at;
		off = (int32_t)be32(types + idx[i] * 6);
		/* Changes of abbreviation or DST flag alone do not move the
		 * clock; dropping them keeps every stored transition a real
		 * change, which the gap and overlap logic relies on. */
		if (off == prev)
			continue;
		SL_ALLOC_GROW(tz->trans, tz->ntrans + 1, tz->trans_alloc);
		tz->trans[tz->ntrans].at = at;
		tz->trans[tz->ntrans++].utoff = off;
		prev = off;
	}
	return NULL;
}

static const char *tzif_read_footer(struct tzif_reader *r, struct sl_tz *tz)
{
	const unsigned char *nl = tzif_take(r, 1);
	char rule[128];
	size_t n = 0;

	if (!nl || *nl != '\n')
		return "its footer is missing";
	for (;;) {
		const unsigned char *ch = tzif_take(r, 1);

		if (!ch)
			return "its footer is not terminated";
		if (*ch == '\n')
			break;
		if (n + 1 >= sizeof(rule))
			return "its footer rule is too long";
		rule[n++] = (char)*ch;
	}
	rule[n] = '\0';
	if (n == 0)
		return NULL;
	if (!parse_posix_rule(rule, &tz->rule))
		return "its footer is not a valid POSIX TZ rule";
	tz->has_rule = true;
	return NULL;
}

static const char *tzif_parse(const unsigned char *data, size_t len, struct sl_tz *tz)
{
	struct tzif_reader r = {data, len, 0};
	struct tzif_header h;
	const char *why = tzif_read_header(&r, &h);

	if (why)
		return why;
	if (h.version == '\0')
		return tzif_read_block(&r, &h, 4, tz);
	/* Version 2+: skip the 32-bit block, whose times stop at 2038, and
	 * read the 64-bit one that follows its own header. */
	if (!tzif_take(&r, tzif_block_size(&h, 4)))
		return "it is truncated";
	why = tzif_read_header(&r, &h);
	if (!why)
		why = tzif_read_block(&r, &h, 8, tz);
	if (!why)
		why = tzif_read_footer(&r, tz);
	return why;
}

/* ---- loading ---- */

static bool is_utc_alias(const char *name)
{
	static const char *const aliases[] = {
	    "UTC",   "Etc/UTC",   "GMT",       "Etc/GMT",       "UCT",       "Etc/UCT",
	    "Zulu",  "Etc/Zulu",  "GMT0",      "Etc/GMT0",      "GMT+0",     "Etc/GMT+0",
	    "GMT-0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich", "Universal", "Etc/Universal",
	};

	for (size_t i = 0; i < SL_ARRAY_SIZE(aliases); i++) {
		if (!strcmp(name, aliases[i]))
			return true;
	}
	return false;
}

static int bad_name(struct sl_strbuf *err, const char *name, const char *why)
{
	sl_strbuf_addf(err, "invalid time zone name '%.255s': %s", name, why);
	return SL_EINVAL;
}

/* Check `name` before it becomes part of a path: it must stay inside TZDIR. */
static int check_name(const char *name, struct sl_strbuf *err)
{
	size_t len = strlen(name);
	const char *comp = name;

	if (len == 0) {
		sl_strbuf_adds(err, "empty time zone name");
		return SL_EINVAL;
	}
	if (len > TZ_NAME_MAX) {
		sl_strbuf_addf(err, "time zone name '%.40s...' is longer than %d bytes", name,
		               TZ_NAME_MAX);
		return SL_EINVAL;
	}
	if (name[0] == '/')
		return bad_name(err, name, "it must be a relative name like Europe/Paris");
	for (const char *p = name;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p == comp)
			return bad_name(err, name, "it has an empty path component");
		if ((p - comp == 1 && comp[0] == '.') ||
		    (p - comp == 2 && comp[0] == '.' && comp[1] == '.'))
			return bad_name(err, name, "'.' and '..' components are not allowed");
		if (*p == '\0')
			break;
		comp = p + 1;
	}
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (!isalnum(ch) && ch != '_' && ch != '+' && ch != '-' && ch != '/') {
			if (isprint(ch))
				sl_strbuf_addf(err,
				               "invalid time zone name '%s': the character '%c' "
				               "is not allowed",
				               name, ch);
			else
				sl_strbuf_addf(err,
				               "invalid time zone name: the byte 0x%02x is "
				               "not allowed",
				               ch);
			return SL_EINVAL;
		}
	}
	return 0;
}

int sl_tz_load(struct sl_tz **out, const char *name, struct sl_strbuf *err)
{
	struct sl_strbuf path = SL_STRBUF_INIT, data = SL_STRBUF_INIT;
	const char *dir = getenv("TZDIR");
	struct sl_tz *tz = NULL;
	const char *why;
	struct stat st;
	int missing, rc;

	*out = NULL;
	rc = check_name(name, err);
	if (rc)
		goto fail;
	/* UTC must work on a machine without tzdata, e.g. a slim container. */
	if (is_utc_alias(name)) {
		*out = (struct sl_tz *)&utc_zone;
		return 0;
	}
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	sl_strbuf_addf(&path, "%s/%s", dir, name);
	missing = stat(path.buf, &st) < 0 ? errno : 0;
	if (missing && missing != ENOENT && missing != ENOTDIR) {
		sl_strbuf_addf(err, "cannot read time zone file %s: %s", path.buf,
		               strerror(missing));
		rc = SL_ERR;
		goto fail;
	}
	if (missing || S_ISDIR(st.st_mode)) {
		sl_strbuf_addf(err, "unknown time zone '%s'", name);
		rc = SL_ENOENT;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		sl_strbuf_addf(err, "time zone file %s is not a regular file", path.buf);
		rc = SL_EINVAL;
		goto fail;
	}
	rc = sl_strbuf_read_file(&data, path.buf, TZ_FILE_MAX, err);
	if (rc)
		goto fail;
	tz = sl_xcalloc(1, sizeof(*tz));
	memcpy(tz->name, name, strlen(name) + 1);
	why = tzif_parse((const unsigned char *)data.buf, data.len, tz);
	if (why) {
		sl_strbuf_addf(err, "time zone file %s is corrupt: %s", path.buf, why);
		rc = SL_EINVAL;
		goto fail;
	}
	sl_strbuf_release(&path);
	sl_strbuf_release(&data);
	*out = tz;
	return 0;
fail:
	sl_tz_free(tz);
	sl_strbuf_release(&path);
	sl_strbuf_release(&data);
	return rc;
}

/* ---- queries ---- */

/* Index of the last stored transition at or before `utc`, or -1. */
static ptrdiff_t trans_index(const struct sl_tz *tz, int64_t utc)
{
	size_t lo = 0, hi = tz->ntrans;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->trans[mid].at <= utc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

int32_t sl_tz_offset(const struct sl_tz *tz, int64_t utc)
{
	ptrdiff_t i;

	if (tz->has_rule && utc >= tz->rule_from)
		return rule_offset(&tz->rule, utc);
	i = trans_index(tz, utc);
	return i < 0 ? tz->first_off : tz->trans[i].utoff;
}

int64_t sl_tz_to_local(const struct sl_tz *tz, int64_t utc)
{
	int32_t off = sl_tz_offset(tz, utc);

	if (off > 0 && utc > INT64_MAX - off)
		return INT64_MAX;
	if (off < 0 && utc < INT64_MIN - off)
		return INT64_MIN;
	return utc + off;
}

/* The first instant after `utc` at which the offset changes. */
static bool next_transition(const struct sl_tz *tz, int64_t utc, int64_t *next)
{
	ptrdiff_t i;

	if (utc > TZ_TIME_LIMIT)
		return false;
	if (!tz->has_rule || utc < tz->rule_from) {
		i = trans_index(tz, utc);
		if ((size_t)(i + 1) < tz->ntrans &&
		    (!tz->has_rule || tz->trans[i + 1].at < tz->rule_from)) {
			*next = tz->trans[i + 1].at;
			return true;
		}
		if (!tz->has_rule)
			return false;
		/* The rule takes over at rule_from, maybe with a new offset. */
		if (rule_offset(&tz->rule, tz->rule_from) != sl_tz_offset(tz, utc)) {
			*next = tz->rule_from;
			return true;
		}
		utc = tz->rule_from;
	}
	return rule_next(&tz->rule, utc, next);
}

int sl_tz_local_to_utc(const struct sl_tz *tz, int64_t local, int64_t out[2], int64_t *gap_end)
{
	int64_t t, next;
	int32_t off;
	int n = 0;
	bool more;

	/* Nothing real lies out there; clamping keeps the arithmetic defined. */
	if (local < -TZ_TIME_LIMIT)
		local = -TZ_TIME_LIMIT;
	if (local > TZ_TIME_LIMIT)
		local = TZ_TIME_LIMIT;
	/*
	 * Walk the constant-offset stretches that could hold an instant with
	 * this wall-clock time (offsets stay within a day and a bit of UTC),
	 * collecting each one in which `local - offset` falls.
	 */
	t = local - TZ_OFF_REACH;
	off = sl_tz_offset(tz, t);
	*gap_end = local - off;
	do {
		int64_t cand = local - off;

		more = next_transition(tz, t, &next);
		if (cand >= t && (!more || cand < next) && n < 2)
			out[n++] = cand;
		if (more) {
			int32_t next_off = sl_tz_offset(tz, next);

			if (next + off <= local && local < next + next_off)
				*gap_end = next;
			t = next;
			off = next_off;
		}
	} while (more && t <= local + TZ_OFF_REACH);
	return n;
}

void sl_tz_offset_range(const struct sl_tz *tz, int64_t from, int32_t *min, int32_t *max)
{
	int32_t lo = sl_tz_offset(tz, from), hi = lo;

	for (size_t i = (size_t)(trans_index(tz, from) + 1); i < tz->ntrans; i++) {
		if (tz->has_rule && tz->trans[i].at >= tz->rule_from)
			break;
		lo = tz->trans[i].utoff < lo ? tz->trans[i].utoff : lo;
		hi = tz->trans[i].utoff > hi ? tz->trans[i].utoff : hi;
	}
	if (tz->has_rule) {
		int32_t a = tz->rule.std_off;
		int32_t b = tz->rule.has_dst ? tz->rule.dst_off : a;

		lo = a < lo ? a : lo;
		lo = b < lo ? b : lo;
		hi = a > hi ? a : hi;
		hi = b > hi ? b : hi;
	}
	*min = lo;
	*max = hi;
}
