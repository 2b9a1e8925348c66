#!/bin/sh
# The UI's other pages (docs/web.md, "The UI"): GET /api/v1/load-errors is
# `sluice dags errors --json`'s document; then, in headless Chromium
# (tests/ui/test_pages.py), a run's page and its Gantt, the pools (an
# admin sets and deletes one through the form; a viewer sees no form),
# workers and queues, the audit log (admins only) and the load errors,
# at 1280x720 and 390x844. Screenshots go to the build folder's
# screenshots/ (or $TMP).
#
# Without Chromium, chromedriver or python3-selenium the browser part is
# skipped, unless CI is set: in CI it must run.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/api_lib.sh"
. "$TESTS_DIR/cli/browser.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db pages
for f in hello daily_report; do
	seed_dag "$SRC_DIR/dags-examples/$f.yaml" || exit 1
done
# Run g1 of hello: greet succeeded, count failed on its second try, done
# runs (the Gantt's three bars).
"$SLUICE" trigger hello --run-id g1 --logical-date 2026-03-02T00:00:00Z >/dev/null || exit 1
g1="run_pk = (SELECT run_pk FROM runs WHERE run_id = 'g1')"
pg_sql "UPDATE runs SET state = 'running', started_at = now() - interval '70 seconds' WHERE run_id = 'g1'" >/dev/null
pg_sql "UPDATE task_instances SET state = 'success', try_number = 1, started_at = now() - interval '60 seconds', ended_at = now() - interval '45 seconds' WHERE task_id = 'greet' AND $g1" >/dev/null
pg_sql "UPDATE task_instances SET state = 'failed', try_number = 2, started_at = now() - interval '40 seconds', ended_at = now() - interval '20 seconds' WHERE task_id = 'count' AND $g1" >/dev/null
pg_sql "UPDATE task_instances SET state = 'running', try_number = 1, started_at = now() - interval '15 seconds' WHERE task_id = 'done' AND $g1" >/dev/null
# Two workers' rows as they write them: one beating, one silent for an hour.
pg_sql "INSERT INTO workers (worker_id, host, queues, slots, version) VALUES ('w-alpha', 'host-a', '{default,gpu}', 4, '0.1.0')" >/dev/null
pg_sql "INSERT INTO workers (worker_id, host, queues, slots, version, last_heartbeat_at) VALUES ('w-old', 'host-b', '{default}', 2, '0.1.0', now() - interval '1 hour')" >/dev/null
# 60 older audit rows: the audit page's first page is 50.
pg_sql "INSERT INTO audit_log (at, actor, via, action, target) SELECT now() - interval '1 day' - n * interval '1 minute', 'root', 'cli', 'dags pause', 'old' || n FROM generate_series(1, 60) n" >/dev/null
VIEWER=$(api_user vera viewer) || exit 1
api_user ada admin >/dev/null || exit 1

api_start_web webpages
# What 0018 grants sluice-web of the workers' credentials: whether each has
# one and whether it is revoked, never the secret's hash.
psql -X -q -d "$SLUICE_DATABASE_URL user=webpages" -c "SELECT sha256 FROM worker_credentials" \
	>"$TMP/hash" 2>&1
expect_grep "$TMP/hash" 'permission denied' "sluice-web's role cannot read a worker's secret's hash"
psql -X -q -d "$SLUICE_DATABASE_URL user=webpages" -c "SELECT worker_id, revoked_at FROM worker_credentials" \
	>"$TMP/state" 2>&1
ok $? "but reads whether a worker has a credential and whether it is revoked"

# --- GET /api/v1/load-errors ------------------------------------------------------------
req GET /api/v1/load-errors
expect_grep "$TMP/status" '^401 ' "GET /api/v1/load-errors without a token: 401"
req GET /api/v1/load-errors "$VIEWER"
expect_grep "$TMP/status" '^200 application/json' "a viewer's token: 200 JSON"
expect_jq "$TMP/body" '. == []' "no source state yet: no errors, an empty array"
# daily_report does not load at the current commit (twice: two places).
pg_sql "INSERT INTO source_state (repo, path, commit) VALUES ('/srv/dags', '', '0000000000000000000000000000000000000002')" >/dev/null
pg_sql "INSERT INTO load_errors (commit, path, dag_id, line, col, message) VALUES ('0000000000000000000000000000000000000002', 'daily_report.yaml', 'daily_report', 3, 1, 'unknown key ''scheduel'''), ('0000000000000000000000000000000000000002', 'daily_report.yaml', 'daily_report', 9, 7, 'task ''x'': depends on unknown task ''y''')" >/dev/null
pg_sql "INSERT INTO load_errors (commit, path, line, col, message) VALUES ('0000000000000000000000000000000000000001', 'old.yaml', 1, 1, 'an error of an older commit')" >/dev/null
req GET /api/v1/load-errors "$VIEWER"
"$SLUICE" dags errors --json | jq -S . >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "GET /api/v1/load-errors is sluice dags errors --json"
expect_jq "$TMP/body" 'length == 2 and .[0].file == "daily_report.yaml" and .[0].line == 3 and .[0].column == 1 and .[1].line == 9' \
	"both errors at the current commit, in file:line:col order, none of an older commit"

# --- in a browser -----------------------------------------------------------------------
if [ -n "$BROWSER" ]; then
	skip 1 "$BROWSER"
	api_stop_web webpages
	done_testing
	exit
fi
browser_run test_pages.py "http://127.0.0.1:$PORT"
pg_sql "SELECT actor || ' ' || via || ' ' || action || ' ' || target FROM audit_log WHERE via = 'web' ORDER BY audit_id" >"$TMP/audit"
expect_grep "$TMP/audit" '^ada web pools set gpu slots=3$' "the audit log has the admin's pools set"
expect_grep "$TMP/audit" '^ada web pools delete gpu$' "and the delete"
expect_str "$(pg_sql "SELECT count(*) FROM pools WHERE name = 'gpu'")" 0 "the pool is gone"
api_stop_web webpages
done_testing
