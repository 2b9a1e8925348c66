/*
 * What workers report, each in a transaction of its own: an attempt
 * started, a log chunk, a result; and what the scheduler learns about
 * them: a worker or one attempt lost, the attempts a worker still runs.
 */
#include "engine_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/rules.h"
#include "sluice/runplan.h"
#include "sluice/banned.h"

struct started_ctx {
	int64_t attempt_id, fencing, now_ms;
	const char *worker_id;
	bool accepted;
};

static int started_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct started_ctx *c = ctx;
	struct num a, f;
	struct ts now;
	const char *params[] = {sl__num_of(&a, c->attempt_id), sl__num_of(&f, c->fencing),
	                        sl__ts_of(&now, c->now_ms), c->worker_id};
	PGresult *r = NULL;
	int rc = sl_db_q(db, SL_Q_ENGINE_REPORT_STARTED, 4, params, &r, err);

	c->accepted = !rc && sl__int_at(r, 0, 0) > 0;
	PQclear(r);
	return rc;
}

int sl_engine_started(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                      int64_t fencing, int64_t now_ms, bool *accepted, struct sl_strbuf *err)
{
	struct started_ctx c = {attempt_id, fencing, now_ms, worker_id, false};
	int rc;

	rc = sl_db_transaction(e->db, 0, started_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

struct log_ctx {
	const char *worker_id;
	int64_t attempt_id, fencing;
	int seq;
	const unsigned char *bytes;
	size_t len;
	int64_t log_limit;
	bool accepted;
};

static int log_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	static const char hex[] = "0123456789abcdef";
	struct log_ctx *c = ctx;
	struct sl_strbuf data = SL_STRBUF_INIT;
	struct num a, f, s;
	const char *params[] = {sl__num_of(&a, c->attempt_id), sl__num_of(&f, c->fencing),
	                        c->worker_id};
	PGresult *r = NULL;
	size_t keep = c->len;
	int rc;

	c->accepted = false;
	rc = sl_db_q(db, SL_Q_ENGINE_REPORT_LOG_LOCK, 3, params, &r, err);
	if (rc || PQntuples(r) != 1)
		goto fail;
	c->accepted = true;
	if (c->log_limit > 0) {
		int64_t have = sl__int_at(r, 0, 0);
		int64_t room = have >= c->log_limit ? 0 : c->log_limit - have;

		if ((int64_t)keep > room)
			keep = (size_t)room;
	}
	for (size_t i = 0; i < keep; i++) {
		sl_strbuf_addch(&data, hex[c->bytes[i] >> 4]);
		sl_strbuf_addch(&data, hex[c->bytes[i] & 15]);
	}
	if (keep) {
		const char *ins[] = {params[0], sl__num_of(&s, c->seq), data.buf,
		                     keep < c->len ? "true" : "false"};

		rc = sl_db_q(db, SL_Q_ENGINE_REPORT_LOG_INSERT, 4, ins, NULL, err);
	} else {
		rc = sl_db_q(db, SL_Q_ENGINE_REPORT_LOG_TRUNCATED, 1, params, NULL, err);
	}
fail:
	PQclear(r);
	sl_strbuf_release(&data);
	return rc;
}

int sl_engine_log(struct sl_engine *e, const char *worker_id, int64_t attempt_id, int64_t fencing,
                  int seq, const void *bytes, size_t len, int64_t log_limit, bool *accepted,
                  struct sl_strbuf *err)
{
	struct log_ctx c = {worker_id, attempt_id, fencing, seq, bytes, len, log_limit, false};
	int rc = 0;

	if (accepted)
		*accepted = false;
	if (seq < 0 || len < 1 || len > 65536) {
		sl_strbuf_addf(err, "a log chunk has a sequence number >= 0 and 1 to 65536 bytes");
		return SL_EINVAL;
	}
	rc = sl_db_transaction(e->db, 0, log_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

/*
 * Ending one attempt, shared by a result and a loss: what to end and how,
 * and what the transaction learnt about it.
 */
struct attempt_end {
	struct sl_engine *e;
	const char *worker_id; /* the attempt's, or nothing is ended */
	int64_t attempt_id, fencing, now_ms;
	const char *outcome; /* as stored: the result's, or "lost" */
	const char *reason;  /* task_instances.reason when the rules give none */
	bool accepted;
	int64_t run_pk;  /* the attempt's run */
	bool downstream; /* its task has downstream tasks to decide now */
};

/*
 * A callback ends with its first attempt: it has no retries (an alert sent
 * twice is worse than one that failed and says so in its log), no sensor,
 * and nothing downstream.
 */
static void callback_next(enum sl_outcome outcome, struct sl_next_state *next)
{
	memset(next, 0, sizeof(*next));
	if (outcome == SL_OUTCOME_SUCCESS)
		next->state = SL_TASK_SUCCESS;
	else if (outcome == SL_OUTCOME_SKIPPED)
		next->state = SL_TASK_SKIPPED;
	else
		next->state = SL_TASK_FAILED;
}

/*
 * A branch task that succeeded names only direct downstream tasks; else
 * it has failed (the reason in `why`), since the DAG author's choice
 * cannot be followed. Checked here, once, so that advance can trust it.
 */
static bool branch_invalid(const struct sl_dag *dag, size_t t, const char *outputs,
                           struct sl_strbuf *why)
{
	json_t *o = outputs ? json_loads(outputs, 0, NULL) : NULL;
	const char *value = json_string_value(json_object_get(o, SL_BRANCH_OUTPUT));
	bool bad = value && sl_branch_check(dag, t, value, why);

	json_decref(o);
	return bad;
}

/*
 * A task's next state after an attempt (a row of engine_report_attempt_lock),
 * by the rules, and in `why` the reason when the scheduler decided more than
 * the outcome says (a wrong branch, a sensor out of time).
 */
static int task_next(struct attempt_end *c, PGresult *r, enum sl_outcome outcome,
                     const char *outputs, struct sl_next_state *next, struct sl_strbuf *why,
                     struct sl_strbuf *err)
{
	const struct sl_dag *dag;
	const struct sl_task *task;
	struct defcache defs = DEFCACHE_INIT;
	int64_t first_poke_ms;
	int try_number, effective;
	long t;
	int rc;

	rc = sl__defcache_get(c->e, &defs, sl__int_at(r, 0, 3), &dag, err);
	if (rc)
		goto fail;
	t = sl_dag_task_index(dag, PQgetvalue(r, 0, 4));
	if (t < 0) {
		sl_strbuf_addf(err, "task '%s' is not in its run's definition",
		               PQgetvalue(r, 0, 4));
		rc = SL_ERR;
		goto fail;
	}
	task = &dag->tasks[t];
	c->downstream = task->downstream_nr > 0;
	try_number = (int)sl__int_at(r, 0, 1);
	/* The try as the retry rules count it: 1 after a clear. */
	effective = try_number - ((int)sl__int_at(r, 0, 2) - (task->retries + 1));
	if (effective < 1)
		effective = 1;
	first_poke_ms = PQgetisnull(r, 0, 5) ? c->now_ms : sl__int_at(r, 0, 5);
	if (outcome == SL_OUTCOME_SUCCESS && branch_invalid(dag, (size_t)t, outputs, why))
		outcome = SL_OUTCOME_FAILED;
	sl_rules_after_attempt(task, outcome, effective, c->now_ms, first_poke_ms, next);
	if (outcome == SL_OUTCOME_RESCHEDULE && task->sensor && next->state == SL_TASK_FAILED) {
		sl_strbuf_adds(why, "sensor timed out after ");
		sl_duration_format(why, (c->now_ms - first_poke_ms) / 1000);
		sl_strbuf_adds(why, " (timeout ");
		sl_duration_format(why, task->sensor_timeout);
		sl_strbuf_adds(why, ")");
	}
fail:
	sl__defcache_release(&defs);
	return rc;
}

static int end_attempt(struct sl_db *db, struct attempt_end *c, enum sl_outcome outcome,
                       int exit_code, int sig, const char *outputs, struct sl_strbuf *err)
{
	struct sl_next_state next;
	struct num a, f, ex, sg, pk;
	struct ts now, at;
	const char *params[10] = {sl__num_of(&a, c->attempt_id), sl__num_of(&f, c->fencing),
	                          c->worker_id};
	struct sl_strbuf why = SL_STRBUF_INIT;
	PGresult *r = NULL;
	int rc;

	rc = sl_db_q(db, SL_Q_ENGINE_REPORT_ATTEMPT_LOCK, 3, params, &r, err);
	if (rc || PQntuples(r) != 1) {
		c->accepted = false;
		/* Over already (a cancel, a clear): now its process is too. */
		if (!rc)
			rc = sl_db_q(db, SL_Q_ENGINE_REPORT_ATTEMPT_STOPPED, 3, params, NULL, err);
		goto fail;
	}
	c->accepted = true;
	c->run_pk = sl__int_at(r, 0, 7);
	c->downstream = false;
	if (sl__bool_at(r, 0, 6))
		callback_next(outcome, &next);
	else
		rc = task_next(c, r, outcome, outputs, &next, &why, err);
	if (rc)
		goto fail;
	/* A retry or a poke decides nothing downstream until it is due. */
	if (next.state == SL_TASK_UP_FOR_RETRY || next.state == SL_TASK_UP_FOR_RESCHEDULE)
		c->downstream = false;
	params[1] = sl__ts_of(&now, c->now_ms);
	params[2] = c->outcome;
	params[3] = exit_code >= 0 && exit_code <= 255 ? sl__num_of(&ex, exit_code) : NULL;
	params[4] = sig >= 1 && sig <= 127 && !params[3] ? sl__num_of(&sg, sig) : NULL;
	params[5] = outputs;
	params[6] = sl_task_state_name(next.state);
	params[7] = next.at_ms ? sl__ts_of(&at, next.at_ms) : NULL;
	params[8] = sl__num_of(&pk, sl_runplan_pokes_after((int)sl__int_at(r, 0, 8), next.state));
	params[9] = why.len ? why.buf : c->reason;
	PQclear(r);
	r = NULL;
	rc = sl_db_q(db, SL_Q_ENGINE_REPORT_END_ATTEMPT, 10, params, NULL, err);
fail:
	PQclear(r);
	sl_strbuf_release(&why);
	return rc;
}

struct result_ctx {
	struct attempt_end end;
	const struct sl_engine_result *res;
	bool advance; /* the attempt's run too (sl_engine_result_advance) */
};

static int result_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct result_ctx *c = ctx;
	struct advance_ctx ac = {c->end.e, c->end.now_ms, 1, 0};
	struct defcache defs = DEFCACHE_INIT;
	struct sl_strbuf pks = SL_STRBUF_INIT;
	int rc = end_attempt(db, &c->end, c->res->outcome, c->res->exit_code, c->res->signal,
	                     c->res->outputs, err);

	/*
	 * Only a task with downstream tasks: loading a large run to learn that
	 * nothing changes costs more than the commit it saves. The tick rolls
	 * a run up when its last task ends.
	 */
	if (!rc && c->advance && c->end.accepted && c->end.downstream) {
		sl_pgarray_add_int(&pks, c->end.run_pk);
		rc = sl__advance_locked(db, &ac, sl_pgarray_end(&pks), &defs, err);
	}
	sl__defcache_release(&defs);
	sl_strbuf_release(&pks);
	return rc;
}

static int outputs_check(const struct sl_engine_result *res, struct sl_strbuf *err)
{
	json_t *o;
	bool object;

	if (!res->outputs)
		return 0;
	o = json_loads(res->outputs, 0, NULL);
	object = json_is_object(o);
	json_decref(o);
	if (object)
		return 0;
	sl_strbuf_adds(err, "the outputs of a result must be a JSON object");
	return SL_EINVAL;
}

struct result_claim_ctx {
	struct result_ctx result;
	struct claim_ctx claim;
};

static int result_claim_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct result_claim_ctx *c = ctx;
	int rc = result_tx(db, &c->result, err);

	/* A stale report frees no slot of this worker's: claim nothing for it. */
	if (!rc && c->result.end.accepted)
		rc = sl__claim_tx(db, &c->claim, err);
	return rc;
}

/* The three ways to record a result: alone, with its run advanced, and with a claim too (`req`). */
static int result(struct sl_engine *e, const char *worker_id, int64_t attempt_id, int64_t fencing,
                  const struct sl_engine_result *res, int64_t now_ms, bool advance,
                  const struct sl_engine_claim_req *req, struct sl_engine_dispatches *out,
                  bool *accepted, struct sl_strbuf *err)
{
	struct result_claim_ctx c = {
	    .result = {.end = {.e = e,
	                       .worker_id = worker_id,
	                       .attempt_id = attempt_id,
	                       .fencing = fencing,
	                       .now_ms = now_ms,
	                       .outcome = sl_outcome_name(res->outcome)},
	               .res = res,
	               .advance = advance},
	};
	bool claim = req && req->free_slots && req->queues_nr;
	int rc;

	if (accepted)
		*accepted = false;
	if ((rc = outputs_check(res, err)))
		return rc;
	if (claim) {
		c.claim = (struct claim_ctx){e,
		                             worker_id,
		                             req->queues,
		                             req->queues_nr,
		                             req->free_slots,
		                             req->parallelism,
		                             now_ms,
		                             out,
		                             out->nr,
		                             true};
		rc = sl_db_transaction(e->db, 0, result_claim_tx, &c, err);
		if (rc)
			sl__dispatches_truncate(out, c.claim.out_start);
	} else {
		rc = sl_db_transaction(e->db, 0, result_tx, &c.result, err);
	}
	if (accepted)
		*accepted = !rc && c.result.end.accepted;
	return rc;
}

int sl_engine_result(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                     int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                     bool *accepted, struct sl_strbuf *err)
{
	return result(e, worker_id, attempt_id, fencing, res, now_ms, false, NULL, NULL, accepted,
	              err);
}

int sl_engine_result_advance(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                             int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                             bool *accepted, struct sl_strbuf *err)
{
	return result(e, worker_id, attempt_id, fencing, res, now_ms, true, NULL, NULL, accepted,
	              err);
}

int sl_engine_result_claim(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                           int64_t fencing, const struct sl_engine_result *res, int64_t now_ms,
                           const struct sl_engine_claim_req *req, bool *accepted,
                           struct sl_engine_dispatches *out, struct sl_strbuf *err)
{
	return result(e, worker_id, attempt_id, fencing, res, now_ms, true, req, out, accepted,
	              err);
}

struct fail_worker_ctx {
	struct attempt_end end; /* each live attempt in turn */
	const char *worker_id;
	size_t ended;
};

static int fail_worker_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct fail_worker_ctx *c = ctx;
	const char *params[] = {c->worker_id};
	PGresult *r = NULL;
	int rc;

	c->ended = 0;
	/* A lost worker runs nothing we can wait for any more. */
	rc = sl_db_q(db, SL_Q_ENGINE_REPORT_WORKER_STOPPED, 1, params, NULL, err);
	if (!rc)
		rc = sl_db_q(db, SL_Q_ENGINE_REPORT_WORKER_LIVE, 1, params, &r, err);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		c->end.attempt_id = sl__int_at(r, i, 0);
		c->end.fencing = sl__int_at(r, i, 1);
		rc = end_attempt(db, &c->end, SL_OUTCOME_FAILED, -1, 0, NULL, err);
		if (!rc && c->end.accepted)
			c->ended++;
	}
	PQclear(r);
	return rc;
}

