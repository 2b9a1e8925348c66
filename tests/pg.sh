# A private PostgreSQL cluster for one test script. Source it after
# tests/cli/lib.sh, then:
#
#     pg_start            # initdb + start; unix socket only, in a temp dir
#     pg_newdb NAME       # a fresh database; exports SLUICE_DATABASE_URL, PG*
#     pg_restart [SECS]   # stop, stay down SECS, start again (same socket)
#     pg_stop             # stop (immediate) and remove everything
#
# pg_stop runs from the EXIT trap too, so a failing or interrupted test leaves
# nothing behind; a watchdog process stops the server even if the script is
# killed with SIGKILL (meson's timeout).
#
# PostgreSQL refuses to run as root: as root (CI), the server runs as the
# `postgres` user (else `nobody`), which owns the cluster directory; clients
# (psql, sluice) keep running as root and reach the socket, which is
# world-accessible inside a directory only the server user can write.
#
# Without PostgreSQL server binaries the script bails out (a failure, not a skip).

PG_DIR=
PG_BIN=
PG_PORT=5432
PG_USER=postgres
PG_RUNAS=
PG_WATCHDOG=

# pg_as CMD...: run a server-side command as the cluster's owner.
pg_as() {
	if [ -n "$PG_RUNAS" ]; then
		runuser -u "$PG_RUNAS" -- "$@"
	else
		"$@"
	fi
}

pg_find_bin() {
	# The newest installed major version.
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
		PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
	fi
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]
}

pg_start() {
	if ! pg_find_bin; then
		# A skip would let a machine without PostgreSQL pass every
		# database test; .ci/install-deps installs the server.
		echo "Bail out! no PostgreSQL server binaries (initdb, pg_ctl): install postgresql"
		exit 1
	fi
	if [ "$(id -u)" -eq 0 ]; then
		if id postgres >/dev/null 2>&1; then
			PG_RUNAS=postgres
		else
			PG_RUNAS=nobody
		fi
	fi
	# Not under $TMPDIR: a unix socket path must stay under ~100 bytes.
	PG_DIR=$(mktemp -d /tmp/sluice-pg.XXXXXX) || exit 1
	trap 'pg_stop; rm -rf "$TMP"' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chmod 755 "$PG_DIR"
	[ -z "$PG_RUNAS" ] || chown "$PG_RUNAS" "$PG_DIR"

	if ! pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" -A trust --no-sync \
		--locale=C -E UTF8 >"$TMP/initdb.log" 2>&1; then
		echo "# initdb failed:"
		sed 's/^/#   /' "$TMP/initdb.log"
		exit 1
	fi
	pg_as sh -c "cat >>'$PG_DIR/data/postgresql.conf'" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
unix_socket_permissions = 0777
port = $PG_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 30
shared_buffers = 16MB
log_min_messages = warning
EOF
	if ! pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		start >"$TMP/pg_ctl.log" 2>&1; then
		echo "# pg_ctl start failed:"
		sed 's/^/#   /' "$TMP/pg_ctl.log" "$PG_DIR/server.log"
		exit 1
	fi
	pg_watchdog $$
	export PGHOST="$PG_DIR" PGPORT="$PG_PORT" PGUSER="$PG_USER" PGDATABASE=postgres
	unset PGPASSWORD PGSERVICE PGOPTIONS PGHOSTADDR
}

# A detached process that stops the server once this script is gone, however
# it ended: the EXIT trap does not run on SIGKILL, and postgres, started by
# pg_ctl in its own session, would outlive the test.
pg_watchdog() {
	if command -v setsid >/dev/null 2>&1; then
		# shellcheck disable=SC2016 # expanded by the inner shell
		setsid sh -c '
			while kill -0 "$1" 2>/dev/null; do sleep 1; done
			if [ -d "$2/data" ]; then
				if [ -n "$4" ]; then
					runuser -u "$4" -- "$3/pg_ctl" -D "$2/data" -m immediate stop
				else
					"$3/pg_ctl" -D "$2/data" -m immediate stop
				fi
				rm -rf "$2"
			fi' pg-watchdog "$1" "$PG_DIR" "$PG_BIN" "$PG_RUNAS" \
			</dev/null >/dev/null 2>&1 &
		PG_WATCHDOG=$!
	fi
}

# pg_newdb NAME: create an empty database and make it the one that sluice
# (SLUICE_DATABASE_URL) and psql (PGDATABASE) use.
pg_newdb() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null || exit 1
	export PGDATABASE="$1"
	export SLUICE_DATABASE_URL="host=$PG_DIR port=$PG_PORT user=$PG_USER dbname=$1"
}

# pg_sql SQL...: run statements in the current database, output unaligned.
pg_sql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$*"
}

# pg_running: the server answers.
pg_running() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

# pg_restart [SECONDS]: stop the server (fast: clients see their sessions
# end), keep it down SECONDS (default 0), start it again on the same data
# directory and socket.
pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >"$TMP/pg_ctl.log" 2>&1 || {
		echo "# pg_ctl stop failed:"
		sed 's/^/#   /' "$TMP/pg_ctl.log"
		return 1
	}
	sleep "${1:-0}"
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		start >"$TMP/pg_ctl.log" 2>&1 || {
		echo "# pg_ctl start failed:"
		sed 's/^/#   /' "$TMP/pg_ctl.log" "$PG_DIR/server.log"
		return 1
	}
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	if [ -d "$PG_DIR/data" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
	if [ -n "$PG_WATCHDOG" ]; then
		kill "$PG_WATCHDOG" 2>/dev/null
		PG_WATCHDOG=
	fi
}
