#!/bin/sh
# The progress line of trigger --wait and backfill --wait (docs/cli.md,
# "Terminal output") against a real scheduler and worker: on a terminal (a
# pty from script(1)) one line redrawn in place with \r and cleared to the
# end of the line, the event lines above it, the final counts, a final
# newline, cut to the terminal's width; through a pipe the plain lines of
# before, with no \r and no escape.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

export TERM=xterm NO_COLOR=1
PORT=$(free_port)
daemons_db progress

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/prog.yaml" <<'YAML'
schedule: null
tasks:
  first:
    command: "true"
  broken:
    command: "exit 1"
  slow:
    command: "sleep 1"
    depends_on: [first]
YAML
# Start in the future: the scheduler makes no run of its own; backfill's
# range ignores start_date. The run of 2026-01-02 fails.
cat >"$R/dags/daily.yaml" <<'YAML'
schedule: "0 0 * * *"
start_date: 2030-01-01
tasks:
  day:
    command: test "{{ ds }}" != 2026-01-02
YAML
git_repo "$R" || exit 1
sched_config "$TMP/s.yaml" "$R" dags
worker_config "$TMP/w.yaml" w1
start_scheduler s
start_worker w
wait_sql "SELECT count(*) = 2 FROM dags" 30
ok $? "the scheduler loads both DAGs"

# on_pty OUT CMD: run the shell command CMD on a pseudo-terminal; its bytes
# as they are in OUT (with the pty's \r\n), its exit status in $status.
on_pty() {
	script -qfec "$2" /dev/null </dev/null >"$1"
	status=$?
}

# screen IN OUT: what a terminal shows of IN: each line as left after its
# last \r, without the clear-to-end-of-line sequences.
screen() {
	python3 - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read().decode().replace('\r\n', '\n')
lines = [re.sub(r'\x1b\[K', '', l.split('\r')[-1]) for l in data.split('\n')]
open(sys.argv[2], 'w').write('\n'.join(lines))
PY
}

# widest IN: the most characters of a progress line drawn (\r TEXT ESC [K).
widest() {
	python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read().decode()
print(max([len(t) for t in re.findall(r'\r([^\r\n\x1b]*)\x1b\[K', data)] or [0]))
PY
}

# ends_clean IN: IN ends with a newline (the shell's prompt starts a line).
ends_clean() {
	[ "$(tail -c 2 "$1" | od -An -c | tr -d ' ')" = '\r\n' ]
}

TIME='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:]*Z'

# only_events FILE DESCRIPTION: every line of FILE is an event line of
# trigger --wait: "<time>  <task>  <state>[  (try n/max)]".
only_events() {
	if grep -v -e "^$TIME  [a-z]*  [a-z_]*\$" \
		-e "^$TIME  [a-z]*  [a-z_]*  (try [0-9]*/[0-9]*)\$" "$1" >"$TMP/bad"; then
		ok 1 "$2"
		sed 's/^/#   /' "$TMP/bad" | cat -v
	else
		ok 0 "$2"
	fi
}

# plain FILE: no carriage return and no escape in FILE.
plain() {
	! grep -q "$(printf '[\r\033]')" "$1"
	ok $? "through a pipe: no carriage return, no escape"
}

# --- trigger --wait ----------------------------------------------------------
on_pty "$TMP/p1.raw" "$SLUICE trigger prog --run-id p1 --wait"
expect_str "$status" 1 "trigger --wait on a terminal: exit 1 for a failed run"
grep -q "$(printf '\r')run p1: [0-9]/3 done, [0-9] failed, [0-9] running$(printf '\033')\[K" \
	"$TMP/p1.raw"
ok $? "the progress line is drawn after a carriage return and cleared to the end of the line"
screen "$TMP/p1.raw" "$TMP/p1.screen"
tail -n 2 "$TMP/p1.screen" >"$TMP/p1.tail"
expect_file "$TMP/p1.tail" "run p1: 3/3 done, 1 failed, 0 running
run p1 failed" "the final counts stay on screen, then the run's end"
ends_clean "$TMP/p1.raw"
ok $? "and a final newline"
head -n 1 "$TMP/p1.screen" >"$TMP/p1.head"
expect_file "$TMP/p1.head" "p1" "the run id comes first"
sed '1d;$d' "$TMP/p1.screen" | sed '$d' >"$TMP/p1.events"
only_events "$TMP/p1.events" "on screen, each event line is whole, above the progress line"
expect_grep "$TMP/p1.events" "  broken  failed  (try 1/1)\$" "the failed task's line is among them"
expect_grep "$TMP/p1.events" "  slow  success  (try 1/1)\$" "and the slow one's"

