#!/bin/sh
# `sluice db init | migrate | status` against a private PostgreSQL, and the
# invariants the schema makes the database itself enforce.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"

LOCK=126909663503205 # SL_DB_MIGRATE_LOCK
# How many migrations this sluice knows (the highest schema version).
N=$(ls "$SRC_DIR"/migrations/[0-9]*.sql | wc -l)
MIGRATIONS=migrations
[ "$N" -ne 1 ] || MIGRATIONS=migration

# wait_for SQL: poll until SQL prints "t" (10 s at most).
wait_for() {
	i=0
	while [ $i -lt 600 ]; do
		[ "$(pg_sql "$1" 2>/dev/null)" = t ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# expect_sql_error SQL PATTERN DESCRIPTION: the database rejects SQL with an
# error matching PATTERN (a constraint's name).
expect_sql_error() {
	run psql -X -q -v ON_ERROR_STOP=1 -c "$1"
	if [ "$status" -ne 0 ] && grep -q -e "$2" "$TMP/err"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# expected an error matching '$2', got exit $status:"
		sed 's/^/#   /' "$TMP/out" "$TMP/err"
	fi
}

# expect_sql SQL WANTED DESCRIPTION: SQL prints WANTED.
expect_sql() {
	run pg_sql "$1"
	expect_file "$TMP/out" "$2" "$3"
}

for cmd in "db init" "db migrate" "db status"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done
run "$SLUICE" db status extra
expect_status 2 "db status takes no argument"

pg_start

# --- init, status, migrate on a fresh database -------------------------------
pg_newdb fresh
run "$SLUICE" db status
expect_status 0 "status on an empty database exits 0"
expect_grep "$TMP/out" "not initialised; run 'sluice db init'" "status says it is not initialised"

run "$SLUICE" db init
expect_status 0 "init on an empty database"
expect_grep "$TMP/out" "applied $N $MIGRATIONS, schema version $N" "init says what it applied"

run "$SLUICE" db init
expect_status 0 "init again is a no-op success"
expect_grep "$TMP/out" "already initialised (schema version $N)" "init again says so"
expect_sql "SELECT count(*) FROM schema_migrations" "$N" "init twice records each migration once"

run "$SLUICE" db status
expect_status 0 "status exits 0"
expect_grep "$TMP/out" "^schema: version $N, up to date" "status: version and up to date"
expect_grep "$TMP/out" "^  0001 initial  *applied 20" "status lists the applied migration"

nfiles=$(ls "$SRC_DIR"/migrations/[0-9]*.sql | wc -l)
run "$SLUICE" db status --json
expect_status 0 "status --json exits 0"
run jq -e --argjson n "$nfiles" '.initialised == true and .version == .known_version and
	.up_to_date == true and .pending == 0 and (.migrations | length) == $n and
	.migrations[0] == (.migrations[0] | {version: 1, name: "initial", known: true,
	  applied: true, applied_at}) and (.migrations[0].applied_at | test("^20.*Z$")) and
	(.database | (.where | type) == "string" and .name == "fresh" and
	 (.server_version | test("^[0-9]+\\.")))' "$TMP/out"
expect_status 0 "status --json: shape, and every file in migrations/ is compiled in"

run "$SLUICE" db migrate
expect_status 0 "migrate with nothing to do exits 0"
expect_grep "$TMP/out" "schema version $N is up to date" "migrate says there is nothing to do"

run "$SLUICE" --json db migrate
run jq -e --argjson n "$N" '.applied_now == 0 and .version == $n' "$TMP/out"
expect_status 0 "migrate --json reports applied_now"

# --- schema.sql is the snapshot of the migrations ----------------------------
pg_newdb snapshot
run psql -X -q -v ON_ERROR_STOP=1 -1 -f "$SRC_DIR/schema.sql"
expect_status 0 "schema.sql loads into an empty database"
# pg_dump 15.14 and later frame the dump with a random \restrict key.
pg_dump -s -d fresh 2>&1 | grep -v '^\\\(un\)\{0,1\}restrict ' >"$TMP/migrated.sql"
pg_dump -s -d snapshot 2>&1 | grep -v '^\\\(un\)\{0,1\}restrict ' >"$TMP/snapshot.sql"
if cmp -s "$TMP/migrated.sql" "$TMP/snapshot.sql" && [ -s "$TMP/migrated.sql" ]; then
	ok 0 "schema.sql and the migrations give the same pg_dump --schema-only"
else
	ok 1 "schema.sql and the migrations give the same pg_dump --schema-only"
	diff -u "$TMP/migrated.sql" "$TMP/snapshot.sql" | sed 's/^/# /' | head -n 40
fi
expect_sql "SELECT string_agg(version || ' ' || name, ',' ORDER BY version)
	FROM schema_migrations" "$(PGDATABASE=fresh pg_sql "SELECT string_agg(version || ' ' ||
	name, ',' ORDER BY version) FROM schema_migrations")" \
	"schema.sql records the same schema_migrations rows"
run "$SLUICE" db migrate
expect_status 0 "a database loaded from schema.sql needs no migration"
expect_grep "$TMP/out" "is up to date" "and migrate says so"

# --- the database enforces the invariants ------------------------------------
pg_newdb invariants
run "$SLUICE" db init
expect_status 0 "init the invariants database"
C=0123456789abcdef0123456789abcdef01234567
# insert_run DAG RUN_ID: SQL for a manual run of DAG pinned to version 1.
insert_run() {
	echo "INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
		data_interval_start, data_interval_end) VALUES ('$1', '$2', 1, '$C', 'manual',
		'2026-02-01', '2026-02-01', '2026-02-01')"
}
run psql -X -q -v ON_ERROR_STOP=1 <<EOF
INSERT INTO dags (dag_id, paused) VALUES ('etl', false), ('other', false);
INSERT INTO dag_versions (dag_id, commit, blob_id, path, definition, timezone, catchup,
		max_active_runs, max_active_tasks)
	VALUES ('etl', '$C', '$C', 'dags/etl.yaml', '{"tasks": {}}', 'UTC', false, 16, 16),
	       ('other', '$C', '$C', 'dags/other.yaml', '{}', 'UTC', false, 16, 16);
INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
	data_interval_start, data_interval_end)
	VALUES ('etl', 'manual__1', 1, '$C', 'manual', '2026-01-01', '2026-01-01', '2026-01-01');
