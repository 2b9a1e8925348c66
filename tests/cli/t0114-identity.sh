#!/bin/sh
# One identity per worker (docs/security.md): `sluice workers add | revoke`
# and the scheduler's rule at HELLO, end to end with a private PostgreSQL,
# the real scheduler, workers w1 and w2 with secrets of their own, and
# hand-made clients (tests/cli/worker_client.py) that hold w1's secret or
# the shared token and try to pass for someone else:
#   the commands' bad inputs and exit codes; only the secret's hash stored
#   (a) w1 and w2, each with its own secret, both run tasks
#   (b) w1's secret with the name w2: "bad token", w2 stays connected
#   (c) w1's secret cannot report for w2's running attempt, and its empty
#       HELLO list does not end it
#   (e) the shared token for a name that has its own secret: "bad token"
#   (g) a HELLO as w1 listing w2's attempt never gets that attempt's CANCEL
#       or fencing token; an operator-stopped attempt of w2 stays pending
#       until w2 itself confirms it
#   (f) without a shared token, a name without a credential is refused
#   (d) `workers revoke w1` closes w1 at once and refuses its reconnect; its
#       attempt is then failed as a lost worker's
#   `workers add --rotate` closes the connection made with the old secret;
#   `workers list` shows the credential of each worker
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db identity

# wait_lines FILE PATTERN N: until N lines of FILE match (30 s).
wait_lines() {
	wl_i=0
	while [ "$(grep -c -e "$2" "$1")" -lt "$3" ]; do
		wl_i=$((wl_i + 1))
		[ $wl_i -gt 600 ] && return 1
		sleep 0.05
	done
	return 0
}

# --- the commands, before any daemon ------------------------------------------
for cmd in "workers add" "workers revoke"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd NAME" "$cmd --help prints its usage"
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd 'bad name!'
	expect_status 2 "$cmd refuses a name that is not an id"
	expect_grep "$TMP/err" "NAME: 'bad name!' is not a valid worker name" "naming the argument"
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd
	expect_status 2 "$cmd needs a NAME"
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd a b
	expect_status 2 "$cmd takes one NAME"
	# shellcheck disable=SC2086
	run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=1" "$SLUICE" $cmd w5
	expect_status 4 "$cmd exits 4 when PostgreSQL cannot be reached"
done
run "$SLUICE" workers add w1 --bogus
expect_status 2 "an unknown option is a usage error"
run "$SLUICE" workers revoke nobody
expect_status 3 "revoking an unknown name exits 3"
expect_grep "$TMP/err" "no worker 'nobody'" "and says so"

secret_re='^sluice-wk1\.[A-Za-z0-9_-]\{43\}$'
(umask 077 && "$SLUICE" workers add w1 >"$TMP/w1.secret" 2>"$TMP/err")
expect_str "$?" 0 "workers add w1"
expect_str "$(grep -c "$secret_re" "$TMP/w1.secret") $(wc -l <"$TMP/w1.secret")" "1 1" \
	"standard output is the secret alone: sluice-wk1. and 32 bytes of base64url"
expect_grep "$TMP/err" "shown this once" "standard error says it is shown once"
run "$SLUICE" workers add w1
expect_status 1 "adding a credential twice is refused"
expect_grep "$TMP/err" "worker 'w1' already has a credential; --rotate replaces it" \
	"with a message that names --rotate"
expect_str "$(cat "$TMP/out")" "" "and no new secret"
run "$SLUICE" workers add w2 --json
expect_status 0 "workers add w2 --json"
expect_jq "$TMP/out" '.worker == "w2" and .rotated == false and .rotations == 0 and
	(.secret | test("^sluice-wk1\\.[A-Za-z0-9_-]{43}$"))' "prints the secret in JSON"
jq -r .secret "$TMP/out" >"$TMP/w2.secret"
chmod 600 "$TMP/w2.secret"
hash=$(tr -d '\n' <"$TMP/w1.secret" | sha256sum | cut -d' ' -f1)
expect_str "$(pg_sql "SELECT encode(sha256, 'hex') FROM worker_credentials
	WHERE worker_id = 'w1'")" "$hash" "the database keeps the secret's SHA-256"
