#!/bin/sh
# Tasks cannot reach the worker's secrets (docs/security.md): a real
# scheduler, PostgreSQL and a worker run as an unprivileged user (daemon)
# with only CAP_SETUID, CAP_SETGID and CAP_KILL, as ambient capabilities
# (what systemd's AmbientCapabilities= gives the unit), a member of the task
# user's group (what sysusers gives it) and the unit's umask; tasks run as
# task_user nobody. A task probes what it can reach; a planted symlink does
# not make the worker read the token; a timeout and a cancel still kill the
# task's processes (another uid: CAP_KILL); a read-only folder left in the
# attempt's folder does not keep it from being removed. And the start-up
# rules: root needs a task_user, task_user: root is warned about, an
# unknown user or missing capabilities are clear errors.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

cd "$TMP" || exit 1

# --- an unknown task_user: no root needed ---------------------------------------
printf 'scheduler: 127.0.0.1:1\ntoken_file: %s/tok\nstate_dir: %s/u.state\ntask_user:  no-such-user-x\n' \
	"$TMP" "$TMP" >"$TMP/unknown.yaml"
printf 'tok\n' >"$TMP/tok"
run "$WORKER" --config "$TMP/unknown.yaml"
expect_status 1 "an unknown task_user: the worker does not start"
expect_grep "$TMP/err" "unknown.yaml:4:13: task_user: no user 'no-such-user-x' on this machine" \
	"... and says so at file:line:col"

if [ "$(id -u)" -ne 0 ]; then
	ok 0 "# SKIP the rest needs root (to start a worker as another user)"
	done_testing
	exit
fi

