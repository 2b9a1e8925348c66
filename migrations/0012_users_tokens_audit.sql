-- 0012_users_tokens_audit: accounts for the web UI and the HTTP API, their
-- bearer tokens, and the audit log of who changed what (docs/security.md,
-- "Accounts, tokens and the audit log").
--
-- A password is kept only as its argon2id string (libsodium's
-- crypto_pwhash_str: algorithm, parameters, salt and hash in one text), a
-- token only as the SHA-256 of its 32 random bytes. Deleting a user
-- deletes its tokens; the audit log keeps names as text, so that it
-- outlives the accounts it speaks of.
CREATE TABLE users (
	name          sl_id       PRIMARY KEY,
	role          text        NOT NULL
		CONSTRAINT users_role_check CHECK (role IN ('viewer', 'operator', 'admin')),
	password_hash text        NOT NULL
		CONSTRAINT users_password_hash_check CHECK (password_hash LIKE '$argon2id$%'),
	created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
	token_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_name    sl_id       NOT NULL REFERENCES users ON DELETE CASCADE,
	sha256       bytea       NOT NULL UNIQUE
		CONSTRAINT api_tokens_hash_check CHECK (octet_length(sha256) = 32),
	created_at   timestamptz NOT NULL DEFAULT now(),
	revoked_at   timestamptz,
	last_used_at timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (user_name);

CREATE TABLE audit_log (
	audit_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL DEFAULT now(),
	-- The login name behind the CLI, or the account behind the web.
	actor    text        NOT NULL,
	via      text        NOT NULL CONSTRAINT audit_log_via_check CHECK (via IN ('cli', 'web')),
	-- What was done ('users add', 'tokens revoke', ...) and to what.
	action   text        NOT NULL,
	target   text        NOT NULL DEFAULT ''
);
