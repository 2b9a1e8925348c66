-- 0003_runs_state_idx: `sluice runs list [DAG] --state S`.
--
-- runs list reads each DAG's newest runs (a LATERAL per DAG). With a state
-- filter and only runs_dag_logical_date_idx, a rare state costs a walk of
-- the DAG's whole history (3.5 ms at 10,000 runs, growing with history);
-- this index makes it a short scan per DAG:
--   SELECT ... FROM runs WHERE dag_id = $1 AND state = $2
--     ORDER BY logical_date DESC, run_pk DESC LIMIT $3
CREATE INDEX runs_dag_state_logical_date_idx ON runs (dag_id, state, logical_date DESC);
