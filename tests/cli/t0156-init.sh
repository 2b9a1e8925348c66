#!/bin/sh
# `sluice init [DIR]`: a DAG repository's first files, an example that
# validates, a pre-commit hook that runs, and never a file replaced or a
# half-made DIR left behind.
. "$(dirname "$0")/lib.sh"

unset SLUICE_CONFIG
export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"

FILES="dags/example.yaml .pre-commit-config.yaml README.md dag.schema.json"

# tree DIR: every path under DIR with its checksum, sorted.
tree() {
	(cd "$1" && find . -print | sort | while IFS= read -r p; do
		if [ -f "$p" ]; then echo "$p $(cksum <"$p")"; else echo "$p"; fi
	done)
}

run "$SLUICE" init --help
expect_status 0 "init --help exits 0"
expect_grep "$TMP/out" "^usage: sluice init \[DIR\]" "and prints the usage"
run "$SLUICE" init a b
expect_status 2 "two DIRs are a usage error"

# --- a fresh folder -------------------------------------------------------------
R=$TMP/repo
run "$SLUICE" init "$R"
expect_status 0 "init of a folder that does not exist makes it"
for f in $FILES; do
	[ -s "$R/$f" ]
	ok $? "it holds $f"
done
expect_grep "$TMP/out" "Not done: git init" "and says git init is not done"
[ ! -e "$R/.git" ]
ok $? "nor done"
run head -n 1 "$R/dags/example.yaml"
# shellcheck disable=SC2016 # a literal $schema
expect_file "$TMP/out" '# yaml-language-server: $schema=../dag.schema.json' \
	"the example starts with the schema modeline, pointing at the repository's root"
"$SLUICE" validate --print-schema | cmp -s - "$R/dag.schema.json"
ok $? "dag.schema.json is the schema --print-schema prints"
python3 "$TESTS_DIR/schema_check.py" valid "$R/dag.schema.json" \
	"${SLUICE_SCHEMA_TOOL:?SLUICE_SCHEMA_TOOL must point at tests/tools/schema_tool}" \
	"$R/dags/example.yaml" >"$TMP/schema.out" 2>&1
ok $? "the example is valid under that schema"
run "$SLUICE" validate "$R/dags"
expect_status 0 "the example passes sluice validate"
for key in params retries retry_delay schedule depends_on; do
	expect_grep "$R/dags/example.yaml" "^ *$key:" "the example uses $key"
done
expect_grep "$R/.pre-commit-config.yaml" "entry: sluice validate" "the hook runs sluice validate"
expect_grep "$R/README.md" "sluice validate dags/" "the README says how to check"
expect_grep "$R/README.md" "^  path: dags" "and how to point a scheduler at the folder"
(cd "$R" && "$SLUICE" test dags/example.yaml) >"$TMP/test.out" 2>&1
ok $? "sluice test runs the example to success"

run "$SLUICE" init --json "$TMP/j"
expect_status 0 "init --json"
expect_jq "$TMP/out" '.created == ["dags/example.yaml", ".pre-commit-config.yaml", "README.md", "dag.schema.json"]' \
	"lists what it created"

# The current folder by default.
mkdir "$TMP/here"
(cd "$TMP/here" && "$SLUICE" init >/dev/null)
ok $? "init without DIR works in the current folder"
[ -f "$TMP/here/dags/example.yaml" ]
ok $? "and writes there"

# --- never over a file ------------------------------------------------------------
tree "$R" >"$TMP/before"
run "$SLUICE" init "$R"
expect_status 1 "a second init refuses"
expect_grep "$TMP/err" "$R/dags/example.yaml exists; nothing was written" "naming the first file"
tree "$R" >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after"
ok $? "and leaves every file byte for byte"

