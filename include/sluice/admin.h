#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#ifndef SLUICE_LAYER_DB
#error "sluice/admin.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>

#include "sluice/accounts.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * What an operator changes by hand besides runs (those are in runstore.h):
 * a DAG's paused flag, pools, and the database itself for `sluice
 * standalone`. Each change is one statement of lib/db/sql that sets fixed
 * values and the audit row by `who` (sl_audit_add) in the same
 * transaction, so that the two commit together. Errors are negative
 * SL_E* codes with one sentence in `err`: SL_ENOENT names what does not
 * exist, the sl_db codes the database.
 */

/**
 * Set DAG `dag_id`'s paused flag and wake the scheduler (NOTIFY sluice,
 * 'pause <dag_id>' or 'unpause <dag_id>'). The notification is sent on
 * every call, changed or not: a scheduler that missed one (it was
 * restarting) gets another chance, and an extra one costs a re-read.
 * `*was` receives the flag this call replaced. SL_ENOENT: "no DAG 'x'".
 * Call inside a transaction (a backfill unpauses in its own).
 */
int sl_dag_set_paused(struct sl_db *db, const struct sl_actor *who, const char *dag_id, bool paused,
                      bool *was, struct sl_strbuf *err);
/** sl_dag_set_paused in a transaction of its own (`dags pause`, PATCH /api/v1/dags/x). */
int sl_dag_pause(struct sl_db *db, const struct sl_actor *who, const char *dag_id, bool paused,
                 bool *was, struct sl_strbuf *err);

/**
 * Create pool `name` with `slots`, or change its slots; `description`
 * NULL keeps the one there is ("" for a new pool). A transaction of its
 * own, as is sl_pool_delete's.
 */
int sl_pool_set(struct sl_db *db, const struct sl_actor *who, const char *name, long slots,
                const char *description, struct sl_strbuf *err);
/** Delete pool `name`. SL_ENOENT: "no pool 'x'". */
int sl_pool_delete(struct sl_db *db, const struct sl_actor *who, const char *name,
                   struct sl_strbuf *err);

/**
 * Create the database `sluice` when the server has none; `db` is connected
 * to another database of that server (postgres). Not inside a transaction:
 * CREATE DATABASE refuses to run in one.
 */
int sl_db_create_sluice(struct sl_db *db, struct sl_strbuf *err);

#endif
