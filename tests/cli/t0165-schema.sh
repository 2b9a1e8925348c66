#!/bin/sh
# docs/dag.schema.json: `sluice validate --print-schema` prints it byte for
# byte; it is a valid draft 2020-12 schema; every example and valid fixture
# passes it; it knows exactly the keys the loader's own tables know (and a
# key added to one side only is caught); DAGs with a mistake a schema can
# express are refused by both the schema and `sluice validate`.
. "$(dirname "$0")/lib.sh"

TOOL=${SLUICE_SCHEMA_TOOL:?SLUICE_SCHEMA_TOOL must point at tests/tools/schema_tool}
SCHEMA=$SRC_DIR/docs/dag.schema.json
CHECK=$TESTS_DIR/schema_check.py
python_with jsonschema python3-jsonschema

# (a) The binary prints the file it was built from, with no PATH needed.
run "$SLUICE" validate --print-schema
expect_status 0 "validate --print-schema exits 0"
cp "$TMP/out" "$TMP/printed"
run cmp "$TMP/printed" "$SCHEMA"
expect_status 0 "--print-schema prints docs/dag.schema.json byte for byte"
run "$SLUICE" validate --print-schema "$SRC_DIR/dags-examples"
expect_status 2 "--print-schema with a PATH is a usage error"
expect_grep "$TMP/err" "print-schema takes no PATH" "the usage error names the flag"

run "$PY" "$CHECK" check "$SCHEMA"
expect_status 0 "the schema passes Draft202012Validator.check_schema"
expect_jq "$SCHEMA" '."$schema" == "https://json-schema.org/draft/2020-12/schema"
	and (."$id" | type) == "string" and (.title | type) == "string"' \
	"the schema names its draft and has an \$id and a title"
# Every key at every level carries a description (editors show it on
# hover), its own or that of the definition it refers to.
expect_jq "$SCHEMA" '. as $s | [(.properties, ."$defs".task.properties,
	."$defs".defaults.properties, ."$defs".sensor.properties) | to_entries[]
	| select(.value.description == null and ((.value."$ref" // null) as $r | $r == null
		or ($s | getpath($r | ltrimstr("#/") | split("/")) | .description) == null))
	| .key] == []' "every key has a description"

