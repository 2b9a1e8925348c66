#!/bin/sh
# Faults end to end (issue 4, point 8), with a private PostgreSQL, a git
# repository of DAGs, sluice-scheduler and sluice-worker: a task that fails
# twice then succeeds (retry delays, exponential back-off capped by
# max_retry_delay, a log per try); a task that overruns its timeout (killed
# with its children, retried, failed); every trigger rule; catch-up of
# missed hourly intervals; a push while a run is running.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db faults

PORT=$(free_port)

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# --- the DAG repository ------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags" "$R/scripts"
cat >"$R/dags/retry.yaml" <<EOF
schedule: null
tasks:
  flaky:
    command: echo "attempt \$SLUICE_TRY_NUMBER of {{ task }}"; test "\$SLUICE_TRY_NUMBER" -ge 3
    retries: 3
    retry_delay: 2s
    retry_backoff: exponential
    max_retry_delay: 3s
EOF
cat >"$R/dags/timeout.yaml" <<EOF
schedule: null
tasks:
  overrun:
    command: sh scripts/overrun.sh
    timeout: 2s
    retries: 1
    retry_delay: 1s
EOF
cat >"$R/scripts/overrun.sh" <<EOF
sleep 300 &
echo \$! >"$TMP/overrun.\$SLUICE_TRY_NUMBER.child.pid"
echo \$\$ >"$TMP/overrun.\$SLUICE_TRY_NUMBER.shell.pid"
echo "overrunning, try \$SLUICE_TRY_NUMBER"
sleep 300
EOF

# One downstream task per rule and upstream combination (S success,
# F failed, K skipped), named RULE.COMBINATION, then a second level that
# sees upstream_failed (U) and skipped tasks decided by the first.
{
	cat <<EOF
schedule: null
tasks:
  S1: {command: "true"}
  S2: {command: "true"}
  F1: {command: "exit 1"}
  K1: {command: "exit 99"}
  K2: {command: "exit 99"}
EOF
	while read -r name deps; do
		printf '  %s: {command: "true", trigger_rule: %s, depends_on: [%s]}\n' \
			"$name" "${name%%.*}" "$deps"
	done <<EOF
all_success.SS S1, S2
all_success.SF S1, F1
all_success.SK S1, K1
all_failed.F F1
all_failed.FS F1, S1
all_done.SFK S1, F1, K1
all_skipped.KK K1, K2
all_skipped.KS K1, S1
one_success.SF S1, F1
one_success.FK F1, K1
one_success.KK K1, K2
one_failed.FS F1, S1
one_failed.SK S1, K1
one_done.FK F1, K1
one_done.KK K1, K2
none_failed.SK S1, K1
none_failed.SF S1, F1
none_failed_min_one_success.SK S1, K1
none_failed_min_one_success.KK K1, K2
none_failed_min_one_success.SF S1, F1
none_skipped.SF S1, F1
none_skipped.SK S1, K1
always.FK F1, K1
all_success.U all_success.SF
all_success.UU all_success.U
all_success.KK all_success.SK
one_failed.U all_success.SF
all_done.UK all_success.SF, all_success.SK
none_failed.K all_success.SK
EOF
} >"$R/dags/rules.yaml"

# Catch-up: missed hourly intervals since a start three hours ago.
now_s=$(date -u +%s)
start_s=$((now_s / 3600 * 3600 - 3 * 3600))
start_iso=$(date -u -d "@$start_s" +%Y-%m-%dT%H:%M:%SZ)
for c in true false; do
	cat >"$R/dags/hourly_$c.yaml" <<EOF
schedule: "@hourly"
start_date: "$start_iso"
catchup: $c
tasks:
  tick:
    command: echo "interval {{ data_interval_start }} to {{ data_interval_end }}"
EOF
done

# step is running when the push lands; next starts after it.
cat >"$R/dags/push.yaml" <<EOF
schedule: null
tasks:
  step:
    command: sh scripts/version.sh; echo started >"$TMP/push.\$SLUICE_RUN_ID.state"; while [ ! -f "$TMP/push.gate" ] && [ -d "$TMP" ]; do sleep 0.1; done
  next:
    command: sh scripts/version.sh
    depends_on: [step]
EOF
echo 'echo "script v1"' >"$R/scripts/version.sh"
git_repo "$R" || exit 1
C1=$(git -C "$R" rev-parse HEAD)

