-- 0018_web_worker_state: sluice-web may read whether a worker has a
-- credential of its own and whether it is revoked (GET /api/v1/workers and
-- the UI's workers page show it, as `sluice workers list` does), but not
-- the credential's hash: a column grant, so that the web's role never
-- reads what a worker signs in with (docs/security.md, "The web UI's
-- pages").
GRANT SELECT (worker_id, revoked_at) ON worker_credentials TO sluice_web;
