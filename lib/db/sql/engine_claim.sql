-- The statements of lib/engine/claim.c.

-- name: engine_claim_lock
-- $1: SL_ENGINE_CLAIM_LOCK (include/sluice/engine.h says why claims take
-- turns).
SELECT pg_advisory_xact_lock($1::bigint)

-- name: engine_claim_busy
SELECT count(*) FROM task_instances WHERE state IN ('queued', 'running')

-- name: engine_claim_candidates
-- Candidates in claim order, locked (SKIP LOCKED: rows another transaction
-- holds are not waited for), with the counts the limits need: the run's
-- task instances in flight and the free slots of the task's pool (NULL:
-- the pool does not exist). Tasks whose pool is full or missing, or whose
-- run is at max_active_tasks, are left out here, so that they cannot fill
-- the window and hold back runnable tasks behind them; the counts then
-- account for the tasks picked within this batch. The counts are computed
-- once per run and pool, not once per candidate: per candidate, a run of n
-- scheduled tasks costs n squared. For the same reason what depends on
-- the run alone (its state, its DAG paused, its columns) comes from rl,
-- and the attempts being stopped are read once (a hashed NOT IN). Within a
-- run the claim order is (priority, ti_id), so the first $2 of the whole
-- queue are among the first $2 runnable ones of each run: pick takes those
-- from each run's index (task_instances_run_dispatch_idx, migration 0020)
-- and only they are sorted, rather than the whole backlog at each claim
-- (quadratic: see bench/README.md, "claim"); its other conditions are
-- filters (hashed subplans), not joins, so that the index's order stands
-- and the scan stops after $2 rows. The runs with work are the
-- live ones and the ended ones with a callback due (runs_live_idx and
-- task_instances_callback_due_idx), the pools all of them (few): neither
-- is found by reading the backlog either. The last column is when the
-- task instance became scheduled (its last change), in milliseconds, for
-- the scheduler's dispatch latency.
WITH rl AS MATERIALIZED (SELECT r.run_pk, r.version_id, r.dag_id, r.run_id, r.commit,
    r.logical_date, r.data_interval_start, r.data_interval_end, r.conf, r.state,
    v.max_active_tasks AS max_active,
    (SELECT count(*) FROM task_instances x WHERE x.run_pk = r.run_pk
        AND x.state IN ('queued', 'running')) AS busy,
    r.state IN ('queued', 'running') AND (NOT d.paused OR r.state = 'running') AS tasks_ok,
    r.state IN ('success', 'failed') AS callbacks_ok
FROM runs r JOIN dag_versions v ON v.version_id = r.version_id JOIN dags d ON d.dag_id = r.dag_id
WHERE r.run_pk IN (SELECT l.run_pk FROM runs l WHERE l.state IN ('queued', 'running')
    UNION ALL
    SELECT c.run_pk FROM task_instances c
    WHERE c.state = 'scheduled' AND c.kind = 'callback' AND c.queue = ANY($1::text[]))),
pl AS MATERIALIZED (SELECT p.name, p.slots - (SELECT count(*) FROM task_instances y
    WHERE y.pool = p.name AND y.state IN ('queued', 'running')) AS free FROM pools p),
stopping AS MATERIALIZED (SELECT s.ti_id FROM attempts s WHERE s.stop_pending),
pick AS (SELECT c.ti_id, c.priority, rl.logical_date FROM rl
    CROSS JOIN LATERAL (SELECT t.ti_id, t.priority FROM task_instances t
        WHERE t.run_pk = rl.run_pk AND t.state = 'scheduled' AND t.queue = ANY($1::text[])
        AND ((t.kind = 'task' AND rl.tasks_ok) OR (t.kind = 'callback' AND rl.callbacks_ok))
        AND (t.pool IS NULL OR t.pool IN (SELECT name FROM pl WHERE free > 0))
        AND t.ti_id NOT IN (SELECT ti_id FROM stopping)
        ORDER BY t.priority DESC, t.ti_id LIMIT $2) c
    WHERE rl.busy < rl.max_active)
