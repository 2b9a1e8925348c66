/*
 * The next data interval of a cron DAG (Airflow 2's convention; the rule is
 * written down in include/sluice/schedule.h and docs/cli.md).
 */
#include "sluice/schedule.h"

#include <string.h>

#include "sluice/error.h"
#include "sluice/tz.h"
#include "sluice/banned.h"

int sl_schedule_load(struct sl_schedule *s, const struct sl_schedule_def *def, int64_t first_seen,
                     bool has_last, int64_t last_end, int64_t now, struct sl_strbuf *err)
{
	size_t offset;
	int rc;

	memset(s, 0, sizeof(*s));
	s->kind = SL_SCHEDULE_NONE;
	s->st.start_date = def->has_start_date ? def->start_date : first_seen;
	s->st.has_end_date = def->has_end_date;
	s->st.end_date = def->end_date;
	s->st.catchup = def->catchup;
	s->st.has_last = has_last;
	s->st.last_end = has_last ? last_end : 0;
	s->st.now = now;
	if (def->timezone) {
		rc = sl_tz_load(&s->tz, def->timezone, err);
		if (rc)
			return rc;
	}
	if (!def->schedule)
		return 0;
	if (!strcmp(def->schedule, "@once")) {
		s->kind = SL_SCHEDULE_ONCE;
		return 0;
	}
	s->kind = SL_SCHEDULE_CRON;
	return sl_cron_parse(&s->cron, def->schedule, err, &offset);
}

void sl_schedule_release(struct sl_schedule *s)
{
	sl_tz_free(s->tz);
	s->tz = NULL;
}

/* How far back sl_cron_prev looks: cron's own 400-year search span. */
#define PREV_SPAN ((int64_t)146097 * 86400)
/* The first window sl_cron_prev tries; it doubles until a fire time is in it. */
#define PREV_WINDOW ((int64_t)3600)

int sl_cron_prev(const struct sl_cron *cron, const struct sl_tz *tz, int64_t t, int64_t *prev)
{
	int64_t w = PREV_WINDOW, f, g;

	/*
	 * There is no backward search over wall-clock times; instead find a
	 * window (t - w, t] that holds a fire time, doubling it, then walk
	 * forward through the window to the last fire time in it. Walking
	 * forward with sl_cron_next keeps the daylight-saving policy exactly
	 * the one the scheduler fires by. A window that has just found its
	 * first fire time held none at half the size, so the walk is short
	 * for any regular schedule.
	 */
	for (;;) {
		if (sl_cron_next(cron, tz, t - w, &f) == 0 && f <= t)
			break;
		if (w >= PREV_SPAN)
			return SL_ENOENT;
		w *= 2;
	}
	while (sl_cron_next(cron, tz, f, &g) == 0 && g <= t)
		f = g;
	*prev = f;
	return 0;
}

/* The first fire time at or after `t`. */
static int align_next(const struct sl_cron *cron, const struct sl_tz *tz, int64_t t, int64_t *out)
{
	return sl_cron_next(cron, tz, t - 1, out);
}

int sl_schedule_next(const struct sl_cron *cron, const struct sl_tz *tz,
                     const struct sl_schedule_state *st, struct sl_interval *out)
{
	int64_t earliest, ended, latest_start, last_start;
	int rc = align_next(cron, tz, st->start_date, &earliest);

	if (rc)
		return rc;
	/*
	 * Without catchup: the start of the latest interval that has ended by
	 * now. `ended` is the last fire time at or before now, so the interval
	 * [fire before it, ended) is complete and its run is due.
	 */
	if (!st->catchup && sl_cron_prev(cron, tz, st->now, &ended) == 0 &&
	    sl_cron_prev(cron, tz, ended - 1, &latest_start) == 0 && latest_start > earliest)
		earliest = latest_start;
	out->start = earliest;
	if (st->has_last && sl_cron_prev(cron, tz, st->last_end, &last_start) == 0 &&
	    last_start > out->start)
		out->start = last_start;
	if (st->has_end_date && out->start > st->end_date)
		return SL_ENOENT;
	return sl_cron_next(cron, tz, out->start, &out->end);
}

int sl_schedule_following(const struct sl_cron *cron, const struct sl_tz *tz,
                          const struct sl_interval *iv, bool has_end_date, int64_t end_date,
                          struct sl_interval *out)
{
	if (has_end_date && iv->end > end_date)
		return SL_ENOENT;
	out->start = iv->end;
	return sl_cron_next(cron, tz, out->start, &out->end);
}
