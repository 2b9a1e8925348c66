-- Workers as the scheduler records them: registration, lost workers, and
-- which of their attempts ended meanwhile.

-- name: workers_register
-- A worker's hello: it is active from now with what it says it serves.
INSERT INTO workers (worker_id, host, queues, slots, state, version, started_at,
                     last_heartbeat_at)
VALUES ($1, $2, $3::text[], $4::integer, 'active', $5, now(), now())
    ON CONFLICT (worker_id) DO UPDATE
   SET host = EXCLUDED.host, queues = EXCLUDED.queues, slots = EXCLUDED.slots,
       state = 'active', version = EXCLUDED.version, started_at = now(),
       last_heartbeat_at = now()

-- name: workers_lost
-- Workers not gone whose last heartbeat is older than $1 seconds
-- (workers_heartbeat_idx), a bounded batch.
SELECT worker_id
  FROM workers
 WHERE state <> 'gone'
   AND last_heartbeat_at < now() - make_interval(secs => $1::double precision)
 ORDER BY worker_id
 LIMIT 100

-- name: workers_set_gone
-- Only if it is still silent: a heartbeat since workers_lost keeps it.
UPDATE workers
   SET state = 'gone'
 WHERE worker_id = $1
   AND last_heartbeat_at < now() - make_interval(secs => $2::double precision)

-- name: workers_ended_attempts
-- Of the attempts $1, those that ended (an operator cancelled them), with
-- their fencing tokens.
SELECT attempt_id, fencing_token
  FROM attempts
 WHERE attempt_id = ANY($1::bigint[]) AND ended_at IS NOT NULL

-- name: workers_owned_attempts
-- Of the attempts $2 that a worker's HELLO lists, those dispatched to
-- worker $1, in any state, with their fencing tokens: only these may count
-- as live on its connection.
SELECT attempt_id, fencing_token
  FROM attempts
 WHERE worker_id = $1 AND attempt_id = ANY($2::bigint[])

-- name: workers_delete
-- `sluice workers delete`: forget worker $1 for good, only once the
-- scheduler has declared it gone (no heartbeat for heartbeat_timeout) and
-- it holds no attempt that is live or whose process may still run. One
-- statement, so a worker that comes back meanwhile is either still there
-- (refused) or registers again afterwards. Returns its state, seconds since
-- its last heartbeat, the attempts it holds and whether it was deleted; no
-- row when there is no such worker. Its attempts keep its name as history.
WITH w AS (
    SELECT worker_id, state, last_heartbeat_at
      FROM workers WHERE worker_id = $1 FOR UPDATE),
held AS (
    SELECT count(*) AS n FROM attempts
     WHERE worker_id = $1 AND (ended_at IS NULL OR stop_pending)),
del AS (
    DELETE FROM workers
     WHERE worker_id = (SELECT worker_id FROM w WHERE state = 'gone')
       AND (SELECT n FROM held) = 0
    RETURNING worker_id)
SELECT w.state, floor(extract(epoch FROM now() - w.last_heartbeat_at))::bigint,
       (SELECT n FROM held), EXISTS (SELECT 1 FROM del)
  FROM w
