#!/bin/sh
# `sluice dags list | show DAG | next | pause | unpause | errors` against a
# private PostgreSQL, with DAG versions, runs and load errors put there by
# seed_dag and psql.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"

cd "$SRC_DIR" || exit 1
C1=0000000000000000000000000000000000000001
C2=2222222222222222222222222222222222222222

for cmd in "dags list" "dags show" "dags next" "dags pause" "dags unpause" "dags errors"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done
run "$SLUICE" dags next
expect_status 2 "dags next without a DAG is a usage error"
run "$SLUICE" dags pause a b
expect_status 2 "dags pause takes one DAG"
run "$SLUICE" dags list extra
expect_status 2 "dags list takes no argument"
run "$SLUICE" dags next hello --count 0
expect_status 2 "dags next --count 0 is a usage error"
expect_grep "$TMP/err" "expected an integer from 1 to 1000" "and says what is allowed"

pg_start
pg_newdb dags
run "$SLUICE" db init
expect_status 0 "db init"

# --- dags list -----------------------------------------------------------------
run "$SLUICE" dags list
expect_status 0 "dags list on an empty database exits 0"
expect_file "$TMP/out" "DAG  SCHEDULE  PAUSED  LAST RUN  NEXT RUN  VERSION  NOTES" \
	"dags list on an empty database prints only the header"
run "$SLUICE" dags list --json
expect_file "$TMP/out" "[]" "dags list --json on an empty database is []"

for f in dags-examples/*.yaml; do
	seed_dag "$f" || echo "# seed_dag $f failed"
done
run "$SLUICE" dags list
expect_status 0 "dags list exits 0"
expect_grep "$TMP/out" '^DAG  *SCHEDULE  *PAUSED  *LAST RUN  *NEXT RUN  *VERSION  *NOTES$' "header"
expect_grep "$TMP/out" '^hello  *none  *no  *-  *-  *0000000$' \
	"a manual DAG: schedule none, no next run, short commit"
# catchup and a start date that has passed: the first interval, due now.
expect_grep "$TMP/out" '^db_backup  *0 \*/6 \* \* \*  *no  *-  *due now (covers \[2026-11-01T00:00:00Z, 2026-11-01T06:00:00Z))  *0000000$' \
	"a catchup DAG's next run is its first interval, due now"
expect_grep "$TMP/out" '^nightly_etl  *0 2 \* \* \*  *no  *-  *due now (covers \[20[0-9-]*T02:00:00+0[12]:00, 20[0-9-]*T02:00:00+0[12]:00))  *0000000$' \
	"a cron DAG without catchup: the latest complete interval, in its zone"
run "$SLUICE" dags list --json
expect_jq "$TMP/out" 'map(.dag) == ["daily_report","db_backup","hello","ml_training","nightly_etl"]' \
	"dags list --json: every DAG, by id"
expect_jq "$TMP/out" '.[] | select(.dag == "hello") == {"dag":"hello","schedule":null,
	"timezone":"UTC","paused":false,"removed":false,"error":false,
	"commit":"0000000000000000000000000000000000000001","last_run":null,"next_run":null,
	"next_run_at":null,"next_data_interval_start":null,"next_data_interval_end":null,
	"tags":["example"],"owner":null,"latest_runs":[]}' \
	"dags list --json: the shape of a manual DAG"
expect_jq "$TMP/out" '.[] | select(.dag == "daily_report") | .tags == ["reports"] and .owner == "analytics"' \
	"dags list --json: the DAG's tags and owner"
expect_jq "$TMP/out" '.[] | select(.dag == "db_backup") | .next_run ==
	{"logical_date":"2026-11-01T00:00:00Z","run_after":"2026-11-01T06:00:00Z"}' \
	"dags list --json: next_run has the logical date and when it runs"
expect_jq "$TMP/out" '.[] | select(.dag == "db_backup") | [.next_run_at,
	.next_data_interval_start, .next_data_interval_end] ==
	["2026-11-01T06:00:00Z","2026-11-01T00:00:00Z","2026-11-01T06:00:00Z"]' \
	"dags list --json: next_run_at and the next data interval"
