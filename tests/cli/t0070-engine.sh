#!/bin/sh
# The scheduler's database core (lib/engine/) through engine_tool, against
# a private PostgreSQL: runs driven end to end by alternating advance, claim
# and result, retries, fencing, concurrent claims, trigger rules, catch-up,
# max_active_runs, pools and lost workers. Each DAG has its own queue, so
# the sections do not claim each other's tasks.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

ET=${SLUICE_ENGINE_TOOL:?SLUICE_ENGINE_TOOL must point at engine_tool}
NOW=$(date -u -d 2026-03-01T12:00:00Z +%s)

pg_start
pg_newdb engine
"$SLUICE" db init >/dev/null || exit 1

# dag NAME YAML: write $TMP/NAME.yaml and seed it into the database.
dag() {
	printf '%s\n' "$2" >"$TMP/$1.yaml"
	seed_dag "$TMP/$1.yaml" >/dev/null || exit 1
}

# tis RUN_ID: "task:state ..." of a run, in file order.
tis() {
	pg_sql "SELECT string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
		FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = '$1'"
}

# et ARGS...: engine_tool, output in $TMP/out, status in $status.
et() { run "$ET" "$@"; }

# claim WORKER QUEUE NOW [SLOTS]: claim; $A and $F are the first dispatch's
# attempt id and fencing token, and $W the worker.
claim() {
	W=$1
	et claim "$1" "$2" "${4:-1}" "$3"
	A=$(jq -r '.dispatches[0].attempt_id' "$TMP/out")
	F=$(jq -r '.dispatches[0].fencing_token' "$TMP/out")
}

# finish OUTCOME EXIT NOW [OUTPUTS]: started + result of $A/$F, sent by $W.
finish() {
	"$ET" started "$W" "$A" "$F" "$3" >/dev/null
	et result "$W" "$A" "$F" "$1" "$2" "$3" ${4:+"$4"}
}

# --- a 3-task chain, end to end ------------------------------------------------
dag chain 'schedule: null
params: {region: eu}
env: {DAG_ENV: d}
defaults: {queue: qchain}
tasks:
  a:
    command: echo "rows=5" >> "$SLUICE_OUTPUT"
  b:
    command: ./load.sh --day "{{ ds }}" --region "{{ params.region }}" --rows "{{ outputs.a.rows }}"
    depends_on: [a]
    env: {TASK_ENV: t}
    cwd: sub
    timeout: 90s
  c:
    command: "true"
    depends_on: [b]'
"$SLUICE" trigger chain --run-id c1 --logical-date 2026-03-01T00:00:00Z \
	--conf region=us >/dev/null || exit 1

et advance "$NOW"
expect_status 0 "advance"
sql_is "SELECT state FROM runs WHERE run_id = 'c1'" "running" "the run started"
run tis c1
expect_file "$TMP/out" "a:scheduled b:pending c:pending" "the root is scheduled, the rest wait"
claim w1 qchain "$NOW"
jq_ok '.dispatches | length == 1 and .[0].task == "a" and .[0].try_number == 1 and
	.[0].dag == "chain" and .[0].run_id == "c1" and .[0].cwd == "" and
	(.[0].commit | length == 40)' "$TMP/out" "claim hands out the root, try 1"
sql_is "SELECT ti.state || ' ' || ti.try_number || ' ' || a.worker_id || ' ' ||
	(a.ended_at IS NULL)::text FROM task_instances ti JOIN attempts a USING (ti_id)
	WHERE ti.task_id = 'a'" "queued 1 w1 true" "the TI is queued with a live attempt"
# The right attempt and token from another worker: refused, nothing changes.
et started evil "$A" "$F" "$NOW"
jq_ok '.accepted == false' "$TMP/out" "another worker's STARTED is refused"
et log evil "$A" "$F" 0 "forged" 0
jq_ok '.accepted == false' "$TMP/out" "so is its LOG"
et result evil "$A" "$F" success 0 "$NOW" '{"rows": "666"}'
jq_ok '.accepted == false' "$TMP/out" "and its RESULT"
sql_is "SELECT ti.state || ' ' || (a.started_at IS NULL)::text || ' ' || (a.ended_at IS NULL)::text ||
	' ' || a.log_bytes || ' ' || (SELECT count(*) FROM log_chunks l WHERE l.attempt_id = a.attempt_id)
	FROM attempts a JOIN task_instances ti USING (ti_id) WHERE a.attempt_id = $A" \
	"queued true true 0 0" "the attempt and its task are untouched"
et started "$W" "$A" "$F" "$NOW"
sql_is "SELECT state FROM task_instances WHERE ti_id = (SELECT ti_id FROM attempts
	WHERE attempt_id = $A)" "running" "started: the TI is running"
et log "$W" "$A" "$F" 0 "hello log" 0
jq_ok '.accepted' "$TMP/out" "a log chunk is accepted"
sql_is "SELECT convert_from(data, 'UTF8') FROM log_chunks WHERE attempt_id = $A" "hello log" \
	"and stored"
