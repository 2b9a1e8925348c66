#!/bin/sh
# The action routes on runs and DAGs (docs/web.md, "Actions"): trigger,
# cancel, clear, mark, pause/unpause. Each works for an operator, is 403
# for a viewer and 401 without a token, and then changes nothing; errors
# are the CLI's sentences for the same mistakes; every action writes its
# audit row (via=web, the token's user), which `sluice audit` lists beside
# the CLI's own; a body must be application/json (415) and well formed
# (400 naming line:col).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/api_lib.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db apiact
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
seed_dag "$SRC_DIR/dags-examples/ml_training.yaml" || exit 1
VIEWER=$(api_user vera viewer) || exit 1
OPERATOR=$(api_user otto operator) || exit 1

api_start_web webact

RUNS="SELECT count(*) FROM runs"
WEB_ROWS="via = 'web'"

# --- trigger: who may -------------------------------------------------------------
req POST /api/v1/dags/hello/runs "" '{"run_id": "r1"}'
expect_grep "$TMP/status" '^401 application/problem+json' "trigger without a token: 401"
req POST /api/v1/dags/hello/runs "$VIEWER" '{"run_id": "r1"}'
expect_grep "$TMP/status" '^403 application/problem+json' "trigger by a viewer: 403"
expect_str "$(detail)" "this needs the role operator; user vera is viewer" "the 403 says which role it needs"
expect_str "$(pg_sql "$RUNS")" 0 "neither the 401 nor the 403 created a run"
expect_str "$(audit_count "$WEB_ROWS")" 0 "nor wrote an audit row"

# --- trigger: it works -------------------------------------------------------------
req POST /api/v1/dags/hello/runs "$OPERATOR" \
	'{"run_id": "r1", "conf": {"name": "ada"}, "logical_date": "2026-03-01T00:00:00Z"}'
expect_grep "$TMP/status" '^201 application/json' "trigger by an operator: 201 JSON"
expect_grep "$TMP/headers" '^[Ll]ocation: /api/v1/dags/hello/runs/r1' "with a Location naming the run"
expect_jq "$TMP/body" '.dag == "hello" and .run_id == "r1" and .state == "queued" and .conf == {"name": "ada"} and (.logical_date | startswith("2026-03-01T00:00:00")) and (.tasks | map(.task)) == ["greet", "count", "done"]' \
	"the answer is the run: dag, run_id, state, conf, logical_date, its tasks"
jq -S . "$TMP/body" >"$TMP/a"
"$SLUICE" runs show hello r1 --json | jq -S . >"$TMP/c"
expect_same "the answer is sluice runs show --json's document of the new run"
req GET /api/v1/dags/hello/runs/r1 "$VIEWER"
jq -S . "$TMP/body" >"$TMP/c"
expect_same "and what GET on its Location answers"
"$SLUICE" trigger hello --run-id c1 --conf-json '{"name": "ada"}' \
	--logical-date 2026-03-01T00:00:00Z >/dev/null || exit 1
expect_str "$(pg_sql "SELECT state || ' ' || conf::text FROM runs WHERE run_id = 'r1'")" \
	'queued {"name": "ada"}' "the run is in the database, queued, with its conf"
expect_str "$(audit_count "actor = 'otto' AND via = 'web' AND action = 'trigger' AND target = 'hello r1'")" 1 \
	"the trigger's audit row: otto via web, trigger, hello r1"
expect_str "$(audit_count "via = 'cli' AND action = 'trigger' AND target = 'hello c1'")" 1 \
	"the CLI's trigger is audited the same way, via cli"
req POST /api/v1/dags/hello/runs "$OPERATOR"
expect_grep "$TMP/status" '^201 ' "a trigger with no body at all: 201 with the defaults"
expect_jq "$TMP/body" '(.run_id | startswith("manual__")) and .conf == {}' "a manual__ run id, an empty conf"
expect_grep "$TMP/headers" '^[Ll]ocation: /api/v1/dags/hello/runs/manual__[0-9-]*T[0-9]*%3A' \
	"the Location percent-encodes the run id"
MANUAL=$(jq -r .run_id "$TMP/body")
LOC=$(sed -n 's/^[Ll]ocation: \(.*\)\r$/\1/p' "$TMP/headers")
req GET "$LOC" "$VIEWER"
expect_jq "$TMP/body" ".run_id == \"$MANUAL\"" "GET on that Location answers the run"

