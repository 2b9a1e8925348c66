#!/bin/sh
# The run plan has two drivers: `sluice test` (in memory) and the
# scheduler's engine (in PostgreSQL). Every example DAG, every valid
# fixture and a few DAGs written here (branching, skips, retries, failures
# under every trigger rule) run both ways, and every task must end in the
# same state.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db plan_equivalence

PORT=$(free_port)
R=$TMP/repo
DATE=2026-01-05T12:00:00Z
mkdir -p "$R/dags" "$TMP/features"
# The examples' tasks run in dags-examples/ (their cwd), from the root.
cp -R "$SRC_DIR/dags-examples" "$R/"
cp "$SRC_DIR"/dags-examples/*.yaml "$SRC_DIR"/tests/fixtures/valid/*.yaml "$R/dags/"
rm "$R"/dags-examples/*.yaml

# What the examples need from the machine, made here.
# ml_training's sensor waits for the day's feature file (--conf below).
seq 1 12 >"$TMP/features/2026-01-05.csv"
# full.yaml's commands, in its cwds (jobs/, loaders/sql/).
mkdir -p "$R/jobs/scripts" "$R/loaders/sql/scripts" "$R/scripts"
printf '#!/bin/sh\necho rows=7 >>"$SLUICE_OUTPUT"\n' >"$R/jobs/scripts/extract.sh"
printf '#!/bin/sh\necho "$@"\n' >"$R/jobs/scripts/report.sh"
printf '#!/bin/sh\necho "$@"\n' >"$R/loaders/sql/scripts/load.sh"
printf '#!/bin/sh\necho "$@"\n' >"$R/scripts/alert.sh"
printf 'import sys\nprint(sys.argv)\n' >"$R/jobs/transform.py"
chmod +x "$R"/jobs/scripts/*.sh "$R"/loaders/sql/scripts/*.sh "$R"/scripts/*.sh

# Branching: the skip cascade and a join.
cat >"$R/dags/eq_branch.yaml" <<'EOF'
schedule: null
tasks:
  pick: {command: 'echo branch=left >>"$SLUICE_OUTPUT"'}
  left: {command: "true", depends_on: [pick]}
  right: {command: "true", depends_on: [pick]}
  after_right: {command: "true", depends_on: [right]}
  keep: {command: "true", depends_on: [right], trigger_rule: all_done}
  # always does not wait for its upstream to end, so not for the choice.
  anyway: {command: "true", depends_on: [pick], trigger_rule: always}
  join:
    command: "true"
    depends_on: [left, after_right]
    trigger_rule: none_failed_min_one_success
EOF
# Every trigger rule below a success, a failure (after its retry) and a
# skip, then the rules that look past a failure or a skip. The skip comes
# after the failure, so that what a rule sees first does not depend on
# timing (all_success is upstream_failed, not skipped).
cat >"$R/dags/eq_rules.yaml" <<'EOF'
schedule: null
tasks:
  good: {command: "true"}
  bad: {command: "exit 3", retries: 1, retry_delay: 1}
  skip: {command: "exit 99", depends_on: [bad], trigger_rule: all_done}
  flaky:
    command: f="@TMP@/flaky.$SLUICE_RUN_ID"; [ -e "$f" ] || { touch "$f"; exit 1; }
    retries: 2
    retry_delay: 1
  r_all_success: {command: "true", depends_on: [good, bad, skip], trigger_rule: all_success}
  r_all_failed: {command: "true", depends_on: [good, bad, skip], trigger_rule: all_failed}
  r_all_done: {command: "true", depends_on: [good, bad, skip], trigger_rule: all_done}
  r_all_skipped: {command: "true", depends_on: [good, bad, skip], trigger_rule: all_skipped}
  r_one_success: {command: "true", depends_on: [good, bad, skip], trigger_rule: one_success}
  r_one_failed: {command: "true", depends_on: [good, bad, skip], trigger_rule: one_failed}
  r_one_done: {command: "true", depends_on: [good, bad, skip], trigger_rule: one_done}
  r_none_failed: {command: "true", depends_on: [good, bad, skip], trigger_rule: none_failed}
  r_nfmos:
    command: "true"
    depends_on: [good, bad, skip]
    trigger_rule: none_failed_min_one_success
  r_none_skipped: {command: "true", depends_on: [good, bad, skip], trigger_rule: none_skipped}
  r_always: {command: "true", depends_on: [good, bad, skip], trigger_rule: always}
  after_fail: {command: "true", depends_on: [r_all_success], trigger_rule: one_failed}
  after_fail_done: {command: "true", depends_on: [r_none_failed, flaky], trigger_rule: all_done}
  after_skip: {command: "true", depends_on: [r_all_failed, skip], trigger_rule: none_failed}
  after_skip_strict: {command: "true", depends_on: [after_skip, skip]}
EOF
sed -i "s|@TMP@|$TMP|" "$R/dags/eq_rules.yaml"
git_repo "$R" || exit 1

# The DAGs of the repository, by id (file name when there is no `dag:`).
dag_id() {
	id=$(sed -n 's/^dag: *//p' "$1")
	[ -n "$id" ] || id=$(basename "$1" .yaml)
	echo "$id"
}

