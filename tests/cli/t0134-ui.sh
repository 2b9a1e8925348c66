#!/bin/sh
# The web UI (docs/web.md, "The UI"): its files are served at / and /ui/
# with the security headers, and a user drives it in headless Chromium by
# WebDriver (tests/ui/test_ui.py): a wrong password, an operator's and a
# viewer's DAG list, search, the runs strip, the load errors banner, the
# paused state, keyboard focus, 1280x720 and a phone's 390x844, sign-out.
# Screenshots go to the build folder's screenshots/ (or $TMP).
#
# Without Chromium, chromedriver or python3-selenium the browser part is
# skipped, unless CI is set: in CI it must run.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/browser.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db ui
for f in hello nightly_etl db_backup daily_report; do
	seed_dag "$SRC_DIR/dags-examples/$f.yaml" || exit 1
done
"$SLUICE" trigger hello --run-id h1 --logical-date 2026-03-02T00:00:00Z >/dev/null || exit 1
pg_sql "UPDATE runs SET state = 'success', started_at = now() - interval '1 minute', ended_at = now() WHERE run_id = 'h1'" >/dev/null
pg_sql "UPDATE task_instances SET state = 'success', try_number = 1, started_at = now() - interval '50 seconds', ended_at = now() - interval '40 seconds' WHERE run_pk = (SELECT run_pk FROM runs WHERE run_id = 'h1')" >/dev/null
# Run f1: greet failed on its first try, with a log (the task page).
"$SLUICE" trigger hello --run-id f1 --logical-date 2026-03-01T00:00:00Z >/dev/null || exit 1
pg_sql "UPDATE task_instances SET state = 'failed', try_number = 1, started_at = now() - interval '30 seconds', ended_at = now() - interval '20 seconds' WHERE task_id = 'greet' AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'f1')" >/dev/null
pg_sql "INSERT INTO attempts (ti_id, try_number, worker_id, started_at, ended_at, outcome, exit_code) SELECT ti_id, 1, 'w1', started_at, ended_at, 'failed', 3 FROM task_instances WHERE task_id = 'greet' AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'f1')" >/dev/null
pg_sql "INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 0, convert_to(E'starting\\nlast line: boom\\n', 'UTF8') FROM attempts WHERE worker_id = 'w1'" >/dev/null
# hello's second version (its runs above pin the first), and both files'
# text, for the DAG file card and its diff.
mkdir -p "$TMP/v2"
sed 's/echo "hello, /echo "good morning, /' "$SRC_DIR/dags-examples/hello.yaml" >"$TMP/v2/hello.yaml"
seed_dag "$TMP/v2/hello.yaml" 000000000000000000000000000000000000000a || exit 1
set_source() {
	psql -X -q -v ON_ERROR_STOP=1 -v commit="$1" -v file="$2" <<'SQL' || exit 1
\set text `cat :file`
UPDATE dag_versions SET source = :'text' WHERE dag_id = 'hello' AND commit = :'commit';
SQL
}
set_source 0000000000000000000000000000000000000001 "$SRC_DIR/dags-examples/hello.yaml"
set_source 000000000000000000000000000000000000000a "$TMP/v2/hello.yaml"
"$SLUICE" dags pause nightly_etl >/dev/null || exit 1
# daily_report does not load at the current commit.
pg_sql "INSERT INTO source_state (repo, path, commit) VALUES ('/srv/dags', '', '0000000000000000000000000000000000000002')" >/dev/null
pg_sql "INSERT INTO load_errors (commit, path, dag_id, line, col, message) VALUES ('0000000000000000000000000000000000000002', 'daily_report.yaml', 'daily_report', 3, 1, 'unknown key')" >/dev/null
printf 'an operator password\n' | "$SLUICE" users add olga --role operator >/dev/null || exit 1
printf 'a viewer password\n' | "$SLUICE" users add vera --role viewer >/dev/null || exit 1

PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$PORT" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"

# --- the files and their headers --------------------------------------------------------
fetch() { curl -sS -X "$1" -D "$TMP/h" -o "$TMP/b" -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$PORT$2" | tr -d '\r'; }
expect_str "$(fetch GET /)" "200 text/html; charset=utf-8" "GET /: the page"
grep -q '<script type="module" src="/ui/app.js"></script>' "$TMP/b"
ok $? "... which loads the UI as an ES module"
! grep -q '<script>\|<script type="module">\| on[a-z]*=' "$TMP/b"
ok $? "... with no inline script or handler"
tr -d '\r' <"$TMP/h" >"$TMP/hh"
expect_grep "$TMP/hh" "^content-security-policy: default-src 'self'; script-src 'self'; .*frame-ancestors 'none'$" \
	"Content-Security-Policy: only this origin, no framing"
expect_grep "$TMP/hh" '^x-content-type-options: nosniff$' "X-Content-Type-Options: nosniff"
expect_grep "$TMP/hh" '^referrer-policy: no-referrer$' "Referrer-Policy: no-referrer"
expect_grep "$TMP/hh" '^x-frame-options: DENY$' "X-Frame-Options: DENY"
expect_str "$(fetch GET /ui/app.js)" "200 text/javascript; charset=utf-8" "GET /ui/app.js: JavaScript"
expect_str "$(fetch GET /ui/app.css)" "200 text/css; charset=utf-8" "GET /ui/app.css: CSS"
expect_str "$(fetch GET /ui/sluice.svg)" "200 image/svg+xml" "GET /ui/sluice.svg: SVG"
expect_str "$(fetch HEAD /ui/app.js)" "200 text/javascript; charset=utf-8" "HEAD works too"
expect_str "$(fetch GET /ui/nope.js)" "404 application/problem+json" "an unknown file: 404"
expect_str "$(fetch GET /ui/../api/v1/dags)" "401 application/problem+json" "a path with .. is not a file (h2o normalises it)"
expect_str "$(fetch POST /ui/app.js)" "405 application/problem+json" "POST to a file: 405"
expect_str "$(fetch GET /index.html)" "404 application/problem+json" "the page is at / only"
# Every file of the UI, whether the first page imports it or not: an upper bound.
BYTES=$(for f in / $(cd "$SRC_DIR/web/ui" && ls | grep -v '\.py$\|^index\.html$' | sed 's|^|/ui/|'); do
	curl -sS "http://127.0.0.1:$PORT$f"; done | wc -c)
echo "# first load: $BYTES bytes"
[ "$BYTES" -le 204800 ]
ok $? "the first load is at most 200 KB ($BYTES bytes)"

# --- in a browser -----------------------------------------------------------------------
if [ -n "$BROWSER" ]; then
	skip 1 "$BROWSER"
	stop_daemon w
	done_testing
	exit
fi
browser_run test_ui.py "http://127.0.0.1:$PORT"
pg_sql "SELECT actor || ' ' || action FROM audit_log WHERE via = 'web' ORDER BY audit_id" >"$TMP/audit"
expect_grep "$TMP/audit" '^olga login failed$' "the audit log has the wrong password"
expect_grep "$TMP/audit" '^vera logout$' "and the viewer's sign-out"
stop_daemon w
ok $? "sluice-web stops"
done_testing
