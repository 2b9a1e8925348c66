#!/bin/sh
# The read routes of the API (docs/web.md, "Routes"): one DAG with its
# versions and load errors, a DAG file's text at a version (stored by the
# refresh, migration 0015), a DAG's runs a page at a time (filters, keyset
# cursor), one run, a try's log with byte ranges, pools, workers and
# status. Each answers a viewer's token with the CLI's --json document (the
# same builders in lib/db), 401 without a token, 404 with the CLI's
# sentence for what does not exist, and 400 naming the bad parameter.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}
export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"

daemons_db apiread

# --- a DAG repository with history ---------------------------------------------------
# C1: hello and nightly_etl; C2: hello's file changes (a new version);
# C3: hello's file breaks (a load error; C2 stays its latest version).
R=$TMP/repo
git init -q -b main "$R"
mkdir -p "$R/dags"
cp "$SRC_DIR/dags-examples/hello.yaml" "$SRC_DIR/dags-examples/nightly_etl.yaml" "$R/dags/"
refresh() {
	"$SLUICE" dags refresh --repo "$R" --path dags --state-dir "$TMP/state" >/dev/null 2>&1
}
C1=$(git_commit "$R" one) && refresh || exit 1
sed -i 's/^description: .*/description: A first DAG, changed/' "$R/dags/hello.yaml"
C2=$(git_commit "$R" two) && refresh || exit 1
git -C "$R" show "$C1:dags/hello.yaml" >"$TMP/hello.c1"
git -C "$R" show "$C2:dags/hello.yaml" >"$TMP/hello.c2"
git -C "$R" show "$C1:dags/nightly_etl.yaml" >"$TMP/etl.c1"
# A DAG stored before migration 0015 (seed_dag writes no text).
seed_dag "$SRC_DIR/dags-examples/db_backup.yaml" || exit 1

# Runs r1..r8 of hello (r5 and r6 share a logical date: the run_pk breaks
# the tie, across the first page's end below), some of them scheduled,
# backfill, success.
for i in 1 2 3 4 5 6 7 8; do
	d=$i
	[ "$i" -eq 5 ] && d=6
	"$SLUICE" trigger hello --run-id "r$i" --logical-date "2026-03-0${d}T00:00:00Z" >/dev/null || exit 1
done
pg_sql "UPDATE runs SET run_type = 'scheduled' WHERE run_id IN ('r2', 'r3');
	UPDATE runs SET run_type = 'backfill' WHERE run_id = 'r6';
	UPDATE runs SET state = 'success', started_at = logical_date, ended_at = logical_date + interval '1 minute'
		WHERE run_id IN ('r1', 'r2')" >/dev/null || exit 1
printf 'tasks: [\n' >"$R/dags/hello.yaml"
C3=$(git_commit "$R" three) && refresh
# nightly_etl's file is the same since C1: its run pins C3 and version C1.
"$SLUICE" trigger nightly_etl --run-id n1 >/dev/null || exit 1
# greet of r1: try 1 failed with two chunks of log, try 2 is live.
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	SELECT ti.ti_id, 1, 'w1', now(), now(), 'failed', 1 FROM task_instances ti
	JOIN runs r USING (run_pk) WHERE r.run_id = 'r1' AND ti.task_id = 'greet';
	INSERT INTO attempts (ti_id, try_number, worker_id, started_at)
	SELECT ti.ti_id, 2, 'w1', now() FROM task_instances ti
	JOIN runs r USING (run_pk) WHERE r.run_id = 'r1' AND ti.task_id = 'greet';
	UPDATE task_instances SET try_number = 2, state = 'running' FROM runs r
	WHERE r.run_pk = task_instances.run_pk AND r.run_id = 'r1' AND task_id = 'greet';
	INSERT INTO log_chunks (attempt_id, seq, data)
	SELECT attempt_id, s, convert_to(d, 'UTF8') FROM attempts,
	(VALUES (1, 0, E'hello, world\n'), (1, 1, E'exit 1: it failed\n'), (2, 0, E'again\n')) AS v(t, s, d)
	WHERE worker_id = 'w1' AND try_number = v.t;
	INSERT INTO workers (worker_id, host, queues, slots, version, last_heartbeat_at)
	VALUES ('w1', 'box', '{default,gpu}', 4, '0.1.0', now() - interval '1 hour')" >/dev/null || exit 1
