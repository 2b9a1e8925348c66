#!/bin/sh
# sluice trigger | runs list | runs show | runs cancel | backfill against a
# private PostgreSQL, with DAG versions seeded straight into the database.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

ETL=$SRC_DIR/dags-examples/nightly_etl.yaml
C1=0000000000000000000000000000000000000001
C2=0000000000000000000000000000000000000002

for cmd in trigger "runs list" "runs show" "runs cancel" backfill; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done
run "$SLUICE" trigger
expect_status 2 "trigger without a DAG is a usage error"
run "$SLUICE" trigger x --run-id 'has space'
expect_status 2 "a run id outside the schema's pattern is a usage error"
run "$SLUICE" runs list --limit 0
expect_status 2 "runs list --limit 0 is a usage error"
run "$SLUICE" runs list --state sucess
expect_status 2 "an unknown state is a usage error"
expect_grep "$TMP/err" "did you mean 'success'" "with a hint"
run "$SLUICE" backfill x --from 2026-01-01
expect_status 2 "backfill without --to is a usage error"

pg_start
pg_newdb runs
"$SLUICE" db init >/dev/null || exit 1
seed_dag "$ETL" "$C1" || exit 1
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1

# --- trigger -----------------------------------------------------------------
run "$SLUICE" trigger nightly_etl --conf region=us --run-id r1 --logical-date 2026-03-01T10:00:00Z
expect_status 0 "trigger with --conf"
expect_file "$TMP/out" "r1" "trigger prints the run id"
sql_is "SELECT run_type, state, conf::text, version_id, commit, logical_date = '2026-03-01T10:00Z'
	AND data_interval_start = logical_date AND data_interval_end = logical_date
	FROM runs WHERE run_id = 'r1'" "manual|queued|{\"region\": \"us\"}|1|$C1|t" \
	"the run is queued, manual, pinned, with only the override in conf and interval = logical date"
sql_is "SELECT string_agg(ti.task_id || ':' || ti.state || ':' || ti.try_number || ':' ||
	ti.max_tries || ':' || ti.priority || ':' || coalesce(ti.pool, '-') || ':' || ti.queue, ' '
	ORDER BY ti.ti_id) FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = 'r1'" \
	"extract:pending:0:6:0:-:default transform:pending:0:3:0:-:default load:pending:0:3:10:warehouse:default report:pending:0:3:0:-:default" \
	"one pending task instance per task, with max_tries, priority, pool and queue"

run "$SLUICE" runs show nightly_etl r1 --json
expect_status 0 "runs show --json"
jq_ok '(keys_unsorted == ["dag","run_id","state","commit","logical_date","tasks",
	"run_type","data_interval_start","data_interval_end","started_at","ended_at","conf",
	"commits","callbacks"]) and .callbacks == [] and .commits == [] and
	.dag == "nightly_etl" and .run_id == "r1" and .state == "queued" and
	.commit == "'$C1'" and .logical_date == "2026-03-01T10:00:00+00:00" and
	([.tasks[].task] == ["extract","transform","load","report"]) and
	all(.tasks[]; keys_unsorted == ["task","state","try_number","poke_number","started_at","ended_at",
	  "exit_code","worker","reason","outputs","outcome","signal","marked","commit","tries"] and
	  .tries == [] and .marked == null and .outcome == null and .reason == null and .outputs == {} and .commit == null and .state == "pending" and .try_number == 0 and
	  .started_at == null and .ended_at == null and .exit_code == null and .worker == null)' \
	"$TMP/out" "runs show --json has the documented shape, tasks in file order"

run "$SLUICE" trigger nightly_etl
expect_status 0 "trigger with the defaults"
grep -q '^manual__20[0-9-]*T[0-9:.]*+00:00$' "$TMP/out"
ok $? "the default run id is manual__<ISO 8601 UTC with +00:00>"
sql_is "SELECT conf::text, logical_date > now() - interval '1 min'
	FROM runs WHERE run_id = '$(cat "$TMP/out")'" "{}|t" "logical date now, empty conf"

run "$SLUICE" trigger nightly_etl --conf regoin=us
expect_status 2 "an unknown --conf key is a usage error"
expect_grep "$TMP/err" "unknown param 'regoin' (did you mean 'region'?)" "with a did-you-mean"
run "$SLUICE" trigger nightly_etl --conf batch_size=lots
expect_status 2 "a --conf value of the wrong type is a usage error"
expect_grep "$TMP/err" "param 'batch_size' expects an integer, got 'lots'" "naming the key and type"
run "$SLUICE" trigger nightly_etl --conf batch_size=250 --run-id typed
expect_status 0 "an integer --conf value"
sql_is "SELECT conf->>'batch_size', jsonb_typeof(conf->'batch_size') FROM runs
	WHERE run_id = 'typed'" "250|number" "is stored as a JSON number"
