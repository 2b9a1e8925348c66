#!/bin/sh
# `sluice dags show FILE`: ASCII tree, DOT and JSON of a DAG file.
. "$(dirname "$0")/lib.sh"

cd "$SRC_DIR" || exit 1
run "$SLUICE" dags show dags-examples/hello.yaml
expect_status 0 "show hello"
expect_file "$TMP/out" "hello: A first DAG to trigger by hand
  schedule: none (manual) (UTC)
  tasks: 3
greet
\`-- count
    \`-- done" "ASCII tree"

run "$SLUICE" dags show dags-examples/daily_report.yaml
expect_grep "$TMP/out" '^|-- region_eu$' "fan-out drawn"
expect_grep "$TMP/out" 'summary (see above)' "a join drawn once, referred to after"

run "$SLUICE" dags show dags-examples/hello.yaml --dot
expect_file "$TMP/out" 'digraph "hello" {
	rankdir=LR;
	node [shape=box];
	"greet" [id="task-greet"];
	"count" [id="task-count"];
	"done" [id="task-done"];
	"greet" -> "count";
	"count" -> "done";
}' "Graphviz DOT"

run "$SLUICE" dags show dags-examples/nightly_etl.yaml --json
expect_status 0 "--json exits 0"
run jq -e '.dag == "nightly_etl" and .timezone == "Europe/Paris" and
	(.tasks | map(.task)) == ["extract","transform","load","report"] and
	.tasks[0].retries == 5 and .tasks[1].retries == 2 and
	.tasks[1].retry_backoff == "exponential" and .tasks[2].pool == "warehouse" and
	.tasks[3].trigger_rule == "all_done" and .params.region == "eu"' "$TMP/out"
expect_status 0 "--json has the merged defaults and keys"

run "$SLUICE" dags show nowhere.yaml
expect_status 3 "an unknown file exits 3"

run "$SLUICE" dags show tests/fixtures/invalid/unknown_key_task.yaml
expect_status 1 "an invalid file exits 1"
expect_grep "$TMP/err" "unknown_key_task.yaml:[0-9]*:[0-9]*: " "with its diagnostics"

done_testing
