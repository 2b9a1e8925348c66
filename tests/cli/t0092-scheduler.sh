#!/bin/sh
# The scheduler daemon against a private PostgreSQL: LISTEN/NOTIFY wakes it
# for a trigger; two schedulers share one database and only the lease
# holder leads (a standby rejects workers; SIGKILL of the leader hands the
# lease over; SIGTERM releases it); a PostgreSQL restart mid-task is
# survived by the scheduler, the worker and a waiting `trigger --wait`; an
# attempt that the worker's heartbeats stop listing is lost and retried; log
# lines a task writes while its worker is disconnected reach the database.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

WAITPID=
FAKEPID=
cleanup() {
	[ -n "$WAITPID" ] && kill -9 "$WAITPID" 2>/dev/null
	[ -n "$FAKEPID" ] && kill -9 "$FAKEPID" 2>/dev/null
	[ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"
	daemons_cleanup
	pg_stop
	rm -rf "$TMP"
}
pg_start
trap cleanup EXIT
pg_newdb sched
"$SLUICE" db init >/dev/null || exit 1

# mark FILE: its line count now, for wait_new.
mark() { wc -l <"$1"; }

# wait_new FILE MARK PATTERN [SECONDS]: wait_for, counting only the lines
# after the first MARK ones (a daemon restarted appends to its log).
wait_new() {
	wn_i=0
	while ! tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -q -e "$3"; do
		wn_i=$((wn_i + 1))
		[ $wn_i -gt $((${4:-20} * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# count FILE PATTERN: lines of FILE matching PATTERN.
count() { grep -c -e "$2" "$1" 2>/dev/null; }

dump() { sed 's/^/#   /' "$@"; }

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/one.yaml" <<'EOF'
schedule: null
tasks:
  t:
    command: "true"
EOF
cat >"$R/dags/slow.yaml" <<EOF
schedule: null
tasks:
  nap:
    command: echo \$\$ >"$TMP/nap.started"; sleep 3; echo rested
EOF
cat >"$R/dags/chatty.yaml" <<'EOF'
schedule: null
tasks:
  talk:
    command: for i in 1 2 3 4 5 6; do echo "line $i"; sleep 1; done
EOF
cat >"$R/dags/burst.yaml" <<'EOF'
schedule: null
tasks:
  b:
    command: sleep 3; for i in $(seq 10 59); do echo "burst line $i"; done
EOF
cat >"$R/dags/fake.yaml" <<'EOF'
schedule: null
tasks:
  x:
    command: "true"
    queue: fake
    retries: 1
    retry_delay: 1s
EOF
git_repo "$R" || exit 1

P1=$(free_port)
P2=$(free_port)
PORT=$P1
sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
sed -i "s/^scheduler: .*/scheduler: [127.0.0.1:$P1, 127.0.0.1:$P2]/" "$TMP/w1.yaml"
PORT=$P2
sched_config "$TMP/s2.yaml" "$R" dags
worker_config "$TMP/w2.yaml" w2

# --- the lease: one leader, one standby ----------------------------------------
start_scheduler s1
wait_for "$TMP/s1.log" 'event=lease_acquired epoch=' 30
ok $? "the first scheduler takes the lease"
wait_for "$TMP/s1.log" 'event=refreshed' 30
ok $? "the leader refreshes the DAGs"
start_scheduler s2
wait_for "$TMP/s2.log" 'event=standby leader=' 30
ok $? "the second scheduler is a standby"
ID1=$(sed -n 's/.*event=started scheduler_id=\([^ ]*\).*/\1/p' "$TMP/s1.log" | head -n 1)
ID2=$(sed -n 's/.*event=started scheduler_id=\([^ ]*\).*/\1/p' "$TMP/s2.log" | head -n 1)
test -n "$ID1" && test -n "$ID2" && test "$ID1" != "$ID2"
ok $? "each scheduler has its own id ($ID1, $ID2)"
expect_grep "$TMP/s2.log" "event=standby leader=$ID1\$" "the standby names the leader"

run "$SLUICE" status --json
expect_jq "$TMP/out" ".scheduler.alive and .scheduler.holder == \"$ID1\"" \
	"sluice status shows the leader"

start_worker w2
wait_for "$TMP/s2.log" "event=worker_rejected .*reason=\"standby: leader is $ID1\"" 30
ok $? "a standby answers HELLO with REJECT naming the leader"
wait_for "$TMP/w2.log" 'event=rejected .*reason="standby: leader is' 30
ok $? "the worker logs the REJECT"
stop_daemon w2

start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "the worker with both addresses connects to the leader"

# --- NOTIFY -------------------------------------------------------------------
run timeout 120 "$SLUICE" trigger one --run-id n1 --wait
expect_status 0 "a triggered run succeeds"
[ "$status" -eq 0 ] || dump "$TMP/err" "$TMP/s1.log"
expect_grep "$TMP/s1.log" '^level=info event=notified payload="trigger one"$' \
	"the leader was woken by the trigger's NOTIFY"
expect_grep "$TMP/s1.log" 'event=dispatched worker=w1 .*dag=one run=n1' "and dispatched it"
test "$(count "$TMP/s2.log" 'event=dispatched')" -eq 0
ok $? "the standby dispatches nothing"
test "$(count "$TMP/s2.log" 'event=refreshed')" -eq 0
ok $? "the standby does not refresh the DAGs"

# --- SIGKILL of the leader: the standby takes over ------------------------------
kill -9 "$s1_pid"
wait "$s1_pid" 2>/dev/null
wait_for "$TMP/s2.log" 'event=lease_acquired epoch=' 60
ok $? "the standby takes the lease once it expires"
wait_for "$TMP/s2.log" 'event=worker_connected .*worker=w1' 90
ok $? "the worker moves to the new leader"
run "$SLUICE" status --json
expect_jq "$TMP/out" ".scheduler.alive and .scheduler.holder == \"$ID2\" and .scheduler.epoch == 2" \
	"sluice status shows the new leader, epoch 2"
run "$SLUICE" status
expect_grep "$TMP/out" "^scheduler: $ID2 (epoch 2), heartbeat" "and so does its text"
run timeout 120 "$SLUICE" trigger one --run-id n2 --wait
expect_status 0 "a new trigger runs to success under the new leader"
[ "$status" -eq 0 ] || dump "$TMP/err" "$TMP/s2.log" "$TMP/w1.log"
expect_grep "$TMP/s2.log" 'event=dispatched worker=w1 .*dag=one run=n2' \
	"through the same worker"

# --- SIGTERM releases the lease ----------------------------------------------------
m1=$(mark "$TMP/s1.log")
start_scheduler s1
wait_new "$TMP/s1.log" "$m1" "event=standby leader=$ID2" 30
ok $? "the restarted scheduler is a standby now"
stop_daemon s2
expect_status 0 "the leader stops on SIGTERM"
expect_grep "$TMP/s2.log" 'event=lease_released epoch=2' "it releases the lease"
wait_for "$TMP/s1.log" 'event=lease_acquired epoch=3' 30
ok $? "the standby takes it over"

# --- PostgreSQL restarts while a task runs -------------------------------------------
# A heartbeat_timeout longer than the outage and the worker's reconnect
# back-off: the point is that nothing is lost, not how fast.
stop_daemon s1
sed -i "s/^heartbeat_timeout: .*/heartbeat_timeout: 30s/" "$TMP/s1.yaml"
m1=$(mark "$TMP/s1.log")
start_scheduler s1
wait_new "$TMP/s1.log" "$m1" 'event=lease_acquired epoch=4' 30
ok $? "the leader is back"
wait_new "$TMP/s1.log" "$m1" 'event=worker_connected .*worker=w1' 90
ok $? "the worker with it"
m1=$(mark "$TMP/s1.log")

timeout 300 "$SLUICE" trigger slow --run-id p1 --wait >"$TMP/wait.out" 2>"$TMP/wait.err" &
WAITPID=$!
wait_for "$TMP/nap.started" '[0-9]' 60
ok $? "the task runs"
pg_restart 4
ok $? "PostgreSQL restarts"
wait_exit "$WAITPID" 240
expect_status 0 "trigger --wait started before the restart exits 0"
[ "$status" -eq 0 ] || dump "$TMP/wait.out" "$TMP/wait.err" "$TMP/s1.log" "$TMP/w1.log"
WAITPID=
expect_grep "$TMP/wait.out" '^run p1 success$' "the run succeeds"
tail -n +"$((m1 + 1))" "$TMP/s1.log" >"$TMP/s1.outage"
test "$(count "$TMP/s1.outage" 'event=db_failed')" -eq 1
ok $? "the scheduler logs db_failed once for the outage"
[ "$(count "$TMP/s1.outage" 'event=db_failed')" -eq 1 ] || dump "$TMP/s1.outage"
expect_grep "$TMP/s1.outage" 'event=db_recovered down_ms=' "then db_recovered"
expect_grep "$TMP/s1.outage" 'event=listening_notify' "and LISTENs again"
sql_is "SELECT string_agg(a.outcome, ',') FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'p1'" success \
	"one attempt, its result recorded after the restart"
kill -0 "$s1_pid" 2>/dev/null
ok $? "the scheduler is still running"
run timeout 120 "$SLUICE" trigger one --run-id p2
wait_new "$TMP/s1.log" "$m1" 'event=notified payload="trigger one"' 30
ok $? "NOTIFY works on the new connection"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'p2'"
ok $? "and the run succeeds"

# --- an attempt the worker's heartbeats stop listing ------------------------------------
# A fake worker (queue fake) takes the DISPATCH, then sends heartbeats
# that count it but do not list it; once the retry comes, it reports
# success.
python3 - "$P1" >"$TMP/fake.out" 2>&1 <<'PY' &
import json, socket, struct, sys, time

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(120)
buf = b""

def send(t, obj):
    p = json.dumps(obj).encode()
    s.sendall(struct.pack(">IB", len(p) + 1, t) + p)

def recv():
    global buf
    while True:
        if len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) >= 4 + n:
                t, p = buf[4], buf[5:4 + n]
                buf = buf[4 + n:]
                return t, json.loads(p)
        d = s.recv(65536)
        if not d:
            sys.exit("closed")
        buf += d

send(1, {"version_min": 2, "version_max": 2, "token": "secret", "worker_id": "fake",
         "host": "fake", "slots": 1, "queues": ["fake"]})
t, m = recv()
assert t == 2, (t, m)
s.settimeout(0.3)
dispatches = []
deadline = time.time() + 120
while time.time() < deadline:
    try:
        t, m = recv()
    except socket.timeout:
        send(4, {"running": [], "dispatches": len(dispatches)})
        continue
    if t == 5:
        dispatches.append(m)
        print("dispatch", m["attempt_id"], m["try_number"], flush=True)
        if len(dispatches) == 2:
            now = int(time.time() * 1000)
            send(7, {"attempt_id": m["attempt_id"], "fencing_token": m["fencing_token"],
                     "outcome": "success", "exit_code": 0, "started_ms": now,
                     "ended_ms": now, "log_bytes": 0})
    elif t == 8:
        print("ack", m["attempt_id"], flush=True)
        sys.exit(0)
sys.exit("no retry came")
PY
FAKEPID=$!
run "$SLUICE" trigger fake --run-id f1
expect_status 0 "trigger a task for the fake worker"
wait_exit "$FAKEPID" 180
expect_status 0 "the fake worker gets the retry and its result is acknowledged"
[ "$status" -eq 0 ] || dump "$TMP/fake.out" "$TMP/s1.log"
FAKEPID=
expect_grep "$TMP/s1.log" 'event=attempt_lost worker=fake .*ended=yes' \
	"the attempt missing from a heartbeat sent after its DISPATCH is lost"
sql_is "SELECT string_agg(a.try_number || ':' || a.outcome, ',' ORDER BY a.attempt_id)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'f1'" "1:lost,2:success" "then retried under its retries"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'f1'"
ok $? "the run succeeds"

# --- logs written while the worker is disconnected -------------------------------------
run "$SLUICE" trigger chatty --run-id c1
expect_status 0 "trigger a task that logs a line a second"
i=0
while ! "$SLUICE" logs chatty c1 talk 2>/dev/null | grep -q '^line 1$' && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
"$SLUICE" logs chatty c1 talk 2>/dev/null | grep -q '^line 1$'
ok $? "its first line reaches the database"
mw=$(mark "$TMP/w1.log")
kill -9 "$s1_pid"
wait "$s1_pid" 2>/dev/null
wait_new "$TMP/w1.log" "$mw" 'event=attempt_finished .*outcome=success' 60
ok $? "the task ends while no scheduler runs"
start_scheduler s1
wait_new "$TMP/w1.log" "$mw" 'event=logs_resent' 90
ok $? "the worker sends the kept log lines after reconnecting"
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'c1'" 90
ok $? "the run succeeds"
run "$SLUICE" logs chatty c1 talk
expect_file "$TMP/out" "line 1
line 2
line 3
line 4
line 5
line 6" "every line is stored, once"

# --- what is kept while disconnected is bounded by log_limit ---------------------------
stop_daemon s1
printf 'log_limit: 100\n' >>"$TMP/s1.yaml"
mw=$(mark "$TMP/w1.log")
start_scheduler s1
run "$SLUICE" trigger burst --run-id b1
expect_status 0 "trigger a task that writes 750 bytes at once"
wait_new "$TMP/w1.log" "$mw" 'event=dispatch .*dag=burst' 90
ok $? "it is dispatched"
kill -9 "$s1_pid"
wait "$s1_pid" 2>/dev/null
wait_new "$TMP/w1.log" "$mw" 'event=attempt_finished .*outcome=success' 60
ok $? "it ends while no scheduler runs"
tail -n +"$((mw + 1))" "$TMP/w1.log" >"$TMP/w1.burst"
test "$(count "$TMP/w1.burst" 'event=log_dropped')" -eq 1
ok $? "the worker keeps log_limit bytes and says once that it dropped the rest"
start_scheduler s1
wait_sql "SELECT state = 'success' FROM runs WHERE run_id = 'b1'" 90
ok $? "the run succeeds"
run "$SLUICE" logs burst b1 b
expect_grep "$TMP/out" '^burst line 10$' "the kept lines are stored"

stop_daemon s1
expect_status 0 "SIGTERM: the scheduler exits 0"
stop_daemon w1
expect_status 0 "SIGTERM: the worker exits 0"

done_testing