"$SLUICE" pools set warehouse 2 >/dev/null || exit 1

printf 'a viewer password\n' >"$TMP/pw"
"$SLUICE" users add vera --role viewer <"$TMP/pw" >/dev/null || exit 1
VIEWER=$("$SLUICE" tokens create vera --json | jq -r .token)

# get PATH [RANGE]: with the viewer's token (NOTOKEN=1: without one).
# "STATUS CONTENT-TYPE" in $TMP/status, the headers (names in lowercase)
# in $TMP/headers, the body's bytes in $TMP/body.
get() {
	g_path=$1
	g_range=${2-}
	set --
	[ -n "${NOTOKEN-}" ] || set -- -H "Authorization: Bearer $VIEWER"
	[ -n "$g_range" ] && set -- "$@" -H "Range: $g_range"
	curl -gsS -o "$TMP/body" -D "$TMP/headers.raw" -w '%{http_code} %{content_type}\n' \
		"$@" "http://127.0.0.1:$PORT$g_path" >"$TMP/status"
	tr -d '\r' <"$TMP/headers.raw" |
		awk -F': ' 'NF > 1 { printf "%s: %s\n", tolower($1), substr($0, length($1) + 3) }' >"$TMP/headers"
}
# same_json FILE DESCRIPTION: $TMP/body and FILE are the same JSON (jq -S).
same_json() {
	jq -S . "$TMP/body" >"$TMP/a.sorted" && jq -S . "$1" >"$TMP/b.sorted" &&
		cmp -s "$TMP/a.sorted" "$TMP/b.sorted"
	ok $? "$2"
}
# problem STATUS DETAIL DESCRIPTION: a problem document with that detail.
problem() {
	expect_grep "$TMP/status" "^$1 application/problem+json" "$3: $1"
	expect_jq "$TMP/body" ".status == $1 and .detail == \"$2\"" "$3: the detail says why"
}

PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$PORT" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"

# --- every route needs a token -------------------------------------------------------
for path in /api/v1/dags/hello "/api/v1/dags/hello/versions/$C1/source" /api/v1/dags/hello/runs \
	/api/v1/dags/hello/runs/r1 /api/v1/dags/hello/runs/r1/tasks/greet/tries/1/log \
	/api/v1/pools /api/v1/workers /api/v1/status; do
	NOTOKEN=1 get "$path"
	expect_grep "$TMP/status" '^401 application/problem+json' "GET $path without a token: 401"
done

# --- GET /api/v1/dags/{dag} ----------------------------------------------------------
get /api/v1/dags/hello
expect_grep "$TMP/status" '^200 application/json' "GET /api/v1/dags/hello: 200 JSON"
"$SLUICE" dags list --json | jq '.[] | select(.dag == "hello")' >"$TMP/cli.json"
jq 'del(.versions, .load_errors, .params)' "$TMP/body" >"$TMP/dag.json"
jq -S . "$TMP/dag.json" >"$TMP/a.sorted" && jq -S . "$TMP/cli.json" >"$TMP/b.sorted" &&
	cmp -s "$TMP/a.sorted" "$TMP/b.sorted"
ok $? "the DAG's fields are its object of sluice dags list --json"
expect_jq "$TMP/body" "[.versions[].commit] == [\"$C2\", \"$C1\"]" "its versions, newest first"
expect_jq "$TMP/body" '.versions[0].latest and (.versions[1].latest | not) and .versions[0].file == "dags/hello.yaml" and all(.versions[]; .source) and (.versions[0].loaded_at | test("^20..-..-..T"))' \
	"each with its file, when it was loaded, whether its text is stored"
"$SLUICE" dags errors --json | jq '[.[] | select(.dag == "hello")]' >"$TMP/errors.json"
jq '.load_errors' "$TMP/body" >"$TMP/body.errors"
jq -S . "$TMP/body.errors" >"$TMP/a.sorted" && jq -S . "$TMP/errors.json" >"$TMP/b.sorted" &&
	cmp -s "$TMP/a.sorted" "$TMP/b.sorted" && jq -e 'length >= 1' "$TMP/body.errors" >/dev/null
