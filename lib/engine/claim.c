/*
 * Claim: hand scheduled task instances to a worker within the limits
 * (pools, max_active_tasks, parallelism), each with a new attempt, and
 * build what the worker runs (command, environment) from the pinned
 * definition.
 */
#include "engine_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/runplan.h"
#include "sluice/banned.h"

enum {
	C_TI,
	C_RUN,
	C_TASK,
	C_POOL,
	C_VERSION,
	C_DAG,
	C_RUN_ID,
	C_COMMIT,
	C_LOGICAL_S,
	C_START_S,
	C_END_S,
	C_CONF,
	C_RUN_BUSY,
	C_POOL_FREE,
	C_CALLBACK,
	C_RUN_STATE,
	C_TRY,
	C_POKES,
	C_READY_MS,
};

/* A picked candidate: its row in the candidates and its pinned task. */
struct pick {
	int row;
	const struct sl_dag *dag;
	const struct sl_task *task; /* NULL for a run's callback */
	char *command;
};

static void dispatch_release(struct sl_engine_dispatch *d)
{
	free(d->dag);
	free(d->run_id);
	free(d->task);
	free(d->command);
	sl_env_release(&d->env);
	free(d->cwd);
	free(d->commit);
}

void sl__dispatches_truncate(struct sl_engine_dispatches *d, size_t nr)
{
	while (d->nr > nr)
		dispatch_release(&d->items[--d->nr]);
}

void sl_engine_dispatches_release(struct sl_engine_dispatches *d)
{
	for (size_t i = 0; i < d->nr; i++)
		dispatch_release(&d->items[i]);
	free(d->items);
	memset(d, 0, sizeof(*d));
}

/* A small counter keyed by text (pools) or number (runs). */
struct counter {
	struct counter_item {
		int64_t pk;
		const char *name;
		int64_t value;
	} * items;
	size_t nr, alloc;
};

static struct counter_item *counter_find(struct counter *c, int64_t pk, const char *name)
{
	for (size_t i = 0; i < c->nr; i++)
		if (name ? !strcmp(c->items[i].name, name) : c->items[i].pk == pk)
			return &c->items[i];
	return NULL;
}

static struct counter_item *counter_get(struct counter *c, int64_t pk, const char *name,
                                        int64_t initial)
{
	struct counter_item *it = counter_find(c, pk, name);

	if (it)
		return it;
	SL_ALLOC_GROW(c->items, c->nr + 1, c->alloc);
	c->items[c->nr] = (struct counter_item){pk, name, initial};
	return &c->items[c->nr++];
}

/* The failed tasks of a callback's run, or "" when none failed. */
static const char *failed_tasks(PGresult *failed, int64_t run_pk)
{
	for (int row = 0; failed && row < PQntuples(failed); row++)
		if (sl__int_at(failed, row, 0) == run_pk)
			return PQgetvalue(failed, row, 1);
	return "";
}

/*
 * The environment of one dispatch: DAG env, task env, SLUICE_* values. A
 * callback has no task env, sees the outputs of every task (it runs after
 * them all), and the run's state and failed tasks.
 */
