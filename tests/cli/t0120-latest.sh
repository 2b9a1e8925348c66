#!/bin/sh
# Fix, push, clear (`--latest`), with real git commits, the scheduler and a
# worker: a task fails; the fix is committed and refreshed; `tasks clear
# --failed --downstream` without --latest runs the old command again (the
# run's pin), with --latest the run moves to the current commit and
# definition and succeeds (a task the new version dropped becomes
# removed, a new one runs); `runs show` says which task ran on which
# commit; --latest is refused while the DAG's current file is a load
# error; `backfill --reset --latest` moves existing runs the same way.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db latest

PORT=$(free_port)

# tis RUN_ID: task:state of a run, in task order.
tis() {
	pg_sql "SELECT string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
		FROM runs r JOIN task_instances ti USING (run_pk)
		WHERE r.run_id = '$1' AND ti.kind = 'task'"
}

# commits_of RUN_ID TASK: "try:commit(7)" of each attempt, in try order.
commits_of() {
	pg_sql "SELECT string_agg(a.try_number || ':' || left(a.commit, 7), ' '
			ORDER BY a.try_number)
		FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2'"
}

# refreshed COMMIT: the scheduler has read that commit.
refreshed() {
	wait_for "$TMP/s1.log" "event=refreshed commit=$1" 60
}

# --- version 1 -------------------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags" "$R/scripts"
printf 'echo transform-v1\nexit 3\n' >"$R/scripts/transform.sh"
cat >"$R/dags/fix.yaml" <<'EOF'
schedule: null
tasks:
  extract:
    command: echo extract
  transform:
    command: sh scripts/transform.sh
    depends_on: [extract]
  load:
    command: echo load-v1
    depends_on: [transform]
  legacy:
    command: echo legacy
EOF
cat >"$R/dags/daily.yaml" <<'EOF'
schedule: "0 0 * * *"
paused: true
tasks:
  work:
    command: echo daily-v1
  old:
    command: echo old
EOF
git_repo "$R" || exit 1
C1=$(git -C "$R" rev-parse HEAD)

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
start_scheduler s1
refreshed "$C1"
ok $? "the scheduler reads version 1"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 60
ok $? "the worker connects"

run timeout 120 "$SLUICE" trigger fix --run-id r1 --wait
expect_status 1 "the run fails"
expect_str "$(tis r1)" "extract:success transform:failed load:upstream_failed legacy:success" \
	"transform failed, load upstream_failed"

# --- the fix, pushed ---------------------------------------------------------------
printf 'echo transform-v2\n' >"$R/scripts/transform.sh"
cat >"$R/dags/fix.yaml" <<'EOF'
schedule: null
tasks:
  extract:
    command: echo extract
  transform:
    command: sh scripts/transform.sh
    depends_on: [extract]
  load:
    command: echo load-v2
    depends_on: [transform]
  report:
    command: echo report
    depends_on: [load]
EOF
C2=$(git_commit "$R" fix)
"$SLUICE" dags refresh >/dev/null 2>&1
refreshed "$C2"
ok $? "the scheduler reads the fix"

# Without --latest: the run's pin, so the old script and command.
run "$SLUICE" tasks clear fix r1 --failed --downstream
expect_status 0 "clear without --latest"
wait_sql "SELECT state = 'failed' AND ended_at IS NOT NULL FROM runs WHERE run_id = 'r1'
	AND EXISTS (SELECT 1 FROM attempts a JOIN task_instances ti USING (ti_id)
		WHERE ti.run_pk = runs.run_pk AND ti.task_id = 'transform' AND a.try_number = 2
		AND a.outcome IS NOT NULL)"
ok $? "the run fails again"
run "$SLUICE" logs fix r1 transform
expect_file "$TMP/out" "transform-v1" "the old script ran (a checkout of the pinned commit)"
expect_str "$(commits_of r1 transform)" "1:$(echo "$C1" | cut -c1-7) 2:$(echo "$C1" | cut -c1-7)" \
	"both tries ran on the first commit"
sql_is "SELECT commit FROM runs WHERE run_id = 'r1'" "$C1" "the run still pins the first commit"

# A task the current version does not have cannot be named with --latest.
run "$SLUICE" tasks clear fix r1 legacy --latest
expect_status 3 "clear --latest of a task the current version dropped"
expect_grep "$TMP/err" "the current version of DAG 'fix' has no task 'legacy'" \
	"the error names the task and says why"

