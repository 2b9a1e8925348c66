-- 0016_web_sessions: the web UI's sign-in sessions (docs/web.md, "Signing
-- in"; docs/security.md, "UI sessions and CSRF").
--
-- A session is found by the SHA-256 of the random secret its browser holds
-- in the sluice_session cookie: the secret itself is never stored, so that
-- a copy of the database signs nobody in. The CSRF token is not a
-- credential (the page reads it over the session, and a request must carry
-- both), so it is kept as it is. A session ends at expires_at (an absolute
-- lifetime set at sign-in) or once it has been idle too long (last_seen_at,
-- refreshed at most once a minute), whichever comes first; deleting a user
-- deletes its sessions.
CREATE TABLE web_sessions (
	sha256       bytea       PRIMARY KEY
		CONSTRAINT web_sessions_hash_check CHECK (octet_length(sha256) = 32),
	user_name    sl_id       NOT NULL REFERENCES users ON DELETE CASCADE,
	csrf_token   text        NOT NULL
		CONSTRAINT web_sessions_csrf_check CHECK (length(csrf_token) >= 32),
	created_at   timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL
);

CREATE INDEX web_sessions_user_idx ON web_sessions (user_name);

-- sluice-web signs users in and out (0014's role).
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO sluice_web;
