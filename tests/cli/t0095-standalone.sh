#!/bin/sh
# sluice standalone: a private PostgreSQL cluster, the scheduler and a worker
# started by one command; a DAG triggered through them; SIGTERM stops all;
# a second start reuses the cluster.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/standalone.sh"

sa_repo
sa_state

sa_start 1
expect_grep "$TMP/sa1.err" "creating a PostgreSQL cluster" "the first start runs initdb"
SLUICE_DATABASE_URL=$URL run timeout 60 "$SLUICE" trigger two --run-id r1 --wait
expect_status 0 "trigger --wait through standalone: the run succeeds"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/out" "$STATE/scheduler.log" "$STATE/worker.log"
SLUICE_DATABASE_URL=$URL run "$SLUICE" runs show two r1 --json
expect_status 0 "runs show --json"
expect_jq "$TMP/out" '.state == "success" and ([.tasks[] | .state] == ["success", "success"])' \
	"the run and both tasks are success"
sa_stop 1

sa_start 2
grep -q "creating a PostgreSQL cluster" "$TMP/sa2.err"
ok $((! $?)) "the second start reuses the cluster"
SLUICE_DATABASE_URL=$URL run "$SLUICE" runs show two r1 --json
expect_jq "$TMP/out" '.state == "success"' "the first run is still there"
sa_stop 2

# A daemon that dies early stops everything, exit 1 with its name.
SLUICE_WORKER_BIN=/bin/false run timeout 60 "$SLUICE" standalone --repo "$R" --path flows \
	--state-dir "$STATE"
expect_status 1 "a daemon that dies early: exit 1"
expect_grep "$TMP/err" "sluice-worker exited" "with its name"
pgrep -f "$STATE" >/dev/null
ok $((! $?)) "and nothing is left running"

done_testing