ok $? "and its load errors at the current commit, as sluice dags errors --json"
get /api/v1/dags/nightly_etl
expect_jq "$TMP/body" '.load_errors == [] and (.versions | length) == 1' "a DAG that loads has no load errors"
"$SLUICE" dags show nightly_etl --json | jq -S .params >"$TMP/params.cli"
jq -S .params "$TMP/body" >"$TMP/params.api"
cmp -s "$TMP/params.cli" "$TMP/params.api" && [ "$(jq length "$TMP/params.api")" -ge 1 ]
ok $? "with its params, as sluice dags show --json has them (the trigger form's fields)"
get /api/v1/dags/helo
problem 404 "no DAG 'helo' (did you mean 'hello'?)" "an unknown DAG"

# --- GET /api/v1/dags/{dag}/versions/{commit}/source -----------------------------------
get "/api/v1/dags/hello/versions/$C1/source"
expect_grep "$TMP/status" '^200 text/plain; charset=utf-8' "the source at a full commit: 200 text/plain UTF-8"
cmp -s "$TMP/body" "$TMP/hello.c1"
ok $? "is the file's text at that commit"
expect_grep "$TMP/headers" '^x-content-type-options: nosniff$' "a DAG file: X-Content-Type-Options: nosniff"
expect_grep "$TMP/headers" "^content-security-policy: default-src 'none'; sandbox\$" "a DAG file: a CSP that runs nothing"
get "/api/v1/dags/hello/versions/$(printf %.7s "$C2" | tr a-f A-F)/source"
cmp -s "$TMP/body" "$TMP/hello.c2"
ok $? "an abbreviated commit (7 digits, any case) finds its version"
expect_grep "$TMP/headers" "^x-sluice-commit: $C2\$" "X-Sluice-Commit names the full commit"
get "/api/v1/dags/nightly_etl/versions/$(printf %.10s "$C3")/source"
cmp -s "$TMP/body" "$TMP/etl.c1"
ok $? "a run's commit where its file did not change gives the version the run pins"
get "/api/v1/dags/hello/versions/$C3/source"
problem 404 "DAG 'hello' has no version at commit $C3" "the commit where the file broke"
get /api/v1/dags/hello/versions/nothex1/source
problem 400 "path parameter commit: expected 7 to 64 hexadecimal digits" "a commit that is not hex"
get /api/v1/dags/hello/versions/abc12/source
expect_grep "$TMP/status" '^400 ' "a commit of fewer than 7 digits: 400"
get "/api/v1/dags/nope/versions/$C1/source"
problem 404 "no DAG 'nope'" "the source of an unknown DAG"
get /api/v1/dags/db_backup/versions/0000000000000000000000000000000000000001/source
expect_grep "$TMP/status" '^404 ' "a version stored before migration 0015: 404"
expect_jq "$TMP/body" '.detail | test("migration 0015")' "which says why it has no text"

# --- GET /api/v1/dags/{dag}/runs --------------------------------------------------------
get "/api/v1/dags/hello/runs?limit=20"
expect_grep "$TMP/status" '^200 application/json' "the runs: 200 JSON"
"$SLUICE" runs list hello --limit 20 --json >"$TMP/cli.json"
jq '.runs' "$TMP/body" >"$TMP/runs.json"
jq -S . "$TMP/runs.json" >"$TMP/a.sorted" && jq -S . "$TMP/cli.json" >"$TMP/b.sorted" &&
	cmp -s "$TMP/a.sorted" "$TMP/b.sorted"
ok $? "the runs are sluice runs list --json's objects, in its order"
expect_jq "$TMP/body" '.next_cursor == null and (.runs | length) == 8' "all 8 on one page: next_cursor is null"
get /api/v1/dags/hello/runs?state=success
expect_jq "$TMP/body" '[.runs[].run_id] == ["r2", "r1"]' "state=success"
get /api/v1/dags/hello/runs?type=scheduled
expect_jq "$TMP/body" '[.runs[].run_id] == ["r3", "r2"]' "type=scheduled"
get "/api/v1/dags/hello/runs?since=2026-03-03T00:00:00Z&until=2026-03-04"
expect_jq "$TMP/body" '[.runs[].run_id] == ["r4", "r3"]' "since and until (inclusive; a date is midnight UTC)"
get "/api/v1/dags/hello/runs?type=manual&state=queued&limit=2"
expect_jq "$TMP/body" '[.runs[].run_id] == ["r8", "r7"] and (.next_cursor | type) == "string"' \
	"filters combine; a full page has a next_cursor"

