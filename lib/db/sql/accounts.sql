-- Accounts for the web UI and the HTTP API, their bearer tokens and the
-- audit log (docs/security.md, "Accounts, tokens and the audit log"). A
-- password arrives here already hashed with argon2id, a token as the hex
-- of its SHA-256: neither ever reaches the server in clear. Each change
-- writes its audit row in the same statement, so that there is never one
-- without the other. $1 and $2 of a change are always who did it and how
-- (cli or web).

-- name: accounts_user_add
-- Create user $3 with role $4 and password hash $5. No row comes back when
-- the name is taken.
WITH up AS (
    INSERT INTO users (name, role, password_hash)
    VALUES ($3::text, $4::text, $5::text)
        ON CONFLICT (name) DO NOTHING
    RETURNING name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, 'users add', name || ' role=' || $4::text FROM up)
SELECT name FROM up

-- name: accounts_user_put
-- Create user $3 with role $4 and password hash $5, or give the existing
-- one that role and password (`sluice standalone`'s admin, new at each
-- start). Its tokens stay; its web sessions end with the old password.
WITH up AS (
    INSERT INTO users (name, role, password_hash)
    VALUES ($3::text, $4::text, $5::text)
        ON CONFLICT (name) DO UPDATE
        SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash
    RETURNING name, xmax = 0 AS created),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, CASE WHEN created THEN 'users add' ELSE 'users password' END,
           name || ' role=' || $4::text
    FROM up),
ended AS (
    DELETE FROM web_sessions s USING up WHERE s.user_name = up.name AND NOT up.created)
SELECT name FROM up

-- name: accounts_user_set_password
-- Give user $3 the password hash $4, and end its web sessions: whoever
-- signed in with the old password is signed out. No row comes back when
-- there is no such user.
WITH up AS (
    UPDATE users SET password_hash = $4::text WHERE name = $3::text RETURNING name),
ended AS (
    DELETE FROM web_sessions s USING up WHERE s.user_name = up.name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, 'users password', name FROM up)
SELECT name FROM up

-- name: accounts_user_delete
-- Delete user $3 and (by the foreign key) its tokens. No row comes back
-- when there is no such user.
WITH del AS (
    DELETE FROM users WHERE name = $3::text RETURNING name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, 'users delete', name FROM del)
SELECT name FROM del

-- name: accounts_user_password
-- The password hash and role of user $1, for a login to check.
SELECT password_hash, role FROM users WHERE name = $1::text

-- name: accounts_users_list
-- Every user, by name: name, role, created (seconds), active tokens.
SELECT u.name, u.role, extract(epoch FROM u.created_at)::bigint,
       (SELECT count(*) FROM api_tokens t
         WHERE t.user_name = u.name AND t.revoked_at IS NULL)
  FROM users u
 ORDER BY u.name

-- name: accounts_token_create
-- A new token of hash $4 (hex) for user $3; its id comes back, no row when
-- there is no such user.
WITH up AS (
    INSERT INTO api_tokens (user_name, sha256)
    SELECT name, decode($4::text, 'hex') FROM users WHERE name = $3::text
    RETURNING token_id, user_name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, 'tokens create', token_id::text || ' user=' || user_name FROM up)
SELECT token_id FROM up

-- name: accounts_token_revoke
-- Revoke token $3. No row comes back when there is no such token; a second
-- revoke keeps the first one's time (and is audited too: it was asked).
WITH up AS (
    UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
     WHERE token_id = $3::bigint
    RETURNING token_id, user_name),
audit AS (
    INSERT INTO audit_log (actor, via, action, target)
    SELECT $1::text, $2::text, 'tokens revoke', token_id::text || ' user=' || user_name FROM up)
SELECT token_id FROM up

-- name: accounts_tokens_list
-- Every token, never its hash: id, user, created, revoked and last used
-- (seconds, NULL when not).
SELECT token_id, user_name, extract(epoch FROM created_at)::bigint,
       extract(epoch FROM revoked_at)::bigint, extract(epoch FROM last_used_at)::bigint
  FROM api_tokens
 ORDER BY token_id

-- name: accounts_audit_add
-- The audit row of a change made by another store (runs, DAGs, pools),
-- sent inside the change's own transaction so that both commit or
-- neither: who ($1), via ($2), what ($3), on what ($4).
INSERT INTO audit_log (actor, via, action, target)
VALUES ($1::text, $2::text, $3::text, $4::text)

-- name: accounts_audit_list
-- The newest $1 rows of the audit log, newest first: id, at (seconds),
-- actor, via, action, target.
SELECT audit_id, extract(epoch FROM at)::bigint, actor, via, action, target
  FROM audit_log
 ORDER BY audit_id DESC
 LIMIT $1::bigint

-- name: accounts_token_check
-- An API request's bearer token, by the hex of its SHA-256 ($1; the unique
-- index on sha256 finds it): its id, user, the user's role, and whether it
-- is revoked. No row for an unknown token. A live token's last_used_at is
-- set in the same statement, at most once a minute, so that a busy client
-- does not write a row version per request.
WITH t AS (
    SELECT token_id, user_name, revoked_at IS NOT NULL AS revoked, last_used_at
      FROM api_tokens WHERE sha256 = decode($1::text, 'hex')),
touch AS (
    UPDATE api_tokens a SET last_used_at = now()
      FROM t
     WHERE a.token_id = t.token_id AND NOT t.revoked
       AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'))
SELECT t.token_id, t.user_name, u.role, t.revoked
  FROM t JOIN users u ON u.name = t.user_name
