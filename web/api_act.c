/*
 * The action routes on runs and DAGs (api_act.h): trigger, cancel, clear,
 * mark, pause. Each is the CLI's command through the same db layer call
 * (sluice/actions.h, sluice/admin.h), with the same checks and sentences,
 * and answers the command's --json document. And what every action route
 * shares: reading the body, and answering a failure.
 */
#include <stdlib.h>
#include <string.h>

#include "api_act.h"
#include "sluice/alloc.h"
#include "sluice/actions.h"
#include "sluice/actions_json.h"
#include "sluice/admin.h"
#include "sluice/error.h"
#include "sluice/params.h"
#include "sluice/run_doc.h"
#include "sluice/suggest.h"

json_t *web_act_body(struct web_call *c, bool optional, const char *const *keys)
{
	const char *key;
	json_t *doc, *v;

	if (optional && !c->body_len)
		return web_content_json(c) ? json_object() : NULL;
	if (!(doc = web_body_object(c)))
		return NULL;
	json_object_foreach(doc, key, v)
	{
		struct sl_strbuf known = SL_STRBUF_INIT;
		struct sl_suggest s;
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		if (keys[i])
			continue;
		sl_suggest_init(&s, key);
		for (i = 0; keys[i]; i++) {
			sl_suggest_consider(&s, keys[i]);
			sl_strbuf_addf(&known, "%s%s", i ? ", " : "", keys[i]);
		}
		web_problem(c, 400, "request body: unknown key '%s'%s%s%s; %s%s", key,
		            s.best ? " (did you mean '" : "", s.best ? s.best : "",
		            s.best ? "'?)" : "", keys[0] ? "expected: " : "it takes none",
		            known.buf);
		sl_strbuf_release(&known);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

bool web_act_string(struct web_call *c, const json_t *body, const char *key, const char **out)
{
	const json_t *v = json_object_get(body, key);

	*out = NULL;
	if (!v)
		return true;
	if (!json_is_string(v)) {
		web_problem(c, 400, "%s: expected a string, got %s", key, sl_json_type_name(v));
		return false;
	}
	*out = json_string_value(v);
	return true;
}

bool web_act_bool(struct web_call *c, const json_t *body, const char *key, bool *out)
{
	const json_t *v = json_object_get(body, key);

	if (!v)
		return true;
	if (!json_is_boolean(v)) {
		web_problem(c, 400, "%s: expected true or false, got %s", key,
		            sl_json_type_name(v));
		return false;
	}
	*out = json_is_true(v);
	return true;
}

void web_act_failed(struct web_call *c, struct sl_db *db, const char *what, int rc,
                    const struct sl_strbuf *err)
{
	/* A statement the server refused (its SQLSTATE is set) is the
	 * database's failure, whose message is not the client's business; a
	 * store's own refusal follows statements that succeeded. */
	if (rc == SL_EUNAVAIL || (rc == SL_ERR && *sl_db_sqlstate(db)))
		web_db_failed(c, what, err);
	else if (rc == SL_ENOENT)
		web_problem(c, 404, "%s", err->buf);
	else if (rc == SL_EINVAL)
		web_problem(c, 400, "%s", err->buf);
	else
		web_problem(c, 409, "%s", err->buf);
}

/* Path segment `s` percent-encoded: all but RFC 3986's unreserved bytes. */
static void add_segment(struct sl_strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			sl_strbuf_addch(sb, (char)ch);
		else
			sl_strbuf_addf(sb, "%%%02X", ch);
	}
}

/* POST /api/v1/dags/{dag}/runs: `sluice trigger`; the new run's `runs show --json`. */
void web_api_trigger(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"run_id", "conf", "logical_date", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT, where = SL_STRBUF_INIT;
	struct sl_strbuf paused = SL_STRBUF_INIT, stale = SL_STRBUF_INIT;
	struct sl_run_pin pin = SL_RUN_PIN_INIT;
	struct sl_trigger t = SL_TRIGGER_INIT;
	json_t *body = web_act_body(c, true, keys), *conf = json_object(), *given, *doc;
	const char *run_id, *logical_date;
	int rc;

	if (!body || !web_act_string(c, body, "run_id", &run_id) ||
	    !web_act_string(c, body, "logical_date", &logical_date))
		goto out;
	if (run_id && sl_trigger_check_run_id("run_id", run_id, &err)) {
		web_problem(c, 400, "%s", err.buf);
		goto out;
	}
	if ((rc = sl_run_pin_load(db, c->params[0], &pin, &err))) {
		web_act_failed(c, db, "trigger", rc, &err);
		goto out;
	}
	given = json_object_get(body, "conf");
	if (given && sl_params_set_json(conf, pin.dag->params, given, &err)) {
		web_problem(c, 400, "conf: %s", err.buf);
		goto out;
	}
	rc = sl_trigger_prepare(&t, &pin, run_id, "logical_date", logical_date, conf, &err);
	if (!rc)
		rc = sl_trigger_create(db, WEB_ACTOR(c), &pin, &t, &err);
	if (rc) {
		web_act_failed(c, db, "trigger", rc, &err);
		goto out;
	}
	sl_strbuf_adds(&where, "/api/v1/dags/");
	add_segment(&where, pin.dag_id);
	sl_strbuf_adds(&where, "/runs/");
	add_segment(&where, t.run.run_id);
	/* The run as GET on its Location shows it: `runs show --json`. */
	if ((rc = sl_run_show_doc(db, pin.dag_id, t.run.run_id, &doc, &err))) {
		web_act_failed(c, db, "trigger", rc, &err);
		goto out;
	}
	/* Only when there is something to say: the document stays GET's otherwise. */
	sl_trigger_notes(&pin, &paused, &stale);
	if (paused.len || stale.len) {
		json_t *notes = json_array();

		if (paused.len)
			json_array_append_new(notes, json_string(paused.buf));
		if (stale.len)
			json_array_append_new(notes, json_string(stale.buf));
		json_object_set_new(doc, "notes", notes);
	}
	web_header(c, "location", where.buf);
	web_json(c, 201, doc);
out:
	json_decref(body);
	json_decref(conf);
	sl_trigger_release(&t);
	sl_run_pin_release(&pin);
	sl_strbuf_release(&paused);
	sl_strbuf_release(&stale);
	sl_strbuf_release(&where);
	sl_strbuf_release(&err);
}

/* POST /api/v1/dags/{dag}/runs/{run_id}/cancel: `sluice runs cancel`. */
void web_api_cancel(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_run_change change;
	json_t *body = web_act_body(c, true, keys);
	int rc;

	if (!body)
		goto out;
	rc = sl_action_cancel(db, WEB_ACTOR(c), c->params[0], c->params[1], &change, &err);
	if (rc)
		web_act_failed(c, db, "cancel", rc, &err);
	else
		web_json(c, 200, sl_cancel_json(c->params[0], c->params[1], &change));
out:
	json_decref(body);
	sl_strbuf_release(&err);
}

/* The body's "tasks": a list of task ids; false once answered 400. */
static bool clear_tasks(struct web_call *c, const json_t *body, const char ***tasks, size_t *nr)
{
	const json_t *list = json_object_get(body, "tasks"), *v;
	size_t i;

	if (!list)
		return true;
	if (!json_is_array(list)) {
		web_problem(c, 400, "tasks: expected a list of task ids, got %s",
		            sl_json_type_name(list));
		return false;
	}
	*tasks = sl_xcalloc(json_array_size(list) + 1, sizeof(**tasks));
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v)) {
			web_problem(c, 400, "tasks[%zu]: expected a task id, got %s", i,
			            sl_json_type_name(v));
			return false;
		}
		(*tasks)[(*nr)++] = json_string_value(v);
	}
	return true;
}

