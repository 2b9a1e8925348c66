#!/bin/sh
# Live updates (docs/web.md, "Live updates"): GET /api/v1/events streams
# Server-Sent Events fed by LISTEN sluice_events: a run triggered by the
# CLI and run by a scheduler and a worker shows up as run, task and log
# events without asking again; ?dag= filters; a lost listening connection
# is made again and every stream told to resync; an oversized
# notification becomes a resync; the stream needs a token; the daemon
# stops cleanly with streams open.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
PORT=$(free_port)
daemons_db events
export SLUICE_CONFIG="$TMP/s1.yaml"

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/live.yaml" <<'YAML'
schedule: null
tasks:
  first:
    command: "echo first-line-of-log"
  second:
    command: "echo second"
    depends_on: [first]
YAML
cat >"$R/dags/other.yaml" <<'YAML'
schedule: null
tasks:
  t:
    command: "true"
YAML
git_repo "$R" || exit 1
sched_config "$TMP/s1.yaml" "$R" dags
start_scheduler s1
wait_sql "SELECT count(*) = 2 FROM dags" 30
ok $? "the scheduler loads both DAGs"

printf 'a viewer password\n' >"$TMP/pw"
"$SLUICE" users add vera --role viewer <"$TMP/pw" >/dev/null || exit 1
VIEWER=$("$SLUICE" tokens create vera --json | jq -r .token)

WEB_PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$WEB_PORT" >"$TMP/w.yaml"
# The web reads the CLI's configuration: the same database.
cat "$TMP/s1.yaml" >>"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=listening_events" 30
ok $? "sluice-web listens on sluice_events"

URL=http://127.0.0.1:$WEB_PORT/api/v1/events
curl -s -o "$TMP/noauth" -w '%{http_code}\n' "$URL" >"$TMP/noauth.status"
expect_grep "$TMP/noauth.status" '^401$' "no token: 401"
curl -s -o "$TMP/nodag" -w '%{http_code}\n' -H "Authorization: Bearer $VIEWER" "$URL?dag=nope" \
	>"$TMP/nodag.status"
expect_grep "$TMP/nodag.status" '^404$' "an unknown DAG: 404"
expect_jq "$TMP/nodag" '.detail | test("nope")' "which the problem names"

curl -sN -D "$TMP/all.headers" -H "Authorization: Bearer $VIEWER" "$URL" >"$TMP/all" 2>/dev/null &
ALL=$!
curl -sN -H "Authorization: Bearer $VIEWER" "$URL?dag=other" >"$TMP/other" 2>/dev/null &
OTHER=$!
wait_for "$TMP/all" '^event: hello' 10
ok $? "a stream begins with a hello event"
expect_grep "$TMP/all" '^data: {"listening":true}' "which says the daemon is listening"
expect_grep "$TMP/all.headers" '^content-type: text/event-stream' "served as text/event-stream"
wait_for "$TMP/other" '^event: hello' 10

start_worker_cfg() {
	worker_config "$TMP/w1.yaml" w1
	start_worker w1
}
start_worker_cfg
"$SLUICE" trigger live --run-id e1 >/dev/null || exit 1
wait_for "$TMP/all" '^data: {"dag":"live","run_id":"e1","state":"queued"}' 20
ok $? "the new run arrives as a run event"
wait_for "$TMP/all" '"run_id":"e1","task":"first","state":"running"' 30
ok $? "a task starting arrives as a task event"
wait_for "$TMP/all" '^event: log' 30
ok $? "log bytes arrive as log events"
expect_grep "$TMP/all" '"task":"first","try":1,"bytes":' "naming the task, its try and how many bytes"
wait_for "$TMP/all" '"run_id":"e1","task":"second","state":"success"' 30
ok $? "the second task's success arrives"
wait_for "$TMP/all" '^data: {"dag":"live","run_id":"e1","state":"success"}' 30
ok $? "and the run's success"
! grep -q '"dag":"live"' "$TMP/other"
ok $? "a stream of ?dag=other sees none of live's events"
"$SLUICE" trigger other --run-id o1 >/dev/null || exit 1
wait_for "$TMP/other" '^data: {"dag":"other","run_id":"o1","state":"queued"}' 20
ok $? "but other's"
wait_run other o1 60

# --- a lost listening connection -------------------------------------------------------
pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN sluice_events'" >/dev/null
wait_for "$TMP/w.log" "event=events_lost" 20
ok $? "a lost listening connection is logged"
wait_for "$TMP/all" '^event: resync' 20
ok $? "once listening again, every stream is told to resync"
expect_str "$(grep -c 'event=listening_events' "$TMP/w.log")" 2 "the connection was made again"
"$SLUICE" trigger live --run-id e2 >/dev/null || exit 1
wait_for "$TMP/all" '"run_id":"e2","state":"queued"' 20
ok $? "and events flow again"
wait_run live e2 60

# --- an oversized notification ------------------------------------------------------------
n=$(grep -c '^event: resync' "$TMP/all")
pg_sql "SELECT sl_events_send(repeat('x', 9000))" >/dev/null
i=0
while [ "$(grep -c '^event: resync' "$TMP/all")" -le "$n" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ "$(grep -c '^event: resync' "$TMP/all")" -gt "$n" ]
ok $? "a notification too big for PostgreSQL becomes a resync"

# --- a clean stop with streams open ---------------------------------------------------------
stop_daemon w
expect_str "$status" 0 "sluice-web stops with streams open"
wait_exit "$ALL" 10
ok $? "the stream ends with the daemon"
wait_exit "$OTHER" 10
stop_daemon w1
stop_daemon s1
done_testing
