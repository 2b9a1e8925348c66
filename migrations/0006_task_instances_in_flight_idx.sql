-- 0006_task_instances_in_flight_idx: the claim's limits.
--
-- Every claim counts each candidate run's task instances in flight
-- (max_active_tasks), and with `parallelism` all of them. Without this
-- index that reads every task instance of the run, finished ones included,
-- so the count grows with the run's size; with it, it reads only those in
-- flight:
--   SELECT count(*) FROM task_instances WHERE run_pk = $1
--     AND state IN ('queued', 'running')
CREATE INDEX task_instances_in_flight_idx ON task_instances (run_pk)
	WHERE state IN ('queued', 'running');
