#!/bin/sh
# `sluice pools list | set | delete`, `sluice workers list` and `sluice status`
# against a private PostgreSQL, with task instances, workers and the
# scheduler's lease put there by psql.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"

cd "$SRC_DIR" || exit 1
C1=0000000000000000000000000000000000000001

for cmd in "pools list" "pools set" "pools delete" "workers list" "status"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done

pg_start
pg_newdb pools
run "$SLUICE" db init
expect_status 0 "db init"

# --- pools ---------------------------------------------------------------------
run "$SLUICE" pools list
expect_status 0 "pools list with no pool exits 0"
expect_file "$TMP/out" "POOL  SLOTS  USED  QUEUED  OPEN  DESCRIPTION" "and prints only the header"
run "$SLUICE" pools list --json
expect_file "$TMP/out" "[]" "pools list --json with no pool is []"

run "$SLUICE" pools set warehouse 2 --description "the data warehouse"
expect_status 0 "pools set creates a pool"
expect_file "$TMP/out" "pool warehouse: 2 slots" "and says so"
run pg_sql "SELECT name, slots, description FROM pools"
expect_file "$TMP/out" "warehouse|2|the data warehouse" "the pool is in the database"
run "$SLUICE" pools set warehouse 3
expect_status 0 "pools set changes the slots of a pool"
run "$SLUICE" pools set warehouse 3
expect_status 0 "setting the same value again is not an error"
run pg_sql "SELECT name, slots, description FROM pools"
expect_file "$TMP/out" "warehouse|3|the data warehouse" \
	"slots changed, description kept without --description"
run "$SLUICE" pools set empty 0 --json
expect_status 0 "a pool of 0 slots is allowed"
expect_file "$TMP/out" '{
  "pool": "empty",
  "defined": true,
  "slots": 0,
  "used": 0,
  "queued": 0,
  "open": 0,
  "description": ""
}' "pools set --json prints the pool"

run "$SLUICE" pools set 'bad name' 2
expect_status 2 "a bad pool name is a usage error"
expect_grep "$TMP/err" "'bad name' is not a valid pool name" "and says so"
run "$SLUICE" pools set warehouse -1
expect_status 2 "negative slots are a usage error"
run "$SLUICE" pools set warehouse many
expect_status 2 "slots that are not a number are a usage error"
expect_grep "$TMP/err" "SLOTS: expected an integer from 0 to" "and says what is expected"
run "$SLUICE" pools set warehouse
expect_status 2 "pools set without SLOTS is a usage error"
run "$SLUICE" pools set warehouse 1 2
expect_status 2 "pools set with an extra argument is a usage error"
run pg_sql "SELECT slots FROM pools WHERE name = 'warehouse'"
expect_file "$TMP/out" "3" "bad input changed nothing"

# Task instances of pools in every state: queued and running use a slot,
# scheduled ones wait; finished ones and those without a pool do not count.
seed_dag dags-examples/nightly_etl.yaml
vid=$(pg_sql "SELECT latest_version_id FROM dags WHERE dag_id = 'nightly_etl'")
run psql -X -q -v ON_ERROR_STOP=1 <<EOF
INSERT INTO runs (dag_id, run_id, version_id, commit, run_type, logical_date,
	data_interval_start, data_interval_end, state, started_at)
	VALUES ('nightly_etl', 'manual__1', $vid, '$C1', 'manual', '2026-01-01', '2026-01-01',
	'2026-01-01', 'running', now() - interval '192 seconds');
INSERT INTO task_instances (run_pk, task_id, max_tries, state, pool, queue) VALUES
	(1, 'a', 1, 'running', 'warehouse', 'default'),
	(1, 'b', 1, 'queued', 'warehouse', 'default'),
	(1, 'c', 1, 'scheduled', 'warehouse', 'default'),
	(1, 'd', 1, 'scheduled', 'warehouse', 'default'),
	(1, 'e', 1, 'success', 'warehouse', 'default'),
	(1, 'f', 1, 'running', 'gpu', 'gpu'),
	(1, 'g', 1, 'scheduled', NULL, 'nobody'),
	(1, 'h', 1, 'pending', 'warehouse', 'default');
EOF
expect_status 0 "a run and its task instances are inserted"
run "$SLUICE" pools list
expect_status 0 "pools list exits 0"
expect_file "$TMP/out" "POOL       SLOTS  USED  QUEUED  OPEN  DESCRIPTION
empty          0     0       0     0
gpu            0     1       0    -1  (undefined: no slots until 'sluice pools set')
warehouse      3     2       2     1  the data warehouse" \
	"pools list: used, queued and open per pool, and a pool tasks name but nobody set"
