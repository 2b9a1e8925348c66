# Helpers for the tests of runs and task instances (t003x). Source after
# lib.sh, pg.sh and seed.sh.

# poll_sql SQL: poll until SQL prints "t" (10 s at most).
poll_sql() {
	poll_i=0
	while [ $poll_i -lt 100 ]; do
		[ "$(pg_sql "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
		poll_i=$((poll_i + 1))
	done
	return 1
}

# sql_is SQL WANTED DESCRIPTION: SQL prints WANTED.
sql_is() {
	run pg_sql "$1"
	expect_file "$TMP/out" "$2" "$3"
}

# jq_ok FILTER FILE DESCRIPTION: jq -e FILTER holds for FILE.
jq_ok() { expect_jq "$2" "$1" "$3"; }

# bg_wait PID SECONDS: wait for a background job, killing it after SECONDS;
# sets $status.
bg_wait() {
	bg_i=0
	while kill -0 "$1" 2>/dev/null && [ $bg_i -lt $(($2 * 10)) ]; do
		sleep 0.1
		bg_i=$((bg_i + 1))
	done
	kill "$1" 2>/dev/null
	wait "$1"
	status=$?
}

# set_states RUN_ID TASK=STATE...: set task states of a run by hand, as the
# engine would (a finished state gets an end time and try 1).
set_states() {
	set_run=$1
	shift
	for set_kv in "$@"; do
		pg_sql "UPDATE task_instances ti SET state = '${set_kv#*=}',
			try_number = GREATEST(try_number, 1), started_at = now() - interval '1 min',
			ended_at = CASE WHEN '${set_kv#*=}' IN ('running', 'queued') THEN NULL
				ELSE now() END
			FROM runs r WHERE r.run_pk = ti.run_pk AND r.run_id = '$set_run'
			AND ti.task_id = '${set_kv%%=*}'" >/dev/null
	done
}

# listen_start: a psql session that LISTENs on channel sluice until
# listen_stop; what it received is then in $TMP/listen.out.
listen_start() {
	(psql -X -q -c "LISTEN sluice" -c "SELECT pg_sleep(60)" -c "SELECT 1" \
		>"$TMP/listen.out" 2>&1) &
	listener=$!
	poll_sql "SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'"
}

# listen_stop: cancel the listener's sleep; its transaction ends, the
# notifications are delivered and psql prints them.
listen_stop() {
	pg_sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE query = 'SELECT pg_sleep(60)'" >/dev/null
	wait $listener
}