sched_config "$TMP/s1.yaml" "$R" dags "parallelism: 16"
worker_config "$TMP/w1.yaml" w1 "slots: 4"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 30
ok $? "the scheduler loads the DAGs"
expect_grep "$TMP/s1.log" 'event=refreshed .* failed=0 ' "every DAG file loads"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "the worker connects"

for r in "retry a1" "timeout b1" "rules c1"; do
	run "$SLUICE" trigger "${r% *}" --run-id "${r#* }"
	expect_status 0 "trigger ${r% *}"
done

# --- a. fails twice, then succeeds ----------------------------------------------
# While flaky waits for its retry, next_retry_at - (end of the failed try) is
# the delay chosen: 2s after try 1, then 4s capped to 3s after try 2.
ti_a="SELECT ti_id FROM task_instances WHERE task_id = 'flaky'"
seen=
i=0
while [ $i -lt 300 ]; do
	d=$(pg_sql "SELECT ti.try_number || '=' || extract(epoch FROM ti.next_retry_at - a.ended_at)::numeric(10,3)
		FROM task_instances ti JOIN attempts a ON a.ti_id = ti.ti_id AND a.try_number = ti.try_number
		WHERE ti.ti_id = ($ti_a) AND ti.state = 'up_for_retry'")
	case " $seen " in *" $d "*) ;; *) [ -n "$d" ] && seen="$seen $d" ;; esac
	case "$seen" in *" 2="*) break ;; esac
	i=$((i + 1))
	sleep 0.1
done
seen=${seen# }
expect_str "$seen" "1=2.000 2=3.000" \
	"retry delays: 2s, then exponential 4s capped by max_retry_delay to 3s"
wait_run retry a1
ok $? "the flaky run finishes"
sql_is "SELECT string_agg(try_number || ':' || outcome || ':' || worker_id, ' ' ORDER BY try_number)
	FROM attempts WHERE ti_id = ($ti_a)" "1:failed:w1 2:failed:w1 3:success:w1" \
	"three attempts: failed, failed, success"
sql_is "SELECT string_agg(p.try_number || ':' || (n.started_at - p.ended_at >=
		CASE p.try_number WHEN 1 THEN interval '2s' ELSE interval '3s' END), ' '
		ORDER BY p.try_number)
	FROM attempts p JOIN attempts n ON n.ti_id = p.ti_id AND n.try_number = p.try_number + 1
	WHERE p.ti_id = ($ti_a)" "1:true 2:true" \
	"try 2 starts >= 2s after try 1 ended, try 3 >= 3s after try 2"
run "$SLUICE" runs show retry a1 --json
expect_jq "$TMP/out" '.state == "success" and .tasks[0].try_number == 3' \
	"the run succeeds on try 3"
for t in 1 2 3; do
	run "$SLUICE" logs retry a1 flaky --try $t
	expect_status 0 "logs --try $t"
	expect_file "$TMP/out" "attempt $t of flaky" "try $t has its own log"
done

# --- b. overruns its timeout ------------------------------------------------------
wait_run timeout b1
ok $? "the overrunning run finishes"
sql_is "SELECT string_agg(a.try_number || ':' || a.outcome, ' ' ORDER BY a.try_number)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'b1'" "1:timeout 2:timeout" "both tries end in timeout"
run "$SLUICE" runs show timeout b1 --json
expect_jq "$TMP/out" '.state == "failed" and .tasks[0].state == "failed"
	and .tasks[0].try_number == 2' "retried once, then failed"
for t in 1 2; do
	for p in shell child; do
		f=$TMP/overrun.$t.$p.pid
		pid=$(cat "$f" 2>/dev/null)
		i=0
		while [ -n "$pid" ] && alive "$pid" && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -n "$pid" ] && ! alive "$pid"
		ok $? "try $t: the task's $p process is killed"
		# Gone, so the cleanup must not kill whatever reuses the pid.
		[ -n "$pid" ] && ! alive "$pid" && rm -f "$f"
	done
done
run "$SLUICE" logs timeout b1 overrun --try 1
expect_grep "$TMP/out" '^overrunning, try 1$' "the timed-out try's log is kept"

