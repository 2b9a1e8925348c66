#ifndef SLUICE_LEASE_H
#define SLUICE_LEASE_H

#ifndef SLUICE_LAYER_DB
#error "sluice/lease.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * The leader lease in PostgreSQL (table scheduler_lease, one row; the
 * statements are in lib/db/sql/lease.sql, the policy in scheduler/lease.c).
 * Both calls are one statement that may safely run twice. Errors are the
 * sl_db codes with one sentence in `err`.
 */

/** Who holds the lease after sl_lease_acquire. */
struct sl_lease_state {
	bool held;     /* by the caller */
	char *holder;  /* the live holder (the caller when held); NULL: nobody */
	int64_t epoch; /* the holder's epoch; 0 when nobody holds it */
};

#define SL_LEASE_STATE_INIT    \
	{                      \
		false, NULL, 0 \
	}

void sl_lease_state_release(struct sl_lease_state *st);

/**
 * Take or renew the lease for `holder` until `seconds` from now in the
 * server's clock, unless another holder's lease is live. `commit` (NULL:
 * what the DAG source says) is recorded as the holder's current commit.
 * The epoch goes up whenever the lease changes hands or is taken again
 * after it expired. `st` is replaced.
 */
int sl_lease_acquire(struct sl_db *db, const char *holder, const char *commit, int64_t seconds,
                     struct sl_lease_state *st, struct sl_strbuf *err);

/** End `holder`'s lease now, if it holds it. */
int sl_lease_release(struct sl_db *db, const char *holder, struct sl_strbuf *err);

#endif
