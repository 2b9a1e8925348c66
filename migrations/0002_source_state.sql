-- 0002_source_state: the commit the DAGs were last synced from, and the
-- commit new runs of each DAG pin (docs/dag-source.md).

-- What the last refresh read (`sluice dags refresh`, the scheduler's
-- poll): at most one row, replaced by each sync in the same transaction as
-- the versions and load errors of that commit.
CREATE TABLE source_state (
	singleton    boolean     PRIMARY KEY DEFAULT true
		CONSTRAINT source_state_singleton_check CHECK (singleton),
	repo         text        NOT NULL CHECK (repo <> ''),
	-- The branch resolved (NULL when it was not recorded).
	branch       text,
	-- The folder in the repository; '' is the root.
	path         text        NOT NULL,
	commit       sl_oid      NOT NULL,
	refreshed_at timestamptz NOT NULL DEFAULT now()
);

-- The commit new runs of a DAG pin: the current commit when the DAG's file
-- there is its latest version (new or unchanged), else (the file is broken
-- at the current commit) the last commit at which it loaded. A run's tasks
-- run in a checkout of it, with the definition of latest_version_id.
ALTER TABLE dags ADD COLUMN run_commit sl_oid;

-- Rows from before this migration: the commit of their latest version.
UPDATE dags SET run_commit = v.commit
	FROM dag_versions v
	WHERE v.version_id = dags.latest_version_id;
