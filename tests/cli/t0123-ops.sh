#!/bin/sh
# Operations (issue 12, ops): a broken DAG file is logged once per commit,
# not on every poll, and a refresh that changes nothing sends no NOTIFY;
# `sluice workers delete` refuses a worker that may still work; `sluice db
# clean` deletes old finished runs and keeps the runs the scheduler and
# workers still need.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
PORT=$(free_port)
daemons_db ops
export SLUICE_CONFIG="$TMP/s1.yaml"

# count FILE PATTERN: lines of FILE matching PATTERN.
count() { grep -c -e "$2" "$1" 2>/dev/null; }

# polls_after N: wait until the scheduler synced again N poll intervals
# (1 s each) after now, read from source_state.refreshed_at, which every
# sync writes whether or not it logs.
polls_after() {
	pa_t=$(pg_sql "SELECT now()")
	wait_sql "SELECT refreshed_at > '$pa_t'::timestamptz + interval '$1 s' FROM source_state"
}

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/good.yaml" <<'EOF2'
schedule: null
tasks:
  t:
    command: "true"
EOF2
printf 'schedule: null\ntasks:\n  t:\n    command: "true"\n    retries: lots\n' >"$R/dags/broken.yaml"
git_repo "$R" || exit 1

# --- bug 8: load errors once per commit, no NOTIFY when nothing changed -----
sched_config "$TMP/s1.yaml" "$R" dags
start_scheduler s1
wait_for "$TMP/s1.log" 'event=dag_error file=dags/broken.yaml' 30
ok $? "the broken file is logged when the scheduler first refreshes"
polls_after 3
ok $? "the scheduler keeps polling the same commit"
expect_str "$(count "$TMP/s1.log" 'event=dag_error')" 1 \
	"bug 8: the load error of one commit is logged once, not on every poll"
expect_str "$(count "$TMP/s1.log" 'event=refreshed')" 1 \
	"an unchanged refresh logs no 'refreshed' line either"
expect_str "$(count "$TMP/s1.log" 'event=notified payload=refresh')" 1 \
	"an unchanged refresh sends no NOTIFY (only the first one did)"

run "$SLUICE" dags refresh
expect_status 0 "dags refresh of the same commit succeeds"
expect_grep "$TMP/out" "0 new versions, 1 error, 0 removed (no change since the last refresh)$" \
	"and says that nothing changed"
run "$SLUICE" --json dags refresh
expect_jq "$TMP/out" '.changed == false' "--json: changed is false"
polls_after 2
expect_str "$(count "$TMP/s1.log" 'event=notified payload=refresh')" 1 \
	"the CLI's unchanged refreshes woke no listener"

printf 'schedule: null\ntasks:\n  t:\n    command: "false"\n' >"$R/dags/good.yaml"
C2=$(git_commit "$R" "change good")
wait_for "$TMP/s1.log" "event=refreshed commit=$C2" 30
ok $? "a new commit is logged"
polls_after 2
expect_str "$(count "$TMP/s1.log" 'event=dag_error')" 2 \
	"its load error once more (once per commit), then no more"
expect_str "$(count "$TMP/s1.log" 'event=notified payload=refresh')" 2 \
	"the new commit sent one NOTIFY"

# --- workers delete ----------------------------------------------------------
stop_daemon s1
# q SQL: run it, quietly.
q() { pg_sql "$1" >/dev/null; }
q "INSERT INTO workers (worker_id, host, queues, slots, state, last_heartbeat_at) VALUES
	('w-active', 'h', '{default}', 1, 'active', now()),
	('w-busy', 'h', '{default}', 1, 'gone', now() - interval '1 hour'),
	('w-gone', 'h', '{default}', 1, 'gone', now() - interval '1 hour')"

# --- db clean: four runs of 'good', on days 1-4 --------------------------------
for d in 01 02 03 04; do
	run "$SLUICE" trigger good --logical-date "2026-01-${d}T00:00:00Z" --run-id "r$d"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/err"
done
# All ended 10 days ago, with one attempt and a log chunk per task. r01 is
# the DAG's only scheduled run (kept: the next interval follows it), r04 its
# newest run (kept), r03 has an attempt still live on w-busy (kept).
q "UPDATE runs SET state = 'success', started_at = now() - interval '10 days',
	ended_at = now() - interval '10 days'"
q "UPDATE runs SET run_type = 'scheduled' WHERE run_id = 'r01'"
q "UPDATE task_instances SET state = 'success', try_number = 1"
q "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome,
		exit_code, log_bytes)
	SELECT ti_id, 1, 'w-gone', now() - interval '10 days', now() - interval '10 days',
		'success', 0, 5 FROM task_instances"
q "INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 0, 'hello' FROM attempts"
q "UPDATE attempts SET ended_at = NULL, outcome = NULL, exit_code = NULL, worker_id = 'w-busy'
	WHERE ti_id IN (SELECT ti_id FROM task_instances JOIN runs USING (run_pk)
			WHERE run_id = 'r03')"

run "$SLUICE" workers delete w-active
expect_status 1 "workers delete: a worker that is not gone is refused"
expect_grep "$TMP/err" "worker 'w-active' is active (last heartbeat [0-9]*s ago): stop it" \
	"and the message says why and what to do"
run "$SLUICE" workers delete w-busy
expect_status 1 "a gone worker that still holds a live attempt is refused"
expect_grep "$TMP/err" "worker 'w-busy' still holds 1 attempt(s) that may be running" "and says so"
run "$SLUICE" --json workers delete w-gone
expect_status 0 "a gone worker with only ended attempts is deleted"
expect_jq "$TMP/out" '.worker == "w-gone" and .deleted == true' "--json says so"
expect_str "$(pg_sql "SELECT count(*) FROM workers WHERE worker_id = 'w-gone'")" 0 \
	"its row is gone"
expect_str "$(pg_sql "SELECT count(*) FROM attempts WHERE worker_id = 'w-gone'")" 3 \
	"its attempts keep its name"
run "$SLUICE" workers delete w-gone
expect_status 3 "deleting it again: no such worker (exit 3)"
run "$SLUICE" workers delete 'bad name'
expect_status 2 "a bad name is a usage error"

run "$SLUICE" db clean --older-than 0
expect_status 2 "db clean --older-than 0 is a usage error"
expect_grep "$TMP/err" "older-than 0: must be more than 0" "and names the option"
run "$SLUICE" db clean --older-than 30d
expect_status 0 "db clean --older-than 30d"
expect_grep "$TMP/out" "^deleted 0 runs " "deletes nothing younger than the cutoff"
run "$SLUICE" db clean --older-than 5d --dry-run
expect_status 0 "db clean --dry-run"
expect_grep "$TMP/out" "^would delete 1 run (1 task instances, 1 attempts, 5 bytes of logs) that ended before " \
	"counts only r02: the newest, the newest scheduled and a run with a live attempt stay"
expect_str "$(pg_sql "SELECT count(*) FROM runs")" 4 "--dry-run deletes nothing"
run "$SLUICE" --json db clean --older-than 5d
expect_status 0 "db clean --older-than 5d"
expect_jq "$TMP/out" '.dry_run == false and .runs == 1 and .attempts == 1 and .log_bytes == 5
	and .batches == 1' "--json: what it deleted, in one transaction"
expect_str "$(pg_sql "SELECT string_agg(run_id, ' ' ORDER BY run_id) FROM runs")" "r01 r03 r04" \
	"r02 is gone; r01, r03 and r04 are kept"
expect_str "$(pg_sql "SELECT count(*) FROM log_chunks")" 3 "with its attempt's log"
done_testing