# With --latest: the current commit and definition.
run "$SLUICE" --json tasks clear fix r1 --failed --downstream --latest
expect_status 0 "clear --failed --downstream --latest"
expect_jq "$TMP/out" ".cleared == [\"transform\", \"load\", \"report\"] and
	.latest.previous_commit == \"$C1\" and .latest.commit == \"$C2\" and
	.latest.added == [\"report\"] and .latest.removed == [\"legacy\"]" \
	"clear --json says what moved, what was added and removed"
wait_run fix r1
ok $? "the run finishes"
sql_is "SELECT state || ' ' || commit FROM runs WHERE run_id = 'r1'" "success $C2" \
	"the run succeeds, pinned to the fix's commit"
run "$SLUICE" logs fix r1 transform
expect_file "$TMP/out" "transform-v2" "the fixed script ran (a checkout of the current commit)"
run "$SLUICE" logs fix r1 load
expect_file "$TMP/out" "load-v2" "the current definition's command ran"
expect_str "$(tis r1)" "extract:success transform:success load:success legacy:removed report:success" \
	"legacy removed, report added and run"
S1=$(echo "$C1" | cut -c1-7)
S2=$(echo "$C2" | cut -c1-7)
expect_str "$(commits_of r1 extract) / $(commits_of r1 transform) / $(commits_of r1 report)" \
	"1:$S1 / 1:$S1 2:$S1 3:$S2 / 1:$S2" "each attempt records its commit"
sql_is "SELECT reason FROM task_instances WHERE task_id = 'legacy'" \
	"not in the DAG's version at commit $(echo "$C2" | cut -c1-12), which the run moved to" \
	"the removed task says why"

run "$SLUICE" --json runs show fix r1
expect_status 0 "runs show --json"
expect_jq "$TMP/out" ".commit == \"$C2\" and .commits == [\"$C1\", \"$C2\"] and
	([.tasks[] | {(.task): .commit}] | add) ==
	{extract: \"$C1\", transform: \"$C2\", load: \"$C2\", report: \"$C2\", legacy: \"$C1\"}" \
	"runs show --json: every commit of the run, and each task's"
run "$SLUICE" runs show fix r1
expect_grep "$TMP/out" "^  $(echo "$C1" | cut -c1-12): extract, legacy$" \
	"runs show: the tasks whose latest try ran on the first commit"
expect_grep "$TMP/out" "^  $(echo "$C2" | cut -c1-12) (pinned now): transform, load, report$" \
	"runs show: the tasks that ran on the fix's commit"

# --- backfill --reset --latest -----------------------------------------------------
run "$SLUICE" backfill daily --from 2025-01-01 --to 2025-01-02 --unpause
expect_status 0 "backfill two days (unpausing the DAG)"
wait_run daily backfill__2025-01-01T00:00:00+00:00 && wait_run daily backfill__2025-01-02T00:00:00+00:00
ok $? "both backfill runs finish"
cat >"$R/dags/daily.yaml" <<'EOF'
schedule: "0 0 * * *"
paused: true
tasks:
  work:
    command: echo daily-v2
  extra:
    command: echo extra
    depends_on: [work]
EOF
C3=$(git_commit "$R" daily-v2)
"$SLUICE" dags refresh >/dev/null 2>&1
refreshed "$C3"
ok $? "the scheduler reads daily v2"
run "$SLUICE" backfill daily --from 2025-01-01 --to 2025-01-02 --latest
expect_status 2 "--latest without --reset is a usage error"
expect_grep "$TMP/err" "\-\-latest needs \-\-reset" "the error names the flags"
run "$SLUICE" --json backfill daily --from 2025-01-01 --to 2025-01-02 --reset --latest
expect_status 0 "backfill --reset --latest"
expect_jq "$TMP/out" ".reset == 2 and .commit == \"$C3\"" "both runs reset onto the current commit"
wait_sql "SELECT count(*) = 2 FROM runs WHERE dag_id = 'daily' AND state = 'success'
	AND commit = '$C3' AND run_type = 'backfill'"
ok $? "both runs succeed again on the current commit"
run "$SLUICE" logs daily backfill__2025-01-02T00:00:00+00:00 work
expect_file "$TMP/out" "daily-v2" "the current command ran"
expect_str "$(tis backfill__2025-01-01T00:00:00+00:00)" "work:success old:removed extra:success" \
	"the dropped task is removed, the new one ran"

# --- a load error at the current commit refuses --latest ---------------------------
printf 'schedule: null\ntasks:\n  extract:\n    comand: echo typo\n' >"$R/dags/fix.yaml"
printf 'schedule: "0 0 * * *"\ntasks: [\n' >"$R/dags/daily.yaml"
C4=$(git_commit "$R" broken)
"$SLUICE" dags refresh >/dev/null 2>&1
refreshed "$C4"
ok $? "the scheduler reads the broken files"
run "$SLUICE" tasks clear fix r1 --latest
expect_status 1 "clear --latest is refused while the current file is a load error"
expect_grep "$TMP/err" "DAG 'fix' does not load at the current commit $(echo "$C4" | cut -c1-12): dags/fix.yaml:3:3: missing key .command." \
	"the refusal names the commit and the error with file:line:col"
sql_is "SELECT state || ' ' || commit FROM runs WHERE run_id = 'r1'" "success $C2" \
	"the refused clear changed nothing"
run "$SLUICE" backfill daily --from 2025-01-01 --to 2025-01-02 --reset --latest
expect_status 1 "backfill --reset --latest is refused too"
expect_grep "$TMP/err" "DAG 'daily' does not load at the current commit .*dags/daily.yaml:" \
	"the refusal names the file"
run "$SLUICE" tasks clear fix r1 load
expect_status 0 "clear without --latest still works (the last good version)"
wait_run fix r1
sql_is "SELECT state || ' ' || commit FROM runs WHERE run_id = 'r1'" "success $C2" \
	"it runs on the run's pin"

done_testing
