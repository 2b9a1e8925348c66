#!/bin/sh
# What an operator reads about a run (issue 12, workstream views), on data
# seeded straight into a private PostgreSQL: backfill on a paused DAG, the
# run ids backfill --json reports, each task's outcome and reason in
# `runs show` (timeout, signal, lost, cancelled, stopped by clear or mark),
# marks with who and when apart from the attempt's own figures, the run's
# details and its tries, and the run id alias `latest`.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

ETL=$SRC_DIR/dags-examples/nightly_etl.yaml
ME=$(id -un)

pg_start
pg_newdb views
"$SLUICE" db init >/dev/null || exit 1
seed_dag "$ETL" || exit 1
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1

# attempt RUN TASK TRY WORKER AGO_START AGO_END OUTCOME EXIT SIGNAL: an
# attempt as the engine records it (AGO_* in seconds before now; AGO_END
# "-" for a live attempt), its task instance on that try.
attempt() {
	if [ "$6" = - ]; then
		at_end=NULL at_outcome=NULL
	else
		at_end="now() - interval '$6 s'" at_outcome="'$7'"
	fi
	pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at,
		outcome, exit_code, signal)
		SELECT ti_id, $3, '$4', now() - interval '$5 s', $at_end, $at_outcome, $8, $9
		FROM task_instances JOIN runs USING (run_pk) WHERE run_id = '$1' AND task_id = '$2';
		UPDATE task_instances SET try_number = $3, started_at = now() - interval '$5 s'
		WHERE task_id = '$2' AND run_pk = (SELECT run_pk FROM runs WHERE run_id = '$1')" \
		>/dev/null
}

# --- bug 4: backfill on a paused DAG ------------------------------------------
pg_sql "UPDATE dags SET paused = true WHERE dag_id = 'nightly_etl'" >/dev/null
run "$SLUICE" backfill nightly_etl --from 2026-02-01 --to 2026-02-02
expect_status 1 "backfill of a paused DAG is refused"
expect_grep "$TMP/err" "DAG 'nightly_etl' is paused: its backfill runs would not start until it is unpaused; pass --unpause" \
	"saying why and naming the flag"
sql_is "SELECT count(*) FROM runs" "0" "and creates nothing"
run "$SLUICE" backfill nightly_etl --from 2026-02-01 --to 2026-02-01T12:00 --unpause --json
expect_status 0 "backfill --unpause"
jq_ok '.created == 1 and .unpaused == true' "$TMP/out" "creates the run and says it unpaused"
expect_grep "$TMP/err" "unpaused DAG 'nightly_etl'" "on stderr too"
sql_is "SELECT paused FROM dags WHERE dag_id = 'nightly_etl'" "f" "the DAG is unpaused, so the runs start"

# --- bug 5: backfill --json names the runs that exist -----------------------------
# The scheduler's run of 2026-02-02 (02:00 Paris = 01:00 UTC).
run "$SLUICE" backfill nightly_etl --from 2026-02-02 --to 2026-02-02T12:00
pg_sql "UPDATE runs SET run_type = 'scheduled', run_id = 'scheduled__2026-02-02T01:00:00+00:00'
	WHERE run_id = 'backfill__2026-02-02T01:00:00+00:00'" >/dev/null
run "$SLUICE" backfill nightly_etl --from 2026-02-01 --to 2026-02-03T12:00 --json
expect_status 0 "backfill over intervals that have runs"
jq_ok '.created == 1 and .skipped == 2 and ([.runs[] | [.run_id, .created, .status]] == [
	["backfill__2026-02-01T01:00:00+00:00", false, "existed"],
	["scheduled__2026-02-02T01:00:00+00:00", false, "existed"],
	["backfill__2026-02-03T01:00:00+00:00", true, "created"]])' "$TMP/out" \
	"each interval names the run that exists for it (the scheduled one too), created or existed"
for id in $(jq -r '.runs[].run_id' "$TMP/out"); do
	run "$SLUICE" runs show nightly_etl "$id"
	expect_status 0 "runs show finds the reported run $id"
done