int sl_engine_fail_worker(struct sl_engine *e, const char *worker_id, int64_t now_ms,
                          const char *reason, size_t *ended, struct sl_strbuf *err)
{
	struct fail_worker_ctx c = {
	    .end = {.e = e,
	            .worker_id = worker_id,
	            .now_ms = now_ms,
	            .outcome = "lost",
	            .reason = reason},
	    .worker_id = worker_id,
	};
	int rc;

	rc = sl_db_transaction(e->db, 0, fail_worker_tx, &c, err);
	if (ended)
		*ended = rc ? 0 : c.ended;
	return rc;
}

static int fail_attempt_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	return end_attempt(db, ctx, SL_OUTCOME_FAILED, -1, 0, NULL, err);
}

int sl_engine_fail_attempt(struct sl_engine *e, const char *worker_id, int64_t attempt_id,
                           int64_t fencing, int64_t now_ms, const char *reason, bool *accepted,
                           struct sl_strbuf *err)
{
	struct attempt_end c = {.e = e,
	                        .worker_id = worker_id,
	                        .attempt_id = attempt_id,
	                        .fencing = fencing,
	                        .now_ms = now_ms,
	                        .outcome = "lost",
	                        .reason = reason};
	int rc;

	rc = sl_db_transaction(e->db, 0, fail_attempt_tx, &c, err);
	if (accepted)
		*accepted = !rc && c.accepted;
	return rc;
}