INSERT INTO task_instances (run_pk, task_id, max_tries) VALUES (1, 'extract', 3);
INSERT INTO attempts (ti_id, try_number, worker_id) VALUES (1, 1, 'w1');
EOF
expect_status 0 "a valid DAG, version, run, task instance and attempt are accepted"

expect_sql_error "UPDATE runs SET state = 'exploded'" 'runs_state_check' \
	"the database rejects an invalid run state"
expect_sql_error "UPDATE task_instances SET state = 'done'" 'task_instances_state_check' \
	"the database rejects an invalid task state"
expect_sql_error "UPDATE runs SET run_type = 'sometimes'" 'runs_run_type_check' \
	"the database rejects an invalid run type"
expect_sql_error "$(insert_run etl manual__1)" 'runs_dag_run_id_key' \
	"the database rejects a second run with the same run id for a DAG"
expect_sql_error "INSERT INTO attempts (ti_id, try_number) VALUES (1, 2)" \
	'attempts_one_live_key' "the database rejects a second live attempt of a task instance"
expect_sql_error "$(insert_run nope x)" 'violates foreign key constraint "runs_dag_id_fkey"' \
	"the database rejects a run of an unknown DAG (foreign key)"
expect_sql_error "$(insert_run other x)" 'runs_version_fkey' \
	"the database rejects a run pinned to another DAG's version"
expect_sql_error "INSERT INTO task_instances (run_pk, task_id, max_tries) VALUES (1, 'extract', 1)" \
	'task_instances_run_kind_task_key' "the database rejects a task twice in one run"
expect_sql_error "INSERT INTO task_instances (run_pk, task_id, max_tries, kind) VALUES (1, 'extract', 1, 'hook')" \
	'task_instances_kind_check' "the database rejects an unknown kind of task instance"
expect_sql_error "UPDATE runs SET state = 'success'" 'runs_ended_at_check' \
	"the database rejects a finished run without an end time"
expect_sql_error "INSERT INTO dags (dag_id, paused) VALUES ('bad id', false)" 'sl_id_check' \
	"the database rejects a malformed DAG id"
expect_sql_error "UPDATE dag_versions SET max_active_runs = 0" 'dag_versions_max_active_runs_check' \
	"the database rejects a version with max_active_runs below 1"
expect_sql_error "UPDATE dag_versions SET max_active_tasks = 0" 'dag_versions_max_active_tasks_check' \
	"the database rejects a version with max_active_tasks below 1"
expect_sql_error "UPDATE dag_versions SET start_date = '2026-02-01', end_date = '2026-01-01'" \
	'dag_versions_dates_check' "the database rejects a version that ends before it starts"
run psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE attempts SET ended_at = now(), outcome = 'failed',
	exit_code = 1" -c "INSERT INTO attempts (ti_id, try_number) VALUES (1, 2)"
expect_status 0 "once the first attempt has ended, the next try is accepted"

# --- migration 0007 fills the columns of versions stored before it ------------
pg_newdb upgrade
for f in "$SRC_DIR"/migrations/000[1-6]_*.sql; do
	psql -X -q -v ON_ERROR_STOP=1 -1 -f "$f" || echo "# $f failed"
