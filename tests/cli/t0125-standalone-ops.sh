#!/bin/sh
# sluice standalone for day two: --slots N (validated, exit 2 naming the
# flag), a scheduler port kept across restarts (a new one, said, when
# another program holds it), and the per-user file through which the other
# commands find the running standalone without an export: private to the
# user (a file or folder others could write is refused), never over an
# explicit database setting, removed at the stop.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/standalone.sh"

FILE=$XDG_STATE_HOME/sluice/standalone

for bad in 0 -1 abc 3x 65536 99999999999999999999; do
	run "$SLUICE" standalone --slots "$bad"
	expect_status 2 "--slots $bad: exit 2"
	expect_grep "$TMP/err" "\-\-slots $bad: expected a whole number from 1 to 65535" \
		"--slots $bad: the message names the flag"
done

sa_repo
sa_state

SA_ARGS="--slots 3" sa_start 1
PORT1=$PORT
expect_grep "$STATE/worker.yaml" "^slots: 3$" "--slots 3 reaches worker.yaml"
expect_grep "$TMP/sa1.out" "find it through $FILE" "the file is announced"
[ "$(stat -c %a "$FILE")" = 600 ]
ok $? "the file is mode 0600"
[ "$(stat -c %a "$XDG_STATE_HOME/sluice")" = 700 ]
ok $? "its folder is mode 0700"

# sluice-web runs too, on the same database, with an admin account.
expect_grep "$TMP/sa1.out" '^Web UI and API on http://127.0.0.1:[0-9]*/ - sign in as admin' \
	"the web's URL and an admin credential are printed"
[ "${#WEB_PASSWORD}" -ge 40 ]
ok $? "the password is long and random (${#WEB_PASSWORD} characters)"
curl -s -o /dev/null -w '%{http_code}\n' "${WEB_URL}health" >"$TMP/health"
expect_grep "$TMP/health" '^200$' "the printed URL answers /health"
run "$SLUICE" users list --json
expect_jq "$TMP/out" '.[] | select(.user == "admin") | .role == "admin"' "the account admin has the role admin"
ADMIN_TOKEN=$("$SLUICE" tokens create admin --json | jq -r .token)
curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "${WEB_URL}api/v1/dags" >"$TMP/dags.json"
expect_jq "$TMP/dags.json" 'map(.dag) | index("two") != null' "the web reads the standalone's database"
PASSWORD1=$WEB_PASSWORD

