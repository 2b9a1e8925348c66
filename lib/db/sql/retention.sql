-- `sluice db clean` and the scheduler's `retention:` (lib/db/retention.c,
-- docs/database.md): finished runs, with their task instances, attempts
-- and logs (ON DELETE CASCADE), older than a cutoff, in bounded batches.

-- name: retention_cutoff
-- The cutoff, fixed once for a whole clean: now minus $1 seconds, in the
-- server's clock (the one ended_at was written with).
SELECT now() - make_interval(secs => $1::double precision)

-- name: retention_batch
-- Up to $2 runs (no limit when $2 is NULL) that ended before $1, oldest
-- first; deleted unless $3 (a dry run), and counted either way: runs, task
-- instances, attempts, log bytes, runs deleted. Never deleted, whatever
-- their age:
--  - a DAG's newest run and its newest scheduled run: the scheduler takes
--    the next interval after the latest scheduled run, so deleting it would
--    make a catchup DAG run its whole history again, and depends_on_past
--    looks at the newest run before a new one;
--  - a run with a task instance not finished (its on_failure/on_success
--    callback may still be waiting) or an attempt that is live or whose
--    process may still run (stop_pending): a worker still reports on it.
-- Locked rows are skipped: a run something else holds waits for the next
-- clean.
WITH v AS (
    SELECT r.run_pk
      FROM runs r
     WHERE r.state IN ('success', 'failed', 'cancelled')
       AND r.ended_at < $1::timestamptz
       AND r.run_pk <> (SELECT l.run_pk FROM runs l WHERE l.dag_id = r.dag_id
                         ORDER BY l.logical_date DESC, l.run_pk DESC LIMIT 1)
       AND r.run_pk IS DISTINCT FROM
           (SELECT l.run_pk FROM runs l
             WHERE l.dag_id = r.dag_id AND l.run_type = 'scheduled'
             ORDER BY l.logical_date DESC, l.run_pk DESC LIMIT 1)
       AND NOT EXISTS (SELECT 1 FROM task_instances ti
                        WHERE ti.run_pk = r.run_pk
                          AND ti.state IN ('pending', 'scheduled', 'queued', 'running',
                                           'up_for_retry', 'up_for_reschedule'))
       AND NOT EXISTS (SELECT 1 FROM task_instances ti
                         JOIN attempts a ON a.ti_id = ti.ti_id
                        WHERE ti.run_pk = r.run_pk
                          AND (a.ended_at IS NULL OR a.stop_pending))
     ORDER BY r.ended_at, r.run_pk
     LIMIT $2::integer
       FOR UPDATE OF r SKIP LOCKED),
c AS (
    SELECT count(DISTINCT ti.ti_id) AS tis, count(a.attempt_id) AS attempts,
           coalesce(sum(a.log_bytes), 0) AS log_bytes
      FROM task_instances ti
      LEFT JOIN attempts a ON a.ti_id = ti.ti_id
     WHERE ti.run_pk IN (SELECT run_pk FROM v)),
del AS (
    DELETE FROM runs
     WHERE run_pk IN (SELECT run_pk FROM v) AND NOT $3::boolean
    RETURNING run_pk)
SELECT (SELECT count(*) FROM v), c.tis, c.attempts, c.log_bytes, (SELECT count(*) FROM del)
  FROM c
