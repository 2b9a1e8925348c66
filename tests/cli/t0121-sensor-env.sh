#!/bin/sh
# Issue 12, bugs 1 to 3, end to end with sluice-scheduler and sluice-worker:
# - a sensor's poke is not a try: a sensor that pokes three times runs as
#   try 1, pokes 1, 2, 3, under the scheduler and under `sluice test` alike
#   ({{ try_number }}, {{ poke_number }}, SLUICE_POKE_NUMBER, runs show,
#   logs --poke);
# - templates in env values are expanded (as data: a --conf value cannot
#   inject code), under both; a template in cwd is refused with file:line:col;
# - trigger --wait shows every try of a retried task, in order, even those
#   that started and ended between two of its polls.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db sensorenv

PORT=$(free_port)
R=$TMP/repo
mkdir -p "$R/dags" "$TMP/count"

# Pokes until its third call for this run: the counter file is named by an
# env template, so each run (scheduler or sluice test) counts on its own.
cat >"$R/dags/sense.yaml" <<EOF
schedule: null
tasks:
  wait:
    env: {COUNT: "$TMP/count/{{ run_id }}", SEEN: "try {{ try_number }} poke {{ poke_number }}"}
    command: >-
      n=\$(cat "\$COUNT" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"\$COUNT";
      echo "try={{ try_number }} poke={{ poke_number }} env=\$SLUICE_TRY_NUMBER.\$SLUICE_POKE_NUMBER seen=\$SEEN";
      [ \$n -ge 3 ] || exit 75
    sensor: {poke_interval: 1s, timeout: 2m}
    retries: 2
EOF
cat >"$R/dags/envt.yaml" <<'EOF'
schedule: null
params: {region: eu}
env: {DAY: "day {{ ds }}"}
tasks:
  show:
    env: {REGION: "{{ params.region }}", RAW: "{{ ds_nodash }}-$HOME"}
    command: 'printf "DAY=%s REGION=%s RAW=%s\n" "$DAY" "$REGION" "$RAW"'
EOF
# Fails fast three times, then succeeds: tries 2 and 3 start and end
# within milliseconds, faster than trigger --wait polls.
cat >"$R/dags/flaky.yaml" <<EOF
schedule: null
tasks:
  f:
    retries: 3
    retry_delay: 0
    command: >-
      n=\$(cat "$TMP/count/flaky" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$TMP/count/flaky";
      [ \$n -ge 4 ] || exit 1; sleep 1
EOF
git_repo "$R" || exit 1

sched_config "$TMP/s1.yaml" "$R" dags
worker_config "$TMP/w1.yaml" w1
start_scheduler s1
wait_for "$TMP/s1.log" 'event=refreshed'
ok $? "the scheduler reads the DAGs"
start_worker w1
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=w1'
ok $? "the worker connects"

# --- bug 1: a poke is not a try ---------------------------------------------------
run timeout 120 "$SLUICE" trigger sense --run-id p1 --wait
expect_status 0 "the sensor succeeds at its third poke"
expect_grep "$TMP/out" 'wait  success  (try 1/3, poke 3)' \
	"trigger --wait names the poke, and the try stays 1"
run "$SLUICE" runs show sense p1 --json
expect_jq "$TMP/out" '.tasks[0] | .state == "success" and .try_number == 1 and
	.poke_number == 3' "runs show --json: try 1, poke 3 (not try 3)"
run "$SLUICE" runs show sense p1
expect_grep "$TMP/out" '^wait  *success  *1/3 poke 3 ' "runs show: 1/3 poke 3"
for n in 1 2 3; do
	run "$SLUICE" logs sense p1 wait --try 1 --poke $n
	expect_grep "$TMP/out" "^try=1 poke=$n env=1\.$n seen=try 1 poke $n\$" \
		"scheduler, poke $n: {{ try_number }}, {{ poke_number }}, SLUICE_*, env template"
	cat "$TMP/out" >>"$TMP/sched.txt"
done
run "$SLUICE" logs sense p1 wait --json
expect_jq "$TMP/out" '.try_number == 1 and .poke_number == 3' "logs --json: the latest poke"
run "$SLUICE" logs sense p1 wait --poke 4
expect_status 3 "logs --poke of a poke that did not happen: not found"
expect_grep "$TMP/err" "has no poke 4" "and says which"

# The same file under sluice test gives the same numbers.
(cd "$R" && "$SLUICE" test dags/sense.yaml --logical-date 2026-03-04) >"$TMP/test.out" 2>&1
ok $? "sluice test: the sensor succeeds"
sed -n 's/^\[wait\] \(try=.*\)$/\1/p' "$TMP/test.out" >"$TMP/local.txt"
cmp -s "$TMP/sched.txt" "$TMP/local.txt"
same=$?
ok $same "sluice test prints the same try and poke numbers as the scheduler"
[ $same -eq 0 ] || diff "$TMP/sched.txt" "$TMP/local.txt" | sed 's/^/# /'
expect_grep "$TMP/test.out" '^wait  *success  *1 ' "sluice test's table: 1 try"

# --- bug 2: templates in env values ----------------------------------------------
run timeout 60 "$SLUICE" trigger envt --run-id e1 --logical-date 2026-03-04T00:00:00Z \
	--conf 'region=us"; touch '"$TMP"'/pwned; echo "' --wait
expect_status 0 "the env task succeeds"
run "$SLUICE" logs envt e1 show
expect_file "$TMP/out" "DAY=day 2026-03-04 REGION=us\"; touch $TMP/pwned; echo \" RAW=20260304-\$HOME" \
	"scheduler: env templates expanded, the conf value as data, \$HOME left as written"
[ ! -e "$TMP/pwned" ]
ok $? "the conf value ran nothing"
(cd "$R" && "$SLUICE" test dags/envt.yaml --logical-date 2026-03-04T00:00:00Z \
	--conf 'region=us"; touch '"$TMP"'/pwned; echo "') >"$TMP/test.out" 2>&1
ok $? "sluice test: the env task succeeds"
expect_grep "$TMP/test.out" "^\[show\] DAY=day 2026-03-04 REGION=us\"; touch $TMP/pwned; echo \" RAW=20260304-\\\$HOME\$" \
	"sluice test: the same environment"

cat >"$TMP/cwd.yaml" <<'EOF'
schedule: null
tasks:
  a:
    command: pwd
    cwd: "data/{{ ds }}"
    queue: "{{ params.q }}"
EOF
run "$SLUICE" validate "$TMP/cwd.yaml"
expect_status 1 "a template in cwd is refused"
expect_grep "$TMP/out" "cwd.yaml:5:16: cwd: templates are not expanded here" \
	"at the '{{', with file:line:col"
expect_grep "$TMP/out" "cwd.yaml:6:12: queue: " "and in queue (its own error)"
run "$SLUICE" test "$TMP/cwd.yaml"
expect_status 1 "sluice test refuses it too"

# --- bug 3: trigger --wait shows every try -------------------------------------
run timeout 120 "$SLUICE" trigger flaky --run-id w1 --wait
expect_status 0 "the flaky task succeeds at try 4"
grep -o 'try [0-9]/4' "$TMP/out" | uniq >"$TMP/tries"
printf 'try 1/4\ntry 2/4\ntry 3/4\ntry 4/4\n' >"$TMP/want"
cmp -s "$TMP/tries" "$TMP/want"
shown=$?
ok $shown "every try is shown, in order"
[ $shown -eq 0 ] || sed 's/^/# /' "$TMP/out"
run "$SLUICE" runs show flaky w1 --json
expect_jq "$TMP/out" '.tasks[0].try_number == 4 and .tasks[0].poke_number == 1' \
	"runs show: try 4, poke 1"

done_testing
