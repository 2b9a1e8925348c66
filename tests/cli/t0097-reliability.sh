#!/bin/sh
# Nothing stranded (docs/reliability.md), end to end with a private
# PostgreSQL, a git repository and the real daemons: a worker killed and
# restarted under its own name within a second (its attempt ends at the
# new HELLO, not after heartbeat_timeout, and the old process is killed
# before anything runs again); outputs the protocol cannot carry (the
# attempt fails with the reason, the worker's other results still flow);
# a DISPATCH over the frame limit (failed with the reason, the connection
# stays up); a RESULT the scheduler refuses (the attempt ends lost with the
# reason, a NACK answers it, the connection stays up).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db reliability

PORT=$(free_port)

reason_of() {
	pg_sql "SELECT ti.reason FROM task_instances ti JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2'"
}

R=$TMP/repo
mkdir -p "$R/dags"
# Try 1 waits for a gate (or for the test's folder to go); try 2 ends at once.
cat >"$R/dags/restart.yaml" <<EOF
schedule: null
tasks:
  job:
    command: echo \$\$ >"$TMP/job.\$SLUICE_TRY_NUMBER.pid"; [ "\$SLUICE_TRY_NUMBER" -ge 2 ] || while [ ! -f "$TMP/job.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done; echo "try \$SLUICE_TRY_NUMBER" >>"$TMP/job.ran"
    retries: 1
    retry_delay: 1s
EOF
cat >"$R/dags/outs.yaml" <<'EOF'
schedule: null
tasks:
  longkey:
    command: printf '%0250d=1\n' 0 | tr 0 k >>"$SLUICE_OUTPUT"
  latin1:
    command: printf 'name=caf\351\n' >>"$SLUICE_OUTPUT"
EOF
cat >"$R/dags/fine.yaml" <<'EOF'
schedule: null
tasks:
  hello:
    command: echo fine; echo "greeting=hi" >>"$SLUICE_OUTPUT"
EOF
# 18 upstream outputs of 60,000 bytes reach sink's environment: over the
# 1 MiB frame, though each one is within every limit.
{
	printf 'schedule: null\ntasks:\n'
	deps=
	i=1
	while [ $i -le 18 ]; do
		printf '  u%s:\n    command: printf %s >>"$SLUICE_OUTPUT"\n' $i "\"v=%060000d\\\\n\" 0"
		deps="$deps${deps:+, }u$i"
		i=$((i + 1))
	done
	printf '  sink:\n    command: echo never\n    depends_on: [%s]\n' "$deps"
} >"$R/dags/fanin.yaml"
cat >"$R/dags/solo.yaml" <<'EOF'
schedule: null
tasks:
  only:
    command: echo only
    queue: py
    retries: 0
EOF
git_repo "$R" || exit 1

# A heartbeat_timeout far longer than the test waits: what ends the
# attempts here is the worker's word, never the timeout.
sched_config "$TMP/s1.yaml" "$R" dags "heartbeat_timeout: 60s"
worker_config "$TMP/w1.yaml" w1 "slots: 2"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed .* failed=0 ' 30
ok $? "the scheduler loads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "w1 connects"

# --- 1. a worker restarted under its own name within a second -------------------
run "$SLUICE" trigger restart --run-id q1
expect_status 0 "trigger a task that waits"
wait_for "$TMP/job.1.pid" '[0-9]' 30
ok $? "try 1 runs on w1"
job1=$(cat "$TMP/job.1.pid")
kill -9 "$w1_pid"
wait "$w1_pid" 2>/dev/null
alive "$job1"
ok $? "the killed worker's task process lives on"
start=$(date +%s)
first_life=$(wc -l <"$TMP/w1.log")
start_worker w1
wait_for "$TMP/s1.log" 'event=attempt_lost worker=w1 attempt=[0-9]* fence=[0-9]* ended=yes reason="the worker does not hold it any more' 20
ok $? "the restarted worker's HELLO ends the attempt it no longer holds"
wait_run restart q1 30
ok $? "the run finishes"
took=$(($(date +%s) - start))
[ "$took" -lt 30 ]
ok $? "well within heartbeat_timeout (60 s): $took s"
expect_str "$(attempts_of q1 job)" "1:lost:w1 2:success:w1" "try 1 lost, try 2 succeeds"
! alive "$job1"
ok $? "try 1's process was killed at the worker's start"
expect_str "$(cat "$TMP/job.ran")" "try 2" "only try 2 ran to its end"
awk -v from="$first_life" 'NR > from && /event=leftover_killed/ { k = NR }
	NR > from && /event=connected / && !c { c = NR } END { exit !(k && c && k < c) }' "$TMP/w1.log"
ok $? "the leftover was killed before the worker connected"
expect_str "$(reason_of q1 job)" "" "the success leaves no reason"
run pg_sql "SELECT count(*) FROM attempts WHERE ended_at IS NULL"
expect_file "$TMP/out" "0" "no attempt is left live"

# --- 2. outputs the protocol cannot carry ------------------------------------------
section2=$(wc -l <"$TMP/s1.log")
run "$SLUICE" trigger outs --run-id o1
wait_run outs o1 30
ok $? "a run whose outputs break the limits finishes"
expect_str "$(attempts_of o1 longkey) $(attempts_of o1 latin1)" "1:failed:w1 1:failed:w1" \
	"both attempts fail, once each (no retry, nothing lost)"
run "$SLUICE" logs outs o1 longkey
expect_grep "$TMP/out" "key 'k*.*' is 250 characters, more than 200" \
	"the log says which key is too long"
run "$SLUICE" logs outs o1 latin1
expect_grep "$TMP/out" "the value of 'name' is not UTF-8" "the log says which value is not UTF-8"
run "$SLUICE" trigger fine --run-id f1
wait_run fine f1 30
expect_str "$(attempts_of f1 hello)" "1:success:w1" "the same worker's next result is delivered"
[ -z "$(ls -A "$TMP/w1.yaml.state/results" | grep -v '^dead$')" ]
ok $? "no result is left on the worker"

# --- 3. a DISPATCH over the frame limit ----------------------------------------------
run "$SLUICE" trigger fanin --run-id d1
wait_run fanin d1 60
ok $? "the run whose last task cannot be dispatched finishes"
run pg_sql "SELECT state FROM runs WHERE run_id = 'd1'"
expect_file "$TMP/out" "failed" "the run fails"
expect_str "$(attempts_of d1 sink)" "1:lost:w1" "sink's attempt ends lost, never sent"
expect_grep "$TMP/s1.log" 'event=attempt_lost worker=w1 attempt=[0-9]* fence=[0-9]* ended=yes reason="it cannot be dispatched: frame of [0-9]* bytes exceeds the 1048576-byte limit' \
	"the scheduler says why"
case $(reason_of d1 sink) in
"it cannot be dispatched: frame of "*) ok 0 "runs show's reason names the limit" ;;
*) ok 1 "runs show's reason names the limit: $(reason_of d1 sink)" ;;
esac
! tail -n +"$((section2 + 1))" "$TMP/s1.log" | grep -q 'event=worker_disconnected'
ok $? "the worker's connection never dropped (sections 2 and 3)"
run "$SLUICE" trigger fine --run-id f2
wait_run fine f2 30
expect_str "$(attempts_of f2 hello)" "1:success:w1" "w1 still runs work"