done
cat >"$TMP/up.yaml" <<'EOF'
dag: up
schedule: "30 2 * * *"
timezone: Europe/Paris
start_date: 2026-01-01T00:00:00Z
catchup: true
max_active_runs: 3
max_active_tasks: 7
tasks:
  a:
    command: "true"
EOF
cat >"$TMP/hand.yaml" <<'EOF'
dag: hand
tasks:
  a:
    command: "true"
EOF
# The definitions as a refresh before 0007 stored them.
"$SLUICE" dags show --json "$TMP/up.yaml" >"$TMP/up.json" || echo "# up.yaml does not load"
"$SLUICE" dags show --json "$TMP/hand.yaml" >"$TMP/hand.json" || echo "# hand.yaml does not load"
run psql -X -q -v ON_ERROR_STOP=1 -v up="$(cat "$TMP/up.json")" \
	-v hand="$(cat "$TMP/hand.json")" <<EOF
INSERT INTO schema_migrations (version, name) VALUES (1, 'initial'), (2, 'source_state'),
	(3, 'runs_state_idx'), (4, 'callbacks_reason'), (5, 'attempt_stop_pending'),
	(6, 'task_instances_in_flight_idx');
INSERT INTO dags (dag_id, paused) VALUES ('up', false), ('hand', false);
INSERT INTO dag_versions (dag_id, commit, blob_id, path, definition)
	VALUES ('up', '$C', '$C', 'up.yaml', :'up'), ('hand', '$C', '$C', 'hand.yaml', :'hand');
EOF
expect_status 0 "a database at migration 6 holds two DAG versions"
run "$SLUICE" db migrate
expect_status 0 "migrate applies 0007 to versions stored before it"
expect_sql "SELECT string_agg(concat_ws(' ', dag_id, coalesce(schedule, '-'), timezone,
	coalesce(to_char(start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-'),
	coalesce(end_date::text, '-'), catchup, max_active_runs, max_active_tasks), ','
	ORDER BY dag_id) FROM dag_versions" \
	"hand - UTC - - f 16 16,up 30 2 * * * Europe/Paris 2026-01-01 00:00 - t 3 7" \
	"0007 fills each version's columns from its definition"

# --- a migration that fails changes nothing -----------------------------------
pg_newdb occupied
pg_sql "CREATE TABLE workers (name text)"
run "$SLUICE" db init
expect_status 1 "init fails when a migration fails"
expect_grep "$TMP/err" '^sluice: migration 0001_initial.sql failed: relation "workers" already exists' \
	"the message names the migration and the server's reason"
expect_sql "SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('dags') IS NULL" "t" \
	"the failed migration left nothing behind (one transaction)"

pg_newdb guarded
pg_sql "CREATE ROLE lowly LOGIN"
run env SLUICE_DATABASE_URL="$SLUICE_DATABASE_URL user=lowly" "$SLUICE" db init
expect_status 1 "init without CREATE on the schema fails"
expect_grep "$TMP/err" "permission denied for schema public; the database role needs CREATE" \
	"and says which privilege is missing"

# --- a schema newer than this sluice -----------------------------------------
pg_newdb newer
run "$SLUICE" db init
pg_sql "INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')"
run "$SLUICE" db status
expect_status 1 "status on a newer schema exits 1"
expect_grep "$TMP/err" "schema is at version 9999, newer than this sluice knows ($N); upgrade sluice" \
	"status says the schema is newer and what to do"
expect_grep "$TMP/out" "9999 from_the_future .*unknown to this sluice" "status lists the unknown migration"
run "$SLUICE" db status --json
expect_status 1 "status --json on a newer schema exits 1"
run jq -e '.version == 9999 and .up_to_date == false and
	(.migrations | map(select(.known == false)) | length) == 1' "$TMP/out"
expect_status 0 "status --json shows the unknown migration"
run "$SLUICE" db migrate
expect_status 1 "migrate refuses a newer schema"
expect_grep "$TMP/err" "newer than this sluice knows" "migrate says why"
run "$SLUICE" db init
expect_status 1 "init refuses a newer schema"

# --- where the connection comes from -----------------------------------------
url=$SLUICE_DATABASE_URL
printf 'listen: 127.0.0.1:7411\ndatabase_url: "%s"\n' "$url" >"$TMP/sluice.yaml"
(unset SLUICE_DATABASE_URL PGDATABASE && "$SLUICE" --config "$TMP/sluice.yaml" db status \
	>"$TMP/out" 2>"$TMP/err")
