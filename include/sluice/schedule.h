#ifndef SLUICE_SCHEDULE_H
#define SLUICE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/cron.h"

struct sl_tz;

/**
 * Which data interval a cron DAG runs next, by Airflow 2's convention: a
 * scheduled run covers the data interval [start, end) between two fire
 * times of the cron expression, its logical date is `start`, and it is
 * created once the interval has ended, at `end` (its "run after" time).
 *
 * The rule (Airflow's CronDataIntervalTimetable.next_dagrun_info):
 *
 *   - earliest = the first fire time at or after the DAG's start date;
 *   - without catchup, earliest is moved up to the start of the latest
 *     interval that has ended by `now` (when that is later): a DAG that was
 *     off or paused for a week runs the last interval once, not seven times;
 *   - after a scheduled run, the next interval starts where the latest one
 *     ended (aligned down to a fire time, in case the schedule changed), but
 *     never before `earliest`;
 *   - no interval starts after the DAG's end date.
 *
 * The next interval's `end` may already be past: that run is due now.
 * Fire times follow sl_cron_next, daylight-saving policy included.
 */
struct sl_interval {
	int64_t start; /* the logical date */
	int64_t end;   /* the end of the data interval: when the run may start */
};

struct sl_schedule_state {
	int64_t start_date; /* the DAG's start_date, or when it was first seen */
	bool has_end_date;
	int64_t end_date;
	bool catchup;
	bool has_last;    /* a scheduled run exists */
	int64_t last_end; /* the latest scheduled run's data interval end */
	int64_t now;
};

/**
 * The next interval of `cron` in zone `tz` (NULL: UTC) given `st`.
 * Returns 0, or SL_ENOENT when there is none (past the end date, or no fire
 * time within cron's 400-year search).
 */
int sl_schedule_next(const struct sl_cron *cron, const struct sl_tz *tz,
                     const struct sl_schedule_state *st, struct sl_interval *out);

/**
 * The interval that follows `iv`: [iv->end, next fire after iv->end).
 * Returns 0, or SL_ENOENT when it would start after the end date
 * (`has_end_date`/`end_date`) or cron has no further fire time.
 */
int sl_schedule_following(const struct sl_cron *cron, const struct sl_tz *tz,
                          const struct sl_interval *iv, bool has_end_date, int64_t end_date,
                          struct sl_interval *out);

/**
 * The latest fire time of `cron` at or before `t` (sl_cron_next run
 * backwards). Returns 0, or SL_ENOENT when there is none within 400 years.
 */
int sl_cron_prev(const struct sl_cron *cron, const struct sl_tz *tz, int64_t t, int64_t *prev);

#endif
