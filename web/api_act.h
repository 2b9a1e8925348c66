#ifndef SLUICE_WEB_API_ACT_H
#define SLUICE_WEB_API_ACT_H

/*
 * The routes of /api/v1 that change something (docs/web.md, "Actions"):
 * runs and DAGs in api_act.c, pools, users, tokens and the audit log in
 * api_admin.c. Each does what its CLI command does, through the same db
 * layer call, with its audit row by the token's user via "web", and
 * answers the command's --json document and its error sentences.
 */
#include "web.h"

/*
 * The request's body as a JSON object whose keys are all in `keys`
 * (NULL-terminated); with `optional`, no body at all is {} (unless it
 * claims a type other than JSON: an empty form). NULL once answered 415
 * or 400 (an unknown key is named, with a "did you mean").
 */
json_t *web_act_body(struct web_call *c, bool optional, const char *const *keys);
/*
 * Member `key` of `body` as a string (`*out` NULL when absent) or a
 * boolean (`*out` left as it is when absent). False once answered 400
 * naming the key.
 */
bool web_act_string(struct web_call *c, const json_t *body, const char *key, const char **out);
bool web_act_bool(struct web_call *c, const json_t *body, const char *key, bool *out);
/*
 * Answers a db layer failure `rc`: 404 for what does not exist, 400 for a
 * malformed input, 409 for a change refused (a run id taken, a run
 * already ended), 503 when the database failed (logged as `what`). The
 * detail is the sentence in `err`, the CLI's.
 */
void web_act_failed(struct web_call *c, struct sl_db *db, const char *what, int rc,
                    const struct sl_strbuf *err);
/* The caller, for an audit row. */
#define WEB_ACTOR(c) (&(struct sl_actor){(c)->user.buf, "web"})

/* api_act.c */
void web_api_trigger(struct web_call *c, struct sl_db *db);
void web_api_cancel(struct web_call *c, struct sl_db *db);
void web_api_clear(struct web_call *c, struct sl_db *db);
void web_api_mark(struct web_call *c, struct sl_db *db);
void web_api_dag_patch(struct web_call *c, struct sl_db *db);

/* api_admin.c */
void web_api_pool_put(struct web_call *c, struct sl_db *db);
void web_api_pool_delete(struct web_call *c, struct sl_db *db);
void web_api_users(struct web_call *c, struct sl_db *db);
void web_api_user_add(struct web_call *c, struct sl_db *db);
void web_api_user_delete(struct web_call *c, struct sl_db *db);
void web_api_token_create(struct web_call *c, struct sl_db *db);
void web_api_token_revoke(struct web_call *c, struct sl_db *db);
void web_api_audit(struct web_call *c, struct sl_db *db);

#endif