# How a DAG is run, both ways: its conf, and for full_example the tasks of
# the sluice test run. full_example's sensor waits for /data/in/<ds>.csv,
# outside any test's reach, for up to 6 h: sluice test leaves it out (it
# has no downstream task), the scheduler's run has it marked success, and
# the other tasks are compared.
conf_of() {
	case $1 in
	ml_training) echo "--conf features_dir=$TMP/features" ;;
	esac
}
tasks_of() {
	case $1 in
	full_example) echo "extract transform load report poke_defaults" ;;
	esac
}
# "task:state" lines, sorted, without tasks left out of the comparison.
compare_filter() {
	sort | grep -v '^wait_for_input:'
}

# --- sluice test, one DAG after another (the examples share /tmp/sluice-demo)
ids=
for f in "$R"/dags/*.yaml; do
	id=$(dag_id "$f")
	ids="$ids $id"
	# shellcheck disable=SC2046
	(cd "$R" && "$SLUICE" --json test "dags/$(basename "$f")" $(tasks_of "$id") \
		--logical-date "$DATE" $(conf_of "$id") --parallel 8 \
		>"$TMP/test-$id.json" 2>"$TMP/test-$id.log") ||
		[ $? -eq 1 ]
	jq -r '.tasks[] | .task + ":" + .state' "$TMP/test-$id.json" |
		compare_filter >"$TMP/test-$id.states"
	test -s "$TMP/test-$id.states"
	ok $? "sluice test runs $id to its end"
done

# --- the scheduler ---------------------------------------------------------------
# The DAGs are loaded first so that no scheduled run is created: only the
# triggered runs below run (db_backup alone would catch up ~140 runs).
run "$SLUICE" dags refresh --repo "$R" --path dags --state-dir "$TMP/refresh"
expect_status 0 "the DAGs load"
pg_sql "UPDATE dags SET next_run_after = 'infinity'" >/dev/null
run "$SLUICE" dags unpause full_example
expect_status 0 "full_example (paused in its file) is unpaused"
for p in shared:4 warehouse:1 gpu:1; do
	"$SLUICE" pools set "${p%%:*}" "${p##*:}" >/dev/null || echo "# pools set $p failed"
done
sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1 "slots: 8" "queues: [default, gpu, batch]"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 60
ok $? "the scheduler reads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 60
ok $? "the worker connects"

for id in $ids; do
	# shellcheck disable=SC2046
	"$SLUICE" trigger "$id" --run-id eq --logical-date "$DATE" $(conf_of "$id") \
		>/dev/null 2>"$TMP/trigger-$id.err" || echo "# trigger $id: $(cat "$TMP/trigger-$id.err")"
done
echo "# full_example's wait_for_input is not compared: it waits for /data/in/<ds>.csv"
"$SLUICE" tasks mark full_example eq wait_for_input success >/dev/null ||
	echo "# tasks mark full_example wait_for_input failed"

for id in $ids; do
	wait_run "$id" eq 60 || echo "# run $id did not finish"
	pg_sql "SELECT ti.task_id || ':' || ti.state FROM task_instances ti JOIN runs r USING (run_pk)
		WHERE r.dag_id = '$id' AND r.run_id = 'eq' AND ti.kind = 'task'" |
		compare_filter >"$TMP/sched-$id.states"
	if cmp -s "$TMP/test-$id.states" "$TMP/sched-$id.states"; then
		ok 0 "$id: every task ends in the same state with sluice test and the scheduler"
	else
		ok 1 "$id: every task ends in the same state with sluice test and the scheduler"
		diff -u "$TMP/test-$id.states" "$TMP/sched-$id.states" |
			sed "s|^--- .*|--- sluice test|; s|^+++ .*|+++ scheduler|; s/^/# /"
	fi
done

# The written DAGs decide what they are meant to (both ways, as compared).
expect_file "$TMP/test-eq_branch.states" "after_right:skipped
anyway:success
join:success
keep:success
left:success
pick:success
right:skipped" "eq_branch: the branch not taken and its cascade are skipped, the join runs"
expect_file "$TMP/test-eq_rules.states" "after_fail:success
after_fail_done:success
after_skip:success
after_skip_strict:skipped
bad:failed
flaky:success
good:success
r_all_done:success
r_all_failed:skipped
r_all_skipped:skipped
r_all_success:upstream_failed
r_always:success
r_nfmos:upstream_failed
r_none_failed:upstream_failed
r_none_skipped:skipped
r_one_done:success
r_one_failed:success
r_one_success:success
skip:skipped" "eq_rules: every trigger rule below a success, a failure and a skip"
expect_str "$(attempts_of eq flaky)" "1:failed:w1 2:success:w1" \
	"the scheduler retried the flaky task once"
expect_jq "$TMP/test-eq_rules.json" '.tasks[] | select(.task == "flaky") | .try_number == 2' \
	"and so did sluice test"

done_testing