# Pages of 3: every run exactly once, in order, while runs are added
# before the first page's cursor (not shown: newer than the walk) and
# after it (shown once).
: >"$TMP/seen"
cursor=
page=0
while :; do
	get "/api/v1/dags/hello/runs?limit=3${cursor:+&cursor=$cursor}"
	jq -r '.runs[].run_id' "$TMP/body" >>"$TMP/seen"
	cursor=$(jq -r '.next_cursor // empty' "$TMP/body")
	page=$((page + 1))
	if [ "$page" -eq 1 ]; then
		"$SLUICE" trigger hello --run-id newer --logical-date 2026-04-01T00:00:00Z >/dev/null
		"$SLUICE" trigger hello --run-id older --logical-date 2026-02-01T00:00:00Z >/dev/null
	fi
	[ -z "$cursor" ] || [ "$page" -gt 10 ] && break
done
printf 'r8\nr7\nr6\nr5\nr4\nr3\nr2\nr1\nolder\n' | cmp -s - "$TMP/seen"
ok $? "limit=3 pages visit every run once, ties on the logical date included, none repeated or skipped"
[ "$page" -eq 3 ]
ok $? "in 3 pages, the last with next_cursor null"

get /api/v1/dags/hello/runs?limit=0
problem 400 "query parameter limit: expected a whole number from 1 to 500" "limit=0"
get /api/v1/dags/hello/runs?limit=501
expect_grep "$TMP/status" '^400 ' "limit=501: 400"
get /api/v1/dags/hello/runs?limit=3x
expect_grep "$TMP/status" '^400 ' "limit=3x: 400"
get /api/v1/dags/hello/runs?state=sucess
problem 400 "query parameter state: unknown run state 'sucess' (did you mean 'success'?)" "state=sucess"
get /api/v1/dags/hello/runs?type=cron
problem 400 "query parameter type: unknown run type 'cron' (scheduled, manual, backfill)" "type=cron"
get /api/v1/dags/hello/runs?since=yesterday
expect_grep "$TMP/status" '^400 ' "since=yesterday: 400"
expect_jq "$TMP/body" '.detail | startswith("query parameter since: ")' "the detail names since"
get "/api/v1/dags/hello/runs?until=2026-13-01"
expect_jq "$TMP/body" '.status == 400 and (.detail | startswith("query parameter until: "))' "a bad until: 400 naming until"
get "/api/v1/dags/hello/runs?cursor=%21%21%21"
problem 400 "query parameter cursor: not a cursor of this API (pass next_cursor as it came)" "a cursor that is not base64url"
get "/api/v1/dags/hello/runs?cursor=$(printf '1.5.x' | base64 | tr '+/' '-_' | tr -d '=')"
expect_grep "$TMP/status" '^400 ' "a cursor of base64url but not a sort key: 400"
get "/api/v1/dags/hello/runs?cursor=$(printf '1.5.0' | base64 | tr '+/' '-_' | tr -d '=')"
expect_grep "$TMP/status" '^400 ' "a cursor with run_pk 0: 400"
get /api/v1/dags/nope/runs
problem 404 "no DAG 'nope'" "the runs of an unknown DAG"

# --- GET /api/v1/dags/{dag}/grid ------------------------------------------------------------
# The grid view's one answer: the runs of runs list --json, newest first,
# each with the cell fields of runs show --json's tasks, in its order.
get "/api/v1/dags/hello/grid?runs=4"
expect_grep "$TMP/status" '^200 application/json' "the grid: 200 JSON"
"$SLUICE" runs list hello --limit 4 --json >"$TMP/cli.json"
jq -S '[.runs[] | del(.commit, .tasks)]' "$TMP/body" >"$TMP/a.sorted" && jq -S . "$TMP/cli.json" >"$TMP/b.sorted" &&
	cmp -s "$TMP/a.sorted" "$TMP/b.sorted"
ok $? "its runs are sluice runs list --limit 4 --json's, in its order"
: >"$TMP/grid.ok"
for run in $(jq -r '.runs[].run_id' "$TMP/body"); do
	"$SLUICE" runs show hello "$run" --json |
		jq -S '{commit, tasks: [.tasks[] | {task, state, try_number, started_at, ended_at, exit_code, worker}]}' >"$TMP/cli.json"
	jq -S --arg r "$run" '.runs[] | select(.run_id == $r) | {commit, tasks}' "$TMP/body" | cmp -s - "$TMP/cli.json" &&
		echo "$run" >>"$TMP/grid.ok"
