-- 0005_attempt_stop_pending: an attempt ended by an operator (runs cancel,
-- tasks clear, tasks mark) is over in the database before its process is:
-- the scheduler still has to send CANCEL and the worker to kill it. Until
-- the worker confirms (its RESULT, or heartbeats that no longer list the
-- attempt) or is lost, `stop_pending` is set and the task instance is not
-- handed out again, so a cleared task never runs twice at once.
--   SELECT ... FROM task_instances ti WHERE ... AND NOT EXISTS (SELECT 1
--     FROM attempts s WHERE s.ti_id = ti.ti_id AND s.stop_pending)
ALTER TABLE attempts
	ADD COLUMN stop_pending boolean NOT NULL DEFAULT false,
	ADD CONSTRAINT attempts_stop_pending_check CHECK (NOT stop_pending OR ended_at IS NOT NULL);

CREATE INDEX attempts_stop_pending_idx ON attempts (ti_id) WHERE stop_pending;
