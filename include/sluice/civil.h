#ifndef SLUICE_CIVIL_H
#define SLUICE_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/strbuf.h"

struct sl_tz;

/**
 * Civil (proleptic Gregorian) calendar arithmetic on plain integers, so that
 * no code needs gmtime/localtime or the process-wide TZ. An instant is
 * `int64_t` seconds since 1970-01-01T00:00:00Z. A "local" time is the same
 * count read as a wall clock in some zone (seconds since 1970-01-01T00:00
 * local), which makes local arithmetic plain integer arithmetic too.
 */
struct sl_civil {
	int year;
	int month;  /* 1-12 */
	int day;    /* 1-31 */
	int hour;   /* 0-23 */
	int minute; /* 0-59 */
	int second; /* 0-59 */
	int wday;   /* 0 = Sunday .. 6 = Saturday */
};

/** Days since 1970-01-01 of a civil date; months and days must be in range. */
int64_t sl_days_from_civil(int year, int month, int day);
/** Break `secs` (UTC or local seconds) into fields, including wday. */
void sl_civil_from_secs(int64_t secs, struct sl_civil *out);
/** Seconds of the civil date-time fields (as UTC or local seconds). */
int64_t sl_secs_from_civil(const struct sl_civil *c);
bool sl_is_leap_year(int year);
int sl_days_in_month(int year, int month);

/**
 * Parse an ISO 8601 date or date-time: `YYYY-MM-DD`,
 * `YYYY-MM-DDTHH:MM[:SS[.fff]]` (a space may replace `T`), with an optional
 * `Z` or `±HH:MM` / `±HHMM` offset. A value without an offset is a wall-clock
 * time in `tz` (UTC when `tz` is NULL); if that wall-clock time does not
 * exist (DST gap) it is moved forward by the gap, and if it is ambiguous the
 * earlier instant is taken. Fractional seconds are truncated.
 * Returns 0, or SL_EINVAL with a message in `err`.
 */
int sl_iso_parse(const char *s, const struct sl_tz *tz, int64_t *out, struct sl_strbuf *err);

/** Format `t` as `YYYY-MM-DDTHH:MM:SS±HH:MM` in `tz` (`Z` suffix for UTC / NULL). */
void sl_iso_format(struct sl_strbuf *sb, int64_t t, const struct sl_tz *tz);

#endif