# --- trigger: refused as the CLI refuses it ------------------------------------------
N_RUNS=$(pg_sql "$RUNS")
N_AUDIT=$(audit_count true)
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "r1"}'
expect_grep "$TMP/status" '^409 application/problem+json' "a run id that exists: 409"
expect_str "$(detail)" "$(cli_sentence trigger hello --run-id r1)" "with the CLI's sentence"
req POST /api/v1/dags/nope/runs "$OPERATOR" '{}'
expect_grep "$TMP/status" '^404 ' "an unknown DAG: 404"
expect_str "$(detail)" "$(cli_sentence trigger nope)" "with the CLI's sentence"

req POST /api/v1/dags/hello/runs "$OPERATOR" '{"conf": {"nme": "x"}}'
expect_grep "$TMP/status" '^400 ' "an undeclared param: 400"
expect_str "$(detail)" "conf: $(cli_sentence trigger hello --conf-json '{"nme": "x"}' | sed 's/^--conf-json: //')" \
	"named as conf, with the CLI's sentence (did you mean, declared params)"
expect_grep "$TMP/body" "did you mean 'name'" "which suggests the declared one"
req POST /api/v1/dags/ml_training/runs "$OPERATOR" '{"conf": {"epochs": "three"}}'
expect_grep "$TMP/status" '^400 ' "a param of the wrong type: 400"
expect_str "$(detail)" "conf: $(cli_sentence trigger ml_training --conf-json '{"epochs": "three"}' | sed 's/^--conf-json: //')" \
	"with the CLI's sentence"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"conf": [1]}'
expect_grep "$TMP/status" '^400 ' "a conf that is not an object: 400"
expect_str "$(detail)" "conf: $(cli_sentence trigger hello --conf-json '[1]' | sed 's/^--conf-json: //')" \
	"with the CLI's sentence"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "bad id!"}'
expect_grep "$TMP/status" '^400 ' "a malformed run id: 400"
expect_str "$(detail)" "run_id$(cli_sentence trigger hello --run-id 'bad id!' | sed 's/^--run-id//')" \
	"with the CLI's sentence, naming run_id"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "latest"}'
expect_grep "$TMP/status" '^400 ' "the run id 'latest': 400"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"logical_date": "yesterday"}'
expect_grep "$TMP/status" '^400 ' "a logical date that does not parse: 400"
expect_str "$(detail)" "logical_date$(cli_sentence trigger hello --logical-date yesterday | sed 's/^--logical-date//')" \
	"with the CLI's sentence, naming logical_date"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": 5}'
expect_grep "$TMP/status" '^400 ' "a run id that is not a string: 400"
expect_str "$(detail)" "run_id: expected a string, got an integer" "naming the key and what it got"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"runid": "x"}'
expect_grep "$TMP/status" '^400 ' "an unknown key: 400"
expect_str "$(detail)" "request body: unknown key 'runid' (did you mean 'run_id'?); expected: run_id, conf, logical_date" \
	"naming the key, the closest one and those it takes"

# --- the body: media type and syntax -----------------------------------------------
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "f1"}' text/plain
expect_grep "$TMP/status" '^415 application/problem+json' "a text/plain body: 415"
req POST /api/v1/dags/hello/runs "$OPERATOR" 'run_id=f2' application/x-www-form-urlencoded
expect_grep "$TMP/status" '^415 ' "a form body (what a cross-site form can send): 415"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "f3"}' -
expect_grep "$TMP/status" '^415 ' "a body without a Content-Type: 415"
expect_str "$(detail)" "the request body must be Content-Type: application/json, not none" "the 415 says what to send"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "f4"}' 'Application/JSON; charset=utf-8'
expect_grep "$TMP/status" '^201 ' "application/json with a charset, in any case: accepted"
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "f5",
  "conf": {"name": "x",}}'
expect_grep "$TMP/status" '^400 ' "malformed JSON: 400"
expect_grep "$TMP/body" '"detail":"request body:2:[0-9]*: ' "naming the line and column"
req POST /api/v1/dags/hello/runs "$OPERATOR" '[1]'
expect_grep "$TMP/status" '^400 ' "a body that is not an object: 400"
expect_str "$(pg_sql "SELECT count(*) FROM runs WHERE run_id IN ('f1', 'f2', 'f3', 'f5')")" 0 \
	"no refused request created a run"
