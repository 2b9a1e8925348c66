/*
 * Who a worker connection is: the HELLO's token checked against the
 * worker's own credential or the shared token (docs/security.md, "One
 * identity per worker"), and connections closed when a credential
 * changes under them.
 */

#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#include "sluice/alloc.h"
#include "sluice/credentials.h"
#include "sluice/log.h"
#include "sluice/banned.h"

static const char *const credential_state_names[] = {
    [SL_CREDENTIAL_NONE] = "none",
    [SL_CREDENTIAL_OWN] = "own",
    [SL_CREDENTIAL_REVOKED] = "revoked",
};

/*
 * Whether the HELLO's token is good for its worker name (the rule is
 * sl_credential_check's). Every refusal sends the same "bad token", so
 * that a peer learns nothing of the name's state; the log says which.
 * Both the shared token and the hash are compared whatever the name, and
 * the lookup is one statement in every case.
 */
bool auth_hello(struct wconn *c, const struct sl_proto_hello *h, const char **reject)
{
	struct sched *s = c->s;
	struct sl_credentials creds = SL_CREDENTIALS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT, q = SL_STRBUF_INIT;
	const char *names[1] = {h->worker_id};
	const struct sl_credential *cred;
	size_t len = strlen(h->token);
	bool ok = false;
	int rc;

	c->shared_ok = sl_proto_token_equal(h->token, len, s->token, s->token_len);
	if ((rc = sl_credential_hash(h->token, len, c->token_hash, &err))) {
		sl_log_quote(&q, err.buf);
		sl_log("error", "hash_failed", "peer=%s error=%s", c->peer, q.buf);
		*reject = "bad token";
		goto out;
	}
	if ((rc = sl_credentials_of(s->db, names, 1, &creds, &err))) {
		sched_db_error(s, "credentials", rc, &err);
		*reject = "the scheduler cannot reach its database";
		goto out;
	}
	cred = sl_credentials_find(&creds, h->worker_id);
	c->auth = sl_credential_check(cred, c->token_hash, c->shared_ok);
	if (c->auth == SL_CREDENTIAL_REFUSED) {
		sl_log("warn", "auth_failed", "peer=%s worker=%s credential=%s shared_token=%s",
		       c->peer, h->worker_id,
		       credential_state_names[cred ? cred->state : SL_CREDENTIAL_NONE],
		       s->token ? "yes" : "no");
		*reject = "bad token";
		goto out;
	}
	ok = true;
out:
	sl_credentials_release(&creds);
	sl_strbuf_release(&err);
	sl_strbuf_release(&q);
	return ok;
}

/* Why a connection's HELLO would be refused now; c->auth is not REFUSED. */
static const char *credential_change(const struct wconn *c, const struct sl_credential *cred)
{
	if (!cred)
		return "its credential was removed";
	if (cred->state == SL_CREDENTIAL_REVOKED)
		return "its credential was revoked";
	if (c->auth == SL_CREDENTIAL_BY_SHARED)
		return "it has a credential of its own now: the shared token no longer serves it";
	return "its credential was replaced (--rotate)";
}

void auth_recheck_all(struct sched *s)
{
	struct sl_credentials creds = SL_CREDENTIALS_INIT;
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char **names = sl_xcalloc(s->conns_nr + 1, sizeof(*names));
	struct wconn *next;
	size_t n = 0;
	int rc;

	for (struct wconn *c = s->conns; c; c = c->next)
		if (c->state == WCONN_READY)
			names[n++] = c->worker_id;
	if (n && (rc = sl_credentials_of(s->db, names, n, &creds, &err))) {
		/* creds_changed stays set: the next tick tries again. */
		sched_db_error(s, "credentials", rc, &err);
		goto out;
	}
	s->creds_changed = false;
	for (struct wconn *c = s->conns; c; c = next) {
		const struct sl_credential *cred;

		next = c->next;
		if (c->state != WCONN_READY)
			continue;
		cred = sl_credentials_find(&creds, c->worker_id);
		if (sl_credential_check(cred, c->token_hash, c->shared_ok) == SL_CREDENTIAL_REFUSED)
			conn_close(c, credential_change(c, cred));
	}
out:
	sl_credentials_release(&creds);
	sl_strbuf_release(&err);
	free(names);
}
