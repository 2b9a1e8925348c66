/*
 * Workers in PostgreSQL: registration, silent workers, ended attempts, and
 * the attempts that are a worker's own.
 */
#include "sluice/workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/pgarray.h"
#include "sluice/banned.h"

int sl_worker_register(struct sl_db *db, const struct sl_worker_hello *w, struct sl_strbuf *err)
{
	struct sl_strbuf queues = SL_STRBUF_INIT;
	char slots[16], version[16];
	const char *params[5];
	int rc;

	for (size_t i = 0; i < w->queues_nr; i++)
		sl_pgarray_add(&queues, w->queues[i]);
	snprintf(slots, sizeof(slots), "%lu", (unsigned long)w->slots);
	snprintf(version, sizeof(version), "%d", w->version);
	params[0] = w->worker_id;
	params[1] = w->host;
	params[2] = sl_pgarray_end(&queues);
	params[3] = slots;
	params[4] = version;
	rc = sl_db_q_idempotent(db, SL_Q_WORKERS_REGISTER, 5, params, NULL, err);
	sl_strbuf_release(&queues);
	return rc;
}

void sl_worker_ids_release(struct sl_worker_ids *ids)
{
	for (size_t i = 0; i < ids->nr; i++)
		free(ids->items[i]);
	free(ids->items);
	*ids = (struct sl_worker_ids)SL_WORKER_IDS_INIT;
}

int sl_workers_silent(struct sl_db *db, int64_t timeout_s, struct sl_worker_ids *out,
                      struct sl_strbuf *err)
{
	char secs[24];
	const char *params[] = {secs};
	PGresult *r = NULL;
	int rc;

	sl_worker_ids_release(out);
	snprintf(secs, sizeof(secs), "%lld", (long long)timeout_s);
	rc = sl_db_q_idempotent(db, SL_Q_WORKERS_LOST, 1, params, &r, err);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		SL_ALLOC_GROW(out->items, out->nr + 1, out->alloc);
		out->items[out->nr++] = sl_xstrdup(PQgetvalue(r, i, 0));
	}
	PQclear(r);
	return 0;
}

int sl_worker_set_gone(struct sl_db *db, const char *worker_id, int64_t timeout_s,
                       struct sl_strbuf *err)
{
	char secs[24];
	const char *params[] = {worker_id, secs};

	snprintf(secs, sizeof(secs), "%lld", (long long)timeout_s);
	return sl_db_q_idempotent(db, SL_Q_WORKERS_SET_GONE, 2, params, NULL, err);
}

/*
 * Statement `q` over the attempts `ids` (its last parameter), after
 * `worker_id` when not NULL; its rows are (attempt_id, fencing_token).
 */
static int attempt_fences(struct sl_db *db, enum sl_query q, const char *worker_id,
                          const int64_t *ids, size_t nr, struct sl_attempt_fence **out,
                          size_t *out_nr, struct sl_strbuf *err)
{
	struct sl_strbuf arr = SL_STRBUF_INIT;
	const char *params[2];
	PGresult *r = NULL;
	int n = 0, rc;

	*out = NULL;
	*out_nr = 0;
	for (size_t i = 0; i < nr; i++)
		sl_pgarray_add_int(&arr, ids[i]);
	if (worker_id)
		params[n++] = worker_id;
	params[n++] = sl_pgarray_end(&arr);
	rc = sl_db_q_idempotent(db, q, n, params, &r, err);
	if (!rc && PQntuples(r)) {
		*out = sl_xcalloc((size_t)PQntuples(r), sizeof(**out));
		for (int i = 0; i < PQntuples(r); i++) {
			(*out)[i].attempt_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
			(*out)[i].fence = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		}
		*out_nr = (size_t)PQntuples(r);
	}
	PQclear(r);
	sl_strbuf_release(&arr);
	return rc;
}

int sl_attempts_ended(struct sl_db *db, const int64_t *ids, size_t nr,
                      struct sl_attempt_fence **out, size_t *out_nr, struct sl_strbuf *err)
{
	return attempt_fences(db, SL_Q_WORKERS_ENDED_ATTEMPTS, NULL, ids, nr, out, out_nr, err);
}

int sl_worker_owned_attempts(struct sl_db *db, const char *worker_id, const int64_t *ids, size_t nr,
                             struct sl_attempt_fence **out, size_t *out_nr, struct sl_strbuf *err)
{
	return attempt_fences(db, SL_Q_WORKERS_OWNED_ATTEMPTS, worker_id, ids, nr, out, out_nr,
	                      err);
}

int sl_worker_delete(struct sl_db *db, const char *worker_id, struct sl_strbuf *err)
{
	const char *params[] = {worker_id};
	PGresult *r = NULL;
	int rc = sl_db_q(db, SL_Q_WORKERS_DELETE, 1, params, &r, err);

	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		sl_strbuf_addf(err, "no worker '%s'", worker_id);
		rc = SL_ENOENT;
	} else if (strcmp(PQgetvalue(r, 0, 3), "t")) {
		if (strcmp(PQgetvalue(r, 0, 0), "gone"))
			sl_strbuf_addf(
			    err,
			    "worker '%s' is %s (last heartbeat %ss ago): stop it and wait "
			    "until the scheduler marks it gone (heartbeat_timeout), or "
			    "refuse it now with 'sluice workers revoke %s'",
			    worker_id, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), worker_id);
		else
			sl_strbuf_addf(err,
			               "worker '%s' still holds %s attempt(s) that may be running; "
			               "the scheduler ends them as lost, try again then",
			               worker_id, PQgetvalue(r, 0, 2));
		rc = SL_ERR;
	}
	PQclear(r);
	return rc;
}