static void build_env(struct sl_engine_dispatch *d, const struct pick *p, PGresult *cand,
                      PGresult *outs, PGresult *failed)
{
	const struct sl_dag *dag = p->dag;
	struct sl_taskenv_output *ov = NULL;
	size_t ov_nr = 0, ov_alloc = 0;
	int64_t run_pk = sl__int_at(cand, p->row, C_RUN);
	struct sl_dag_walk upstream;
	struct sl_taskenv_ctx ctx;
	json_t *conf = json_loads(PQgetvalue(cand, p->row, C_CONF), 0, NULL);

	sl_dag_walk_init(&upstream, dag);
	if (p->task)
		sl_dag_walk_ancestors(&upstream, (size_t)(p->task - dag->tasks));
	for (int row = 0; outs && row < PQntuples(outs); row++) {
		long t;

		if (sl__int_at(outs, row, 0) != run_pk)
			continue;
		t = sl_dag_task_index(dag, PQgetvalue(outs, row, 1));
		if (t < 0 || (p->task && !sl_dag_walk_marked(&upstream, (size_t)t)))
			continue;
		SL_ALLOC_GROW(ov, ov_nr + 1, ov_alloc);
		ov[ov_nr++] = (struct sl_taskenv_output){
		    PQgetvalue(outs, row, 1), PQgetvalue(outs, row, 2), PQgetvalue(outs, row, 3)};
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.dag = d->dag;
	ctx.task = d->task;
	ctx.run_id = d->run_id;
	ctx.logical_date = sl__int_at(cand, p->row, C_LOGICAL_S);
	ctx.data_interval_start = sl__int_at(cand, p->row, C_START_S);
	ctx.data_interval_end = sl__int_at(cand, p->row, C_END_S);
	ctx.try_number = d->try_number;
	ctx.poke_number = d->poke_number;
	ctx.params = dag->params;
	ctx.conf = json_is_object(conf) ? conf : NULL;
	ctx.outputs = ov;
	ctx.outputs_nr = ov_nr;
	ctx.dag_env = &dag->env;
	ctx.task_env = p->task ? &p->task->env : NULL;
	if (!p->task) {
		ctx.run_state = PQgetvalue(cand, p->row, C_RUN_STATE);
		ctx.failed_tasks = failed_tasks(failed, run_pk);
	}
	sl_taskenv_build(&d->env, &ctx);
	json_decref(conf);
	free(ov);
	sl_dag_walk_release(&upstream);
}

/* The command of callback `id` (on_failure, on_success), or NULL. */
static const char *callback_command(const struct sl_dag *dag, const char *id)
{
	if (!strcmp(id, "on_failure"))
		return dag->on_failure;
	if (!strcmp(id, "on_success"))
		return dag->on_success;
	return NULL;
}

/* Choose within the limits; expand commands; fail what cannot run. */
static int pick_candidates(struct sl_engine *e, PGresult *cand, size_t cap, struct defcache *defs,
                           struct pick **picks, size_t *npicks, struct sl_strbuf *bad,
                           struct sl_strbuf *err)
{
	struct counter runs = {NULL, 0, 0}, pools = {NULL, 0, 0};
	size_t alloc = 0;
	int rc = 0;

	for (int row = 0; row < PQntuples(cand) && *npicks < cap; row++) {
		const struct sl_dag *dag;
		const struct sl_task *task = NULL;
		const char *command = NULL;
		struct counter_item *run, *pool = NULL;
		struct sl_strbuf cmd = SL_STRBUF_INIT, why = SL_STRBUF_INIT;

		rc = sl__defcache_get(e, defs, sl__int_at(cand, row, C_VERSION), &dag, err);
		if (rc)
			goto fail;
		if (sl__bool_at(cand, row, C_CALLBACK)) {
			command = callback_command(dag, PQgetvalue(cand, row, C_TASK));
		} else {
			long t = sl_dag_task_index(dag, PQgetvalue(cand, row, C_TASK));

			task = t < 0 ? NULL : &dag->tasks[t];
			command = task ? task->command : NULL;
		}
		if (!command || sl_taskenv_expand(&cmd, command, &why) < 0) {
			/* Cannot happen with a definition that loaded; never hand it out. */
			sl_pgarray_add(bad, PQgetvalue(cand, row, C_TI));
			sl_strbuf_release(&cmd);
			sl_strbuf_release(&why);
			continue;
		}
		sl_strbuf_release(&why);
		run = counter_get(&runs, sl__int_at(cand, row, C_RUN), NULL,
		                  sl__int_at(cand, row, C_RUN_BUSY));
		if (!PQgetisnull(cand, row, C_POOL))
			pool = counter_get(&pools, 0, PQgetvalue(cand, row, C_POOL),
			                   PQgetisnull(cand, row, C_POOL_FREE)
			                       ? 0
			                       : sl__int_at(cand, row, C_POOL_FREE));
		if (run->value >= dag->max_active_tasks || (pool && pool->value <= 0)) {
			sl_strbuf_release(&cmd);
			continue;
		}
		run->value++;
		if (pool)
			pool->value--;
		SL_ALLOC_GROW(*picks, *npicks + 1, alloc);
		(*picks)[(*npicks)++] = (struct pick){row, dag, task, sl_strbuf_detach(&cmd, NULL)};
	}
fail:
	free(runs.items);
	free(pools.items);
	return rc;
}

static int claim_insert(struct sl_db *db, struct claim_ctx *c, PGresult *cand,
                        const struct pick *picks, size_t npicks, struct sl_strbuf *err)
{
	struct sl_strbuf ids = SL_STRBUF_INIT, pks = SL_STRBUF_INIT, cb_pks = SL_STRBUF_INIT;
	struct sl_strbuf versions = SL_STRBUF_INIT, commits = SL_STRBUF_INIT;
	struct sl_strbuf tries = SL_STRBUF_INIT, pokes = SL_STRBUF_INIT;
	struct ts now;
	PGresult *r = NULL, *outs = NULL, *failed = NULL;
	int rc;

	for (size_t i = 0; i < npicks; i++) {
		int try_number, poke_number;
		struct num t, k;

		sl_runplan_next_attempt((int)sl__int_at(cand, picks[i].row, C_TRY),
		                        (int)sl__int_at(cand, picks[i].row, C_POKES), &try_number,
		                        &poke_number);
		sl_pgarray_add(&ids, PQgetvalue(cand, picks[i].row, C_TI));
		sl_pgarray_add(&versions, PQgetvalue(cand, picks[i].row, C_VERSION));
		sl_pgarray_add(&commits, PQgetvalue(cand, picks[i].row, C_COMMIT));
		sl_pgarray_add(&tries, sl__num_of(&t, try_number));
		sl_pgarray_add(&pokes, sl__num_of(&k, poke_number));
		/* Outputs come from ancestors: a root task needs none of its run's. */
		if (!picks[i].task || picks[i].task->upstream_nr)
			sl_pgarray_add(&pks, PQgetvalue(cand, picks[i].row, C_RUN));
		if (!picks[i].task)
			sl_pgarray_add(&cb_pks, PQgetvalue(cand, picks[i].row, C_RUN));
	}
	{
		const char *params[] = {sl_pgarray_end(&ids),       c->worker_id,
		                        sl__ts_of(&now, c->now_ms), c->started ? "true" : "false",
		                        sl_pgarray_end(&tries),     sl_pgarray_end(&pokes),
		                        sl_pgarray_end(&versions),  sl_pgarray_end(&commits)};

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_INSERT_ATTEMPTS, 8, params, &r, err);
	}
	if (rc)
		goto fail;
	if (pks.len) {
		const char *params[] = {sl_pgarray_end(&pks)};

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_OUTPUTS, 1, params, &outs, err);
	}
	if (!rc && cb_pks.len) {
		const char *params[] = {sl_pgarray_end(&cb_pks)};

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_FAILED_TASKS, 1, params, &failed, err);
	}
	if (rc)
		goto fail;
	for (int row = 0; row < PQntuples(r); row++) {
		int64_t ti = sl__int_at(r, row, 1);
		const struct pick *p = NULL;
		struct sl_engine_dispatch *d;

		for (size_t i = 0; i < npicks && !p; i++)
			if (sl__int_at(cand, picks[i].row, C_TI) == ti)
				p = &picks[i];
		if (!p)
			continue;
		SL_ALLOC_GROW(c->out->items, c->out->nr + 1, c->out->alloc);
		d = &c->out->items[c->out->nr++];
		memset(d, 0, sizeof(*d));
		d->attempt_id = sl__int_at(r, row, 0);
		d->ti_id = ti;
		d->try_number = (int)sl__int_at(r, row, 2);
		d->fencing_token = sl__int_at(r, row, 3);
		d->poke_number = (int)sl__int_at(r, row, 4);
		d->dag = sl_xstrdup(PQgetvalue(cand, p->row, C_DAG));
		d->run_id = sl_xstrdup(PQgetvalue(cand, p->row, C_RUN_ID));
		d->task = sl_xstrdup(PQgetvalue(cand, p->row, C_TASK));
		d->command = sl_xstrdup(p->command);
		d->cwd = sl_xstrdup(p->task && p->task->cwd ? p->task->cwd : "");
		d->commit = sl_xstrdup(PQgetvalue(cand, p->row, C_COMMIT));
		d->timeout_s = p->task ? p->task->timeout : 0;
		d->sensor = p->task && p->task->sensor;
		d->ready_ms = sl__int_at(cand, p->row, C_READY_MS);
		build_env(d, p, cand, outs, failed);
	}