expect_str "$(audit_count true)" "$((N_AUDIT + 1))" "and only the accepted one wrote an audit row"

# --- cancel ------------------------------------------------------------------------
req POST /api/v1/dags/hello/runs/r1/cancel "$VIEWER"
expect_grep "$TMP/status" '^403 ' "cancel by a viewer: 403"
req POST /api/v1/dags/hello/runs/r1/cancel
expect_grep "$TMP/status" '^401 ' "cancel without a token: 401"
expect_str "$(pg_sql "SELECT state FROM runs WHERE run_id = 'r1'")" queued "the run is still queued"
req POST /api/v1/dags/hello/runs/r1/cancel "$OPERATOR"
expect_grep "$TMP/status" '^200 application/json' "cancel by an operator: 200"
cp "$TMP/body" "$TMP/api_cancel.json"
"$SLUICE" runs cancel hello c1 --json >"$TMP/cli_cancel.json" || exit 1
jq -S '.run_id = "X"' "$TMP/api_cancel.json" >"$TMP/a" && jq -S '.run_id = "X"' "$TMP/cli_cancel.json" >"$TMP/c"
expect_same "the answer is sluice runs cancel --json's document"
expect_str "$(pg_sql "SELECT state FROM runs WHERE run_id = 'r1'")" cancelled "the run is cancelled"
req POST /api/v1/dags/hello/runs/r1/cancel "$OPERATOR"
expect_grep "$TMP/status" '^409 ' "cancelling it again: 409"
expect_str "$(detail)" "$(cli_sentence runs cancel hello r1)" "with the CLI's sentence"
req POST /api/v1/dags/hello/runs/zz/cancel "$OPERATOR"
expect_grep "$TMP/status" '^404 ' "an unknown run: 404"
expect_str "$(detail)" "$(cli_sentence runs cancel hello zz)" "with the CLI's sentence"
req POST /api/v1/dags/hello/runs/f4/cancel "$OPERATOR" '{"force": true}'
expect_grep "$TMP/status" '^400 ' "cancel with a key in its body: 400"
curl -sS -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $OPERATOR" \
	-H 'Content-Type: application/x-www-form-urlencoded' -H 'Content-Length: 0' \
	"http://127.0.0.1:$PORT/api/v1/dags/hello/runs/f4/cancel" >"$TMP/status"
expect_file "$TMP/status" 415 "cancel by an empty form (a cross-site <form> with no field): 415"
expect_str "$(pg_sql "SELECT state FROM runs WHERE run_id = 'f4'")" queued "and the run is left as it was"

# --- clear -------------------------------------------------------------------------
req POST /api/v1/dags/hello/runs/r1/clear "$VIEWER" '{}'
expect_grep "$TMP/status" '^403 ' "clear by a viewer: 403"
expect_str "$(pg_sql "SELECT state FROM runs WHERE run_id = 'r1'")" cancelled "the run is still cancelled"
req POST /api/v1/dags/hello/runs/r1/clear "$OPERATOR" '{"tasks": ["count"], "downstream": true}'
expect_grep "$TMP/status" '^200 application/json' "clear by an operator: 200"
expect_jq "$TMP/body" '.cleared == ["count", "done"] and .state == "queued" and .previous_state == "cancelled"' \
	"count and its downstream task cleared, the run queued again"
cp "$TMP/body" "$TMP/api_clear.json"
"$SLUICE" tasks clear hello c1 count --downstream --json >"$TMP/cli_clear.json" || exit 1
jq -S '.run_id = "X"' "$TMP/api_clear.json" >"$TMP/a" && jq -S '.run_id = "X"' "$TMP/cli_clear.json" >"$TMP/c"
expect_same "the same selection as sluice tasks clear --downstream, the same document"
expect_str "$(pg_sql "SELECT string_agg(ti.task_id || '=' || ti.state, ' ' ORDER BY ti.task_id) FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = 'r1'")" \
	"count=pending done=pending greet=cancelled" "in the database: count and done pending, greet left cancelled"
