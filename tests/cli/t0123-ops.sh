#!/bin/sh
# Operations (issue 12, ops): a broken DAG file is logged once per commit,
# not on every poll, and a refresh that changes nothing sends no NOTIFY.
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
done_testing
