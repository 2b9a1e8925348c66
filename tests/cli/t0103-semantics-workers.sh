#!/bin/sh
# Workflow semantics that depend on which worker runs what, end to end with
# sluice-scheduler and sluice-worker: queues (a task waits, visibly, for a
# worker serving its queue), sensors (a poke that is "not yet" frees its
# worker slot and pool slot, uses no retry, and fails at the sensor's
# timeout), and depends_on_past.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db semworkers

# ti_is RUN_ID TASK STATES: the task's state is one of STATES ('a', 'b').
ti_is() {
	echo "SELECT ti.state IN ($3) FROM task_instances ti JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2' AND ti.kind = 'task'"
}

PORT=$(free_port)
R=$TMP/repo
mkdir -p "$R/dags"

cat >"$R/dags/mixed.yaml" <<'EOF'
schedule: null
tasks:
  cpu: {command: "true"}
  gpu: {command: "true", queue: gpu}
EOF
# The sensor goes first (priority); the worker of its queue has one slot
# and the pool one slot, so `other` runs only if a poke frees both.
cat >"$R/dags/sensed.yaml" <<'EOF'
schedule: null
defaults: {queue: sense, pool: sp}
tasks:
  wait:
    command: test -e "$GO" || exit 75
    env: {GO: "@GO@"}
    sensor: {poke_interval: 1s, timeout: 5m}
    priority: 5
  other:
    command: echo other ran
EOF
cat >"$R/dags/never.yaml" <<'EOF'
schedule: null
defaults: {queue: sense}
tasks:
  never:
    command: exit 75
    sensor: {poke_interval: 1s, timeout: 3s}
EOF
cat >"$R/dags/past.yaml" <<'EOF'
schedule: null
tasks:
  t:
    command: test -e "$OK"
    env: {OK: "@OK@"}
    depends_on_past: true
  other: {command: "true"}
EOF
sed -i "s|@GO@|$TMP/go|" "$R/dags/sensed.yaml"
sed -i "s|@OK@|$TMP/ok|" "$R/dags/past.yaml"
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
worker_config "$TMP/ws.yaml" ws "queues: [sense]"
sed -i 's/^slots: .*/slots: 1/' "$TMP/ws.yaml"
worker_config "$TMP/wgpu.yaml" wgpu "queues: [gpu]"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 60
ok $? "the scheduler reads the DAGs"
start_worker w1
start_worker ws
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 60 &&
	wait_for "$TMP/s1.log" 'event=worker_connected .*worker=ws' 60
ok $? "the workers connect"

# --- queues ------------------------------------------------------------------
run "$SLUICE" trigger mixed --run-id q1
expect_status 0 "trigger a run with a task of queue gpu"
wait_sql "$(ti_is q1 cpu "'success'")"
ok $? "the default queue's task runs"
wait_sql "$(ti_is q1 gpu "'scheduled'")"
ok $? "the gpu task is ready"
run "$SLUICE" workers list
expect_grep "$TMP/out" '^queue gpu: 1 task waiting, no live worker serves it$' \
	"workers list names the queue no live worker serves"
run "$SLUICE" status
expect_grep "$TMP/out" '^queue gpu: 1 task waiting, no live worker serves it$' \
	"and so does status"
run "$SLUICE" status --json
expect_jq "$TMP/out" '.queues[] | select(.queue == "gpu") | .served == false and .scheduled == 1' \
	"status --json: the queue is not served"
run "$SLUICE" workers list --json
expect_jq "$TMP/out" '[.[].worker] == ["w1", "ws"]' "workers list --json stays a list of workers"
expect_grep "$TMP/err" '^queue gpu: 1 task waiting' "with the warning on standard error"
test "$(pg_sql "SELECT count(*) FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'q1' AND ti.task_id = 'gpu'")" = 0
ok $? "no worker of another queue took it"
start_worker wgpu
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'q1'"
ok $? "a worker with queue gpu starts: the run finishes"
test "$(pg_sql "SELECT string_agg(ti.task_id || '@' || a.worker_id, ' ' ORDER BY ti.ti_id)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'q1'")" = "cpu@w1 gpu@wgpu"
ok $? "each task ran on a worker of its queue"
run "$SLUICE" workers list
grep -q '^queue gpu' "$TMP/out"
ok $((! $?)) "served again: workers list no longer warns"

# --- sensors -------------------------------------------------------------------
"$SLUICE" pools set sp 1 >/dev/null || exit 1
run "$SLUICE" trigger sensed --run-id s1
expect_status 0 "trigger a sensor and another task, one worker slot, one pool slot"
wait_sql "$(ti_is s1 other "'success'")"
ok $? "while the sensor waits, the other task runs on the worker's one slot and the pool's"
test ! -e "$TMP/go" && test "$(pg_sql "$(ti_is s1 wait "'success'")")" = f
ok $? "the sensor has not succeeded"
wait_sql "SELECT count(*) >= 2 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 's1' AND ti.task_id = 'wait'
	AND a.outcome = 'reschedule'"
ok $? "it is poked again after poke_interval"
touch "$TMP/go"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 's1'"
ok $? "once its condition holds the sensor succeeds, and the run"
test "$(pg_sql "SELECT bool_and(a.outcome = 'reschedule') FILTER (WHERE a.poke_number < m.last),
	max(a.outcome) FILTER (WHERE a.poke_number = m.last), bool_and(a.try_number = 1),
	ti.try_number = 1 AND ti.max_tries = 1
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	CROSS JOIN LATERAL (SELECT max(poke_number) AS last FROM attempts WHERE ti_id = ti.ti_id) m
	WHERE r.run_id = 's1' AND ti.task_id = 'wait' GROUP BY ti.ti_id, m.last")" = "t|success|t|t"
ok $? "every poke but the last was 'not yet', all pokes of try 1: none used a retry (retries: 0)"

run "$SLUICE" trigger never --run-id n1
wait_sql "SELECT state = 'failed' FROM runs WHERE run_id = 'n1'"
ok $? "a sensor that never succeeds fails its run"
run "$SLUICE" runs show never n1 --json
expect_jq "$TMP/out" '.tasks[0].state == "failed" and
	(.tasks[0].reason | test("^sensor timed out after [0-9]+s \\(timeout 3s\\)$"))' \
	"at the sensor's timeout, with the reason"
test "$(pg_sql "SELECT count(*) >= 2 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'n1'")" = t
ok $? "after several pokes"

# --- depends_on_past ----------------------------------------------------------
run "$SLUICE" trigger past --run-id p1 --logical-date 2026-01-01T00:00:00Z
wait_sql "SELECT state = 'failed' FROM runs WHERE run_id = 'p1'"
ok $? "the first run's task fails"
run "$SLUICE" trigger past --run-id p2 --logical-date 2026-01-02T00:00:00Z
wait_sql "$(ti_is p2 other "'success'")"
ok $? "the next run starts"
test "$(pg_sql "$(ti_is p2 t "'pending'")")" = t
ok $? "its depends_on_past task waits: the same task of the run before did not succeed"
touch "$TMP/ok"
run "$SLUICE" tasks mark past p1 t success
expect_status 0 "mark the earlier task success"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'p2'"
ok $? "the waiting task runs then, and its run succeeds"

stop_daemon wgpu
stop_daemon ws
stop_daemon w1
stop_daemon s1
done_testing