"$PG_BIN/pg_dump" -a >"$TMP/dump.sql"
expect_str "$(grep -c -F -e "$(cut -c12- "$TMP/w1.secret")" -e "$(cut -c12- "$TMP/w2.secret")" \
	"$TMP/dump.sql")" 0 "and no secret"

# --- a scheduler with the shared token, w1 and w2 with their own ----------------
PORT=$(free_port)
R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/both.yaml" <<EOF
schedule: null
tasks:
  a:
    command: echo on-a
    queue: qa
  b:
    command: echo on-b
    queue: qb
EOF
# `long` runs on w2 until it is cancelled; `hold` on w1 until the gate opens.
cat >"$R/dags/long2.yaml" <<EOF
schedule: null
tasks:
  long:
    command: echo \$\$ >"$TMP/long2.pid"; while [ -d "$TMP" ]; do sleep 0.1; done
    queue: qb
    retries: 0
EOF
cat >"$R/dags/hold.yaml" <<EOF
schedule: null
tasks:
  long:
    command: echo \$\$ >"$TMP/hold.pid"; while [ ! -f "$TMP/hold.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done
    queue: qa
    retries: 0
EOF
git_repo "$R" || exit 1

# Nothing ends by timeout in this part.
sched_config "$TMP/s1.yaml" "$R" dags "heartbeat_timeout: 60s"
worker_config "$TMP/w1.yaml" w1 "token_file: $TMP/w1.secret" "queues: [qa]"
worker_config "$TMP/w2.yaml" w2 "token_file: $TMP/w2.secret" "queues: [qb]"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed .* failed=0 ' 30
ok $? "the scheduler loads the DAGs"
expect_grep "$TMP/s1.log" 'event=started .*shared_token=yes' "it has a shared token"
start_worker w1
start_worker w2
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1 .*credential=own' 30
ok $? "(a) w1 connects with its own secret"
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w2 .*credential=own' 30
ok $? "(a) w2 connects with its own secret"
run "$SLUICE" trigger both --run-id r1
expect_status 0 "trigger a run with a task for each"
wait_run both r1 60
ok $? "the run finishes"
expect_str "$(attempts_of r1 a) $(attempts_of r1 b)" "1:success:w1 1:success:w2" \
	"(a) w1 and w2 each ran their task"
stop_daemon w1
expect_status 0 "w1 stops: its secret is now the thief's"

run "$SLUICE" trigger long2 --run-id r2
expect_status 0 "trigger a run whose task runs on w2 until cancelled"
wait_for "$TMP/long2.pid" '[0-9]' 30
ok $? "long runs on w2"
ref=$(pg_sql "SELECT a.attempt_id || ' ' || a.fencing_token FROM attempts a
	JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk) WHERE r.run_id = 'r2'")
A=${ref% *}
F=${ref#* }
live="SELECT a.worker_id || ':' || (a.ended_at IS NULL) || ':' || ti.state || ':' || a.stop_pending
	FROM attempts a JOIN task_instances ti USING (ti_id) WHERE a.attempt_id = $A"
expect_str "$(pg_sql "$live")" "w2:true:running:false" "w2's attempt is live and running"

# The clients: `hello` says HELLO and prints the answer; `forge` then sends
# a RESULT for an attempt; `listen` prints every frame until a file exists.
cat >"$TMP/client.py" <<'EOF'
import json, sys, time
import worker_client
port, token, name, mode = int(sys.argv[1]), open(sys.argv[2]).read().strip(), sys.argv[3], sys.argv[4]
running = sys.argv[5].split(",") if len(sys.argv) > 5 and sys.argv[5] else []
c = worker_client.connect(port)
t, o = c.hello(token, name, running)
if t != 2:
    print("REJECT", o.get("reason"), flush=True)
    sys.exit(0)
print("WELCOME", flush=True)
if mode == "forge":
    now = int(time.time() * 1000)
    c.send(7, {"attempt_id": sys.argv[6], "fencing_token": int(sys.argv[7]),
               "outcome": "success", "exit_code": 0, "started_ms": now, "ended_ms": now,
               "outputs": [["v", "forged"]], "log_bytes": 0})
    t, o = c.recv()
    print("ACK" if t == 8 else t, o.get("attempt_id"), flush=True)
elif mode == "listen":
    for t, o in c.frames_until(sys.argv[6]):
        print("FRAME", t, json.dumps(o, sort_keys=True), flush=True)
EOF
client() {
	PYTHONPATH="$TESTS_DIR/cli" timeout 60 python3 "$TMP/client.py" "$PORT" "$@"
}

run client "$TMP/w1.secret" w2 hello
expect_file "$TMP/out" "REJECT bad token" "(b) w1's secret with the name w2 is refused: bad token"
expect_grep "$TMP/s1.log" 'event=auth_failed peer=127.0.0.1:[0-9]* worker=w2 credential=own ' \
	"(b) the scheduler logs which name failed and why"
expect_str "$(grep -c 'event=worker_disconnected .*worker=w2 ' "$TMP/s1.log")" 0 \
	"(b) w2's connection stays up: it is not replaced"
run client "$TMP/token" w1 hello
expect_file "$TMP/out" "REJECT bad token" \
	"(e) the shared token is refused for w1, which has a secret of its own"
expect_grep "$TMP/s1.log" 'event=auth_failed peer=127.0.0.1:[0-9]* worker=w1 credential=own shared_token=yes' \
	"(e) and logged"
run client "$TMP/token" w9 hello
expect_file "$TMP/out" "WELCOME" "the shared token still serves a name without a credential"

run client "$TMP/w1.secret" w1 forge "" "$A" "$F"
expect_file "$TMP/out" "WELCOME
ACK $A" "(c) w1's secret passes as w1; its RESULT for w2's attempt gets the ACK of a stale one"
expect_str "$(pg_sql "$live")" "w2:true:running:false" \
	"(c) w2's attempt is still live and running: neither the RESULT nor the empty HELLO list ended it"
expect_grep "$TMP/s1.log" "event=report_refused peer=127.0.0.1:[0-9]* worker=w1 attempt=$A report=result owner=w2 " \
	"(c) the refused report is logged with its owner"

client "$TMP/w1.secret" w1 listen "$A" "$TMP/listen.stop" >"$TMP/listen.out" 2>&1 &
listen_pid=$!
daemons_pids="$daemons_pids $listen_pid"
wait_for "$TMP/listen.out" WELCOME 30
ok $? "(g) a HELLO as w1 that lists w2's attempt is welcomed"
expect_grep "$TMP/s1.log" "event=hello_not_owned worker=w1 listed=1 not_owned=1" \
	"(g) the attempt that is not w1's is left out, and logged"
# w2 stopped: its attempt stays stop_pending until it runs again.
kill -STOP "$w2_pid"
run "$SLUICE" runs cancel long2 r2
expect_status 0 "cancel w2's run"
wait_for "$TMP/s1.log" "event=cancel_sent worker=w2 attempt=$A\$" 30
ok $? "(g) the CANCEL goes to w2"
touch "$TMP/listen.stop"
wait_exit "$listen_pid" 30
expect_str "$(grep -c "event=cancel_sent worker=w1 attempt=$A\$" "$TMP/s1.log")" 0 \
	"(g) and not to the connection that listed it as w1"
expect_str "$(grep -c -e '^FRAME 9 ' -e "$F" "$TMP/listen.out")" 0 \
	"(g) that client received no CANCEL and never the attempt's fencing token"
expect_str "$(pg_sql "$live")" "w2:false:cancelled:true" \
	"the cancelled attempt waits for w2 to confirm it stopped"
run client "$TMP/w1.secret" w1 hello
expect_file "$TMP/out" "WELCOME" "a HELLO as w1 with an empty list"
expect_str "$(pg_sql "$live")" "w2:false:cancelled:true" \
	"does not confirm w2's stop: stop_pending is cleared only by w2"
kill -CONT "$w2_pid"
wait_sql "SELECT NOT stop_pending FROM attempts WHERE attempt_id = $A" 30
ok $? "w2 itself confirms it"

stop_daemon s1
expect_status 0 "the scheduler stops"

# --- no shared token: only the workers' own secrets ----------------------------
sched_config "$TMP/s2.yaml" "$R" dags "heartbeat_timeout: 4s"
sed -i '/^token_file:/d' "$TMP/s2.yaml"
start_scheduler s2
wait_for "$TMP/s2.log" 'event=started .*shared_token=no' 30
ok $? "a scheduler without token_file starts"
wait_for "$TMP/s2.log" 'event=worker_connected .*worker=w2 .*credential=own' 30
ok $? "w2 reconnects to it"
run client "$TMP/token" w9 hello
expect_file "$TMP/out" "REJECT bad token" "(f) without a shared token, a name without a credential is refused"
expect_grep "$TMP/s2.log" 'event=auth_failed peer=127.0.0.1:[0-9]* worker=w9 credential=none shared_token=no' \
	"(f) and logged"

start_worker w1
wait_for "$TMP/s2.log" 'event=worker_connected .*worker=w1 .*credential=own' 30
ok $? "w1 connects with its secret"
run "$SLUICE" trigger hold --run-id r3
expect_status 0 "trigger a run whose task runs on w1"
wait_for "$TMP/hold.pid" '[0-9]' 30
ok $? "it runs on w1"
t0=$(date +%s%N)
run "$SLUICE" workers revoke w1
expect_status 0 "(d) workers revoke w1"
expect_grep "$TMP/out" "^worker w1: credential revoked" "(d) says so"
wait_for "$TMP/s2.log" 'event=worker_disconnected .*worker=w1 .*reason="its credential was revoked"' 5
ok $? "(d) the scheduler closes w1's connection at once"
echo "# revoke to disconnect: $((($(date +%s%N) - t0) / 1000000)) ms (a 5 s deadline)"
wait_for "$TMP/s2.log" 'event=auth_failed peer=127.0.0.1:[0-9]* worker=w1 credential=revoked ' 30
ok $? "(d) w1's reconnect is refused"
expect_grep "$TMP/w1.log" 'event=rejected .*reason="bad token"' "(d) w1 is told: bad token"
wait_sql "SELECT count(*) = 1 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'r3' AND a.outcome = 'lost'" 30
ok $? "(d) its attempt is failed as a lost worker's"
expect_str "$(attempts_of r3 long)" "1:lost:w1" "(d) once, on w1"
run "$SLUICE" workers revoke w1
expect_status 0 "revoking twice is not an error"

run "$SLUICE" workers list
expect_status 0 "workers list"
expect_grep "$TMP/out" '^WORKER .* CREDENTIAL$' "has a CREDENTIAL column"
expect_grep "$TMP/out" '^w1 .* revoked$' "w1: revoked"
expect_grep "$TMP/out" '^w2 .* own$' "w2: own"
expect_grep "$TMP/out" '^w9 .* shared$' "w9: shared"
run "$SLUICE" workers list --json
expect_jq "$TMP/out" 'map({(.worker): .credential}) | add == {"w1": "revoked", "w2": "own", "w9": "shared"}' \
	"workers list --json: credential"
expect_jq "$TMP/out" 'all(has("worker", "host", "queues", "slots", "running", "state", "stale",
	"version", "started_at", "last_heartbeat_at", "heartbeat_age_seconds"))' \
	"and the fields it had"

# --rotate: the connection made with the old secret is closed and refused.
run "$SLUICE" workers add w2 --rotate
expect_status 0 "workers add w2 --rotate"
wait_for "$TMP/s2.log" 'event=worker_disconnected .*worker=w2 .*reason="its credential was replaced' 5
ok $? "closes w2's connection made with the old secret"
wait_for "$TMP/s2.log" 'event=auth_failed peer=127.0.0.1:[0-9]* worker=w2 credential=own ' 30
ok $? "and refuses the old secret"
cp "$TMP/out" "$TMP/w2.secret"
stop_daemon w2
start_worker w2
wait_lines "$TMP/s2.log" 'event=worker_connected .*worker=w2 .*credential=own' 2
ok $? "w2 restarted with the new secret connects"
run "$SLUICE" workers add w1 --json
expect_status 0 "after a revoke, workers add needs no --rotate"
expect_jq "$TMP/out" '.rotated == true and .rotations == 1' "and counts a replacement"

stop_daemon w2
expect_status 0 "w2 stops cleanly"
stop_daemon s2
expect_status 0 "the scheduler stops cleanly"
done_testing
