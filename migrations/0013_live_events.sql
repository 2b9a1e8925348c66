-- 0013_live_events: what sluice-web's live pages follow (docs/web.md, "Live
-- updates"). Each statement that changes the state of runs or task
-- instances, or stores log bytes, sends one notification on channel
-- sluice_events: a JSON object with the runs, tasks or logs it touched, so
-- that a page updates without asking again. Statement-level triggers with
-- transition tables: one notification per statement, however many rows.
-- Whatever writes (the scheduler, the CLI, the web) is seen the same way.
--
-- A payload is at most 8000 bytes (PostgreSQL's limit); a bigger one is
-- sent as {"overflow":true}, which tells a listener to read everything
-- again. Notifications are delivered at COMMIT, never for a rolled-back
-- change, and the channel is not `sluice`, which wakes the scheduler.
CREATE FUNCTION sl_events_send(payload text) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_notify('sluice_events',
	                 CASE WHEN octet_length(payload) <= 7900 THEN payload
	                      ELSE '{"overflow":true}' END)
	WHERE payload IS NOT NULL
$$;

CREATE FUNCTION sl_events_runs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('runs', json_agg(json_build_object(
			'dag', n.dag_id, 'run_id', n.run_id, 'state', n.state)))::text
		FROM new_rows n
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_runs_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('runs', json_agg(json_build_object(
			'dag', n.dag_id, 'run_id', n.run_id, 'state', n.state)))::text
		FROM new_rows n JOIN old_rows o USING (run_pk)
		WHERE n.state IS DISTINCT FROM o.state
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_tasks_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('tasks', json_agg(json_build_object(
			'dag', r.dag_id, 'run_id', r.run_id, 'task', n.task_id,
			'state', n.state, 'try', n.try_number)))::text
		FROM new_rows n JOIN old_rows o USING (ti_id) JOIN runs r ON r.run_pk = n.run_pk
		WHERE n.state IS DISTINCT FROM o.state OR n.try_number <> o.try_number
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_logs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('logs', json_agg(json_build_object(
			'dag', l.dag_id, 'run_id', l.run_id, 'task', l.task_id,
			'try', l.try_number, 'bytes', l.bytes)))::text
		FROM (SELECT r.dag_id, r.run_id, ti.task_id, a.try_number,
		             sum(octet_length(n.data)) AS bytes
		      FROM new_rows n
		      JOIN attempts a USING (attempt_id)
		      JOIN task_instances ti ON ti.ti_id = a.ti_id
		      JOIN runs r ON r.run_pk = ti.run_pk
		      GROUP BY r.dag_id, r.run_id, ti.task_id, a.try_number) l
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_events_inserted AFTER INSERT ON runs
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_runs_inserted();
CREATE TRIGGER runs_events_updated AFTER UPDATE ON runs
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_runs_updated();
CREATE TRIGGER task_instances_events_updated AFTER UPDATE ON task_instances
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_tasks_updated();
CREATE TRIGGER log_chunks_events_inserted AFTER INSERT ON log_chunks
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_logs_inserted();