req POST /api/v1/dags/hello/runs/r1/clear "$OPERATOR" '{"failed": true}'
expect_jq "$TMP/body" '.cleared == ["greet"]' "failed: true keeps the cancelled task only"
req POST /api/v1/dags/hello/runs/r1/clear "$OPERATOR" '{"tasks": ["gret"]}'
expect_grep "$TMP/status" '^404 ' "an unknown task: 404"
expect_str "$(detail)" "$(cli_sentence tasks clear hello r1 gret)" "with the CLI's sentence (did you mean)"
req POST /api/v1/dags/hello/runs/r1/clear "$OPERATOR" '{"tasks": "greet"}'
expect_grep "$TMP/status" '^400 ' "tasks that is not a list: 400"
expect_str "$(detail)" "tasks: expected a list of task ids, got a string" "naming the key"
req POST /api/v1/dags/hello/runs/r1/clear "$OPERATOR" '{"downstream": 1}'
expect_str "$(detail)" "downstream: expected true or false, got an integer" "a flag that is not a boolean: 400 naming it"

# --- mark --------------------------------------------------------------------------
req POST /api/v1/dags/hello/runs/r1/tasks/greet/mark "$VIEWER" '{"state": "success"}'
expect_grep "$TMP/status" '^403 ' "mark by a viewer: 403"
expect_str "$(pg_sql "SELECT ti.state FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = 'r1' AND task_id = 'greet'")" \
	pending "the task is left as it was"
req POST /api/v1/dags/hello/runs/r1/tasks/greet/mark "$OPERATOR" '{"state": "success"}'
expect_grep "$TMP/status" '^200 application/json' "mark by an operator: 200"
expect_jq "$TMP/body" '.task == "greet" and .state == "success" and .previous_state == "pending"' "the answer: task, state, previous state"
cp "$TMP/body" "$TMP/api_mark.json"
"$SLUICE" tasks mark hello c1 count success --json >"$TMP/cli_mark.json" || exit 1
jq -S 'del(.run_id, .task)' "$TMP/api_mark.json" >"$TMP/a" && jq -S 'del(.run_id, .task)' "$TMP/cli_mark.json" >"$TMP/c"
expect_same "the answer is sluice tasks mark --json's document"
expect_str "$(pg_sql "SELECT ti.state || ' ' || ti.reason FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = 'r1' AND task_id = 'greet'")" \
	"success marked success by otto" "the mark names the token's user"
req POST /api/v1/dags/hello/runs/r1/tasks/greet/mark "$OPERATOR" '{"state": "skipped"}'
expect_grep "$TMP/status" '^400 ' "a state a mark cannot set: 400"
expect_str "$(detail)" "$(cli_sentence tasks mark hello r1 greet skipped)" "with the CLI's sentence"
req POST /api/v1/dags/hello/runs/r1/tasks/nope/mark "$OPERATOR" '{"state": "failed"}'
expect_grep "$TMP/status" '^404 ' "an unknown task: 404"
expect_str "$(detail)" "$(cli_sentence tasks mark hello r1 nope failed)" "with the CLI's sentence"
req POST /api/v1/dags/hello/runs/r1/tasks/greet/mark "$OPERATOR" '{}'
expect_str "$(detail)" "state: missing (success or failed)" "no state: 400 saying what it takes"
req POST /api/v1/dags/hello/runs/r1/tasks/greet/mark "$OPERATOR"
expect_grep "$TMP/status" '^400 ' "no body where one is needed: 400"

