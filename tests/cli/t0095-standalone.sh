#!/bin/sh
# sluice standalone: a private PostgreSQL cluster, the scheduler and a worker
# started by one command; a DAG triggered through them; SIGTERM stops all;
# a second start reuses the cluster.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

# In the build tree the daemons are not next to `sluice`.
export SLUICE_SCHEDULER_BIN="$SLUICE_SCHEDULER" SLUICE_WORKER_BIN="$SLUICE_WORKER"
unset SLUICE_DATABASE_URL SLUICE_CONFIG PGHOST PGPORT PGDATABASE PGUSER

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
	echo "Bail out! no PostgreSQL server binaries (initdb, pg_ctl): install postgresql"
	exit 1
fi

# Not under $TMPDIR: a unix socket path must stay under ~100 bytes; and
# readable by the postgres user when root.
STATE=$(mktemp -d /tmp/sluice-sa.XXXXXX) || exit 1
chmod 755 "$STATE"
SAPID=

cleanup() {
	if [ -n "$SAPID" ]; then
		kill -TERM "$SAPID" 2>/dev/null
		wait "$SAPID" 2>/dev/null
	fi
	if [ -f "$STATE/pg/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$STATE/pg/data/postmaster.pid")
		[ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null
	fi
	rm -rf "$STATE" "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

R=$TMP/repo
mkdir -p "$R/flows"
cat >"$R/flows/two.yaml" <<EOF
schedule: null
tasks:
  first:
    command: echo one
  second:
    command: echo two
    depends_on: [first]
EOF
(cd "$R" && git init -q -b main && git add flows && git -c user.name=t -c user.email=t@t \
	commit -q -m dags) || exit 1

# start N: standalone in the background, from inside the repository (the
# default --repo), until it prints the export line.
start() {
	(cd "$R/flows" && exec "$SLUICE" standalone --path flows --state-dir "$STATE") \
		>"$TMP/sa$1.out" 2>"$TMP/sa$1.err" &
	SAPID=$!
	wait_for "$TMP/sa$1.out" "^export SLUICE_DATABASE_URL=" 60
	ok $? "standalone #$1 prints the export line"
	if [ -s "$TMP/sa$1.out" ]; then :; else
		sed 's/^/#   /' "$TMP/sa$1.err" "$STATE"/*.log 2>/dev/null
	fi
	URL=$(sed -n "s/^export SLUICE_DATABASE_URL='\(.*\)'$/\1/p" "$TMP/sa$1.out")
}

# stop N: SIGTERM, exit 0 within 30 s, nothing left behind.
stop() {
	kill -TERM "$SAPID"
	wait_exit "$SAPID" 30
	expect_status 0 "SIGTERM: standalone #$1 exits 0"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/sa$1.err"
	SAPID=
	pgrep -f "$STATE" >/dev/null
	ok $((! $?)) "no postgres or sluice process is left from the state dir"
}

start 1
expect_grep "$TMP/sa1.err" "creating a PostgreSQL cluster" "the first start runs initdb"
SLUICE_DATABASE_URL=$URL run timeout 60 "$SLUICE" trigger two --run-id r1 --wait
expect_status 0 "trigger --wait through standalone: the run succeeds"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/out" "$STATE/scheduler.log" "$STATE/worker.log"
SLUICE_DATABASE_URL=$URL run "$SLUICE" runs show two r1 --json
expect_status 0 "runs show --json"
expect_jq "$TMP/out" '.state == "success" and ([.tasks[] | .state] == ["success", "success"])' \
	"the run and both tasks are success"
stop 1

start 2
grep -q "creating a PostgreSQL cluster" "$TMP/sa2.err"
ok $((! $?)) "the second start reuses the cluster"
SLUICE_DATABASE_URL=$URL run "$SLUICE" runs show two r1 --json
expect_jq "$TMP/out" '.state == "success"' "the first run is still there"
stop 2

# A daemon that dies early stops everything, exit 1 with its name.
SLUICE_WORKER_BIN=/bin/false run timeout 60 "$SLUICE" standalone --repo "$R" --path flows \
	--state-dir "$STATE"
expect_status 1 "a daemon that dies early: exit 1"
expect_grep "$TMP/err" "sluice-worker exited" "with its name"
pgrep -f "$STATE" >/dev/null
ok $((! $?)) "and nothing is left running"

done_testing
