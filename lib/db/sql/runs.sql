-- Runs and task instances: what lib/db/runstore.c creates, finds, cancels,
-- clears and marks, and what `runs list|show` read. Batches are arrays
-- given to unnest or = ANY.

-- name: runs_pin
-- A run pins the DAG's run_commit: the commit whose tree goes with its
-- latest version (docs/dag-source.md).
SELECT d.paused, d.removed_at IS NOT NULL, d.latest_version_id,
       COALESCE(d.run_commit, v.commit), v.definition
  FROM dags d
  LEFT JOIN dag_versions v
         ON v.dag_id = d.dag_id AND v.version_id = d.latest_version_id
 WHERE d.dag_id = $1

-- name: runs_dag_ids
-- The candidates of a "did you mean" for an unknown DAG.
SELECT dag_id FROM dags

-- name: runs_task_ids
-- The candidates of a "did you mean" for an unknown task of run $1.
SELECT task_id FROM task_instances WHERE run_pk = $1

-- name: runs_dag_exists
SELECT 1 FROM dags WHERE dag_id = $1

-- name: runs_create
-- The runs and all their task instances in one statement: the second CTE
-- reads the run keys the first one returns. Task instances go in file order
-- (WITH ORDINALITY), which `runs show` does not rely on but a reader of the
-- table will like. A run whose id or interval exists already is skipped;
-- sl_runs_create counts the rows returned to refuse that when asked to.
WITH new_runs AS (
    INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
                      data_interval_start, data_interval_end, conf)
    SELECT $1, r.run_id, $2, $3, r.run_type, r.logical_date, r.s, r.e,
           COALESCE(r.conf, '{}')
      FROM unnest($4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                  $8::timestamptz[], $9::jsonb[])
           AS r(run_id, run_type, logical_date, s, e, conf)
     ORDER BY r.logical_date
        ON CONFLICT DO NOTHING
 RETURNING run_pk, run_id),
tis AS (
    INSERT INTO task_instances (run_pk, task_id, max_tries, priority, pool, queue)
    SELECT n.run_pk, t.task_id, t.max_tries, t.priority, t.pool, t.queue
      FROM new_runs n
     CROSS JOIN unnest($10::text[], $11::int[], $12::int[], $13::text[], $14::text[])
           WITH ORDINALITY AS t(task_id, max_tries, priority, pool, queue, ord)
     ORDER BY n.run_pk, t.ord)
SELECT run_pk, run_id FROM new_runs

-- name: runs_notify
-- Wake the scheduler: sent at COMMIT.
SELECT pg_notify('sluice', $1)

-- name: runs_lookup
-- A task of that id wins over a callback of the same id.
SELECT r.run_pk, r.state, ti.ti_id, ti.state, ti.try_number, ti.kind = 'callback'
  FROM dags d
  LEFT JOIN runs r ON r.dag_id = d.dag_id AND r.run_id = $2
  LEFT JOIN LATERAL (SELECT *
                       FROM task_instances t
                      WHERE t.run_pk = r.run_pk AND t.task_id = $3
                      ORDER BY t.kind = 'callback'
                      LIMIT 1) ti ON true
 WHERE d.dag_id = $1

-- name: runs_lock
-- Lock the run's row, so that its state cannot change under the caller.
SELECT state FROM runs WHERE run_pk = $1 FOR UPDATE

-- name: runs_cancel
-- One statement: data-modifying CTEs all run, on one snapshot. GREATEST
-- keeps an end time from preceding a start time written by a clock that
-- runs ahead of the database's.
WITH tis AS (
    UPDATE task_instances
       SET state = 'cancelled', next_retry_at = NULL,
           ended_at = GREATEST(now(), started_at), updated_at = now()
     WHERE run_pk = $1
       AND state NOT IN ('success', 'failed', 'upstream_failed', 'skipped',
                         'cancelled', 'removed')
 RETURNING ti_id),
ended AS (
    UPDATE attempts a
       SET ended_at = GREATEST(now(), a.started_at), outcome = 'cancelled',
           stop_pending = true
      FROM task_instances ti
     WHERE ti.run_pk = $1 AND a.ti_id = ti.ti_id AND a.ended_at IS NULL
 RETURNING a.attempt_id),
