#ifndef SLUICE_SESSIONS_H
#define SLUICE_SESSIONS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/sessions.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "sluice/accounts.h"
#include "sluice/credentials.h"
#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * The web UI's sign-in sessions (docs/web.md, "Signing in";
 * docs/security.md, "UI sessions and CSRF"; lib/db/sql/sessions.sql).
 *
 * Signing in with a user's password makes a session: a random secret for
 * the browser's cookie, of which the database keeps only the SHA-256 (like
 * an API token: 256 random bits need no slow hash), and a random CSRF
 * token that the page sends back with every request that changes
 * something. A session ends SL_SESSION_LIFETIME seconds after it was made,
 * or once it has not been used for SL_SESSION_IDLE seconds, or when its
 * user signs out or is deleted. Sign-in (made or refused) and sign-out
 * write an audit row; a password never reaches the database or the log.
 *
 * Errors are negative SL_E* codes with one sentence in `err`, and are the
 * database's only: a wrong password or an unknown session is `*ok` false.
 */

/** Every session secret starts so: the format's version, and a mark for secret scanners. */
#define SL_SESSION_PREFIX "sluice-ss1."
#define SL_SESSION_LEN    (sizeof(SL_SESSION_PREFIX) - 1 + SL_SECRET_B64_LEN)
/** A CSRF token: 32 random bytes in unpadded base64url. */
#define SL_CSRF_LEN SL_SECRET_B64_LEN

/** The absolute lifetime of a session (12 h) and its idle timeout (1 h), in seconds. */
#define SL_SESSION_LIFETIME (12 * 3600)
#define SL_SESSION_IDLE     3600

/**
 * Password guessing: once SL_LOGIN_USER_FAILURES sign-ins as one name, or
 * SL_LOGIN_PEER_FAILURES from one address, have failed within the last
 * SL_LOGIN_WINDOW seconds, the next are refused without checking the
 * password (which would also let a flood keep the KDF busy) until the
 * oldest of them is that old. Counted from the audit log, so that every
 * sluice-web in front of one database counts the same.
 */
#define SL_LOGIN_WINDOW        900
#define SL_LOGIN_USER_FAILURES 10
#define SL_LOGIN_PEER_FAILURES 100

struct sl_session {
	char secret[SL_SESSION_LEN + 1]; /* only from sl_session_create */
	char csrf[SL_CSRF_LEN + 1];
	struct sl_strbuf user;
	enum sl_role role;
	/* Refused as a guess (SL_LOGIN_*): seconds until a sign-in may be tried. */
	long retry_after;
};

#define SL_SESSION_INIT                                     \
	{                                                   \
		{0}, {0}, SL_STRBUF_INIT, SL_ROLE_VIEWER, 0 \
	}

void sl_session_release(struct sl_session *s);

/**
 * Sign in as `name` with `password` (`len` bytes), from `from` (the
 * client's address, for the audit row). When the password is the user's,
 * `*ok` is true and `s` holds the new session: its secret (for the cookie;
 * shown only now), CSRF token, user and role. Otherwise `*ok` is false,
 * and an unknown user costs as long as a wrong password (so that the time
 * tells nothing about which names exist). Both outcomes are audited.
 * Past the SL_LOGIN_* limits, `*ok` is false with `s->retry_after` set,
 * the password unchecked, and the refusal audited as `login throttled`.
 */
int sl_session_create(struct sl_db *db, const char *name, const char *password, size_t len,
                      const char *from, bool *ok, struct sl_session *s, struct sl_strbuf *err);

/**
 * The live session whose secret is `secret` (`len` bytes, from a cookie):
 * `*ok` true with its user, role and CSRF token in `s` (not its secret);
 * false for a malformed, unknown, expired or idle one. One statement, which
 * also marks the session used (at most once a minute).
 */
int sl_session_check(struct sl_db *db, const char *secret, size_t len, bool *ok,
                     struct sl_session *s, struct sl_strbuf *err);

/**
 * Sign out: delete the session whose secret is `secret`, audited as a
 * logout from `from`. `*found` says whether there was one.
 */
int sl_session_delete(struct sl_db *db, const char *secret, size_t len, const char *from,
                      bool *found, struct sl_strbuf *err);

#endif
