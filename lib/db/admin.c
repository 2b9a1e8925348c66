/*
 * An operator's changes besides runs: pause, pools, the database.
 */
#include "sluice/admin.h"

#include <stdio.h>
#include <stdlib.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

int sl_dag_set_paused(struct sl_db *db, const char *dag_id, bool paused, bool *was,
                      struct sl_strbuf *err)
{
	char *payload = sl_xasprintf("%s %s", paused ? "pause" : "unpause", dag_id);
	const char *params[] = {dag_id, paused ? "true" : "false", payload};
	PGresult *r = NULL;
	int rc = sl_db_q_idempotent(db, SL_Q_DAGS_SET_PAUSED, 3, params, &r, err);

	if (!rc && PQntuples(r) == 0) {
		sl_strbuf_addf(err, "no DAG '%s'", dag_id);
		rc = SL_ENOENT;
	}
	if (!rc)
		*was = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	free(payload);
	return rc;
}

int sl_pool_set(struct sl_db *db, const char *name, long slots, const char *description,
                struct sl_strbuf *err)
{
	char n[24];
	const char *params[] = {name, n, description};

	snprintf(n, sizeof(n), "%ld", slots);
	return sl_db_q_idempotent(db, SL_Q_POOLS_SET, 3, params, NULL, err);
}

int sl_pool_delete(struct sl_db *db, const char *name, struct sl_strbuf *err)
{
	const char *params[] = {name};
	PGresult *r = NULL;
	int rc = sl_db_q(db, SL_Q_POOLS_DELETE, 1, params, &r, err);

	if (!rc && PQntuples(r) == 0) {
		sl_strbuf_addf(err, "no pool '%s'", name);
		rc = SL_ENOENT;
	}
	PQclear(r);
	return rc;
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
