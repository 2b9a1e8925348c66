#!/bin/sh
# `sluice dags refresh`: DAG files read from git objects at a commit into the
# database; new versions, the no-reparse rule, load errors that keep the
# last good version, removed DAGs, mirrors of URLs, and the exit codes.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"

unset SLUICE_CONFIG
export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"

# git_commit REPO MESSAGE: commit everything in the work tree REPO.
git_commit() {
	git -C "$1" add -A &&
		git -C "$1" -c user.name=t -c user.email=t@t commit -q -m "$2" &&
		git -C "$1" rev-parse HEAD
}

# expect_sql SQL WANTED DESCRIPTION: SQL prints WANTED.
expect_sql() {
	run pg_sql "$1"
	expect_file "$TMP/out" "$2" "$3"
}

# refresh [ARGS...]: `sluice dags refresh` of the work tree $R, path dags.
refresh() {
	run "$SLUICE" dags refresh --repo "$R" --path dags --state-dir "$TMP/state" "$@"
}

# version_of DAG: the commit of the DAG's latest version and its run_commit.
version_of() {
	pg_sql "SELECT v.commit || ' ' || d.run_commit FROM dags d
		JOIN dag_versions v ON v.version_id = d.latest_version_id WHERE d.dag_id = '$1'"
}

# --- without a database -------------------------------------------------------
run "$SLUICE" dags refresh --help
expect_status 0 "dags refresh --help exits 0"
expect_grep "$TMP/out" "^usage: sluice dags refresh \[--repo REPO\]" "--help prints the usage"
run "$SLUICE" dags refresh extra
expect_status 2 "dags refresh takes no positional argument"
run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=5432 dbname=x" "$SLUICE" dags refresh
expect_status 2 "no repository configured or given is a usage error"
expect_grep "$TMP/err" "no DAG repository: set dags.repo in the configuration or pass --repo" \
	"and says what to set"

# --- a repository holding the example DAGs -------------------------------------
R=$TMP/repo
git init -q -b main "$R"
mkdir -p "$R/dags/team" "$R/dags/.hidden" "$R/scripts"
cp "$SRC_DIR"/dags-examples/*.yaml "$R/dags/"
cat >"$R/dags/team/paused_one.yml" <<'EOF'
paused: true
tasks:
  only:
    command: "true"
EOF
printf 'tasks: {x: {command: "true"}}\n' >"$R/dags/.hidden/skipped.yaml"
printf '# not a DAG file\n' >"$R/dags/README.md"
printf 'tasks: {x: {command: "true"}}\n' >"$R/outside.yaml"
echo 'echo hi' >"$R/scripts/run.sh"
C1=$(git_commit "$R" "examples")
# The work tree is not what is read: an uncommitted edit changes nothing.
echo "bogus: [" >>"$R/dags/hello.yaml"

run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=5432 dbname=x" \
	"$SLUICE" dags refresh --repo "$R"
expect_status 4 "an unreachable database exits 4"
expect_grep "$TMP/err" "^sluice: cannot connect to PostgreSQL at $TMP/nowhere:5432" \
	"and says where it tried"

pg_start
pg_newdb refresh
run "$SLUICE" dags refresh --repo "$R"
expect_status 1 "refresh before 'db init' exits 1"
expect_grep "$TMP/err" "run 'sluice db migrate'" "and says to migrate the schema"
"$SLUICE" db init >/dev/null || exit 1

refresh
expect_status 0 "first refresh exits 0"
expect_file "$TMP/out" "refreshed $R main at $(echo "$C1" | cut -c1-12): 6 files, 6 parsed, 0 unchanged, 6 new versions, 0 errors, 0 removed" \
	"first refresh: every file parsed, one version each (*.yml, sub-folders; dot entries and other files skipped)"
expect_sql "SELECT count(*) FROM dags" "6" "six DAGs"
expect_sql "SELECT count(*) FROM dag_versions WHERE commit = '$C1'" "6" "six versions at the commit"
expect_sql "SELECT string_agg(dag_id || '=' || path, ',' ORDER BY dag_id) FROM dag_versions" \
	"daily_report=dags/daily_report.yaml,db_backup=dags/db_backup.yaml,hello=dags/hello.yaml,ml_training=dags/ml_training.yaml,nightly_etl=dags/nightly_etl.yaml,paused_one=dags/team/paused_one.yml" \
	"versions record the path in the repository; the id defaults to the file name"
expect_sql "SELECT count(*) FROM dags WHERE latest_version_id IS NOT NULL AND run_commit = '$C1'
	AND removed_at IS NULL" "6" "each DAG's latest version is set and runs pin the commit"
expect_sql "SELECT string_agg(dag_id, ',' ORDER BY dag_id) FROM dags WHERE paused" "paused_one" \
	"a new DAG is paused as its file says"
expect_sql "SELECT string_agg(concat_ws(' ', dag_id, schedule, timezone,
	to_char(start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), coalesce(end_date::text, '-'),
	catchup, max_active_runs, max_active_tasks), ',' ORDER BY dag_id) FROM dag_versions
	WHERE dag_id IN ('db_backup', 'ml_training')" \
	"db_backup 0 */6 * * * UTC 2026-11-01 00:00 - t 1 16,ml_training @daily America/New_York 2026-06-01 10:00 - f 16 16" \
	"a version's columns are its file's schedule, zone, dates, catchup and limits"
