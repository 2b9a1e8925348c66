#include "sluice/duration.h"

#include "sluice/alloc.h"
#include "sluice/error.h"

#include <string.h>
#include "sluice/banned.h"

/* 100 years of 365.25 days: far beyond any sane delay, far below overflow. */
#define DURATION_MAX ((int64_t)100 * 36525 * 864)

static const struct {
	char unit;
	int64_t secs;
} units[] = {
    {'d', 86400},
    {'h', 3600},
    {'m', 60},
    {'s', 1},
};

static int bad(struct sl_strbuf *err, const char *s, const char *why)
{
	sl_strbuf_addf(
	    err, "'%s' is not a duration: %s (write seconds, or e.g. 90s, 5m, 1h30m, 2d)", s, why);
	return SL_EINVAL;
}

static int unit_index(char c)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(units); i++) {
		if (units[i].unit == c)
			return (int)i;
	}
	return -1;
}

/* Reads the digits at *p into *n; false when there are none or too many. */
static int read_number(const char **p, int64_t *n, const char *s, struct sl_strbuf *err)
{
	if (**p < '0' || **p > '9')
		return bad(err, s, **p == '-' ? "it is negative" : "expected a number");
	*n = 0;
	while (**p >= '0' && **p <= '9') {
		*n = *n * 10 + (**p - '0');
		if (*n > DURATION_MAX)
			return bad(err, s, "it is longer than 100 years");
		(*p)++;
	}
	return SL_OK;
}

int sl_duration_parse(const char *s, int64_t *secs, struct sl_strbuf *err)
{
	const char *p = s;
	int64_t total = 0;
	size_t next_unit = 0; /* units go from largest to smallest */

	if (!*s)
		return bad(err, s, "it is empty");
	if (!s[strspn(s, "0123456789")]) {
		if (read_number(&p, &total, s, err))
			return SL_EINVAL;
		*secs = total;
		return SL_OK;
	}
	while (*p) {
		int64_t n;
		int u;

		if (read_number(&p, &n, s, err))
			return SL_EINVAL;
		if (!*p)
			return bad(err, s, "the last number has no unit");
		u = unit_index(*p);
		if (u < 0)
			return bad(err, s, "units are d, h, m and s");
		if ((size_t)u < next_unit)
			return bad(err, s,
			           "units must go from largest to smallest, each at most once");
		total += n * units[u].secs;
		if (total > DURATION_MAX)
			return bad(err, s, "it is longer than 100 years");
		next_unit = (size_t)u + 1;
		p++;
	}
	*secs = total;
	return SL_OK;
}

void sl_duration_format(struct sl_strbuf *sb, int64_t secs)
{
	uint64_t left;

	if (secs == 0) {
		sl_strbuf_adds(sb, "0s");
		return;
	}
	if (secs < 0) {
		sl_strbuf_addch(sb, '-');
		left = (uint64_t)0 - (uint64_t)secs;
	} else {
		left = (uint64_t)secs;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(units); i++) {
		uint64_t n = left / (uint64_t)units[i].secs;

		if (n) {
			sl_strbuf_addf(sb, "%llu%c", (unsigned long long)n, units[i].unit);
			left -= n * (uint64_t)units[i].secs;
		}
	}
}