expect_jq "$TMP/out" '.[] | select(.dag == "nightly_etl") | .timezone == "Europe/Paris" and
	(.next_run.logical_date | test("T02:00:00\\+0[12]:00$"))' \
	"dags list --json: times in the DAG's zone"

# The latest interval without catchup, against the clock: an hourly DAG.
cat >"$TMP/hourly.yaml" <<'EOF'
schedule: "0 * * * *"
start_date: 2020-01-01
tasks:
  t: {command: "true"}
EOF
seed_dag "$TMP/hourly.yaml"
before=$(date -u +%s)
run "$SLUICE" dags list --json
after=$(date -u +%s)
want1=$(date -u -d "@$((before / 3600 * 3600 - 3600))" +%Y-%m-%dT%H:%M:%SZ)
want2=$(date -u -d "@$((after / 3600 * 3600 - 3600))" +%Y-%m-%dT%H:%M:%SZ)
expect_jq "$TMP/out" ".[] | select(.dag == \"hourly\") | .next_run.logical_date as \$d |
	\$d == \"$want1\" or \$d == \"$want2\"" \
	"without catchup, the next logical date is the start of the last complete hour"

# A run not yet due: when it starts, how long until then, and what it covers.
cat >"$TMP/later.yaml" <<'EOF'
schedule: "0 2 * * *"
start_date: 2099-01-01
tasks:
  t: {command: "true"}
EOF
seed_dag "$TMP/later.yaml"
run "$SLUICE" dags list
expect_grep "$TMP/out" '^later  *0 2 \* \* \*  *no  *-  *2099-01-02T02:00:00Z, in [0-9dhms]* (covers \[2099-01-01T02:00:00Z, 2099-01-02T02:00:00Z))  *0000000$' \
	"a run not yet due: its start time, the wait, and the interval it covers"

# A paused DAG has no next run.
pg_sql "UPDATE dags SET paused = true WHERE dag_id = 'db_backup'"
run "$SLUICE" dags list
expect_grep "$TMP/out" '^db_backup  *0 \*/6 \* \* \*  *yes  *-  *-  *0000000$' \
	"a paused DAG: PAUSED yes, no next run"
run "$SLUICE" dags list --json
expect_jq "$TMP/out" '.[] | select(.dag == "db_backup") | .paused == true and .next_run == null' \
	"dags list --json: paused, next_run null"
pg_sql "UPDATE dags SET paused = false WHERE dag_id = 'db_backup'"

# Runs: the last run by logical date, and a scheduled run moves the next one.
vid=$(pg_sql "SELECT latest_version_id FROM dags WHERE dag_id = 'db_backup'")
pg_sql "INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
	data_interval_start, data_interval_end, state, started_at)
	VALUES ('db_backup', 'scheduled__2026-11-01T00:00:00+00:00', $vid, '$C1', 'scheduled',
	'2026-11-01T00:00Z', '2026-11-01T00:00Z', '2026-11-01T06:00Z', 'running', now())"
pg_sql "INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
	data_interval_start, data_interval_end, state, started_at, ended_at)
	VALUES ('db_backup', 'manual__old', $vid, '$C1', 'manual', '2026-10-01T00:00Z',
	'2026-10-01T00:00Z', '2026-10-01T00:00Z', 'failed', now(), now())"
run "$SLUICE" dags list
expect_grep "$TMP/out" '^db_backup  *0 \*/6 \* \* \*  *no  *running  *due now (covers \[2026-11-01T06:00:00Z, 2026-11-01T12:00:00Z))  *0000000$' \
	"a run shows its state; with catchup the next interval follows the last scheduled one"
run "$SLUICE" dags list --json
expect_jq "$TMP/out" '.[] | select(.dag == "db_backup") | .last_run == {"run_id":
	"scheduled__2026-11-01T00:00:00+00:00","state":"running","logical_date":"2026-11-01T00:00:00Z"}' \
	"dags list --json: last_run is the latest by logical date"