run "$SLUICE" trigger nightly_etl --conf-json '{"region": 3}'
expect_status 2 "a --conf-json value of the wrong type is a usage error"
expect_grep "$TMP/err" "param 'region' expects a string, got an integer" "naming the key"
run "$SLUICE" trigger nightly_etl --conf-json '[1]'
expect_status 2 "--conf-json must be an object"
run "$SLUICE" trigger nightly_etl --conf-json '{"region": "ap", "batch_size": 7}' \
	--conf region=us --run-id both --json
expect_status 0 "--conf-json and --conf together"
jq_ok '.run_id == "both" and .conf == {"region": "us", "batch_size": 7}' "$TMP/out" \
	"--conf wins over --conf-json; trigger --json prints the conf"
run "$SLUICE" trigger nightly_etl --conf region
expect_status 2 "--conf without '=' is a usage error"
sql_is "SELECT count(*) FROM runs" "4" "no run was created by the refused triggers"

run "$SLUICE" trigger nightly_et
expect_status 3 "trigger of an unknown DAG exits 3"
expect_grep "$TMP/err" "no DAG 'nightly_et' (did you mean 'nightly_etl'?)" "and suggests the close one"
pg_sql "INSERT INTO dags (dag_id, paused) VALUES ('never_loaded', false)" >/dev/null
run "$SLUICE" trigger never_loaded
expect_status 1 "trigger of a DAG with no loadable version exits 1"
expect_grep "$TMP/err" "has no version that loads" "and says so"
pg_sql "UPDATE dags SET removed_at = now() WHERE dag_id = 'hello'" >/dev/null
run "$SLUICE" trigger hello
expect_status 1 "trigger of a removed DAG exits 1"
expect_grep "$TMP/err" "DAG 'hello' was removed" "and says so"
pg_sql "UPDATE dags SET removed_at = NULL WHERE dag_id = 'hello'" >/dev/null

run "$SLUICE" trigger nightly_etl --run-id r1
expect_status 1 "a second trigger with the same run id exits 1"
expect_grep "$TMP/err" "^sluice: run 'r1' of DAG 'nightly_etl' already exists$" "with a clear message"

# Two triggers of one run id, both certainly in flight: a third session
# blocks inserts into runs until both wait for it. The unique constraint
# lets exactly one win.
psql -X -q -c "BEGIN" -c "LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE" \
	-c "SELECT pg_sleep(1.5)" -c "COMMIT" >/dev/null 2>&1 &
locker=$!
poll_sql "SELECT count(*) = 1 FROM pg_locks WHERE relation = 'runs'::regclass AND granted
	AND mode = 'ShareRowExclusiveLock'"
"$SLUICE" trigger nightly_etl --run-id race >"$TMP/t1.out" 2>"$TMP/t1.err" &
t1=$!
"$SLUICE" trigger nightly_etl --run-id race >"$TMP/t2.out" 2>"$TMP/t2.err" &
t2=$!
poll_sql "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'sluice'
	AND wait_event_type = 'Lock' AND datname = current_database()"
ok $? "both triggers wait to insert at the same time"
wait $locker
wait $t1
s1=$?
wait $t2
s2=$?
[ $((s1 + s2)) -eq 1 ] && [ "$s1" -le 1 ] && [ "$s2" -le 1 ]
ok $? "of two concurrent triggers of one run id, exactly one wins (exits $s1 and $s2)"
cat "$TMP/t1.err" "$TMP/t2.err" >"$TMP/err"
expect_grep "$TMP/err" "run 'race' of DAG 'nightly_etl' already exists" "the loser says why"
sql_is "SELECT count(*) FROM runs WHERE run_id = 'race'" "1" "one run exists"
sql_is "SELECT count(*) FROM task_instances JOIN runs USING (run_pk) WHERE run_id = 'race'" "4" \
	"with its task instances, once"

# --- a new version does not move an existing run ----------------------------
sed 's/^  report:/  archive:\n    command: echo archive\n    depends_on: [report]\n  report:/' \
	"$ETL" >"$TMP/nightly_etl.yaml"