done
[ "$(wc -l <"$TMP/grid.ok")" -eq 4 ]
ok $? "each run's commit and cells are runs show --json's, task by task, in its order"
get /api/v1/dags/hello/grid
expect_jq "$TMP/body" '(.runs | length) == 10 and any(.runs[]; .run_id == "r1" and (.tasks | length) == 3)' \
	"without runs=: every run up to 25 (here 10), each with its tasks"
get /api/v1/dags/hello/grid?runs=0
problem 400 "query parameter runs: expected a whole number from 1 to 100" "runs=0"
get /api/v1/dags/hello/grid?runs=101
expect_grep "$TMP/status" '^400 ' "runs=101: 400"
get /api/v1/dags/nope/grid
problem 404 "no DAG 'nope'" "the grid of an unknown DAG"

# --- GET /api/v1/dags/{dag}/runs/{run_id} ------------------------------------------------
get /api/v1/dags/hello/runs/r1
expect_grep "$TMP/status" '^200 application/json' "a run: 200 JSON"
"$SLUICE" runs show hello r1 --json >"$TMP/cli.json"
same_json "$TMP/cli.json" "the run is sluice runs show --json byte for byte (jq -S)"
expect_jq "$TMP/body" '(.tasks[] | select(.task == "greet") | .tries | length) == 2 and has("callbacks")' \
	"with each task's tries and the callbacks"
get /api/v1/dags/hello/runs/r9
"$SLUICE" runs show hello r9 2>"$TMP/cli.err" >/dev/null
problem 404 "$(sed 's/^sluice: //' "$TMP/cli.err")" "an unknown run (the CLI's sentence)"
get /api/v1/dags/nope/runs/r1
problem 404 "no DAG 'nope'" "a run of an unknown DAG"
# The CLI's alias: latest is the DAG's newest run.
get /api/v1/dags/hello/runs/latest
"$SLUICE" runs show hello latest --json >"$TMP/cli.json"
same_json "$TMP/cli.json" "runs/latest is sluice runs show DAG latest --json"
get /api/v1/dags/db_backup/runs/latest
"$SLUICE" runs show db_backup latest 2>"$TMP/cli.err" >/dev/null
problem 404 "$(sed 's/^sluice: //' "$TMP/cli.err")" "latest of a DAG without runs (the CLI's sentence)"

# --- GET .../tasks/{task}/tries/{n}/log ----------------------------------------------------
LOG=/api/v1/dags/hello/runs/r1/tasks/greet/tries
"$SLUICE" logs hello r1 greet --try 1 >"$TMP/cli.log" || exit 1
get $LOG/1/log
expect_grep "$TMP/status" '^200 text/plain; charset=utf-8' "a try's log: 200 text/plain UTF-8"
cmp -s "$TMP/body" "$TMP/cli.log"
ok $? "is what sluice logs --try 1 prints"
expect_grep "$TMP/headers" '^accept-ranges: bytes$' "Accept-Ranges: bytes"
# A log holds what a task printed, a conf value among it: never HTML.
expect_grep "$TMP/headers" '^x-content-type-options: nosniff$' "a log: X-Content-Type-Options: nosniff"
expect_grep "$TMP/headers" "^content-security-policy: default-src 'none'; sandbox\$" "a log: a CSP that runs nothing"
get $LOG/2/log
printf 'again\n' | cmp -s - "$TMP/body"
ok $? "try 2 (live) has its own log"
LEN=$(wc -c <"$TMP/cli.log")
get $LOG/1/log "bytes=0-4"
expect_grep "$TMP/status" '^206 text/plain' "Range bytes=0-4: 206"
expect_grep "$TMP/headers" "^content-range: bytes 0-4/$LEN\$" "Content-Range: bytes 0-4/LEN"
head -c 5 "$TMP/cli.log" | cmp -s - "$TMP/body"
ok $? "the first 5 bytes"
get $LOG/1/log "bytes=-7"
tail -c 7 "$TMP/cli.log" | cmp -s - "$TMP/body"
ok $? "bytes=-7: the last 7 bytes"
expect_grep "$TMP/headers" "^content-range: bytes $((LEN - 7))-$((LEN - 1))/$LEN\$" "with their Content-Range"
get $LOG/1/log "bytes=13-"
tail -c +14 "$TMP/cli.log" | cmp -s - "$TMP/body"
ok $? "bytes=13-: from byte 13 to the end"
get $LOG/1/log "bytes=10-100000"
expect_grep "$TMP/headers" "^content-range: bytes 10-$((LEN - 1))/$LEN\$" "an end past the log stops at its end"
get $LOG/1/log "bytes=$LEN-"
expect_grep "$TMP/status" '^416 ' "a range that starts past the end: 416"
expect_grep "$TMP/headers" "^content-range: bytes \*/$LEN\$" "with Content-Range: bytes */LEN"
get $LOG/1/log "bytes=-0"
expect_grep "$TMP/status" '^416 ' "bytes=-0: 416"
for bad in "bytes=abc" "bytes=5-2" "lines=0-4" "bytes=0-1,4-5" "bytes=-" "bytes= 0-4"; do
	get $LOG/1/log "$bad"
	expect_grep "$TMP/status" '^200 ' "a Range header '$bad' is ignored: 200"
	cmp -s "$TMP/body" "$TMP/cli.log"
	ok $? "and the whole log"
