-- The web UI's sign-in sessions (sluice/sessions.h; docs/web.md, "Signing
-- in"). A session is named by the hex of the SHA-256 of its cookie's
-- secret, computed by sluice-web: the secret never reaches the server.
-- Sign-in and sign-out write their audit row in the same statement.

-- name: sessions_create
-- A new session of hash $1 for user $2 with CSRF token $3, ending $4
-- seconds from now at the latest; audited as a login from $5. Sessions
-- that have ended ($4's lifetime, or idle for $6 seconds) are deleted on
-- the way, so that the table holds only live ones and whoever signs in
-- next. No row comes back when the user has just been deleted.
WITH purge AS (
    DELETE FROM web_sessions
     WHERE expires_at <= now() OR last_seen_at <= now() - $6::bigint * interval '1 second'),
up AS (
    INSERT INTO web_sessions (sha256, user_name, csrf_token, expires_at)
    SELECT decode($1::text, 'hex'), name, $3::text, now() + $4::bigint * interval '1 second'
      FROM users WHERE name = $2::text
    RETURNING user_name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT user_name, 'web', 'login', 'from ' || $5::text FROM up)
SELECT user_name FROM up

-- name: sessions_login_failed
-- A refused sign-in as $1 (the name typed, when it is a valid one), from $2.
INSERT INTO audit_log (actor, via, action, target)
VALUES ($1::text, 'web', 'login failed', 'from ' || $2::text)

-- name: sessions_login_throttle
-- The sign-ins refused in the last $3 seconds as $1 and from $2 (counts),
-- and in how many seconds the oldest of each falls out of that window.
-- audit_log_login_failed_idx keeps this to the recent refusals.
SELECT count(*) FILTER (WHERE actor = $1::text),
       count(*) FILTER (WHERE target = 'from ' || $2::text),
       ceil(extract(epoch FROM min(at) FILTER (WHERE actor = $1::text)
                               + $3::bigint * interval '1 second' - now()))::bigint,
       ceil(extract(epoch FROM min(at) FILTER (WHERE target = 'from ' || $2::text)
                               + $3::bigint * interval '1 second' - now()))::bigint
  FROM audit_log
 WHERE action = 'login failed' AND at > now() - $3::bigint * interval '1 second'

-- name: sessions_login_throttled
-- A sign-in as $1 from $2 refused unchecked (sessions_login_throttle). Not
-- counted as a failure: the lock ends SL_LOGIN_WINDOW after the failures.
INSERT INTO audit_log (actor, via, action, target)
VALUES ($1::text, 'web', 'login throttled', 'from ' || $2::text)

-- name: sessions_check
-- The live session of hash $1 (not past expires_at, not idle for $2
-- seconds): its user, the user's role and its CSRF token. No row for an
-- unknown or ended session. last_seen_at is set in the same statement, at
-- most once a minute, as accounts_token_check does for tokens.
WITH s AS (
    SELECT sha256, user_name, csrf_token, last_seen_at
      FROM web_sessions
     WHERE sha256 = decode($1::text, 'hex') AND expires_at > now()
       AND last_seen_at > now() - $2::bigint * interval '1 second'),
touch AS (
    UPDATE web_sessions w SET last_seen_at = now()
      FROM s
     WHERE w.sha256 = s.sha256 AND s.last_seen_at < now() - interval '1 minute')
SELECT s.user_name, u.role, s.csrf_token
  FROM s JOIN users u ON u.name = s.user_name

-- name: sessions_delete
-- Sign-out: delete the session of hash $1, audited as a logout from $2. No
-- row comes back when there was no such session.
WITH del AS (
    DELETE FROM web_sessions WHERE sha256 = decode($1::text, 'hex') RETURNING user_name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT user_name, 'web', 'logout', 'from ' || $2::text FROM del)
SELECT user_name FROM del
