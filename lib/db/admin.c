/*
 * An operator's changes besides runs: pause, pools (each with its audit
 * row), the database.
 */
#include "sluice/admin.h"

#include <stdio.h>
#include <stdlib.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

int sl_dag_set_paused(struct sl_db *db, const struct sl_actor *who, const char *dag_id, bool paused,
                      bool *was, struct sl_strbuf *err)
{
	const char *event = paused ? "pause" : "unpause";
	char *payload = sl_xasprintf("%s %s", event, dag_id);
	const char *params[] = {dag_id, paused ? "true" : "false", payload};
	PGresult *r = NULL;
	int rc = sl_db_q_idempotent(db, SL_Q_DAGS_SET_PAUSED, 3, params, &r, err);

	if (!rc && PQntuples(r) == 0) {
		sl_strbuf_addf(err, "no DAG '%s'", dag_id);
		rc = SL_ENOENT;
	}
	if (!rc) {
		*was = PQgetvalue(r, 0, 0)[0] == 't';
		rc = sl_audit_add(db, who, paused ? "dags pause" : "dags unpause", dag_id, err);
	}
	PQclear(r);
	free(payload);
	return rc;
}

struct pause_tx {
	const struct sl_actor *who;
	const char *dag_id;
	bool paused, *was;
};

static int pause_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct pause_tx *p = ctx;

	return sl_dag_set_paused(db, p->who, p->dag_id, p->paused, p->was, err);
}

int sl_dag_pause(struct sl_db *db, const struct sl_actor *who, const char *dag_id, bool paused,
                 bool *was, struct sl_strbuf *err)
{
	struct pause_tx p = {who, dag_id, paused, was};

	return sl_db_transaction(db, 0, pause_tx, &p, err);
}

/* A pool's change: set, or delete. */
struct pool_tx {
	const struct sl_actor *who;
	const char *name, *description;
	long slots;
	bool delete;
};

static int pool_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct pool_tx *p = ctx;
	const char *params[] = {p->name, NULL, p->description};
	char n[24], *target = NULL;
	PGresult *r = NULL;
	int rc;

	if (p->delete) {
		rc = sl_db_q(db, SL_Q_POOLS_DELETE, 1, params, &r, err);
		if (!rc && PQntuples(r) == 0) {
			sl_strbuf_addf(err, "no pool '%s'", p->name);
			rc = SL_ENOENT;
		}
		if (!rc)
			rc = sl_audit_add(db, p->who, "pools delete", p->name, err);
		PQclear(r);
		return rc;
	}
	snprintf(n, sizeof(n), "%ld", p->slots);
	params[1] = n;
	rc = sl_db_q(db, SL_Q_POOLS_SET, 3, params, NULL, err);
	if (!rc) {
		target = sl_xasprintf("%s slots=%ld", p->name, p->slots);
		rc = sl_audit_add(db, p->who, "pools set", target, err);
	}
	free(target);
	return rc;
}

int sl_pool_set(struct sl_db *db, const struct sl_actor *who, const char *name, long slots,
                const char *description, struct sl_strbuf *err)
{
	struct pool_tx p = {who, name, description, slots, false};

	return sl_db_transaction(db, 0, pool_tx, &p, err);
}

int sl_pool_delete(struct sl_db *db, const struct sl_actor *who, const char *name,
                   struct sl_strbuf *err)
{
	struct pool_tx p = {who, name, NULL, 0, true};

	return sl_db_transaction(db, 0, pool_tx, &p, err);
}

int sl_db_create_sluice(struct sl_db *db, struct sl_strbuf *err)
{
	PGresult *r = NULL;
	int rc = sl_db_q_idempotent(db, SL_Q_STANDALONE_HAS_DATABASE, 0, NULL, &r, err);

	if (!rc && PQntuples(r) == 0)
		rc = sl_db_q(db, SL_Q_STANDALONE_CREATE_DATABASE, 0, NULL, NULL, err);
	PQclear(r);
	return rc;
}