fail:
	PQclear(r);
	PQclear(outs);
	PQclear(failed);
	sl_strbuf_release(&ids);
	sl_strbuf_release(&pks);
	sl_strbuf_release(&cb_pks);
	sl_strbuf_release(&versions);
	sl_strbuf_release(&commits);
	sl_strbuf_release(&tries);
	sl_strbuf_release(&pokes);
	return rc;
}

int sl__claim_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct claim_ctx *c = ctx;
	const char *lock[] = {SL_ENGINE_CLAIM_LOCK};
	struct sl_strbuf queues = SL_STRBUF_INIT, bad = SL_STRBUF_INIT;
	struct defcache defs = DEFCACHE_INIT;
	struct pick *picks = NULL;
	size_t npicks = 0, cap = c->free_slots;
	struct num lim;
	struct ts now;
	PGresult *r = NULL, *cand = NULL;
	int rc;

	/* A retried transaction starts again from what the caller had. */
	sl__dispatches_truncate(c->out, c->out_start);
	/*
	 * Claimers take turns: the counts behind pools, max_active_tasks and
	 * parallelism are read after the lock, so they include every claim
	 * committed before (READ COMMITTED takes a snapshot per statement).
	 */
	rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_LOCK, 1, lock, NULL, err);
	if (rc)
		goto fail;
	if (c->parallelism) {
		int64_t busy;

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_BUSY, 0, NULL, &r, err);
		if (rc)
			goto fail;
		busy = sl__int_at(r, 0, 0);
		if (busy >= (int64_t)c->parallelism)
			cap = 0;
		else if ((size_t)((int64_t)c->parallelism - busy) < cap)
			cap = (size_t)((int64_t)c->parallelism - busy);
	}
	if (!cap)
		goto fail;
	for (size_t i = 0; i < c->queues_nr; i++)
		sl_pgarray_add(&queues, c->queues[i]);
	{
		/* More rows than slots: some may be held back by their limits. */
		size_t want = cap * 4 + 16;
		const char *params[] = {sl_pgarray_end(&queues),
		                        sl__num_of(&lim, (int64_t)(want > 10000 ? 10000 : want))};

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_CANDIDATES, 2, params, &cand, err);
	}
	if (rc)
		goto fail;
	rc = pick_candidates(c->e, cand, cap, &defs, &picks, &npicks, &bad, err);
	if (rc)
		goto fail;
	if (bad.len) {
		const char *params[] = {sl_pgarray_end(&bad), sl__ts_of(&now, c->now_ms)};

		rc = sl_db_q(db, SL_Q_ENGINE_CLAIM_FAIL_UNRUNNABLE, 2, params, NULL, err);
		if (rc)
			goto fail;
	}
	if (npicks)
		rc = claim_insert(db, c, cand, picks, npicks, err);