# --- c. every trigger rule ----------------------------------------------------------
wait_run rules c1
ok $? "the trigger rules run finishes"
run "$SLUICE" runs show rules c1 --json
expect_jq "$TMP/out" '.state == "failed"' "the run fails (F1 failed)"
jq -r '.tasks[] | .task + " " + .state' "$TMP/out" >"$TMP/states"
expect_file "$TMP/states" "S1 success
S2 success
F1 failed
K1 skipped
K2 skipped
all_success.SS success
all_success.SF upstream_failed
all_success.SK skipped
all_failed.F success
all_failed.FS skipped
all_done.SFK success
all_skipped.KK success
all_skipped.KS skipped
one_success.SF success
one_success.FK upstream_failed
one_success.KK skipped
one_failed.FS success
one_failed.SK skipped
one_done.FK success
one_done.KK skipped
none_failed.SK success
none_failed.SF upstream_failed
none_failed_min_one_success.SK success
none_failed_min_one_success.KK skipped
none_failed_min_one_success.SF upstream_failed
none_skipped.SF success
none_skipped.SK skipped
always.FK success
all_success.U upstream_failed
all_success.UU upstream_failed
all_success.KK skipped
one_failed.U success
all_done.UK success
none_failed.K success" "each downstream task ends as its rule says (Airflow semantics)"
sql_is "SELECT count(*) FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk)
	WHERE r.run_id = 'c1' AND ti.task_id LIKE '%.%' AND ti.state <> 'success'" 0 \
	"no task that was skipped or upstream_failed by its rule ever ran"

# --- d. catch-up --------------------------------------------------------------------
# The hour in which runs were created says which intervals had ended then
# (one more if the test crosses an hour: a run of the new interval).
wait_sql "SELECT count(*) > 0 FROM runs WHERE dag_id = 'hourly_false'" 30
wait_sql "SELECT count(*) > 0 AND bool_and(state = 'success') FROM runs
	WHERE dag_id IN ('hourly_true', 'hourly_false')" 60
ok $? "the scheduled runs are created and succeed"
for c in true false; do
	created=$(pg_sql "SELECT extract(epoch FROM min(created_at))::bigint || ' '
			|| extract(epoch FROM max(created_at))::bigint
		FROM runs WHERE dag_id = 'hourly_$c'")
	last=$((${created#* } / 3600 * 3600 - 3600))
	first=$start_s
	[ $c = false ] && first=$((${created% *} / 3600 * 3600 - 3600))
	want=
	t=$first
	while [ $t -le $last ]; do
		want="$want $(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)"
		t=$((t + 3600))
	done
	got=$(pg_sql "SELECT string_agg(to_char(logical_date AT TIME ZONE 'UTC',
			'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ':' || run_type || ':' || run_id, ' '
			ORDER BY logical_date)
		FROM runs WHERE dag_id = 'hourly_$c'")
	want2=
	for w in $want; do
		want2="$want2 $w:scheduled:scheduled__${w%Z}+00:00"
	done
	expect_str "$got" "${want2# }" "catchup: $c: runs for exactly$want"
done
run "$SLUICE" runs list hourly_true --json
expect_jq "$TMP/out" 'length >= 3 and all(.[]; .state == "success")' \
	"runs list shows the catch-up runs, all success"

# --- e. a push during a run ----------------------------------------------------------
run "$SLUICE" trigger push --run-id p1
expect_status 0 "trigger the push DAG"
wait_for "$TMP/push.p1.state" started 60
ok $? "its task is running the first version of the script"
echo 'echo "script v2"' >"$R/scripts/version.sh"
C2=$(git_commit "$R" "version.sh v2")
wait_sql "SELECT run_commit = '$C2' FROM dags WHERE dag_id = 'push'" 30
ok $? "the scheduler sees the new commit"
: >"$TMP/push.gate"
wait_run push p1
run "$SLUICE" runs show push p1 --json
expect_jq "$TMP/out" ".state == \"success\" and .commit == \"$C1\"" \
	"the running run keeps its commit"
for t in step next; do
	run "$SLUICE" logs push p1 $t
	expect_file "$TMP/out" "script v1" "its task $t ran the old script"
done
run "$SLUICE" trigger push --run-id p2
wait_run push p2
run "$SLUICE" runs show push p2 --json
expect_jq "$TMP/out" ".state == \"success\" and .commit == \"$C2\"" \
	"the next run pins the new commit"
for t in step next; do
	run "$SLUICE" logs push p2 $t
	expect_file "$TMP/out" "script v2" "its task $t runs the new script"
done

stop_daemon s1
expect_status 0 "the scheduler stops on SIGTERM"
stop_daemon w1
expect_status 0 "the worker stops on SIGTERM"

done_testing
