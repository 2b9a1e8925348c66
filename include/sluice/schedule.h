#ifndef SLUICE_SCHEDULE_H
#define SLUICE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/cron.h"
#include "sluice/dag.h"
#include "sluice/strbuf.h"

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
 * The schedule fields of a DAG version, as a parsed DAG (struct sl_dag) or
 * the columns of dag_versions (docs/database.md) hold them.
 */
struct sl_schedule_def {
	const char *schedule; /* as written: cron, preset or "@once"; NULL: manual */
	const char *timezone; /* IANA name; NULL: UTC */
	bool has_start_date;
	int64_t start_date;
	bool has_end_date;
	int64_t end_date;
	bool catchup;
};

/**
 * A DAG's schedule at one moment, what sl_schedule_next needs: built by
 * sl_schedule_load for both the scheduler (which creates the runs) and
 * `dags list`/`dags next` (which show them), so the two cannot disagree.
 */
struct sl_schedule {
	enum sl_schedule_kind kind;
	struct sl_cron cron; /* valid for SL_SCHEDULE_CRON */
	struct sl_tz *tz;    /* owned; NULL: UTC */
	struct sl_schedule_state st;
};

#define SL_SCHEDULE_INIT                             \
	{                                            \
		.kind = SL_SCHEDULE_NONE, .tz = NULL \
	}

/**
 * Fill `s` from `def`; the start date is `def`'s, else `first_seen` (when
 * the DAG was first seen). `has_last`/`last_end`: the latest scheduled
 * run's data interval end, if any. Returns 0, or SL_EINVAL or SL_ENOENT
 * with a sentence in `err` for a time zone or schedule this sluice cannot
 * read (a version stored by another sluice); `s` must be released either
 * way.
 */
int sl_schedule_load(struct sl_schedule *s, const struct sl_schedule_def *def, int64_t first_seen,
                     bool has_last, int64_t last_end, int64_t now, struct sl_strbuf *err);

/** Free what `s` holds; `s` may then be loaded again. */
void sl_schedule_release(struct sl_schedule *s);

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