# --- runs show: run details ---------------------------------------------------
run "$SLUICE" trigger nightly_etl --run-id v1 --conf region=us --logical-date 2026-03-01T10:00:00Z
pg_sql "UPDATE runs SET state = 'running', started_at = now() - interval '5 min' WHERE run_id = 'v1'" >/dev/null
run "$SLUICE" runs show nightly_etl v1 --json
jq_ok '.run_type == "manual" and .conf == {"region": "us"} and
	.data_interval_start == "2026-03-01T10:00:00+00:00" and
	.data_interval_end == "2026-03-01T10:00:00+00:00" and
	(.started_at | test("^20")) and .ended_at == null and
	(keys_unsorted[:6] == ["dag","run_id","state","commit","logical_date","tasks"])' "$TMP/out" \
	"runs show --json: run type, conf, data interval, start and end; the old fields first"
run "$SLUICE" runs show nightly_etl v1
expect_grep "$TMP/out" '^conf  *{"region": "us"}$' "the table shows the conf"
expect_grep "$TMP/out" '^data interval  *\[2026-03-01T10:00:00Z, 2026-03-01T10:00:00Z)$' "and the data interval"
expect_grep "$TMP/out" '^state  *running (manual run)$' "and the run type"

# --- bug 6: outcomes and reasons ----------------------------------------------
attempt v1 extract 1 w-a 200 190 failed 3 NULL
attempt v1 extract 2 w-b 180 60 timeout 143 NULL
attempt v1 transform 1 w-a 50 40 failed NULL 9
attempt v1 report 1 w-c 30 - x NULL NULL
set_states v1 extract=failed transform=failed report=running
pg_sql "UPDATE task_instances SET try_number = 2 WHERE task_id = 'extract'
	AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'v1')" >/dev/null
run "$SLUICE" tasks clear nightly_etl v1 report
expect_status 0 "clearing a running task"
run "$SLUICE" runs show nightly_etl v1 --json
jq_ok '.tasks[0] | .outcome == "timeout" and .reason == "stopped by its timeout" and
	.exit_code == 143 and ([.tries[] | [.try_number, .outcome, .exit_code, .worker]] ==
	[[1, "failed", 3, "w-a"], [2, "timeout", 143, "w-b"]]) and
	(.tries[0] | (.started_at | test("^20")) and (.ended_at | test("^20")) and .reason == null)' \
	"$TMP/out" "a timeout: outcome and reason, and the history of tries with their own figures"
jq_ok '.tasks[1] | .outcome == "failed" and .signal == 9 and .reason == "killed by signal 9"' \
	"$TMP/out" "a signal: outcome, signal and reason"
jq_ok '.tasks[3] | .state == "pending" and .tries[0].outcome == "cancelled" and
	.tries[0].stopped_by == "clear" and .tries[0].reason == "stopped by tasks clear"' \
	"$TMP/out" "an attempt stopped by tasks clear says so"
run "$SLUICE" runs show nightly_etl v1
expect_grep "$TMP/out" '^TASK  *STATE  *TRY  *STARTED  *DURATION  *OUTCOME  *WORKER$' "the table has an OUTCOME column"
expect_grep "$TMP/out" '^extract  *failed  *2/[0-9]*  *20[0-9T:-]*Z  *[0-9ms]*  *timeout  *w-b$' \
	"a timeout reads 'timeout', not exit 143"
expect_grep "$TMP/out" '^transform  *failed  *1/[0-9]*  .*signal 9  *w-a$' "a signal reads 'signal 9'"
expect_grep "$TMP/out" '^  extract: stopped by its timeout$' "the reasons say why"
expect_grep "$TMP/out" '^tries:$' "a tries section follows"
expect_grep "$TMP/out" '^extract  *1  *20[0-9T:-]*Z  *20[0-9T:-]*Z  *10s  *3  *w-a$' \
	"with one row per attempt: start, end, duration, exit code, worker"
expect_grep "$TMP/out" '^report  *1  .*  *cleared  *w-c$' "an attempt stopped by a clear reads 'cleared'"

# --- bug 7: a mark, apart from the attempt's own figures ----------------------
attempt v1 load 1 w-d 60 51 failed 3 NULL
set_states v1 load=failed
pg_sql "UPDATE task_instances SET started_at = now() - interval '60 s' WHERE task_id = 'load'
	AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'v1')" >/dev/null
run "$SLUICE" tasks mark nightly_etl v1 load success
expect_status 0 "tasks mark"
run "$SLUICE" runs show nightly_etl v1 --json
jq_ok '.tasks[2] | .state == "success" and .marked.state == "success" and
	.marked.by == "'"$ME"'" and (.marked.at | test("^20")) and
	.reason == "marked success by '"$ME"'" and
	([.tries[] | [.outcome, .exit_code]] == [["failed", 3]])' "$TMP/out" \
	"the mark says who and when; the try keeps its own outcome and exit code"
