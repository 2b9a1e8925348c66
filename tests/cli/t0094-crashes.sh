#!/bin/sh
# Crashes end to end (issue 4, point 8), with a private PostgreSQL, a git
# repository, sluice-scheduler and sluice-worker: a worker killed with
# SIGKILL mid-task (its attempt is lost after heartbeat_timeout and retried
# on another worker); the scheduler killed with SIGKILL mid-run and
# restarted (a result reached while it was down is recorded once, a worker
# that stays away loses its attempt and its late result is fenced off, no
# two attempts of a task instance overlap).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db crashes

PORT=$(free_port)

# attempt_of RUN_ID TASK TRY: the attempt id.
attempt_of() {
	pg_sql "SELECT a.attempt_id FROM attempts a JOIN task_instances ti USING (ti_id)
		JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2' AND a.try_number = $3"
}

# worker_of RUN_ID TASK TRY: the worker the attempt was dispatched to.
worker_of() {
	pg_sql "SELECT a.worker_id FROM attempts a JOIN task_instances ti USING (ti_id)
		JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2' AND a.try_number = $3"
}

# --- the DAG repository ------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags"
# Try 1 becomes the process it records, so the test can kill the orphan.
cat >"$R/dags/lost.yaml" <<EOF
schedule: null
tasks:
  job:
    command: echo \$\$ >"$TMP/job.\$SLUICE_TRY_NUMBER.pid"; [ "\$SLUICE_TRY_NUMBER" -ge 2 ] || exec sleep 300; echo "finished on try \$SLUICE_TRY_NUMBER"
    retries: 1
    retry_delay: 1s