seed_dag "$TMP/nightly_etl.yaml" "$C2" || exit 1
run "$SLUICE" trigger nightly_etl --run-id r2
expect_status 0 "trigger after a new version was stored"
sql_is "SELECT run_id || ':' || version_id || ':' || right(commit, 1) FROM runs
	WHERE run_id IN ('r1', 'r2') ORDER BY run_id" "r1:1:1
r2:3:2" "the old run keeps its version and commit; the new run pins the new ones"
run "$SLUICE" runs show nightly_etl r1 --json
jq_ok '[.tasks[].task] == ["extract","transform","load","report"] and .commit == "'$C1'"' \
	"$TMP/out" "runs show of the old run lists the old version's tasks"
run "$SLUICE" runs show nightly_etl r2 --json
jq_ok '[.tasks[].task] == ["extract","transform","load","archive","report"]' "$TMP/out" \
	"runs show of the new run lists the new version's tasks in file order"

# --- runs show: values from the task instance and its latest attempt --------
set_states r1 extract=success transform=running
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	SELECT ti_id, 1, 'w-old', now() - interval '2 min', now() - interval '90 s', 'failed', 3
	FROM task_instances JOIN runs USING (run_pk) WHERE run_id = 'r1' AND task_id = 'extract';
	INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	SELECT ti_id, 2, 'w1', now() - interval '1 min', now(), 'success', 0
	FROM task_instances JOIN runs USING (run_pk) WHERE run_id = 'r1' AND task_id = 'extract';
	UPDATE task_instances SET try_number = 2 WHERE task_id = 'extract'
	AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'r1');
	INSERT INTO attempts (ti_id, try_number, worker_id, started_at)
	SELECT ti_id, 1, 'w2', now() FROM task_instances JOIN runs USING (run_pk)
	WHERE run_id = 'r1' AND task_id = 'transform'" >/dev/null
run "$SLUICE" runs show nightly_etl r1 --json
jq_ok '.tasks[0] | .state == "success" and .try_number == 2 and .exit_code == 0 and
	.worker == "w1" and (.started_at | test("^20.*\\+00:00$")) and (.ended_at != null)' \
	"$TMP/out" "a finished task: state, try, times, and its latest attempt's exit code and worker"
jq_ok '.tasks[1] | .state == "running" and .try_number == 1 and .ended_at == null and
	.exit_code == null and .worker == "w2"' "$TMP/out" "a running task: no end, no exit code"
run "$SLUICE" runs show nightly_etl r1
expect_status 0 "runs show (table)"
expect_grep "$TMP/out" "^extract  *success  *2/6  *20[0-9T:-]*Z  *1m  *0  *w1$" \
	"the table has a row per task: state, try, start, duration, exit, worker"
run "$SLUICE" runs show nightly_etl nope
expect_status 3 "runs show of an unknown run exits 3"
expect_grep "$TMP/err" "no run 'nope' of DAG 'nightly_etl'" "naming the run"
run "$SLUICE" runs show nope r1
expect_status 3 "runs show of an unknown DAG exits 3"

# --- runs list -----------------------------------------------------------------
pg_sql "UPDATE runs SET state = 'failed', started_at = logical_date, ended_at = logical_date + interval '5 min'
	WHERE run_id = 'typed'" >/dev/null
run "$SLUICE" runs list
expect_status 0 "runs list"
expect_grep "$TMP/out" "^DAG  *RUN ID  *STATE  *TYPE  *LOGICAL DATE  *STARTED  *DURATION$" "with a header"
[ "$(wc -l <"$TMP/out")" -eq 7 ]
ok $? "and a row per run (6 runs)"
run "$SLUICE" runs list --json
jq_ok 'length == 6 and ([.[].logical_date] == ([.[].logical_date] | sort | reverse)) and
	all(.[]; keys_unsorted == ["dag","run_id","state","run_type","logical_date","started_at","ended_at"])' \
	"$TMP/out" "runs list --json: newest logical date first"
run "$SLUICE" runs list nightly_etl --state failed --json
jq_ok 'length == 1 and .[0].run_id == "typed"' "$TMP/out" "--state filters"
run "$SLUICE" runs list nightly_etl --limit 2 --json
jq_ok 'length == 2' "$TMP/out" "--limit limits"
run "$SLUICE" runs list hello --json
jq_ok 'length == 0' "$TMP/out" "a DAG without runs lists none"
run "$SLUICE" runs list nope
expect_status 3 "runs list of an unknown DAG exits 3"

# --- cancel --------------------------------------------------------------------
run "$SLUICE" runs cancel nightly_etl r1
expect_status 0 "runs cancel"
expect_grep "$TMP/out" "cancelled run 'r1' of DAG 'nightly_etl' (was queued): 3 tasks cancelled, 1 running attempt stopped" \
	"says what it did"
