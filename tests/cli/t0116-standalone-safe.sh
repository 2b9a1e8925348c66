#!/bin/sh
# sluice standalone's PostgreSQL belongs to the user who runs it: the
# socket folder is 0700, pg_hba.conf holds peer authentication only, for
# that one OS user, and the server runs with fsync on. Another local user
# can neither enter the folder nor connect, nor connect with the folder
# opened (peer authentication alone). A cluster made by an older sluice
# (trust, fsync off, a socket open to all; the attack shown working on it)
# is made so at its next start. A DAG still runs to success.
#
# The other-user checks need root (to act as nobody); without root they
# are reported as skipped.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/standalone.sh"
. "$TESTS_DIR/pg.sh"

pg_find_bin
# As sluice standalone does: root runs the server as postgres.
[ "$(id -u)" -ne 0 ] || PG_RUNAS=postgres
OTHER=nobody
ME=$(id -un)

# as_other CMD...: CMD as another local user, from a folder it may enter.
as_other() {
	(cd / && runuser -u "$OTHER" -- "$@")
}

# attack_as_other URL: the reported attack, a superuser's COPY ... TO
# PROGRAM as another user; the program would write $STATE/pg/pwned.
attack_as_other() {
	rm -f "$STATE/pg/pwned"
	run as_other psql -X -d "$1" -c "COPY (SELECT 1) TO PROGRAM 'id > $STATE/pg/pwned'"
}

# check_private WHAT: what holds of a new and of an upgraded cluster.
check_private() {
	owner=${PG_RUNAS:-$ME}
	expect_str "$(stat -c %a:%U "$STATE/pg")" "700:$owner" \
		"$1: the socket folder is 0700 and $owner's"
	grep -v '^[[:space:]]*#' "$STATE/pg/data/pg_hba.conf" | grep -qw trust
	ok $((! $?)) "$1: no trust line in pg_hba.conf"
	expect_str "$(grep -c '^fsync' "$STATE/pg/data/postgresql.conf")" 1 \
		"$1: postgresql.conf sets fsync once (an old block is replaced, not outvoted)"
	run psql -X -A -t -d "$URL" -c "SHOW fsync" -c "SHOW synchronous_commit" \
		-c "SHOW listen_addresses" -c "SHOW unix_socket_permissions" -c "SELECT current_user"
	expect_status 0 "$1: $ME, who runs standalone, connects"
	expect_file "$TMP/out" "on
on

0700
postgres" "$1: fsync and synchronous_commit on, no TCP listener, socket 0700"

	if [ "$(id -u)" -ne 0 ]; then
		skip 5 "acting as another local user needs root"
		return
	fi
	as_other ls "$STATE/pg" >/dev/null 2>&1
	ok $((! $?)) "$1: $OTHER cannot enter the socket folder"
	attack_as_other "$URL"
	[ "$status" -ne 0 ] && [ ! -e "$STATE/pg/pwned" ]
	ok $? "$1: $OTHER cannot connect (COPY TO PROGRAM refused)"
	[ "$status" -ne 0 ] || sed 's/^/#   /' "$TMP/out"

	# Peer authentication on its own: the folder and socket opened to all.
	chmod 755 "$STATE/pg"
	chmod 777 "$STATE/pg/.s.PGSQL.5432"
	attack_as_other "$URL"
	chmod 700 "$STATE/pg" "$STATE/pg/.s.PGSQL.5432"
	[ "$status" -ne 0 ] && [ ! -e "$STATE/pg/pwned" ]
	ok $? "$1: with the folder opened, $OTHER still cannot connect"
	expect_grep "$TMP/err" 'Peer authentication failed for user "postgres"' \
		"$1: refused by peer authentication"
	run psql -X -A -t -d "$URL" -c "SELECT 1"
	expect_status 0 "$1: $ME still connects"
}

# run_dag RUN_ID WHAT: the demo's path, a DAG triggered through standalone.
run_dag() {
	SLUICE_DATABASE_URL=$URL run timeout 60 "$SLUICE" trigger two --run-id "$1" --wait
	expect_status 0 "$2: trigger --wait through standalone: the run succeeds"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/out" "$STATE/scheduler.log" "$STATE/worker.log"
}

sa_repo

# --- a bad state folder: STATE/pg a symbolic link --------------------------
sa_state
mkdir "$STATE/elsewhere"
ln -s elsewhere "$STATE/pg"
run timeout 60 "$SLUICE" standalone --repo "$R" --path flows --state-dir "$STATE"
expect_status 1 "pg a symbolic link: exit 1"
expect_grep "$TMP/err" "$STATE/pg is a symbolic link: refusing" "with a message naming it"
[ -z "$(ls -A "$STATE/elsewhere")" ]
ok $? "and nothing is created behind it"

# --- a new cluster ---------------------------------------------------------
sa_state
sa_start 1
expect_grep "$TMP/sa1.err" "creating a PostgreSQL cluster" "new: initdb ran"
check_private new
run_dag r1 new
sa_stop 1

# --- a cluster made by an older sluice -------------------------------------
# Exactly what it made: initdb with trust, a socket folder 0755, and its
# block at the end of postgresql.conf.
sa_state
mkdir -m 755 "$STATE/pg"
[ -z "$PG_RUNAS" ] || chown "$PG_RUNAS" "$STATE/pg"
if ! pg_as "$PG_BIN/initdb" -D "$STATE/pg/data" -U postgres -A trust --no-sync --locale=C \
	-E UTF8 >"$TMP/initdb.log" 2>&1; then
	echo "Bail out! initdb failed"
	sed 's/^/#   /' "$TMP/initdb.log"
	exit 1
fi
pg_as sh -c "cat >>'$STATE/pg/data/postgresql.conf'" <<EOF

# sluice standalone
listen_addresses = ''
unix_socket_directories = '$STATE/pg'
unix_socket_permissions = 0777
port = 5432
fsync = off
synchronous_commit = off
EOF
OLD_URL="host=$STATE/pg port=5432 user=postgres dbname=postgres"
pg_as "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/server.log" -w -t 60 start \
	>"$TMP/pg_ctl.log" 2>&1
ok $? "old: the cluster starts as an older sluice started it"
psql -X -q -d "$OLD_URL" -c "CREATE DATABASE kept" >/dev/null
ok $? "old: a database made before the upgrade"
if [ "$(id -u)" -eq 0 ]; then
	attack_as_other "$OLD_URL"
	[ -e "$STATE/pg/pwned" ]
	ok $? "old: $OTHER runs a program as the server's user through it (the attack)"
else
	skip 1 "acting as another local user needs root"
fi
pg_as "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -m fast -w stop >"$TMP/pg_ctl.log" 2>&1

sa_start 2
grep -q "creating a PostgreSQL cluster" "$TMP/sa2.err"
ok $((! $?)) "old: the cluster is kept, not made again"
expect_grep "$TMP/sa2.err" "was open to other local users" "old: standalone says it was open"
check_private upgraded
run psql -X -A -t -d "$URL" -c "SELECT count(*) FROM pg_database WHERE datname = 'kept'"
expect_str "$(cat "$TMP/out")" 1 "upgraded: the database made before is still there"
run_dag r2 upgraded
sa_stop 2

done_testing