EOF
cat >"$R/dags/crash.yaml" <<EOF
schedule: null
tasks:
  held:
    command: echo "held started" >"$TMP/held.state"; while [ ! -f "$TMP/held.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done; echo "held finished"
  after:
    command: echo ran >>"$TMP/after.count"; echo "after ran"
    depends_on: [held]
EOF
cat >"$R/dags/fence.yaml" <<EOF
schedule: null
tasks:
  stuck:
    command: echo "try \$SLUICE_TRY_NUMBER" >"$TMP/stuck.\$SLUICE_TRY_NUMBER.state"; [ "\$SLUICE_TRY_NUMBER" -ge 2 ] || while [ ! -f "$TMP/stuck.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done; echo "stuck try \$SLUICE_TRY_NUMBER"
    retries: 1
    retry_delay: 1s
EOF
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags "heartbeat_timeout: 5s"
for w in w1 w2 w3; do
	worker_config "$TMP/$w.yaml" $w "slots: 1"
done
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed .* failed=0 ' 30
ok $? "the scheduler loads the DAGs"

# --- f. a worker killed with SIGKILL mid-task ------------------------------------
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "w1 connects"
run "$SLUICE" trigger lost --run-id f1
expect_status 0 "trigger a long task"
wait_for "$TMP/job.1.pid" '[0-9]' 30
ok $? "its first try runs on w1"
start_worker w2
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w2' 30
ok $? "a second worker connects"
kill -9 "$w1_pid"
wait "$w1_pid" 2>/dev/null
wait_for "$TMP/s1.log" 'event=worker_lost worker=w1 attempts_ended=1' 30
ok $? "w1 is lost after heartbeat_timeout, its attempt ended"
wait_run lost f1
ok $? "the run finishes"
expect_str "$(attempts_of f1 job)" "1:lost:w1 2:success:w2" \
	"the attempt on the killed worker is lost; the retry succeeds on the other worker"
run "$SLUICE" runs show lost f1 --json
expect_jq "$TMP/out" '.state == "success" and .tasks[0].worker == "w2"
	and .tasks[0].try_number == 2' "runs show: success on try 2, on w2"
run "$SLUICE" logs lost f1 job
expect_file "$TMP/out" "finished on try 2" "the retry's log"
# The orphan of the killed worker is still sleeping: stop it.
kill -9 "$(cat "$TMP/job.1.pid")" 2>/dev/null
rm -f "$TMP"/job.*.pid

# --- g. the scheduler killed with SIGKILL mid-run ----------------------------------
start_worker w3
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w3' 30
ok $? "w3 connects"
# Each worker has one slot: stuck takes one, held the other.
run "$SLUICE" trigger fence --run-id g2
wait_for "$TMP/stuck.1.state" 'try 1' 30
ok $? "fence: try 1 of stuck is running"
X=$(worker_of g2 stuck 1)
run "$SLUICE" trigger crash --run-id g1
wait_for "$TMP/held.state" 'held started' 30
ok $? "crash: held is running"
Y=$(worker_of g1 held 1)
test -n "$X" && test -n "$Y" && test "$X" != "$Y"
ok $? "they run on two workers ($X, $Y)"
eval "x_pid=\$${X}_pid"
held_attempt=$(attempt_of g1 held 1)
stuck_attempt=$(attempt_of g2 stuck 1)

# X stays away (stopped) while the scheduler is down and after; held
# finishes while the scheduler is down, so Y must keep its result.
kill -STOP "$x_pid"
kill -9 "$s1_pid"
wait "$s1_pid" 2>/dev/null
: >"$TMP/held.gate"
wait_for "$TMP/$Y.log" "event=attempt_finished attempt=$held_attempt .*outcome=success" 30
ok $? "held finishes while the scheduler is down"
cp "$TMP/s1.yaml" "$TMP/s2.yaml"
start_scheduler s2
wait_for "$TMP/s2.log" "event=worker_connected .*worker=$Y" 30
ok $? "$Y reconnects to the restarted scheduler"
wait_for "$TMP/s2.log" "event=result worker=$Y attempt=$held_attempt " 30
ok $? "held's result, kept by $Y, is recorded after the restart"
expect_grep "$TMP/$Y.log" "event=result_resent attempt=$held_attempt " \
	"$Y sent the kept result again"
expect_str "$(grep -c "event=result.* attempt=$held_attempt " "$TMP/s2.log")" 1 \
	"the restarted scheduler got it once"
wait_run crash g1
run "$SLUICE" runs show crash g1 --json
expect_jq "$TMP/out" '.state == "success" and ([.tasks[] | .try_number] == [1, 1])' \
	"the run completes; every task on its first try"
expect_file "$TMP/after.count" "ran" "the downstream task ran once"
run "$SLUICE" logs crash g1 held
expect_file "$TMP/out" "held finished" "held's log, once"

wait_for "$TMP/s2.log" "event=worker_lost worker=$X attempts_ended=1" 30
ok $? "$X, away for heartbeat_timeout, is lost"
wait_run fence g2
expect_str "$(attempts_of g2 stuck)" "1:lost:$X 2:success:$Y" "stuck is retried on $Y"
: >"$TMP/stuck.gate"
kill -CONT "$x_pid"
# Back, X finds its lease long expired and kills the task, unless the task
# (its gate is open) ended first: either way its report is stale.
wait_for "$TMP/s2.log" "event=\(result_stale\|attempt_lost\) worker=$X attempt=$stuck_attempt .*\(ended=no\|outcome=\)" 30
ok $? "$X comes back; its late result is stale and dropped"
wait_for "$TMP/$X.log" "event=result_acked attempt=$stuck_attempt " 30
ok $? "and acknowledged, so $X forgets it"
expect_str "$(attempts_of g2 stuck)" "1:lost:$X 2:success:$Y" "the lost attempt stays lost"
run "$SLUICE" runs show fence g2 --json
expect_jq "$TMP/out" '.state == "success" and .tasks[0].try_number == 2' \
	"the run keeps its result"
sql_is "SELECT count(*) FROM attempts a JOIN attempts b
		ON a.ti_id = b.ti_id AND a.attempt_id < b.attempt_id
	WHERE tstzrange(coalesce(a.started_at, a.queued_at), coalesce(a.ended_at, 'infinity'))
		&& tstzrange(coalesce(b.started_at, b.queued_at), coalesce(b.ended_at, 'infinity'))" 0 \
	"no task instance ever had two attempts whose run times overlap"
sql_is "SELECT count(*) FROM task_instances ti
	WHERE try_number <> (SELECT count(*) FROM attempts a WHERE a.ti_id = ti.ti_id)" 0 \
	"every try is one attempt, no result applied twice"

for d in s2 w2 w3; do
	stop_daemon $d
	expect_status 0 "$d stops on SIGTERM"
done

done_testing