int sl_engine_confirm_stopped(struct sl_engine *e, const char *worker_id, const int64_t *running,
                              size_t running_nr, size_t *confirmed, struct sl_strbuf *err)
{
	struct sl_strbuf ids = SL_STRBUF_INIT;
	const char *params[2] = {worker_id, NULL};
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < running_nr; i++)
		sl_pgarray_add_int(&ids, running[i]);
	params[1] = sl_pgarray_end(&ids);
	rc = sl_db_q_idempotent(e->db, SL_Q_ENGINE_REPORT_STOPPED_EXCEPT, 2, params, &r, err);
	if (confirmed)
		*confirmed = rc ? 0 : (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	sl_strbuf_release(&ids);
	return rc;
}

int sl_engine_attempt_owner(struct sl_engine *e, int64_t attempt_id, char **owner,
                            struct sl_strbuf *err)
{
	struct num a;
	const char *params[] = {sl__num_of(&a, attempt_id)};
	PGresult *r = NULL;
	int rc;

	*owner = NULL;
	rc = sl_db_q_idempotent(e->db, SL_Q_ENGINE_REPORT_OWNER, 1, params, &r, err);
	if (!rc && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*owner = sl_xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

void sl_engine_live_release(struct sl_engine_live *l)
{
	for (size_t i = 0; i < l->nr; i++)
		free(l->items[i].worker_id);
	free(l->items);
	*l = (struct sl_engine_live)SL_ENGINE_LIVE_INIT;
}

static int live_read(PGresult *r, struct sl_engine_live *out)
{
	for (int i = 0; i < PQntuples(r); i++) {
		struct sl_engine_live_attempt *a;

		SL_ALLOC_GROW(out->items, out->nr + 1, out->alloc);
		a = &out->items[out->nr++];
		a->worker_id = sl_xstrdup(PQgetvalue(r, i, 0));
		a->attempt_id = sl__int_at(r, i, 1);
		a->fencing = sl__int_at(r, i, 2);
	}
	return 0;
}

struct heartbeats_ctx {
	const char *workers; /* a text[] literal */
	bool record;
	struct sl_engine_live *out;
	size_t mark;
};

static int heartbeats_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct heartbeats_ctx *c = ctx;
	const char *params[1] = {c->workers};
	PGresult *r = NULL;
	int rc = 0;

	/* A transaction run again must not list its attempts twice. */
	for (size_t i = c->mark; i < c->out->nr; i++)
		free(c->out->items[i].worker_id);
	c->out->nr = c->mark;
	if (c->record)
		rc = sl_db_q(db, SL_Q_ENGINE_REPORT_HEARTBEATS, 1, params, NULL, err);
	if (!rc)
		rc = sl_db_q(db, SL_Q_ENGINE_REPORT_LIVE_OF, 1, params, &r, err);
	if (!rc)
		rc = live_read(r, c->out);
	PQclear(r);
	return rc;
}

int sl_engine_worker_live(struct sl_engine *e, const char *const *workers, size_t workers_nr,
                          bool record_heartbeat, struct sl_engine_live *out, struct sl_strbuf *err)
{
	struct sl_strbuf names = SL_STRBUF_INIT;
	struct heartbeats_ctx c = {NULL, record_heartbeat, out, out->nr};
	int rc;

	for (size_t i = 0; i < workers_nr; i++)
		sl_pgarray_add(&names, workers[i]);
	c.workers = sl_pgarray_end(&names);
	rc = sl_db_transaction(e->db, 0, heartbeats_tx, &c, err);
	sl_strbuf_release(&names);
	return rc;
}
