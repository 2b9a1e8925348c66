-- 0004_callbacks_reason: run callbacks, and why sluice itself decided a
-- task's state.
--
-- A run's on_failure / on_success callback is a task instance of kind
-- 'callback' (task_id 'on_failure' or 'on_success'), created when the run
-- finishes. It is claimed, dispatched, fenced, logged and lost like any
-- task, so none of that exists twice; it never counts in the run's state
-- and is never cleared or marked. Its id may equal a task's id, hence the
-- key on (run_pk, kind, task_id).
--
-- `reason` says why the scheduler set a state without running anything: a
-- pool that does not exist, a branch not taken, a sensor out of time.
ALTER TABLE task_instances
	ADD COLUMN kind text NOT NULL DEFAULT 'task'
		CONSTRAINT task_instances_kind_check CHECK (kind IN ('task', 'callback')),
	ADD COLUMN reason text
		CONSTRAINT task_instances_reason_check CHECK (reason <> ''),
	DROP CONSTRAINT task_instances_run_task_key,
	ADD CONSTRAINT task_instances_run_kind_task_key UNIQUE (run_pk, kind, task_id);
