#!/bin/sh
# Operations (issue 12, ops2): the scheduler's `retention:` runs `sluice db
# clean`'s deletion itself: off by default, leader only, one bounded batch
# per tick until nothing is left, one log line per pass, then a day later.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
PORT=$(free_port)
daemons_db ops2
export SLUICE_CONFIG="$TMP/s1.yaml"

# count FILE PATTERN: lines of FILE matching PATTERN.
count() { grep -c -e "$2" "$1" 2>/dev/null; }
# q SQL: run it, quietly.
q() { pg_sql "$1" >/dev/null; }
# polls_after N: until the scheduler synced again N poll intervals (1 s
# each) after now: ticks went by in between.
polls_after() {
	pa_t=$(pg_sql "SELECT now()")
	wait_sql "SELECT refreshed_at > '$pa_t'::timestamptz + interval '$1 s' FROM source_state"
}
# old_runs N PREFIX AGE: N finished manual runs of 'good' that ended AGE ago.
old_runs() {
	q "INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
		data_interval_start, data_interval_end, state, started_at, ended_at)
	SELECT d.dag_id, '$2' || i, v.version_id, v.commit, 'manual',
		now() - interval '$3' - i * interval '1 s',
		now() - interval '$3' - i * interval '1 s',
		now() - interval '$3' - i * interval '1 s', 'success',
		now() - interval '$3', now() - interval '$3'
	  FROM dags d JOIN dag_versions v ON v.version_id = d.latest_version_id,
	       generate_series(1, $1) i
	 WHERE d.dag_id = 'good'"
}
runs_like() { pg_sql "SELECT count(*) FROM runs WHERE run_id LIKE '$1%'"; }

R=$TMP/repo
mkdir -p "$R/dags"
printf 'schedule: null\ntasks:\n  t:\n    command: "true"\n' >"$R/dags/good.yaml"
git_repo "$R" || exit 1

# --- bad values: file:line:col, and the scheduler does not start ------------
for bad in 0s soon; do
	sched_config "$TMP/bad.yaml" "$R" dags "retention: $bad"
	start_scheduler bad
	wait_exit "$bad_pid" 20
	expect_str "$status" 1 "retention: $bad: the scheduler refuses to start"
	expect_grep "$TMP/bad.log" "bad.yaml:10:12: .*retention" "and names the file, line, column and key"
	rm -f "$TMP/bad.log"
done

# --- off by default ----------------------------------------------------------
sched_config "$TMP/s1.yaml" "$R" dags
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 30
ok $? "the scheduler loaded the DAG"
old_runs 451 old 10d
old_runs 3 young 1d
polls_after 2
ok $? "ticks went by"
stop_daemon s1
expect_str "$(count "$TMP/s1.log" 'event=retention')" 0 "without retention: no pass"
expect_str "$(runs_like old)" 451 "and no run deleted"

# --- retention: 5d -------------------------------------------------------------
sched_config "$TMP/s1.yaml" "$R" dags "retention: 5d"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=retention' 30
ok $? "with retention the leader's first ticks run a pass"
expect_grep "$TMP/s1.log" 'event=retention older_than=432000s cutoff="[0-9-]* [0-9:.+]*" runs=451 task_instances=0 attempts=0 log_bytes=0 batches=3 ms=[0-9]*$' \
	"one line for the pass: 451 runs in 3 batches of at most 200"
expect_str "$(runs_like old)" 0 "the old runs are gone"
expect_str "$(runs_like young)" 3 "runs younger than the cutoff are kept"

# A standby runs no pass, and the leader waits a day for its next one.
sched_config "$TMP/s2.yaml" "$R" dags "retention: 5d" "listen: 127.0.0.1:$(free_port)"
start_scheduler s2
wait_for "$TMP/s2.log" 'event=started' 30
ok $? "a second scheduler started"
old_runs 5 later 10d
polls_after 3
ok $? "ticks went by"
expect_str "$(count "$TMP/s1.log" 'event=retention')" 1 "the leader's next pass is a day later"
expect_str "$(count "$TMP/s2.log" 'event=retention')" 0 "a standby runs no pass"
expect_str "$(runs_like later)" 5 "so the runs that aged meanwhile are still there"
done_testing
