-- Sign-in throttling (docs/security.md, "Password guessing"): sluice-web
-- counts the recent refused sign-ins before it checks a password. Only
-- those rows, by time.
CREATE INDEX audit_log_login_failed_idx ON audit_log (at) WHERE action = 'login failed';