et result "$W" "$A" "$F" success 0 "$NOW" '{"rows": "5"}'
jq_ok '.accepted' "$TMP/out" "the result is accepted"
run tis c1
expect_file "$TMP/out" "a:success b:pending c:pending" "a succeeded"
et advance "$NOW"
run tis c1
expect_file "$TMP/out" "a:success b:scheduled c:pending" "advance schedules b"
claim w1 qchain "$NOW"
jq_ok '.dispatches[0] | .task == "b" and
	.command == "./load.sh --day \"${SLUICE_DS}\" --region \"${SLUICE_PARAM_REGION}\" --rows \"${SLUICE_OUT_A_ROWS}\"" and
	.cwd == "sub" and .timeout_s == 90 and .sensor == false and
	(.env | map({(.[0]): .[1]}) | add | .SLUICE_DS == "2026-03-01" and
	 .SLUICE_PARAM_REGION == "us" and .SLUICE_OUT_A_ROWS == "5" and .DAG_ENV == "d" and
	 .TASK_ENV == "t" and .SLUICE_RUN_ID == "c1" and .SLUICE_TRY_NUMBER == "1")' "$TMP/out" \
	"the dispatch has the expanded command, cwd, timeout and env (conf, outputs, env)"
finish success 0 "$NOW"
et advance "$NOW"
claim w1 qchain "$NOW"
jq_ok '.dispatches[0].task == "c"' "$TMP/out" "then c"
finish success 0 "$NOW"
sql_is "SELECT state FROM runs WHERE run_id = 'c1'" "running" "the run waits for advance"
et advance "$NOW"
sql_is "SELECT state, ended_at IS NOT NULL FROM runs WHERE run_id = 'c1'" "success|t" \
	"advance rolls the run up to success, with an end time"
run tis c1
expect_file "$TMP/out" "a:success b:success c:success" "every task succeeded"
"$SLUICE" runs show chain c1 --json >"$TMP/show" 2>&1
jq_ok '.state == "success" and ([.tasks[].worker] == ["w1","w1","w1"])' "$TMP/show" \
	"runs show agrees"

# --- retries, back-off, fencing --------------------------------------------------
dag flaky 'schedule: null
defaults: {queue: qflaky}
tasks:
  t:
    command: "false"
    retries: 2
    retry_delay: 10s
    retry_backoff: exponential'
"$SLUICE" trigger flaky --run-id f1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w1 qflaky "$NOW"
A1=$A F1=$F
finish failed 1 "$NOW"
sql_is "SELECT ti.state, ti.next_retry_at = to_timestamp($NOW + 10) FROM task_instances ti
	JOIN runs USING (run_pk) WHERE run_id = 'f1'" "up_for_retry|t" \
	"a failure with retries left: up_for_retry after retry_delay"
et advance $((NOW + 9))
run tis f1
expect_file "$TMP/out" "t:up_for_retry" "not before its time"
et claim w1 qflaky 1 $((NOW + 9))
jq_ok '.dispatches == []' "$TMP/out" "nothing to claim meanwhile"
et advance $((NOW + 10))
run tis f1
expect_file "$TMP/out" "t:scheduled" "scheduled again once due"
claim w1 qflaky $((NOW + 10))
A2=$A F2=$F
jq_ok '.dispatches[0].try_number == 2' "$TMP/out" "try 2"
et result "$W" "$A1" "$F1" success 0 $((NOW + 11))
jq_ok '.accepted == false' "$TMP/out" "a stale RESULT of try 1 is ignored"
et result "$W" "$A2" "$F1" success 0 $((NOW + 11))
jq_ok '.accepted == false' "$TMP/out" "a RESULT with an old fencing token is ignored"
et log "$W" "$A2" "$F1" 0 "x" 0
jq_ok '.accepted == false' "$TMP/out" "so is a LOG"
run tis f1
expect_file "$TMP/out" "t:queued" "the task is untouched"
A=$A2 F=$F2
finish failed 1 $((NOW + 11))
sql_is "SELECT ti.state, ti.next_retry_at = to_timestamp($NOW + 31) FROM task_instances ti
	JOIN runs USING (run_pk) WHERE run_id = 'f1'" "up_for_retry|t" \
	"second failure: exponential back-off, 20 s"
"$ET" advance $((NOW + 31)) >/dev/null
claim w1 qflaky $((NOW + 31))
jq_ok '.dispatches[0].try_number == 3' "$TMP/out" "try 3"
finish success 0 $((NOW + 32))
"$ET" advance $((NOW + 32)) >/dev/null
sql_is "SELECT string_agg(a.try_number || ':' || a.outcome, ' ' ORDER BY a.try_number),
	count(DISTINCT a.fencing_token) = count(*) AND min(a.fencing_token) > 0, min(r.state)
	FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
	WHERE r.run_id = 'f1'" "1:failed 2:failed 3:success|t|success" \
	"three attempts, each with a fencing token of its own, the run succeeded"

# --- sensors: a reschedule uses no try -------------------------------------------
dag sensor 'schedule: null
defaults: {queue: qsensor}
tasks:
  wait:
    command: exit 75
    sensor: {poke_interval: 5m, timeout: 8m}'
"$SLUICE" trigger sensor --run-id s1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w7 qsensor "$NOW"
jq_ok '.dispatches[0].sensor' "$TMP/out" "a sensor's dispatch says so"
finish reschedule 75 "$NOW"
sql_is "SELECT ti.state, ti.next_retry_at = to_timestamp($NOW + 300), ti.max_tries,
	ti.try_number, ti.poke_number
	FROM task_instances ti JOIN runs USING (run_pk) WHERE run_id = 's1'" \
	"up_for_reschedule|t|1|1|1" "exit 75: poke again after poke_interval, without using a retry"