# --- 4. a RESULT the scheduler refuses ------------------------------------------------
# A worker of our own in Python: it answers its DISPATCH with a RESULT
# whose output key breaks the protocol, then needs a NACK and a live
# connection (a HEARTBEAT after it).
cat >"$TMP/badworker.py" <<'EOF'
import sys, time
import worker_client
port, token = int(sys.argv[1]), open(sys.argv[2]).read().strip()
c = worker_client.connect(port)
send, recv = c.send, c.recv
send(1, {"version_min": 2, "version_max": 2, "token": token, "worker_id": "py1",
         "host": "h", "slots": 1, "queues": ["py"], "running": []})
t, o = recv()
assert t == 2, (t, o)
print("WELCOME", flush=True)
seen = 0
while True:
    t, o = recv()
    if t == 5:
        seen += 1
        print("DISPATCH", o["attempt_id"], flush=True)
        now = int(time.time() * 1000)
        send(7, {"attempt_id": o["attempt_id"], "fencing_token": o["fencing_token"],
                 "outcome": "success", "exit_code": 0, "started_ms": now,
                 "ended_ms": now, "outputs": [["bad key", "v"]], "log_bytes": 0,
                 "truncated": False})
        send(4, {"running": [o["attempt_id"]], "dispatches": seen})
    elif t == 11:
        print("NACK", o["attempt_id"], o["fencing_token"], o["reason"], flush=True)
        send(4, {"running": [], "dispatches": seen})
    elif t == 4:
        print("HEARTBEAT", flush=True)
