#ifndef SLUICE_ENGINE_INT_H
#define SLUICE_ENGINE_INT_H

/*
 * What the files of lib/engine/ share and nothing else sees: the helpers
 * that build statement parameters and read results (engine.c), the
 * definition cache (defcache.c), and the advance of locked runs that a
 * result report also runs, inside its own transaction (advance.c). Non-static names
 * start with `sl__` so that they cannot collide with another layer's.
 */

#include <stdbool.h>
#include <stdint.h>

#include "sluice/dag.h"
#include "sluice/engine.h"
#include "sluice/pgarray.h"

/* ---- parameters and results (engine.c) ---------------------------------- */

int64_t sl__int_at(PGresult *r, int row, int col);
bool sl__bool_at(PGresult *r, int row, int col);

/* A timestamptz parameter for `at_ms` milliseconds since the epoch. */
struct ts {
	char buf[48];
};

const char *sl__ts_of(struct ts *t, int64_t at_ms);

struct num {
	char buf[24];
};

const char *sl__num_of(struct num *n, int64_t v);

/* ---- definitions, cached by version (defcache.c) ------------------------ */

/* The definitions one call holds: the engine keeps them until released. */
struct defcache {
	struct sl_engine_def **items;
	size_t nr, alloc;
};

#define DEFCACHE_INIT      \
	{                  \
		NULL, 0, 0 \
	}

/*
 * The parsed definition of DAG version `version_id`, read from the
 * database on `e`'s connection the first time. `*out` stays valid until
 * sl__defcache_release(c).
 */
int sl__defcache_get(struct sl_engine *e, struct defcache *c, int64_t version_id,
                     const struct sl_dag **out, struct sl_strbuf *err);
void sl__defcache_release(struct defcache *c);
/* Free every definition the engine caches; none may be held. */
void sl__defstore_release(struct sl_engine *e);

/* ---- claim (claim.c) ---------------------------------------------------- */

struct claim_ctx {
	struct sl_engine *e;
	const char *worker_id;
	const char *const *queues;
	size_t queues_nr;
	size_t free_slots;
	size_t parallelism;
	int64_t now_ms;
	struct sl_engine_dispatches *out;
	size_t out_start; /* out->nr before: what a retried transaction goes back to */
	bool started;
};

/*
 * Claim work for `c->worker_id` into `c->out`, inside a transaction on `db`
 * (a struct claim_ctx *, as sl_db_transaction passes it).
 */
int sl__claim_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err);
/* Release the dispatches past the first `nr` (those of a failed claim). */
void sl__dispatches_truncate(struct sl_engine_dispatches *d, size_t nr);

/* ---- advance (advance.c) ------------------------------------------------ */

struct advance_ctx {
	struct sl_engine *e;
	int64_t now_ms;
	size_t limit;
	size_t changes;
};

/*
 * Lock the runs `pks` (a bigint[] literal), decide them, write; inside a
 * transaction on `db`. `c->changes` counts what changed.
 */
int sl__advance_locked(struct sl_db *db, struct advance_ctx *c, const char *pks,
                       struct defcache *defs, struct sl_strbuf *err);

#endif