"$ET" advance $((NOW + 300)) >/dev/null
claim w7 qsensor $((NOW + 300))
jq_ok '.dispatches[0] | .try_number == 1 and (.env | map({(.[0]): .[1]}) | add |
	.SLUICE_TRY_NUMBER == "1" and .SLUICE_POKE_NUMBER == "2")' "$TMP/out" \
	"the second poke is poke 2 of try 1"
finish reschedule 75 $((NOW + 300))
run tis s1
expect_file "$TMP/out" "wait:up_for_reschedule" "second poke, still within the timeout"
"$ET" advance $((NOW + 600)) >/dev/null
claim w7 qsensor $((NOW + 600))
finish reschedule 75 $((NOW + 600))
sql_is "SELECT ti.state, count(a.*) FROM task_instances ti JOIN runs r USING (run_pk)
	JOIN attempts a USING (ti_id) WHERE r.run_id = 's1' GROUP BY ti.state" "failed|3" \
	"past the sensor's timeout since the first poke: failed"
sql_is "SELECT string_agg(a.try_number || '.' || a.poke_number, ' ' ORDER BY a.attempt_id),
	min(ti.max_tries) FROM task_instances ti JOIN runs r USING (run_pk)
	JOIN attempts a USING (ti_id) WHERE r.run_id = 's1'" "1.1 1.2 1.3|1" \
	"a poke is not a try: the three pokes are pokes 1, 2, 3 of try 1"
sql_is "SELECT ti.reason FROM task_instances ti JOIN runs r USING (run_pk)
	WHERE r.run_id = 's1'" "sensor timed out after 10m (timeout 8m)" \
	"the reason says how long the sensor waited"

# --- the database refuses a second live attempt ----------------------------------
"$SLUICE" trigger flaky --run-id f2 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w1 qflaky "$NOW"
run pg_sql "INSERT INTO attempts (ti_id, try_number) SELECT ti_id, 9 FROM attempts
	WHERE attempt_id = $A"
expect_status 1 "a second live attempt of one TI is refused"
expect_grep "$TMP/err" "attempts_one_live_key" "by the partial unique index"

# --- fail-worker ------------------------------------------------------------------
et fail-worker w1 $((NOW + 1))
jq_ok '.ended == 1' "$TMP/out" "fail-worker ends the worker's live attempt"
sql_is "SELECT a.outcome, ti.state, ti.next_retry_at = to_timestamp($NOW + 11)
	FROM attempts a JOIN task_instances ti USING (ti_id) WHERE a.attempt_id = $A" \
	"lost|up_for_retry|t" "as lost; the TI is retried after its delay"
et result "$W" "$A" "$F" success 0 $((NOW + 2))
jq_ok '.accepted == false' "$TMP/out" "the lost worker's late RESULT is ignored"

# --- two claimers never hand out the same TI -------------------------------------
wide='schedule: null
max_active_tasks: 100
defaults: {queue: qwide}
tasks:'
i=1
while [ $i -le 60 ]; do
	wide="$wide
  t$i: {command: \"true\"}"
	i=$((i + 1))
done
dag wide "$wide"
"$SLUICE" trigger wide --run-id w1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
sql_is "SELECT count(*) FROM task_instances WHERE queue = 'qwide' AND state = 'scheduled'" \
	60 "60 scheduled TIs"
pids=
for k in 1 2 3 4; do
	"$ET" claim "cw$k" qwide 20 "$NOW" >"$TMP/claim$k" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
cat "$TMP/claim1" "$TMP/claim2" "$TMP/claim3" "$TMP/claim4" |
	jq -s '[.[].dispatches[].ti_id] | (length == 60) and (unique | length == 60)' >"$TMP/c"
expect_file "$TMP/c" true "four concurrent claims hand out 60 distinct TIs, none twice"
sql_is "SELECT count(*), count(DISTINCT ti_id) FROM attempts a JOIN task_instances ti
	USING (ti_id) WHERE ti.queue = 'qwide'" "60|60" "one attempt per TI"

# --- trigger rules through real states -------------------------------------------
dag rules 'schedule: null
defaults: {queue: qrules}
tasks:
  ok: {command: "true"}
  bad: {command: "false"}
  sk: {command: exit 99}
  slow: {command: "true"}
  t_all_success: {command: "true", depends_on: [ok, bad]}
  t_after_uf: {command: "true", depends_on: [t_all_success]}
  t_all_done: {command: "true", depends_on: [ok, bad], trigger_rule: all_done}
  t_one_failed: {command: "true", depends_on: [bad, slow], trigger_rule: one_failed}
  t_none_failed: {command: "true", depends_on: [ok, sk], trigger_rule: none_failed}
  t_skip: {command: "true", depends_on: [sk]}
  t_after_skip: {command: "true", depends_on: [t_skip]}
  t_none_failed_bad: {command: "true", depends_on: [sk, bad], trigger_rule: none_failed}'
"$SLUICE" trigger rules --run-id r1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
W=w2
et claim w2 qrules 10 "$NOW"
jq -r '.dispatches[] | "\(.task) \(.attempt_id) \(.fencing_token)"' "$TMP/out" >"$TMP/rd"
run cut -d' ' -f1 "$TMP/rd"
expect_file "$TMP/out" "ok
bad
sk
slow" "the four roots are claimed, in file order"
while read -r task A F; do
	case $task in
	ok) finish success 0 "$NOW" ;;
	bad) finish failed 1 "$NOW" ;;
	sk) finish skipped 99 "$NOW" ;;
	esac
