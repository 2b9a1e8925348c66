#!/bin/sh
# The API's bearer tokens and its first read route (docs/web.md,
# "Authentication"): /api/v1/* refuses a request without a token, with a
# malformed, unknown or revoked one (401, WWW-Authenticate: Bearer,
# problem+json), and answers a viewer's token; /health and
# /api/v1/version stay open; a token's last_used_at is written at most
# once a minute; GET /api/v1/dags is `sluice dags list --json`'s document.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db api
seed_dag "$SRC_DIR/dags-examples/nightly_etl.yaml" || exit 1
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
"$SLUICE" trigger hello --run-id h1 --logical-date 2026-03-02T00:00:00Z >/dev/null || exit 1
"$SLUICE" dags pause nightly_etl >/dev/null || exit 1

printf 'a viewer password\n' >"$TMP/pw"
"$SLUICE" users add vera --role viewer <"$TMP/pw" >/dev/null || exit 1
VIEWER=$("$SLUICE" tokens create vera --json | jq -r .token)
REVOKED_JSON=$("$SLUICE" tokens create vera --json)
REVOKED=$(printf '%s' "$REVOKED_JSON" | jq -r .token)
"$SLUICE" tokens revoke "$(printf '%s' "$REVOKED_JSON" | jq -r .id)" >/dev/null || exit 1

# get PATH [AUTHORIZATION]: "STATUS CONTENT-TYPE" then "WWW-Authenticate: ..."
# on the first two lines of $TMP/out, the body after.
get() {
	python3 - "$PORT" "$1" "${2-}" >"$TMP/out" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]))
if sys.argv[3]:
    req.add_header("Authorization", sys.argv[3])
try:
    r = urllib.request.urlopen(req, timeout=20)
except urllib.error.HTTPError as e:
    r = e
print(r.status, r.headers.get("Content-Type"))
print("WWW-Authenticate:", r.headers.get("WWW-Authenticate"))
print(r.read().decode())
PY
}
body() { tail -n +3 "$TMP/out" >"$TMP/body"; }

PORT=$(free_port)
cat >"$TMP/w.yaml" <<YAML
web:
  listen: 127.0.0.1:$PORT
YAML
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"

# --- what needs no token ----------------------------------------------------------
get /health
expect_grep "$TMP/out" '^200 ' "/health: no token needed"
get /api/v1/version
expect_grep "$TMP/out" '^200 ' "/api/v1/version: no token needed"

# --- refused ------------------------------------------------------------------------
get /api/v1/dags
expect_grep "$TMP/out" '^401 application/problem+json' "no token: 401 problem+json"
expect_grep "$TMP/out" '^WWW-Authenticate: Bearer realm="sluice"$' "no token: WWW-Authenticate: Bearer"
body
expect_jq "$TMP/body" '.status == 401 and .title == "Unauthorized" and (.detail | test("Authorization: Bearer"))' \
	"no token: the problem says what to send"
get /api/v1/dags "Basic dmVyYTphIHZpZXdlciBwYXNzd29yZA=="
expect_grep "$TMP/out" '^401 ' "another scheme (Basic): 401"
get /api/v1/dags "Bearer"
expect_grep "$TMP/out" '^401 ' "the scheme without a token: 401"
get /api/v1/dags "Bearer not-a-token"
expect_grep "$TMP/out" '^401 application/problem+json' "a malformed token: 401"
expect_grep "$TMP/out" 'error="invalid_token"' "a malformed token: invalid_token"
# Well formed, the right length, never issued.
FORGED=$(printf '%s' "$VIEWER" | sed 's/.$/A/;t')
[ "$FORGED" = "$VIEWER" ] && FORGED=$(printf '%s' "$VIEWER" | sed 's/.$/B/')
get /api/v1/dags "Bearer $FORGED"
expect_grep "$TMP/out" '^401 ' "an unknown token of the right shape: 401"
body
expect_jq "$TMP/body" '.detail == "the API token is unknown or revoked"' "an unknown token: the problem says so"
get /api/v1/dags "Bearer $REVOKED"
expect_grep "$TMP/out" '^401 ' "a revoked token: 401"
expect_grep "$TMP/w.log" 'event=auth_refused reason=revoked' "the log tells a revoked token apart"
get /api/v1/nope
expect_grep "$TMP/out" '^401 ' "an unknown /api/v1 path without a token: 401, not 404"
pg_sql "SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL" >"$TMP/used"
expect_grep "$TMP/used" '^0$' "no refused request marked a token used"

