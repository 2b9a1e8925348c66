-- 0011_poke_number: a sensor's poke is not a try (docs/execution.md,
-- "Sensors"). Every poke is still an attempt of its own, with its log, but
-- the pokes of one try share its try number and count their own
-- poke_number (1, 2, 3...), so that `try_number` counts tries only, as
-- Airflow's reschedule sensors do, and the scheduler agrees with
-- `sluice test`. A task that is not a sensor has one poke per try.
--
-- task_instances.poke_number: the pokes the current try has made while it
-- is being poked (up_for_reschedule, or its next poke claimed); 0 once the
-- try has ended otherwise, so the next attempt begins a new try. The rule
-- is the run plan's (sl_runplan_next_attempt), not SQL's.
--
-- Attempts made before this migration keep poke_number 1: their pokes
-- each took a try number of their own, which stays as recorded.
ALTER TABLE task_instances
	ADD COLUMN poke_number integer NOT NULL DEFAULT 0
		CONSTRAINT task_instances_poke_number_check CHECK (poke_number >= 0);

ALTER TABLE attempts
	ADD COLUMN poke_number integer NOT NULL DEFAULT 1
		CONSTRAINT attempts_poke_number_check CHECK (poke_number >= 1),
	DROP CONSTRAINT attempts_ti_try_key,
	ADD CONSTRAINT attempts_ti_try_key UNIQUE (ti_id, try_number, poke_number);
