-- The statements of lib/engine/advance.c.

-- name: engine_advance_live_runs
-- Live runs with something to decide: a pending task, a retry or poke that
-- is due, nothing left unfinished, or a queued run with work started. A
-- paused DAG's running runs go on to their end, as `dags pause` promises;
-- its queued runs (triggered while paused, or cleared) wait for unpause.
SELECT r.run_pk, r.version_id, r.state FROM runs r JOIN dags d ON d.dag_id = r.dag_id
WHERE r.state IN ('queued', 'running') AND (NOT d.paused OR r.state = 'running') AND (
    EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk AND ti.kind = 'task'
        AND (ti.state = 'pending' OR (ti.state IN ('up_for_retry', 'up_for_reschedule')
        AND ti.next_retry_at <= $1::timestamptz)))
    OR NOT EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk
        AND ti.kind = 'task' AND ti.state IN ('pending', 'scheduled', 'queued', 'running',
        'up_for_retry', 'up_for_reschedule'))
    OR EXISTS (SELECT 1 FROM task_instances ti WHERE ti.run_pk = r.run_pk
        AND ti.state = 'scheduled' AND ti.pool IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.name = ti.pool))
    OR (r.state = 'queued' AND EXISTS (SELECT 1 FROM task_instances ti
        WHERE ti.run_pk = r.run_pk AND ti.kind = 'task' AND ti.state <> 'pending')))
ORDER BY r.logical_date, r.run_pk LIMIT $2

-- name: engine_advance_lock_runs
-- The runs that the unlocked first pass would change, locked: a pass that
-- changes nothing (a run waiting on its running tasks) then writes nothing,
-- not even row locks, and its COMMIT flushes no WAL.
SELECT r.run_pk, r.version_id, r.state FROM runs r JOIN dags d ON d.dag_id = r.dag_id
WHERE r.run_pk = ANY($1::bigint[]) AND r.state IN ('queued', 'running')
AND (NOT d.paused OR r.state = 'running')
ORDER BY r.logical_date, r.run_pk FOR UPDATE OF r SKIP LOCKED

-- name: engine_advance_run_tis
-- The task instances of the runs $1, whether each retry or poke is due at
-- $2, whether its pool is missing, and the branch a successful branch task
-- chose (its output $3, SL_BRANCH_OUTPUT).
SELECT run_pk, ti_id, task_id, state,
COALESCE(next_retry_at <= $2::timestamptz, false),
pool IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pools p WHERE p.name = pool),
CASE WHEN state = 'success' THEN (SELECT a.outputs->>$3
    FROM attempts a WHERE a.ti_id = task_instances.ti_id AND a.outcome = 'success'
    ORDER BY a.try_number DESC, a.poke_number DESC LIMIT 1) END
FROM task_instances WHERE run_pk = ANY($1::bigint[]) AND kind = 'task'
ORDER BY run_pk, ti_id

-- name: engine_advance_past
-- The state of the same task in the run before (by logical date).
SELECT u.run_pk, u.task_id, p.state
FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, task_id)
JOIN runs r ON r.run_pk = u.run_pk
CROSS JOIN LATERAL (SELECT r2.run_pk FROM runs r2 WHERE r2.dag_id = r.dag_id
    AND (r2.logical_date, r2.run_pk) < (r.logical_date, r.run_pk)
    ORDER BY r2.logical_date DESC, r2.run_pk DESC LIMIT 1) AS prev
JOIN task_instances p ON p.run_pk = prev.run_pk AND p.kind = 'task'
AND p.task_id = u.task_id

-- name: engine_advance_update_tis
UPDATE task_instances ti SET state = u.state, next_retry_at = NULL,
ended_at = CASE WHEN u.state IN ('skipped', 'upstream_failed', 'failed')
    THEN GREATEST($4::timestamptz, ti.started_at) ELSE ti.ended_at END,
reason = u.reason, updated_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $5::text[])
AS u(ti_id, state, old, reason)
WHERE ti.ti_id = u.ti_id AND ti.state = u.old

-- name: engine_advance_update_runs
UPDATE runs r SET state = u.state, started_at = COALESCE(r.started_at, $3::timestamptz),
ended_at = CASE WHEN u.state IN ('success', 'failed')
    THEN GREATEST($3::timestamptz, r.started_at) END,
updated_at = now()
FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, state)
WHERE r.run_pk = u.run_pk

-- name: engine_advance_insert_callbacks
-- The callbacks of runs that just finished. A run finishes again only after
-- a `tasks clear`, which has ended its callbacks: the row is reused, with
-- one more try, so its earlier attempts and logs stay.
INSERT INTO task_instances AS ti (run_pk, kind, task_id, state, max_tries, priority,
pool, queue)
SELECT u.run_pk, 'callback', u.task_id, 'scheduled', 1, 0, NULL, 'default'
FROM unnest($1::bigint[], $2::text[]) AS u(run_pk, task_id)
ON CONFLICT (run_pk, kind, task_id) DO UPDATE SET state = 'scheduled',
max_tries = ti.try_number + 1, next_retry_at = NULL, started_at = NULL,
ended_at = NULL, reason = NULL, updated_at = now()
WHERE ti.state NOT IN ('scheduled', 'queued', 'running')
