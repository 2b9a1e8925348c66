# Helpers for the tests of `sluice standalone` (t0095, t0116). Source after
# lib.sh and daemons.sh; it bails out without PostgreSQL server binaries,
# points standalone at the build tree's daemons, forgets any database
# setting, and sets an EXIT trap that stops what the helpers started.
#
#   sa_repo                 a repository $R with flows/two.yaml (first, second)
#   sa_state                a new short state folder, in $STATE
#   sa_start N              standalone in the background (from $R/flows, the
#                           default --repo; --path flows --state-dir $STATE)
#                           until it is ready (it prints "Press Ctrl-C"); the
#                           URL of its export line in $URL, the port in $PORT,
#                           the web's URL and admin password in $WEB_URL and
#                           $WEB_PASSWORD,
#                           its stdout/stderr in $TMP/saN.out, $TMP/saN.err;
#                           SA_ARGS are added to its arguments
#   sa_stop N               SIGTERM: it exits 0 within 30 s, leaving nothing
#                           running from $STATE

# In the build tree the daemons are not next to `sluice`.
export SLUICE_SCHEDULER_BIN="$SLUICE_SCHEDULER" SLUICE_WORKER_BIN="$SLUICE_WORKER" \
	SLUICE_WEB_BIN="${SLUICE_WEB:?}"
unset SLUICE_DATABASE_URL SLUICE_CONFIG PGHOST PGPORT PGDATABASE PGUSER

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
	echo "Bail out! no PostgreSQL server binaries (initdb, pg_ctl): install postgresql"
	exit 1
fi

SAPID=
sa_states=

sa_cleanup() {
	if [ -n "$SAPID" ]; then
		kill -TERM "$SAPID" 2>/dev/null
		wait "$SAPID" 2>/dev/null
	fi
	for s in $sa_states; do
		if [ -f "$s/pg/data/postmaster.pid" ]; then
			pid=$(head -n 1 "$s/pg/data/postmaster.pid")
			[ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null
		fi
		# The worker's checkouts are read-only: without root, rm needs this.
		chmod -R u+w "$s" 2>/dev/null
		rm -rf "$s"
	done
	rm -rf "$TMP"
}
trap sa_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sa_repo() {
	R=$TMP/repo
	mkdir -p "$R/flows"
	cat >"$R/flows/two.yaml" <<YAML
schedule: null
tasks:
  first:
    command: echo one
  second:
    command: echo two
    depends_on: [first]
YAML
	git_repo "$R" || exit 1
}

# Not under $TMPDIR: a unix socket path must stay under ~100 bytes; and
# traversable by the postgres user when root.
sa_state() {
	STATE=$(mktemp -d /tmp/sluice-sa.XXXXXX) || exit 1
	chmod 755 "$STATE"
	sa_states="$sa_states $STATE"
}

sa_start() {
	# shellcheck disable=SC2086 # SA_ARGS is a list of words
	(cd "$R/flows" && exec "$SLUICE" standalone --path flows --state-dir "$STATE" ${SA_ARGS:-}) \
		>"$TMP/sa$1.out" 2>"$TMP/sa$1.err" &
	SAPID=$!
	wait_for "$TMP/sa$1.out" "^Press Ctrl-C" 60
	ok $? "standalone #$1 is ready and prints the export line"
	if [ -s "$TMP/sa$1.out" ]; then :; else
		sed 's/^/#   /' "$TMP/sa$1.err" "$STATE"/*.log 2>/dev/null
	fi
	URL=$(sed -n "s/^export SLUICE_DATABASE_URL='\(.*\)'$/\1/p" "$TMP/sa$1.out")
	PORT=$(sed -n 's/^sluice standalone: scheduler on 127.0.0.1:\([0-9]*\),.*/\1/p' "$TMP/sa$1.out")
	WEB_URL=$(sed -n 's/^Web UI and API on \(http:[^ ]*\) .*/\1/p' "$TMP/sa$1.out")
	WEB_PASSWORD=$(sed -n 's/.* sign in as admin with the password \([^ ]*\) .*/\1/p' "$TMP/sa$1.out")
}

sa_stop() {
	kill -TERM "$SAPID"
	wait_exit "$SAPID" 30
	expect_status 0 "SIGTERM: standalone #$1 exits 0"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$TMP/sa$1.err"
	SAPID=
	pgrep -f "$STATE" >/dev/null
	ok $((! $?)) "no postgres or sluice process is left from the state dir"
}