run AS (
    UPDATE runs
       SET state = 'cancelled', ended_at = GREATEST(now(), started_at), updated_at = now()
     WHERE run_pk = $1
 RETURNING run_pk)
SELECT (SELECT count(*) FROM tis), (SELECT count(*) FROM ended), (SELECT count(*) FROM run)

-- name: runs_clear
-- Reset task instances of the runs in $1 (all of them, or those named in
-- $2) for another try. Retries come from each run's pinned definition
-- (`tasks[].retries`, a key SQL may read: include/sluice/dag_json.h), so
-- runs pinned to different versions clear correctly in one batch. A
-- callback still waiting or running is cancelled: it was about a finish
-- that no longer stands, and the run's next finish runs it again.
WITH cleared AS (
    UPDATE task_instances ti
       SET state = 'pending', max_tries = ti.try_number + COALESCE(d.retries, 0) + 1,
           poke_number = 0, next_retry_at = NULL, started_at = NULL, ended_at = NULL, reason = NULL,
           updated_at = now()
      FROM runs r
      JOIN dag_versions v ON v.dag_id = r.dag_id AND v.version_id = r.version_id
     CROSS JOIN LATERAL jsonb_to_recordset(v.definition->'tasks') AS d(task text, retries int)
     WHERE r.run_pk = ANY($1::bigint[]) AND ti.run_pk = r.run_pk AND ti.kind = 'task'
       AND d.task = ti.task_id AND ($2::text[] IS NULL OR ti.task_id = ANY($2::text[]))
 RETURNING ti.ti_id, ti.run_pk, ti.task_id),
callbacks AS (
    UPDATE task_instances cb
       SET state = 'cancelled', next_retry_at = NULL,
           ended_at = GREATEST(now(), cb.started_at), updated_at = now()
     WHERE cb.kind = 'callback' AND cb.run_pk IN (SELECT run_pk FROM cleared)
       AND cb.state IN ('scheduled', 'queued', 'running')
 RETURNING cb.ti_id),
ended AS (
    UPDATE attempts a
       SET ended_at = GREATEST(now(), a.started_at), outcome = 'cancelled',
           stop_pending = true
     WHERE a.ended_at IS NULL
       AND a.ti_id IN (SELECT ti_id FROM cleared UNION ALL SELECT ti_id FROM callbacks)
 RETURNING a.attempt_id),
requeued AS (
    UPDATE runs SET state = 'queued', ended_at = NULL, updated_at = now()
     WHERE run_pk IN (SELECT run_pk FROM cleared)
 RETURNING run_pk)
SELECT c.task_id, (SELECT count(*) FROM ended), (SELECT count(*) FROM requeued)
  FROM cleared c

-- name: runs_tasks
-- A run's pinned definition and the state of each of its tasks.
SELECT v.definition, ti.task_id, ti.state
  FROM runs r
  JOIN dag_versions v ON v.dag_id = r.dag_id AND v.version_id = r.version_id
  JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
 WHERE r.run_pk = $1

-- name: runs_at_dates
-- The scheduled or backfill runs of DAG $1 at the logical dates $2, locked.
SELECT run_pk
  FROM runs
 WHERE dag_id = $1 AND run_type <> 'manual' AND logical_date = ANY($2::timestamptz[])
 ORDER BY logical_date
   FOR UPDATE

-- name: runs_mark
WITH ti AS (
    UPDATE task_instances
       SET state = $2, next_retry_at = NULL, ended_at = GREATEST(now(), started_at),
           reason = NULL, updated_at = now()
     WHERE ti_id = $1
 RETURNING ti_id),
ended AS (
    UPDATE attempts a
       SET ended_at = GREATEST(now(), a.started_at), outcome = 'cancelled',
           stop_pending = true
     WHERE a.ti_id = $1 AND a.ended_at IS NULL
 RETURNING a.attempt_id)
SELECT (SELECT count(*) FROM ti), (SELECT count(*) FROM ended)

-- name: runs_listen
-- Receive the scheduler's and the CLI's notifications on this session; a
-- reconnect is a new session, which must LISTEN again.
LISTEN sluice

