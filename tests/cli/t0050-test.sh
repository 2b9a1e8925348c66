#!/bin/sh
# `sluice test FILE`: run a DAG file locally, no database or daemons.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

# A chain passing an output downstream.
cat >chain.yaml <<'EOF'
dag: chain
tasks:
  extract:
    command: echo "extracting"; echo "rows=42" >> "$SLUICE_OUTPUT"
  transform:
    command: echo "got {{ outputs.extract.rows }} rows"
    depends_on: [extract]
  load:
    command: echo "loading $SLUICE_OUT_EXTRACT_ROWS in $SLUICE_RUN_ID"
    depends_on: [transform]
EOF
run "$SLUICE" test chain.yaml --logical-date 2026-03-01T02:00:00Z
expect_status 0 "a 3-task chain succeeds"
expect_grep "$TMP/out" '^\[extract\] extracting$' "log lines are prefixed with the task id"
expect_grep "$TMP/out" '^\[transform\] got 42 rows$' "an output reaches a downstream template"
expect_grep "$TMP/out" '^\[load\] loading 42 in test__2026-03-01T02:00:00+00:00$' \
	"... and the env of a task further down, with the test__ run id"
expect_grep "$TMP/out" '^\[load\] success$' "state changes are printed"
expect_grep "$TMP/out" '^load  *success  *1  *[0-9.]*s$' "the final table"

run "$SLUICE" test chain.yaml --json
expect_status 0 "--json exits 0"
expect_jq "$TMP/out" '.dag == "chain" and .state == "success" and
	(.run_id | startswith("test__")) and (.tasks | map(.state) | unique) == ["success"] and
	.tasks[0].outputs.rows == "42"' "--json prints the summary"

# An output the job protocol cannot carry (a value that is not UTF-8) fails
# the attempt, exit 0 or not, and the log says why.
cat >badout.yaml <<'EOF'
dag: badout
tasks:
  produce:
    command: echo "rows=42" >>"$SLUICE_OUTPUT"; printf 'name=caf\351\n' >>"$SLUICE_OUTPUT"
  consume:
    command: echo "got {{ outputs.produce.rows }}"
    depends_on: [produce]
EOF
run "$SLUICE" test badout.yaml
expect_status 1 "an output that is not UTF-8 fails the run"
expect_grep "$TMP/out" "^\[produce\] \[sluice: outputs refused (none are kept; the attempt fails): \\\$SLUICE_OUTPUT line 2: the value of 'name' is not UTF-8 (byte 0xe9 at column 9)\]$" \
	"... the task's log names the reason"
expect_grep "$TMP/out" '^\[produce\] failed: exit 0 after .*; outputs refused: \$SLUICE_OUTPUT line 2: ' \
	"... and so does its state change"
expect_grep "$TMP/out" '^produce  *failed  *1 ' "... the task failed after one try"
expect_grep "$TMP/out" '^consume  *upstream_failed  *0 ' "... and nothing downstream ran"
run "$SLUICE" test badout.yaml --json
expect_jq "$TMP/out" '.tasks[0].state == "failed" and .tasks[0].exit_code == 0 and
	.tasks[0].outputs == {}' "--json: failed with exit code 0 and no outputs"