status=$?
expect_status 1 "--config FILE: database_url is used (the newer database answers)"
expect_grep "$TMP/out" "^database: newer at" "--config FILE: the configured database"
(unset SLUICE_DATABASE_URL && "$SLUICE" db status --config "$TMP/missing.yaml" \
	>"$TMP/out" 2>"$TMP/err")
status=$?
expect_status 2 "a missing --config file is a usage error"
printf 'listen: 127.0.0.1:7411\n' >"$TMP/nodb.yaml"
(unset SLUICE_DATABASE_URL && PGDATABASE=fresh "$SLUICE" db status --config "$TMP/nodb.yaml" \
	>"$TMP/out" 2>"$TMP/err")
status=$?
expect_status 0 "without a URL, libpq's PG* variables are used"
expect_grep "$TMP/out" "^database: fresh at" "PGDATABASE names the database"
run env SLUICE_DATABASE_URL="postgresql:///fresh?host=$PG_DIR&user=postgres" "$SLUICE" db status
expect_status 0 "a postgresql:// URI works"
run env SLUICE_DATABASE_URL="host=$PG_DIR frobnicate=1" "$SLUICE" db status
expect_status 2 "a malformed connection string is a usage error"
expect_grep "$TMP/err" 'invalid connection string in SLUICE_DATABASE_URL: invalid connection option "frobnicate"' \
	"and says what is wrong"

run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=5432 dbname=x" "$SLUICE" db status
expect_status 4 "an unreachable database exits 4"
expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $TMP/nowhere:5432: No such file" \
	"the message names the socket folder and port"
run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=5432 dbname=x" "$SLUICE" db migrate
expect_status 4 "migrate against an unreachable database exits 4"

# --- concurrency and lost connections ---------------------------------------
# hold_lock SECONDS: another session takes the migration lock for SECONDS;
# $holder is its psql.
hold_lock() {
	psql -X -q -c "SELECT pg_advisory_lock($LOCK)" -c "SELECT pg_sleep($1)" \
		>/dev/null 2>&1 &
	holder=$!
	wait_for "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
}

# migrate_bg N: start `sluice db migrate` in the background; output in
# $TMP/mN.out and $TMP/mN.err, its pid in $mN.
migrate_bg() {
	"$SLUICE" db migrate >"$TMP/m$1.out" 2>"$TMP/m$1.err" &
	eval "m$1=\$!"
}

# waiting N: N sluice sessions of this database wait for a lock.
waiting() {
	wait_for "SELECT count(*) = $1 FROM pg_stat_activity WHERE application_name = 'sluice'
		AND wait_event_type = 'Lock' AND datname = current_database()"
}

# finish_bg N: wait for migrator N; its status and stderr become the last `run`.
finish_bg() {
	eval "wait \$m$1"
	status=$?
	cp "$TMP/m$1.err" "$TMP/err"
}

# Two migrators start while a third session holds the lock, so both are
# certainly waiting at once; both must succeed, applying 0001 once.
pg_newdb concurrent
hold_lock 1
migrate_bg 1
migrate_bg 2
waiting 2
ok $? "both migrators wait for the migration lock"
wait $holder
finish_bg 1
expect_status 0 "first of two concurrent 'db migrate' succeeds"
finish_bg 2
expect_status 0 "second of two concurrent 'db migrate' succeeds"
expect_sql "SELECT count(*) FROM schema_migrations" "$N" "each migration was applied once"
cat "$TMP/m1.out" "$TMP/m2.out" >"$TMP/both"
expect_grep "$TMP/both" "applied $N $MIGRATIONS" "one of them applied them"
expect_grep "$TMP/both" "is up to date" "the other found it applied"

# The server ends sluice's session while it waits for the lock: sluice
# reconnects and runs the migration transaction again.
pg_newdb reconnect
hold_lock 2
migrate_bg 1
waiting 1
expect_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'sluice'" "t" "sluice's session is terminated mid-command"
wait $holder
finish_bg 1
expect_status 0 "migrate reconnects after losing its session and succeeds"
expect_sql "SELECT count(*) FROM schema_migrations" "$N" "and each migration is applied once"

# The server stops while sluice waits: exit 4 and a clear message.
pg_newdb stopped
hold_lock 60
migrate_bg 1
waiting 1
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
finish_bg 1
wait $holder
expect_status 4 "the database stopped mid-command: exit 4"
expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $PG_DIR:5432: " \
	"the message says sluice cannot reach PostgreSQL, and where"

# --- nothing is left running --------------------------------------------------
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start >/dev/null 2>&1
dir=$PG_DIR
pg_running
ok $? "the server runs again before pg_stop"
pg_stop
[ ! -e "$dir" ] && ! pgrep -f "postgres -D $dir/data" >/dev/null 2>&1
ok $? "pg_stop stops the server and removes its folder"

done_testing
