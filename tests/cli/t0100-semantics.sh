#!/bin/sh
# Workflow semantics end to end, with sluice-scheduler and sluice-worker
# against a private PostgreSQL and a git repository of DAGs: params and
# conf (type checks, injection-proof values), outputs (runs show, templates
# and environment downstream, a bad key), skip and branching (also through
# `sluice test`), a missing pool, and a pool of one slot shared by tasks of
# different priorities across a scheduler restart.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db semantics

# run_done RUN_ID: the run has finished.
run_done() {
	wait_sql "SELECT state IN ('success', 'failed') FROM runs WHERE run_id = '$1'"
}

# states RUN_ID: "task:state ..." in file order.
states() {
	pg_sql "SELECT string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
		FROM task_instances ti JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.kind = 'task'"
}

PORT=$(free_port)
R=$TMP/repo
mkdir -p "$R/dags"

cat >"$R/dags/params.yaml" <<'EOF'
schedule: null
params: {region: eu, n: 3, flag: false}
tasks:
  show:
    command: >-
      printf 'region=[%s] n=[%s] flag=[%s]\n' "{{ params.region }}" "$SLUICE_PARAM_N"
      "{{ params.flag }}"; echo unquoted {{ params.region }}
EOF
cat >"$R/dags/outputs.yaml" <<'EOF'
schedule: null
tasks:
  produce:
    command: printf 'rows=42\nbad-key=1\nnote=a b=c\n' >>"$SLUICE_OUTPUT"
  consume:
    command: >-
      echo "template={{ outputs.produce.rows }} env=$SLUICE_OUT_PRODUCE_ROWS
      note={{ outputs.produce.note }}"
    depends_on: [produce]
EOF
# Outputs a RESULT frame cannot carry: a key longer than a protocol id
# (the scheduler's decoder refuses it), a value that is not UTF-8 (the
# worker's encoder cannot write it).
cat >"$R/dags/badout.yaml" <<'EOF'
schedule: null
tasks:
  longkey:
    command: printf '%0250d=1\n' 0 | tr 0 k >>"$SLUICE_OUTPUT"
  latin1:
    command: printf 'name=caf\351\n' >>"$SLUICE_OUTPUT"
EOF
cat >"$R/dags/branchy.yaml" <<'EOF'
schedule: null
tasks:
  skipper: {command: "exit 99"}
  strict: {command: "true", depends_on: [skipper]}
  lenient: {command: "true", depends_on: [skipper], trigger_rule: none_failed}
  pick:
    command: echo "branch=left" >>"$SLUICE_OUTPUT"
  left: {command: "true", depends_on: [pick]}
  right: {command: "true", depends_on: [pick]}
  after_right: {command: "true", depends_on: [right]}
  join:
    command: "true"
    depends_on: [left, after_right]
    trigger_rule: none_failed_min_one_success
EOF
sed 's/branch=left/branch=left,after_right/' "$R/dags/branchy.yaml" >"$R/dags/badbranch.yaml"
cat >"$R/dags/nopool.yaml" <<'EOF'
schedule: null
tasks:
  first: {command: "true"}
  load: {command: "true", pool: warehouse, depends_on: [first]}
  report: {command: "true", depends_on: [load]}
EOF
# File order is the reverse of priority order, so claiming in file order
# (or by ti_id) would be caught.
cat >"$R/dags/pooled.yaml" <<'EOF'
schedule: null
defaults: {pool: solo}
tasks:
  p1: {command: "sleep 1", priority: 1}
  p2: {command: "sleep 1", priority: 2}
  p3: {command: "sleep 1", priority: 3}
  p4:
    command: while [ ! -e "$GO" ]; do sleep 0.1; done
    priority: 4
    env: {GO: "@GO@"}
EOF
sed -i "s|@GO@|$TMP/go|" "$R/dags/pooled.yaml"
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
sed -i 's/^slots: .*/slots: 4/' "$TMP/w1.yaml"
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed' 60
ok $? "the scheduler reads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1' 60
ok $? "the worker connects"

# --- params and conf -----------------------------------------------------------
run "$SLUICE" trigger params --run-id d1
expect_status 0 "trigger with the defaults"
INJ="'; touch $TMP/MARK1; '"
INJ2="\$(touch $TMP/MARK2)\`touch $TMP/MARK3\`"
run "$SLUICE" trigger params --run-id c1 --conf "region=$INJ" --conf n=7
expect_status 0 "trigger --conf with shell syntax in a value"
run "$SLUICE" trigger params --run-id c2 --conf-json "{\"region\": \"$INJ2\", \"flag\": true}"
expect_status 0 "trigger --conf-json"
run "$SLUICE" trigger params --run-id bad1 --conf n=seven
expect_status 2 "--conf with the wrong type: usage error"
expect_grep "$TMP/err" "--conf n=seven: param 'n' expects an integer, got 'seven'" \
	"naming the flag and the param"
