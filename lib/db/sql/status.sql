-- `sluice status`: the scheduler's lease, the DAG source, workers, queues
-- and live runs. Times are whole seconds since the epoch; $1 is the
-- heartbeat timeout in seconds, past which a worker counts as lost.

-- name: status_lease
SELECT holder, epoch, commit,
       floor(extract(epoch FROM heartbeat_at))::bigint,
       floor(extract(epoch FROM expires_at))::bigint,
       floor(extract(epoch FROM acquired_at))::bigint,
       expires_at > now(),
       floor(extract(epoch FROM now()))::bigint
  FROM scheduler_lease

-- name: status_source
SELECT commit, repo, branch, path,
       floor(extract(epoch FROM refreshed_at))::bigint,
       floor(extract(epoch FROM now()))::bigint
  FROM source_state

-- name: status_worker_counts
SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state = 'draining'),
       count(*) FILTER (WHERE state = 'gone'),
       count(*) FILTER (WHERE state <> 'gone'
                          AND last_heartbeat_at < now() - $1::bigint * interval '1 second')
  FROM workers

-- name: status_workers
-- `workers list`: every worker, with its live attempts, whether it is
-- lost, and how it may connect: with a secret of its own, the shared token
-- (no credential row), or not at all (revoked).
SELECT w.worker_id, w.host, array_to_string(w.queues, ','), w.slots,
       (SELECT count(*) FROM attempts a WHERE a.worker_id = w.worker_id AND a.ended_at IS NULL),
       w.state,
       floor(extract(epoch FROM w.last_heartbeat_at))::bigint,
       floor(extract(epoch FROM now()))::bigint,
       w.version,
       floor(extract(epoch FROM w.started_at))::bigint,
       w.state <> 'gone' AND w.last_heartbeat_at < now() - $1::bigint * interval '1 second',
       CASE WHEN c.worker_id IS NULL THEN 'shared'
            WHEN c.revoked_at IS NOT NULL THEN 'revoked'
            ELSE 'own' END
  FROM workers w
  LEFT JOIN worker_credentials c ON c.worker_id = w.worker_id
 ORDER BY w.worker_id

-- name: status_queues
-- Every queue with waiting work or a live worker; served = a live (active,
-- not stale) worker takes it.
WITH depth AS (
    SELECT queue,
           count(*) FILTER (WHERE state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE state = 'queued') AS queued
      FROM task_instances
     WHERE state IN ('scheduled', 'queued')
     GROUP BY queue),
live AS (
    SELECT DISTINCT unnest(queues)::text AS queue
      FROM workers
     WHERE state = 'active'
       AND last_heartbeat_at >= now() - $1::bigint * interval '1 second')
SELECT coalesce(d.queue, l.queue), coalesce(d.scheduled, 0), coalesce(d.queued, 0),
       l.queue IS NOT NULL
  FROM depth d
  FULL JOIN live l ON l.queue = d.queue
 ORDER BY 1

-- name: status_unserved
-- Queues with scheduled tasks that no live, active worker serves.
SELECT ti.queue, count(*)
  FROM task_instances ti
 WHERE ti.state = 'scheduled'
   AND NOT EXISTS (SELECT 1
                     FROM workers w
                    WHERE w.state = 'active'
                      AND w.last_heartbeat_at >= now() - $1::bigint * interval '1 second'
                      AND ti.queue = ANY(w.queues))
 GROUP BY ti.queue
 ORDER BY ti.queue

-- name: status_live_runs
-- runs_live_idx serves this.
SELECT dag_id, run_id, state,
       floor(extract(epoch FROM coalesce(started_at, created_at)))::bigint,
       floor(extract(epoch FROM now()))::bigint
  FROM runs
 WHERE state IN ('queued', 'running')
 ORDER BY state DESC, coalesce(started_at, created_at), run_pk