# Only the last target exists: still nothing written, though the others are free.
mkdir "$TMP/one"
echo "mine" >"$TMP/one/README.md"
run "$SLUICE" init "$TMP/one"
expect_status 1 "an existing README.md refuses the whole init"
expect_grep "$TMP/err" "$TMP/one/README.md exists; nothing was written" "naming it"
run ls -A "$TMP/one"
expect_file "$TMP/out" "README.md" "and nothing else appeared"
expect_file "$TMP/one/README.md" "mine" "the README is untouched"

# A symlink counts as there, even dangling: never written through.
mkdir "$TMP/link"
ln -s "$TMP/elsewhere" "$TMP/link/README.md"
run "$SLUICE" init "$TMP/link"
expect_status 1 "a dangling symlink in the way refuses"
[ ! -e "$TMP/elsewhere" ]
ok $? "and nothing is written through it"

# --- bad DIRs ---------------------------------------------------------------------
echo x >"$TMP/afile"
run "$SLUICE" init "$TMP/afile"
expect_status 1 "a DIR that is a file is refused"
expect_file "$TMP/err" "sluice: init: $TMP/afile exists and is not a folder" "with a clear error"
mkdir "$TMP/dagsfile"
echo x >"$TMP/dagsfile/dags"
run "$SLUICE" init "$TMP/dagsfile"
expect_status 1 "a dags that is a file is refused"
expect_file "$TMP/err" "sluice: init: $TMP/dagsfile/dags exists and is not a folder" "naming it"
run ls -A "$TMP/dagsfile"
expect_file "$TMP/out" "dags" "and nothing is left"
run "$SLUICE" init "$TMP/no/such/parent"
expect_status 1 "a DIR whose parent is missing is refused"
expect_grep "$TMP/err" "cannot create the folder $TMP/no/such/parent: No such file or directory" \
	"naming the folder and why"

if [ "$(id -u)" -ne 0 ]; then
	mkdir "$TMP/ro"
	chmod 555 "$TMP/ro"
	run "$SLUICE" init "$TMP/ro"
	expect_status 1 "an unwritable DIR is refused"
	expect_grep "$TMP/err" "cannot create the folder $TMP/ro/dags: Permission denied" \
		"with a clear error"
	run ls -A "$TMP/ro"
	expect_file "$TMP/out" "" "and nothing is left behind"
	chmod 755 "$TMP/ro"
fi

# A write that fails halfway (a file size limit, which binds root too): what
# init made, folders included, is removed again.
(
	trap '' XFSZ
	ulimit -f 1
	exec "$SLUICE" init "$TMP/half"
) >"$TMP/out" 2>"$TMP/err"
status=$?
expect_status 1 "a write error fails"
expect_grep "$TMP/err" "cannot write $TMP/half/dags/example.yaml: File too large" "naming the file"
[ ! -e "$TMP/half" ]
ok $? "and removes everything it had made"

# --- the pre-commit hook, for real ------------------------------------------------
if command -v pre-commit >/dev/null 2>&1; then
	export PRE_COMMIT_HOME="$TMP/pre-commit-home"
	BIN=$TMP/bin
	mkdir -p "$BIN" && ln -s "$SLUICE" "$BIN/sluice"
	git init -q -b main "$R"
	git -C "$R" add -A
	(cd "$R" && PATH=$BIN:$PATH pre-commit run --all-files) >"$TMP/pc.out" 2>&1
	ok $? "pre-commit runs the hook on the example and passes"
	grep -q "sluice validate.*Passed" "$TMP/pc.out" || sed 's/^/# /' "$TMP/pc.out"
	printf 'tasks:\n  t:\n    comand: "true"\n' >"$R/dags/typo.yaml"
	git -C "$R" add dags/typo.yaml
	! (cd "$R" && PATH=$BIN:$PATH pre-commit run --files dags/typo.yaml) >"$TMP/pc.out" 2>&1
	ok $? "and fails on a DAG with a typo"
	expect_grep "$TMP/pc.out" "dags/typo.yaml:3:5:" "showing file:line:col"
else
	echo "# pre-commit is not installed: its check is skipped"
fi

done_testing