run "$SLUICE" trigger params --run-id bad2 --conf-json '{"n": "7"}'
expect_status 2 "--conf-json with the wrong type: usage error"
expect_grep "$TMP/err" "--conf-json: param 'n' expects an integer, got a string" \
	"naming the flag and the param"
run "$SLUICE" trigger params --run-id bad3 --conf regoin=x
expect_status 2 "an undeclared param: usage error"
expect_grep "$TMP/err" "unknown param 'regoin' (did you mean 'region'?)" "with a hint"
sql_c="SELECT count(*) FROM runs WHERE run_id LIKE 'bad%'"
test "$(pg_sql "$sql_c")" = 0
ok $? "refused triggers create no run"
test "$(pg_sql "SELECT conf->>'region' FROM runs WHERE run_id = 'c1'")" = "$INJ"
ok $? "the conf is stored with the run, as given"

for r in d1 c1 c2; do run_done $r || echo "# run $r did not finish"; done
run "$SLUICE" logs params d1 show
expect_file "$TMP/out" "region=[eu] n=[3] flag=[false]
unquoted eu" "the defaults reach the command as {{ params.X }} and SLUICE_PARAM_X"
run "$SLUICE" logs params c1 show
expect_file "$TMP/out" "region=[$INJ] n=[7] flag=[false]
unquoted '; touch $TMP/MARK1; '" "a --conf value full of shell syntax reaches the command verbatim"
run "$SLUICE" logs params c2 show
expect_file "$TMP/out" "region=[$INJ2] n=[3] flag=[true]
unquoted $INJ2" "so does a --conf-json value with \$( ) and backquotes"
test ! -e "$TMP/MARK1" && test ! -e "$TMP/MARK2" && test ! -e "$TMP/MARK3"
ok $? "and none of the commands in the values ran"

# --- outputs -------------------------------------------------------------------
run "$SLUICE" trigger outputs --run-id o1
run_done o1
run "$SLUICE" logs outputs o1 consume
expect_file "$TMP/out" "template=42 env=42 note=a b=c" \
	"downstream gets {{ outputs.TASK.KEY }} and SLUICE_OUT_TASK_KEY"
run "$SLUICE" logs outputs o1 produce
expect_grep "$TMP/out" \
	"^\[sluice: \$SLUICE_OUTPUT line 2 ignored: 'bad-key' is not a valid key" \
	"an invalid key in the outputs file is named in the task's log"
run "$SLUICE" runs show outputs o1 --json
expect_jq "$TMP/out" '.tasks[0].outputs == {"rows": "42", "note": "a b=c"} and
	.tasks[1].outputs == {} and .tasks[0].reason == null' \
	"runs show --json: each task's outputs"
run "$SLUICE" runs show outputs o1
expect_grep "$TMP/out" '^  produce.rows=42$' "runs show lists the outputs"

run "$SLUICE" trigger badout --run-id o2
run_done o2
test "$(states o2)" = "longkey:failed latin1:failed"
ok $? "outputs the protocol cannot carry fail their attempts, and the results arrive"
test "$(pg_sql "SELECT string_agg(DISTINCT a.exit_code::text, ',') FROM attempts a
	JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk) WHERE r.run_id = 'o2'")" = 0
ok $? "... each with the command's exit code 0"
run "$SLUICE" logs badout o2 longkey
expect_grep "$TMP/out" \
	"^\[sluice: outputs refused (none are kept; the attempt fails): \\\$SLUICE_OUTPUT line 1: key 'k*\.\.\.' is 250 characters, more than 200\]$" \
	"the task's log names the reason"
run "$SLUICE" logs badout o2 latin1
expect_grep "$TMP/out" "the value of 'name' is not UTF-8 (byte 0xe9 at column 9)\]$" \
	"... for either"
expect_grep "$TMP/w1.log" "event=outputs_refused .*reason=\"\\\$SLUICE_OUTPUT line 1: the value of 'name'" \
	"the worker logs it"

# --- skip and branching ----------------------------------------------------------
run "$SLUICE" trigger branchy --run-id b1
run_done b1
test "$(states b1)" = "skipper:skipped strict:skipped lenient:success pick:success left:success right:skipped after_right:skipped join:success"
ok $? "exit 99 skips; all_success below it is skipped, none_failed runs; the branch not taken is skipped, the skip follows trigger rules, the join runs"
[ "$(states b1)" = "skipper:skipped strict:skipped lenient:success pick:success left:success right:skipped after_right:skipped join:success" ] ||
	echo "# $(states b1)"
test "$(pg_sql "SELECT state FROM runs WHERE run_id = 'b1'")" = success
ok $? "the run succeeds"
run "$SLUICE" runs show branchy b1 --json
expect_jq "$TMP/out" '[.tasks[] | select(.reason != null) | .task + ": " + .reason]
	== ["right: branch not taken by pick"]' "runs show --json gives the reason of the skip"
