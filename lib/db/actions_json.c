/*
 * The JSON of the CLI's changes and account listings (sluice/actions_json.h),
 * moved out of cli/ so that sluice-web answers the same documents.
 */
#include "sluice/actions_json.h"

#include "sluice/dags_list.h"
#include "sluice/banned.h"

json_t *sl_trigger_json(const struct sl_run_pin *pin, const struct sl_run_new *run,
                        const json_t *conf)
{
	struct sl_strbuf at = SL_STRBUF_INIT;
	json_t *doc;

	sl_run_time_format(&at, run->logical_date);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "dag", pin->dag_id, "run_id", run->run_id,
	                "state", "queued", "commit", pin->commit, "conf", conf, "logical_date",
	                at.buf);
	sl_strbuf_release(&at);
	return doc;
}

json_t *sl_cancel_json(const char *dag_id, const char *run_id, const struct sl_run_change *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "dag", dag_id, "run_id", run_id, "state",
	                 "cancelled", "previous_state", c->prev_state, "tasks_cancelled",
	                 (json_int_t)c->tasks, "attempts_cancelled", (json_int_t)c->attempts);
}

static json_t *ids_json(const struct sl_task_ids *ids)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ids->nr; i++)
		json_array_append_new(a, json_string(ids->items[i]));
	return a;
}

json_t *sl_clear_json(const char *dag_id, const char *run_id, const struct sl_clear_opts *opts,
                      const struct sl_task_ids *cleared, const struct sl_run_repin *repin,
                      const struct sl_run_change *c)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "dag", dag_id, "run_id", run_id,
	                      "cleared", ids_json(cleared), "attempts_cancelled",
	                      (json_int_t)c->attempts, "previous_state", c->prev_state, "state",
	                      cleared->nr ? "queued" : c->prev_state);

	if (o && opts->latest)
		json_object_set_new(o, "latest",
		                    repin->runs
		                        ? json_pack("{s:s, s:s, s:o, s:o}", "previous_commit",
		                                    repin->from_commit, "commit", repin->to_commit,
		                                    "added", ids_json(&repin->added), "removed",
		                                    ids_json(&repin->removed))
		                        : json_null());
	return o;
}

json_t *sl_mark_json(const char *dag_id, const char *run_id, const char *task_id, const char *state,
                     const struct sl_run_change *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "dag", dag_id, "run_id", run_id, "task",
	                 task_id, "state", state, "previous_state", c->prev_state,
	                 "attempts_cancelled", (json_int_t)c->attempts);
}

/* An instant of column `col` (seconds) as ISO 8601 UTC, null when NULL. */
static json_t *time_or_null(const struct sl_rows *res, int row, int col)
{
	if (sl_rows_null(res, row, col))
		return json_null();
	return sl_dags_time_json(sl_rows_int(res, row, col, 0), NULL);
}

json_t *sl_user_row_json(const struct sl_rows *res, int row)
{
	return json_pack("{s:s, s:s, s:o, s:I}", "user", sl_rows_value(res, row, SL_USERS_COL_NAME),
	                 "role", sl_rows_value(res, row, SL_USERS_COL_ROLE), "created_at",
	                 time_or_null(res, row, SL_USERS_COL_CREATED), "active_tokens",
	                 (json_int_t)sl_rows_int(res, row, SL_USERS_COL_TOKENS, 0));
}

json_t *sl_token_row_json(const struct sl_rows *res, int row)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:o}", "id",
	                 (json_int_t)sl_rows_int(res, row, SL_TOKENS_COL_ID, 0), "user",
	                 sl_rows_value(res, row, SL_TOKENS_COL_USER), "created_at",
	                 time_or_null(res, row, SL_TOKENS_COL_CREATED), "revoked_at",
	                 time_or_null(res, row, SL_TOKENS_COL_REVOKED), "last_used_at",
	                 time_or_null(res, row, SL_TOKENS_COL_USED));
}

json_t *sl_audit_row_json(const struct sl_rows *res, int row)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o}", "id",
	                 (json_int_t)sl_rows_int(res, row, SL_AUDIT_COL_ID, 0), "actor",
	                 sl_rows_value(res, row, SL_AUDIT_COL_ACTOR), "via",
	                 sl_rows_value(res, row, SL_AUDIT_COL_VIA), "action",
	                 sl_rows_value(res, row, SL_AUDIT_COL_ACTION), "target",
	                 sl_rows_value(res, row, SL_AUDIT_COL_TARGET), "at",
	                 time_or_null(res, row, SL_AUDIT_COL_AT));
}

void sl_trigger_notes(const struct sl_run_pin *pin, struct sl_strbuf *paused,
                      struct sl_strbuf *stale)
{
	if (pin->paused)
		sl_strbuf_addf(paused, "DAG '%s' is paused; the run starts when it is unpaused",
		               pin->dag_id);
	/* The run is still created: the last good version is what an operator
	 * gets, and it should not come as a surprise. */
	if (pin->load_error)
		sl_strbuf_addf(
		    stale,
		    "DAG '%s': its file has load errors at the current commit (%s); the "
		    "run uses the last version that loaded, commit %.7s (see 'sluice dags "
		    "errors')",
		    pin->dag_id, pin->load_error, pin->commit);
}