done <"$TMP/rd"
et advance "$NOW"
run tis r1
expect_file "$TMP/out" "ok:success bad:failed sk:skipped slow:queued t_all_success:upstream_failed t_after_uf:upstream_failed t_all_done:scheduled t_one_failed:scheduled t_none_failed:scheduled t_skip:skipped t_after_skip:skipped t_none_failed_bad:upstream_failed" \
	"all_success -> upstream_failed (cascading), all_done, one_failed (early), none_failed with a skipped upstream, all_success -> skipped (cascading)"
sql_is "SELECT state FROM runs WHERE run_id = 'r1'" running "the run is still running"
A=$(awk '$1 == "slow" {print $2}' "$TMP/rd") F=$(awk '$1 == "slow" {print $3}' "$TMP/rd")
finish success 0 "$NOW"
et claim w2 qrules 10 "$NOW"
jq -r '.dispatches[] | "\(.attempt_id) \(.fencing_token)"' "$TMP/out" >"$TMP/rd"
while read -r A F; do finish success 0 "$NOW"; done <"$TMP/rd"
et advance "$NOW"
sql_is "SELECT state, ended_at IS NOT NULL FROM runs WHERE run_id = 'r1'" "failed|t" \
	"once everything is finished, a run with a failed task has failed"

# --- depends_on_past --------------------------------------------------------------
dag past 'schedule: null
defaults: {queue: qpast}
tasks:
  p: {command: "true", depends_on_past: true}'
"$SLUICE" trigger past --run-id p1 --logical-date 2026-02-01T00:00:00Z >/dev/null || exit 1
"$SLUICE" trigger past --run-id p2 --logical-date 2026-02-02T00:00:00Z >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
sql_is "SELECT string_agg(r.run_id || ':' || ti.state, ' ' ORDER BY r.run_id) FROM runs r
	JOIN task_instances ti USING (run_pk) WHERE r.dag_id = 'past'" "p1:scheduled p2:pending" \
	"depends_on_past: the later run waits for the earlier one"
claim w3 qpast "$NOW"
finish success 0 "$NOW"
"$ET" advance "$NOW" >/dev/null
run tis p2
expect_file "$TMP/out" "p:scheduled" "and goes once it succeeded"

# --- a paused DAG's running runs go on, its queued ones wait ----------------------
"$SLUICE" dags pause past >/dev/null || exit 1
"$SLUICE" trigger past --run-id p3 --logical-date 2026-02-03T00:00:00Z >/dev/null || exit 1
claim w3 qpast "$NOW" 5
jq_ok '[.dispatches[].run_id] == ["p2"]' "$TMP/out" \
	"paused: the running run's task is claimed, nothing of the queued run"
finish success 0 "$NOW"
"$ET" advance "$NOW" >/dev/null
sql_is "SELECT string_agg(r.run_id || ':' || r.state || ':' || ti.state, ' ' ORDER BY r.run_id)
	FROM runs r JOIN task_instances ti USING (run_pk) WHERE r.dag_id = 'past'" \
	"p1:success:success p2:success:success p3:queued:pending" \
	"the running run finishes; the queued run is not advanced"
"$SLUICE" dags unpause past >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
sql_is "SELECT string_agg(r.run_id || ':' || ti.state, ' ' ORDER BY r.run_id)
	FROM runs r JOIN task_instances ti USING (run_pk) WHERE r.dag_id = 'past'" \
	"p1:success p2:success p3:scheduled" "once unpaused, it goes on"

# --- catch-up and max_active_runs -------------------------------------------------
dag hourly 'schedule: "0 * * * *"
start_date: 2026-03-01T07:00:00Z
catchup: true
tasks:
  t: {command: "true"}'
dag hourly_nc 'schedule: "0 * * * *"
start_date: 2026-03-01T07:00:00Z
catchup: false
tasks:
  t: {command: "true"}'
dag limited 'schedule: "0 * * * *"
start_date: 2026-03-01T07:00:00Z
catchup: true
max_active_runs: 2
tasks:
  t: {command: "true"}'
et schedule "$NOW"
jq_ok '.created == 8' "$TMP/out" "schedule creates 5 + 1 + 2 runs"
sql_is "SELECT string_agg(to_char(logical_date AT TIME ZONE 'UTC', 'HH24') || '-' ||
	to_char(data_interval_end AT TIME ZONE 'UTC', 'HH24'), ' ' ORDER BY logical_date)
	FROM runs WHERE dag_id = 'hourly' AND run_type = 'scheduled'" "07-08 08-09 09-10 10-11 11-12" \
	"catchup true: exactly the five missed intervals"
