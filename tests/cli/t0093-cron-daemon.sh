#!/bin/sh
# Issue 4's acceptance line: a DAG committed to a git repository with
# schedule "* * * * *" runs every minute under sluice-scheduler and
# sluice-worker, and `sluice runs list` and `sluice logs` show it. The
# runs come from the cron schedule alone (no start_date: the first minute
# after the DAG is first seen), so this waits for two minute boundaries.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db cron

PORT=$(free_port)

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/every_minute.yaml" <<'EOF'
schedule: "* * * * *"
tasks:
  tick:
    command: echo "tick for {{ data_interval_start }} to {{ data_interval_end }}"
EOF
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
start_scheduler s1
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 30
ok $? "the daemons start and the worker connects"

# The first interval starts at the first whole minute after the DAG was
# first seen, so its run comes within two minutes and the next one a minute
# later.
wait_sql "SELECT count(*) >= 2 AND bool_and(state = 'success') FROM (SELECT state FROM runs
	WHERE dag_id = 'every_minute' ORDER BY logical_date LIMIT 2) r" 200
ok $? "two scheduled runs are created and succeed"

pg_sql "SELECT run_id FROM runs WHERE dag_id = 'every_minute' ORDER BY logical_date LIMIT 2" \
	>"$TMP/ids"
r1=$(sed -n 1p "$TMP/ids")
r2=$(sed -n 2p "$TMP/ids")
sql_is "SELECT string_agg(run_type || ':' || (data_interval_end - data_interval_start)::text
		|| ':' || (logical_date = data_interval_start)::text, ' ' ORDER BY logical_date)
	FROM (SELECT * FROM runs WHERE dag_id = 'every_minute' ORDER BY logical_date LIMIT 2) r" \
	"scheduled:00:01:00:true scheduled:00:01:00:true" \
	"both are scheduled runs of a one-minute interval"
sql_is "SELECT (max(logical_date) - min(logical_date))::text
	FROM (SELECT logical_date FROM runs WHERE dag_id = 'every_minute'
		ORDER BY logical_date LIMIT 2) r" "00:01:00" "of two consecutive minutes"
sql_is "SELECT bool_and(created_at >= data_interval_end AND extract(second FROM logical_date) = 0)
	FROM runs WHERE dag_id = 'every_minute'" t \
	"each created once its minute has passed, on a whole minute"
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'every_minute' AND run_type <> 'scheduled'" 0 \
	"no other run"

run "$SLUICE" runs list every_minute
expect_status 0 "runs list"
expect_grep "$TMP/out" "$r1 .*success" "runs list shows the first minute's run"
expect_grep "$TMP/out" "$r2 .*success" "and the second one's"
run "$SLUICE" runs list every_minute --json
expect_jq "$TMP/out" "[.[] | select(.run_type == \"scheduled\" and .state == \"success\")
	| .run_id] | index(\"$r1\") != null and index(\"$r2\") != null" "runs list --json too"

for r in "$r1" "$r2"; do
	run "$SLUICE" runs show every_minute "$r" --json
	start=$(jq -r .logical_date "$TMP/out")
	run "$SLUICE" logs every_minute "$r" tick
	expect_status 0 "logs of $r"
	expect_grep "$TMP/out" "^tick for ${start%+00:00}Z to " "its output names its interval"
done

stop_daemon s1
expect_status 0 "the scheduler stops on SIGTERM"
stop_daemon w1
expect_status 0 "the worker stops on SIGTERM"

done_testing
