#ifndef SLUICE_ACTIONS_H
#define SLUICE_ACTIONS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/actions.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <jansson.h>

#include "sluice/accounts.h"
#include "sluice/runstore.h"

/**
 * What an operator does to runs by hand, as the CLI (`trigger`, `runs
 * cancel`, `tasks clear`, `tasks mark`) and sluice-web's API both do it:
 * the same checks in the same words, each in one transaction with its
 * audit row by `who` and the NOTIFY that wakes the scheduler. Errors are
 * runstore.h's, with one sentence in `err`; those about an input name it
 * as the caller calls it (`field`: "--run-id" on the command line,
 * "run_id" in the API).
 */

/**
 * SL_EINVAL unless `run_id` may name a new run: "FIELD 'x': expected 1 to
 * 250 of ...", or "FIELD latest: ..." ('latest' is an alias of the
 * commands that take a run id).
 */
int sl_trigger_check_run_id(const char *field, const char *run_id, struct sl_strbuf *err);

/** The run a trigger creates. */
struct sl_trigger {
	struct sl_run_new run; /* run.run_id and run.conf point into the fields below */
	struct sl_strbuf id;
	char *conf; /* the conf's JSON text */
};

#define SL_TRIGGER_INIT                   \
	{                                 \
		{0}, SL_STRBUF_INIT, NULL \
	}

void sl_trigger_release(struct sl_trigger *t);

/**
 * The run to create for `pin`: id `run_id` (checked by the caller; NULL:
 * manual__<logical date>), logical date `logical_date` (ISO 8601, read in
 * the DAG's time zone when it has no offset; NULL: now), conf `conf` (the
 * overrides, checked by the caller with sl_params_set_json). SL_EINVAL
 * "FIELD: ..." for a date that does not parse.
 */
int sl_trigger_prepare(struct sl_trigger *t, const struct sl_run_pin *pin, const char *run_id,
                       const char *field, const char *logical_date, const json_t *conf,
                       struct sl_strbuf *err);

/**
 * Create the run in one transaction with its audit row by `who` and the
 * NOTIFY that wakes the scheduler. SL_ERR: "run 'r' of DAG 'x' already
 * exists".
 */
int sl_trigger_create(struct sl_db *db, const struct sl_actor *who, const struct sl_run_pin *pin,
                      struct sl_trigger *t, struct sl_strbuf *err);

/** sl_run_cancel, and the NOTIFY that has the scheduler stop the run's attempts. */
int sl_action_cancel(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                     const char *run_id, struct sl_run_change *out, struct sl_strbuf *err);

/** sl_run_clear, and a NOTIFY when it cleared something. */
int sl_action_clear(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                    const char *run_id, const struct sl_clear_opts *opts,
                    struct sl_task_ids *cleared, struct sl_run_repin *repin,
                    struct sl_run_change *out, struct sl_strbuf *err);

/** sl_task_mark, and its NOTIFY. */
int sl_action_mark(struct sl_db *db, const struct sl_actor *who, const char *dag_id,
                   const char *run_id, const char *task_id, const char *state,
                   struct sl_run_change *out, struct sl_strbuf *err);

#endif
