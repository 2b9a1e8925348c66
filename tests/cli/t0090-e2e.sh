#!/bin/sh
# End to end: sluice-scheduler and sluice-worker against a private
# PostgreSQL and a git repository of DAGs: a manual run of three tasks (an
# output passed downstream, a task that fails once then succeeds on its
# retry), its logs, `logs --follow` of a live task, a worker with a wrong
# token rejected, a malformed frame, and SIGTERM stopping both daemons
# cleanly.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

SPID=
WPID=
BPID=

pg_start
pg_newdb e2e
"$SLUICE" db init >/dev/null || exit 1

cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	[ -n "$BPID" ] && kill -9 "$BPID" 2>/dev/null
	[ -s "$TMP/nap.pid" ] && kill -9 "$(cat "$TMP/nap.pid")" 2>/dev/null
	pg_stop
	rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(free_port)

# --- the DAG repository ------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/e2e.yaml" <<EOF
schedule: null
tasks:
  produce:
    command: echo "producing"; echo "rows=42" >> "\$SLUICE_OUTPUT"
  flaky:
    command: n=\$(cat "$TMP/count" 2>/dev/null || echo 0); echo \$((n + 1)) >"$TMP/count"; echo "try \$((n + 1))"; [ "\$n" -ge 1 ]
    retries: 1
    retry_delay: 1s
  consume:
    command: echo "got {{ outputs.produce.rows }} rows"; test "{{ outputs.produce.rows }}" = 42
    depends_on: [produce, flaky]
EOF
cat >"$R/dags/slow.yaml" <<EOF
schedule: null
defaults: {queue: slow}
tasks:
  nap:
    command: echo \$\$ >"$TMP/nap.pid"; exec sleep 60
EOF
cat >"$R/dags/ticker.yaml" <<EOF
schedule: null
tasks:
  tick:
    command: for i in 1 2 3; do echo "line \$i"; sleep 0.5; done
EOF
(cd "$R" && git init -q -b main && git add dags && git -c user.name=t -c user.email=t@t \
	commit -q -m dags) || exit 1

printf 'secret\n' >"$TMP/token"
printf 'wrong\n' >"$TMP/badtoken"
cat >"$TMP/sched.yaml" <<EOF
dags:
  repo: $R
  branch: main
  path: dags
  poll_interval: 1s
state_dir: $TMP/sched-state
listen: 127.0.0.1:$PORT
token_file: $TMP/token
parallelism: 8
heartbeat_timeout: 3s
EOF
cat >"$TMP/worker.yaml" <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: w1
slots: 2
state_dir: $TMP/worker-state
grace: 2s
$ROOT_TASK_USER
EOF
sed -e "s|$TMP/token|$TMP/badtoken|" -e 's/name: w1/name: bad/' \
	-e "s|worker-state|bad-state|" "$TMP/worker.yaml" >"$TMP/bad.yaml"

# --- configuration errors ----------------------------------------------------
printf 'listn: x\n' >"$TMP/typo.yaml"
run "$SCHED" --config "$TMP/typo.yaml"
expect_status 1 "a bad config is refused"
expect_grep "$TMP/err" "typo.yaml:1:1: unknown key 'listn'" "with file:line:col"

# --- start both daemons --------------------------------------------------------
"$SCHED" --config "$TMP/sched.yaml" 2>"$TMP/sched.log" &
SPID=$!
wait_for "$TMP/sched.log" 'event=refreshed'
ok $? "the scheduler refreshes the DAGs from git"
expect_grep "$TMP/sched.log" "^level=info event=listening address=127.0.0.1:$PORT$" \
	"it listens on the configured address"

"$WORKER" --config "$TMP/worker.yaml" 2>"$TMP/worker.log" &
WPID=$!
wait_for "$TMP/sched.log" 'event=worker_connected .*worker=w1'
ok $? "the worker connects"
pg_sql "SELECT worker_id || ':' || state || ':' || slots FROM workers" >"$TMP/workers"
expect_grep "$TMP/workers" '^w1:active:2$' "the workers row is upserted"

# --- a run end to end --------------------------------------------------------
run timeout 60 "$SLUICE" trigger e2e --run-id r1 --wait
expect_status 0 "trigger --wait: the run succeeds"
[ "$status" -eq 0 ] && cp "$TMP/out" "$TMP/wait.out"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/out" "$TMP/err" "$TMP/sched.log" "$TMP/worker.log"