sql_is "SELECT string_agg(run_id, ' ') FROM runs WHERE dag_id = 'hourly_nc'" \
	"scheduled__2026-03-01T11:00:00+00:00" "catchup false: only the latest interval"
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'limited'" 2 "max_active_runs 2: two runs"
sql_is "SELECT next_run_after = '2026-03-01T13:00Z' FROM dags WHERE dag_id = 'hourly'" t \
	"next_run_after is the end of the next interval"
et schedule "$NOW"
jq_ok '.created == 0' "$TMP/out" "running it again creates nothing"
pg_sql "UPDATE runs SET state = 'success', ended_at = now() WHERE dag_id = 'limited'
	AND logical_date = '2026-03-01T07:00Z'" >/dev/null
et schedule "$NOW"
jq_ok '.created == 1' "$TMP/out" "a finished run makes room for one more"
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'limited'" 3 "limited now has three runs"
et schedule $((NOW + 3600))
jq_ok '.created == 2' "$TMP/out" "an hour later: one more run of hourly and of hourly_nc"
pg_sql "UPDATE dags SET paused = true WHERE dag_id = 'hourly'" >/dev/null
et schedule $((NOW + 7200))
sql_is "SELECT count(*) FROM runs WHERE dag_id = 'hourly'" 6 "a paused DAG gets no run"
dag once 'schedule: "@once"
start_date: 2026-03-01T07:00:00Z
tasks:
  t: {command: "true"}'
"$ET" schedule "$NOW" >/dev/null
"$ET" schedule $((NOW + 86400)) >/dev/null
sql_is "SELECT count(*), min(run_id) FROM runs WHERE dag_id = 'once'" \
	"1|scheduled__2026-03-01T07:00:00+00:00" "@once: one run ever, at the start date"

# --- pools -------------------------------------------------------------------------
"$SLUICE" pools set p1 1 >/dev/null || exit 1
dag pooled 'schedule: null
defaults: {queue: qpool, pool: p1}
tasks:
  a: {command: "true"}
  b: {command: "true"}
  c: {command: "true"}
  nopool: {command: "true", pool: missing}'
"$SLUICE" trigger pooled --run-id pl1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w4 qpool "$NOW" 10
jq_ok '[.dispatches[].task] == ["a"]' "$TMP/out" "a pool of 1 slot: one claimed"
et claim w5 qpool 10 "$NOW"
jq_ok '.dispatches == []' "$TMP/out" "and no second while it is busy"
finish success 0 "$NOW"
et claim w5 qpool 10 "$NOW"
jq_ok '[.dispatches[].task] == ["b"]' "$TMP/out" "the slot is free again: the next one"
sql_is "SELECT ti.state, ti.reason FROM task_instances ti JOIN runs USING (run_pk)
	WHERE run_id = 'pl1' AND task_id = 'nopool'" \
	"failed|pool 'missing' does not exist (create it with: sluice pools set missing SLOTS)" \
	"a task of a pool that does not exist fails when it is ready, saying how to fix it"

# A pool deleted while its task waits for a slot.
"$SLUICE" pools set p2 1 >/dev/null || exit 1
dag gone 'schedule: null
defaults: {queue: qgone}
tasks:
  a: {command: "true", pool: p2}
  b: {command: "true", depends_on: [a]}'
"$SLUICE" trigger gone --run-id g1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
run tis g1
expect_file "$TMP/out" "a:scheduled b:pending" "the task waits for a slot of its pool"
"$SLUICE" pools delete p2 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
run tis g1
expect_file "$TMP/out" "a:failed b:upstream_failed" \
	"its pool deleted: it fails at the next advance, and downstream follows"
sql_is "SELECT state FROM runs WHERE run_id = 'g1'" failed "so does the run"

# --- branching ---------------------------------------------------------------------
dag branchy 'schedule: null
defaults: {queue: qbranch}
tasks:
  pick: {command: "true"}
  left: {command: "true", depends_on: [pick]}
  right: {command: "true", depends_on: [pick]}
  after_right: {command: "true", depends_on: [right]}
  join: {command: "true", depends_on: [left, after_right], trigger_rule: none_failed_min_one_success}'
"$SLUICE" trigger branchy --run-id b1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w9 qbranch "$NOW"
finish success 0 "$NOW" '{"branch": "left"}'
"$ET" advance "$NOW" >/dev/null
run tis b1
expect_file "$TMP/out" "pick:success left:scheduled right:skipped after_right:skipped join:pending" \
	"a branch: the task not chosen is skipped, and the skip goes on by trigger rules"
sql_is "SELECT ti.reason FROM task_instances ti JOIN runs USING (run_pk)
	WHERE run_id = 'b1' AND task_id = 'right'" "branch not taken by pick" \
	"with the branch task in its reason"
claim w9 qbranch "$NOW"
finish success 0 "$NOW"
"$ET" advance "$NOW" >/dev/null
run tis b1
expect_file "$TMP/out" "pick:success left:success right:skipped after_right:skipped join:scheduled" \
	"the join (none_failed_min_one_success) runs"
claim w9 qbranch "$NOW"
finish success 0 "$NOW"
"$SLUICE" trigger branchy --run-id b2 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w9 qbranch "$NOW"
finish success 0 "$NOW" '{"branch": "left,after_right"}'
sql_is "SELECT ti.state, ti.reason FROM task_instances ti JOIN runs USING (run_pk)
	WHERE run_id = 'b2' AND task_id = 'pick'" \
	"failed|branch names 'after_right', which is not a direct downstream task of 'pick' (left, right)" \
	"a branch to a task that is not directly downstream fails the branch task"