WU=daemon
TU=nobody
TGID=$(id -g $TU)
TUID=$(id -u $TU)
PIDS=$TMP/pids
cleanup() {
	for f in "$PIDS"/*.pid; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && cp -r "$TMP" "$KEEP"
	daemons_exit
}
daemons_db taskuser
trap cleanup EXIT
# The worker (daemon) and the tasks (nobody) may pass through $TMP; the
# test's own files there stay unreadable to them.
chmod 0711 "$TMP"
mkdir -m 1777 "$PIDS"

# --- the start-up rules, as root ------------------------------------------------
PORT=$(free_port)
worker_config "$TMP/noroot.yaml" noroot
sed -i '/^task_user:/d' "$TMP/noroot.yaml"
run "$WORKER" --config "$TMP/noroot.yaml"
expect_status 1 "as root without task_user: the worker does not start"
expect_grep "$TMP/err" "noroot.yaml: the worker runs as root and task_user is not set, so tasks would run as root" \
	"... and says why, naming the file"
test ! -e "$TMP/noroot.yaml.state/results"
ok $? "... before it touches its state_dir"

worker_config "$TMP/asroot.yaml" asroot "queues: [none]"
start_worker asroot
wait_for "$TMP/asroot.log" "level=warn event=tasks_as_root task_user=root"
ok $? "task_user: root starts, with a warning"
stop_daemon asroot

# --- the worker's files, owned by its user ------------------------------------
W=$TMP/w
mkdir -m 0711 "$W"
printf 'leak=sekrit-token\n' >"$W/token" # a key=value line, should it ever be read as outputs
chmod 0600 "$W/token"
R=$TMP/repo
mkdir -p "$R/dags" "$R/bin"
echo "from the checkout" >"$R/data.txt"
printf '#!/bin/sh\necho script-ran\n' >"$R/bin/hello.sh"
chmod 0755 "$R/bin/hello.sh"
cat >"$R/dags/tu.yaml" <<EOF
schedule: null
env: {TOKEN: "$W/token", STATE: "$W/state", PIDS: "$PIDS"}
tasks:
  probe:
    command: |
      echo "ids=\$(id -u):\$(id -g):\$(id -G)"
      echo "user=\$USER home_is_work=\$([ "\$HOME" = "\$SLUICE_WORK_DIR" ] && echo yes)"
      cat "\$TOKEN" >/dev/null 2>&1 && echo token=READ || echo token=denied
      ls "\$STATE" >/dev/null 2>&1 && echo state_list=LISTED || echo state_list=denied
      for d in results pgroups mirrors; do
        ls "\$STATE/\$d" >/dev/null 2>&1 && echo "\$d=LISTED" || echo "\$d=denied"
      done
      try_write() { touch "\$2/planted" 2>/dev/null && echo "\$1=WROTE" || echo "\$1=denied"; }
      try_write write "\$STATE"
      for d in results checkouts work; do try_write "write/\$d" "\$STATE/\$d"; done
      try_write write_checkout .
      awk '/^Cap(Inh|Prm|Eff|Amb):/ && \$2 != "0000000000000000" { bad = bad " " \$1 \$2 }
        END { print "caps=" (bad ? bad : "none") }' /proc/self/status
      python3 -c 'import os; os.setuid(0)' 2>/dev/null && echo setuid=ROOT || echo setuid=denied
      echo "data=\$(cat data.txt)" "\$(bin/hello.sh)"
      echo scratch >"\$SLUICE_WORK_DIR/f" && echo work=written
      mkdir -p "\$SLUICE_WORK_DIR/ro/deep" && touch "\$SLUICE_WORK_DIR/ro/deep/f" &&
        chmod 0500 "\$SLUICE_WORK_DIR/ro/deep" && chmod 0 "\$SLUICE_WORK_DIR/ro" && echo left=readonly
      echo "dir=\$SLUICE_WORK_DIR" >"\$SLUICE_OUTPUT"
  plant:
    command: ln -sf "\$TOKEN" "\$SLUICE_OUTPUT" && echo planted
  consume:
    depends_on: [probe, plant]
    command: echo "got dir={{ outputs.probe.dir }} leak=[\$SLUICE_OUT_PLANT_LEAK]"
EOF
cat >"$R/dags/slow.yaml" <<EOF
schedule: null
tasks:
  slow:
    timeout: 2s
    command: echo \$\$ >"$PIDS/slow.pid"; sleep 301
EOF
cat >"$R/dags/hang.yaml" <<EOF
schedule: null
tasks:
  hang:
    command: echo \$\$ >"$PIDS/hang.pid"; sleep 302
EOF
git_repo "$R" || exit 1
# The worker fetches from its own clone: libgit2 opens only repositories
# of the user it runs as.
git clone -q --bare "$R" "$W/dags.git" || exit 1
chown -R $WU:$WU "$W"

sched_config "$TMP/s.yaml" "$R" dags "token_file: $W/token"
start_scheduler s
wait_for "$TMP/s.log" 'event=refreshed' 30
ok $? "scheduler: up"

cat >"$W/worker.yaml" <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $W/token
name: wt
slots: 4
state_dir: $W/state
repo: $W/dags.git
grace: 2s
task_user: $TU
EOF

# start_unit NAME CAPS GROUPS: the worker as the unit runs it: user daemon,
# the capabilities CAPS (ambient, as AmbientCapabilities= gives them), the
# supplementary groups GROUPS, umask 0027 and HOME in its state directory.
start_unit() {
	HOME=$W setpriv --reuid=$WU --regid=$WU --groups="$3" --inh-caps="$2" --ambient-caps="$2" -- \
		sh -c 'umask 0027; exec "$0" --config "$1"' "$WORKER" "$W/worker.yaml" \
		2>>"$TMP/$1.log" &
	eval "$1_pid=$!"
	daemons_pids="$daemons_pids $!"
}

# Without CAP_KILL it could not stop its tasks: it does not start.
start_unit nokill +setuid,+setgid "$TGID"
wait_exit "$nokill_pid" 20
[ "$status" -eq 1 ]
ok $? "without CAP_KILL the worker does not start"
expect_grep "$TMP/nokill.log" "task_user: running tasks as 'nobody' takes CAP_SETUID, CAP_SETGID and CAP_KILL, and the worker lacks CAP_KILL" \
	"... and names the capability it lacks"
start_unit nogroup +setuid,+setgid,+kill "$(id -g $WU)"
wait_exit "$nogroup_pid" 20
[ "$status" -eq 1 ]
ok $? "outside the task user's group the worker does not start"
expect_grep "$TMP/nogroup.log" "the worker's user must be a member of group 'nogroup' (gid $TGID), the primary group of 'nobody'" \
	"... and says which group"

start_unit w +setuid,+setgid,+kill "$TGID"
wait_for "$TMP/w.log" "event=task_user task_user=nobody uid=$TUID gid=$TGID"
ok $? "worker: runs as $WU, tasks as $TU"
wait_for "$TMP/w.log" "event=connected" 20
ok $? "worker: connected"

# --- what a task can reach ----------------------------------------------------------
run "$SLUICE" trigger tu --run-id r1
expect_status 0 "trigger tu"
wait_run tu r1 90
ok $? "the run ends"
"$SLUICE" logs tu r1 probe >"$TMP/probe.log" 2>&1
expect_grep "$TMP/probe.log" "^ids=$TUID:$TGID:$TGID$" "a task runs as the task user, in its group only"
expect_grep "$TMP/probe.log" "^user=nobody home_is_work=yes$" "... with its USER, and HOME in its own folder"
expect_grep "$TMP/probe.log" "^token=denied$" "... it cannot read the worker's token_file"
expect_grep "$TMP/probe.log" "^state_list=denied$" "... nor list state_dir"
for d in results pgroups mirrors; do
	expect_grep "$TMP/probe.log" "^$d=denied$" "... nor list state_dir/$d"
done
expect_grep "$TMP/probe.log" "^write=denied$" "... nor write into state_dir"
for d in results checkouts work; do
	expect_grep "$TMP/probe.log" "^write/$d=denied$" "... nor into state_dir/$d"
done
expect_grep "$TMP/probe.log" "^write_checkout=denied$" "... nor into its checkout"
expect_grep "$TMP/probe.log" "^caps=none$" "... it has no capability (CapInh, CapPrm, CapEff, CapAmb all zero)"
expect_grep "$TMP/probe.log" "^setuid=denied$" "... and cannot become root"
expect_grep "$TMP/probe.log" "^data=from the checkout script-ran$" \
	"... it reads its checkout and runs its scripts (made under umask 0027)"
expect_grep "$TMP/probe.log" "^work=written$" "... it writes its \$SLUICE_WORK_DIR"
expect_grep "$TMP/probe.log" "^left=readonly$" "... and leaves a read-only folder in it"
"$SLUICE" logs tu r1 consume >"$TMP/consume.log" 2>&1
expect_grep "$TMP/consume.log" "^got dir=$W/state/work/[^ /]* leak=\[\]$" \
	"the downstream task sees the output written to \$SLUICE_OUTPUT"
"$SLUICE" logs tu r1 plant >"$TMP/plant.log" 2>&1
expect_grep "$TMP/plant.log" 'sluice: $SLUICE_OUTPUT ignored: it is a symbolic link' \
	"a symlink planted at \$SLUICE_OUTPUT is not followed"
pg_sql "SELECT count(*) FROM attempts WHERE outputs::text LIKE '%sekrit%'" >"$TMP/leaks"
expect_file "$TMP/leaks" "0" "... and the token is in no output"

# The folders are removed, read-only ones too, by a process run as nobody.
rm_i=0
while [ -n "$(ls -A "$W/state/work")" ] && [ $rm_i -lt 100 ]; do
	rm_i=$((rm_i + 1))
	sleep 0.1
done
expect_str "$(ls -A "$W/state/work")" "" "every attempt's folder is removed, read-only folders included"
grep -q "event=workdir_not_removed" "$TMP/w.log"
[ $? -ne 0 ]
ok $? "... and no removal failed"

# --- stopping another user's processes: CAP_KILL ----------------------------------
run "$SLUICE" trigger slow --run-id r3
expect_status 0 "trigger slow"
wait_run slow r3 30
ok $? "the run of a task with a 2 s timeout ends"
pg_sql "SELECT outcome FROM attempts a JOIN task_instances ti USING (ti_id)
	JOIN runs r USING (run_pk) WHERE r.run_id = 'r3' AND ti.task_id = 'slow'" >"$TMP/slow"
expect_file "$TMP/slow" "timeout" "a task past its timeout ends as timeout"
SLOW=$(cat "$PIDS/slow.pid" 2>/dev/null)
[ -n "$SLOW" ] && ! alive "$SLOW" && ! pgrep -u $TU -f "sleep 301" >/dev/null
ok $? "... and its processes are gone"

run "$SLUICE" trigger hang --run-id r2
expect_status 0 "trigger hang"
hang_i=0
while [ ! -s "$PIDS/hang.pid" ] && [ $hang_i -lt 300 ]; do
	hang_i=$((hang_i + 1))
	sleep 0.1
done
HANG=$(cat "$PIDS/hang.pid" 2>/dev/null)
[ -n "$HANG" ] && alive "$HANG"
ok $? "a task runs"
run "$SLUICE" runs cancel hang r2
expect_status 0 "runs cancel"
wait_run hang r2 30
ok $? "the cancelled run ends"
hang_i=0
while pgrep -u $TU -f "sleep 302" >/dev/null && [ $hang_i -lt 100 ]; do
	hang_i=$((hang_i + 1))
	sleep 0.1
done
! alive "$HANG" && ! pgrep -u $TU -f "sleep 302" >/dev/null
ok $? "... and its processes are killed"

stop_daemon w
ok $? "worker: stops"
done_testing
