-- sluice-web's /metrics (docs/metrics.md, "sluice-web"): what the database
-- says, computed at each scrape. Pools and queues come from pools_list and
-- status_queues, as `pools list` and `status` show them.

-- name: metrics_web
-- One row per sample: (family, first label, second label, value), the
-- family a number: its place in web/metrics.c's table, from 1. Runs are
-- counted over every run kept (retention bounds them); task instances only over runs not finished,
-- whose states change; a DAG's last duration is that of its finished run
-- of latest logical date (runs_dag_logical_date_idx).
SELECT k, l1, l2, value FROM (
    SELECT 1 AS k, dag_id::text AS l1, state AS l2,
           count(*)::float8 AS value
      FROM runs GROUP BY dag_id, state
    UNION ALL
    SELECT 2, r.dag_id::text, ti.state, count(*)::float8
      FROM runs r JOIN task_instances ti ON ti.run_pk = r.run_pk
     WHERE r.state IN ('queued', 'running')
     GROUP BY r.dag_id, ti.state
    UNION ALL
    SELECT 3, dag_id::text, state,
           extract(epoch FROM ended_at - started_at)::float8
      FROM (SELECT DISTINCT ON (dag_id) dag_id, state, started_at, ended_at
              FROM runs
             WHERE ended_at IS NOT NULL AND started_at IS NOT NULL
             ORDER BY dag_id, logical_date DESC) last
    UNION ALL
    SELECT 4, paused::text, NULL, count(*)::float8
      FROM dags WHERE removed_at IS NULL GROUP BY paused
    UNION ALL
    SELECT 5, NULL, NULL, count(*)::float8
      FROM load_errors e JOIN source_state s ON s.commit = e.commit) s
 ORDER BY k, l1, l2
