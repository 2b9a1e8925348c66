#!/bin/sh
# Run callbacks end to end, with sluice-scheduler and sluice-worker against
# a private PostgreSQL and a git repository of DAGs: a failed run runs
# on_failure once on the worker, with SLUICE_RUN_STATE and the failed task
# ids; a run that succeeds runs on_success; a failing callback leaves its
# run success; `runs show` and `logs` show callbacks.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db callbacks

# callback_ended RUN_ID: the run's callback has ended.
callback_ended() {
	wait_sql "SELECT ti.state IN ('success', 'failed', 'skipped') FROM task_instances ti
		JOIN runs r USING (run_pk) WHERE r.run_id = '$1' AND ti.kind = 'callback'"
}

PORT=$(free_port)
R=$TMP/repo
mkdir -p "$R/dags" "$R/scripts" "$TMP/seen"

# The callback records what it saw, one line per call, in a file per run.
cat >"$R/scripts/record.sh" <<EOF
#!/bin/sh
printf '%s|%s|%s|%s\n' "\$SLUICE_RUN_STATE" "\$SLUICE_FAILED_TASKS" "\$SLUICE_TASK" "\$1" \
	>>"$TMP/seen/\$SLUICE_RUN_ID"
echo "recorded for \$SLUICE_RUN_ID"
EOF
chmod +x "$R/scripts/record.sh"
cat >"$R/dags/fails.yaml" <<'EOF'
schedule: null
on_failure: ./scripts/record.sh "{{ outputs.ok.rows }}"
on_success: ./scripts/record.sh wrong
tasks:
  ok: {command: echo rows=3 >>"$SLUICE_OUTPUT"}
  bad: {command: exit 1}
  worse: {command: exit 2}
  after: {command: "true", depends_on: [bad]}
EOF
cat >"$R/dags/succeeds.yaml" <<'EOF'
schedule: null
on_failure: ./scripts/record.sh wrong
on_success: ./scripts/record.sh fine
tasks:
  a: {command: "true"}
EOF
cat >"$R/dags/badcb.yaml" <<'EOF'
schedule: null
on_success: echo "callback failing"; exit 7
tasks:
  a: {command: "true"}
EOF
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed'
ok $? "the scheduler reads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1'
ok $? "the worker connects"

# --- a failed run runs on_failure once ----------------------------------------
run timeout 120 "$SLUICE" trigger fails --run-id f1 --wait
expect_status 1 "the run fails"
callback_ended f1
ok $? "its callback ends"
expect_file "$TMP/seen/f1" "failed|bad worse|on_failure|3" \
	"on_failure ran once, with SLUICE_RUN_STATE=failed, the failed tasks and an output"
run "$SLUICE" runs show fails f1 --json
expect_jq "$TMP/out" '.state == "failed" and
	([.tasks[].task] == ["ok", "bad", "worse", "after"]) and (.callbacks | length == 1) and
	(.callbacks[0] | .callback == "on_failure" and .state == "success" and
	 .try_number == 1 and .exit_code == 0 and .worker == "w1")' \
	"runs show --json: the run failed, its callback succeeded on w1"
run "$SLUICE" runs show fails f1
expect_grep "$TMP/out" '^callbacks:$' "runs show has a callbacks section"
expect_grep "$TMP/out" '^on_failure  *success  *1 ' "with the callback"
run "$SLUICE" logs fails f1 on_failure
expect_status 0 "logs of the callback"
expect_file "$TMP/out" "recorded for f1" "show its output"

# --- a run that succeeds runs on_success ---------------------------------------
run timeout 120 "$SLUICE" trigger succeeds --run-id s1 --wait
expect_status 0 "the second run succeeds"
callback_ended s1
ok $? "its callback ends"
expect_file "$TMP/seen/s1" "success||on_success|fine" \
	"on_success ran once, with SLUICE_RUN_STATE=success and no failed task"

# --- a failing callback leaves the run success ----------------------------------
run timeout 120 "$SLUICE" trigger badcb --run-id b1 --wait
expect_status 0 "the third run succeeds"
callback_ended b1
ok $? "its callback ends"
run "$SLUICE" runs show badcb b1 --json
expect_jq "$TMP/out" '.state == "success" and
	.callbacks[0].state == "failed" and .callbacks[0].exit_code == 7 and
	.callbacks[0].try_number == 1' "the callback failed (exit 7), not retried; the run is success"
run "$SLUICE" logs badcb b1 on_success
expect_file "$TMP/out" "callback failing" "logs show the failed callback's output"
expect_file "$TMP/seen/f1" "failed|bad worse|on_failure|3" \
	"the first run's callback still ran only once"
sql_count=$(pg_sql "SELECT count(*) FROM attempts a JOIN task_instances ti USING (ti_id)
	WHERE ti.kind = 'callback'")
test "$sql_count" = 3
ok $? "one callback attempt per finished run"

stop_daemon s1
expect_status 0 "the scheduler stops cleanly"
stop_daemon w1
expect_status 0 "the worker stops cleanly"

done_testing
