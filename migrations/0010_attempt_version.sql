-- 0010_attempt_version: the DAG version and commit each try ran with.
--
-- `tasks clear --latest` and `backfill --reset --latest` move a run to the
-- DAG's current version and commit (docs/runs.md), so a run may run on
-- several commits: its tasks' earlier tries ran on the one it pinned
-- first, the cleared ones on the new one. The run keeps only its current
-- pin; each attempt records the pin it was dispatched with, so the history
-- says which try ran on which commit. No foreign keys: like worker_id, this
-- is history, not a reference that must stay valid.
--
-- Until now a run never changed its pin, so every existing attempt ran on
-- its run's version and commit: fill them in.
ALTER TABLE attempts ADD COLUMN version_id bigint, ADD COLUMN commit sl_oid;

UPDATE attempts a
   SET version_id = r.version_id, commit = r.commit
  FROM task_instances ti
  JOIN runs r ON r.run_pk = ti.run_pk
 WHERE ti.ti_id = a.ti_id;