# A second shell: no SLUICE_DATABASE_URL, no export.
run timeout 60 "$SLUICE" trigger two --run-id r1 --wait
expect_status 0 "trigger --wait without any database setting: found through the file"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/err"
run "$SLUICE" runs list --json
expect_status 0 "runs list without an export"
expect_jq "$TMP/out" '[.[] | .run_id] | index("r1") != null' "it lists the run"
wait_for_slots() {
	for _ in $(seq 100); do
		"$SLUICE" workers list --json >"$TMP/w.json" 2>/dev/null &&
			jq -e '.[] | select(.worker == "standalone" and .slots == 3)' "$TMP/w.json" \
				>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
wait_for_slots
ok $? "workers list: the worker 'standalone' has 3 slots"

# An explicit setting wins over the file.
run env SLUICE_DATABASE_URL="host=$TMP/nowhere dbname=sluice" "$SLUICE" runs list
expect_status 4 "SLUICE_DATABASE_URL wins over the file"
run env PGHOST="$TMP/nowhere" "$SLUICE" runs list
expect_status 4 "PGHOST wins over the file"
printf 'database_url: "host=%s/nowhere dbname=sluice"\n' "$TMP" >"$TMP/c.yaml"
run "$SLUICE" --config "$TMP/c.yaml" runs list
expect_status 4 "--config wins over the file"

# Attacks: a file or folder someone else could have written is refused.
chmod 0620 "$FILE"
run "$SLUICE" runs list
expect_status 1 "a group-writable file is refused"
expect_grep "$TMP/err" "$FILE is not private to this user" "naming the file"
chmod 0600 "$FILE"
chmod 0777 "$XDG_STATE_HOME/sluice"
run "$SLUICE" runs list
expect_status 1 "a folder open to others is refused"
expect_grep "$TMP/err" "$XDG_STATE_HOME/sluice is not private to this user" "naming the folder"
chmod 0700 "$XDG_STATE_HOME/sluice"
mv "$FILE" "$FILE.real"
ln -s "$FILE.real" "$FILE"
run "$SLUICE" runs list
expect_status 1 "a symlink is refused"
rm "$FILE"
mv "$FILE.real" "$FILE"
run "$SLUICE" runs list
expect_status 0 "the file restored: found again"

# A web session of admin's with this start's password: the next start's
# new password ends it.
jq -cn --arg p "$PASSWORD1" '{user: "admin", password: $p}' >"$TMP/login.json"
curl -s -D "$TMP/login.h" -o /dev/null -H 'Content-Type: application/json' \
	--data-binary @"$TMP/login.json" "${WEB_URL}api/v1/session"
OLD_COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: sluice_session=\([^;]*\).*/\1/p' "$TMP/login.h" | tr -d '\r')
[ -n "$OLD_COOKIE" ]
ok $? "admin signs in to the web UI with the printed password"
sa_stop 1
[ ! -e "$FILE" ]
ok $? "a clean stop removes the file"

# The port is kept across restarts.
sa_start 2
[ -n "$PORT1" ] && [ "$PORT" = "$PORT1" ]
ok $? "the second start listens on the same port ($PORT1)"
[ -n "$WEB_PASSWORD" ] && [ "$WEB_PASSWORD" != "$PASSWORD1" ]
ok $? "each start gives admin a new password"
curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ADMIN_TOKEN" "${WEB_URL}api/v1/dags" >"$TMP/kept"
expect_grep "$TMP/kept" '^200$' "and keeps admin's tokens"
curl -s -o /dev/null -w '%{http_code}\n' -H "Cookie: sluice_session=$OLD_COOKIE" "${WEB_URL}api/v1/dags" >"$TMP/old"
expect_grep "$TMP/old" '^401$' "but ends the sessions signed in with the old password"
run "$SLUICE" audit --json
expect_jq "$TMP/out" 'map(select(.action == "users password" and .target == "admin role=admin")) | length >= 1' \
	"the new password is in the audit log"
expect_grep "$STATE/worker.yaml" "^slots: $(nproc)$" "without --slots: one slot per CPU"
sa_stop 2

# Taken by another program: a new port, said.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("listening", flush=True); time.sleep(120)' "$PORT1" >"$TMP/hold.out" 2>&1 &
HOLD=$!
wait_for "$TMP/hold.out" listening 20
sa_start 3
[ -n "$PORT" ] && [ "$PORT" != "$PORT1" ]
ok $? "port $PORT1 held by another program: a new one ($PORT)"
expect_grep "$TMP/sa3.err" "port $PORT1 kept in $STATE/port is taken by another program" \
	"said on stderr"
expect_grep "$STATE/port" "^$PORT$" "the new port is kept"
sa_stop 3
kill "$HOLD"
wait "$HOLD" 2>/dev/null

# Ctrl-C with a task running: the worker's grace (10 s), the task cancelled
# and not left behind, and the next start runs it again (its retry).
cat >"$R/flows/long.yaml" <<YAML
schedule: null
tasks:
  long:
    command: "if [ -e $STATE/again ]; then echo second; else sleep 301; fi"
    retries: 1
    retry_delay: 1s
YAML
git -C "$R" add flows/long.yaml && git -C "$R" commit -qm long
sa_start 4
run "$SLUICE" trigger long --run-id c1
expect_status 0 "trigger long"
running() {
	"$SLUICE" runs show long c1 --json 2>/dev/null | jq -e '.tasks[0].state == "running"' >/dev/null
}
for _ in $(seq 300); do running && break; sleep 0.1; done
running
ok $? "the task runs"
t0=$(date +%s)
kill -INT "$SAPID"
wait_exit "$SAPID" 45
expect_status 0 "Ctrl-C with a task running: exit 0"
took=$(($(date +%s) - t0))
[ "$took" -le 30 ]
ok $? "it stopped in ${took}s (grace 10 s + cancel)"
SAPID=
pgrep -f "sleep 301" >/dev/null
ok $((! $?)) "the task is not left running"
# In STATE, which the task user (nobody, when root runs this) can see.
touch "$STATE/again"
sa_start 5
for _ in $(seq 300); do
	"$SLUICE" runs show long c1 --json >"$TMP/c1.json" 2>/dev/null &&
		jq -e '.state == "success" or .state == "failed"' "$TMP/c1.json" >/dev/null && break
	sleep 0.1
done
expect_jq "$TMP/c1.json" '.state == "success" and .tasks[0].try_number == 2' 	"the next start retries the cancelled task, which succeeds (try 2)"
jq -c '.state, [.tasks[0].tries[] | [.try_number, .outcome, .reason]]' "$TMP/c1.json" |
	sed 's/^/# /'
sa_stop 5

done_testing
