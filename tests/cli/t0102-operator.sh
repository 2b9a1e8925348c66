#!/bin/sh
# Operator actions on live runs, with the real scheduler and worker while
# tasks run: runs cancel (the task's process is killed, nothing more is
# dispatched), tasks clear of a running run (a finished upstream task runs
# again; a running task is killed and runs again) and of a failed run with
# --downstream, tasks mark success/failed of a running task, and dags pause
# (the live run finishes, no new scheduled run until unpause).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db operator

PORT=$(free_port)

# gone PIDFILE: the process whose pid the task wrote ends (60 s at most).
gone() {
	g_pid=$(cat "$1" 2>/dev/null)
	[ -n "$g_pid" ] || return 1
	g_i=0
	while kill -0 "$g_pid" 2>/dev/null; do
		g_i=$((g_i + 1))
		[ $g_i -gt 600 ] && return 1
		sleep 0.1
	done
	return 0
}

# new_pid PIDFILE OLD: the file holds a pid other than OLD (60 s at most).
new_pid() {
	np_i=0
	while np_v=$(cat "$1" 2>/dev/null); [ -z "$np_v" ] || [ "$np_v" = "$2" ]; do
		np_i=$((np_i + 1))
		[ $np_i -gt 600 ] && return 1
		sleep 0.1
	done
	return 0
}

# tis RUN_ID: task:state of a run, in task order.
tis() {
	pg_sql "SELECT string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
		FROM runs r JOIN task_instances ti USING (run_pk) WHERE r.run_id = '$1'"
}

# A task that records its pid, then waits for its go file.
hold() {
	printf 'echo $$ >"%s/%s.pid"; while [ ! -f "%s/%s.go" ]; do sleep 0.2; done' \
		"$TMP" "$1" "$TMP" "$1"
}

# hold_stubborn NAME: like hold, but ignores SIGTERM (so a kill takes the
# worker's whole grace period) and appends to NAME.overlap when it starts
# while the process of an earlier try still runs.
hold_stubborn() {
	printf 'trap "" TERM; p=$(cat "%s/%s.pid" 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$p" >>"%s/%s.overlap"; fi; ' \
		"$TMP" "$1" "$TMP" "$1"
	hold "$1"
}

# --- the DAG repository ------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/cancelme.yaml" <<EOF
schedule: null
tasks:
  long:
    command: echo \$\$ >"$TMP/long.pid"; exec sleep 300
  after:
    command: echo "$TMP/after.ran" >"$TMP/after.ran"
    depends_on: [long]
  held:
    command: "true"
    pool: closed
EOF
cat >"$R/dags/clearlive.yaml" <<EOF
schedule: null
tasks:
  first:
    command: echo run >>"$TMP/first.count"
  second:
    command: '$(hold_stubborn second)'
    depends_on: [first]
EOF
cat >"$R/dags/fixme.yaml" <<EOF
schedule: null
tasks:
  check:
    command: test -f "$TMP/fixed"
  report:
    command: echo reported
    depends_on: [check]
EOF
cat >"$R/dags/markme.yaml" <<EOF
schedule: null
tasks:
  work:
    command: echo \$\$ >"$TMP/mark-\$SLUICE_RUN_ID.pid"; exec sleep 300
  next:
    command: echo next
    depends_on: [work]
EOF
START=$(date -u -d '-5 hours' +%Y-%m-%dT%H:00:00Z)
cat >"$R/dags/hourly.yaml" <<EOF
schedule: "@hourly"
start_date: $START
catchup: true
max_active_runs: 1
tasks:
  slow:
    command: '$(hold hourly)'
  after:
    command: echo after
    depends_on: [slow]
EOF
cat >"$R/dags/probe.yaml" <<EOF
schedule: null
tasks:
  p:
    command: "true"
EOF
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
sed -i 's/^slots: .*/slots: 6/' "$TMP/w1.yaml"
"$SLUICE" pools set closed 0 >/dev/null || exit 1
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 60
ok $? "the scheduler reads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 60
ok $? "the worker connects"

# --- runs cancel ---------------------------------------------------------------
run "$SLUICE" trigger cancelme --run-id c1
expect_status 0 "trigger a run with a long task"
wait_for "$TMP/long.pid" '[0-9]' 60
ok $? "the long task runs"
wait_sql "SELECT state = 'running' FROM runs WHERE run_id = 'c1'"
ok $? "the run is running"
test "$(tis c1)" = "long:running after:pending held:scheduled"
ok $? "running, pending and scheduled (no pool slot) task instances"
run "$SLUICE" runs cancel cancelme c1
expect_status 0 "runs cancel"
gone "$TMP/long.pid"
ok $? "the running task's process is killed"
expect_grep "$TMP/w1.log" 'event=cancel attempt=' "the worker received a CANCEL"
sql_is "SELECT state FROM runs WHERE run_id = 'c1'" cancelled "the run is cancelled"
sql_is "SELECT ti.task_id || ':' || a.outcome FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'c1'" "long:cancelled" \
	"the attempt's outcome is cancelled"
# The worker's result for the killed attempt is the last word of this
# attempt; a probe run after it proves that ticks went by.
wait_for "$TMP/s1.log" 'event=result_stale worker=w1' 60
ok $? "the killed attempt's result arrives and is stale"
run timeout 120 "$SLUICE" trigger probe --run-id probe1 --wait
expect_status 0 "a later run goes through the scheduler"
run tis c1
expect_file "$TMP/out" "long:cancelled after:cancelled held:cancelled" \
	"pending and scheduled task instances are cancelled"
