/*
 * An operator's actions on runs, for the CLI and the API alike
 * (sluice/actions.h).
 */
#include "sluice/actions.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/civil.h"
#include "sluice/error.h"
#include "sluice/tz.h"
#include "sluice/banned.h"

int sl_trigger_check_run_id(const char *field, const char *run_id, struct sl_strbuf *err)
{
	if (!strcmp(run_id, "latest")) {
		sl_strbuf_addf(err,
		               "%s latest: 'latest' stands for the DAG's newest run in the "
		               "commands that take a RUN_ID; choose another id",
		               field);
		return SL_EINVAL;
	}
	if (!sl_run_id_valid(run_id)) {
		sl_strbuf_addf(err, "%s '%s': expected 1 to 250 of A-Z a-z 0-9 _ . : + ~ -", field,
		               run_id);
		return SL_EINVAL;
	}
	return 0;
}

void sl_trigger_release(struct sl_trigger *t)
{
	sl_strbuf_release(&t->id);
	free(t->conf);
	*t = (struct sl_trigger)SL_TRIGGER_INIT;
}

/* Now, in microseconds. */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int sl_trigger_prepare(struct sl_trigger *t, const struct sl_run_pin *pin, const char *run_id,
                       const char *field, const char *logical_date, const json_t *conf,
                       struct sl_strbuf *err)
{
	struct sl_strbuf why = SL_STRBUF_INIT;
	struct sl_tz *tz = NULL;
	int64_t s;
	int rc = 0;

	sl_trigger_release(t);
	if (logical_date) {
		rc = sl_tz_load(&tz, pin->dag->timezone, &why);
		if (!rc)
			rc = sl_iso_parse(logical_date, tz, &s, &why);
		if (rc) {
			sl_strbuf_addf(err, "%s: %s", field, why.buf);
			rc = SL_EINVAL;
			goto out;
		}
		t->run.logical_date = s * 1000000;
	} else {
		t->run.logical_date = now_us();
	}
	if (run_id)
		sl_strbuf_adds(&t->id, run_id);
	else
		sl_run_id_format(&t->id, "manual", t->run.logical_date);
	t->conf = json_dumps(conf, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!t->conf) {
		sl_strbuf_adds(err, "out of memory");
		rc = SL_ERR;
		goto out;
	}
	t->run.run_id = t->id.buf;
	t->run.run_type = "manual";
	t->run.interval_start = t->run.interval_end = t->run.logical_date;
	t->run.conf = t->conf;
out:
	sl_tz_free(tz);
	sl_strbuf_release(&why);
	return rc;
}

struct create_tx {
	const struct sl_actor *who;
	const struct sl_run_pin *pin;
	struct sl_trigger *t;
};

static int create_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct create_tx *c = ctx;
	int rc = sl_runs_create(db, c->who, c->pin, &c->t->run, 1, 0, NULL, err);

	if (!rc)
		rc = sl_runs_notify(db, "trigger", c->pin->dag_id, err);
	return rc;
}

int sl_trigger_create(struct sl_db *db, const struct sl_actor *who, const struct sl_run_pin *pin,
                      struct sl_trigger *t, struct sl_strbuf *err)
{
	struct create_tx tx = {who, pin, t};

	return sl_db_transaction(db, 0, create_tx, &tx, err);
}

/* One action's transaction: the change, then its NOTIFY. */
struct action_tx {
	const struct sl_actor *who;
	const char *dag_id, *run_id, *task_id, *state;
	const struct sl_clear_opts *clear; /* NULL: not a clear */
	struct sl_task_ids *cleared;
	struct sl_run_repin *repin;
	struct sl_run_change *out;
};

static int action_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct action_tx *a = ctx;
	const char *event;
	int rc;

	if (a->clear) {
		event = "clear";
		rc = sl_run_clear(db, a->who, a->dag_id, a->run_id, a->clear, a->cleared, a->repin,
		                  a->out, err);
		if (!rc && !a->cleared->nr)
			return 0; /* nothing changed: nothing to tell */
	} else if (a->task_id) {
		event = "mark";
		rc = sl_task_mark(db, a->who, a->dag_id, a->run_id, a->task_id, a->state, a->out,
		                  err);
	} else {
		event = "cancel";
		rc = sl_run_cancel(db, a->who, a->dag_id, a->run_id, a->out, err);
	}
	if (!rc)
		rc = sl_runs_notify(db, event, a->dag_id, err);
	return rc;
}

int sl_action_cancel(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                     const char *run_id, struct sl_run_change *out, struct sl_strbuf *err)
{
	struct action_tx a = {.who = who, .dag_id = dag_id, .run_id = run_id, .out = out};

	return sl_db_transaction(db, 0, action_tx, &a, err);
}

int sl_action_clear(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                    const char *run_id, const struct sl_clear_opts *opts,
                    struct sl_task_ids *cleared, struct sl_run_repin *repin,
                    struct sl_run_change *out, struct sl_strbuf *err)
{
	struct action_tx a = {.who = who,
	                      .dag_id = dag_id,
	                      .run_id = run_id,
	                      .clear = opts,
	                      .cleared = cleared,
	                      .repin = repin,
	                      .out = out};

	return sl_db_transaction(db, 0, action_tx, &a, err);
}

int sl_action_mark(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                   const char *run_id, const char *task_id, const char *state,
                   struct sl_run_change *out, struct sl_strbuf *err)
{
	struct action_tx a = {.who = who,
	                      .dag_id = dag_id,
	                      .run_id = run_id,
	                      .task_id = task_id,
	                      .state = state,
	                      .out = out};

	return sl_db_transaction(db, 0, action_tx, &a, err);
}