expect_jq "$TMP/out" '.[] | select(.dag == "db_backup") | .latest_runs == [
	{"run_id":"manual__old","state":"failed","logical_date":"2026-10-01T00:00:00Z"},
	{"run_id":"scheduled__2026-11-01T00:00:00+00:00","state":"running","logical_date":"2026-11-01T00:00:00Z"}]' \
	"dags list --json: latest_runs, oldest first, for the runs strip"

# removed and error markers; errors at another commit do not count.
pg_sql "UPDATE dags SET removed_at = now() WHERE dag_id = 'ml_training'"
pg_sql "INSERT INTO source_state (repo, path, commit) VALUES ('/srv/dags.git', '', '$C2')"
pg_sql "INSERT INTO load_errors (commit, path, dag_id, line, col, message) VALUES
	('$C2', 'daily_report.yaml', 'daily_report', 3, 11, 'bad cron'),
	('$C1', 'hello.yaml', 'hello', 1, 1, 'an old error')"
run "$SLUICE" dags list
expect_grep "$TMP/out" '^ml_training  *@daily  *no  *-  *-  *0000000  *removed$' \
	"a removed DAG is marked and has no next run"
expect_grep "$TMP/out" '^daily_report .* 0000000  *error$' \
	"a DAG with load errors at the current commit is marked"
expect_grep "$TMP/out" '^hello  *none  *no  *-  *-  *0000000$' \
	"errors at an older commit do not mark a DAG"
run "$SLUICE" dags list --json
expect_jq "$TMP/out" '(.[] | select(.dag == "ml_training") | .removed == true) and
	(.[] | select(.dag == "daily_report") | .error == true) and
	(.[] | select(.dag == "hello") | .error == false)' "dags list --json: removed and error"

# trigger warns when the current file is a load error, and still runs the
# last version that loaded.
run "$SLUICE" trigger daily_report --run-id warned
expect_status 0 "trigger a DAG whose current file has load errors succeeds"
expect_grep "$TMP/err" "^sluice: warning: DAG 'daily_report': its file has load errors at the current commit (daily_report.yaml:3:11: bad cron); the run uses the last version that loaded, commit 0000000 (see 'sluice dags errors')$" \
	"and warns, naming the first error and the commit that runs"
expect_file "$TMP/out" "warned" "and prints the run id"
run "$SLUICE" trigger hello --run-id quiet
expect_status 0 "trigger a DAG that loads"
expect_file "$TMP/err" "" "no warning when only an older commit had errors"
pg_sql "DELETE FROM runs WHERE run_id IN ('warned', 'quiet')" >/dev/null

# --- dags show DAG -----------------------------------------------------------
"$SLUICE" dags show dags-examples/daily_report.yaml >"$TMP/file.txt"
run "$SLUICE" dags show daily_report
expect_status 0 "dags show DAG exits 0"
expect_file "$TMP/out" "$(cat "$TMP/file.txt")" "dags show DAG: the same tree as from the file"
"$SLUICE" dags show dags-examples/daily_report.yaml --dot >"$TMP/file.txt"
run "$SLUICE" dags show daily_report --dot
expect_file "$TMP/out" "$(cat "$TMP/file.txt")" "dags show DAG --dot: the same DOT as from the file"
"$SLUICE" dags show dags-examples/nightly_etl.yaml --json | jq -S . >"$TMP/file.json"
run "$SLUICE" dags show nightly_etl --json
jq -S . "$TMP/out" >"$TMP/db.json"
expect_file "$TMP/db.json" "$(cat "$TMP/file.json")" "dags show DAG --json equals the file's JSON"
run "$SLUICE" dags show no_such_dag
expect_status 3 "dags show of an unknown DAG exits 3"
expect_grep "$TMP/err" "no DAG 'no_such_dag'" "and says so"
run "$SLUICE" dags show 'not an id'
expect_status 3 "dags show of something that is no id exits 3"
pg_sql "INSERT INTO dags (dag_id, paused) VALUES ('never_loaded', false)"
run "$SLUICE" dags show never_loaded
expect_status 1 "dags show of a DAG without a loadable version exits 1"
expect_grep "$TMP/err" "has no version that loads; see 'sluice dags errors'" "and says where to look"
run "$SLUICE" dags show missing/file.yaml
expect_status 3 "a path that does not exist is still a missing file (exit 3)"

