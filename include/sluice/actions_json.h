#ifndef SLUICE_ACTIONS_JSON_H
#define SLUICE_ACTIONS_JSON_H

#ifndef SLUICE_LAYER_DB
#error "sluice/actions_json.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <jansson.h>

#include "sluice/runstore.h"
#include "sluice/views.h"

/**
 * The JSON documents of the CLI's changes and account listings, built once
 * for `sluice ... --json` and sluice-web's answers to the same actions
 * (docs/json.md, docs/web.md): the API's document is the CLI's by
 * construction. Each returns a new reference.
 */

/** `trigger --json`: {"dag", "run_id", "state", "commit", "conf", "logical_date"}. */
json_t *sl_trigger_json(const struct sl_run_pin *pin, const struct sl_run_new *run,
                        const json_t *conf);
/** `runs cancel --json`. */
json_t *sl_cancel_json(const char *dag_id, const char *run_id, const struct sl_run_change *c);
/** `tasks clear --json`; `repin` is read only when `opts->latest`. */
json_t *sl_clear_json(const char *dag_id, const char *run_id, const struct sl_clear_opts *opts,
                      const struct sl_task_ids *cleared, const struct sl_run_repin *repin,
                      const struct sl_run_change *c);
/** `tasks mark --json`. */
json_t *sl_mark_json(const char *dag_id, const char *run_id, const char *task_id, const char *state,
                     const struct sl_run_change *c);

/** The columns of accounts_users_list, accounts_tokens_list, accounts_audit_list. */
enum sl_users_col {
	SL_USERS_COL_NAME,
	SL_USERS_COL_ROLE,
	SL_USERS_COL_CREATED,
	SL_USERS_COL_TOKENS
};
enum sl_tokens_col {
	SL_TOKENS_COL_ID,
	SL_TOKENS_COL_USER,
	SL_TOKENS_COL_CREATED,
	SL_TOKENS_COL_REVOKED,
	SL_TOKENS_COL_USED,
};
enum sl_audit_col {
	SL_AUDIT_COL_ID,
	SL_AUDIT_COL_AT,
	SL_AUDIT_COL_ACTOR,
	SL_AUDIT_COL_VIA,
	SL_AUDIT_COL_ACTION,
	SL_AUDIT_COL_TARGET,
};

/** A row of sl_view_users, sl_view_tokens, sl_view_audit as the CLI's --json lists them. */
json_t *sl_user_row_json(const struct sl_rows *res, int row);
json_t *sl_token_row_json(const struct sl_rows *res, int row);
json_t *sl_audit_row_json(const struct sl_rows *res, int row);

/**
 * What a new run of `pin` comes with, in the words the CLI and the API
 * both use: that its DAG is paused (into `paused`), and that its file does
 * not load at the current commit so that the run uses the last version
 * that did (into `stale`). Each is left empty when it does not apply.
 */
void sl_trigger_notes(const struct sl_run_pin *pin, struct sl_strbuf *paused,
                      struct sl_strbuf *stale);

#endif
