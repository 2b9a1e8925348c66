#!/bin/sh
# sluice-worker against a scripted fake scheduler (tests/tools/fake_scheduler):
# handshake, REJECT, dispatch -> LOG -> RESULT -> ACK, results kept across a
# lost scheduler, bad frames, heartbeat timeout, SIGTERM drain.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/fake.sh"

cd "$TMP" || exit 1
printf 'secret\n' >token
WPID=
FPID=

cleanup() {
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# worker NAME: a worker with its own state dir, logging to NAME.log.
worker() {
	cat >"$1.yaml" <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: w1
slots: 1
queues: [default, etl]
state_dir: $TMP/$1.state
grace: 1s
$ROOT_TASK_USER
EOF
	"$WORKER" --config "$1.yaml" 2>"$1.log" &
	WPID=$!
}

# stop_worker NAME: SIGTERM, expect a clean exit 0.
stop_worker() {
	kill -TERM "$WPID"
	wait_exit "$WPID"
	expect_status 0 "$1: SIGTERM exits 0"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$1.log"
	WPID=
}

fake_done() {
	wait_exit "$FPID"
	ok $status "$1: the fake scheduler's script completed"
	[ "$status" -eq 0 ] || sed 's/^/#   /' "$1.out"
	FPID=
}

# --- bad configuration ---------------------------------------------------
printf 'schedular: x:1\ntoken_file: t\n' >bad.yaml
run "$WORKER" --config bad.yaml
expect_status 1 "a bad config is refused"
expect_grep "$TMP/err" "bad.yaml:1:1: unknown key 'schedular' (did you mean 'scheduler'?)" \
	"with file:line:col and a suggestion"

# --- handshake, dispatch, LOG, RESULT, ACK --------------------------------
fake run accept 'expect HELLO' 'welcome 200' \
	'dispatch a1 7 echo hi; echo err >&2; exit 3' 'expect RESULT' 'wait 1000' \
	'ack a1 7' 'wait 500'
worker run
wait_for run.out '^RESULT'
ok $? "run: a RESULT arrives"
expect_grep run.out '^HELLO worker_id=w1 token=secret host=[^ ]* slots=1 version=2-2 queues=default,etl running=$' \
	"run: HELLO carries the token (newline stripped), name, slots and queues"
expect_grep run.out '^LOG attempt=a1 fence=7 seq=[01] stream=stdout data=hi\\n$' "run: stdout as a LOG frame"
expect_grep run.out '^LOG attempt=a1 fence=7 seq=[01] stream=stderr data=err\\n$' "run: stderr as a LOG frame"
expect_grep run.out '^RESULT attempt=a1 fence=7 outcome=failed exit_code=3 signal=0 log_bytes=7$' \
	"run: RESULT failed, exit 3"
test -f run.state/results/a1.res
ok $? "run: the result is on disk before the ACK"
wait_for run.log 'event=result_acked attempt=a1'
ok $? "run: the ACK is logged"
test ! -e run.state/results/a1.res
ok $? "run: the ACK removes the result file"
expect_grep run.log '^level=info event=connected scheduler=127.0.0.1:[0-9]* scheduler_id=fake heartbeat_ms=200 lease_ms=600$' \
	"run: the connection is logged as key=value"
fake_done run
stop_worker run

# --- REJECT, then retry ---------------------------------------------------
fake reject accept 'expect HELLO' 'reject bad token' accept 'expect HELLO' 'welcome 200' \
	'wait 100'
worker reject
fake_done reject
expect_grep reject.log 'event=rejected scheduler=127.0.0.1:[0-9]* reason="bad token"' \
	"reject: the reason is logged"
expect_grep reject.log 'event=reconnect_scheduled' "reject: a retry is scheduled"
expect_grep reject.log 'event=connected' "reject: the retry connects"
stop_worker reject

# --- the scheduler dies mid-task; the result arrives after the restart ----
# (A lease of 3 s: the task ends before it runs out.)
fake lost1 accept 'expect HELLO' 'welcome 1000' 'dispatch a2 3 sleep 1; echo done' 'wait 8000'
worker lost
wait_for lost.log 'event=attempt_started attempt=a2'
kill -9 "$FPID"
wait "$FPID" 2>/dev/null
fake lost2 --port "$PORT" accept 'expect HELLO' 'welcome 200' 'expect RESULT' 'ack a2 3' \
	'wait 100'
fake_done lost
expect_grep lost2.out '^HELLO .* running=a2$' "lost: HELLO after the restart claims the attempt"
expect_grep lost2.out '^RESULT attempt=a2 fence=3 outcome=success exit_code=0' \
	"lost: the result is delivered to the new scheduler"
test ! -e lost.state/results/a2.res
ok $? "lost: and removed after its ACK"
stop_worker lost

# --- a garbage frame: disconnect with a reason, then reconnect ------------
fake garbage accept 'expect HELLO' 'welcome 200' garbage 'expect CLOSED' accept \
	'expect HELLO' 'welcome 200' 'wait 100'
worker garbage
fake_done garbage
expect_grep garbage.log 'event=disconnected scheduler=127.0.0.1:[0-9]* reason="frame type 99 is unknown"' \
	"garbage: the decoder's reason is logged"
stop_worker garbage

# --- an oversized frame is refused from its length alone -----------------
fake big accept 'expect HELLO' 'welcome 200' oversize 'expect CLOSED' accept 'expect HELLO' \
	'welcome 200' 'wait 100'
worker big
fake_done big
expect_grep big.log 'event=disconnected .*reason="frame of 2147483647 bytes exceeds the 1048576-byte limit"' \
	"big: the oversized frame is refused with the decoder's reason"
stop_worker big

# --- CANCEL with fencing, then DRAIN ---------------------------------------
fake cancel accept 'expect HELLO' 'welcome 200' 'dispatch a5 2 exec sleep 30' 'wait 300' \
	'cancel a5 1' 'cancel zz 2' 'wait 200' 'cancel a5 2' 'expect RESULT' 'ack a5 2' \
	drain 'expect CLOSED'
worker cancel
fake_done cancel
expect_grep cancel.log 'event=cancel_ignored attempt=a5 fence=1 reason="stale fencing token"' \
	"cancel: a CANCEL with an old fencing token is ignored"
expect_grep cancel.log 'event=cancel_ignored attempt=zz fence=2 reason="unknown attempt"' \
	"cancel: a CANCEL for an unknown attempt is ignored"
expect_grep cancel.out '^RESULT attempt=a5 fence=2 outcome=cancelled exit_code=-1 signal=15' \
	"cancel: the current CANCEL stops the task"
expect_grep cancel.log 'event=disconnected .*reason="drained, holding nothing"' \
	"cancel: after DRAIN the worker closes once it holds nothing"
stop_worker cancel

# --- cut off past the lease: the worker kills its task, its RESULT says lost
fake fence1 accept 'expect HELLO' 'welcome 200' \
	"dispatch f1 4 echo \$\$ >$TMP/fence.pid; exec sleep 30" 'wait 8000'
worker fence
wait_for fence.log 'event=attempt_started attempt=f1'
kill -9 "$FPID"
wait "$FPID" 2>/dev/null
wait_for fence.log 'event=attempt_fenced attempt=f1' 5
ok $? "fence: 600 ms without a scheduler kill the attempt"
expect_grep fence.log 'event=lease_expired silent_ms=[0-9]* lease_ms=600 attempts=1' \
	"fence: the expired lease is logged"
wait_for fence.log 'event=attempt_finished attempt=f1 fence=4 outcome=lost' 5
! kill -0 "$(cat fence.pid)" 2>/dev/null
ok $? "fence: the task's process is gone"
fake fence2 --port "$PORT" accept 'expect HELLO' 'welcome 200' 'expect RESULT' 'ack f1 4' \
	'wait 100'
fake_done fence
expect_grep fence2.out '^LOG attempt=f1 .*data=\[sluice: no word from any scheduler for [0-9]* ms, longer than the lease (600 ms): killed' \
	"fence: the attempt's log says why"
expect_grep fence2.out '^RESULT attempt=f1 fence=4 outcome=lost exit_code=-1 signal=9' \
	"fence: the kept RESULT says lost"
stop_worker fence

# --- a DISPATCH the worker must refuse: failed at once, connection kept ----
fake refuse accept 'expect HELLO' 'welcome 200' 'bad-dispatch r1 5' 'expect RESULT' \
	'ack r1 5' 'dispatch r2 6 echo still here' 'expect RESULT' 'ack r2 6' 'wait 700'
worker refuse
fake_done refuse
expect_grep refuse.out '^LOG attempt=r1 fence=5 .*data=\[sluice: cannot start the task: the dispatch was refused: DISPATCH message: field "env" item 1 has a bad key' \
	"refuse: the attempt's log names the field"
expect_grep refuse.out '^RESULT attempt=r1 fence=5 outcome=failed' \
	"refuse: the refused DISPATCH fails its attempt"
expect_grep refuse.out '^RESULT attempt=r2 fence=6 outcome=success' \
	"refuse: the same connection runs the next one"
expect_grep refuse.out '^HEARTBEAT running= dispatches=2$' \
	"refuse: heartbeats count the DISPATCH frames read, refused ones too"
awk '/event=attempt_finished attempt=r2/ { done = 1 } /event=disconnected/ && !done { bad = 1 }
	END { exit !(done && !bad) }' refuse.log
ok $? "refuse: the connection stayed up"
stop_worker refuse

# --- NACK: a result refused for good is moved aside, not resent -----------
fake nack accept 'expect HELLO' 'welcome 200' 'dispatch n1 8 true' 'expect RESULT' \
	'nack n1 8' 'close' accept 'expect HELLO' 'welcome 200' 'wait 700'
worker nack
fake_done nack
expect_grep nack.log 'event=result_dead_lettered file=.*/nack.state/results/dead/n1.res reason=test' \
	"nack: the result is dead-lettered and logged"
test -s nack.state/results/dead/n1.res && test ! -e nack.state/results/n1.res
ok $? "nack: it is kept in results/dead/ for inspection"
[ "$(grep -c '^RESULT attempt=n1' nack.out)" -eq 1 ]
ok $? "nack: it is not sent again after reconnecting"
expect_grep nack.out '^HELLO .* running=$' "nack: the next HELLO no longer holds it"
stop_worker nack
printf 'not a frame' >nack.state/results/n9.res
fake nack2 accept 'expect HELLO' 'welcome 200' 'wait 300'
worker nack
fake_done nack2
expect_grep nack.log 'event=result_dead_lettered file=.*/results/dead/n9.res reason="not exactly one frame"' \
	"nack: an unreadable kept result is moved aside at start"
test ! -e nack.state/results/n9.res
ok $? "nack: and not read again at every start"
stop_worker nack

# --- silence: no frame for the lease's length drops the connection -------
fake silent accept 'expect HELLO' 'welcome 200' silence 'expect CLOSED' accept 'expect HELLO' \
	'welcome 200' 'wait 100'
worker silent
fake_done silent
expect_grep silent.out '^HEARTBEAT running= dispatches=0$' "silent: the worker sends heartbeats"
expect_grep silent.log 'reason="no frame from the scheduler for [0-9]* ms (the lease)"' \
	"silent: the timeout is logged"
stop_worker silent

# --- SIGTERM while a task runs: grace, cancel, result, exit 0 -------------
fake term accept 'expect HELLO' 'welcome 200' \
	"dispatch a3 1 echo \$\$ >$TMP/task.pid; exec sleep 30" \
	'dispatch a4 1 echo too many' 'expect RESULT' 'wait 2000'
worker term
wait_for term.log 'event=attempt_started attempt=a3'
wait_for term.log 'event=dispatch_refused attempt=a4'
ok $? "term: a dispatch beyond the slots is refused"
kill -TERM "$WPID"
wait_exit "$WPID"
expect_status 0 "term: SIGTERM with a running task exits 0"
WPID=
expect_grep term.log 'event=grace_expired running=1' "term: the grace period expires"
wait_for term.out '^RESULT attempt=a3 fence=1 outcome=cancelled'
rc=$?
ok $rc "term: the cancelled result is sent before exiting"
[ $rc -eq 0 ] || sed 's/^/#   /' term.out term.log
test -f term.state/results/a3.res
ok $? "term: and kept on disk, not acknowledged"
! kill -0 "$(cat task.pid)" 2>/dev/null
ok $? "term: no task process is left"
kill -9 "$FPID" 2>/dev/null
FPID=

# --- the checkout cache: tasks run in the tree of their run's commit -------
# Checkouts are read-only: make them removable again before the cleanup.
trap 'chmod -R u+w "$TMP" 2>/dev/null; cleanup' EXIT
G="git -c user.name=t -c user.email=t@t -c init.defaultBranch=main"
(
	export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
	$G init -q dagrepo && cd dagrepo && mkdir sub &&
		echo first >file.txt && echo sub-first >sub/f.txt && git add -A &&
		$G commit -q -m one && echo second >file.txt && echo sub-second >sub/f.txt &&
		git add -A && $G commit -q -m two
) >/dev/null 2>&1
C1=$(git -C dagrepo rev-parse HEAD~1)
C2=$(git -C dagrepo rev-parse HEAD)
BAD=ffffffffffffffffffffffffffffffffffffffff

# worker_repo NAME REPO: like `worker`, with the worker's own `repo` set.
worker_repo() {
	cat >"$1.yaml" <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: w1
slots: 1
state_dir: $TMP/$1.state
repo: $2
grace: 1s
checkout_max_age: 1d
checkout_max_bytes: 1000000000
$ROOT_TASK_USER
EOF
	"$WORKER" --config "$1.yaml" 2>"$1.log" &
	WPID=$!
}

fake ck accept 'expect HELLO' 'welcome 200' \
	"dispatch-in k1 1 - $C1 . cat file.txt" 'expect RESULT' 'ack k1 1' \
	"dispatch-in k2 1 - $C2 . cat file.txt" 'expect RESULT' 'ack k2 1' \
	"dispatch-in k3 1 - $BAD . cat file.txt" 'expect RESULT' 'ack k3 1' \
	"dispatch-in k4 1 - $C1 sub echo \"\$(cat f.txt) work=\$SLUICE_WORK_DIR \$(echo x >\"\$SLUICE_WORK_DIR/s\" && echo scratch-ok)\"" \
	'expect RESULT' 'ack k4 1' \
	"dispatch-in k5 1 - $C1 nope cat file.txt" 'expect RESULT' 'ack k5 1' 'wait 200'
worker_repo ck "$TMP/dagrepo"
fake_done ck
expect_grep ck.out '^LOG attempt=k1 fence=1 seq=0 stream=stdout data=first\\n$' \
	"checkout: a task sees the file at its commit"
expect_grep ck.out '^RESULT attempt=k1 fence=1 outcome=success exit_code=0' \
	"checkout: and succeeds"
expect_grep ck.out '^LOG attempt=k2 fence=1 seq=0 stream=stdout data=second\\n$' \
	"checkout: a dispatch at another commit sees the other content"
expect_grep ck.out "^LOG attempt=k3 fence=1 seq=0 stream=stderr data=\\[sluice: cannot start the task: cannot check out commit $BAD: commit $BAD is not in $TMP/dagrepo\\]" \
	"checkout: a bad commit is logged with the reason"
expect_grep ck.out '^RESULT attempt=k3 fence=1 outcome=failed exit_code=-1' \
	"checkout: and fails the attempt"
expect_grep ck.log "event=attempt_start_failed attempt=k3 reason=\"cannot check out commit $BAD" \
	"checkout: the worker logs the failure"
expect_grep ck.out '^LOG attempt=k4 .*data=sub-first work='"$TMP"'/ck.state/work/k4 scratch-ok\\n$' \
	"checkout: cwd is below the checkout; \$SLUICE_WORK_DIR is the writable scratch folder"
expect_grep ck.out '^RESULT attempt=k5 fence=1 outcome=failed exit_code=-1' \
	"checkout: a cwd missing from the commit fails the attempt"
test -d "ck.state/checkouts/$C1" && test -d "ck.state/checkouts/$C2" &&
	test ! -e "ck.state/checkouts/$BAD"
ok $? "checkout: one folder per commit in state_dir/checkouts"
test -z "$(find "ck.state/checkouts/$C1" -perm /222)"
ok $? "checkout: the checkout is read-only"
test -z "$(ls -A ck.state/work)"
ok $? "checkout: the scratch folders are removed"
expect_grep ck.log "event=checkout_ready attempt=k2 commit=$C2" "checkout: the checkout is logged"
stop_worker ck

# The repository named by the scheduler (DISPATCH's repo), mirrored.
fake ckm accept 'expect HELLO' 'welcome 200' \
	"dispatch-in m1 1 file://$TMP/dagrepo $C2 sub cat f.txt" 'expect RESULT' 'ack m1 1' \
	'wait 100'
worker ckm
fake_done ckm
expect_grep ckm.out '^LOG attempt=m1 fence=1 seq=0 stream=stdout data=sub-second\\n$' \
	"checkout: the dispatch's repo is fetched into a mirror"
ls -d ckm.state/mirrors/dagrepo-* >/dev/null 2>&1
ok $? "checkout: the mirror is in state_dir/mirrors"
stop_worker ckm

# A checkout that hangs (a server that accepts and never answers) runs in
# a process of its own: a CANCEL kills it and ends the attempt at once.
HANG_PORT=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("listening", flush=True)
held = []
while True:
    held.append(s.accept()[0])
' "$HANG_PORT" >hang.out &
HANG_PID=$!
wait_for hang.out listening
fake ckh accept 'expect HELLO' 'welcome 200' \
	"dispatch-in h1 1 http://127.0.0.1:$HANG_PORT/repo.git $C2 . cat file.txt" 'wait 3000' \
	'cancel h1 1' 'expect RESULT' 'ack h1 1' 'wait 100'
worker ckh
i=0
until pgrep -f "sluice-worker --checkout $TMP/ckh.state" >/dev/null; do
	i=$((i + 1))
	[ $i -gt 200 ] && break
	sleep 0.05
done
[ $i -le 200 ]
ok $? "checkout: a miss is built by a process of its own"
fake_done ckh
kill "$HANG_PID" 2>/dev/null
expect_grep ckh.out '^RESULT attempt=h1 fence=1 outcome=cancelled' \
	"checkout: a CANCEL ends an attempt whose checkout hangs"
! pgrep -f "sluice-worker --checkout $TMP/ckh.state" >/dev/null
ok $? "checkout: and kills its checkout process"
stop_worker ckh

done_testing