run "$SLUICE" pools list --json
expect_jq "$TMP/out" '. == [
	{"pool":"empty","defined":true,"slots":0,"used":0,"queued":0,"open":0,"description":""},
	{"pool":"gpu","defined":false,"slots":0,"used":1,"queued":0,"open":-1,"description":""},
	{"pool":"warehouse","defined":true,"slots":3,"used":2,"queued":2,"open":1,
	 "description":"the data warehouse"}]' "pools list --json"

run "$SLUICE" pools delete empty
expect_status 0 "pools delete exits 0"
expect_file "$TMP/out" "pool empty deleted" "and says so"
run "$SLUICE" pools delete empty
expect_status 3 "deleting an unknown pool exits 3"
expect_grep "$TMP/err" "no pool 'empty'" "and says so"
run "$SLUICE" pools delete 'bad name'
expect_status 2 "pools delete of a bad name is a usage error"
run "$SLUICE" pools delete gpu
expect_status 3 "an undefined pool cannot be deleted (exit 3)"
run "$SLUICE" pools delete warehouse --json
expect_file "$TMP/out" '{
  "pool": "warehouse",
  "deleted": true
}' "pools delete --json"
run "$SLUICE" pools list --json
expect_jq "$TMP/out" 'map(.pool) == ["gpu","warehouse"] and
	(.[1] | .defined == false and .slots == 0 and .used == 2 and .queued == 2)' \
	"a deleted pool that tasks still name is listed as undefined"

# --- workers -------------------------------------------------------------------
run "$SLUICE" workers list
expect_status 0 "workers list with no worker exits 0"
expect_file "$TMP/out" "WORKER  HOST  QUEUES  SLOTS  RUNNING  STATE  HEARTBEAT  CREDENTIAL
queue default: 2 tasks waiting, no live worker serves it
queue nobody: 1 task waiting, no live worker serves it" \
	"prints the header, then each queue whose tasks wait for a worker"
run psql -X -q -v ON_ERROR_STOP=1 <<EOF
INSERT INTO workers (worker_id, host, queues, slots, state, version, started_at,
	last_heartbeat_at) VALUES
	('w1', 'host-1', '{default,gpu}', 4, 'active', '0.1.0', now() - interval '1 hour', now()),
	('w2', 'host-2', '{default}', 2, 'gone', NULL, now() - interval '2 hours',
	 now() - interval '1 hour'),
	('w3', 'host-3', '{legacy}', 1, 'active', NULL, now() - interval '1 hour',
	 now() - interval '10 minutes');
INSERT INTO worker_credentials (worker_id, sha256) VALUES ('w1', sha256('x'));
INSERT INTO worker_credentials (worker_id, revoked_at) VALUES ('w2', now());
INSERT INTO attempts (ti_id, try_number, worker_id, started_at) VALUES (1, 1, 'w1', now());
INSERT INTO attempts (ti_id, try_number, worker_id, started_at) VALUES (6, 1, 'w1', now());
INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code)
	VALUES (5, 1, 'w1', now(), now(), 'success', 0);
EOF
expect_status 0 "workers and attempts are inserted"
run "$SLUICE" workers list
expect_status 0 "workers list exits 0"
expect_grep "$TMP/out" '^WORKER  HOST    QUEUES       SLOTS  RUNNING  STATE           HEARTBEAT  *CREDENTIAL$' "header"
expect_grep "$TMP/out" '^w1      host-1  default,gpu      4        2  active          [0-9]s ago  *own$' \
	"a live worker: queues, slots, live attempts, heartbeat age, its own credential"
expect_grep "$TMP/out" '^w2      host-2  default          2        0  gone            1h ago  *revoked$' \
	"a gone worker, revoked"
expect_grep "$TMP/out" '^w3      host-3  legacy           1        0  active (stale)  10m[0-9]*s* ago  *shared$' \
	"an active worker without a recent heartbeat is stale; it has no credential"
run "$SLUICE" workers list --json
expect_jq "$TMP/out" 'map(.worker) == ["w1","w2","w3"] and
	(.[0] | .host == "host-1" and .queues == ["default","gpu"] and .slots == 4 and
	 .running == 2 and .state == "active" and .stale == false and .version == "0.1.0" and
	 (.heartbeat_age_seconds | . >= 0 and . < 10) and
	 (.last_heartbeat_at | test("^20[0-9-]+T[0-9:]+Z$")) and (.started_at | test("Z$"))) and
	(.[1] | .state == "gone" and .stale == false and .version == null and
	 .heartbeat_age_seconds >= 3600) and
	(.[2] | .stale == true) and map(.credential) == ["own", "revoked", "shared"]' \
	"workers list --json"