# --- max_active_tasks --------------------------------------------------------------
dag narrow 'schedule: null
max_active_tasks: 2
defaults: {queue: qnarrow}
tasks:
  a: {command: "true", priority: 5}
  b: {command: "true"}
  c: {command: "true"}
  d: {command: "true"}'
"$SLUICE" trigger narrow --run-id n1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w8 qnarrow "$NOW" 10
jq_ok '[.dispatches[].task] == ["a", "b"]' "$TMP/out" \
	"max_active_tasks 2: two claimed, highest priority first, then file order"
et claim w8 qnarrow 10 "$NOW"
jq_ok '.dispatches == []' "$TMP/out" "no more while both are in flight"
finish success 0 "$NOW"
et claim w8 qnarrow 10 "$NOW"
jq_ok '[.dispatches[].task] == ["c"]' "$TMP/out" "one finished: one more"

# --- parallelism -------------------------------------------------------------------
"$SLUICE" trigger wide --run-id w2 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
busy=$(pg_sql "SELECT count(*) FROM task_instances WHERE state IN ('queued', 'running')")
et claim cw9 qwide 50 "$NOW" $((busy + 3))
jq_ok '.dispatches | length == 3' "$TMP/out" "global parallelism caps a claim"

# --- log limit ---------------------------------------------------------------------
claim w6 qwide "$NOW"
"$ET" log "$W" "$A" "$F" 0 "0123456789" 15 >/dev/null
"$ET" log "$W" "$A" "$F" 0 "0123456789" 15 >/dev/null
"$ET" log "$W" "$A" "$F" 1 "abcdefghij" 15 >/dev/null
"$ET" log "$W" "$A" "$F" 2 "klm" 15 >/dev/null
sql_is "SELECT a.log_bytes, a.log_truncated, (SELECT string_agg(convert_from(data, 'UTF8'), '|'
	ORDER BY seq) FROM log_chunks c WHERE c.attempt_id = a.attempt_id)
	FROM attempts a WHERE attempt_id = $A" "15|t|0123456789|abcde" \
	"logs: a repeated chunk is stored once, the cap cuts and flags truncation"

# --- callbacks ---------------------------------------------------------------------
# The other DAGs are paused and their live runs cancelled (a paused DAG's
# running runs go on) so that the queue "default", where callbacks go,
# holds nothing of theirs; a callback of a finished run is claimed anyway.
pg_sql "UPDATE dags SET paused = true" >/dev/null
pg_sql "UPDATE runs SET state = 'cancelled', ended_at = GREATEST(now(), started_at)
	WHERE state IN ('queued', 'running')" >/dev/null
dag cbs 'schedule: null
defaults: {queue: qcb}
env: {DAG_ENV: d}
on_failure: ./alert.sh "{{ run_id }}" "{{ outputs.ok.rows }}"
on_success: echo done
tasks:
  ok: {command: "true"}
  bad: {command: "false"}
  down: {command: "true", depends_on: [bad]}
  on_success: {command: "true", depends_on: [ok]}'

# cbtis RUN_ID: "task:state:try/max:queue ..." of the run's callbacks, or -.
cbtis() {
	pg_sql "SELECT coalesce(string_agg(ti.task_id || ':' || ti.state || ':' || ti.try_number
		|| '/' || ti.max_tries || ':' || ti.queue, ' ' ORDER BY ti.ti_id), '-')
		FROM task_instances ti JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.kind = 'callback'"
}

# cbround OUTCOME: advance, claim every task of DAG cbs that is ready, end
# each with OUTCOME (ok's outputs rows=7), advance.
cbround() {
	"$ET" advance "$NOW" >/dev/null
	W=w9
	"$ET" claim w9 qcb 10 "$NOW" >"$TMP/cbclaim"
	jq -r '.dispatches[] | "\(.task) \(.attempt_id) \(.fencing_token)"' "$TMP/cbclaim" >"$TMP/cbd"
	while read -r cb_task A F; do
		if [ "$cb_task" = bad ] && [ "$1" = mixed ]; then
			finish failed 1 "$NOW"
		else
			finish success 0 "$NOW" '{"rows": "7"}'
		fi
	done <"$TMP/cbd"
	"$ET" advance "$NOW" >/dev/null
}

"$SLUICE" trigger cbs --run-id cf1 >/dev/null || exit 1
cbround mixed
cbround mixed
sql_is "SELECT state FROM runs WHERE run_id = 'cf1'" failed "a run with a failed task fails"
run cbtis cf1
expect_file "$TMP/out" "on_failure:scheduled:0/1:default" \
	"it gets its on_failure callback, scheduled, one try, queue default (not on_success)"
et advance "$NOW"
run cbtis cf1
expect_file "$TMP/out" "on_failure:scheduled:0/1:default" "advancing again creates no second one"
sql_is "SELECT string_agg(ti.task_id || ':' || ti.state, ' ' ORDER BY ti.ti_id)
	FROM task_instances ti JOIN runs r USING (run_pk) WHERE r.run_id = 'cf1'
	AND ti.kind = 'task'" "ok:success bad:failed down:upstream_failed on_success:success" \
	"the task named on_success is a task like the others"
