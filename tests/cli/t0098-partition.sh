#!/bin/sh
# Partitions and a frozen leader, end to end (private PostgreSQL, a git
# repository of DAGs, the real daemons):
#
# 1. PARTITION. A worker in a network namespace of its own is cut off from
#    the scheduler (its veth link set down for longer than
#    heartbeat_timeout) while its task runs. The worker's lease (3/8 of
#    heartbeat_timeout without a word from any scheduler) kills the task
#    before the scheduler can fail the worker (heartbeat_timeout) and retry
#    the task on a second worker: the old process is gone before the retry
#    starts, by the task's own clock. Once the link is back, the worker's
#    kept RESULT (outcome lost) is stale: nothing is counted twice.
#    Needs root and `ip netns`; skipped otherwise.
# 2. FROZEN LEADER. Two schedulers on one database; the leader is stopped
#    (SIGSTOP) with work in flight for longer than heartbeat_timeout. The
#    standby takes the lease, the worker kills what it ran for the frozen
#    leader (its lease), moves to the new leader and the run completes
#    there. The old leader, continued, dispatches and records nothing and
#    gives the lease up.
# 3. HELD LEADER (needs gdb). A leader held by gdb between its lease check
#    and its claim: the claim is refused by the lease epoch (db_fenced).
#    Held inside a transaction instead, its FOR SHARE lock on the lease row
#    is released when the server ends its idle transaction, and the standby
#    takes over.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/runs_lib.sh"
. "$TESTS_DIR/cli/daemons.sh"

NS=
VH=
WATCHER=
GDBPID=

# The namespace and the veth pair (deleting either end deletes both).
net_cleanup() {
	[ -n "$WATCHER" ] && kill -9 "$WATCHER" 2>/dev/null
	WATCHER=
	[ -n "$VH" ] && ip link del "$VH" 2>/dev/null
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	VH=
	NS=
	return 0
}

