-- The statements of lib/engine/schedule_runs.c.

-- name: engine_schedule_runs_due_dags
-- DAGs due for a scheduled run, with the start date fallback (first seen),
-- the latest scheduled interval end, and whether a scheduled run exists.
-- DAGs already at max_active_runs are left out here, so they cost nothing
-- until a run finishes. Locked, so two schedulers take different DAGs.
SELECT d.dag_id, floor(extract(epoch FROM d.first_seen_at))::bigint,
(SELECT floor(extract(epoch FROM max(r.data_interval_end)))::bigint FROM runs r
    WHERE r.dag_id = d.dag_id AND r.run_type = 'scheduled'),
(SELECT count(*) FROM runs r WHERE r.dag_id = d.dag_id
    AND r.state IN ('queued', 'running'))
FROM dags d JOIN dag_versions v ON v.version_id = d.latest_version_id
WHERE NOT d.paused AND d.removed_at IS NULL
AND (d.next_run_after IS NULL OR d.next_run_after <= $1::timestamptz)
AND v.schedule IS NOT NULL
AND (SELECT count(*) FROM runs r WHERE r.dag_id = d.dag_id
    AND r.state IN ('queued', 'running')) < v.max_active_runs
ORDER BY d.next_run_after NULLS FIRST, d.dag_id LIMIT $2
FOR UPDATE OF d SKIP LOCKED

-- name: engine_schedule_runs_set_next
UPDATE dags d SET next_run_after = u.next, updated_at = now()
FROM unnest($1::text[], $2::timestamptz[]) AS u(dag_id, next)
WHERE d.dag_id = u.dag_id