done
get $LOG/3/log
"$SLUICE" logs hello r1 greet --try 3 2>"$TMP/cli.err" >/dev/null
problem 404 "$(sed 's/^sluice: //' "$TMP/cli.err")" "a try that does not exist (the CLI's sentence)"
get /api/v1/dags/hello/runs/r1/tasks/done/tries/1/log
"$SLUICE" logs hello r1 done --try 1 2>"$TMP/cli.err" >/dev/null
problem 404 "$(sed 's/^sluice: //' "$TMP/cli.err")" "a task that never ran (the CLI's sentence)"
get /api/v1/dags/hello/runs/r1/tasks/nope/tries/1/log
"$SLUICE" logs hello r1 nope 2>"$TMP/cli.err" >/dev/null
problem 404 "$(sed 's/^sluice: //' "$TMP/cli.err")" "an unknown task (the CLI's sentence)"
get /api/v1/dags/hello/runs/r9/tasks/greet/tries/1/log
problem 404 "no run 'r9' of DAG 'hello'" "the log of an unknown run"
get $LOG/0/log
problem 400 "path parameter n: expected a try number from 1 to 100000" "try 0"
get $LOG/x/log
expect_grep "$TMP/status" '^400 ' "try x: 400"

# A big log is read a part at a time: 48 chunks of 64 KiB, each line
# naming its chunk, so that any misplaced byte shows.
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	SELECT ti.ti_id, 1, 'w2', now(), now(), 'success', 0 FROM task_instances ti
	JOIN runs r USING (run_pk) WHERE r.run_id = 'r1' AND ti.task_id = 'count';
	INSERT INTO log_chunks (attempt_id, seq, data)
	SELECT attempt_id, g, convert_to(repeat(lpad(g::text, 7, '0') || E'\\n', 8192), 'UTF8')
	FROM attempts, generate_series(0, 47) g WHERE worker_id = 'w2'" >/dev/null || exit 1
for g in $(seq 0 47); do yes "$(printf %07d "$g")" | head -n 8192; done >"$TMP/big.log"
BIG=/api/v1/dags/hello/runs/r1/tasks/count/tries/1/log
get $BIG "bytes=0-"
expect_grep "$TMP/headers" '^content-range: bytes 0-1048575/3145728$' \
	"bytes=0- of a 3 MiB log: its first MiB, and how long the log is"
head -c 1048576 "$TMP/big.log" | cmp -s - "$TMP/body"
ok $? "... byte for byte"
get $BIG "bytes=1000000-1100000"
tail -c +1000001 "$TMP/big.log" | head -c 100001 | cmp -s - "$TMP/body"
ok $? "a range across two chunks: exactly its bytes"
get $BIG "bytes=-100"
tail -c 100 "$TMP/big.log" | cmp -s - "$TMP/body"
ok $? "bytes=-100: the last 100 bytes"
: >"$TMP/followed"
next=0 asks=0
while [ $asks -lt 10 ]; do
	get $BIG "bytes=$next-"
	cat "$TMP/body" >>"$TMP/followed"
	asks=$((asks + 1))
	next=$(sed -n 's|^content-range: bytes [0-9]*-\([0-9]*\)/.*|\1|p' "$TMP/headers")
	next=$((next + 1))
	[ "$next" -ge 3145728 ] && break