# --- status --------------------------------------------------------------------
run "$SLUICE" status
expect_status 0 "status exits 0 without a scheduler"
expect_grep "$TMP/out" "^scheduler: no scheduler (no lease was ever taken)$" "no lease: no scheduler"
expect_grep "$TMP/out" "^source:    not read yet" "no source commit yet"
expect_grep "$TMP/out" "^workers:   2 active, 0 draining, 1 gone (1 stale" "worker counts"
expect_grep "$TMP/out" "^  QUEUE  *SCHEDULED  *QUEUED  *SERVED$" "a queue table"
expect_grep "$TMP/out" "^  default  *2  *1  *yes$" "queue default: depth, served by w1"
expect_grep "$TMP/out" "^  gpu  *0  *0  *yes$" "queue gpu: served, nothing waiting"
expect_grep "$TMP/out" "^  nobody  *1  *0  *NO: no live worker$" "a queue no live worker serves"
if grep -q legacy "$TMP/out"; then ok 1 "a stale worker's queue is not live"; else
	ok 0 "a stale worker's queue is not live"; fi
expect_grep "$TMP/out" "^runs:      1 running, 0 queued$" "run counts"
expect_grep "$TMP/out" "^  nightly_etl manual__1, running for 3m[1-5][0-9]s$" "the running run"
run "$SLUICE" status --json
expect_jq "$TMP/out" '.scheduler == {"alive":false,"holder":null,"epoch":null,"commit":null,
	"acquired_at":null,"heartbeat_at":null,"heartbeat_age_seconds":null,"expires_at":null} and
	.source.commit == null and
	.workers == {"active":2,"draining":0,"gone":1,"stale":1} and
	.queues == [{"queue":"default","scheduled":2,"queued":1,"served":true},
	            {"queue":"gpu","scheduled":0,"queued":0,"served":true},
	            {"queue":"nobody","scheduled":1,"queued":0,"served":false}] and
	.runs.running == 1 and .runs.queued == 0 and
	.runs.running_runs[0].dag == "nightly_etl" and .runs.running_runs[0].run_id == "manual__1"' \
	"status --json without a scheduler"

pg_sql "INSERT INTO scheduler_lease (holder, epoch, commit, expires_at)
	VALUES ('sched-a:4242', 3, '$C1', now() + interval '30 seconds')"
pg_sql "INSERT INTO source_state (repo, branch, path, commit, refreshed_at)
	VALUES ('/srv/dags.git', 'main', 'dags', '$C1', now() - interval '5 seconds')"
run "$SLUICE" status
expect_grep "$TMP/out" "^scheduler: sched-a:4242 (epoch 3), heartbeat [0-9]s ago, commit 0000000$" \
	"a live lease: the leader, its epoch, heartbeat age and commit"
expect_grep "$TMP/out" "^source:    commit 0000000 of /srv/dags.git (main), refreshed [5-9]s ago$" \
	"the source's current commit"
run "$SLUICE" status --json
expect_jq "$TMP/out" '(.scheduler | .alive == true and .holder == "sched-a:4242" and
	.epoch == 3 and .commit == "0000000000000000000000000000000000000001" and
	.heartbeat_age_seconds < 10 and (.expires_at | test("Z$"))) and
	.source == (.source | {commit: "0000000000000000000000000000000000000001",
	  repo: "/srv/dags.git", branch: "main", path: "dags", refreshed_at})' \
	"status --json with a live scheduler"

pg_sql "UPDATE scheduler_lease SET acquired_at = now() - interval '3 minutes',
	heartbeat_at = now() - interval '2 minutes', expires_at = now() - interval '1 minute'"
run "$SLUICE" status
expect_status 0 "status exits 0 with an expired lease"
expect_grep "$TMP/out" "^scheduler: no scheduler (the lease of sched-a:4242 expired 1m[0-9]*s* ago)$" \
	"an expired lease: no scheduler, and whose lease expired when"
run "$SLUICE" status --json
expect_jq "$TMP/out" '.scheduler | .alive == false and .holder == "sched-a:4242" and
	.heartbeat_age_seconds >= 120' "status --json with an expired lease"

printf 'heartbeat_timeout: 1h\n' >"$TMP/sluice.yaml"
run "$SLUICE" status --config "$TMP/sluice.yaml" --json
expect_jq "$TMP/out" '.workers.stale == 0 and (.queues | map(.queue) | index("legacy") != null)' \
	"heartbeat_timeout comes from the configuration file"
printf 'heartbeat_timeout: soon\n' >"$TMP/bad.yaml"
run "$SLUICE" status --config "$TMP/bad.yaml"
expect_status 2 "status with an invalid configuration file exits 2"

# --- the database is gone ----------------------------------------------------
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
for cmd in "pools list" "pools set p 1" "pools delete p" "workers list" "status"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd
	expect_status 4 "$cmd with the database stopped exits 4"
	expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $PG_DIR:5432: " \
		"$cmd says it cannot reach PostgreSQL, and where"
done
run "$SLUICE" pools set p -1
expect_status 2 "bad slots are a usage error even with the database stopped"

done_testing
