#ifndef SLUICE_DB_H
#define SLUICE_DB_H

#ifndef SLUICE_LAYER_DB
#error "sluice/db.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/queries.h"
#include "sluice/strbuf.h"

/**
 * PostgreSQL access: one connection, statements with parameters only, and
 * the schema's migrations.
 *
 * Every statement is written in lib/db/sql/<area>.sql under a name, compiled
 * into the binary, and run by its id (enum sl_query, sluice/queries.h) with
 * its values as parameters; no value is ever formatted into SQL text. (The
 * exceptions: BEGIN, COMMIT and ROLLBACK, which db.c sends itself, and
 * sl_db_migrate, which runs the migration scripts compiled into the binary:
 * they hold many statements and no values.) A statement is prepared on its
 * first use in a session, under its name (PQprepare, then PQexecPrepared),
 * so the daemons' hot statements are not planned again at every call; a
 * reconnect prepares them again.
 *
 * Errors: functions return 0, or a negative SL_E* code and append one
 * sentence to `err`. SL_EUNAVAIL means the server could not be reached or
 * the connection was lost (the CLI's exit status 4); its message names
 * where sluice tried ("cannot connect to PostgreSQL at /run/pg:5432: ...").
 * SL_EINVAL is a malformed connection string; SL_ERR an error the server
 * reported (a constraint violation, a permission), with its message.
 *
 * Reconnecting: a connection found broken before a statement is sent is
 * re-established (PQreset) once, outside a transaction, since nothing was
 * sent. A statement whose connection breaks while it runs is retried only
 * when the caller says it is idempotent (sl_db_q_idempotent) or as a
 * whole transaction (sl_db_transaction); otherwise its outcome is unknown
 * and it fails with SL_EUNAVAIL.
 */

struct sl_db;

/**
 * Connect. `conninfo` is a libpq connection string or URI; NULL (or "")
 * means $SLUICE_DATABASE_URL, and when that is unset or empty, libpq's
 * defaults and PG* variables. `*out` is NULL on failure.
 */
int sl_db_connect(struct sl_db **out, const char *conninfo, struct sl_strbuf *err);
/**
 * sl_db_connect with server settings for the session, as libpq's `options`
 * ("-c name=value ..."), kept across reconnects. An `options` in the
 * connection string itself replaces them.
 */
int sl_db_connect_session(struct sl_db **out, const char *conninfo, const char *options,
                          struct sl_strbuf *err);
/**
 * sl_db_connect for a caller that must answer at once or not at all (shell
 * completion): at most one second per host to connect, whatever the string
 * or PGCONNECT_TIMEOUT say, and one second per statement (an `options` in
 * the string may change that one).
 */
int sl_db_connect_quick(struct sl_db **out, const char *conninfo, struct sl_strbuf *err);
/** Close the connection and free `db`; NULL is allowed. */
void sl_db_free(struct sl_db *db);

/** Where the connection goes, as "host:port" (host may be a socket folder). */
const char *sl_db_where(const struct sl_db *db);
/** The database name, and the server's version ("15.2"). */
const char *sl_db_name(const struct sl_db *db);
const char *sl_db_server_version(const struct sl_db *db);
/** The libpq connection, for what this module does not wrap (notifications). */
PGconn *sl_db_conn(struct sl_db *db);
/** The SQLSTATE of the last failed statement ("23505"), or "" */
const char *sl_db_sqlstate(const struct sl_db *db);
/**
 * How many times the connection was re-established. A reconnect gives
 * sl_db_conn() a new socket and a new server session: a caller that polls
 * PQsocket() or holds session state (LISTEN) compares this number to
 * notice it.
 */
unsigned long sl_db_reconnects(const struct sl_db *db);

/**
 * How many COMMITs on this connection committed (sl_db_commit, and so
 * every sl_db_transaction that succeeded), across reconnects: what a
 * daemon's metrics count as its transactions.
 */
uint64_t sl_db_commits(const struct sl_db *db);

/**
 * Run statement `q` with `nparams` text parameters ($1, $2, ...; a NULL
 * element is SQL NULL); `nparams` must be the statement's own count
 * (sl_queries[q].nparams), else it is a bug, refused with SL_ERR. On
 * success `*res` (when `res` is not NULL) holds the result, which the caller
 * frees with PQclear; on failure `*res` is NULL. Not retried once sent: use
 * it for statements that must not run twice.
 */
int sl_db_q(struct sl_db *db, enum sl_query q, int nparams, const char *const *params,
            PGresult **res, struct sl_strbuf *err);
