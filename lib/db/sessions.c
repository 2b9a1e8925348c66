/*
 * The web UI's sessions (sluice/sessions.h): a secret made and hashed like
 * an API token, a CSRF token beside it, and their rows.
 */
#include "sluice/sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/banned.h"

void sl_session_release(struct sl_session *s)
{
	memset(s->secret, 0, sizeof(s->secret));
	sl_strbuf_release(&s->user);
}

/* The hex of the SHA-256 of `secret`, or false when it is not shaped like one of ours. */
static int secret_hex(const char *secret, size_t len, char hex[2 * SL_CREDENTIAL_HASH_LEN + 1],
                      bool *shaped, struct sl_strbuf *err)
{
	unsigned char hash[SL_CREDENTIAL_HASH_LEN];
	int rc;

	*shaped = len == SL_SESSION_LEN &&
	          !strncmp(secret, SL_SESSION_PREFIX, sizeof(SL_SESSION_PREFIX) - 1);
	if (!*shaped)
		return 0;
	if ((rc = sl_credential_hash(secret, len, hash, err)))
		return rc;
	sl_credential_hex(hash, hex);
	return 0;
}

/*
 * Whether a sign-in as `actor` from `from` is past the SL_LOGIN_* limits:
 * then *retry_after is how many seconds until the oldest failure that
 * counts leaves the window (at least 1); else 0.
 */
static int login_throttle(struct sl_db *db, const char *actor, const char *from, long *retry_after,
                          struct sl_strbuf *err)
{
	char window[16];
	const char *params[] = {actor, from, window};
	PGresult *r = NULL;
	long users, peers, wait = 0;
	int rc;

	snprintf(window, sizeof(window), "%d", SL_LOGIN_WINDOW);
	if ((rc = sl_db_q_idempotent(db, SL_Q_SESSIONS_LOGIN_THROTTLE, 3, params, &r, err)))
		return rc;
	users = atol(PQgetvalue(r, 0, 0));
	peers = atol(PQgetvalue(r, 0, 1));
	if (users >= SL_LOGIN_USER_FAILURES)
		wait = atol(PQgetvalue(r, 0, 2));
	if (peers >= SL_LOGIN_PEER_FAILURES && atol(PQgetvalue(r, 0, 3)) > wait)
		wait = atol(PQgetvalue(r, 0, 3));
	if (users >= SL_LOGIN_USER_FAILURES || peers >= SL_LOGIN_PEER_FAILURES)
		*retry_after = wait > 1 ? wait : 1;
	PQclear(r);
	return 0;
}

int sl_session_create(struct sl_db *db, const char *name, const char *password, size_t len,
                      const char *from, bool *ok, struct sl_session *s, struct sl_strbuf *err)
{
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1], life[16], idle[16];
	const char *params[] = {hex, name, s->csrf, life, from, idle};
	const char *failed[] = {sl_id_valid(name) ? name : "-", from};
	PGresult *r = NULL;
	bool shaped;
	int rc;

	*ok = false;
	snprintf(life, sizeof(life), "%d", SL_SESSION_LIFETIME);
	snprintf(idle, sizeof(idle), "%d", SL_SESSION_IDLE);
	s->retry_after = 0;
	if ((rc = login_throttle(db, failed[0], from, &s->retry_after, err)))
		return rc;
	if (s->retry_after)
		return sl_db_q(db, SL_Q_SESSIONS_LOGIN_THROTTLED, 2, failed, NULL, err);
	if ((rc = sl_user_check_password(db, name, password, len, ok, &s->role, err)))
		return rc;
	if (!*ok)
		goto refused;
	*ok = false;
	if ((rc = sl_secret_generate(SL_SESSION_PREFIX, s->secret, sizeof(s->secret), err)) ||
	    (rc = sl_secret_generate("", s->csrf, sizeof(s->csrf), err)) ||
	    (rc = secret_hex(s->secret, SL_SESSION_LEN, hex, &shaped, err)))
		goto out;
	/* Not idempotent: sent twice, the audit log would say two logins. */
	if ((rc = sl_db_q(db, SL_Q_SESSIONS_CREATE, 6, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0) /* deleted since its password was checked */
		goto refused;
	sl_strbuf_reset(&s->user);
	sl_strbuf_adds(&s->user, name);
	*ok = true;
	goto out;
refused:
	PQclear(r);
	r = NULL;
	rc = sl_db_q(db, SL_Q_SESSIONS_LOGIN_FAILED, 2, failed, &r, err);
out:
	if (!*ok) {
		memset(s->secret, 0, sizeof(s->secret));
		memset(s->csrf, 0, sizeof(s->csrf));
	}
	PQclear(r);
	return rc;
}

int sl_session_check(struct sl_db *db, const char *secret, size_t len, bool *ok,
                     struct sl_session *s, struct sl_strbuf *err)
{
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1], idle[16];
	const char *params[] = {hex, idle};
	PGresult *r = NULL;
	bool shaped;
	int rc;

	*ok = false;
	snprintf(idle, sizeof(idle), "%d", SL_SESSION_IDLE);
	if ((rc = secret_hex(secret, len, hex, &shaped, err)) || !shaped)
		return rc;
	if ((rc = sl_db_q(db, SL_Q_SESSIONS_CHECK, 2, params, &r, err)))
		goto out;
	if (PQntuples(r) == 0 || !sl_role_parse(PQgetvalue(r, 0, 1), &s->role) ||
	    strlen(PQgetvalue(r, 0, 2)) != SL_CSRF_LEN)
		goto out;
	sl_strbuf_reset(&s->user);
	sl_strbuf_adds(&s->user, PQgetvalue(r, 0, 0));
	memcpy(s->csrf, PQgetvalue(r, 0, 2), SL_CSRF_LEN + 1);
	*ok = true;
out:
	PQclear(r);
	return rc;
}

int sl_session_delete(struct sl_db *db, const char *secret, size_t len, const char *from,
                      bool *found, struct sl_strbuf *err)
{
	char hex[2 * SL_CREDENTIAL_HASH_LEN + 1];
	const char *params[] = {hex, from};
	PGresult *r = NULL;
	bool shaped;
	int rc;

	*found = false;
	if ((rc = secret_hex(secret, len, hex, &shaped, err)) || !shaped)
		return rc;
	if (!(rc = sl_db_q(db, SL_Q_SESSIONS_DELETE, 2, params, &r, err)))
		*found = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}
