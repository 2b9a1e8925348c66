#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/lease.h"
#include "sluice/banned.h"

/*
 * The leader lease (table scheduler_lease, one row): among schedulers
 * sharing a database, only the holder runs ticks, refreshes and takes
 * workers. The lease lasts heartbeat_timeout from its last renewal, in the
 * server's clock; the holder renews it about every second in one
 * statement that also takes it over when it has expired.
 *
 * The holder counts its own lease as held only until heartbeat_timeout
 * after the moment it sent the renewal that succeeded (read before the
 * statement, in the monotonic clock): a later instant than the server's
 * expiry can never be believed, whatever the clocks say, so two schedulers
 * never both think they lead.
 */

#define RENEW_MS 1000

static uint64_t timeout_ms(const struct sched *s)
{
	return (uint64_t)s->cfg.heartbeat_timeout * 1000;
}

bool lease_held(const struct sched *s)
{
	return s->leader && mono_ms() < s->lease_until;
}

static void lose(struct sched *s, const char *reason)
{
	sl_log("warn", "lease_lost", "epoch=%" PRId64 " reason=\"%s\" workers=%zu", s->epoch,
	       reason, s->conns_nr);
	s->leader = false;
	conn_close_all(s, "this scheduler lost the leader lease");
}

static void set_holder(struct sched *s, const char *holder)
{
	if (holder && s->holder && !strcmp(holder, s->holder))
		return;
	if (!holder && !s->holder)
		return;
	free(s->holder);
	s->holder = holder ? sl_xstrdup(holder) : NULL;
	if (holder)
		sl_log("info", "standby", "leader=%s", holder);
}

void lease_fenced(struct sched *s)
{
	if (s->leader)
		lose(s, "a write was refused: another scheduler took the lease");
	/* Renew at the next tick: the lease may be free again, under a new epoch. */
	s->last_renew = 0;
}

void lease_check(struct sched *s)
{
	if (s->leader && mono_ms() >= s->lease_until)
		lose(s, "not renewed within heartbeat_timeout");
}

int lease_tick(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_lease_state st = SL_LEASE_STATE_INIT;
	uint64_t start = mono_ms(), renew = timeout_ms(s) / 3;
	int rc = 0;

	if (renew > RENEW_MS)
		renew = RENEW_MS;
	/* Ticks run more often than that when kicked; a tick a little early still renews. */
	if (s->last_renew && start - s->last_renew < renew * 3 / 4)
		goto check;
	s->last_renew = start;
	/* The commit is the last one this scheduler refreshed, else what the
	 * DAG source says. */
	rc = sl_lease_acquire(s->db, s->scheduler_id, s->commit, s->cfg.heartbeat_timeout, &st,
	                      &err);
	if (rc) {
		sched_db_error(s, "lease", rc, &err);
		rc = rc == SL_EUNAVAIL ? rc : 0;
		goto check;
	}
	if (st.held) {
		int64_t epoch = st.epoch;

		s->lease_until = start + timeout_ms(s);
		if (!s->leader || epoch != s->epoch) {
			s->leader = true;
			s->epoch = epoch;
			sl_db_set_fence(s->db, s->scheduler_id, epoch);
			set_holder(s, NULL);
			s->lost_checks_after = start + timeout_ms(s);
			sl_log("info", "lease_acquired", "epoch=%" PRId64 " scheduler_id=%s", epoch,
			       s->scheduler_id);
			sched_refresh_now(s);
		}
		goto out;
	}
	if (s->leader)
		lose(s, st.holder ? "another scheduler holds it" : "not renewed");
	set_holder(s, st.holder);
	goto out;
check:
	lease_check(s);
out:
	sl_lease_state_release(&st);
	sl_strbuf_release(&err);
	return rc;
}

void lease_release(struct sched *s)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	if (!s->leader || s->db_down)
		return;
	s->leader = false;
	if ((rc = sl_lease_release(s->db, s->scheduler_id, &err)))
		sched_db_error(s, "lease_release", rc, &err);
	else
		sl_log("info", "lease_released", "epoch=%" PRId64, s->epoch);
	sl_strbuf_release(&err);
}

char *lease_reject_reason(const struct sched *s)
{
	if (s->holder)
		return sl_xasprintf("standby: leader is %s", s->holder);
	return sl_xstrdup("standby: no scheduler holds the lease yet");
}