expect_sql "SELECT count(*) FROM dag_versions WHERE schedule IS NOT DISTINCT FROM definition->>'schedule'
	AND timezone = definition->>'timezone'
	AND start_date IS NOT DISTINCT FROM (definition->>'start_date')::timestamptz
	AND end_date IS NOT DISTINCT FROM (definition->>'end_date')::timestamptz
	AND catchup = (definition->'catchup')::boolean
	AND max_active_runs = (definition->>'max_active_runs')::integer
	AND max_active_tasks = (definition->>'max_active_tasks')::integer" "6" \
	"and say what the stored definition says"
expect_sql "SELECT count(*) FROM dag_versions WHERE blob_id = '$(git -C "$R" rev-parse "$C1:dags/hello.yaml")'
	AND definition->>'dag' = 'hello' AND jsonb_array_length(definition->'tasks') = 3" "1" \
	"a version stores the blob id and the JSON definition"
expect_sql "SELECT repo || ' ' || branch || ' ' || path || ' ' || commit FROM source_state" \
	"$R main dags $C1" "source_state records the current commit"

# The same commit again: nothing is parsed, nothing changes.
refresh --json
expect_status 0 "a second refresh of the same commit exits 0"
run jq -e --arg c "$C1" '.commit == $c and .branch == "main" and .path == "dags" and
	.files == 6 and .parsed == 0 and .unchanged == 6 and .new_versions == 0 and
	.failed == 0 and .removed == 0 and .restored == 0 and .errors == []' "$TMP/out"
expect_status 0 "a second refresh is a no-op: 6 unchanged, 0 parsed (--json)"
expect_sql "SELECT count(*) FROM dag_versions" "6" "and adds no version"

# --- a commit that breaks one file while another changes -----------------------
git -C "$R" checkout -q -- dags/hello.yaml
sed -i 's/^description: Load.*/description: Loads the orders again/' "$R/dags/nightly_etl.yaml"
grep -q "Loads the orders again" "$R/dags/nightly_etl.yaml" || echo "# sed did not change nightly_etl"
printf 'tasks:\n  greet:\n    comand: echo hi\n' >"$R/dags/hello.yaml"
C2=$(git_commit "$R" "break hello, change nightly_etl")
refresh
expect_status 0 "a refresh with a broken file still exits 0"
expect_grep "$TMP/out" "^refreshed $R main at $(echo "$C2" | cut -c1-12): 6 files, 2 parsed, 4 unchanged, 1 new version, 1 error, 0 removed$" \
	"summary: only the two changed files are parsed"
expect_grep "$TMP/out" "^dags/hello.yaml:3:5: unknown key 'comand'" \
	"the load error is printed as file:line:col"
expect_sql "SELECT path || ':' || line || ':' || col || ' ' || coalesce(dag_id, '?')
	FROM load_errors WHERE commit = '$C2' AND message LIKE 'unknown key%'" "dags/hello.yaml:3:5 hello" \
	"the load error is stored for the commit with line, column and DAG id"
expect_sql "SELECT count(*) FROM load_errors WHERE commit = '$C2' AND path = 'dags/hello.yaml' AND dag_id = 'hello'" \
	"$(pg_sql "SELECT count(*) FROM load_errors")" "every diagnostic of the broken file is stored"
run version_of hello
expect_file "$TMP/out" "$C1 $C1" "the broken DAG keeps its last good version and runs pin its commit"
run version_of nightly_etl
expect_file "$TMP/out" "$C2 $C2" "the changed DAG gets a new version at the new commit"
expect_sql "SELECT definition->>'description' FROM dag_versions d JOIN dags USING (dag_id)
	WHERE d.version_id = dags.latest_version_id AND dag_id = 'nightly_etl'" "Loads the orders again" \
	"the new version holds the new definition"
expect_sql "SELECT count(*) FROM dags WHERE run_commit = '$C2'" "5" \
	"unchanged DAGs now pin the new commit"
expect_sql "SELECT count(*) FROM dag_versions WHERE dag_id IN ('daily_report', 'db_backup', 'ml_training', 'paused_one')" \
	"4" "unchanged files made no new version (not re-parsed)"

