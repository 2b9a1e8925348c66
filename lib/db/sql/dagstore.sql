-- A refresh: the DAG versions, load errors and source state of one commit
-- of the DAG repository, in one transaction (lib/engine/dagstore.c,
-- docs/dag-source.md).

-- name: dagstore_lock
-- Two refreshes (the CLI's and the scheduler's) of one database take
-- turns; each then reads what the other committed.
SELECT pg_advisory_xact_lock($1::bigint)

-- name: dagstore_current
-- Every DAG, with the path and blob of its latest version.
SELECT d.dag_id, v.path, v.blob_id, d.removed_at IS NOT NULL
  FROM dags d
  LEFT JOIN dag_versions v ON v.version_id = d.latest_version_id

-- name: dagstore_clear_errors
DELETE FROM load_errors WHERE commit = $1

-- name: dagstore_new_dag
INSERT INTO dags (dag_id, paused) VALUES ($1, $2) ON CONFLICT (dag_id) DO NOTHING

-- name: dagstore_version
-- A commit synced before (the branch moved back) already has this DAG's
-- version: reuse it rather than violate dag_versions_dag_commit_key.
-- Returns the version id and whether it is new. $6-$12 are the columns SQL
-- reads instead of the definition's keys (migration 0007), from the parsed
-- DAG; $13 is the file's text (migration 0015); $14 and $15 its tags (an
-- array literal) and owner (0019).
WITH ins AS (
    INSERT INTO dag_versions (dag_id, commit, blob_id, path, definition, schedule, timezone,
                              start_date, end_date, catchup, max_active_runs, max_active_tasks,
                              source, tags, owner)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::timestamptz, $9::timestamptz,
            $10::boolean, $11::integer, $12::integer, $13, $14::text[], $15)
        ON CONFLICT (dag_id, commit) DO NOTHING
 RETURNING version_id)
SELECT version_id, true FROM ins
 UNION ALL
SELECT version_id, false
  FROM dag_versions
 WHERE dag_id = $1 AND commit = $2 AND NOT EXISTS (SELECT 1 FROM ins)

-- name: dagstore_set_latest
-- A new version may bring a new schedule: forget the cached next run so the
-- scheduler works it out again from the new definition.
UPDATE dags
   SET latest_version_id = $2, run_commit = $3, removed_at = NULL,
       next_run_after = CASE WHEN latest_version_id IS DISTINCT FROM $2::bigint
                             THEN NULL ELSE next_run_after END,
       updated_at = now()
 WHERE dag_id = $1

-- name: dagstore_unchanged
-- Unchanged files: their DAGs ($2) now run at this commit ($1).
UPDATE dags
   SET run_commit = $1, removed_at = NULL, updated_at = now()
 WHERE dag_id = ANY ($2::text[])
   AND (run_commit IS DISTINCT FROM $1 OR removed_at IS NOT NULL)

-- name: dagstore_broken
-- Broken files of known DAGs: present (not removed), last good commit kept.
-- run_commit is NULL only for rows older than migration 0002's backfill.
UPDATE dags
   SET removed_at = NULL, updated_at = now(),
       run_commit = coalesce(run_commit, (SELECT v.commit
                                            FROM dag_versions v
                                           WHERE v.version_id = dags.latest_version_id))
 WHERE dag_id = ANY ($1::text[]) AND (removed_at IS NOT NULL OR run_commit IS NULL)

-- name: dagstore_removed
-- Every DAG whose file is gone: not one of $1, the DAGs present.
UPDATE dags
   SET removed_at = now(), updated_at = now()
 WHERE removed_at IS NULL AND dag_id <> ALL ($1::text[])

-- name: dagstore_error
INSERT INTO load_errors (commit, path, dag_id, line, col, message)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: dagstore_previous
-- The commit the last sync of this same source stored, if any: a sync of
-- that commit again that changes no DAG is not news (no NOTIFY).
SELECT commit FROM source_state
 WHERE repo = $1 AND branch IS NOT DISTINCT FROM $2 AND path = $3

-- name: dagstore_source_state
INSERT INTO source_state (repo, branch, path, commit)
VALUES ($1, $2, $3, $4)
    ON CONFLICT (singleton) DO UPDATE
   SET repo = excluded.repo, branch = excluded.branch, path = excluded.path,
       commit = excluded.commit, refreshed_at = now()

-- name: dagstore_notify
-- Delivered at COMMIT, and only if it commits.
SELECT pg_notify('sluice', 'refresh')