run "$SLUICE" runs show branchy b1
expect_grep "$TMP/out" '^  right: branch not taken by pick$' "and so does the table"

"$SLUICE" test "$R/dags/branchy.yaml" --json >"$TMP/test.json" 2>/dev/null
jq -r '[.tasks[] | .task + ":" + .state] | join(" ")' "$TMP/test.json" >"$TMP/test.states"
expect_file "$TMP/test.states" "$(states b1)" "sluice test branches exactly as the scheduler does"

run "$SLUICE" trigger badbranch --run-id bb1
run_done bb1
test "$(states bb1)" = "skipper:skipped strict:skipped lenient:success pick:failed left:upstream_failed right:upstream_failed after_right:upstream_failed join:upstream_failed"
ok $? "a branch naming a task not directly downstream fails the branch task"
[ "$(states bb1)" = "skipper:skipped strict:skipped lenient:success pick:failed left:upstream_failed right:upstream_failed after_right:upstream_failed join:upstream_failed" ] ||
	echo "# $(states bb1)"
run "$SLUICE" runs show badbranch bb1 --json
expect_jq "$TMP/out" '.state == "failed" and (.tasks[] | select(.task == "pick") | .reason)
	== "branch names '"'after_right'"', which is not a direct downstream task of '"'pick'"' (left, right)"' \
	"with the reason"

# --- a pool that does not exist -----------------------------------------------
run "$SLUICE" trigger nopool --run-id np1
run_done np1
ok $? "a run with a task of a missing pool finishes instead of waiting forever"
test "$(states np1)" = "first:success load:failed report:upstream_failed"
ok $? "the task fails (no retry) and downstream is upstream_failed"
run "$SLUICE" runs show nopool np1 --json
expect_jq "$TMP/out" '.state == "failed" and (.tasks[1] | .reason ==
	"pool '"'warehouse'"' does not exist (create it with: sluice pools set warehouse SLOTS)"
	and .try_number == 0)' "runs show --json: the reason, and no attempt was made"
run "$SLUICE" runs show nopool np1
expect_grep "$TMP/out" "^  load: pool 'warehouse' does not exist" "the table says why"
"$SLUICE" pools set warehouse 1 >/dev/null || exit 1
run "$SLUICE" tasks clear nopool np1 --failed --downstream
expect_status 0 "the fix: create the pool, clear the failed tasks"
run_done np1
run "$SLUICE" runs show nopool np1 --json
expect_jq "$TMP/out" '.state == "success" and all(.tasks[]; .reason == null)' \
	"the run succeeds, and the old reason is gone"

# --- a pool of one slot, priorities, a scheduler restart ---------------------------
"$SLUICE" pools set solo 1 >/dev/null || exit 1
run "$SLUICE" trigger pooled --run-id pl1
expect_status 0 "four tasks in a pool of one slot"
wait_sql "SELECT count(*) = 1 FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'pl1'"
ok $? "one is dispatched"
run "$SLUICE" pools list --json
expect_jq "$TMP/out" '.[] | select(.pool == "solo") | .slots == 1 and .used == 1 and
	.queued == 3 and .open == 0' "pools list: 1 used, 3 queued, 0 open"
touch "$TMP/go"
stop_daemon s1
ok $status "SIGTERM stops the scheduler in the middle of the run"
start_scheduler s1
run_done pl1
ok $? "a new scheduler finishes the run"
test "$(pg_sql "SELECT state FROM runs WHERE run_id = 'pl1'")" = success
ok $? "the run succeeds"
test "$(pg_sql "SELECT count(*) FROM attempts a JOIN attempts b ON a.attempt_id < b.attempt_id
	JOIN task_instances ta ON ta.ti_id = a.ti_id JOIN task_instances tb ON tb.ti_id = b.ti_id
	JOIN runs r ON r.run_pk = ta.run_pk AND r.run_pk = tb.run_pk
	WHERE r.run_id = 'pl1' AND a.queued_at < b.ended_at AND b.queued_at < a.ended_at")" = 0
ok $? "no two attempts of the pool overlapped from dispatch to end, across the restart"
test "$(pg_sql "SELECT string_agg(ti.task_id, ' ' ORDER BY a.queued_at, a.attempt_id)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'pl1'")" = "p4 p3 p2 p1"
ok $? "the pool's slot went to the highest priority first"
pg_sql "SELECT string_agg(ti.task_id || '@' || a.queued_at, ' ' ORDER BY a.queued_at)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'pl1'" | sed 's/^/# /'
run "$SLUICE" pools list --json
expect_jq "$TMP/out" '.[] | select(.pool == "solo") | .used == 0 and .queued == 0 and .open == 1' \
	"pools list: the slot is open again"

stop_daemon w1
stop_daemon s1
done_testing