-- name: runs_list
-- `runs list`: the latest runs of DAG $1 (all when NULL) in state $2 (any
-- when NULL), $3 at most; times in microseconds. The newest of all DAGs are
-- the newest of each DAG's newest: one short scan of
-- runs_dag_logical_date_idx per DAG, merged, so the cost follows the number
-- of DAGs and the limit, not the history (a plain ORDER BY over runs would
-- sort every run ever made). `$1 IS NULL` folds away: the CLI runs this
-- once per session, and a prepared statement's first runs are planned
-- with their values.
SELECT r.dag_id, r.run_id, r.state, r.run_type,
       (extract(epoch FROM r.logical_date) * 1000000)::bigint,
       (extract(epoch FROM r.started_at) * 1000000)::bigint,
       (extract(epoch FROM r.ended_at) * 1000000)::bigint,
       (extract(epoch FROM now()) * 1000000)::bigint
  FROM dags d
 CROSS JOIN LATERAL (SELECT *
                       FROM runs
                      WHERE runs.dag_id = d.dag_id AND ($2::text IS NULL OR runs.state = $2)
                      ORDER BY runs.logical_date DESC, runs.run_pk DESC
                      LIMIT $3) r
 WHERE ($1::text IS NULL OR d.dag_id = $1)
 ORDER BY r.logical_date DESC, r.run_pk DESC
 LIMIT $3

-- name: runs_show
-- `runs show`: run $2 of DAG $1 and its tasks, each with its latest
-- attempt; times in microseconds. Task order comes from the pinned
-- definition's task list (`tasks[].task`, a key SQL may read:
-- include/sluice/dag_json.h), read once (ord), so the order is the file's
-- whatever order the rows were inserted.
WITH r AS (SELECT * FROM runs WHERE dag_id = $1 AND run_id = $2),
ord AS (
    SELECT o.t->>'task' AS task_id, o.n
      FROM r
      JOIN dag_versions v ON v.dag_id = r.dag_id AND v.version_id = r.version_id
     CROSS JOIN LATERAL jsonb_array_elements(v.definition->'tasks') WITH ORDINALITY AS o(t, n))
SELECT r.state, r.commit, r.run_type,
       (extract(epoch FROM r.logical_date) * 1000000)::bigint,
       (extract(epoch FROM r.started_at) * 1000000)::bigint,
       (extract(epoch FROM r.ended_at) * 1000000)::bigint,
       (extract(epoch FROM now()) * 1000000)::bigint,
       ti.task_id, ti.state, ti.try_number, ti.max_tries,
       (extract(epoch FROM ti.started_at) * 1000000)::bigint,
       (extract(epoch FROM ti.ended_at) * 1000000)::bigint,
       a.exit_code, a.signal, a.worker_id, ti.reason, a.outputs::text, a.poke_number
  FROM r
  LEFT JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
  LEFT JOIN ord ON ord.task_id = ti.task_id
  LEFT JOIN LATERAL (SELECT exit_code, signal, worker_id, outputs, poke_number
                       FROM attempts
                      WHERE ti_id = ti.ti_id
                      ORDER BY try_number DESC, poke_number DESC
                      LIMIT 1) a ON true
 ORDER BY ord.n NULLS LAST, ti.ti_id

-- name: runs_callbacks
-- The callbacks of run $2 of DAG $1, each with its latest attempt.
SELECT ti.task_id, ti.state, ti.try_number,
       (extract(epoch FROM ti.started_at) * 1000000)::bigint,
       (extract(epoch FROM ti.ended_at) * 1000000)::bigint,
       (extract(epoch FROM now()) * 1000000)::bigint,
       a.exit_code, a.signal, a.worker_id
  FROM runs r
  JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'callback'
  LEFT JOIN LATERAL (SELECT exit_code, signal, worker_id
                       FROM attempts
                      WHERE ti_id = ti.ti_id
                      ORDER BY try_number DESC, poke_number DESC
                      LIMIT 1) a ON true
 WHERE r.dag_id = $1 AND r.run_id = $2
 ORDER BY ti.ti_id
