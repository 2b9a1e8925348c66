#!/bin/sh
# `sluice validate`: the examples are valid; every invalid fixture fails
# with exactly the diagnostics in its .expect file; --json has the documented shape.
. "$(dirname "$0")/lib.sh"

run "$SLUICE" validate "$SRC_DIR/dags-examples"
expect_status 0 "dags-examples is valid"
expect_file "$TMP/out" "" "nothing on stdout for valid files"

run "$SLUICE" validate "$SRC_DIR/dags-examples" --json
expect_status 0 "dags-examples --json exits 0"
run jq -e '.ok == true and (.dags | length) >= 4 and (.dags | index("nightly_etl")) != null
	and .errors == []' "$TMP/out"
expect_status 0 "--json: ok, the DAG ids, no errors"

cd "$TESTS_DIR" || exit 1
for fixture in fixtures/invalid/*.yaml; do
	name=${fixture%.yaml}
	run "$SLUICE" validate "$fixture"
	expect_status 1 "$(basename "$name") exits 1"
	expect_file "$TMP/out" "$(cat "$name.expect")" "$(basename "$name") reports file:line:col"
done

run "$SLUICE" validate fixtures/invalid/unknown_key_task.yaml --json
expect_status 1 "--json on an invalid file exits 1"
run jq -e '.ok == false and .dags == [] and (.errors | length) >= 1 and
	(.errors[0] | (.file | type) == "string" and (.line | type) == "number" and
	 (.column | type) == "number" and (.message | type) == "string")' "$TMP/out"
expect_status 0 "--json errors carry file, line, column, message"

run "$SLUICE" validate "$SRC_DIR/dags-examples" fixtures/invalid/unknown_key_task.yaml
expect_status 1 "one bad file among good ones fails the whole check"

run "$SLUICE" validate "$TMP/missing.yaml"
expect_status 1 "a missing path is reported"
expect_grep "$TMP/out" "missing.yaml:1:1: cannot read" "missing path named with position"

mkdir "$TMP/empty"
run "$SLUICE" validate "$TMP/empty"
expect_status 1 "a folder without DAG files is an error"

mkdir "$TMP/two"
printf 'dag: same\ntasks:\n  a:\n    command: "true"\n' >"$TMP/two/a.yaml"
cp "$TMP/two/a.yaml" "$TMP/two/b.yml"
run "$SLUICE" validate "$TMP/two"
expect_status 1 "two files defining one DAG fail"
expect_grep "$TMP/out" "b.yml:1:1: DAG 'same' is already defined in .*a.yaml" \
	"the second definition is reported"

run "$SLUICE" validate
expect_status 2 "validate without a path is a usage error"

done_testing
