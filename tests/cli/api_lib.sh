# Helpers for the tests of sluice-web's action routes (t0132, t0139).
# Source after lib.sh, pg.sh, seed.sh and daemons.sh, once $PORT is set.
#
#   api_start_web ROLE     start sluice-web ($TMP/w.yaml, log $TMP/w.log) on
#                          a free $PORT, connected as login role ROLE made a
#                          member of sluice_web, as docs/web.md advises
#                          deploying it: its grants must be enough
#   api_stop_web ROLE      check that it did connect as ROLE, and stop it
#   api_user NAME ROLE     create the user; prints a fresh token of theirs
#   req METHOD PATH [TOKEN] [BODY] [CONTENT-TYPE]
#                          send the request with curl; BODY is sent as is
#                          with CONTENT-TYPE (default application/json;
#                          "-" sends the body with no Content-Type at all).
#                          $TMP/status holds "STATUS CONTENT-TYPE",
#                          $TMP/headers the headers, $TMP/body the body
#   detail                 the problem's detail of the last answer
#   cli_sentence CMD...    run the CLI (it must fail); its last line of stderr
#                          without the "sluice[ COMMAND]: " prefix
#   audit_count WHERE      the number of audit rows matching the SQL condition
#   expect_same DESC       $TMP/a (the API's document) equals $TMP/c (the
#                          CLI's), both already normalised (jq -S)

api_start_web() {
	pg_sql "CREATE ROLE $1 LOGIN IN ROLE sluice_web" >/dev/null || exit 1
	PORT=$(free_port)
	printf 'web:\n  listen: 127.0.0.1:%s\n  database_url: "%s user=%s"\n' \
		"$PORT" "$SLUICE_DATABASE_URL" "$1" >"$TMP/w.yaml"
	start_daemon "$WEB" w
	wait_for "$TMP/w.log" "event=started" 30
	ok $? "sluice-web starts, as $1"
}

api_stop_web() {
	pg_sql "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = '$1'" >"$TMP/who"
	expect_grep "$TMP/who" '^t$' "sluice-web did all this connected as $1"
	stop_daemon w
	ok $? "sluice-web stops"
}

api_user() {
	printf 'a long enough password\n' | "$SLUICE" users add "$1" --role "$2" >/dev/null || return 1
	"$SLUICE" tokens create "$1" --json | jq -r .token
}

req() {
	rq_ct=${5:-application/json}
	set -- "$1" "$2" "${3-}" "${4-}"
	[ -n "$3" ] && rq_auth="Authorization: Bearer $3" || rq_auth="X-No-Auth: 1"
	if [ -n "$4" ]; then
		[ "$rq_ct" = - ] && rq_ct_header="Content-Type:" || rq_ct_header="Content-Type: $rq_ct"
		curl -sS -X "$1" -H "$rq_auth" -H "$rq_ct_header" --data-binary "$4" \
			-D "$TMP/headers" -o "$TMP/body" -w '%{http_code} %{content_type}\n' \
			"http://127.0.0.1:$PORT$2" >"$TMP/status"
	else
		curl -sS -X "$1" -H "$rq_auth" -D "$TMP/headers" -o "$TMP/body" \
			-w '%{http_code} %{content_type}\n' "http://127.0.0.1:$PORT$2" >"$TMP/status"
	fi
}

detail() {
	jq -r .detail "$TMP/body"
}

cli_sentence() {
	"$SLUICE" "$@" >/dev/null 2>"$TMP/cli.err" && return 1
	grep -v "^Try 'sluice" "$TMP/cli.err" | tail -n 1 | sed -E 's/^sluice( [a-z]+( [a-z]+)?)?: //'
}

audit_count() {
	pg_sql "SELECT count(*) FROM audit_log WHERE $1"
}

expect_same() {
	if cmp -s "$TMP/a" "$TMP/c"; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diff -u "$TMP/c" "$TMP/a" | sed 's/^/# /'
	fi
}
