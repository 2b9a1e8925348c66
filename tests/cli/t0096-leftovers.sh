#!/bin/sh
# The process groups a worker killed with SIGKILL leaves running
# (worker/pgroups.c): each running attempt's group is recorded under
# state_dir/pgroups, and a restarted worker kills what is certainly still
# that group before it connects; a record whose pid now names another
# process, one from another boot, and a malformed one are removed without
# killing anything. Against the fake scheduler: no PostgreSQL needed.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/fake.sh"

cd "$TMP" || exit 1
printf 'secret\n' >token
WPID=
FPID=

# Every process the test started; the tasks also end by themselves once
# $TMP is gone, so an aborted run leaves no orphan either way.
cleanup() {
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	for f in "$TMP"/*.pid; do
		[ -s "$f" ] && kill -9 -- "-$(cat "$f")" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

# wait_gone PID [SECONDS]
wait_gone() {
	wg_i=0
	while alive "$1"; do
		wg_i=$((wg_i + 1))
		[ $wg_i -gt $((${2:-5} * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# start_time PID: field 22 of /proc/PID/stat (the fields after the command
# name start at field 3).
start_time() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# line_of FILE PATTERN: the number of the first matching line (empty: none).
line_of() {
	grep -n -e "$2" "$1" | head -n 1 | cut -d: -f1
}

# worker LOG: the worker of w.yaml (the same config, so the same state_dir,
# for both lives), logging to LOG.
worker() {
	"$WORKER" --config w.yaml 2>"$1" &
	WPID=$!
}

BOOT=$(cat /proc/sys/kernel/random/boot_id)
LOOP="while [ -d $TMP ]; do sleep 0.2; done"

# --- first life: a record per running attempt, removed when it ends --------
fake life1 accept 'expect HELLO' 'welcome 200' \
	'dispatch q1 1 echo quick' 'expect RESULT' 'ack q1 1' \
	"dispatch L1 1 echo \$\$ >$TMP/task.pid; $LOOP" 'wait 30000'
cat >w.yaml <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: w1
slots: 1
state_dir: $TMP/w.state
grace: 1s
$ROOT_TASK_USER
EOF
worker life1.log
wait_for life1.log 'event=result_acked attempt=q1 '
ok $? "life1: a quick attempt finishes"
wait_for task.pid '[0-9]'
ok $? "life1: the long task runs"
TASK=$(cat task.pid)
wait_for life1.log 'event=attempt_started attempt=L1 '
test ! -e w.state/pgroups/q1
ok $? "life1: the record of the attempt that ended is removed"
expect_str "$(cat w.state/pgroups/L1 2>&1)" "pgid=$TASK start=$(start_time "$TASK") boot=$BOOT" \
	"life1: the running attempt's record: its group, its leader's start time, the boot id"
expect_str "$(stat -c %a w.state/pgroups w.state/pgroups/L1)" "700
600" "life1: the folder is 0700, the record 0600"
expect_str "$(ls w.state/pgroups)" "L1" "life1: nothing else is recorded (no .new left)"

kill -9 "$WPID"
wait "$WPID" 2>/dev/null
WPID=
kill -9 "$FPID" 2>/dev/null
wait "$FPID" 2>/dev/null
FPID=
sleep 0.5
alive "$TASK"
ok $? "the worker killed with SIGKILL leaves its task running, orphaned"

# --- records the previous life did not write ----------------------------
# A stranger: a live process leading its own group, named by a record
# whose start time is not its own (its pid was reused, as it were).
setsid sh -c "echo \$\$ >$TMP/stranger.pid; $LOOP" &
wait_for stranger.pid '[0-9]'
STRANGER=$(cat stranger.pid)
printf 'pgid=%s start=%s boot=%s\n' "$STRANGER" "$(($(start_time "$STRANGER") + 1))" "$BOOT" \
	>w.state/pgroups/reused
# The stranger exactly, but from another boot.
printf 'pgid=%s start=%s boot=00000000-0000-0000-0000-000000000000\n' "$STRANGER" \
	"$(start_time "$STRANGER")" >w.state/pgroups/oldboot
# Malformed: -1 would be every process; a truncated record; a symlink; a
# FIFO (reading it must not block the start); a big file.
printf 'pgid=-1 start=1 boot=%s\n' "$BOOT" >w.state/pgroups/minus1
printf 'pgid=%s start=%s boot=%.10s' "$STRANGER" "$(start_time "$STRANGER")" "$BOOT" \
	>w.state/pgroups/truncated
ln -s oldboot w.state/pgroups/link
mkfifo w.state/pgroups/fifo
head -c 100000 /dev/zero >w.state/pgroups/big

# --- second life: settle the records, then connect ------------------------
fake life2 --port "$PORT" accept 'expect HELLO' 'welcome 200' 'wait 500'
worker life2.log
wait_for life2.log 'event=connected '
ok $? "life2: the worker starts again and connects"
expect_grep life2.log "^level=warn event=leftover_killed attempt=L1 pgid=$TASK leader=alive$" \
	"life2: the task's group is killed, logged"
killed=$(line_of life2.log 'event=leftover_killed attempt=L1 ')
connected=$(line_of life2.log 'event=connected ')
test -n "$killed" && test -n "$connected" && test "$killed" -lt "$connected"
ok $? "life2: before the worker connects (line $killed, then $connected)"
wait_gone "$TASK" 5
ok $? "life2: the orphaned task is gone"
expect_grep life2.log "^level=info event=leftover_gone attempt=reused pgid=$STRANGER reason=\"pid reused\"$" \
	"life2: a record whose pid is another process's is logged as gone"
expect_grep life2.log "^level=info event=leftover_gone attempt=oldboot pgid=$STRANGER reason=rebooted$" \
	"life2: a record from another boot is logged as gone"
alive "$STRANGER"
ok $? "life2: and the stranger they name is not killed"
expect_grep life2.log 'event=leftover_unreadable file=.*/minus1 reason="not a record: ' \
	"life2: a record naming group -1 is refused"
expect_grep life2.log 'event=leftover_unreadable file=.*/truncated reason="not a record: ' \
	"life2: a truncated record is refused"
expect_grep life2.log 'event=leftover_unreadable file=.*/link reason="cannot open .*/link: ' \
	"life2: a symlink is not followed"
expect_grep life2.log 'event=leftover_unreadable file=.*/fifo reason=".*/fifo is not a regular file"' \
	"life2: a FIFO is refused without blocking"
expect_grep life2.log 'event=leftover_unreadable file=.*/big reason=".*/big is over 128 bytes"' \
	"life2: a big file is refused"
expect_str "$(ls -A w.state/pgroups)" "" "life2: every record is removed"
wait_exit "$FPID"
ok "$status" "life2: the fake scheduler's script completed"
FPID=
kill -TERM "$WPID"
wait_exit "$WPID"
expect_status 0 "life2: SIGTERM exits 0"
WPID=

done_testing
