-- Runs and task instances: what lib/db/runstore.c creates, finds, cancels,
-- clears and marks, and what `runs list|show` read. Batches are arrays
-- given to unnest or = ANY.

-- name: runs_pin
-- A run pins the DAG's run_commit: the commit whose tree goes with its
-- latest version (docs/dag-source.md). Also the first load error of the
-- DAG's file at the current commit, as "path:line:col: message" (NULL when
-- it loads), and that commit: the latest version is then an older one. An
-- error names its DAG, or only its path when the `dag:` key itself is
-- what failed.
SELECT d.paused, d.removed_at IS NOT NULL, d.latest_version_id,
       COALESCE(d.run_commit, v.commit), v.definition,
       (SELECT e.path || ':' || e.line || ':' || e.col || ': ' || e.message
          FROM load_errors e
          JOIN source_state s ON s.commit = e.commit
         WHERE e.dag_id = d.dag_id OR (e.dag_id IS NULL AND e.path = v.path)
         ORDER BY e.path, e.line, e.col, e.error_id
         LIMIT 1),
       (SELECT s.commit FROM source_state s)
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

-- name: runs_repin
-- Move the runs $1 to version $2 and commit $3 (`--latest`), whose task
-- list is the arrays $4..$8 (task, max_tries, priority, pool, queue) in
-- file order. A task instance of a task the version still has takes its
-- priority, pool and queue (a cleared task is claimed by them), and comes
-- back as pending if it had been removed; one of a task it no longer has
-- becomes removed with reason $9 (its live attempt ends cancelled, as a
-- clear's does); a task with no task instance gets a pending one. Returns
-- a row (added) or (NULL, removed) for each task that came or went, per
-- run, and one (NULL, NULL, live attempts ended).
-- The caller holds the runs' rows locked (FOR UPDATE), so no other
-- statement adds task instances meanwhile.
WITH def AS (
    SELECT * FROM unnest($4::text[], $5::int[], $6::int[], $7::text[], $8::text[])
           WITH ORDINALITY AS d(task_id, max_tries, priority, pool, queue, ord)),
moved AS (
    UPDATE runs SET version_id = $2, commit = $3, updated_at = now()
     WHERE run_pk = ANY($1::bigint[])
 RETURNING run_pk),
kept AS (
    UPDATE task_instances ti
       SET priority = d.priority, pool = d.pool, queue = d.queue, updated_at = now(),
           state = CASE WHEN old.state = 'removed' THEN 'pending' ELSE ti.state END,
           max_tries = CASE WHEN old.state = 'removed' THEN ti.try_number + d.max_tries
                            ELSE ti.max_tries END,
           started_at = CASE WHEN old.state = 'removed' THEN NULL ELSE ti.started_at END,
           ended_at = CASE WHEN old.state = 'removed' THEN NULL ELSE ti.ended_at END,
           reason = CASE WHEN old.state = 'removed' THEN NULL ELSE ti.reason END
      FROM def d, task_instances old
     WHERE old.ti_id = ti.ti_id AND ti.run_pk = ANY($1::bigint[]) AND ti.kind = 'task'
       AND ti.task_id = d.task_id
 RETURNING ti.run_pk, ti.task_id, old.state = 'removed' AS back),
gone AS (
    UPDATE task_instances ti
       SET state = 'removed', next_retry_at = NULL, reason = $9,
           ended_at = COALESCE(ti.ended_at, GREATEST(now(), ti.started_at)), updated_at = now()
     WHERE ti.run_pk = ANY($1::bigint[]) AND ti.kind = 'task' AND ti.state <> 'removed'
       AND ti.task_id <> ALL($4::text[])
 RETURNING ti.ti_id, ti.run_pk, ti.task_id),
ended AS (
    UPDATE attempts a
       SET ended_at = GREATEST(now(), a.started_at), outcome = 'cancelled',
           stop_pending = true
     WHERE a.ended_at IS NULL AND a.ti_id IN (SELECT ti_id FROM gone)
 RETURNING a.attempt_id),
added AS (
    INSERT INTO task_instances (run_pk, task_id, max_tries, priority, pool, queue)
    SELECT m.run_pk, d.task_id, d.max_tries, d.priority, d.pool, d.queue
      FROM moved m
     CROSS JOIN def d
     WHERE NOT EXISTS (SELECT 1 FROM task_instances x
                        WHERE x.run_pk = m.run_pk AND x.kind = 'task' AND x.task_id = d.task_id)
     ORDER BY m.run_pk, d.ord
 RETURNING run_pk, task_id)
SELECT task_id AS added, NULL::text AS removed, NULL::bigint AS ended FROM added
 UNION ALL
SELECT task_id, NULL, NULL FROM kept WHERE back
 UNION ALL
SELECT NULL, task_id, NULL FROM gone
 UNION ALL
SELECT NULL, NULL, count(*) FROM ended

-- name: runs_tasks
-- A run's pinned definition and commit, and the state of each of its tasks.
SELECT v.definition, ti.task_id, ti.state, r.commit
  FROM runs r
  JOIN dag_versions v ON v.dag_id = r.dag_id AND v.version_id = r.version_id
  JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
 WHERE r.run_pk = $1

-- name: runs_at_dates
-- The scheduled or backfill runs of DAG $1 at the logical dates $2, locked,
-- with their commits.
SELECT run_pk, commit
  FROM runs
 WHERE dag_id = $1 AND run_type <> 'manual' AND logical_date = ANY($2::timestamptz[])
 ORDER BY logical_date
   FOR UPDATE

-- name: runs_mark
-- The mark is the task instance's reason, "marked STATE by WHO", and its
-- end time the mark's: runs_show and runs_tries read them back (a clear
-- resets both, so a mark never outlives the state it set).
WITH ti AS (
    UPDATE task_instances
       SET state = $2, next_retry_at = NULL, ended_at = GREATEST(now(), started_at),
           reason = 'marked ' || $2 || ' by ' || $3, updated_at = now()
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

-- name: runs_states
-- `backfill --wait`: the state of each run of DAG $1 named in $2, so that
-- one statement per poll counts the runs ended and failed however many
-- the backfill made.
SELECT r.run_id, r.state
  FROM runs r
 WHERE r.dag_id = $1 AND r.run_id = ANY($2::text[])
 ORDER BY r.logical_date, r.run_id

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
-- attempt; times in microseconds. The last column is who marked the task
-- (runs_mark), NULL when its state is not a mark. Task order comes from the pinned
-- definition's task list (`tasks[].task`, a key SQL may read:
-- include/sluice/dag_json.h), read once (ord), so the order is the file's
-- whatever order the rows were inserted. `commits`: every commit the run's
-- tries ran on, by first use, space-separated (migration 0010); a task's
-- `commit` is its latest try's.
WITH r AS (
    SELECT runs.*,
           (SELECT string_agg(c.commit, ' ' ORDER BY c.first)
              FROM (SELECT a.commit, min(a.attempt_id) AS first
                      FROM task_instances t
                      JOIN attempts a ON a.ti_id = t.ti_id
                     WHERE t.run_pk = runs.run_pk AND a.commit IS NOT NULL
                     GROUP BY a.commit) c) AS commits
      FROM runs
     WHERE dag_id = $1 AND run_id = $2),
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
       a.exit_code, a.signal, a.worker_id, ti.reason, a.outputs::text,
       r.conf::text,
       (extract(epoch FROM r.data_interval_start) * 1000000)::bigint,
       (extract(epoch FROM r.data_interval_end) * 1000000)::bigint,
       a.outcome,
       CASE WHEN ti.reason LIKE 'marked ' || ti.state || ' by %'
            THEN substr(ti.reason, length('marked ' || ti.state || ' by ') + 1) END,
       a.commit, r.commits, a.poke_number
  FROM r
  LEFT JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
  LEFT JOIN ord ON ord.task_id = ti.task_id
  LEFT JOIN LATERAL (SELECT exit_code, signal, worker_id, outputs, outcome, commit, poke_number
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

-- name: runs_tries
-- `runs show`: every attempt of the tasks of run $2 of DAG $1, by task
-- instance then try; times in microseconds. The last column says which
-- operator command ended an attempt of outcome 'cancelled': runs_cancel,
-- runs_mark and runs_clear end it with the same now() as the task
-- instance's end, so an attempt that is its task instance's latest and
-- ended with it was ended by a cancel ('cancel', the task is cancelled)
-- or a mark ('mark', runs_mark's reason); any other was ended by a clear,
-- which reset the task instance's end time ('clear').
SELECT ti.task_id, a.try_number,
       (extract(epoch FROM a.started_at) * 1000000)::bigint,
       (extract(epoch FROM a.ended_at) * 1000000)::bigint,
       a.outcome, a.exit_code, a.signal, a.worker_id,
       CASE WHEN a.outcome IS DISTINCT FROM 'cancelled' THEN NULL
            WHEN a.try_number < max(a.try_number) OVER (PARTITION BY a.ti_id)
                 OR a.ended_at IS DISTINCT FROM ti.ended_at THEN 'clear'
            WHEN ti.state = 'cancelled' THEN 'cancel'
            WHEN ti.reason LIKE 'marked ' || ti.state || ' by %' THEN 'mark'
            ELSE 'clear' END
  FROM runs r
  JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
  JOIN attempts a ON a.ti_id = ti.ti_id
 WHERE r.dag_id = $1 AND r.run_id = $2
 ORDER BY ti.ti_id, a.try_number

-- name: runs_existing
-- What backfill reports for intervals it did not create: for each logical
-- date $2[i] (run id $3[i] wanted), the run of DAG $1 that holds it — the
-- scheduled or backfill run of that interval, else the run that has the
-- id — in the order given.
SELECT COALESCE(i.run_id, x.run_id)
  FROM unnest($2::timestamptz[], $3::text[]) WITH ORDINALITY AS w(t, id, n)
  LEFT JOIN runs i ON i.dag_id = $1 AND i.run_type <> 'manual' AND i.logical_date = w.t
  LEFT JOIN runs x ON x.dag_id = $1 AND x.run_id = w.id
 ORDER BY w.n

-- name: runs_latest
-- The run id `latest` stands for: a run really named so, else the DAG's
-- run of the newest logical date (the first row of `runs list DAG`).
SELECT run_id
  FROM (SELECT run_id, 0 AS k, logical_date, run_pk FROM runs
         WHERE dag_id = $1 AND run_id = 'latest'
        UNION ALL
        (SELECT run_id, 1, logical_date, run_pk FROM runs
          WHERE dag_id = $1
          ORDER BY logical_date DESC, run_pk DESC
          LIMIT 1)) c
 ORDER BY k
 LIMIT 1

-- name: runs_grid
-- GET /api/v1/dags/{dag}/grid: the $2 newest runs of DAG $1 (runs_page's
-- order) and, per run, each task instance with its latest attempt's exit
-- code and worker, in the order of the run's pinned definition (each
-- version's task list read once): the whole grid view in one statement
-- rather than one per run. The first seven columns are runs_list's; then
-- the run's commit and run_pk, which groups the rows of one run.
WITH r AS (
    SELECT run_pk, dag_id, run_id, state, run_type, logical_date, started_at, ended_at,
           commit, version_id
      FROM runs
     WHERE dag_id = $1
     ORDER BY logical_date DESC, run_pk DESC
     LIMIT $2),
ord AS (
    SELECT v.version_id, o.t->>'task' AS task_id, o.n
      FROM dag_versions v
     CROSS JOIN LATERAL jsonb_array_elements(v.definition->'tasks') WITH ORDINALITY AS o(t, n)
     WHERE v.dag_id = $1 AND v.version_id IN (SELECT version_id FROM r))
SELECT r.dag_id, r.run_id, r.state, r.run_type,
       (extract(epoch FROM r.logical_date) * 1000000)::bigint,
       (extract(epoch FROM r.started_at) * 1000000)::bigint,
       (extract(epoch FROM r.ended_at) * 1000000)::bigint,
       r.commit, r.run_pk,
       ti.task_id, ti.state, ti.try_number,
       (extract(epoch FROM ti.started_at) * 1000000)::bigint,
       (extract(epoch FROM ti.ended_at) * 1000000)::bigint,
       a.exit_code, a.worker_id
  FROM r
  LEFT JOIN task_instances ti ON ti.run_pk = r.run_pk AND ti.kind = 'task'
  LEFT JOIN ord ON ord.version_id = r.version_id AND ord.task_id = ti.task_id
  LEFT JOIN LATERAL (SELECT exit_code, worker_id
                       FROM attempts
                      WHERE ti_id = ti.ti_id
                      ORDER BY try_number DESC, poke_number DESC
                      LIMIT 1) a ON true
 ORDER BY r.logical_date DESC, r.run_pk DESC, ord.n NULLS LAST, ti.ti_id

-- name: runs_page
-- GET /api/v1/dags/{dag}/runs: the runs of DAG $1 in state $2, of type $3,
-- of logical date from $4 to $5 (microseconds; each NULL: any), newest
-- logical date first, then newest run_pk: a total order, so that keyset
-- pages after the cursor ($6 the last row's logical date in microseconds,
-- $7 its run_pk; NULL: from the top) neither skip nor repeat a run when
-- others are inserted meanwhile. $8 rows at most. The columns of
-- runs_list, then run_pk. runs_dag_logical_date_idx serves the order.
SELECT r.dag_id, r.run_id, r.state, r.run_type,
       (extract(epoch FROM r.logical_date) * 1000000)::bigint,
       (extract(epoch FROM r.started_at) * 1000000)::bigint,
       (extract(epoch FROM r.ended_at) * 1000000)::bigint,
       (extract(epoch FROM now()) * 1000000)::bigint,
       r.run_pk
  FROM runs r
 WHERE r.dag_id = $1
   AND ($2::text IS NULL OR r.state = $2)
   AND ($3::text IS NULL OR r.run_type = $3)
   AND ($4::bigint IS NULL
        OR r.logical_date >= to_timestamp(0) + $4::bigint * interval '1 microsecond')
   AND ($5::bigint IS NULL
        OR r.logical_date <= to_timestamp(0) + $5::bigint * interval '1 microsecond')
   AND ($6::bigint IS NULL
        OR (r.logical_date, r.run_pk)
           < (to_timestamp(0) + $6::bigint * interval '1 microsecond', $7::bigint))
 ORDER BY r.logical_date DESC, r.run_pk DESC
 LIMIT $8
