-- DAGs as the CLI shows and changes them (`dags show|list|next|pause|
-- unpause|errors`). Times are whole seconds since the epoch.

-- name: dags_definition
-- The latest version of DAG $1 that loaded; no row for an unknown DAG.
SELECT v.definition::text
  FROM dags d
  LEFT JOIN dag_versions v ON v.version_id = d.latest_version_id
 WHERE d.dag_id = $1

-- name: dags_list
-- One row per DAG ($1 a DAG id, or NULL for all): what `dags list` shows
-- and `dags next` computes from. Only the version's schedule columns are
-- read, not its whole (possibly large) definition. The last run is the
-- latest by logical date (runs_dag_logical_date_idx); "error" means load
-- errors for the DAG at the current commit. Then the version's tags (a
-- JSON array) and owner, and the latest 10 runs, oldest first, as a JSON
-- array of [run_id, state, logical date in seconds].
SELECT d.dag_id, d.paused, d.removed_at IS NOT NULL, d.latest_version_id IS NOT NULL,
       v.commit, v.schedule, v.timezone,
       floor(extract(epoch FROM v.start_date))::bigint,
       floor(extract(epoch FROM v.end_date))::bigint,
       v.catchup,
       floor(extract(epoch FROM d.first_seen_at))::bigint,
       (SELECT floor(extract(epoch FROM r.data_interval_end))::bigint
          FROM runs r
         WHERE r.dag_id = d.dag_id AND r.run_type = 'scheduled'
         ORDER BY r.logical_date DESC
         LIMIT 1),
       lr.state, lr.run_id, floor(extract(epoch FROM lr.logical_date))::bigint,
       EXISTS (SELECT 1
                 FROM load_errors e
                 JOIN source_state s ON s.commit = e.commit
                WHERE e.dag_id = d.dag_id),
       floor(extract(epoch FROM now()))::bigint,
       array_to_json(v.tags)::text, v.owner,
       (SELECT json_agg(json_build_array(r.run_id, r.state,
                                         floor(extract(epoch FROM r.logical_date))::bigint)
                        ORDER BY r.logical_date, r.run_pk)::text
          FROM (SELECT r.run_id, r.state, r.logical_date, r.run_pk
                  FROM runs r
                 WHERE r.dag_id = d.dag_id
                 ORDER BY r.logical_date DESC, r.run_pk DESC
                 LIMIT 10) r)
  FROM dags d
  LEFT JOIN dag_versions v ON v.version_id = d.latest_version_id
  LEFT JOIN LATERAL (SELECT r.state, r.run_id, r.logical_date
                       FROM runs r
                      WHERE r.dag_id = d.dag_id
                      ORDER BY r.logical_date DESC, r.run_pk DESC
                      LIMIT 1) lr ON true
 WHERE $1::text IS NULL OR d.dag_id = $1
 ORDER BY d.dag_id

-- name: dags_set_paused
-- Set DAG $1's paused flag to $2 and send the notification $3; no row for
-- an unknown DAG. The row lock in the first subquery makes `was` the value
-- this update replaced.
WITH old AS (SELECT dag_id, paused FROM dags WHERE dag_id = $1 FOR UPDATE),
upd AS (
    UPDATE dags d
       SET paused = $2::boolean,
           updated_at = CASE WHEN old.paused = $2::boolean THEN d.updated_at ELSE now() END
      FROM old
     WHERE d.dag_id = old.dag_id
 RETURNING old.paused AS was)
SELECT was, pg_notify('sluice', $3) FROM upd

-- name: dags_errors
-- The load errors at the current commit (load_errors_commit_idx).
SELECT e.path, e.line, e.col, e.message, e.dag_id
  FROM load_errors e
  JOIN source_state s ON s.commit = e.commit
 ORDER BY e.path, e.line, e.col, e.error_id

-- name: dags_versions
-- GET /api/v1/dags/{dag}: the newest $2 versions of DAG $1, newest first
-- (dag_versions_dag_version_key): commit, file, when stored (seconds),
-- whether its text is stored (migration 0015), whether it is the latest.
SELECT v.commit, v.path, floor(extract(epoch FROM v.created_at))::bigint,
       v.source IS NOT NULL, v.version_id = d.latest_version_id
  FROM dag_versions v
  JOIN dags d ON d.dag_id = v.dag_id
 WHERE v.dag_id = $1
 ORDER BY v.version_id DESC
 LIMIT $2

-- name: dags_dag_errors
-- The load errors of DAG $1 at the current commit, as dags_errors: those
-- that name it, and those of the file of its latest version that name no
-- DAG (the `dag:` key itself failed), as runs_pin finds them.
SELECT e.path, e.line, e.col, e.message, e.dag_id
  FROM load_errors e
  JOIN source_state s ON s.commit = e.commit
 WHERE e.dag_id = $1
    OR (e.dag_id IS NULL
        AND e.path = (SELECT v.path
                        FROM dags d
                        JOIN dag_versions v ON v.version_id = d.latest_version_id
                       WHERE d.dag_id = $1))
 ORDER BY e.path, e.line, e.col, e.error_id

-- name: dags_source
-- The version of DAG $1 at commit $2, a full or abbreviated id in
-- lowercase hex: the version stored at that commit, or the one that the
-- runs at that commit pin (a push that changes only scripts moves a run's
-- commit, not its version). Its commit, path and text (NULL before
-- migration 0015). Two rows mean the abbreviation is ambiguous.
SELECT v.commit, v.path, v.source
  FROM dag_versions v
 WHERE v.dag_id = $1
   AND (starts_with(v.commit, $2)
        OR v.version_id IN (SELECT r.version_id
                              FROM runs r
                             WHERE r.dag_id = $1 AND starts_with(r.commit, $2)))
 ORDER BY v.version_id DESC
 LIMIT 2
