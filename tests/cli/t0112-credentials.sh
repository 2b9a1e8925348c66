#!/bin/sh
# No credentials over the wire or in a worker's files (docs/security.md):
# a scheduler whose dags.repo holds a password (a git:// URL served by `git
# daemon`, so that the test runs offline; libgit2 sends no credentials that
# the server does not ask for) fetches with it, but the DISPATCH it sends,
# its log, `sluice status --json`, `sluice dags refresh` and the database
# hold the URL without it; a worker fetches from that URL, and one given a
# password by an older scheduler (the fake scheduler) drops it, says so
# once, and keeps none in its state_dir.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/fake.sh"

PYPID=
FPID=
cleanup() {
	[ -n "$PYPID" ] && kill -9 "$PYPID" 2>/dev/null
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	[ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"
	daemons_exit
}
daemons_db creds
trap cleanup EXIT
cd "$TMP" || exit 1

# no_secret DESCRIPTION FILE...: none of the files holds "secret" (the
# password below; the shared token is not it).
no_secret() {
	ns_what=$1
	shift
	if grep -r -l secret "$@" >"$TMP/found" 2>/dev/null; then
		ok 1 "$ns_what"
		echo "# 'secret' found in:"
		sed 's/^/#   /' "$TMP/found"
		grep -r -h secret "$@" | head -n 5 | sed 's/^/#   > /'
	else
		ok 0 "$ns_what"
	fi
}

printf 'tok\n' >"$TMP/token"

# --- the DAG repository, served over git:// ---------------------------------
R=$TMP/srv/dags
mkdir -p "$R/dags"
cat >"$R/dags/creds.yaml" <<'EOF'
schedule: null
tasks:
  show:
    command: cat hello.txt
EOF
cat >"$R/dags/probe.yaml" <<'EOF'
schedule: null
tasks:
  p:
    command: "true"
    queue: probe
EOF
echo "hello from the commit" >"$R/hello.txt"
git_repo "$R" || exit 1
GPORT=$(free_port)
URL="git://127.0.0.1:$GPORT/dags"
SECRET_URL="git://bot:secret@127.0.0.1:$GPORT/dags"
# start_gitd: serve $TMP/srv until it answers. `git daemon` runs
# git-daemon as a child: its own pid file names the process to stop (and
# daemons_cleanup kills what $TMP/*.pid names).
start_gitd() {
	rm -f "$TMP/gitd.pid"
	git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$GPORT" \
		--pid-file="$TMP/gitd.pid" --base-path="$TMP/srv" "$TMP/srv" 2>>"$TMP/gitd.log" &
	gd_i=0
	until git ls-remote "$URL" >/dev/null 2>&1; do
		gd_i=$((gd_i + 1))
		[ $gd_i -gt 100 ] && return 1
		sleep 0.1
	done
}
start_gitd
ok $? "git daemon serves the repository"

# --- sluice dags refresh ---------------------------------------------------------
run "$SLUICE" dags refresh --repo "$SECRET_URL" --branch main --path dags \
	--state-dir "$TMP/cli.state" --json
expect_status 0 "dags refresh: fetches with a password in the URL"
expect_jq "$TMP/out" ".repo == \"$URL\"" "dags refresh: reports the URL without it"
no_secret "dags refresh: no password in its output" "$TMP/out" "$TMP/err"
no_secret "dags refresh: no password in its mirror" "$TMP/cli.state"
run "$SLUICE" dags refresh --repo "$SECRET_URL" --branch nope --path dags \
	--state-dir "$TMP/cli.state"
expect_status 1 "dags refresh: an unknown branch fails"
expect_grep "$TMP/err" "not found in $URL;" "dags refresh: its error names the URL without it"
no_secret "dags refresh: no password in the error" "$TMP/out" "$TMP/err"

# --- the scheduler ----------------------------------------------------------------
PORT=$(free_port)
sched_config "$TMP/s.yaml" "$SECRET_URL" dags
start_scheduler s
wait_for "$TMP/s.log" 'event=refreshed' 30
ok $? "scheduler: fetches with the password"

# A worker of our own reads the DISPATCH frame (docs/protocol.md).
cat >"$TMP/probe.py" <<'EOF'
import socket, struct, sys, time
import worker_client

port, token, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = worker_client.connect(port, timeout=None)
s, send, recv_exact = c.sock, c.send, c.recv_exact

send(1, {"version_min": 2, "version_max": 2, "token": token, "worker_id": "probe",
         "host": "probe", "slots": 1, "queues": ["probe"], "running": []})
s.settimeout(0.2)
deadline, beat, dispatches = time.time() + 60, 0.0, 0
while time.time() < deadline:
    if time.time() - beat > 0.2:
        send(4, {"running": [], "dispatches": dispatches})
        beat = time.time()
    try:
        head = recv_exact(5)
    except socket.timeout:
        continue
    s.settimeout(None)
    length, kind = struct.unpack(">IB", head)
    payload = recv_exact(length - 1)
    s.settimeout(0.2)
    if kind == 3:
        sys.exit("rejected: " + payload.decode())
    if kind == 5:
        open(out, "wb").write(payload + b"\n")
        sys.exit(0)
sys.exit("no DISPATCH")
EOF
PYTHONPATH="$TESTS_DIR/cli" python3 "$TMP/probe.py" "$PORT" tok "$TMP/dispatch.json" 2>"$TMP/probe.err" &
PYPID=$!
wait_for "$TMP/s.log" 'event=worker_connected .*worker=probe'
ok $? "scheduler: the probe worker connects"
run "$SLUICE" trigger probe --run-id p1
expect_status 0 "trigger a run for the probe"
wait_exit "$PYPID" 60
PYPID=
ok $status "the probe reads a DISPATCH"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/probe.err"
expect_jq "$TMP/dispatch.json" ".repo == \"$URL\"" "DISPATCH: repo is the URL without credentials"
no_secret "DISPATCH: no password in the frame" "$TMP/dispatch.json"

# A real worker fetches from the URL it is sent (the server asks for none).
worker_config "$TMP/w.yaml" w1
start_worker w
run timeout 60 "$SLUICE" trigger creds --run-id c1 --wait
expect_status 0 "worker: the task runs in a checkout fetched from the URL sent"
run "$SLUICE" logs creds c1 show
expect_grep "$TMP/out" '^hello from the commit$' "worker: the task read the commit's file"
no_secret "worker: no password in its state_dir" "$TMP/w.yaml.state"
no_secret "worker: no password in its log" "$TMP/w.log"
stop_daemon w

run "$SLUICE" status --json
expect_status 0 "status --json"
expect_jq "$TMP/out" ".source.repo == \"$URL\"" "status --json: the URL without credentials"
no_secret "status --json: no password" "$TMP/out"
"$PG_BIN/pg_dump" >"$TMP/dump.sql"
ok $? "pg_dump"
no_secret "database: no password anywhere in it" "$TMP/dump.sql"
no_secret "scheduler: no password in its mirror" "$TMP/s.yaml.state"

# A failed fetch is logged with the URL, without the password.
kill -9 "$(cat "$TMP/gitd.pid")"
wait_for "$TMP/s.log" "event=refresh_failed .*$URL" 30
ok $? "scheduler: a failed fetch is logged with the URL"
no_secret "scheduler: no password in its log" "$TMP/s.log"
stop_daemon s

# --- an older scheduler sends the password --------------------------------------
start_gitd
ok $? "git daemon serves the repository again"
C=$(git -C "$R" rev-parse HEAD)
fake old accept 'expect HELLO' 'welcome 200' \
	"dispatch-in o1 1 $SECRET_URL $C . cat hello.txt" 'expect RESULT' 'ack o1 1' \
	"dispatch-in o2 1 $SECRET_URL $C . cat hello.txt" 'expect RESULT' 'ack o2 1' 'wait 100'
worker_config "$TMP/old.yaml" w2 "scheduler: 127.0.0.1:$PORT"
start_worker old
wait_exit "$FPID" 60
ok $status "old scheduler: the fake scheduler's script completed"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/old.out" "$TMP/old.log"
FPID=
expect_grep "$TMP/old.out" '^LOG attempt=o2 fence=1 seq=0 stream=stdout data=hello from the commit\\n$' \
	"old scheduler: the task runs, fetched from the URL without the password"
expect_grep "$TMP/old.log" "event=dispatch_credentials repo=$URL " \
	"old scheduler: the worker warns that it was sent credentials"
n=$(grep -c 'event=dispatch_credentials' "$TMP/old.log")
expect_str "$n" 1 "old scheduler: once"
no_secret "old scheduler: no password in the worker's state_dir" "$TMP/old.yaml.state"
no_secret "old scheduler: no password in the worker's log" "$TMP/old.log"
stop_daemon old

done_testing
