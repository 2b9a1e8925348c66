-- The statements of lib/engine/report.c.

-- name: engine_report_started
WITH a AS (UPDATE attempts SET started_at = COALESCE(started_at, $3::timestamptz)
WHERE attempt_id = $1 AND fencing_token = $2 AND worker_id = $4 AND ended_at IS NULL
    RETURNING ti_id),
t AS (UPDATE task_instances ti SET state = 'running', started_at = $3::timestamptz,
    ended_at = NULL, updated_at = now() FROM a
    WHERE ti.ti_id = a.ti_id AND ti.state = 'queued' RETURNING ti.ti_id)
SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM t)

-- name: engine_report_log_lock
SELECT log_bytes FROM attempts WHERE attempt_id = $1 AND fencing_token = $2 AND worker_id = $3
FOR UPDATE

-- name: engine_report_log_insert
-- The chunk, and its bytes counted only when it was not stored before.
WITH c AS (INSERT INTO log_chunks (attempt_id, seq, data)
VALUES ($1, $2, decode($3, 'hex')) ON CONFLICT DO NOTHING RETURNING octet_length(data) AS n)
UPDATE attempts SET log_bytes = log_bytes + COALESCE((SELECT sum(n) FROM c), 0),
log_truncated = log_truncated OR $4::boolean WHERE attempt_id = $1

-- name: engine_report_log_truncated
UPDATE attempts SET log_truncated = true WHERE attempt_id = $1

-- name: engine_report_attempt_lock
-- The live attempt, locked with its task instance, and when the current
-- chain of sensor pokes began: the earliest start among this attempt and
-- the reschedule attempts right before it.
SELECT a.ti_id, a.try_number, ti.max_tries, r.version_id, ti.task_id,
(SELECT floor(extract(epoch FROM min(COALESCE(b.started_at, b.queued_at))) * 1000)::bigint
    FROM attempts b WHERE b.ti_id = a.ti_id AND b.attempt_id > COALESCE(
        (SELECT max(x.attempt_id) FROM attempts x WHERE x.ti_id = a.ti_id
            AND x.attempt_id <> a.attempt_id AND x.outcome IS DISTINCT FROM 'reschedule'), 0)),
ti.kind = 'callback', ti.run_pk, a.poke_number
FROM attempts a JOIN task_instances ti ON ti.ti_id = a.ti_id
JOIN runs r ON r.run_pk = ti.run_pk
WHERE a.attempt_id = $1 AND a.fencing_token = $2 AND a.worker_id = $3 AND a.ended_at IS NULL
FOR UPDATE OF a, ti

-- name: engine_report_attempt_stopped
-- A report about an attempt that an operator ended (stop_pending) says its
-- process is gone: a RESULT, or the worker's own word that it does not run
-- it. Its task instance may be handed out again. Only its own worker's
-- word counts: another worker does not know whether the process is gone.
UPDATE attempts SET stop_pending = false
WHERE attempt_id = $1 AND fencing_token = $2 AND worker_id = $3 AND stop_pending

-- name: engine_report_end_attempt
-- End the attempt and move its task instance. A reschedule uses no try:
-- $9 is the pokes its try has made while the sensor is to be poked again,
-- else 0 (sl_runplan_pokes_after), which the next claim continues from.
WITH a AS (UPDATE attempts SET ended_at = GREATEST($2::timestamptz, started_at),
    outcome = $3, exit_code = $4::int, signal = $5::int,
    outputs = COALESCE($6::jsonb, '{}') WHERE attempt_id = $1 RETURNING ti_id)
UPDATE task_instances ti SET state = $7, next_retry_at = $8::timestamptz,
ended_at = GREATEST($2::timestamptz, ti.started_at),
poke_number = $9::int, reason = $10, updated_at = now()
FROM a WHERE ti.ti_id = a.ti_id

-- name: engine_report_owner
-- Whose attempt a refused report named, for the scheduler's log.
SELECT worker_id FROM attempts WHERE attempt_id = $1

-- name: engine_report_worker_live
SELECT attempt_id, fencing_token FROM attempts
WHERE worker_id = $1 AND ended_at IS NULL ORDER BY attempt_id

-- name: engine_report_worker_stopped
UPDATE attempts SET stop_pending = false WHERE worker_id = $1 AND stop_pending

-- name: engine_report_stopped_except
UPDATE attempts SET stop_pending = false
WHERE worker_id = $1 AND stop_pending AND attempt_id <> ALL($2::bigint[])

-- name: engine_report_live_of
SELECT worker_id, attempt_id, fencing_token FROM attempts
WHERE worker_id = ANY($1::text[]) AND ended_at IS NULL ORDER BY attempt_id

-- name: engine_report_heartbeats
UPDATE workers SET last_heartbeat_at = now(), state = 'active'
WHERE worker_id = ANY($1::text[])