# --- a viewer's token ----------------------------------------------------------------
get /api/v1/dags "Bearer $VIEWER"
expect_grep "$TMP/out" '^200 application/json' "a viewer's token: 200 JSON"
body
"$SLUICE" dags list --json >"$TMP/cli.json" || exit 1
jq -S . "$TMP/body" >"$TMP/api.sorted" && jq -S . "$TMP/cli.json" >"$TMP/cli.sorted"
cmp -s "$TMP/api.sorted" "$TMP/cli.sorted"
ok $? "GET /api/v1/dags is sluice dags list --json"
expect_jq "$TMP/body" 'length == 2 and (map(.dag) | sort) == ["hello", "nightly_etl"]' \
	"the document lists both DAGs"
expect_jq "$TMP/body" '(.[] | select(.dag == "hello") | .last_run.run_id) == "h1" and (.[] | select(.dag == "nightly_etl") | .paused)' \
	"with the last run and the paused flag"
get /api/v1/dags "bearer $VIEWER"
expect_grep "$TMP/out" '^200 ' "the scheme's name is case-insensitive"
get /api/v1/nope "Bearer $VIEWER"
expect_grep "$TMP/out" '^404 application/problem+json' "an unknown path with a token: 404"

# --- last_used_at, at most once a minute ---------------------------------------------
USED="SELECT extract(epoch FROM last_used_at) FROM api_tokens WHERE token_id = 1"
pg_sql "$USED" >"$TMP/used1"
[ -s "$TMP/used1" ] && ! grep -q '^$' "$TMP/used1"
ok $? "the viewer's token is marked used"
get /api/v1/dags "Bearer $VIEWER"
pg_sql "$USED" >"$TMP/used2"
cmp -s "$TMP/used1" "$TMP/used2"
ok $? "a second use within the minute does not write last_used_at again"
pg_sql "UPDATE api_tokens SET last_used_at = now() - interval '61 seconds' WHERE token_id = 1" >/dev/null
get /api/v1/dags "Bearer $VIEWER"
pg_sql "SELECT last_used_at > now() - interval '30 seconds' FROM api_tokens WHERE token_id = 1" >"$TMP/used3"
expect_grep "$TMP/used3" '^t$' "a use a minute later writes it again"
pg_sql "SELECT last_used_at IS NULL FROM api_tokens WHERE token_id = 2" >"$TMP/used4"
expect_grep "$TMP/used4" '^t$' "the revoked token is never marked used"

# --- a slow query holds a thread, not the loop ----------------------------------------
# A transaction holds dags locked: GET /api/v1/dags waits on it inside
# PostgreSQL. Meanwhile routes that do not read dags must still answer.
PGAPPNAME=locker psql -X -q -c "BEGIN; LOCK TABLE dags IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" \
	>/dev/null 2>&1 &
LOCKER=$!
wait_sql "SELECT (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'locker' AND l.mode = 'AccessExclusiveLock' AND l.granted) = 1" 30
(get /api/v1/dags "Bearer $VIEWER" && mv "$TMP/out" "$TMP/slow.out") &
SLOW=$!
wait_sql "SELECT (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name <> 'locker') = 1" 30
python3 - "$PORT" >"$TMP/fast.out" <<'PY'
import sys, urllib.request
for path in ("/api/v1/version", "/health"):
    print(path, urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], path), timeout=20).status)
PY
expect_grep "$TMP/fast.out" '^/api/v1/version 200$' "a request that does not need the locked table answers meanwhile"
expect_grep "$TMP/fast.out" '^/health 200$' "and so does /health (another connection of the pool)"
kill -0 "$SLOW" 2>/dev/null
ok $? "while GET /api/v1/dags is still waiting on its lock"
pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'" >/dev/null
wait "$LOCKER" 2>/dev/null
wait "$SLOW"
expect_grep "$TMP/slow.out" '^200 application/json' "the slow request is answered once the lock is gone"

stop_daemon w
ok $? "sluice-web stops"
done_testing
