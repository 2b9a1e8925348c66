/*
 * The admin's action routes (api_act.h): pools, users, tokens, and the
 * audit log they and every other action write. Each is the CLI's command
 * through the same db layer call and JSON builder (sluice/accounts.h,
 * sluice/admin.h, sluice/actions_json.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api_act.h"
#include "sluice/actions_json.h"
#include "sluice/admin.h"
#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/params.h"
#include "sluice/status_doc.h"
#include "sluice/views.h"

/* Decimal `s` within [min, max], as the CLI's cli_parse_long reads its flags. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* PUT /api/v1/pools/{pool}: `sluice pools set`; the pool's `pools list` row. */
void web_api_pool_put(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"slots", "description", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	json_t *body = NULL, *slots;
	const char *description;
	int rc;

	if (!sl_id_valid(c->params[0])) {
		web_problem(c, 400,
		            "'%s' is not a valid pool name ([A-Za-z0-9_.-], 1 to 200 characters)",
		            c->params[0]);
		goto out;
	}
	if (!(body = web_act_body(c, false, keys)) ||
	    !web_act_string(c, body, "description", &description))
		goto out;
	slots = json_object_get(body, "slots");
	if (!json_is_integer(slots) || json_integer_value(slots) < 0 ||
	    json_integer_value(slots) > INT_MAX) {
		if (json_is_integer(slots))
			web_problem(c, 400, "slots: expected an integer from 0 to %d, got %lld",
			            INT_MAX, (long long)json_integer_value(slots));
		else
			web_problem(c, 400, "slots: expected an integer from 0 to %d, got %s",
			            INT_MAX, slots ? sl_json_type_name(slots) : "nothing");
		goto out;
	}
	rc = sl_pool_set(db, WEB_ACTOR(c), c->params[0], (long)json_integer_value(slots),
	                 description, &err);
	if (!rc)
		rc = sl_view_pools(db, c->params[0], &res, &err);
	if (!rc && sl_rows_nr(res) != 1) {
		sl_strbuf_addf(&err, "no pool '%s'", c->params[0]);
		rc = SL_ENOENT; /* deleted since */
	}
	if (rc)
		web_act_failed(c, db, "pools_set", rc, &err);
	else
		web_json(c, 200, sl_pool_json(res, 0));
out:
	sl_rows_free(res);
	json_decref(body);
	sl_strbuf_release(&err);
}

/* DELETE /api/v1/pools/{pool}: `sluice pools delete`. */
void web_api_pool_delete(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc;

	if (!sl_id_valid(c->params[0]))
		web_problem(c, 400,
		            "'%s' is not a valid pool name ([A-Za-z0-9_.-], 1 to 200 characters)",
		            c->params[0]);
	else if ((rc = sl_pool_delete(db, WEB_ACTOR(c), c->params[0], &err)))
		web_act_failed(c, db, "pools_delete", rc, &err);
	else
		web_answer(c, 204, NULL, "", 0);
	sl_strbuf_release(&err);
}

/*
 * The rows of a view read with `rc`, each by `row_json`: the CLI's --json
 * array.
 */
static void list(struct web_call *c, int rc, const struct sl_rows *res, const struct sl_strbuf *err,
                 struct sl_db *db, const char *what,
                 json_t *(*row_json)(const struct sl_rows *, int))
{
	json_t *doc;

	if (rc) {
		web_act_failed(c, db, what, rc, err);
		return;
	}
	doc = json_array();
	for (int row = 0; doc && row < sl_rows_nr(res); row++)
		if (json_array_append_new(doc, row_json(res, row)))
			json_decref(doc), doc = NULL;
	web_json(c, 200, doc);
}

