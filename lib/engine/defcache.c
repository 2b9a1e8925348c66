/*
 * The engine's parsed DAG definitions, by version. A version's definition
 * never changes once stored, so its parsed DAG is kept in the engine
 * (struct sl_engine) across calls: a chain step would otherwise fetch and
 * parse it in every call. At most DEFSTORE_MAX versions are kept, least
 * recently used out first, except those a call still holds.
 */
#include "engine_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/dag_json.h"
#include "sluice/error.h"
#include "sluice/banned.h"

enum { DEFSTORE_MAX = 64 };

struct sl_engine_def {
	int64_t version_id;
	struct sl_dag *dag;
	unsigned holds;
	uint64_t used;
};

void sl__defstore_release(struct sl_engine *e)
{
	for (size_t i = 0; i < e->defs_nr; i++) {
		sl_dag_free(e->defs[i]->dag);
		free(e->defs[i]);
	}
	free(e->defs);
}

static void defstore_evict(struct sl_engine *e)
{
	size_t victim = e->defs_nr;

	for (size_t i = 0; i < e->defs_nr; i++)
		if (!e->defs[i]->holds &&
		    (victim == e->defs_nr || e->defs[i]->used < e->defs[victim]->used))
			victim = i;
	if (victim == e->defs_nr)
		return;
	sl_dag_free(e->defs[victim]->dag);
	free(e->defs[victim]);
	e->defs[victim] = e->defs[--e->defs_nr];
}

void sl__defcache_release(struct defcache *c)
{
	for (size_t i = 0; i < c->nr; i++)
		c->items[i]->holds--;
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/* Task i of a definition's rows: row i + 1, parsed. */
static json_t *defload_task(void *ctx, size_t i, struct sl_strbuf *err)
{
	const PGresult *r = ctx;
	json_error_t jerr;
	json_t *task = json_loads(PQgetvalue(r, (int)i + 1, 1), 0, &jerr);

	if (!task)
		sl_strbuf_addf(err, "task %zu: %s", i + 1, jerr.text);
	return task;
}

static int defload(struct sl_db *db, int64_t version_id, struct sl_dag **out, struct sl_strbuf *err)
{
	struct sl_strbuf why = SL_STRBUF_INIT;
	struct num vid;
	const char *params[] = {sl__num_of(&vid, version_id)};
	PGresult *r = NULL;
	json_error_t jerr;
	json_t *def = NULL;
	int rc;

	rc = sl_db_q(db, SL_Q_ENGINE_DEFCACHE_DEFINITION, 1, params, &r, err);
	if (rc)
		goto fail;
	if (PQntuples(r) < 1) {
		sl_strbuf_addf(err, "DAG version %lld does not exist", (long long)version_id);
		rc = SL_ERR;
		goto fail;
	}
	def = json_loads(PQgetvalue(r, 0, 1), 0, &jerr);
	if (!def)
		sl_strbuf_adds(&why, jerr.text);
	if (!def ||
	    sl_dag_from_json_tasks(out, def, (size_t)PQntuples(r) - 1, defload_task, r, &why) < 0) {
		sl_strbuf_addf(err, "the stored definition of DAG version %lld is unreadable: %s",
		               (long long)version_id, why.buf);
		rc = SL_ERR;
		goto fail;
	}
fail:
	json_decref(def);
	sl_strbuf_release(&why);
	PQclear(r);
	return rc;
}

int sl__defcache_get(struct sl_engine *e, struct defcache *c, int64_t version_id,
                     const struct sl_dag **out, struct sl_strbuf *err)
{
	struct sl_engine_def *d = NULL;
	struct sl_dag *dag = NULL;
	int rc;

	for (size_t i = 0; i < e->defs_nr && !d; i++)
		if (e->defs[i]->version_id == version_id)
			d = e->defs[i];
	if (!d) {
		rc = defload(e->db, version_id, &dag, err);
		if (rc)
			return rc;
		if (e->defs_nr >= DEFSTORE_MAX)
			defstore_evict(e);
		d = sl_xcalloc(1, sizeof(*d));
		d->version_id = version_id;
		d->dag = dag;
		SL_ALLOC_GROW(e->defs, e->defs_nr + 1, e->defs_alloc);
		e->defs[e->defs_nr++] = d;
	}
	d->used = ++e->defs_clock;
	*out = d->dag;
	for (size_t i = 0; i < c->nr; i++)
		if (c->items[i] == d)
			return 0;
	d->holds++;
	SL_ALLOC_GROW(c->items, c->nr + 1, c->alloc);
	c->items[c->nr++] = d;
	return 0;
}