cleanup() {
	[ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"
	[ -n "$GDBPID" ] && kill -9 "$GDBPID" 2>/dev/null
	# The daemons first (the worker inside the namespace among them), then
	# the network, then what daemons_exit does.
	daemons_cleanup
	net_cleanup
	daemons_exit
}
pg_start
trap cleanup EXIT
pg_newdb partition
"$SLUICE" db init >/dev/null || exit 1

# mark FILE: its line count now, for wait_new and after.
mark() { wc -l <"$1"; }

# after FILE MARK: the lines of FILE past the first MARK ones.
after() { tail -n +"$(($2 + 1))" "$1"; }

# wait_new FILE MARK PATTERN [SECONDS]: wait_for, counting only the lines
# after the first MARK ones.
wait_new() {
	wn_i=0
	while ! after "$1" "$2" 2>/dev/null | grep -q -e "$3"; do
		wn_i=$((wn_i + 1))
		[ $wn_i -gt $((${4:-20} * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

dump() { sed 's/^/#   /' "$@"; }

skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # SKIP $1"
}

now_ns() { date +%s%N; }

attempt_of() {
	pg_sql "SELECT a.attempt_id FROM attempts a JOIN task_instances ti USING (ti_id)
		JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2' AND a.try_number = $3"
}

OVERLAP_SQL="SELECT count(*) FROM attempts a JOIN attempts b
		ON a.ti_id = b.ti_id AND a.attempt_id < b.attempt_id
	WHERE tstzrange(coalesce(a.started_at, a.queued_at), coalesce(a.ended_at, 'infinity'))
		&& tstzrange(coalesce(b.started_at, b.queued_at), coalesce(b.ended_at, 'infinity'))"

# --- the DAG repository ------------------------------------------------------
R=$TMP/repo
mkdir -p "$R/dags"
# Each try records its start (by its own clock), try number and pid; try 1
# runs until $TMP is gone (so an aborted test leaves no orphan), try 2
# succeeds at once.
cat >"$R/dags/part.yaml" <<EOF
schedule: null
tasks:
  p:
    command: date +%s%N >"$TMP/p.\$SLUICE_TRY_NUMBER.start"; echo \$\$ >"$TMP/p.\$SLUICE_TRY_NUMBER.pid"; [ "\$SLUICE_TRY_NUMBER" -ge 2 ] || while [ -d "$TMP" ]; do sleep 0.1; done; echo "try \$SLUICE_TRY_NUMBER done"
    retries: 1
    retry_delay: 1s
EOF
# Two tasks of about 3 s side by side, then a third: work in flight.
cat >"$R/dags/frozen.yaml" <<EOF
schedule: null
tasks:
  a:
    command: echo \$\$ >"$TMP/f.a.\$SLUICE_TRY_NUMBER.pid"; i=0; while [ \$i -lt 30 ] && [ -d "$TMP" ]; do sleep 0.1; i=\$((i + 1)); done; echo "a done"
    retries: 2
    retry_delay: 1s
  b:
    command: echo \$\$ >"$TMP/f.b.\$SLUICE_TRY_NUMBER.pid"; i=0; while [ \$i -lt 30 ] && [ -d "$TMP" ]; do sleep 0.1; i=\$((i + 1)); done; echo "b done"
    retries: 2
    retry_delay: 1s
  c:
    command: echo "c done"
    depends_on: [a, b]
EOF
# One quick task without retries: an attempt lost for nothing fails the run.
cat >"$R/dags/one.yaml" <<'EOF'
schedule: null
tasks:
  g:
    command: echo "g done"
EOF
git_repo "$R" || exit 1

# === 1. PARTITION ==============================================================

# net_setup: the namespace $NS, a veth pair $VH (host side, $HOST_IP/30)
# and $VN (inside, $NS_IP/30), both up. On failure $NET_SKIP says why.
NET_SKIP=
net_setup() {
	if [ "$(id -u)" -ne 0 ]; then
		NET_SKIP="partition: needs root for ip netns"
		return 1
	fi
	if ! command -v ip >/dev/null 2>&1; then
		NET_SKIP="partition: no ip command"
		return 1
	fi
	if ! ip netns add "sluice-t98-$$" 2>"$TMP/netns.err"; then
		NET_SKIP="partition: ip netns add failed: $(head -n 1 "$TMP/netns.err")"
		return 1
	fi
	NS=sluice-t98-$$
	# A /30 of 10.213.0.0/16 that no interface here uses.
	ns_i=0
	while :; do
		ns_oct=$((($$ + ns_i) % 250 + 1))
		ip -o -4 addr show | grep -q " 10\.213\.$ns_oct\." || break
		ns_i=$((ns_i + 1))
		if [ $ns_i -ge 250 ]; then
			NET_SKIP="partition: no free /30 in 10.213.0.0/16"
			return 1
		fi
	done
	HOST_IP=10.213.$ns_oct.1
	NS_IP=10.213.$ns_oct.2
	VN=sln$$
	if ! ip link add "slh$$" type veth peer name "$VN" netns "$NS" 2>"$TMP/netns.err"; then
		NET_SKIP="partition: cannot create a veth pair: $(head -n 1 "$TMP/netns.err")"
		return 1
	fi
	VH=slh$$
	if ! { ip addr add "$HOST_IP/30" dev "$VH" && ip link set "$VH" up &&
		ip -n "$NS" addr add "$NS_IP/30" dev "$VN" && ip -n "$NS" link set "$VN" up &&
		ip -n "$NS" link set lo up; } 2>"$TMP/netns.err"; then
		NET_SKIP="partition: cannot configure the veth pair: $(head -n 1 "$TMP/netns.err")"
		return 1
	fi
	return 0
}

if ! net_setup; then
	net_cleanup
	skip "$NET_SKIP"
else
	ok 0 "a network namespace $NS with a veth pair ($VH $HOST_IP, $VN $NS_IP)"
	PORT=$(free_port)
	# A veth pair is not loopback: clear text there is asked for (docs/security.md).
	sched_config "$TMP/s.yaml" "$R" dags "heartbeat_timeout: 4s" "listen: $HOST_IP:$PORT" \
		"insecure: true"
	worker_config "$TMP/w1.yaml" w1 "slots: 1" "scheduler: $HOST_IP:$PORT" "insecure: true"
	worker_config "$TMP/w2.yaml" w2 "slots: 1" "scheduler: $HOST_IP:$PORT" "insecure: true"

	start_scheduler s
	wait_for "$TMP/s.log" 'event=refreshed .* failed=0 ' 30
	ok $? "the scheduler listens on $HOST_IP and loads the DAGs"

	# w1 inside the namespace: `ip netns exec` execs the worker, so $! is it.
	ip netns exec "$NS" "$WORKER" --config "$TMP/w1.yaml" 2>>"$TMP/w1.log" &
	w1_pid=$!
	daemons_pids="$daemons_pids $w1_pid"
	wait_for "$TMP/s.log" "event=worker_connected peer=$NS_IP:[0-9]* worker=w1 " 30
	rc=$?
	ok $rc "w1 connects from inside the namespace ($NS_IP)"
	[ $rc -eq 0 ] || dump "$TMP/s.log" "$TMP/w1.log"

	run "$SLUICE" trigger part --run-id r1
	expect_status 0 "trigger a task with retries: 1"
	wait_for "$TMP/p.1.pid" '^[0-9][0-9]*$' 30
	ok $? "its try 1 runs"
	A1=$(attempt_of r1 p 1)
	expect_str "$(attempts_of r1 p)" "1:live:w1" "on w1"
	start_worker w2
	wait_for "$TMP/s.log" 'event=worker_connected .*worker=w2 ' 30
	ok $? "w2 connects, from the host's namespace"

	# Watch try 1's process from outside its process group.
	PID1=$(cat "$TMP/p.1.pid")
	(
		while kill -0 "$PID1" 2>/dev/null; do sleep 0.01; done
		now_ns >"$TMP/p.1.gone.new" && mv "$TMP/p.1.gone.new" "$TMP/p.1.gone"
	) &
	WATCHER=$!
	ms=$(mark "$TMP/s.log")
	mw1=$(mark "$TMP/w1.log")
	CUT=$(now_ns)
	ip link set "$VH" down
	ok $? "cut the link"

	wait_new "$TMP/w1.log" "$mw1" 'event=lease_expired ' 10
	rc=$?
	ok $rc "w1, cut off, logs lease_expired"
	[ $rc -eq 0 ] || dump "$TMP/w1.log"
	expect_grep "$TMP/w1.log" "event=attempt_fenced attempt=$A1 .*pid=$PID1\$" \
		"and attempt_fenced for the attempt of try 1 (pid $PID1)"
	wait_for "$TMP/p.1.gone" '^[0-9]' 10
	ok $? "try 1's process is gone"
	GONE=$(cat "$TMP/p.1.gone" 2>/dev/null || echo 0)
	if [ "$GONE" -gt 0 ]; then
		WATCHER=
		rm -f "$TMP/p.1.pid"
		echo "# try 1 gone $(((GONE - CUT) / 1000000)) ms after the cut"
	fi
	wait_new "$TMP/w1.log" "$mw1" "event=attempt_finished attempt=$A1 .*outcome=lost" 10
	ok $? "w1 keeps a RESULT for it that says lost"

	wait_new "$TMP/s.log" "$ms" 'event=worker_lost worker=w1 attempts_ended=1' 20
	ok $? "the scheduler loses w1 after heartbeat_timeout"
	wait_run part r1 30
	ok $? "the run finishes while the link is down"
	# Try 2 has ended: its pid is not for the EXIT trap to kill.
	rm -f "$TMP/p.2.pid"
	# Down for longer than heartbeat_timeout, and until the run is over.
	while [ $(($(now_ns) - CUT)) -lt 7000000000 ]; do sleep 0.1; done
	expect_str "$(attempts_of r1 p)" "1:lost:w1 2:success:w2" \
		"try 1 (w1) is lost, try 2 succeeds on w2"
	sql_is "SELECT state FROM runs WHERE run_id = 'r1'" success "the run succeeds"
	START2=$(cat "$TMP/p.2.start" 2>/dev/null || echo 0)
	HEAL=$(now_ns)
	test "$GONE" -gt 0 && test "$START2" -gt "$GONE"
	ok $? "try 1's process was gone before try 2 started, by try 2's own clock"
	[ "$GONE" -gt 0 ] && echo "# gone $(((START2 - GONE) / 1000000)) ms before try 2 started"
	START1=$(cat "$TMP/p.1.start" 2>/dev/null || echo 0)
	test "$START1" -gt 0 && test "$START1" -lt "$CUT" && test "$GONE" -gt "$CUT" &&
		test "$GONE" -lt "$HEAL"
	ok $? "it was killed while the link was down (not by a CANCEL after it came back)"
	sql_is "$OVERLAP_SQL" 0 "no two attempts overlap in the database"

	# --- heal: w1 comes back with its stale RESULT ----------------------------
	ms=$(mark "$TMP/s.log")
	ip link set "$VH" up
	ok $? "heal the link"
	wait_new "$TMP/s.log" "$ms" 'event=worker_connected .*worker=w1 ' 40
	rc=$?
	ok $rc "w1 reconnects"
	[ $rc -eq 0 ] || dump "$TMP/w1.log"
	wait_new "$TMP/s.log" "$ms" "event=attempt_lost worker=w1 attempt=$A1 .*ended=no" 20
	rc=$?
	ok $rc "its kept lost RESULT reaches the scheduler and changes nothing (stale)"
	[ $rc -eq 0 ] || dump "$TMP/s.log"
	wait_new "$TMP/w1.log" "$mw1" "event=result_acked attempt=$A1 " 20
	ok $? "and is acknowledged"
	expect_str "$(attempts_of r1 p)" "1:lost:w1 2:success:w2" \
		"the attempts keep the states the scheduler gave them"
	sql_is "SELECT count(*) || ' ' || ti.try_number || ' ' || ti.state
		FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
		WHERE r.run_id = 'r1' GROUP BY ti.try_number, ti.state" "2 2 success" \
		"exactly two attempts, the task instance on try 2, success"
	sql_is "SELECT state FROM runs WHERE run_id = 'r1'" success "the run stays a success"
	expect_str "$(ls -A "$TMP/w1.yaml.state/results" 2>&1)" "" "w1's results dir is empty"

	for d in w1 w2 s; do
		stop_daemon $d
		expect_status 0 "$d stops on SIGTERM"
	done
	net_cleanup
fi

# === 2. FROZEN LEADER =========================================================
pg_newdb frozen
"$SLUICE" db init >/dev/null || exit 1

P1=$(free_port)
P2=$(free_port)
PORT=$P1
sched_config "$TMP/s1.yaml" "$R" dags
PORT=$P2
sched_config "$TMP/s2.yaml" "$R" dags
worker_config "$TMP/wf.yaml" wf "scheduler: [127.0.0.1:$P1, 127.0.0.1:$P2]"

# The schedulers' sessions are told apart by their application_name.
export PGAPPNAME=sluice-s1
start_scheduler s1
unset PGAPPNAME
wait_for "$TMP/s1.log" 'event=lease_acquired epoch=' 30
ok $? "s1 takes the lease"
export PGAPPNAME=sluice-s2
start_scheduler s2
unset PGAPPNAME
wait_for "$TMP/s2.log" 'event=standby leader=' 30
ok $? "s2 is a standby"
wait_for "$TMP/s1.log" 'event=refreshed .* failed=0 ' 30
ok $? "s1 loads the DAGs"
E1=$(sed -n 's/.*event=lease_acquired epoch=\([0-9]*\) .*/\1/p' "$TMP/s1.log" | head -n 1)
ID1=$(sed -n 's/.*event=started scheduler_id=\([^ ]*\).*/\1/p' "$TMP/s1.log" | head -n 1)
ID2=$(sed -n 's/.*event=started scheduler_id=\([^ ]*\).*/\1/p' "$TMP/s2.log" | head -n 1)
start_worker wf
wait_for "$TMP/s1.log" 'event=worker_connected .*worker=wf ' 30
ok $? "the worker connects to s1"

run "$SLUICE" trigger frozen --run-id f1
expect_status 0 "trigger a DAG of two 3-second tasks and a third after them"
wait_for "$TMP/f.a.1.pid" '^[0-9]' 30 && wait_for "$TMP/f.b.1.pid" '^[0-9]' 30
ok $? "both run on the worker"

# Stop s1 between two transactions: a leader stopped inside one is part
# 3's case (the server ends its session after half of heartbeat_timeout),
# which this part would otherwise meet by chance and wait for.
in_tx="SELECT count(*) = 0 FROM pg_stat_activity
	WHERE application_name = 'sluice-s1' AND xact_start IS NOT NULL"
i=0
while :; do
	kill -STOP "$s1_pid"
	# A statement already sent is done by then.
	sleep 0.2
	[ "$(pg_sql "$in_tx")" = t ] && break
	kill -CONT "$s1_pid"
	i=$((i + 1))
	[ $i -lt 20 ] || break
	sleep 0.05
done
STOP=$(now_ns)
m1=$(mark "$TMP/s1.log")
mf=$(mark "$TMP/wf.log")
ok 0 "SIGSTOP s1 (between transactions after $i tries)"

wait_for "$TMP/s2.log" 'event=lease_acquired epoch=' 20
ok $? "s2 takes the lease once it expires"
E2=$(sed -n 's/.*event=lease_acquired epoch=\([0-9]*\) .*/\1/p' "$TMP/s2.log" | head -n 1)
test -n "$E1" && test -n "$E2" && test "$E2" -gt "$E1"
ok $? "with a higher epoch ($E1, then $E2)"
wait_new "$TMP/wf.log" "$mf" 'event=lease_expired ' 10
ok $? "the worker, hearing nothing, logs lease_expired"
test "$(after "$TMP/wf.log" "$mf" | grep -c 'event=attempt_fenced ')" -eq 2
ok $? "and kills both attempts in flight"
wait_for "$TMP/s2.log" 'event=worker_connected .*worker=wf ' 40
rc=$?
ok $rc "the worker moves to s2"
[ $rc -eq 0 ] || dump "$TMP/wf.log"
wait_run frozen f1 60
ok $? "the run finishes while s1 is stopped"
rm -f "$TMP"/f.*.pid
sql_is "SELECT state FROM runs WHERE run_id = 'f1'" success "the run succeeds"
expect_str "$(attempts_of f1 a) | $(attempts_of f1 b) | $(attempts_of f1 c)" \
	"1:lost:wf 2:success:wf | 1:lost:wf 2:success:wf | 1:success:wf" \
	"the attempts in flight were lost and retried under s2"
# Stopped for 3 x heartbeat_timeout at least.
while [ $(($(now_ns) - STOP)) -lt 9000000000 ]; do sleep 0.1; done
echo "# s1 stopped for $((($(now_ns) - STOP) / 1000000)) ms"

m1=$(mark "$TMP/s1.log")
kill -CONT "$s1_pid"
ok $? "SIGCONT s1"
wait_new "$TMP/s1.log" "$m1" 'event=lease_lost ' 20
rc=$?
ok $rc "s1 logs lease_lost"
[ $rc -eq 0 ] || dump "$TMP/s1.log"
wait_new "$TMP/s1.log" "$m1" "event=standby leader=$ID2\$" 20
ok $? "and is a standby of s2"
after "$TMP/s1.log" "$m1" >"$TMP/s1.resumed"
echo "# s1 after SIGCONT:"
dump "$TMP/s1.resumed"
! grep -q -e 'event=dispatched ' -e 'event=result ' -e 'event=result_stale ' \
	-e 'event=attempt_lost ' -e 'event=runs_created ' "$TMP/s1.resumed"
ok $? "s1 dispatches and records nothing after it resumed"
# What s1 read on resuming (the RESULTs the worker wrote before leaving it)
# it could not write: refused by the lease epoch.
if grep -q 'event=db_fenced ' "$TMP/s1.resumed"; then
	expect_grep "$TMP/s1.resumed" 'event=lease_lost .*reason="a write was refused' \
		"its first write was refused (db_fenced), so it gave the lease up"
fi
s1_before=$(head -n "$m1" "$TMP/s1.log" | sed -n 's/.*event=dispatched .*attempt=\([0-9]*\) .*/\1/p')
s2_disp=$(sed -n 's/.*event=dispatched .*attempt=\([0-9]*\) .*/\1/p' "$TMP/s2.log")
# shellcheck disable=SC2086 # one id a word
expect_str "$(printf '%s\n' $s1_before $s2_disp | sort -n | tr '\n' ' ')" \
	"$(pg_sql "SELECT string_agg(attempt_id::text, ' ' ORDER BY attempt_id) FROM attempts") " \
	"every attempt was dispatched once, by s1 before it stopped or by s2"
sql_is "$OVERLAP_SQL" 0 "no two attempts of a task instance overlap"
sql_is "SELECT count(*) FROM task_instances ti
	WHERE try_number <> (SELECT count(*) FROM attempts a WHERE a.ti_id = ti.ti_id)" 0 \
	"every try is one attempt"

# === 3. A LEADER HELD BETWEEN ITS LEASE CHECK AND ITS WRITE ===================
# A stopped scheduler's loop checks its lease again before each step once it
# runs, so part 2 never gets as far as a write. gdb holds the leader (now
# s2) at the entry of its claim, after it checked its lease; s1 takes the
# lease and queues a task for the worker, then s2 goes on: its claim must be
# refused by the lease epoch (db_fenced), not hand the task to a worker it no
# longer talks to. The worker is stopped meanwhile, so that it cannot move
# to s1 and run the task first: s2's claim must find the task there to
# write (a transaction that writes nothing has nothing to fence).
GDBPID=
if ! command -v gdb >/dev/null 2>&1; then
	skip "held leader: no gdb"
else
	cat >"$TMP/hold.sh" <<EOF
# Until s1 leads and has scheduled the task (60 s at most).
i=0
while [ \$i -lt 600 ]; do
	grep -q 'event=lease_acquired epoch=$((E2 + 1)) ' "$TMP/s1.log" &&
		[ "\$(psql -X -A -t -c "SELECT count(*) FROM task_instances ti
			JOIN runs r USING (run_pk) WHERE r.run_id = 'g1'
			AND ti.state = 'scheduled'")" = 1 ] &&
		exit 0
	sleep 0.1
	i=\$((i + 1))
done
exit 1
EOF
	m1=$(mark "$TMP/s1.log")
	m2=$(mark "$TMP/s2.log")
	timeout 120 gdb -q -nx -batch -p "$s2_pid" -ex 'break sl_engine_claim_started' \
		-ex continue -ex "shell sh $TMP/hold.sh" -ex delete -ex detach \
		</dev/null >"$TMP/gdb.out" 2>&1 &
	GDBPID=$!
	if ! wait_for "$TMP/gdb.out" 'Breakpoint 1, ' 60; then
		skip "held leader: gdb cannot stop s2 at its claim: $(tail -n 1 "$TMP/gdb.out")"
		kill "$GDBPID" 2>/dev/null
		wait "$GDBPID"
		GDBPID=
		kill -CONT "$s2_pid"
	else
		ok 0 "gdb holds s2 (the leader) at the entry of its claim"
		kill -STOP "$wf_pid"
		wait_new "$TMP/s1.log" "$m1" "event=lease_acquired epoch=$((E2 + 1)) " 20
		ok $? "s1 takes the lease, epoch $((E2 + 1))"
		run "$SLUICE" trigger one --run-id g1
		expect_status 0 "trigger a task, which s1 queues"
		wait_exit "$GDBPID" 90
		ok $? "s2 goes on once the task waits for a worker"
		GDBPID=
		kill -CONT "$wf_pid"
		wait_new "$TMP/s2.log" "$m2" 'event=db_fenced what=claim ' 20
		rc=$?
		ok $rc "s2's claim is refused by the lease epoch (db_fenced)"
		[ $rc -eq 0 ] || dump "$TMP/s2.log" "$TMP/gdb.out"
		after "$TMP/s2.log" "$m2" >"$TMP/s2.held"
		expect_grep "$TMP/s2.held" 'event=lease_lost .*reason="a write was refused' \
			"s2 gives the lease up"
		wait_new "$TMP/s2.log" "$m2" "event=standby leader=$ID1\$" 20
		ok $? "and is a standby of s1"
		wait_run one g1 60
		ok $? "the run finishes"
		expect_str "$(attempts_of g1 g)" "1:success:wf" \
			"its one attempt succeeds on the worker, under s1"
		after "$TMP/s2.log" "$m2" >"$TMP/s2.held"
		! grep -q 'event=dispatched ' "$TMP/s2.held"
		ok $? "s2 dispatched nothing after it was held"

		# --- the leader (s1) held INSIDE a transaction --------------------
		# Its fence check holds FOR SHARE on the lease row until the
		# transaction ends, and the standby's lease statement waits for
		# that lock; the server ends a scheduler's session idle in a
		# transaction after half of heartbeat_timeout, so the standby takes
		# over once the lease has expired.
		m2=$(mark "$TMP/s2.log")
		cat >"$TMP/hold2.sh" <<EOF
i=0
while [ ! -f "$TMP/hold2.go" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
		timeout 120 gdb -q -nx -batch -p "$s1_pid" -ex 'break sl__claim_tx' \
			-ex continue -ex "shell sh $TMP/hold2.sh" -ex delete -ex detach \
			</dev/null >"$TMP/gdb2.out" 2>&1 &
		GDBPID=$!
		wait_for "$TMP/gdb2.out" 'Breakpoint 1, ' 60
		ok $? "gdb holds s1 (the leader) inside its claim transaction"
		wait_new "$TMP/s2.log" "$m2" 'event=lease_acquired ' 9
		ok $? "s2 takes the lease while s1 is held inside a transaction (the server ends s1's idle transaction)"
		: >"$TMP/hold2.go"
		wait_exit "$GDBPID" 30
		ok $? "s1 goes on"
		GDBPID=
	fi
fi
disp_s1=$(sed -n 's/.*event=dispatched .*attempt=\([0-9]*\) .*/\1/p' "$TMP/s1.log")
disp_s2=$(sed -n 's/.*event=dispatched .*attempt=\([0-9]*\) .*/\1/p' "$TMP/s2.log")
# shellcheck disable=SC2086 # one id a word
expect_str "$(printf '%s\n' $disp_s1 $disp_s2 | sort -n | tr '\n' ' ')" \
	"$(pg_sql "SELECT string_agg(attempt_id::text, ' ' ORDER BY attempt_id) FROM attempts") " \
	"every attempt in the database was dispatched once, by one of the schedulers"
sql_is "$OVERLAP_SQL" 0 "no two attempts of a task instance overlap"

stop_daemon s1
expect_status 0 "s1 stops on SIGTERM"
stop_daemon s2
expect_status 0 "s2 stops on SIGTERM"
stop_daemon wf
expect_status 0 "the worker stops on SIGTERM"
sql_is "SELECT expires_at <= now() FROM scheduler_lease" t "the leader released the lease"

done_testing
