-- What shell completion offers (`sluice __complete`): ids starting with a
-- prefix ($1 or $2, '' for all), compared with left() rather than LIKE so
-- that no character of the prefix is a pattern. Bounded: a completion lists
-- a screenful, not a history.

-- name: complete_dags
SELECT dag_id
  FROM dags
 WHERE left(dag_id, length($1)) = $1
 ORDER BY dag_id
 LIMIT 1000

-- name: complete_runs
-- The newest first (runs_dag_logical_date_idx), as `runs list` shows them.
SELECT run_id
  FROM runs
 WHERE dag_id = $1 AND left(run_id, length($2)) = $2
 ORDER BY logical_date DESC, run_pk DESC
 LIMIT 1000