W=w9
et claim w9 default 5 "$NOW"
jq_ok '.dispatches | length == 1' "$TMP/out" "the callback of a finished run is claimed"
jq_ok '.dispatches[0] | .task == "on_failure" and .run_id == "cf1" and .try_number == 1 and
	.command == "./alert.sh \"${SLUICE_RUN_ID}\" \"${SLUICE_OUT_OK_ROWS}\"" and
	.cwd == "" and .timeout_s == 0 and .sensor == false and (.commit | length == 40) and
	(.env | map({(.[0]): .[1]}) | add | .SLUICE_RUN_STATE == "failed" and
	 .SLUICE_FAILED_TASKS == "bad" and .SLUICE_TASK == "on_failure" and
	 .SLUICE_RUN_ID == "cf1" and .DAG_ENV == "d" and .SLUICE_OUT_OK_ROWS == "7")' "$TMP/out" \
	"with its command expanded, the run's env, SLUICE_RUN_STATE and the failed tasks"
A=$(jq -r '.dispatches[0].attempt_id' "$TMP/out")
F=$(jq -r '.dispatches[0].fencing_token' "$TMP/out")
"$ET" started "$W" "$A" "$F" "$NOW" >/dev/null
"$ET" log "$W" "$A" "$F" 0 "alert sent" 0 >/dev/null
et result "$W" "$A" "$F" failed 3 "$NOW"
jq_ok '.accepted' "$TMP/out" "its result is accepted"
run cbtis cf1
expect_file "$TMP/out" "on_failure:failed:1/1:default" "a failed callback is not retried"
et advance $((NOW + 3600))
sql_is "SELECT state FROM runs WHERE run_id = 'cf1'" failed "and the run's state is unchanged"
run cbtis cf1
expect_file "$TMP/out" "on_failure:failed:1/1:default" "nor is the callback"
"$SLUICE" runs show cbs cf1 --json >"$TMP/show" 2>&1
jq_ok '.state == "failed" and ([.tasks[].task] == ["ok", "bad", "down", "on_success"]) and
	(.callbacks | length == 1) and (.callbacks[0] | .callback == "on_failure" and
	.state == "failed" and .try_number == 1 and .exit_code == 3 and .worker == "w9" and
	(.started_at | type == "string") and (.ended_at | type == "string"))' \
	"$TMP/show" "runs show --json lists the callback apart from the tasks"
run "$SLUICE" runs show cbs cf1
expect_grep "$TMP/out" '^callbacks:$' "runs show prints a callbacks section"
expect_grep "$TMP/out" '^on_failure  *failed  *1 .* 3  *w9$' "with the callback's row"
run "$SLUICE" logs cbs cf1 on_failure
expect_status 0 "logs of the callback"
expect_grep "$TMP/out" "^alert sent" "logs finds the callback by its name"
run "$SLUICE" tasks mark cbs cf1 on_failure success
expect_status 3 "a callback cannot be marked"

# Cleared and failed again: the same callback runs again, as try 2.
run "$SLUICE" tasks clear cbs cf1 bad --downstream
expect_status 0 "clear the failed task of the finished run"
run cbtis cf1
expect_file "$TMP/out" "on_failure:failed:1/1:default" "a finished callback is left as it was"
cbround mixed
sql_is "SELECT state FROM runs WHERE run_id = 'cf1'" failed "the run fails again"
run cbtis cf1
expect_file "$TMP/out" "on_failure:scheduled:1/2:default" \
	"failing again schedules its callback again, with one more try"
claim w9 default "$NOW"
jq_ok '.dispatches[0].try_number == 2' "$TMP/out" "claimed as try 2"
run "$SLUICE" tasks clear cbs cf1 bad
expect_status 0 "clear while the callback runs"
sql_is "SELECT ti.state || ':' || a.outcome FROM attempts a JOIN task_instances ti USING (ti_id)
	WHERE a.attempt_id = $A" "cancelled:cancelled" "the live callback and its attempt are cancelled"
et result "$W" "$A" "$F" success 0 "$NOW"
jq_ok '.accepted == false' "$TMP/out" "its late result is stale"
"$SLUICE" runs cancel cbs cf1 >/dev/null || exit 1

# A run that succeeds runs on_success; a task of the same id wins in logs.
"$SLUICE" trigger cbs --run-id cs1 >/dev/null || exit 1
cbround success
"$ET" advance "$NOW" >/dev/null
"$ET" claim w9 qcb 10 "$NOW" >"$TMP/cbclaim"
A=$(jq -r '.dispatches[] | select(.task == "on_success") | .attempt_id' "$TMP/cbclaim")
F=$(jq -r '.dispatches[] | select(.task == "on_success") | .fencing_token' "$TMP/cbclaim")
"$ET" log "$W" "$A" "$F" 0 "the task" 0 >/dev/null
finish success 0 "$NOW"
A=$(jq -r '.dispatches[] | select(.task == "down") | .attempt_id' "$TMP/cbclaim")
F=$(jq -r '.dispatches[] | select(.task == "down") | .fencing_token' "$TMP/cbclaim")
finish success 0 "$NOW"
"$ET" advance "$NOW" >/dev/null
sql_is "SELECT state FROM runs WHERE run_id = 'cs1'" success "the second run succeeds"
run cbtis cs1
expect_file "$TMP/out" "on_success:scheduled:0/1:default" "it gets on_success only"
claim w10 default "$NOW"
jq_ok '.dispatches[0] | .task == "on_success" and .command == "echo done" and
	(.env | map({(.[0]): .[1]}) | add | .SLUICE_RUN_STATE == "success" and
	 .SLUICE_FAILED_TASKS == "")' "$TMP/out" "on_success sees SLUICE_RUN_STATE=success"
