#!/bin/sh
# sluice tasks clear | tasks mark | logs against a private PostgreSQL; task
# states, attempts and log chunks are written with psql, as the engine will.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

for cmd in "tasks clear" "tasks mark" logs; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done
run "$SLUICE" tasks clear onlydag
expect_status 2 "tasks clear needs a run id"
run "$SLUICE" tasks mark d r t done
expect_status 2 "tasks mark takes success or failed only"
run "$SLUICE" logs d r
expect_status 2 "logs needs a task"
run "$SLUICE" logs d r t --try 0
expect_status 2 "logs --try 0 is a usage error"

pg_start
pg_newdb tasks
"$SLUICE" db init >/dev/null || exit 1
seed_dag "$SRC_DIR/dags-examples/nightly_etl.yaml" || exit 1
"$SLUICE" trigger nightly_etl --run-id c1 >/dev/null || exit 1

# failed_run: extract succeeded, transform failed, load upstream_failed,
# report (all_done) succeeded; the run failed.
failed_run() {
	set_states c1 extract=success transform=failed load=upstream_failed report=success
	pg_sql "UPDATE runs SET state = 'failed', started_at = now() - interval '5 min',
		ended_at = now() WHERE run_id = 'c1'" >/dev/null
}

# states: the run's state, then task:state:try:max_tries in file order.
states() {
	pg_sql "SELECT r.state || ' ' || string_agg(ti.task_id || ':' || ti.state || ':' ||
		ti.try_number || ':' || ti.max_tries, ' ' ORDER BY ti.ti_id)
		FROM runs r JOIN task_instances ti USING (run_pk) WHERE r.run_id = 'c1' GROUP BY r.state"
}

# --- tasks clear -------------------------------------------------------------
failed_run
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at)
	SELECT ti_id, 1, 'w1', now() FROM task_instances WHERE task_id = 'load'" >/dev/null
run "$SLUICE" tasks clear nightly_etl c1 --failed
expect_status 0 "tasks clear --failed"
expect_file "$TMP/out" "cleared 2 tasks of run 'c1' of DAG 'nightly_etl' (run was failed, now queued):
  transform
  load" "prints what it cleared"
run states
expect_file "$TMP/out" "queued extract:success:1:6 transform:pending:1:4 load:pending:1:4 report:success:1:3" \
	"--failed resets exactly the failed and upstream_failed tasks, with retries available again"
sql_is "SELECT ended_at IS NULL, started_at IS NULL FROM runs WHERE run_id = 'c1'" "t|f" \
	"the run is back to queued, with no end time"
sql_is "SELECT outcome FROM attempts WHERE worker_id = 'w1'" "cancelled" \
	"a live attempt of a cleared task is ended as cancelled"
sql_is "SELECT count(*) FROM task_instances WHERE state = 'pending' AND (started_at IS NOT NULL
	OR ended_at IS NOT NULL)" "0" "cleared tasks have no times"

failed_run
run "$SLUICE" tasks clear nightly_etl c1 transform --downstream --json
expect_status 0 "tasks clear TASK --downstream"
jq_ok '.cleared == ["transform","load","report"] and .state == "queued" and
	.previous_state == "failed" and .attempts_cancelled == 0' "$TMP/out" \
	"--downstream adds every task downstream (--json)"
run states
expect_file "$TMP/out" "queued extract:success:1:6 transform:pending:1:4 load:pending:1:4 report:pending:1:4" \
	"and leaves the upstream task alone"

failed_run
set_states c1 load=failed report=failed
run "$SLUICE" tasks clear nightly_etl c1 extract load
expect_status 0 "tasks clear of named tasks"
run states
expect_file "$TMP/out" "queued extract:pending:1:7 transform:failed:1:4 load:pending:1:4 report:failed:1:4" \
	"clears exactly the named tasks"

failed_run
set_states c1 report=success
run "$SLUICE" tasks clear nightly_etl c1 extract --failed
expect_status 0 "tasks clear --failed of a task that did not fail"
expect_file "$TMP/out" "nothing to clear in run 'c1' of DAG 'nightly_etl'" "clears nothing"
sql_is "SELECT state FROM runs WHERE run_id = 'c1'" "failed" "and leaves the run as it was"

run "$SLUICE" tasks clear nightly_etl c1 --failed --downstream --json
jq_ok '.cleared == ["transform","load","report"]' "$TMP/out" \
	"--failed --downstream: the failed tasks and everything downstream of them"

run "$SLUICE" tasks clear nightly_etl c1 extrat
expect_status 3 "tasks clear of an unknown task exits 3"
expect_grep "$TMP/err" "run 'c1' of DAG 'nightly_etl' has no task 'extrat' (did you mean 'extract'?)" \
	"naming it"
run "$SLUICE" tasks clear nightly_etl nope
expect_status 3 "tasks clear of an unknown run exits 3"
run "$SLUICE" tasks clear nope c1
expect_status 3 "tasks clear of an unknown DAG exits 3"