# Retries: fails twice, then succeeds.
cat >retry.yaml <<EOF
dag: retry
tasks:
  flaky:
    command: n=\$(cat "$TMP/count" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$TMP/count"; echo "try \$n"; [ \$n -ge 3 ]
    retries: 3
    retry_delay: 1s
EOF
run "$SLUICE" test retry.yaml
expect_status 0 "a task that fails twice then succeeds"
expect_grep "$TMP/out" '^flaky  *success  *3 ' "... took 3 tries"
expect_grep "$TMP/out" '^\[flaky\] up_for_retry: exit 1 after .*; retrying in 1s (try 2 of 4)$' \
	"... waiting retry_delay between them"

# A failure with no retries: all_success downstream is upstream_failed,
# all_done downstream runs.
cat >fail.yaml <<'EOF'
dag: fail
tasks:
  broken:
    command: echo oops >&2; exit 3
  after:
    command: echo should not run
    depends_on: [broken]
  cleanup:
    command: echo cleaning up
    depends_on: [broken]
    trigger_rule: all_done
EOF
run "$SLUICE" test fail.yaml
expect_status 1 "a failed task fails the run"
expect_grep "$TMP/out" '^broken  *failed  *1 ' "the task failed after one try"
expect_grep "$TMP/out" '^after  *upstream_failed  *0 ' "all_success downstream is upstream_failed"
expect_grep "$TMP/out" '^\[cleanup\] cleaning up$' "all_done downstream runs"
expect_grep "$TMP/out" '^cleanup  *success ' "... and succeeds"
expect_grep "$TMP/out" '^\[broken\] oops$' "stderr is shown too"

# Exit 99 skips; none_failed downstream runs.
cat >skip.yaml <<'EOF'
dag: skip
tasks:
  maybe:
    command: exit 99
  strict:
    command: echo strict
    depends_on: [maybe]
  lenient:
    command: echo lenient ran
    depends_on: [maybe]
    trigger_rule: none_failed
EOF
run "$SLUICE" test skip.yaml
expect_status 0 "a skipped task does not fail the run"
expect_grep "$TMP/out" '^maybe  *skipped ' "exit 99 is skipped"
expect_grep "$TMP/out" '^strict  *skipped ' "all_success downstream of a skip is skipped"
expect_grep "$TMP/out" '^\[lenient\] lenient ran$' "none_failed downstream runs"

# A timeout fails quickly.
cat >timeout.yaml <<'EOF'
dag: slow
tasks:
  sleepy:
    command: sleep 30
    timeout: 1s
EOF
start=$(date +%s)
run "$SLUICE" test timeout.yaml
took=$(($(date +%s) - start))
expect_status 1 "a timed-out task fails the run"
expect_grep "$TMP/out" '^\[sleepy\] failed: timed out' "... as timed out"
[ "$took" -lt 15 ]
ok $? "... quickly (${took}s)"

# A sensor pokes until a file appears.
cat >sensor.yaml <<EOF
dag: sensor
tasks:
  wait:
    command: test -f "$TMP/ready" || { touch "$TMP/poked"; exit 75; }
    sensor: {poke_interval: 1s, timeout: 1m}
  after:
    command: echo input is there
    depends_on: [wait]
EOF
(
	i=0
	while [ ! -f "$TMP/poked" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	touch "$TMP/ready"
) &
run "$SLUICE" test sensor.yaml
wait
expect_status 0 "a sensor succeeds once its file appears"
expect_grep "$TMP/out" '^\[wait\] up_for_reschedule: not yet (exit 75).*poking again in 1s$' \
	"... after being rescheduled"
expect_grep "$TMP/out" '^wait  *success  *1 ' "... within one try"
expect_grep "$TMP/out" '^\[after\] input is there$' "downstream ran"

# --conf values stay data.
cat >conf.yaml <<EOF
dag: conf
params: {who: nobody, n: 1}
tasks:
  greet:
    command: echo "hi {{ params.who }}"; echo n={{ params.n }}
EOF
run "$SLUICE" test conf.yaml --conf "who=\"; touch $TMP/pwned; echo \"" --conf n=7
expect_status 0 "a --conf value with shell syntax"
expect_grep "$TMP/out" "^\[greet\] hi \"; touch $TMP/pwned; echo \"$" "... is echoed verbatim"
expect_grep "$TMP/out" '^\[greet\] n=7$' "... and a typed value is used"
[ ! -e "$TMP/pwned" ]
ok $? "... and never runs"

run "$SLUICE" test conf.yaml --conf whom=x
expect_status 2 "an unknown --conf key is a usage error"
expect_grep "$TMP/err" "whom" "... naming the key"
run "$SLUICE" test conf.yaml --conf n=seven
expect_status 2 "a --conf value of the wrong type is a usage error"
run "$SLUICE" test conf.yaml nosuchtask
expect_status 2 "an unknown task is a usage error"

# A TASK list: upstream tasks left out count as succeeded.
run "$SLUICE" test chain.yaml load
expect_status 0 "a TASK list runs only those tasks"
expect_grep "$TMP/out" '^\[load\] success$' "... the named task ran"
if grep -q extract "$TMP/out"; then ok 1 "... and not its upstream"; else ok 0 "... and not its upstream"; fi

# Callbacks: on_failure after a failed run, with the run's state and failed
# tasks; on_success failing leaves the exit status alone.
cat >cbfail.yaml <<'EOF'
dag: cbfail
on_failure: echo "$SLUICE_RUN_STATE|$SLUICE_FAILED_TASKS|$SLUICE_TASK|{{ outputs.ok.rows }}" >cb.out; echo alerting; exit 3
on_success: echo never >cb.never
tasks:
  ok: {command: echo rows=7 >> "$SLUICE_OUTPUT"}
  bad: {command: exit 1}
  down: {command: "true", depends_on: [bad]}
EOF
run "$SLUICE" test cbfail.yaml
expect_status 1 "a failed run exits 1, whatever its callback does"
expect_file cb.out "failed|bad|on_failure|7" \
	"on_failure runs with SLUICE_RUN_STATE, the failed tasks (not upstream_failed) and outputs"
expect_grep "$TMP/out" '^\[on_failure\] alerting$' "its log is printed with its name"
expect_grep "$TMP/out" '^\[on_failure\] failed: exit 3' "and its state"
expect_grep "$TMP/out" '^callback on_failure: failed$' "the summary names it"
test ! -e cb.never
ok $? "on_success does not run for a failed run"
run "$SLUICE" test cbfail.yaml --json
expect_jq "$TMP/out" '.state == "failed" and .callbacks == [{"callback": "on_failure",
	"state": "failed", "exit_code": 3, "duration_ms": .callbacks[0].duration_ms}]' \
	"--json lists the callback"