sql_is "SELECT r.state, r.ended_at IS NOT NULL, string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
	FROM runs r JOIN task_instances ti USING (run_pk) WHERE r.run_id = 'r1' GROUP BY 1, 2" \
	"cancelled|t|extract:success transform:cancelled load:cancelled report:cancelled" \
	"the run and every unfinished task are cancelled; finished ones keep their state"
sql_is "SELECT outcome, ended_at IS NOT NULL FROM attempts WHERE worker_id = 'w2'" "cancelled|t" \
	"the live attempt ended with outcome cancelled"
run "$SLUICE" runs cancel nightly_etl r1
expect_status 1 "cancelling a finished run exits 1"
expect_grep "$TMP/err" "run 'r1' of DAG 'nightly_etl' is already cancelled" "saying it is already over"
run "$SLUICE" runs cancel nightly_etl gone
expect_status 3 "cancelling an unknown run exits 3"

# --- NOTIFY --------------------------------------------------------------------
# A listener sees 'trigger <dag>' and 'cancel <dag>' on channel sluice.
listen_start
"$SLUICE" trigger nightly_etl --run-id n1 >/dev/null
"$SLUICE" runs cancel nightly_etl n1 >/dev/null
listen_stop
expect_grep "$TMP/listen.out" 'notification "sluice" with payload "trigger nightly_etl"' \
	"trigger notifies the scheduler"
expect_grep "$TMP/listen.out" 'notification "sluice" with payload "cancel nightly_etl"' \
	"cancel notifies the scheduler"

# --- backfill ------------------------------------------------------------------
# Europe/Paris, 0 2 * * *: 2026-03-29 has no 02:00 (the run is at 03:00
# CEST, the end of the gap), 2026-10-25 has two (the first one counts).
run "$SLUICE" backfill nightly_etl --from 2026-03-27 --to 2026-03-31T12:00
expect_status 0 "backfill across the spring DST change"
expect_grep "$TMP/out" "5 intervals, 5 runs created, 0 skipped" "says what it created"
run "$SLUICE" backfill nightly_etl --from 2026-10-24 --to 2026-10-26T02:00 --json
expect_status 0 "backfill across the autumn DST change"
jq_ok '.created == 3 and .skipped == 0' "$TMP/out" "backfill --json counts"
sql_is "SELECT string_agg(run_id || ' ' || to_char(data_interval_end AT TIME ZONE 'UTC', 'MM-DD\"T\"HH24')
	|| ' ' || version_id, E'\n' ORDER BY logical_date)
	FROM runs WHERE run_type = 'backfill' AND logical_date = data_interval_start" \
	"backfill__2026-03-27T01:00:00+00:00 03-28T01 3
backfill__2026-03-28T01:00:00+00:00 03-29T01 3
backfill__2026-03-29T01:00:00+00:00 03-30T00 3
backfill__2026-03-30T00:00:00+00:00 03-31T00 3
backfill__2026-03-31T00:00:00+00:00 04-01T00 3
backfill__2026-10-24T00:00:00+00:00 10-25T00 3
backfill__2026-10-25T00:00:00+00:00 10-26T01 3
backfill__2026-10-26T01:00:00+00:00 10-27T01 3" \
	"exactly one run per interval in the DAG's zone, data interval up to the next fire, pinned"
sql_is "SELECT count(*) FROM task_instances JOIN runs USING (run_pk) WHERE run_type = 'backfill'" \
	"40" "each with its task instances"
pg_sql "INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
	data_interval_start, data_interval_end) VALUES ('nightly_etl', 'scheduled__x', 3, '$C2',
	'scheduled', '2026-04-01T00:00Z', '2026-04-01T00:00Z', '2026-04-02T00:00Z')" >/dev/null
run "$SLUICE" backfill nightly_etl --from 2026-03-27 --to 2026-04-02T12:00
expect_status 0 "backfill again over a wider range"
expect_grep "$TMP/out" "7 intervals, 1 run created, 6 skipped" \
	"skips the intervals that have a backfill or scheduled run"
sql_is "SELECT count(*) FROM runs WHERE run_type <> 'manual'" "10" "no duplicates"
set_states backfill__2026-03-28T01:00:00+00:00 extract=failed transform=upstream_failed
pg_sql "UPDATE runs SET state = 'failed', ended_at = now() WHERE run_id = 'backfill__2026-03-28T01:00:00+00:00'" >/dev/null
run "$SLUICE" backfill nightly_etl --from 2026-03-28 --to 2026-03-28T12:00 --reset
expect_status 0 "backfill --reset"
expect_grep "$TMP/out" "1 interval, 0 runs created, 1 skipped (a run exists), 1 reset (5 tasks cleared)" \
	"says what it reset"