done
cmp -s "$TMP/followed" "$TMP/big.log" && [ $asks -eq 3 ]
ok $? "asking on from each answer's end reads the whole log in 3 answers ($asks)"
get $BIG
expect_grep "$TMP/status" '^200 ' "without Range: the whole 3 MiB"
cmp -s "$TMP/body" "$TMP/big.log"
ok $? "... byte for byte"
pg_sql "INSERT INTO log_chunks (attempt_id, seq, data)
	SELECT attempt_id, g, convert_to(repeat('x', 65536), 'UTF8')
	FROM attempts, generate_series(48, 271) g WHERE worker_id = 'w2'" >/dev/null || exit 1
get $BIG
problem 400 "the log has 17825792 bytes, more than one answer holds (16777216): ask for a part of it with a Range header" \
	"a 17 MiB log without Range"
get $BIG "bytes=-5"
expect_grep "$TMP/headers" '^content-range: bytes 17825787-17825791/17825792$' "but its last bytes with one"
# A running attempt's log stops at a gap: the chunk before it is not committed yet.
pg_sql "INSERT INTO log_chunks (attempt_id, seq, data)
	SELECT attempt_id, 2, convert_to(E'after a gap\\n', 'UTF8') FROM attempts
	WHERE worker_id = 'w1' AND try_number = 2" >/dev/null || exit 1
get $LOG/2/log "bytes=0-"
printf 'again\n' | cmp -s - "$TMP/body"
ok $? "a running try's log stops at a gap in its chunks"
pg_sql "UPDATE attempts SET ended_at = now(), outcome = 'success' WHERE worker_id = 'w1' AND try_number = 2" >/dev/null
get $LOG/2/log "bytes=0-"
printf 'again\nafter a gap\n' | cmp -s - "$TMP/body"
ok $? "once it has ended, every chunk it wrote"
pg_sql "UPDATE attempts SET ended_at = NULL, outcome = NULL WHERE worker_id = 'w1' AND try_number = 2;
	DELETE FROM log_chunks WHERE seq = 2 AND attempt_id IN (SELECT attempt_id FROM attempts WHERE worker_id = 'w1' AND try_number = 2)" >/dev/null

# --- GET /api/v1/pools, /workers, /status -------------------------------------------------
get /api/v1/pools
expect_grep "$TMP/status" '^200 application/json' "pools: 200 JSON"
"$SLUICE" pools list --json >"$TMP/cli.json"
same_json "$TMP/cli.json" "the pools are sluice pools list --json"
expect_jq "$TMP/body" 'any(.[]; .pool == "warehouse" and .slots == 2)' "with the pool set"
# heartbeat_age_seconds follows the clock: compared apart from it.
get /api/v1/workers
expect_grep "$TMP/status" '^200 application/json' "workers: 200 JSON"
"$SLUICE" workers list --json 2>/dev/null | jq 'map(del(.heartbeat_age_seconds))' >"$TMP/cli.json"
jq 'map(del(.heartbeat_age_seconds))' "$TMP/body" >"$TMP/api.json" && cp "$TMP/api.json" "$TMP/body"
same_json "$TMP/cli.json" "the workers are sluice workers list --json"
expect_jq "$TMP/body" 'length == 1 and .[0].worker == "w1" and .[0].stale and .[0].queues == ["default", "gpu"]' "with the worker"
get /api/v1/status
expect_grep "$TMP/status" '^200 application/json' "status: 200 JSON"
"$SLUICE" status --json >"$TMP/cli.json"
same_json "$TMP/cli.json" "the status is sluice status --json"
expect_jq "$TMP/body" '.workers.stale == 1 and .runs.queued >= 6 and .source.commit != null' "with its counts"

stop_daemon w
[ "$status" -eq 0 ]
ok $? "sluice-web stops, exit 0 (in a sanitizer build: no leak, no error)"
! grep -q 'Sanitizer' "$TMP/w.log"
ok $? "its log has no sanitizer report"
done_testing