on_pty "$TMP/p2.raw" "stty cols 24; $SLUICE trigger prog --run-id p2 --wait"
expect_str "$(widest "$TMP/p2.raw")" 23 "a 24-column terminal: the line is cut to 23 columns"
expect_grep "$TMP/p2.raw" "^run p2 failed" "and the events still print whole"

run "$SLUICE" trigger prog --run-id p3 --wait
expect_status 1 "trigger --wait through a pipe: exit 1 for a failed run"
plain "$TMP/out"
head -n 1 "$TMP/out" >"$TMP/p3.head"
expect_file "$TMP/p3.head" "p3" "the run id first"
tail -n 1 "$TMP/out" >"$TMP/p3.tail"
expect_file "$TMP/p3.tail" "run p3 failed" "the run's end last"
sed '1d;$d' "$TMP/out" >"$TMP/p3.events"
only_events "$TMP/p3.events" "and between them only the event lines of before"
! grep -q "done, " "$TMP/out"
ok $? "no progress line"

run "$SLUICE" trigger prog --run-id p4 --wait --json
expect_jq "$TMP/out" '.run_id == "p4" and .state == "failed"' "--wait --json: the run's object"
on_pty "$TMP/p5.raw" "$SLUICE trigger prog --run-id p5 --wait --json"
! grep -q "done, " "$TMP/p5.raw"
ok $? "--json on a terminal: no progress line"

# --- backfill --wait -----------------------------------------------------------
on_pty "$TMP/b1.raw" "$SLUICE backfill daily --from 2026-01-01 --to 2026-01-03 --wait"
expect_str "$status" 1 "backfill --wait on a terminal: exit 1 when a run failed"
grep -q "$(printf '\r')backfill of DAG 'daily': [0-3]/3 runs done, [0-3] failed, [0-3] running" \
	"$TMP/b1.raw"
ok $? "the progress line is drawn in place"
screen "$TMP/b1.raw" "$TMP/b1.screen"
head -n 1 "$TMP/b1.screen" >"$TMP/b1.head"
expect_file "$TMP/b1.head" \
	"backfill of DAG 'daily': 3 intervals, 3 runs created, 0 skipped (a run exists)" \
	"the summary of what was created first"
tail -n 1 "$TMP/b1.screen" >"$TMP/b1.tail"
expect_file "$TMP/b1.tail" "backfill of DAG 'daily': 3/3 runs done, 1 failed" \
	"the final counts last, in place of the progress line"
ends_clean "$TMP/b1.raw"
ok $? "and a final newline"
sed '1d;$d' "$TMP/b1.screen" | sed 's/^[^ ]*  //' | sort >"$TMP/b1.events"
expect_file "$TMP/b1.events" "backfill__2026-01-01T00:00:00+00:00  success
backfill__2026-01-02T00:00:00+00:00  failed
backfill__2026-01-03T00:00:00+00:00  success" "one line per run as it ends, above the progress line"

# The same range again: the runs exist and have ended; --reset runs them again.
run "$SLUICE" backfill daily --from 2026-01-01 --to 2026-01-03 --wait
expect_status 1 "backfill --wait through a pipe over ended runs: exit 1 (one failed)"
plain "$TMP/out"
expect_grep "$TMP/out" "^backfill of DAG 'daily': 3 intervals, 0 runs created, 3 skipped" \
	"the summary first"
expect_grep "$TMP/out" "^$TIME  backfill__2026-01-02T00:00:00+00:00  failed\$" "a line per run"
tail -n 1 "$TMP/out" >"$TMP/b2.tail"
expect_file "$TMP/b2.tail" "backfill of DAG 'daily': 3/3 runs done, 1 failed" "the counts last"

run "$SLUICE" backfill daily --from 2026-01-03 --to 2026-01-04 --wait --json
expect_status 0 "backfill --wait --json: exit 0 when every run succeeded"
expect_jq "$TMP/out" '.created == 1 and ([.runs[].state] == ["success", "success"])' \
	"the object comes at the end, each run with its final state"

done_testing