# --- tasks mark --------------------------------------------------------------
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at)
	SELECT ti.ti_id, 1, 'w2', now() FROM task_instances ti JOIN runs r USING (run_pk)
	WHERE r.run_id = 'c1' AND ti.task_id = 'transform'" >/dev/null
listen_start
run "$SLUICE" tasks mark nightly_etl c1 transform success
expect_status 0 "tasks mark success"
expect_file "$TMP/out" "marked task 'transform' of run 'c1' of DAG 'nightly_etl' success (was pending)" \
	"says what it did"
sql_is "SELECT ti.state, ti.ended_at IS NOT NULL, a.outcome FROM task_instances ti
	JOIN attempts a USING (ti_id) WHERE a.worker_id = 'w2'" "success|t|cancelled" \
	"the task is success with an end time; its live attempt ended cancelled"
run "$SLUICE" tasks mark nightly_etl c1 load failed --json
jq_ok '.task == "load" and .state == "failed" and .previous_state == "pending"' "$TMP/out" \
	"tasks mark failed (--json)"
"$SLUICE" tasks clear nightly_etl c1 load >/dev/null
listen_stop
expect_grep "$TMP/listen.out" 'payload "mark nightly_etl"' "mark notifies the scheduler"
expect_grep "$TMP/listen.out" 'payload "clear nightly_etl"' "clear notifies the scheduler"
run "$SLUICE" tasks mark nightly_etl c1 nope success
expect_status 3 "tasks mark of an unknown task exits 3"

# --- logs --------------------------------------------------------------------
# extract: try 1 ended with two chunks; try 2 is live with one.
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	SELECT ti.ti_id, 1, 'w3', now(), now(), 'failed', 1 FROM task_instances ti
	JOIN runs r USING (run_pk) WHERE r.run_id = 'c1' AND ti.task_id = 'extract';
	INSERT INTO attempts (ti_id, try_number, worker_id, started_at)
	SELECT ti.ti_id, 2, 'w3', now() FROM task_instances ti
	JOIN runs r USING (run_pk) WHERE r.run_id = 'c1' AND ti.task_id = 'extract';
	INSERT INTO log_chunks (attempt_id, seq, data)
	SELECT attempt_id, s, convert_to(d, 'UTF8') FROM attempts,
	(VALUES (1, 0, E'one\n'), (1, 1, E'two\n'), (2, 0, E'three\n')) AS v(t, s, d)
	WHERE worker_id = 'w3' AND try_number = v.t" >/dev/null
run "$SLUICE" logs nightly_etl c1 extract
expect_status 0 "logs"
expect_file "$TMP/out" "three" "prints the latest try's log"
run "$SLUICE" logs nightly_etl c1 extract --try 1
expect_file "$TMP/out" "one
two" "--try 1 prints that try's chunks in order"
run "$SLUICE" logs nightly_etl c1 extract --try 3
expect_status 3 "an unknown try exits 3"
expect_grep "$TMP/err" "has no try 3 (tries: 1, 2)" "and lists the tries there are"
run "$SLUICE" logs nightly_etl c1 report
expect_status 3 "logs of a task that never ran exits 3"
run "$SLUICE" logs nightly_etl c1 nope
expect_status 3 "logs of an unknown task exits 3"
run "$SLUICE" logs nightly_etl c1 extract --try 1 --json
jq_ok '.try_number == 1 and .outcome == "failed" and .truncated == false and .log == "one\ntwo\n"' \
	"$TMP/out" "logs --json"

# --follow prints new chunks until the attempt ends.
"$SLUICE" logs nightly_etl c1 extract --follow >"$TMP/f.out" 2>"$TMP/f.err" &
f=$!
sleep 0.5
pg_sql "INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 1, convert_to(E'four\n', 'UTF8')
	FROM attempts WHERE worker_id = 'w3' AND try_number = 2" >/dev/null
sleep 0.5
kill -0 $f 2>/dev/null
ok $? "--follow keeps running while the attempt is live"
pg_sql "BEGIN; INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 2,
	'\\xff66697665'::bytea FROM attempts WHERE worker_id = 'w3' AND try_number = 2;
	UPDATE attempts SET ended_at = now(), outcome = 'success', exit_code = 0
	WHERE worker_id = 'w3' AND try_number = 2; COMMIT" >/dev/null
bg_wait $f 5
cp "$TMP/f.err" "$TMP/err"
expect_status 0 "--follow ends when the attempt ends"
printf 'three\nfour\n\377five' | cmp -s - "$TMP/f.out"
ok $? "--follow printed every chunk once, in order, bytes as they are"
run "$SLUICE" logs nightly_etl c1 extract --json
jq_ok '.log == "three\nfour\n\ufffdfive" and .outcome == "success"' "$TMP/out" \
	"logs --json replaces invalid UTF-8 with U+FFFD"
run "$SLUICE" logs nightly_etl c1 extract --follow --try 1
expect_status 0 "--follow of an ended attempt prints it and exits"

done_testing
