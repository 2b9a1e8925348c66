-- Workers' own credentials (docs/security.md, "One identity per worker"):
-- `sluice workers add | revoke` and the scheduler's check at HELLO. Only the
-- SHA-256 of a secret is stored; hashes travel as hex text. Every change
-- wakes the scheduler with NOTIFY sluice 'credential NAME', which makes it
-- check its connections again (scheduler/notify.c).

-- name: credentials_add
-- Give worker $1 the secret of hash $2 (hex), unless it has an active one
-- and $3 (rotate) is false: then no row comes back. A revoked credential is
-- replaced without --rotate.
WITH up AS (
    INSERT INTO worker_credentials AS c (worker_id, sha256)
    VALUES ($1::text, decode($2::text, 'hex'))
        ON CONFLICT (worker_id) DO UPDATE
       SET sha256 = EXCLUDED.sha256, created_at = now(), revoked_at = NULL,
           rotations = c.rotations + 1
     WHERE c.revoked_at IS NOT NULL OR $3::boolean
    RETURNING c.rotations)
SELECT rotations, pg_notify('sluice', 'credential ' || $1::text) FROM up

-- name: credentials_revoke
-- Refuse worker $1 from now on: its hash is dropped. A name known only as a
-- worker (it connects with the shared token) gets a revoked row too. No row
-- comes back when the name is neither a worker nor has a credential. A
-- second revoke keeps the first one's time.
WITH known AS (
    SELECT $1::text AS worker_id
     WHERE EXISTS (SELECT 1 FROM workers WHERE worker_id = $1::text)
        OR EXISTS (SELECT 1 FROM worker_credentials WHERE worker_id = $1::text)),
up AS (
    INSERT INTO worker_credentials AS c (worker_id, sha256, revoked_at)
    SELECT worker_id, NULL, now() FROM known
        ON CONFLICT (worker_id) DO UPDATE
       SET sha256 = NULL, revoked_at = coalesce(c.revoked_at, now())
    RETURNING c.worker_id)
SELECT worker_id, pg_notify('sluice', 'credential ' || worker_id) FROM up

-- name: credentials_of
-- The credentials of the workers $1 (a name without a row has none): the
-- scheduler's check of a HELLO, and of its connections after a change.
SELECT worker_id, encode(sha256, 'hex'), revoked_at IS NOT NULL
  FROM worker_credentials
 WHERE worker_id = ANY($1::text[])
