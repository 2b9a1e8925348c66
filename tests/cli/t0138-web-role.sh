#!/bin/sh
# sluice-web's own database role (docs/web.md, "Its own database role"):
# migration 0014 makes sluice_web, and a login role in it runs sluice-web
# (web.database_url) and every change the API makes (the same stores as
# the CLI: run here as that role), while what would let a taken-over web
# run code on workers, forge results or reach other secrets is refused:
# storing a DAG version, writing attempts or logs, reading worker
# credentials, taking the lease, changing the schema. The same statements
# as the tables' owner succeed (the attacks are real).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db webrole
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
pg_sql "SELECT rolname FROM pg_roles WHERE rolname = 'sluice_web' AND NOT rolcanlogin" >"$TMP/role"
expect_grep "$TMP/role" '^sluice_web$' "the migrations made the role sluice_web, without login"
pg_sql "CREATE ROLE webuser LOGIN IN ROLE sluice_web" >/dev/null || exit 1
OWNER_URL=$SLUICE_DATABASE_URL
WEB_URL="$SLUICE_DATABASE_URL user=webuser"

# --- what the API does, as the role -----------------------------------------------------
printf 'an admin password\n' >"$TMP/pw"
as_web() { SLUICE_DATABASE_URL=$WEB_URL "$SLUICE" "$@"; }
run as_web users add ada --role admin <"$TMP/pw"
expect_status 0 "users add"
run as_web tokens create ada --json
expect_status 0 "tokens create"
TOKEN=$(jq -r .token "$TMP/out")
run as_web trigger hello --run-id r1
expect_status 0 "trigger"
run as_web tasks mark hello r1 greet success
expect_status 0 "tasks mark"
run as_web tasks clear hello r1
expect_status 0 "tasks clear"
run as_web runs cancel hello r1
expect_status 0 "runs cancel"
run as_web dags pause hello
expect_status 0 "dags pause"
run as_web dags unpause hello
expect_status 0 "dags unpause"
run as_web pools set p1 2
expect_status 0 "pools set"
run as_web pools delete p1
expect_status 0 "pools delete"
run as_web audit --json
expect_status 0 "audit"
run as_web tokens revoke "$(as_web tokens list --json | jq -r '.[0].id')"
expect_status 0 "tokens revoke"
run as_web tokens create ada --json
TOKEN=$(jq -r .token "$TMP/out")

# --- sluice-web itself, as the role --------------------------------------------------------
PORT=$(free_port)
cat >"$TMP/w.yaml" <<YAML
web:
  listen: 127.0.0.1:$PORT
  database_url: "$WEB_URL"
YAML
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=listening_events" 30
ok $? "sluice-web starts and listens as webuser"
for path in /health /api/v1/dags /metrics /api/v1/dags/hello/graph; do
	curl -s -o /dev/null -w "$path %{http_code}\n" -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$PORT$path" >>"$TMP/codes"
done
expect_file "$TMP/codes" "/health 200
/api/v1/dags 200
/metrics 200
/api/v1/dags/hello/graph 200" "its routes answer"
pg_sql "SELECT usename FROM pg_stat_activity WHERE query = 'LISTEN sluice_events'" >"$TMP/who"
expect_grep "$TMP/who" '^webuser$' "connected as webuser"
stop_daemon w

# --- what the role cannot do ----------------------------------------------------------------
# attack NAME SQL: refused as webuser ("permission denied"), done as the owner.
attack() {
	PGUSER=webuser psql -X -q -v ON_ERROR_STOP=1 -d webrole -c "BEGIN; $2; ROLLBACK" \
		>"$TMP/attack.out" 2>&1
	st=$?
	[ $st -ne 0 ] && grep -q 'permission denied\|must be owner' "$TMP/attack.out"
	ok $? "as webuser, refused: $1"
	[ $st -ne 0 ] || sed 's/^/#   /' "$TMP/attack.out"
	psql -X -q -v ON_ERROR_STOP=1 -d webrole -c "BEGIN; $2; ROLLBACK" >"$TMP/control.out" 2>&1
	st=$?
	ok $st "as the owner, the same works (the attack is real)"
	[ $st -eq 0 ] || sed 's/^/#   /' "$TMP/control.out"
}
VERSION=$(pg_sql "SELECT latest_version_id FROM dags WHERE dag_id = 'hello'")
attack "a new DAG version (commands workers would run)" \
	"INSERT INTO dag_versions (dag_id, commit, blob_id, path, definition, schedule, timezone, start_date, end_date, catchup, max_active_runs, max_active_tasks) SELECT dag_id, repeat('c', 40), repeat('b', 40), 'x.yaml', definition, schedule, timezone, start_date, end_date, catchup, max_active_runs, max_active_tasks FROM dag_versions WHERE version_id = $VERSION"
attack "changing a stored definition" \
	"UPDATE dag_versions SET definition = definition WHERE version_id = $VERSION"
attack "pointing a DAG at another version" \
	"UPDATE dags SET latest_version_id = latest_version_id"
attack "recording an attempt" \
	"INSERT INTO attempts (ti_id, try_number) SELECT ti_id, 99 FROM task_instances LIMIT 1"
attack "writing log bytes" \
	"INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 999, 'x' FROM attempts LIMIT 1"
attack "reading worker credentials" "SELECT * FROM worker_credentials"
attack "taking the scheduler's lease" "DELETE FROM scheduler_lease"
attack "changing the schema" "ALTER TABLE runs ADD COLUMN evil int"
attack "dropping a table" "DROP TABLE audit_log"
done_testing