sql_is "SELECT r.state, r.ended_at IS NULL, string_agg(DISTINCT ti.state, ','),
	string_agg(ti.max_tries::text, ',' ORDER BY ti.ti_id)
	FROM runs r JOIN task_instances ti USING (run_pk)
	WHERE r.run_id = 'backfill__2026-03-28T01:00:00+00:00' GROUP BY 1, 2" "queued|t|pending|7,4,3,3,3" \
	"--reset puts the run back to queued and its tasks to pending, retries available again"
run "$SLUICE" backfill hello --from 2026-01-01 --to 2026-01-02
expect_status 1 "backfill of a DAG without a cron schedule exits 1"
expect_grep "$TMP/err" "has no cron schedule" "and says so"
run "$SLUICE" backfill nightly_etl --from 2000-01-01 --to 2030-01-01
expect_status 2 "more than 10000 intervals is a usage error"
expect_grep "$TMP/err" "more than 10000 intervals.*narrower range" "asking for a narrower range"
run "$SLUICE" backfill nightly_etl --from 2026-02-01 --to 2026-01-01
expect_status 2 "--from after --to is a usage error"
run "$SLUICE" backfill nope --from 2026-01-01 --to 2026-01-02
expect_status 3 "backfill of an unknown DAG exits 3"

# --- trigger --wait --------------------------------------------------------------
# The engine arrives later: psql moves the states here, as it would.
"$SLUICE" trigger hello --run-id w1 --wait >"$TMP/w1.out" 2>"$TMP/w1.err" &
w=$!
poll_sql "SELECT count(*) = 1 FROM runs WHERE run_id = 'w1'"
pg_sql "UPDATE runs SET state = 'running', started_at = now() WHERE run_id = 'w1'" >/dev/null
set_states w1 greet=running
sleep 0.5
set_states w1 greet=success count=success done=success
pg_sql "UPDATE runs SET state = 'success', ended_at = now() WHERE run_id = 'w1';
	SELECT pg_notify('sluice', 'run hello')" >/dev/null
bg_wait $w 10
cp "$TMP/w1.err" "$TMP/err"
expect_status 0 "trigger --wait exits 0 when the run succeeds"
expect_grep "$TMP/w1.out" "^w1$" "--wait prints the run id first"
expect_grep "$TMP/w1.out" "^20[0-9T:-]*Z  greet  running  (try 1/1)$" "then each task state change"
expect_grep "$TMP/w1.out" "^20[0-9T:-]*Z  done  success  (try 1/1)$" "as it happens"
expect_grep "$TMP/w1.out" "^run w1 success$" "and how the run ended"

"$SLUICE" trigger hello --run-id w2 --wait --json >"$TMP/w2.out" 2>"$TMP/w2.err" &
w=$!
poll_sql "SELECT count(*) = 1 FROM runs WHERE run_id = 'w2'"
set_states w2 greet=failed count=upstream_failed done=upstream_failed
pg_sql "UPDATE runs SET state = 'failed', started_at = now(), ended_at = now() WHERE run_id = 'w2'" >/dev/null
bg_wait $w 10
cp "$TMP/w2.err" "$TMP/err"
expect_status 1 "trigger --wait exits 1 when the run fails"
jq_ok '.run_id == "w2" and .state == "failed" and .tasks[0].state == "failed"' "$TMP/w2.out" \
	"trigger --wait --json prints the final runs show object"

# --- the database goes away mid-command ------------------------------------------
"$SLUICE" trigger hello --run-id w3 --wait >"$TMP/w3.out" 2>"$TMP/w3.err" &
w=$!
poll_sql "SELECT count(*) = 1 FROM runs WHERE run_id = 'w3'"
sleep 0.3
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
bg_wait $w 90
cp "$TMP/w3.err" "$TMP/err"
expect_status 4 "the database gone for good during trigger --wait: exit 4 after 30 s"
expect_grep "$TMP/err" "waiting up to 30 s for it to come back$" "it said it would wait"
expect_grep "$TMP/err" "^sluice: .*PostgreSQL at $PG_DIR:5432" "with a message that says where"
run "$SLUICE" runs list
expect_status 4 "runs list with the database down exits 4"
expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $PG_DIR:5432: " "and says so"

done_testing