/* POST /api/v1/dags/{dag}/runs/{run_id}/clear: `sluice tasks clear`. */
void web_api_clear(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"tasks", "downstream", "failed", "latest", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_clear_opts o = {NULL, 0, false, false, false};
	struct sl_task_ids cleared = SL_TASK_IDS_INIT;
	struct sl_run_repin repin = SL_RUN_REPIN_INIT;
	struct sl_run_change change = {0, 0, ""};
	const char **tasks = NULL;
	json_t *body = web_act_body(c, true, keys);
	int rc;

	if (!body || !clear_tasks(c, body, &tasks, &o.tasks_nr) ||
	    !web_act_bool(c, body, "downstream", &o.downstream) ||
	    !web_act_bool(c, body, "failed", &o.failed_only) ||
	    !web_act_bool(c, body, "latest", &o.latest))
		goto out;
	o.tasks = tasks;
	rc = sl_action_clear(db, WEB_ACTOR(c), c->params[0], c->params[1], &o, &cleared, &repin,
	                     &change, &err);
	if (rc)
		web_act_failed(c, db, "clear", rc, &err);
	else
		web_json(c, 200,
		         sl_clear_json(c->params[0], c->params[1], &o, &cleared, &repin, &change));
out:
	free(tasks);
	json_decref(body);
	sl_run_repin_release(&repin);
	sl_task_ids_release(&cleared);
	sl_strbuf_release(&err);
}

/* POST /api/v1/dags/{dag}/runs/{run_id}/tasks/{task}/mark: `sluice tasks mark`. */
void web_api_mark(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"state", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_run_change change;
	json_t *body = web_act_body(c, false, keys);
	const char *state;
	int rc;

	if (!body || !web_act_string(c, body, "state", &state))
		goto out;
	if (!state) {
		web_problem(c, 400, "state: missing (success or failed)");
		goto out;
	}
	rc = sl_action_mark(db, WEB_ACTOR(c), c->params[0], c->params[1], c->params[2], state,
	                    &change, &err);
	if (rc)
		web_act_failed(c, db, "mark", rc, &err);
	else
		web_json(c, 200,
		         sl_mark_json(c->params[0], c->params[1], c->params[2], state, &change));
out:
	json_decref(body);
	sl_strbuf_release(&err);
}

/* PATCH /api/v1/dags/{dag}: `sluice dags pause` / `unpause`; the DAG's `dags list` row. */
void web_api_dag_patch(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"paused", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	json_t *body = web_act_body(c, false, keys);
	bool paused = false, was;
	int rc;

	if (!body || !web_act_bool(c, body, "paused", &paused))
		goto out;
	if (!json_object_get(body, "paused")) {
		web_problem(c, 400, "paused: missing (true or false)");
		goto out;
	}
	rc = sl_dag_pause(db, WEB_ACTOR(c), c->params[0], paused, &was, &err);
	if (!rc)
		rc = sl_view_dags(db, c->params[0], &res, &err);
	if (!rc && sl_rows_nr(res) != 1) {
		sl_strbuf_addf(&err, "no DAG '%s'", c->params[0]);
		rc = SL_ENOENT; /* deleted since: nothing left to show */
	}
	if (rc) {
		web_act_failed(c, db, "pause", rc, &err);
		goto out;
	}
	web_json(c, 200, web_dag_row_json(res, 0));
out:
	sl_rows_free(res);
	json_decref(body);
	sl_strbuf_release(&err);
}
