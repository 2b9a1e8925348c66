/*
 * The leader lease row: take, renew, release.
 */
#include "sluice/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/banned.h"

void sl_lease_state_release(struct sl_lease_state *st)
{
	free(st->holder);
	*st = (struct sl_lease_state)SL_LEASE_STATE_INIT;
}

int sl_lease_acquire(struct sl_db *db, const char *holder, const char *commit, int64_t seconds,
                     struct sl_lease_state *st, struct sl_strbuf *err)
{
	char secs[24];
	const char *params[] = {holder, commit, secs};
	PGresult *r = NULL;
	int rc;

	sl_lease_state_release(st);
	snprintf(secs, sizeof(secs), "%lld", (long long)seconds);
	rc = sl_db_q_idempotent(db, SL_Q_LEASE_ACQUIRE, 3, params, &r, err);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		st->held = !strcmp(PQgetvalue(r, 0, 0), "t");
		st->holder = sl_xstrdup(PQgetvalue(r, 0, 1));
		st->epoch = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);
	return 0;
}

int sl_lease_release(struct sl_db *db, const char *holder, struct sl_strbuf *err)
{
	const char *params[] = {holder};

	return sl_db_q_idempotent(db, SL_Q_LEASE_RELEASE, 1, params, NULL, err);
}
