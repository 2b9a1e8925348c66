#ifndef SLUICE_CRON_H
#define SLUICE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/strbuf.h"

struct sl_tz;

/**
 * A parsed 5-field cron expression, as Vixie cron and cronie read it:
 * minute hour day-of-month month day-of-week, each field a list of
 * `*`, `N`, `N-M`, with an optional `/STEP`; month names JAN-DEC and
 * weekday names SUN-SAT (case-insensitive); 0 and 7 are both Sunday.
 * Presets: @yearly @annually @monthly @weekly @daily @midnight @hourly.
 *
 * Day rule (Vixie): when both day-of-month and day-of-week are restricted
 * (neither field starts with `*`), a day matches if EITHER matches;
 * otherwise both must match.
 */
struct sl_cron {
	uint64_t minutes; /* bit m for minute m, 0-59 */
	uint32_t hours;   /* bit h, 0-23 */
	uint32_t mdays;   /* bit d, 1-31 */
	uint16_t months;  /* bit m, 1-12 */
	uint8_t wdays;    /* bit w, 0-6, Sunday = 0 */
	unsigned flags;   /* SL_CRON_* */
};

enum {
	SL_CRON_MIN_STAR = 1 << 0,  /* minute field starts with '*' */
	SL_CRON_HOUR_STAR = 1 << 1, /* hour field starts with '*' */
	SL_CRON_MDAY_STAR = 1 << 2, /* day-of-month field starts with '*' */
	SL_CRON_WDAY_STAR = 1 << 3, /* day-of-week field starts with '*' */
};

/**
 * Parse `expr`. On error returns SL_EINVAL, appends a sentence to `err`
 * ("day-of-month 32 is out of range 1-31", "0 0 30 2 * can never fire: ...")
 * and sets `*err_offset` to the byte offset in `expr` where the problem is,
 * so that a caller can turn it into a column.
 */
int sl_cron_parse(struct sl_cron *cron, const char *expr, struct sl_strbuf *err,
                  size_t *err_offset);

/**
 * The first fire time strictly after instant `after`, in zone `tz` (NULL:
 * UTC). Daylight-saving changes follow cronie: a job whose minute and hour
 * are both fixed (neither field starts with '*') and whose time falls in a
 * spring-forward gap fires once, at the end of the gap; in a fall-back
 * overlap it fires only at the first occurrence. A job with a wildcard
 * minute or hour follows the wall clock: it does not fire for times in the
 * gap and fires at both occurrences of times in the overlap.
 * Returns 0, or SL_ENOENT when there is no fire time within 400 years.
 */
int sl_cron_next(const struct sl_cron *cron, const struct sl_tz *tz, int64_t after, int64_t *next);

#endif
