-- 0014_web_role: the PostgreSQL role sluice-web's privileges belong to
-- (docs/web.md, "Its own database role"; docs/security.md). A login role
-- made a member of it (CREATE ROLE web LOGIN IN ROLE sluice_web) can read
-- what the pages show and make the changes the API makes, and nothing
-- else: it cannot store a DAG version (the commands workers run), touch
-- worker credentials, take the scheduler's lease, record attempts or
-- logs, or change the schema. A sluice-web whose database password leaks,
-- or that is taken over, is held to what an admin of the API could do.
--
-- Roles belong to the cluster, not the database: the role is made when
-- missing (the migration then needs CREATEROLE, or a superuser to have
-- made it: docs/database.md) and shared by every sluice database of the
-- cluster.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sluice_web') THEN
		CREATE ROLE sluice_web NOLOGIN;
	END IF;
END
$$;

-- What the pages and the API read.
GRANT SELECT ON dags, dag_versions, load_errors, runs, task_instances, attempts, log_chunks,
	pools, workers, users, api_tokens, audit_log, scheduler_lease, source_state,
	schema_migrations
	TO sluice_web;
-- trigger (a run and its task instances), cancel, clear, mark.
GRANT INSERT, UPDATE ON runs, task_instances TO sluice_web;
GRANT UPDATE ON attempts TO sluice_web;
-- pause and unpause.
GRANT UPDATE (paused, updated_at) ON dags TO sluice_web;
-- pools set and delete.
GRANT INSERT, UPDATE, DELETE ON pools TO sluice_web;
-- accounts and tokens (admins), a token's last use, and every change's audit row.
GRANT INSERT, UPDATE, DELETE ON users TO sluice_web;
GRANT INSERT, UPDATE ON api_tokens TO sluice_web;
GRANT INSERT ON audit_log TO sluice_web;
GRANT USAGE ON SEQUENCE runs_run_pk_seq, task_instances_ti_id_seq, api_tokens_token_id_seq,
	audit_log_audit_id_seq
	TO sluice_web;