# (b) Examples and valid fixtures pass, read with the loader's YAML types.
# (One Python process for many files: importing jsonschema is the slow part.)
run "$PY" "$CHECK" valid "$SCHEMA" "$TOOL" "$SRC_DIR"/dags-examples/*.yaml \
	"$TESTS_DIR"/fixtures/valid/*.yaml
expect_status 0 "every file of dags-examples/ and fixtures/valid/ validates against the schema"
sed 's/^/# /' "$TMP/out"
for f in "$SRC_DIR"/dags-examples/*.yaml; do
	expect_str "$(head -n 1 "$f")" '# yaml-language-server: $schema=../docs/dag.schema.json' \
		"$(basename "$f") starts with the yaml-language-server modeline"
done

# Every form the loader accepts, and the schema must too.
cat >"$TMP/forms.yaml" <<'EOF'
dag: forms.all-keys_1
description: null
schedule: "  @daily "
timezone: Europe/Paris
start_date: 2026-01-01
end_date: 2026-12-31T06:00:00+02:00
catchup: true
max_active_runs: 0x10
max_active_tasks: 1
paused: false
tags: [etl, 2026, true, yes]
owner: ~
params: {region: eu, n: 3, list: [1, 2], map: {a: null}}
env: {A: "1", B: 2, C: true, D: on}
defaults:
  retries: 0o17
  retry_delay: 0
  retry_backoff: exponential
  max_retry_delay: 1d12h
  timeout: 90
  trigger_rule: none_failed_min_one_success
  pool: null
  priority: -5
  queue: gpu.v2
  env: null
  cwd: sub/dir..x
  sensor: {poke_interval: 5m, timeout: 6h}
  depends_on_past: true
on_failure: ./alert.sh
on_success: null
tasks:
  "1":
    command: "true"
    sensor: true
    timeout: null
  b:
    command: |
      echo hi
    depends_on: 1
    sensor: false
    retry_delay: 2d3h4m5s
  c:
    command: "true"
    depends_on: [1, b]
    sensor: null
    cwd: null
    pool: warehouse
EOF
run "$SLUICE" validate "$TMP/forms.yaml"
expect_status 0 "the loader accepts every form in forms.yaml"
run "$PY" "$CHECK" valid "$SCHEMA" "$TOOL" "$TMP/forms.yaml"
expect_status 0 "the schema accepts every form in forms.yaml"
sed 's/^/# /' "$TMP/out"

# (c) The schema and the loader's key tables (printed by the loader's own
# code, tests/tools/schema_tool) agree, level by level.
"$TOOL" keys >"$TMP/keys.json"
run "$PY" "$CHECK" agree "$SCHEMA" "$TMP/keys.json"
expect_status 0 "the schema and the loader know the same keys, types and bounds"
sed 's/^/# /' "$TMP/out"
expect_jq "$TMP/keys.json" '(.dag | length) >= 18 and (.task | length) >= 15
	and (.defaults | length) >= 13 and (.sensor | length) >= 2' \
	"schema_tool prints every table of the loader"

# The check catches a key added to, or missing from, one side: edit a copy
# of the schema, or of the loader's tables, one change at a time.
mutants=
mutate() { # FILE JQ-FILTER
	mutants_n=$((${mutants_n:-0} + 1))
	jq "$2" "$1" >"$TMP/mutant$mutants_n.json" || exit 1
	if [ "$1" = "$SCHEMA" ]; then
		mutants="$mutants $TMP/mutant$mutants_n.json $TMP/keys.json"
	else
		mutants="$mutants $SCHEMA $TMP/mutant$mutants_n.json"
	fi
}
mutate "$SCHEMA" '."$defs".task.properties.fake_key = {"type": "string"}' # a task key, schema only
mutate "$SCHEMA" 'del(."$defs".defaults.properties.pool)'                 # a defaults key, loader only
mutate "$SCHEMA" 'del(.properties.owner)'                                 # a DAG key, loader only
mutate "$SCHEMA" '."$defs".sensor.properties.fake = {}'                   # a sensor key, schema only
mutate "$SCHEMA" '."$defs".key_retries.maximum = 100'                     # integer bounds
mutate "$SCHEMA" '."$defs".task.required = []'                            # a required key
mutate "$SCHEMA" 'del(."$defs".defaults.additionalProperties)'            # unknown keys let through
mutate "$SCHEMA" '.properties.catchup.type = ["boolean", "null"]'         # a null the loader refuses
mutate "$SCHEMA" '."$defs".key_timeout.anyOf[0] = {"$ref": "#/$defs/duration"}' # 0 allowed
mutate "$TMP/keys.json" '.task += [{"name": "fake_key", "kind": "string", "required": false,
	"nullable": false, "positive": false}]'                           # a task key, loader only
mutate "$TMP/keys.json" '.dag |= map(select(.name != "paused"))'         # a DAG key, schema only
# shellcheck disable=SC2086 # the pairs are paths without blanks (mktemp)
run "$PY" "$CHECK" disagree $mutants
expect_status 0 "each of $mutants_n one-sided edits (a key added to or missing from one side, a type, a bound, a null) is caught"
sed 's/^/# /' "$TMP/out"

# (d) Mistakes a schema can express: refused by both, the loader naming
# file:line:col. Each file differs from a valid DAG by one mistake.
mkdir "$TMP/bad"
bad() { # NAME EXPECTED-MESSAGE (stdin: the DAG)
	cat >"$TMP/bad/$1.yaml"
	run "$SLUICE" validate "$TMP/bad/$1.yaml"
	expect_status 1 "$1: sluice validate refuses it"
	expect_grep "$TMP/out" "^$TMP/bad/$1.yaml:[0-9]*:[0-9]*: $2" "$1: the loader says file:line:col: $2"
}
bad unknown_task_key "unknown key 'retires' in task 'a'" <<'EOF'
tasks:
  a: {command: "true", retires: 2}
EOF
bad unknown_dag_key "unknown key 'shedule'" <<'EOF'
shedule: "@daily"
tasks:
  a: {command: "true"}
EOF
bad unknown_defaults_key "unknown key 'retires' in defaults" <<'EOF'
defaults: {retires: 2}
tasks:
  a: {command: "true"}
EOF
bad defaults_command "'command' cannot be set in defaults" <<'EOF'
defaults: {command: "true"}
tasks:
  a: {command: "true"}
EOF
bad unknown_sensor_key "unknown key 'poke_intervall' in sensor" <<'EOF'
tasks:
  a: {command: "true", sensor: {poke_intervall: 5m}}
EOF
bad wrong_type_int "retries: expected a non-negative integer" <<'EOF'
tasks:
  a: {command: "true", retries: two}
EOF
bad wrong_type_bool 'catchup: expected true or false, got string "yes"' <<'EOF'
catchup: yes
tasks:
  a: {command: "true"}
EOF
bad wrong_type_command "command: expected a string, got integer" <<'EOF'
tasks:
  a: {command: 123}
EOF
bad null_queue "queue: expected a string, got null" <<'EOF'
tasks:
  a: {command: "true", queue: null}
EOF
bad out_of_range "retries: must be between 0 and 1000" <<'EOF'
tasks:
  a: {command: "true", retries: 1001}
EOF
bad bad_dag_id "bad DAG id 'nightly etl'" <<'EOF'
dag: nightly etl
tasks:
  a: {command: "true"}
EOF
bad bad_task_id "bad task id 'extract/orders'" <<'EOF'
tasks:
  extract/orders: {command: "true"}
EOF
bad bad_pool "pool: 'a b' is not a valid name" <<'EOF'
tasks:
  a: {command: "true", pool: a b}
EOF
bad bad_trigger_rule "unknown trigger rule 'all_sucess'" <<'EOF'
tasks:
  a: {command: "true", trigger_rule: all_sucess}
EOF
bad bad_backoff "retry_backoff: expected 'fixed' or 'exponential'" <<'EOF'
tasks:
  a: {command: "true", retry_backoff: linear}
EOF
bad bad_duration_units "retry_delay: '5 minutes' is not a duration" <<'EOF'
tasks:
  a: {command: "true", retry_delay: 5 minutes}
EOF
bad bad_duration_order "timeout: '1m30h' is not a duration" <<'EOF'
tasks:
  a: {command: "true", timeout: 1m30h}
EOF
bad zero_timeout "timeout: must be greater than 0" <<'EOF'
tasks:
  a: {command: "true", timeout: 0s}
EOF
bad absolute_cwd "cwd: '/tmp' must be relative" <<'EOF'
tasks:
  a: {command: "true", cwd: /tmp}
EOF
bad empty_command "command: is empty" <<'EOF'
tasks:
  a: {command: "  "}
EOF
bad missing_command "missing key 'command' in task 'a'" <<'EOF'
tasks:
  a: {retries: 1}
EOF
bad missing_tasks "a DAG needs 'tasks'" <<'EOF'
dag: no_tasks_at_all
EOF
bad empty_tasks "a DAG needs 'tasks'" <<'EOF'
tasks: {}
EOF
bad bad_env_name "env: '1BAD' is not a valid environment variable name" <<'EOF'
env: {1BAD: x}
tasks:
  a: {command: "true"}
EOF
bad bad_schedule_word "schedule: expected 5 fields" <<'EOF'
schedule: daily
tasks:
  a: {command: "true"}
EOF

# The schema refuses every one of them (one process for all the files).
run "$PY" "$CHECK" invalid "$SCHEMA" "$TOOL" "$TMP"/bad/*.yaml
expect_status 0 "the schema refuses every one of the $(ls "$TMP/bad" | wc -l) files"
sed 's/^/# /' "$TMP/out"

done_testing