"$ET" started "$W" "$A" "$F" "$NOW" >/dev/null
"$ET" log "$W" "$A" "$F" 0 "the callback" 0 >/dev/null
run "$SLUICE" logs cbs cs1 on_success
expect_grep "$TMP/out" "^the task" "logs: a task with the callback's id wins"
et fail-worker w10 $((NOW + 1))
jq_ok '.ended == 1' "$TMP/out" "a lost worker ends the callback's attempt"
run cbtis cs1
expect_file "$TMP/out" "on_success:failed:1/1:default" "the lost callback fails, not retried"
"$ET" advance $((NOW + 3600)) >/dev/null
sql_is "SELECT state FROM runs WHERE run_id = 'cs1'" success \
	"a failed callback leaves the run success"

# A cancelled run runs no callback.
"$SLUICE" trigger cbs --run-id cc1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
"$SLUICE" runs cancel cbs cc1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
run cbtis cc1
expect_file "$TMP/out" "-" "a cancelled run gets no callback"

# Clearing every task leaves a callback of the same id alone.
run "$SLUICE" tasks clear cbs cs1
expect_status 0 "clear every task of the succeeded run"
run cbtis cs1
expect_file "$TMP/out" "on_success:failed:1/1:default" "its callback is not cleared"
sql_is "SELECT ti.state FROM task_instances ti JOIN runs r USING (run_pk)
	WHERE r.run_id = 'cs1' AND ti.kind = 'task' AND ti.task_id = 'on_success'" pending \
	"the task of the same id is"
cbround success
cbround success
sql_is "SELECT state FROM runs WHERE run_id = 'cs1'" success \
	"the cleared run succeeds again, its earlier failed callback not counted"
run cbtis cs1
expect_file "$TMP/out" "on_success:scheduled:1/2:default" "and its callback is due again, try 2"

# --- an attempt ended by an operator: no new try until its process is gone ------
dag stubborn 'schedule: null
defaults: {queue: qstop}
tasks:
  only: {command: "sleep 60", retries: 0}'
"$SLUICE" trigger stubborn --run-id sp1 >/dev/null || exit 1
"$ET" advance "$NOW" >/dev/null
claim w20 qstop "$NOW"
SA=$A
SF=$F
"$ET" started "$W" "$A" "$F" "$NOW" >/dev/null
run "$SLUICE" tasks clear stubborn sp1 only
expect_status 0 "clear the running task"
sql_is "SELECT outcome || ':' || stop_pending FROM attempts WHERE attempt_id = $SA" "cancelled:true" \
	"its attempt is cancelled, its process not yet known to be gone"
"$ET" advance "$NOW" >/dev/null
claim w21 qstop "$NOW"
jq_ok '.dispatches == []' "$TMP/out" "the task is not handed out while that process may run"
et confirm-stopped w20 "$SA"
jq_ok '.confirmed == 0' "$TMP/out" "a HELLO that lists the attempt confirms nothing"
et result w21 "$SA" "$SF" cancelled sig15 "$NOW"
jq_ok '.accepted == false' "$TMP/out" "another worker's RESULT for the killed attempt is refused"
sql_is "SELECT stop_pending FROM attempts WHERE attempt_id = $SA" t "and does not say its process is gone"
et result w20 "$SA" "$SF" cancelled sig15 "$NOW"
jq_ok '.accepted == false' "$TMP/out" "the killed attempt's RESULT is stale"
sql_is "SELECT stop_pending FROM attempts WHERE attempt_id = $SA" f "but says the process is gone"
claim w21 qstop "$NOW"
jq_ok '.dispatches[0].try_number == 2' "$TMP/out" "so try 2 is handed out"
"$ET" started "$W" "$A" "$F" "$NOW" >/dev/null
run "$SLUICE" tasks clear stubborn sp1 only
"$ET" advance "$NOW" >/dev/null
et confirm-stopped w21 999999,999998
jq_ok '.confirmed == 1' "$TMP/out" "a HELLO that does not list the attempt confirms it stopped"
claim w22 qstop "$NOW"
jq_ok '.dispatches[0].try_number == 3' "$TMP/out" "try 3 is handed out"
run "$SLUICE" tasks clear stubborn sp1 only
"$ET" advance "$NOW" >/dev/null
et fail-worker w22 "$NOW"
sql_is "SELECT count(*) FROM attempts WHERE stop_pending" 0 "a lost worker's stopped attempts are confirmed"
claim w23 qstop "$NOW"
jq_ok '.dispatches[0].try_number == 4' "$TMP/out" "try 4 is handed out"

done_testing