run "$SLUICE" runs show nightly_etl v1
expect_grep "$TMP/out" '^load  *success  *1/[0-9]*  *20[0-9T:-]*Z  *9s  *marked  *w-d$' \
	"the row reads 'marked' with the attempt's own duration, not the time until the mark"
expect_grep "$TMP/out" "^  load: marked success by $ME at 20[0-9T:-]*Z$" "the reasons say who and when"
expect_grep "$TMP/out" '^load  *1  .*  *9s  *3  *w-d$' "the try keeps its exit code"

# A mark that stops a live attempt; a cancel that stops one; a lost worker.
run "$SLUICE" trigger hello --run-id h1 --logical-date 2026-03-02T00:00:00Z
attempt h1 greet 1 w-e 20 - x NULL NULL
set_states h1 greet=running
run "$SLUICE" tasks mark hello h1 greet failed
run "$SLUICE" runs show hello h1 --json
jq_ok '.tasks[0] | .marked.state == "failed" and .tries[0].stopped_by == "mark" and
	.tries[0].reason == "stopped by tasks mark" and .outcome == "cancelled"' "$TMP/out" \
	"an attempt stopped by a mark says so"
attempt h1 count 1 w-f 20 - x NULL NULL
set_states h1 count=running
run "$SLUICE" runs cancel hello h1
run "$SLUICE" runs show hello h1 --json
jq_ok '.tasks[1] | .state == "cancelled" and .tries[0].stopped_by == "cancel" and
	.reason == "stopped by runs cancel"' "$TMP/out" "an attempt stopped by runs cancel says so"
run "$SLUICE" runs show hello h1
expect_grep "$TMP/out" '^count  *cancelled  .*  *cancelled  *w-f$' "and reads 'cancelled' in the table"

run "$SLUICE" trigger hello --run-id h2 --logical-date 2026-03-03T00:00:00Z
attempt h2 greet 1 w-g 20 10 lost NULL NULL
set_states h2 greet=failed
pg_sql "UPDATE task_instances SET reason = 'worker w-g lost (no heartbeat for 30s)'
	WHERE task_id = 'greet' AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'h2')" >/dev/null
run "$SLUICE" runs show hello h2 --json
jq_ok '.tasks[0] | .outcome == "lost" and .reason == "worker w-g lost (no heartbeat for 30s)" and
	.tries[0].reason == "its worker was lost"' "$TMP/out" "a lost attempt: the scheduler's reason wins"

# --- latest ------------------------------------------------------------------------
run "$SLUICE" runs show hello latest --json
jq_ok '.run_id == "h2"' "$TMP/out" "runs show DAG latest shows the newest run"
run "$SLUICE" runs show nightly_etl latest --json
jq_ok '.run_id == "v1"' "$TMP/out" "by logical date, per DAG"
run "$SLUICE" logs hello latest greet --json
expect_status 0 "logs DAG latest TASK"
jq_ok '.run_id == "h2" and .outcome == "lost"' "$TMP/out" "reads the newest run's log"
run "$SLUICE" tasks clear hello latest greet --json
jq_ok '.run_id == "h2" and .cleared == ["greet"]' "$TMP/out" "tasks clear takes latest"
run "$SLUICE" tasks mark hello latest greet success --json
jq_ok '.run_id == "h2"' "$TMP/out" "tasks mark takes latest"
run "$SLUICE" runs cancel hello latest --json
jq_ok '.run_id == "h2"' "$TMP/out" "runs cancel takes latest"
printf 'dag: empty\nschedule: null\ntasks:\n  a:\n    command: "true"\n' >"$TMP/empty.yaml"
seed_dag "$TMP/empty.yaml" || exit 1
run "$SLUICE" runs show empty latest
expect_status 3 "latest of a DAG without runs exits 3"
expect_grep "$TMP/err" "DAG 'empty' has no run yet: 'latest' names none" "saying so"
run "$SLUICE" runs show nope latest
expect_status 3 "latest of an unknown DAG exits 3"
expect_grep "$TMP/err" "no DAG 'nope'" "naming the DAG"
run "$SLUICE" trigger hello --run-id latest
expect_status 2 "a run cannot be named latest"

done_testing