sql_is "SELECT count(*) FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'c1'" 1 "nothing more was dispatched"
test ! -e "$TMP/after.ran"
ok $? "the downstream task never ran"

# --- tasks clear of a running run ----------------------------------------------
run "$SLUICE" trigger clearlive --run-id l1
expect_status 0 "trigger a run whose second task waits"
wait_for "$TMP/second.pid" '[0-9]' 60
ok $? "the second task runs"
cp "$TMP/second.pid" "$TMP/second1.pid"
run "$SLUICE" tasks clear clearlive l1 first
expect_status 0 "clear the finished upstream task of the running run"
wait_sql "SELECT count(*) = 2 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'l1' AND ti.task_id = 'first'
	AND a.outcome = 'success'"
ok $? "the finished upstream task runs again"
kill -0 "$(cat "$TMP/second1.pid")" 2>/dev/null
ok $? "the running downstream task was left alone"
run "$SLUICE" tasks clear clearlive l1 second
expect_status 0 "clear the running task"
gone "$TMP/second1.pid"
ok $? "its process is killed"
wait_sql "SELECT count(*) = 1 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'l1' AND ti.task_id = 'second'
	AND a.try_number = 2 AND a.ended_at IS NULL"
ok $? "it is dispatched again as try 2"
new_pid "$TMP/second.pid" "$(cat "$TMP/second1.pid")"
ok $? "try 2 runs in a new process"
test ! -e "$TMP/second.overlap"
ok $? "try 2 started only once try 1's process (deaf to SIGTERM) was gone"
wait_sql "SELECT state = 'running' FROM runs WHERE run_id = 'l1'"
ok $? "the run is running again"
touch "$TMP/second.go"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'l1'"
ok $? "the run ends success"
sql_is "SELECT string_agg(a.try_number || ':' || a.outcome, ' ' ORDER BY a.try_number)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'l1' AND ti.task_id = 'second'" "1:cancelled 2:success" \
	"the cleared try is cancelled, the next one succeeded"
test "$(wc -l <"$TMP/first.count")" -eq 2
ok $? "the upstream task ran twice"

# --- tasks clear --downstream of a failed run -----------------------------------
run timeout 120 "$SLUICE" trigger fixme --run-id f1 --wait
expect_status 1 "a run whose first task fails"
run tis f1
expect_file "$TMP/out" "check:failed report:upstream_failed" "its downstream task is upstream_failed"
touch "$TMP/fixed"
run "$SLUICE" tasks clear fixme f1 check --downstream
expect_status 0 "clear the failed task and its downstream"
expect_grep "$TMP/out" "report" "both are cleared"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'f1'"
ok $? "the run goes back and ends success"
run tis f1
expect_file "$TMP/out" "check:success report:success" "both tasks succeeded"
sql_is "SELECT ended_at IS NOT NULL FROM runs WHERE run_id = 'f1'" t "the run has an end time again"

# --- tasks mark --------------------------------------------------------------------
run "$SLUICE" trigger markme --run-id m1
expect_status 0 "trigger a run with a long task"
wait_for "$TMP/mark-m1.pid" '[0-9]' 60
ok $? "it runs"
run "$SLUICE" tasks mark markme m1 work success
expect_status 0 "mark the running task success"
gone "$TMP/mark-m1.pid"
ok $? "its process is killed"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'm1'"
ok $? "the downstream task runs and the run succeeds"
run tis m1
expect_file "$TMP/out" "work:success next:success" "work stays success, next ran"

run "$SLUICE" trigger markme --run-id m2
expect_status 0 "trigger another"
wait_for "$TMP/mark-m2.pid" '[0-9]' 60
ok $? "it runs"
run "$SLUICE" tasks mark markme m2 work failed
expect_status 0 "mark the running task failed"
gone "$TMP/mark-m2.pid"
ok $? "its process is killed"
wait_sql "SELECT state = 'failed' FROM runs WHERE run_id = 'm2'"
ok $? "the run fails"
run tis m2
expect_file "$TMP/out" "work:failed next:upstream_failed" "the downstream task is upstream_failed"

# --- dags pause --------------------------------------------------------------------
wait_for "$TMP/hourly.pid" '[0-9]' 60
ok $? "the hourly DAG's first catch-up run runs"
run "$SLUICE" dags pause hourly
expect_status 0 "pause it while its run is running"
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'hourly'" 1 "one run so far (max_active_runs)"
touch "$TMP/hourly.go"
wait_sql "SELECT state = 'success' FROM runs WHERE dag_id = 'hourly'"
ok $? "the running run finishes, downstream task included"
run timeout 120 "$SLUICE" trigger probe --run-id probe2 --wait
expect_status 0 "the scheduler goes on for other DAGs"
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'hourly'" 1 "no new scheduled run while paused"
run "$SLUICE" dags unpause hourly
expect_status 0 "unpause"
wait_sql "SELECT count(*) >= 5 AND bool_and(state = 'success') FROM runs WHERE dag_id = 'hourly'"
ok $? "the missed intervals get their runs once unpaused"

# --- nothing left behind -------------------------------------------------------------
stop_daemon w1
expect_status 0 "the worker stops cleanly"
stop_daemon s1
expect_status 0 "the scheduler stops cleanly"
left=0
for f in "$TMP"/*.pid; do
	if kill -0 "$(cat "$f")" 2>/dev/null; then
		echo "# still running: $f"
		left=1
	fi
done
ok $left "no task process is left"
done_testing