# --- pause / unpause ---------------------------------------------------------------
req PATCH /api/v1/dags/hello "$VIEWER" '{"paused": true}'
expect_grep "$TMP/status" '^403 ' "pause by a viewer: 403"
expect_str "$(pg_sql "SELECT paused FROM dags WHERE dag_id = 'hello'")" f "the DAG is not paused"
req PATCH /api/v1/dags/hello "$OPERATOR" '{"paused": true}'
expect_grep "$TMP/status" '^200 application/json' "pause by an operator: 200"
expect_str "$(pg_sql "SELECT paused FROM dags WHERE dag_id = 'hello'")" t "the DAG is paused"
"$SLUICE" dags list --json | jq -S '.[] | select(.dag == "hello")' >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "the answer is the DAG's row of sluice dags list --json"
# A run of a paused DAG, or of one whose file does not load now: created,
# with the CLI's note and warning, word for word.
"$SLUICE" trigger hello --run-id pz1 2>"$TMP/cli.err" >/dev/null || exit 1
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "pz2"}'
expect_grep "$TMP/status" '^201 ' "a paused DAG is triggered: 201"
sed -n 's/^sluice: note: //p' "$TMP/cli.err" | sed 's/pz1/pz2/' >"$TMP/c"
jq -r '.notes[]' "$TMP/body" >"$TMP/a"
expect_same "with notes: the CLI's note that the run waits for an unpause"
pg_sql "INSERT INTO source_state (repo, path, commit) VALUES ('/srv/dags', '', 'fedcba9876543210fedcba9876543210fedcba98')" >/dev/null
pg_sql "INSERT INTO load_errors (commit, path, dag_id, line, col, message) VALUES ('fedcba9876543210fedcba9876543210fedcba98', 'hello.yaml', 'hello', 4, 2, 'unknown key')" >/dev/null
"$SLUICE" trigger hello --run-id pz3 2>"$TMP/cli.err" >/dev/null || exit 1
req POST /api/v1/dags/hello/runs "$OPERATOR" '{"run_id": "pz4"}'
sed -n 's/^sluice: [a-z]*: //p' "$TMP/cli.err" >"$TMP/c"
jq -r '.notes[]' "$TMP/body" >"$TMP/a"
expect_same "and the CLI's warning that its file does not load at the current commit"
expect_jq "$TMP/body" '.notes[1] | test("hello.yaml:4:2: unknown key")' "which names the error at file:line:col"
pg_sql "DELETE FROM load_errors; DELETE FROM source_state" >/dev/null
req GET /api/v1/dags/hello/runs/pz4 "$VIEWER"
expect_jq "$TMP/body" 'has("notes") | not' "GET on the run has no notes: they are about the trigger"
req PATCH /api/v1/dags/hello "$OPERATOR" '{"paused": false}'
expect_jq "$TMP/body" '.paused == false' "unpause: 200, paused false"
req PATCH /api/v1/dags/nope "$OPERATOR" '{"paused": true}'
expect_grep "$TMP/status" '^404 ' "an unknown DAG: 404"
expect_str "$(detail)" "$(cli_sentence dags pause nope)" "with the CLI's sentence"
req PATCH /api/v1/dags/hello "$OPERATOR" '{"paused": "yes"}'
expect_str "$(detail)" "paused: expected true or false, got a string" "paused that is not a boolean: 400"
req PATCH /api/v1/dags/hello "$OPERATOR" '{}'
expect_str "$(detail)" "paused: missing (true or false)" "no paused: 400"
"$SLUICE" dags pause ml_training >/dev/null || exit 1

# --- the audit log ------------------------------------------------------------------
pg_sql "SELECT action || ' ' || target FROM audit_log WHERE actor = 'otto' AND via = 'web' ORDER BY audit_id" >"$TMP/web_audit"
cat >"$TMP/want" <<TXT
trigger hello r1
trigger hello $(pg_sql "SELECT run_id FROM runs WHERE run_id LIKE 'manual__%'")
trigger hello f4
runs cancel hello r1
tasks clear hello r1 tasks=count,done
tasks clear hello r1 tasks=greet
tasks mark hello r1 greet state=success
dags pause hello
trigger hello pz2
trigger hello pz4
dags unpause hello
TXT
cmp -s "$TMP/want" "$TMP/web_audit"
ok $? "every accepted action has its audit row by otto via web, and no refused one has"
diff "$TMP/want" "$TMP/web_audit" | sed 's/^/# /'
expect_str "$(audit_count "via = 'cli' AND action IN ('runs cancel', 'tasks clear', 'tasks mark', 'dags pause')")" 4 \
	"the CLI's cancel, clear, mark and pause are audited too"
"$SLUICE" audit --json >"$TMP/cli_audit.json" || exit 1
expect_jq "$TMP/cli_audit.json" 'map(select(.via == "web" and .actor == "otto")) | length == 11' \
	"sluice audit lists the web's rows"
expect_jq "$TMP/cli_audit.json" '.[0].action == "dags pause" and .[0].via == "cli"' "beside the CLI's, newest first"

api_stop_web webact
done_testing