SELECT ti.ti_id, ti.run_pk, ti.task_id, ti.pool, rl.version_id, rl.dag_id, rl.run_id,
rl.commit, floor(extract(epoch FROM rl.logical_date))::bigint,
floor(extract(epoch FROM rl.data_interval_start))::bigint,
floor(extract(epoch FROM rl.data_interval_end))::bigint, rl.conf::text,
rl.busy, pl.free, ti.kind = 'callback', rl.state, ti.try_number, ti.poke_number,
floor(extract(epoch FROM ti.updated_at) * 1000)::bigint
FROM pick JOIN task_instances ti ON ti.ti_id = pick.ti_id
JOIN rl ON rl.run_pk = ti.run_pk
LEFT JOIN pl ON pl.name = ti.pool
WHERE ti.state = 'scheduled'
ORDER BY pick.priority DESC, pick.logical_date, ti.ti_id LIMIT $2
FOR UPDATE OF ti SKIP LOCKED

-- name: engine_claim_insert_attempts
-- $1, $5, $6: the task instances taken and the try and poke numbers of
-- their new attempts, which the run plan decided (sl_runplan_next_attempt).
-- $4: started as well (sl_engine_claim_started), as engine_report_started
-- would. $7, $8: the version and commit each task instance of $1 is
-- dispatched with, as the candidates read them (a `clear --latest` may
-- move the run meanwhile: the attempt records what the worker runs).
WITH n AS (SELECT * FROM unnest($1::bigint[], $5::int[], $6::int[], $7::bigint[], $8::text[])
                        AS n(ti_id, try, poke, version_id, commit)),
u AS (UPDATE task_instances ti
    SET state = CASE WHEN $4::boolean THEN 'running' ELSE 'queued' END,
    try_number = n.try, poke_number = n.poke, next_retry_at = NULL,
    started_at = CASE WHEN $4::boolean THEN $3::timestamptz ELSE ti.started_at END,
    ended_at = CASE WHEN $4::boolean THEN NULL ELSE ti.ended_at END, updated_at = now()
FROM n WHERE ti.ti_id = n.ti_id AND ti.state = 'scheduled'
RETURNING ti.ti_id, ti.try_number, ti.poke_number)
INSERT INTO attempts (ti_id, try_number, poke_number, worker_id, queued_at, started_at,
                      version_id, commit)
SELECT u.ti_id, u.try_number, u.poke_number, $2, $3::timestamptz,
CASE WHEN $4::boolean THEN $3::timestamptz END, n.version_id, n.commit FROM u
JOIN n ON n.ti_id = u.ti_id
RETURNING attempt_id, ti_id, try_number, fencing_token, poke_number

-- name: engine_claim_outputs
-- Outputs of the latest successful attempt of each successful task.
SELECT ti.run_pk, ti.task_id, o.key, o.value FROM task_instances ti
CROSS JOIN LATERAL (SELECT a.outputs FROM attempts a WHERE a.ti_id = ti.ti_id
    AND a.outcome = 'success' ORDER BY a.try_number DESC, a.poke_number DESC LIMIT 1) AS a
CROSS JOIN LATERAL jsonb_each_text(a.outputs) AS o
WHERE ti.run_pk = ANY($1::bigint[]) AND ti.kind = 'task' AND ti.state = 'success'
ORDER BY ti.run_pk, ti.ti_id, o.key

-- name: engine_claim_failed_tasks
-- For callbacks: the failed tasks of each run, in file order.
SELECT run_pk, string_agg(task_id, ' ' ORDER BY ti_id) FROM task_instances
WHERE run_pk = ANY($1::bigint[]) AND kind = 'task' AND state = 'failed'
GROUP BY run_pk

-- name: engine_claim_fail_unrunnable
UPDATE task_instances SET state = 'failed', ended_at = GREATEST($2::timestamptz,
started_at), updated_at = now() WHERE ti_id = ANY($1::bigint[]) AND state = 'scheduled'