run "$SLUICE" runs show e2e r1 --json
expect_status 0 "runs show --json"
expect_jq "$TMP/out" '.state == "success"' "the run is success"
expect_jq "$TMP/out" '[.tasks[] | .task + ":" + .state + ":" + (.try_number | tostring)]
	| join(" ") == "produce:success:1 flaky:success:2 consume:success:1"' \
	"every task succeeded; flaky on its second try"

run "$SLUICE" logs e2e r1 consume
expect_status 0 "logs of consume"
expect_grep "$TMP/out" '^got 42 rows$' "the downstream task saw the upstream output"
run "$SLUICE" logs e2e r1 flaky
expect_grep "$TMP/out" '^try 2$' "logs show the latest try of flaky"
expect_grep "$TMP/sched.log" 'event=dispatched worker=w1 .*task=flaky try=2' \
	"the retry is dispatched"

# --- logs --follow against the live engine ------------------------------------
run "$SLUICE" trigger ticker --run-id t1
expect_status 0 "trigger a task that logs over time"
run timeout 60 "$SLUICE" logs ticker t1 tick --follow
expect_status 0 "logs --follow waits for the attempt and ends with it"
expect_file "$TMP/out" "line 1
line 2
line 3" "logs --follow prints every line of the live attempt"

# --- a wrong token -------------------------------------------------------------
"$WORKER" --config "$TMP/bad.yaml" 2>"$TMP/bad.log" &
BPID=$!
wait_for "$TMP/sched.log" 'event=worker_rejected .*reason="bad token"'
ok $? "a worker with a wrong token is rejected, with a log line"
wait_for "$TMP/bad.log" 'event=rejected'
ok $? "the rejected worker logs the REJECT"
kill -TERM "$BPID"
wait_exit "$BPID"
BPID=

# --- a malformed frame closes only that connection -----------------------------
python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\xff\xff\xff\xff\x01")
s.settimeout(5)
try:
    s.recv(1)
except OSError:
    pass
PY
wait_for "$TMP/sched.log" 'event=worker_disconnected .*worker=- .*reason='
ok $? "a bad frame closes its connection with a logged reason"
kill -0 "$SPID" 2>/dev/null
ok $? "the scheduler keeps running"

# --- a lost worker ----------------------------------------------------------
sed -e 's/name: w1/name: w2/' -e "s|worker-state|w2-state|" "$TMP/worker.yaml" >"$TMP/w2.yaml"
printf 'queues: [slow]\n' >>"$TMP/w2.yaml"
"$WORKER" --config "$TMP/w2.yaml" 2>"$TMP/w2.log" &
BPID=$!
run "$SLUICE" trigger slow --run-id s1
expect_status 0 "trigger a long task"
wait_for "$TMP/sched.log" 'event=dispatched worker=w2 .*task=nap'
ok $? "it is dispatched to the worker serving its queue"
wait_for "$TMP/nap.pid" '[0-9]' || echo "# the task did not start"
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
BPID=
wait_for "$TMP/sched.log" 'event=worker_lost worker=w2 attempts_ended=1'
ok $? "a worker gone for heartbeat_timeout is lost, its attempt ended"
test "$(pg_sql "SELECT outcome FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 's1'")" = lost
ok $? "the attempt's outcome is lost"
# The task outlives its killed worker: stop it by its pid.
kill -9 "$(cat "$TMP/nap.pid")" 2>/dev/null

# --- SIGTERM ------------------------------------------------------------------
kill -TERM "$SPID"
wait_exit "$SPID"
expect_status 0 "SIGTERM: the scheduler exits 0"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/sched.log"
SPID=
expect_grep "$TMP/sched.log" '^level=info event=stopping signal=' "it logs stopping"
wait_for "$TMP/worker.log" 'event=drain'
ok $? "the worker receives DRAIN"
kill -TERM "$WPID"
wait_exit "$WPID"
expect_status 0 "SIGTERM: the worker exits 0"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/worker.log"
WPID=
pgrep -f "$TMP/(sched|worker|w2).yaml" >/dev/null
ok $((! $?)) "no daemon process is left"

done_testing