# --- dags next ---------------------------------------------------------------
# Fixed hour, Europe/Paris, start date in the future (so the answer does not
# depend on the clock). 2030-03-31: 02:00 does not exist, cronie runs the job
# at 03:00 CEST; 2030-10-27: 02:00 happens twice, the job runs at the first.
cat >"$TMP/paris.yaml" <<'EOF'
schedule: "0 2 * * *"
timezone: Europe/Paris
start_date: 2030-03-29
tasks:
  t: {command: "true"}
EOF
seed_dag "$TMP/paris.yaml"
run "$SLUICE" dags next paris --count 4
expect_status 0 "dags next exits 0"
expect_file "$TMP/out" "LOGICAL DATE               RUNS AFTER
2030-03-29T02:00:00+01:00  2030-03-30T02:00:00+01:00
2030-03-30T02:00:00+01:00  2030-03-31T03:00:00+02:00
2030-03-31T03:00:00+02:00  2030-04-01T02:00:00+02:00
2030-04-01T02:00:00+02:00  2030-04-02T02:00:00+02:00" "dags next across spring-forward in Paris"
sed 's/2030-03-29/2030-10-26/' "$TMP/paris.yaml" >"$TMP/paris_fall.yaml"
seed_dag "$TMP/paris_fall.yaml"
run "$SLUICE" dags next paris_fall --count 3 --json
expect_file "$TMP/out" '{
  "dag": "paris_fall",
  "schedule": "0 2 * * *",
  "timezone": "Europe/Paris",
  "paused": false,
  "runs": [
    {
      "logical_date": "2030-10-26T02:00:00+02:00",
      "run_after": "2030-10-27T02:00:00+02:00"
    },
    {
      "logical_date": "2030-10-27T02:00:00+02:00",
      "run_after": "2030-10-28T02:00:00+01:00"
    },
    {
      "logical_date": "2030-10-28T02:00:00+01:00",
      "run_after": "2030-10-29T02:00:00+01:00"
    }
  ]
}' "dags next --json across fall-back in Paris (a 25-hour interval)"
run "$SLUICE" dags next db_backup --count 2
expect_grep "$TMP/out" '^2026-11-01T06:00:00Z  2026-11-01T12:00:00Z$' \
	"dags next starts where the last scheduled run ended (catchup)"
run "$SLUICE" dags next paris
expect_status 0 "dags next without --count"
[ "$(wc -l <"$TMP/out")" -eq 6 ]
ok $? "prints 5 dates by default"
run "$SLUICE" dags next hello
expect_status 0 "dags next of a manual DAG exits 0"
expect_file "$TMP/out" "" "and prints no date"
expect_grep "$TMP/err" "has no schedule" "but says why"
run "$SLUICE" dags next no_such_dag
expect_status 3 "dags next of an unknown DAG exits 3"

# --- dags pause / unpause ----------------------------------------------------
# A psql session listens on channel "sluice" while sluice pauses and unpauses;
# psql prints the notifications it received once its sleep ends.
psql -X -q -c "LISTEN sluice" -c "SELECT pg_sleep(3)" >"$TMP/listen.out" 2>&1 &
listener=$!
i=0
while [ $i -lt 100 ] && [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
	WHERE query = 'SELECT pg_sleep(3)' AND state = 'active'")" != 1 ]; do
	sleep 0.1
	i=$((i + 1))
