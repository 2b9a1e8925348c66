-- 0007_dag_version_columns: what SQL reads of a DAG version is a typed
-- column, not a key of its JSON definition.
--
-- The scheduler's loop (which DAGs are due, up to max_active_runs; which
-- tasks may be claimed, up to max_active_tasks) and `dags list` used to
-- read these keys out of `definition`, a contract written nowhere and
-- checked by nothing. Now the writer (lib/engine/dagstore.c) sets them
-- from the parsed DAG, and the database holds them to their types and
-- ranges:
--   SELECT ... FROM dags d JOIN dag_versions v ON v.version_id = d.latest_version_id
--     WHERE v.schedule IS NOT NULL AND <live runs> < v.max_active_runs
--
-- The tasks' order and retries (`runs show`, `runs clear`) stay in the
-- JSON, read as `definition->'tasks'`, elements `task` and `retries`:
-- that list is the definition itself, which every reader of a version
-- parses anyway; a table of it would copy every task of every version for
-- two CLI statements outside the scheduler's loop. That contract is
-- written down in include/sluice/dag_json.h and docs/database.md.
ALTER TABLE dag_versions
	-- The schedule as written: a cron expression, a preset or '@once';
	-- NULL for a DAG that runs only when triggered.
	ADD COLUMN schedule         text
		CONSTRAINT dag_versions_schedule_check CHECK (schedule <> ''),
	ADD COLUMN timezone         text
		CONSTRAINT dag_versions_timezone_check CHECK (timezone <> ''),
	-- NULL: the DAG's schedule starts when it was first seen.
	ADD COLUMN start_date       timestamptz,
	ADD COLUMN end_date         timestamptz,
	ADD COLUMN catchup          boolean,
	ADD COLUMN max_active_runs  integer
		CONSTRAINT dag_versions_max_active_runs_check CHECK (max_active_runs >= 1),
	ADD COLUMN max_active_tasks integer
		CONSTRAINT dag_versions_max_active_tasks_check CHECK (max_active_tasks >= 1),
	ADD CONSTRAINT dag_versions_dates_check CHECK (start_date <= end_date);

-- Versions from before this migration: every sluice so far wrote all these
-- keys (sl_dag_to_json), instants as ISO 8601 in UTC.
UPDATE dag_versions SET
	schedule = definition->>'schedule',
	timezone = definition->>'timezone',
	start_date = (definition->>'start_date')::timestamptz,
	end_date = (definition->>'end_date')::timestamptz,
	catchup = (definition->'catchup')::boolean,
	max_active_runs = (definition->>'max_active_runs')::integer,
	max_active_tasks = (definition->>'max_active_tasks')::integer;

ALTER TABLE dag_versions
	ALTER COLUMN timezone SET NOT NULL,
	ALTER COLUMN catchup SET NOT NULL,
	ALTER COLUMN max_active_runs SET NOT NULL,
	ALTER COLUMN max_active_tasks SET NOT NULL;