/* GET /api/v1/users: `sluice users list --json`. */
void web_api_users(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	int rc = sl_view_users(db, &res, &err);

	list(c, rc, res, &err, db, "users_list", sl_user_row_json);
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

/* GET /api/v1/audit?limit=N: `sluice audit --json [--limit N]`. */
void web_api_audit(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;
	const char *q = web_query(c, "limit");
	long limit = 50;
	int rc;

	if (q && !parse_long(q, 1, 100000, &limit)) {
		web_problem(c, 400,
		            "query parameter limit: expected an integer from 1 to 100000, got '%s'",
		            q);
		goto out;
	}
	rc = sl_view_audit(db, limit, &res, &err);
	list(c, rc, res, &err, db, "audit_list", sl_audit_row_json);
out:
	sl_rows_free(res);
	sl_strbuf_release(&err);
}

/* POST /api/v1/users {"name", "role", "password"}: `sluice users add`. */
void web_api_user_add(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {"name", "role", "password", NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	json_t *body = web_act_body(c, false, keys);
	const char *name = NULL, *role_name = NULL, *password = NULL;
	enum sl_role role;
	int rc;

	if (!body || !web_act_string(c, body, "name", &name) ||
	    !web_act_string(c, body, "role", &role_name) ||
	    !web_act_string(c, body, "password", &password))
		goto out;
	if (!name || !role_name || !password) {
		web_problem(c, 400, "%s: missing",
		            !name        ? "name"
		            : !role_name ? "role (viewer, operator or admin)"
		                         : "password");
		goto out;
	}
	if (!sl_role_parse(role_name, &role)) {
		web_problem(c, 400, "role: '%s' is not viewer, operator or admin", role_name);
		goto out;
	}
	rc = sl_user_add(db, WEB_ACTOR(c), name, role, password, strlen(password), &err);
	if (rc)
		web_act_failed(c, db, "users_add", rc, &err);
	else
		web_json(c, 201, json_pack("{s:s, s:s}", "user", name, "role", sl_role_name(role)));
out:
	/* The clear password lives no longer than the request needs it:
	 * neither in the parsed document nor in the body it came in. */
	if (body && password)
		explicit_bzero((char *)password, strlen(password));
	if (c->body)
		explicit_bzero(c->body, c->body_len);
	json_decref(body);
	sl_strbuf_release(&err);
}

/* DELETE /api/v1/users/{user}: `sluice users delete`. */
void web_api_user_delete(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int rc = sl_user_delete(db, WEB_ACTOR(c), c->params[0], &err);

	if (rc)
		web_act_failed(c, db, "users_delete", rc, &err);
	else
		web_answer(c, 204, NULL, "", 0);
	sl_strbuf_release(&err);
}

/* POST /api/v1/users/{user}/tokens: `sluice tokens create`; the token is shown once. */
void web_api_token_create(struct web_call *c, struct sl_db *db)
{
	static const char *const keys[] = {NULL};
	struct sl_strbuf err = SL_STRBUF_INIT;
	char token[SL_TOKEN_LEN + 1] = "";
	json_t *body = web_act_body(c, true, keys);
	int64_t id = 0;
	int rc;

	if (!body)
		goto out;
	rc = sl_token_create(db, WEB_ACTOR(c), c->params[0], token, &id, &err);
	if (rc)
		web_act_failed(c, db, "tokens_create", rc, &err);
	else
		web_json(c, 201,
		         json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "user", c->params[0],
		                   "token", token));
out:
	explicit_bzero(token, sizeof(token));
	json_decref(body);
	sl_strbuf_release(&err);
}

/* DELETE /api/v1/tokens/{id}: `sluice tokens revoke`. */
void web_api_token_revoke(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	long id;
	int rc;

	if (!parse_long(c->params[0], 1, LONG_MAX, &id))
		web_problem(c, 400, "token id: expected an integer from 1 to %ld, got '%s'",
		            LONG_MAX, c->params[0]);
	else if ((rc = sl_token_revoke(db, WEB_ACTOR(c), id, &err)))
		web_act_failed(c, db, "tokens_revoke", rc, &err);
	else
		web_answer(c, 204, NULL, "", 0);
	sl_strbuf_release(&err);
}