EOF
PYTHONPATH="$TESTS_DIR/cli" python3 "$TMP/badworker.py" "$PORT" "$TMP/token" >"$TMP/py.out" 2>&1 &
py_pid=$!
daemons_pids="$daemons_pids $py_pid"
wait_for "$TMP/py.out" '^WELCOME' 20
ok $? "the hand-made worker is welcomed"
run "$SLUICE" trigger solo --run-id r1
wait_for "$TMP/py.out" '^NACK ' 30
ok $? "the refused RESULT is answered by a NACK"
expect_grep "$TMP/py.out" '^NACK [0-9]* [0-9]* RESULT message: field "outputs" item 1 has a bad key' \
	"the NACK names the attempt and the field"
wait_for "$TMP/py.out" '^HEARTBEAT' 20
ok $? "the connection stays up after the refusal"
wait_run solo r1 30
expect_str "$(attempts_of r1 only)" "1:lost:py1" "the attempt ends lost"
case $(reason_of r1 only) in
"its result was refused: RESULT message: field \"outputs\""*) ok 0 "with the reason" ;;
*) ok 1 "with the reason: $(reason_of r1 only)" ;;
esac
expect_grep "$TMP/s1.log" 'event=frame_refused worker=py1 type=RESULT attempt=[0-9]*' \
	"the scheduler logs the refused frame"
kill "$py_pid" 2>/dev/null

stop_daemon w1
expect_status 0 "w1 stops cleanly"
stop_daemon s1
expect_status 0 "the scheduler stops cleanly"

# --- 5. the lease fences every engine transaction that writes ---------------------
# With the daemons stopped, engine_tool plays a scheduler: the lease row
# says s1's holder leads at its epoch for another hour.
ENGINE=${SLUICE_ENGINE_TOOL:?}
holder=$(pg_sql "SELECT holder FROM scheduler_lease")
epoch=$(pg_sql "SELECT epoch FROM scheduler_lease")
pg_sql "UPDATE scheduler_lease SET expires_at = now() + interval '1 hour'" >/dev/null
pending="SELECT count(*) FROM task_instances ti JOIN runs r USING (run_pk)
	WHERE r.run_id = '%s' AND ti.state = 'pending'"
run "$SLUICE" trigger fine --run-id z1
now=$(date +%s)
SLUICE_TEST_FENCE="$holder:$((epoch - 1))" run "$ENGINE" advance "$now"
expect_status 1 "fence: an older epoch of the same holder may not write"
expect_grep "$TMP/err" "this scheduler no longer holds the leader lease (epoch $((epoch - 1))): the write was refused" \
	"fence: and is told why"
sql_is "$(printf "$pending" z1)" 1 "fence: what it wrote is rolled back"
SLUICE_TEST_FENCE="another-scheduler:$epoch" run "$ENGINE" advance "$now"
expect_status 1 "fence: another holder may not write"
SLUICE_TEST_FENCE="$holder:0" run "$ENGINE" advance "$now"
expect_status 1 "fence: epoch 0 (never led) may not write"
SLUICE_TEST_FENCE="$holder:$((epoch - 1))" run "$ENGINE" claim w9 default 1 "$now"
expect_status 0 "fence: a transaction that writes nothing is not refused (nothing to fence)"
SLUICE_TEST_FENCE="$holder:$epoch" run "$ENGINE" advance "$now"
expect_status 0 "fence: the holder at its epoch may write"
sql_is "$(printf "$pending" z1)" 0 "fence: and its write is committed"
pg_sql "UPDATE scheduler_lease SET expires_at = now()" >/dev/null
run "$SLUICE" trigger fine --run-id z2
SLUICE_TEST_FENCE="$holder:$epoch" run "$ENGINE" advance "$now"
expect_status 1 "fence: not once the lease has expired"
sql_is "$(printf "$pending" z2)" 1 "fence: nothing of it is written"
done_testing