nerr=$(pg_sql "SELECT count(*) FROM load_errors")
refresh
expect_status 0 "refreshing the broken commit again exits 0"
expect_sql "SELECT count(*) FROM load_errors" "$nerr" "its load errors are replaced, not added again"
expect_sql "SELECT count(*) FROM dag_versions" "7" "and no version is added"

v1=$(pg_sql "SELECT latest_version_id FROM dags WHERE dag_id = 'daily_report'")

# --- deleted and restored files -------------------------------------------------
git -C "$R" rm -q dags/db_backup.yaml
C3=$(git_commit "$R" "drop db_backup")
refresh
expect_status 0 "refresh after deleting a file"
expect_grep "$TMP/out" "5 files, 1 parsed, 4 unchanged, 0 new versions, 1 error, 1 removed$" \
	"summary counts the removed DAG (the broken file is parsed again)"
expect_sql "SELECT dag_id FROM dags WHERE removed_at IS NOT NULL" "db_backup" \
	"the DAG whose file is gone is marked removed"
expect_sql "SELECT count(*) FROM load_errors WHERE commit = '$C3' AND dag_id = 'hello'" "2" \
	"the still broken file has its errors recorded for the new commit"
git -C "$R" checkout -q "$C1" -- dags/db_backup.yaml dags/hello.yaml
C4=$(git_commit "$R" "restore db_backup, fix hello")
refresh
expect_status 0 "refresh after restoring the file"
expect_grep "$TMP/out" "6 files, 0 parsed, 6 unchanged, 0 new versions, 0 errors, 0 removed, 1 restored$" \
	"restored files with their old content are unchanged, not parsed"
expect_sql "SELECT count(*) FROM dags WHERE removed_at IS NOT NULL" "0" "restoring clears removed_at"
run version_of hello
expect_file "$TMP/out" "$C1 $C4" "the fixed DAG is back on its version, pinned to the new commit"
expect_sql "SELECT count(*) FROM dag_versions WHERE dag_id = 'db_backup'" "1" \
	"the restored DAG has no new version"
expect_sql "SELECT count(*) FROM load_errors WHERE commit = '$C4'" "0" "no load error at the fixed commit"

# --- one DAG id in two files; an oversized file --------------------------------
printf 'dag: daily_report\ntasks:\n  a:\n    command: "true"\n' >"$R/dags/zz_dup.yaml"
head -c 1100000 /dev/zero | tr '\0' '#' >"$R/dags/huge.yaml"
C5=$(git_commit "$R" "duplicate id and a huge file")
refresh
expect_status 0 "refresh with a duplicate id and an oversized file exits 0"
expect_grep "$TMP/out" "^dags/zz_dup.yaml:1:1: DAG 'daily_report' is already defined by dags/daily_report.yaml" \
	"the second file defining an id is a load error"
expect_grep "$TMP/out" "^dags/huge.yaml:1:1: file is 1100000 bytes, over the size limit of 1048576 bytes" \
	"a file over 1 MiB is a load error, not read"
expect_sql "SELECT latest_version_id FROM dags WHERE dag_id = 'daily_report'" "$v1" \
	"the first file keeps defining the DAG"
expect_sql "SELECT string_agg(path || '=' || coalesce(dag_id, '?'), ',' ORDER BY path) FROM load_errors
	WHERE commit = '$C5'" "dags/huge.yaml=?,dags/zz_dup.yaml=daily_report" "both errors are stored"
git -C "$R" rm -q dags/zz_dup.yaml dags/huge.yaml
CT=$(git_commit "$R" "tidy")

# --- branches ---------------------------------------------------------------
git -C "$R" branch dev
refresh --branch nope
expect_status 1 "an unknown branch exits 1"
expect_grep "$TMP/err" "branch 'nope' not found in $R; its branches are: dev, main" \
	"and lists the branches there are"
refresh --path nowhere
expect_status 1 "a path missing from the commit exits 1"
expect_grep "$TMP/err" "there is no folder 'nowhere' at commit" "and says so"

# A branch moved back to a commit synced before: that commit's versions
# are reused (one version per DAG and commit), not stored twice.
git -C "$R" branch old "$C1"
refresh --branch old
expect_status 0 "refresh of an older commit synced before"
expect_grep "$TMP/out" "^refreshed $R old at $(echo "$C1" | cut -c1-12): 6 files, 1 parsed, 5 unchanged, 0 new versions, 0 errors, 0 removed$" \
	"the DAG that changed since is parsed, and finds its version of that commit"
run version_of nightly_etl
expect_file "$TMP/out" "$C1 $C1" "the DAG is back on the older commit's version"

# --- the configuration file --------------------------------------------------
cat >"$TMP/sluice.yaml" <<EOF
dags:
  repo: $R
  branch: main
  path: ./dags/