cat >cbok.yaml <<'EOF'
dag: cbok
on_success: echo "$SLUICE_RUN_STATE [$SLUICE_FAILED_TASKS]"; exit 5
tasks:
  a: {command: "true"}
EOF
run "$SLUICE" test cbok.yaml
expect_status 0 "a failing on_success leaves the run success"
expect_grep "$TMP/out" '^\[on_success\] success \[\]$' "on_success sees SLUICE_RUN_STATE=success"
expect_grep "$TMP/out" '^\[on_success\] failed: exit 5' "and fails"
expect_grep "$TMP/out" '^run .*: success$' "the run stays success"
run "$SLUICE" test cbok.yaml a
if grep -q on_success "$TMP/out"; then ok 1 "a TASK list runs no callback"; else ok 0 "a TASK list runs no callback"; fi

# Pools and priority: a pool has 1 slot unless --pool says otherwise; the
# one slot goes to the highest priority first. Each task notes when it
# starts and whether another task of the pool was running then.
cat >pooltask.sh <<EOF
touch "$TMP/busy.\$1"; echo "\$1" >>"$TMP/order"; sleep 0.5
for f in "$TMP"/busy.*; do [ "\$f" = "$TMP/busy.\$1" ] || echo "\$1" >>"$TMP/overlap"; done
rm "$TMP/busy.\$1"
EOF
cat >pooled.yaml <<EOF
dag: pooled
defaults: {pool: wh}
tasks:
  low: {command: sh pooltask.sh low, priority: 1}
  high: {command: sh pooltask.sh high, priority: 5}
  mid: {command: sh pooltask.sh mid, priority: 3}
EOF
run "$SLUICE" test pooled.yaml
expect_status 0 "a DAG of pooled tasks succeeds"
test ! -e "$TMP/overlap"
ok $? "a pool not given on the command line has one slot: no two tasks of it overlap"
expect_file "$TMP/order" "high
mid
low" "the slot goes to the highest priority first"
rm -f "$TMP/order"
run "$SLUICE" test pooled.yaml --pool wh=3
expect_status 0 "--pool wh=3"
test -e "$TMP/overlap"
ok $? "with three slots the tasks of the pool run together"
run "$SLUICE" test pooled.yaml --pool nope=2
expect_status 2 "--pool naming a pool no task uses is a usage error"
expect_grep "$TMP/err" "no task of DAG 'pooled' uses pool 'nope'" "... that names the pool"
run "$SLUICE" test pooled.yaml --pool wh=0
expect_status 2 "--pool with zero slots is a usage error"

# An invalid file.
cat >bad.yaml <<'EOF'
dag: bad
tasks:
  a:
    command: echo a
    depends_on: [nope]
EOF
run "$SLUICE" test bad.yaml
expect_status 1 "an invalid DAG file exits 1"
expect_grep "$TMP/err" '^bad\.yaml:[0-9]*:[0-9]*: ' "... with file:line:col"

run "$SLUICE" test
expect_status 2 "no PATH is a usage error"
run "$SLUICE" test --help
expect_status 0 "--help"
expect_grep "$TMP/out" "count as succeeded" "--help explains a TASK list"

# The repository's own example, from the repository root.
cd "$SRC_DIR" || exit 1
run "$SLUICE" test dags-examples/hello.yaml
expect_status 0 "dags-examples/hello.yaml runs from the repository root"
expect_grep "$TMP/out" '^\[done\] counted 3 words$' "... passing its output downstream"

done_testing