done
run "$SLUICE" dags pause hello
expect_status 0 "dags pause exits 0"
expect_file "$TMP/out" "DAG hello paused" "dags pause says so"
pg_sql "SELECT paused FROM dags WHERE dag_id = 'hello'" >"$TMP/flag"
expect_file "$TMP/flag" "t" "the database has the DAG paused"
run "$SLUICE" dags pause hello
expect_status 0 "pausing a paused DAG is not an error"
expect_file "$TMP/out" "DAG hello was already paused" "and says it was"
run "$SLUICE" dags unpause hello --json
expect_file "$TMP/out" '{
  "dag": "hello",
  "paused": false,
  "changed": true
}' "dags unpause --json"
pg_sql "SELECT paused FROM dags WHERE dag_id = 'hello'" >"$TMP/flag"
expect_file "$TMP/flag" "f" "the database has the DAG unpaused"
wait $listener
expect_grep "$TMP/listen.out" 'notification "sluice" with payload "pause hello" received' \
	"dags pause notifies the scheduler (NOTIFY sluice 'pause hello')"
expect_grep "$TMP/listen.out" 'notification "sluice" with payload "unpause hello" received' \
	"dags unpause notifies the scheduler (NOTIFY sluice 'unpause hello')"
run "$SLUICE" dags pause no_such_dag
expect_status 3 "dags pause of an unknown DAG exits 3"
run "$SLUICE" dags unpause no_such_dag
expect_status 3 "dags unpause of an unknown DAG exits 3"
expect_grep "$TMP/err" "no DAG 'no_such_dag'" "and says so"

# --- dags errors -------------------------------------------------------------
pg_sql "INSERT INTO load_errors (commit, path, dag_id, line, col, message) VALUES
	('$C2', 'broken.yaml', NULL, 7, 5, 'unknown key ''retires'''),
	('$C2', 'daily_report.yaml', 'daily_report', 1, 9, 'first')"
run "$SLUICE" dags errors
expect_status 0 "dags errors exits 0 when there are errors"
expect_file "$TMP/out" "broken.yaml:7:5: unknown key 'retires'
daily_report.yaml:1:9: first
daily_report.yaml:3:11: bad cron" "dags errors: the current commit's, sorted, as file:line:col: message"
run "$SLUICE" dags errors --json
expect_jq "$TMP/out" '. == [
	{"file":"broken.yaml","line":7,"column":5,"message":"unknown key '"'"'retires'"'"'","dag":null},
	{"file":"daily_report.yaml","line":1,"column":9,"message":"first","dag":"daily_report"},
	{"file":"daily_report.yaml","line":3,"column":11,"message":"bad cron","dag":"daily_report"}]' \
	"dags errors --json"
pg_sql "UPDATE source_state SET commit = '$C1'"
run "$SLUICE" dags errors
expect_file "$TMP/out" "hello.yaml:1:1: an old error" "dags errors follows the current commit"
pg_sql "DELETE FROM source_state"
run "$SLUICE" dags errors --json
expect_status 0 "dags errors before any refresh exits 0"
expect_file "$TMP/out" "[]" "and lists nothing"

# --- a schedule this sluice cannot read ---------------------------------------
# A version stored by a sluice that knows a zone this one does not.
sed 's/2030-03-29/2030-01-01/' "$TMP/paris.yaml" >"$TMP/mars.yaml"
seed_dag "$TMP/mars.yaml"
pg_sql "UPDATE dag_versions SET timezone = 'Mars/Olympus' WHERE dag_id = 'mars'"
run "$SLUICE" dags list
expect_status 0 "dags list with an unreadable schedule exits 0"
expect_grep "$TMP/out" '^mars  *0 2 \* \* \*  *no  *-  *?  *0000000$' "and shows its next run as ?"
expect_grep "$TMP/err" "^sluice: DAG 'mars': cannot read its stored definition: " "and says why"
run "$SLUICE" dags next mars
expect_status 1 "dags next of an unreadable schedule exits 1"
expect_grep "$TMP/err" "^sluice: DAG 'mars': cannot read its stored definition: " "and says why"

# --- the database is gone ----------------------------------------------------
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
for cmd in "dags list" "dags show hello" "dags next hello" "dags pause hello" "dags errors"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd
	expect_status 4 "$cmd with the database stopped exits 4"
	expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $PG_DIR:5432: " \
		"$cmd says it cannot reach PostgreSQL, and where"
done
run "$SLUICE" dags show dags-examples/hello.yaml
expect_status 0 "dags show FILE still works offline"

done_testing
