-- The database layer's own statements: the lease fence checked before each
-- COMMIT (lib/db/db.c check_fence) and the migrator's bookkeeping.

-- name: db_fence
-- A transaction that wrote nothing (no transaction id assigned) has nothing
-- to fence and must not become a durable commit for the check's sake (a row
-- lock is a write). One that wrote locks the lease row FOR SHARE: a
-- scheduler taking the lease over updates this row, so it waits until this
-- commit is done. clock_timestamp(): the transaction may have run a while.
SELECT pg_current_xact_id_if_assigned() IS NULL
    OR EXISTS (SELECT 1
                 FROM scheduler_lease
                WHERE holder = $1 AND epoch = $2::bigint
                  AND expires_at > clock_timestamp()
                  FOR SHARE)

-- name: db_has_migrations
-- to_regclass follows search_path, as the migrations' CREATE TABLEs do.
SELECT to_regclass('schema_migrations') IS NOT NULL

-- name: db_migrations_applied
SELECT version, name,
       to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
  FROM schema_migrations
 ORDER BY version

-- name: db_migrations_version
SELECT coalesce(max(version), 0) FROM schema_migrations

-- name: db_migration_record
INSERT INTO schema_migrations (version, name) VALUES ($1, $2)

-- name: db_migrate_lock
SELECT pg_advisory_lock($1::bigint)

-- name: db_migrate_xact_lock
SELECT pg_advisory_xact_lock($1::bigint)

-- name: db_migrate_unlock
SELECT pg_advisory_unlock($1::bigint)

-- name: db_ping
-- The database answers: sluice-web's /health (docs/web.md).
SELECT 1