/**
 * The same for a statement that may safely run twice (a SELECT, an upsert
 * to a fixed value): outside a transaction, a connection lost while it runs
 * is re-established and the statement sent once more.
 */
int sl_db_q_idempotent(struct sl_db *db, enum sl_query q, int nparams, const char *const *params,
                       PGresult **res, struct sl_strbuf *err);

/** BEGIN, COMMIT and ROLLBACK; rollback never fails (a lost connection
 * rolls back by itself). */
int sl_db_begin(struct sl_db *db, struct sl_strbuf *err);
int sl_db_commit(struct sl_db *db, struct sl_strbuf *err);
void sl_db_rollback(struct sl_db *db);
bool sl_db_in_transaction(const struct sl_db *db);

/** Flags of sl_db_transaction. */
enum {
	/*
	 * The whole transaction may be applied twice (it checks what is already
	 * done before doing it): it is retried even when the connection was
	 * lost during COMMIT, when nobody knows whether it committed.
	 */
	SL_DB_TX_IDEMPOTENT = 1 << 0,
};

/**
 * Run `fn` inside BEGIN ... COMMIT: the way to make a batch of state changes
 * atomic. `fn` returns 0 to commit, or a negative code (after appending to
 * `err`) to roll back. The transaction runs again, from BEGIN, when it was
 * aborted by a serialization failure or deadlock (up to 3 times), or by a
 * lost connection before COMMIT was sent (once, after reconnecting): `fn`
 * must be safe to call again, holding no state from an earlier call.
 */
int sl_db_transaction(struct sl_db *db, unsigned flags,
                      int (*fn)(struct sl_db *db, void *ctx, struct sl_strbuf *err), void *ctx,
                      struct sl_strbuf *err);

/**
 * Fence every later sl_db_transaction on this connection by a lease: just
 * before COMMIT, a transaction that wrote anything locks the row of
 * scheduler_lease (FOR SHARE, so the lease cannot change hands before it
 * commits) and commits only when `holder` holds it at `epoch` and it has
 * not expired in the server's clock; otherwise it rolls back with
 * SL_EFENCED. A transaction that wrote nothing is not checked (nothing to
 * fence) and stays a read-only one, with no WAL flush. This is what keeps a
 * scheduler that was frozen past its lease from writing anything once it
 * runs again, whatever it believes. `holder` NULL removes the fence; epoch
 * 0 refuses every transaction (a scheduler that has not led yet).
 */
void sl_db_set_fence(struct sl_db *db, const char *holder, long long epoch);

/** A migration compiled into the binary (migrations/NNNN_name.sql). */
struct sl_db_migration {
	int version;
	const char *name;
	const char *file;
	const char *sql;
};

/** Every known migration, by version: sl_db_migrations[i].version == i + 1. */
extern const struct sl_db_migration sl_db_migrations[];
extern const size_t sl_db_migrations_nr;

/** A row of schema_migrations. */
struct sl_db_applied {
	int version;
	char *name;
	char *applied_at; /* ISO 8601, UTC */
};

struct sl_db_status {
	bool initialised;  /* schema_migrations exists */
	int version;       /* highest applied version; 0 when none */
	int known_version; /* highest version this binary knows */
	struct sl_db_applied *applied;
	size_t applied_nr, applied_alloc;
};

#define SL_DB_STATUS_INIT               \
	{                               \
		false, 0, 0, NULL, 0, 0 \
	}

void sl_db_status_release(struct sl_db_status *st);

/**
 * Read which migrations are applied. Succeeds on a database that has none
 * (initialised is false) and on one newer than this binary (version >
 * known_version): the caller decides what that means.
 */
int sl_db_status(struct sl_db *db, struct sl_db_status *st, struct sl_strbuf *err);

/**
 * Whether the database answers a trivial query (a lost connection is
 * re-established once). Returns 0, or a negative SL_E* with a sentence in
 * `err`. Blocks for one round trip.
 */
int sl_db_ping(struct sl_db *db, struct sl_strbuf *err);

/**
 * Apply every pending migration, each in its own transaction holding a
 * transaction-level advisory lock, so that concurrent callers apply each
 * migration once (the others wait, then find it applied). `*applied` (may
 * be NULL) receives how many this call applied. Refuses (SL_ERR, nothing
 * changed) a database whose schema is newer than this binary knows.
 */
int sl_db_migrate(struct sl_db *db, int *applied, struct sl_strbuf *err);

/** The advisory lock key that serialises migrations ("sluice" in ASCII). */
#define SL_DB_MIGRATE_LOCK "126909663503205"

#endif