fail:
	for (size_t i = 0; i < npicks; i++)
		free(picks[i].command);
	free(picks);
	sl__defcache_release(&defs);
	PQclear(r);
	PQclear(cand);
	sl_strbuf_release(&queues);
	sl_strbuf_release(&bad);
	return rc;
}

static int claim(struct sl_engine *e, const char *worker_id, const char *const *queues,
                 size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                 bool started, struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	struct claim_ctx c = {e,           worker_id, queues, queues_nr, free_slots,
	                      parallelism, now_ms,    out,    out->nr,   started};
	int rc;

	if (!free_slots || !queues_nr)
		return 0;
	rc = sl_db_transaction(e->db, 0, sl__claim_tx, &c, err);
	if (rc)
		sl__dispatches_truncate(out, c.out_start);
	return rc;
}

int sl_engine_claim(struct sl_engine *e, const char *worker_id, const char *const *queues,
                    size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                    struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	return claim(e, worker_id, queues, queues_nr, free_slots, parallelism, now_ms, false, out,
	             err);
}

int sl_engine_claim_started(struct sl_engine *e, const char *worker_id, const char *const *queues,
                            size_t queues_nr, size_t free_slots, size_t parallelism, int64_t now_ms,
                            struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	return claim(e, worker_id, queues, queues_nr, free_slots, parallelism, now_ms, true, out,
	             err);
}
