-- 0009_worker_credentials: a credential of its own for each worker, made by
-- `sluice workers add NAME` (docs/security.md, "One identity per worker").
--
-- Only the SHA-256 of the secret is kept: the secret is 32 random bytes,
-- so a hash cannot be reversed by guessing and a slow password KDF would
-- only cost time at every HELLO. The scheduler hashes what a HELLO
-- presents and compares in constant time.
--
-- A row with revoked_at set refuses the name until a new `workers add`
-- (its hash is cleared: a revoked secret is kept nowhere). A name with no
-- row at all may still connect with the shared token, when the scheduler
-- has one. No foreign key to workers: a credential is made before its
-- worker first connects, and a revoked row may name a worker whose row is
-- deleted.
CREATE TABLE worker_credentials (
	worker_id   sl_id       PRIMARY KEY,
	sha256 bytea
		CONSTRAINT worker_credentials_hash_check CHECK (octet_length(sha256) = 32),
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz,
	-- How many times the secret was replaced (--rotate, or add after revoke).
	rotations   integer     NOT NULL DEFAULT 0 CHECK (rotations >= 0),
	CONSTRAINT worker_credentials_state_check
		CHECK ((sha256 IS NULL) = (revoked_at IS NOT NULL))
);