state_dir: $TMP/state
EOF
run "$SLUICE" --config "$TMP/sluice.yaml" dags refresh
expect_status 0 "dags.repo, dags.branch and dags.path come from the configuration"
expect_grep "$TMP/out" "^refreshed $R main at .*: 6 files" "and name the same folder"

# --- a remote, mirrored -----------------------------------------------------
pg_newdb remote
"$SLUICE" db init >/dev/null || exit 1
B=$TMP/remote.git
git clone -q --bare "$R" "$B"
git -C "$B" symbolic-ref HEAD refs/heads/dev
run "$SLUICE" dags refresh --repo "file://$B" --path dags --state-dir "$TMP/state"
expect_status 0 "a file:// URL is mirrored and fetched"
expect_grep "$TMP/out" "^refreshed file://$B dev at .*: 6 files, 6 parsed" \
	"without a branch, the remote's HEAD branch is used"
mirror=$(ls -d "$TMP"/state/mirrors/remote-* 2>/dev/null)
[ -n "$mirror" ] && [ "$(git -C "$mirror" rev-parse --is-bare-repository)" = true ]
ok $? "the mirror is a bare repository under state_dir/mirrors, named after the URL"
git -C "$B" symbolic-ref HEAD refs/heads/main

W=$TMP/work
git clone -q "$B" "$W"
printf 'tasks:\n  a:\n    command: "true"\n' >"$W/dags/pushed.yaml"
P1=$(git_commit "$W" "a new DAG")
git -C "$W" push -q origin main
run "$SLUICE" dags refresh --repo "file://$B" --path dags --state-dir "$TMP/state" --branch main
expect_status 0 "refresh after a push"
expect_grep "$TMP/out" "^refreshed file://$B main at $(echo "$P1" | cut -c1-12): 7 files, 1 parsed, 6 unchanged, 1 new version" \
	"the fetch picks up the push"
expect_sql "SELECT commit FROM source_state" "$P1" "the current commit is the pushed one"
git -C "$W" branch -q gone && git -C "$W" push -q origin gone
git -C "$B" branch -q -D gone
run "$SLUICE" dags refresh --repo "file://$B" --path dags --state-dir "$TMP/state" --branch gone
expect_status 1 "a branch deleted on the remote is pruned from the mirror"
expect_grep "$TMP/err" "branch 'gone' not found in file://$B; its branches are: dev, main" \
	"and the message lists the remote's branches"

# A plain path to a bare repository is read in place: no mirror, no fetch.
printf 'tasks:\n  b:\n    command: "true"\n' >"$W/dags/pushed2.yaml"
P2=$(git_commit "$W" "another DAG")
git -C "$W" push -q origin main
nmirrors=$(ls "$TMP/state/mirrors" | wc -l)
run "$SLUICE" dags refresh --repo "$B" --path dags --state-dir "$TMP/state"
expect_status 0 "a plain path to a bare repository"
expect_grep "$TMP/out" "^refreshed $B main at $(echo "$P2" | cut -c1-12): 8 files, 1 parsed, 7 unchanged" \
	"is read in place and sees the new push"
[ "$(ls "$TMP/state/mirrors" | wc -l)" -eq "$nmirrors" ]
ok $? "no mirror is made for a local path"

run "$SLUICE" dags refresh --repo "file://$TMP/missing.git" --state-dir "$TMP/state"
expect_status 1 "an unreachable remote exits 1"
expect_grep "$TMP/err" "^sluice: cannot fetch from file://$TMP/missing.git" "and says what failed"

# --- runs keep their pinned version ---------------------------------------------
pg_newdb pinned
"$SLUICE" db init >/dev/null || exit 1
refresh
run "$SLUICE" trigger nightly_etl --run-id before_push
expect_status 0 "trigger a run before a push"
pg_sql "UPDATE dags SET next_run_after = '2030-01-01Z'" >/dev/null
sed -i 's/^description: .*/description: After the push/' "$R/dags/nightly_etl.yaml"
C6=$(git_commit "$R" "change nightly_etl after the run")
refresh
expect_status 0 "refresh after the push"
expect_sql "SELECT v.commit || ' ' || r.commit FROM runs r JOIN dag_versions v USING (version_id)
	WHERE r.run_id = 'before_push'" "$CT $CT" \
	"the run created before the push keeps its pinned version and commit"
run version_of nightly_etl
expect_file "$TMP/out" "$C6 $C6" "while new runs get the new version"
expect_sql "SELECT string_agg(dag_id, ' ') FROM dags WHERE next_run_after IS NULL" \
	"nightly_etl" "a new version clears the cached next run (its schedule may have changed)"
expect_sql "SELECT count(*) > 0 FROM dags WHERE next_run_after = '2030-01-01Z'" "t" \
	"DAGs without a new version keep theirs"

done_testing
