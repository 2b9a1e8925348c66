#!/bin/sh
# An attempt belongs to the worker it was dispatched to (docs/security.md),
# end to end with a private PostgreSQL, the real scheduler and worker w1,
# and a hand-made client that knows the shared token and calls itself
# `evil`. It sends a LOG, a `lost` RESULT and a `success` RESULT with an
# output for w1's running attempt, with the attempt id and fencing token
# read from the database (the strongest forger): none of them changes the
# attempt, each is logged as report_refused, the RESULTs are acknowledged
# like stale ones, and the downstream task sees w1's output only. New
# attempts' fencing tokens are random, not the next number.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db ownership

PORT=$(free_port)

R=$TMP/repo
mkdir -p "$R/dags"
# `long` runs until the test opens its gate; `down` prints what it was
# given; `quick`, claimed with `long`, is there for its fencing token.
cat >"$R/dags/own.yaml" <<EOF
schedule: null
tasks:
  quick:
    command: "true"
  long:
    command: echo \$\$ >"$TMP/long.pid"; while [ ! -f "$TMP/long.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done; echo "v=real" >>"\$SLUICE_OUTPUT"
    retries: 0
  down:
    command: echo "seen=\$SLUICE_OUT_LONG_V"
    depends_on: [long]
EOF
git_repo "$R" || exit 1

# A heartbeat_timeout far longer than the test: nothing ends by timeout.
sched_config "$TMP/s1.yaml" "$R" dags "heartbeat_timeout: 60s"
worker_config "$TMP/w1.yaml" w1 "slots: 2"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed .* failed=0 ' 30
ok $? "the scheduler loads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "w1 connects"

run "$SLUICE" trigger own --run-id o1
expect_status 0 "trigger a run whose first task waits"
wait_for "$TMP/long.pid" '[0-9]' 30
ok $? "long runs on w1"
ref=$(pg_sql "SELECT a.attempt_id || ' ' || a.fencing_token FROM attempts a
	JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'o1' AND ti.task_id = 'long'")
A=${ref% *}
F=${ref#* }
live="SELECT a.worker_id || ':' || (a.ended_at IS NULL) || ':' || ti.state || ':' ||
	(SELECT count(*) FROM log_chunks l WHERE l.attempt_id = a.attempt_id
		AND position('forged' IN convert_from(l.data, 'UTF8')) > 0)
	FROM attempts a JOIN task_instances ti USING (ti_id) WHERE a.attempt_id = $A"
expect_str "$(pg_sql "$live")" "w1:true:running:0" "w1's attempt is live and running"

# The forger (tests/cli/worker_client.py speaks the frames).
cat >"$TMP/evil.py" <<'EOF'
import json, struct, sys, time
import worker_client
port, token = int(sys.argv[1]), open(sys.argv[2]).read().strip()
attempt, fence = sys.argv[3], int(sys.argv[4])
c = worker_client.connect(port)
frame, send, recv = c.frame, c.send, c.recv
send(1, {"version_min": 2, "version_max": 2, "token": token, "worker_id": "evil",
         "host": "h", "slots": 1, "queues": ["nothing-here"], "running": []})
t, o = recv()
assert t == 2, (t, o)
print("WELCOME", flush=True)
header = json.dumps({"attempt_id": attempt, "fencing_token": fence, "seq": 0,
                     "stream": "stdout"}).encode()
frame(6, struct.pack(">I", len(header)) + header + b"forged log\n")
now = int(time.time() * 1000)
for outcome, outputs in (("lost", []), ("success", [["v", "forged"]])):
    r = {"attempt_id": attempt, "fencing_token": fence, "outcome": outcome,
         "started_ms": now, "ended_ms": now, "outputs": outputs, "log_bytes": 11}
    if outcome == "success":
        r["exit_code"] = 0
    send(7, r)
acks = 0
while acks < 2:
    t, o = recv()
    if t in (8, 11):
        acks += 1
        print("ACK" if t == 8 else "NACK", o["attempt_id"], o["fencing_token"], flush=True)
EOF
PYTHONPATH="$TESTS_DIR/cli" python3 "$TMP/evil.py" "$PORT" "$TMP/token" "$A" "$F" >"$TMP/evil.out" 2>&1 &
evil_pid=$!
daemons_pids="$daemons_pids $evil_pid"
wait_exit "$evil_pid" 30
expect_status 0 "the forger is welcomed and answered twice"
expect_str "$(grep -c "^ACK $A $F\$" "$TMP/evil.out")" 2 \
	"both forged RESULTs get an ACK, as stale ones do: it learns nothing"
expect_str "$(pg_sql "$live")" "w1:true:running:0" \
	"the attempt is still w1's, live and running, and no forged chunk is stored"
expect_str "$(grep -c "event=report_refused peer=127.0.0.1:[0-9]* worker=evil attempt=$A report=log owner=w1 " "$TMP/s1.log")" 1 \
	"the scheduler logs the refused LOG with the sender and the owner"
expect_str "$(grep -c "event=report_refused peer=127.0.0.1:[0-9]* worker=evil attempt=$A report=result owner=w1 " "$TMP/s1.log")" 2 \
	"and the two refused RESULTs"

touch "$TMP/long.gate"
wait_run own o1 30
ok $? "the run finishes"
expect_str "$(attempts_of o1 long) $(attempts_of o1 down)" "1:success:w1 1:success:w1" \
	"both tasks succeed on w1"
run "$SLUICE" logs own o1 down
expect_grep "$TMP/out" "^seen=real\$" "down sees w1's output, not the forged one"
run pg_sql "SELECT outputs->>'v' FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'o1' AND ti.task_id = 'long'"
expect_file "$TMP/out" "real" "long's stored output is w1's"

# Two attempts created by one statement: a sequence gives n and n+1;
# random tokens are this close with odds of about 2^-39.
sql_is "SELECT abs(max(a.fencing_token)::numeric - min(a.fencing_token)::numeric) > 2^23
	AND min(a.fencing_token) > 0 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'o1' AND ti.task_id IN ('long', 'quick')" t \
	"the fencing tokens of two attempts claimed together are far apart, and positive"

stop_daemon w1
expect_status 0 "w1 stops cleanly"
stop_daemon s1
expect_status 0 "the scheduler stops cleanly"
expect_grep "$TMP/s1.log" 'event=stopped .*reports_refused=3$' "its last line counts the refused reports"
done_testing
