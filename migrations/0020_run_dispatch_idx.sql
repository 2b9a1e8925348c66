-- 0020_run_dispatch_idx: a run's scheduled task instances in claim order
-- (priority, then ti_id), so that a claim reads the first few of each run
-- with work instead of sorting every scheduled task instance of the queue
-- (lib/db/sql/engine_claim.sql, engine_claim_candidates).
CREATE INDEX task_instances_run_dispatch_idx ON task_instances (run_pk, priority DESC, ti_id)
	WHERE state = 'scheduled';
-- And the runs with a callback due: an ended run's scheduled callbacks.
CREATE INDEX task_instances_callback_due_idx ON task_instances (run_pk)
	WHERE state = 'scheduled' AND kind = 'callback';
