# Shared by bench/throughput, bench/chain, bench/chaos and bench/heartbeats: a private,
# durable PostgreSQL, a git repository of DAGs, sluice-scheduler and
# sluice-worker, a run timed from trigger to end, peak RSS, and the
# database's own counters.
#
#     bench_init BUILD_DIR [nomake]
#                               binaries, $TMP, the EXIT trap; make (the
#                               baseline of throughput and chain) is
#                               required unless `nomake` is given
#     bench_cleanup_hook        when the script defines it, the EXIT trap
#                               calls it first (before the daemons and the
#                               cluster are stopped and $TMP removed)
#     bench_pg                  private cluster (tests/pg.sh) made durable:
#                               fsync, synchronous_commit, full_page_writes
#                               on (tests/pg.sh turns them off), plus
#                               pg_stat_statements; database "bench"
#     bench_repo                commit $TMP/repo/dags/*.yaml
#     bench_start SLOTS         scheduler + one worker; waits until the DAGs
#                               are refreshed and the worker is connected
#     bench_sched [TIMEOUT]     the scheduler alone, heartbeat_timeout TIMEOUT
#                               (empty: the built-in default); waits until
#                               the DAGs are refreshed; sets $PORT, $SPID;
#                               $BENCH_SCHED_CONF (lines of YAML) is added
#                               to its configuration
#     bench_run DAG RUN_ID      trigger, wait for the end; sets $wall (s),
#                               $run_state
#     bench_counters            $xacts, $walsyncs, $stmts: totals so far
#     bench_cpu                 $cpu_sched, $cpu_pg, $cpu_worker, $cpu_tasks:
#                               CPU ms so far
#     bench_rss                 $sched_kib, $worker_kib: VmHWM of both
#     cpu_ms PID...             utime + stime (ms) of live processes, summed
#     pg_cpu_all                CPU ms of the whole cluster: the postmaster,
#                               its live children and those it reaped
#     bench_stop                SIGTERM both (whichever runs), wait
#
# Other processes a script starts go in $BENCH_PIDS: the EXIT trap kills
# them (SIGKILL) before the daemons.
#     median / p99 / fmt        small awk helpers on a column of numbers
#
# Set BENCH_SYNC=off to run the cluster with synchronous_commit off (to
# measure what durable commits cost); the default is on.
set -u

bench_init() {
	local build=${1:-build}
	BUILD=$(cd "$build" 2>/dev/null && pwd) || { echo "no build directory $build" >&2; exit 2; }
	SLUICE=$BUILD/cli/sluice
	SCHED=$BUILD/scheduler/sluice-scheduler
	WORKER=$BUILD/worker/sluice-worker
	for b in "$SLUICE" "$SCHED" "$WORKER"; do
		[ -x "$b" ] || {
			echo "build first: meson setup $build -Dbuildtype=release && ninja -C $build" >&2
			exit 2
		}
	done
	[ "${2:-}" = nomake ] || command -v make >/dev/null ||
		{ echo "make is needed for the baseline" >&2; exit 2; }
	SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
	# The test helpers' chown (the cluster runs as postgres when we are
	# root) needs the parent reachable.
	chmod 755 "$TMP"
	export SLUICE
	SPID=
	WPID=
	BENCH_PIDS=
	. "$SRC_DIR/tests/pg.sh"
	# pg_start replaces the EXIT trap with pg_stop + rm; ours kills the
	# daemons first.
	bench_trap='bench_cleanup'
	trap "$bench_trap" EXIT
}

bench_cleanup() {
	local p
	! declare -F bench_cleanup_hook >/dev/null || bench_cleanup_hook
	for p in $BENCH_PIDS $SPID $WPID; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pg_stop
	rm -rf "$TMP"
}

bench_pg() {
	pg_start >/dev/null
	trap bench_cleanup EXIT
	pg_as sh -c "cat >>'$PG_DIR/data/postgresql.conf'" <<EOF
fsync = on
synchronous_commit = ${BENCH_SYNC:-on}
full_page_writes = on
shared_buffers = 64MB
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 1000
EOF
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 restart \
		>/dev/null 2>&1 || { echo "PostgreSQL restart failed" >&2; cat "$PG_DIR/server.log" >&2; exit 1; }
	pg_newdb bench
	"$SLUICE" db init >/dev/null || exit 1
	# BENCH_EVENTS=0: without the live-update triggers (migration 0013), to
	# measure what they cost the scheduler's statements.
	if [ "${BENCH_EVENTS:-1}" = 0 ]; then
		for t in runs task_instances log_chunks; do
			pg_sql "ALTER TABLE $t DISABLE TRIGGER USER" >/dev/null || exit 1
		done
	fi
	pg_sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true
	PM_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

bench_repo() {
	(cd "$TMP/repo" && git init -q -b main && git add -A &&
		git -c user.name=b -c user.email=b@b commit -q -m dags) || exit 1
}

# A worker run as root refuses to start without a task_user (docs/worker.md).
ROOT_TASK_USER=
[ "$(id -u)" -eq 0 ] && ROOT_TASK_USER="task_user: root"

bench_start() {
	local slots=${1:-2}
	bench_sched 30s
	cat >"$TMP/worker.yaml" <<EOF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: w1
slots: $slots
state_dir: $TMP/worker-state
grace: 2s
$ROOT_TASK_USER
EOF
	"$WORKER" --config "$TMP/worker.yaml" 2>"$TMP/worker.log" &
	WPID=$!
	bench_wait_log "$TMP/sched.log" 'event=worker_connected' || { echo "no worker" >&2; cat "$TMP/worker.log" >&2; exit 1; }
}

# bench_sched [HEARTBEAT_TIMEOUT]: sluice-scheduler alone, on a fresh port,
# logging to $TMP/sched.log (truncated); heartbeat_timeout as given, or the
# built-in default when the argument is empty or absent.
bench_sched() {
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'secret\n' >"$TMP/token"
	{
		cat <<EOF
dags:
  repo: $TMP/repo
  branch: main
  path: dags
  poll_interval: 10m
state_dir: $TMP/sched-state
listen: 127.0.0.1:$PORT
token_file: $TMP/token
EOF
		[ -z "${1:-}" ] || echo "heartbeat_timeout: $1"
		[ -z "${BENCH_SCHED_CONF:-}" ] || printf '%s\n' "$BENCH_SCHED_CONF"
	} >"$TMP/sched.yaml"
	"$SCHED" --config "$TMP/sched.yaml" 2>"$TMP/sched.log" &
	SPID=$!
	bench_wait_log "$TMP/sched.log" 'event=refreshed' || { echo "no refresh" >&2; cat "$TMP/sched.log" >&2; exit 1; }
	if grep -q 'event=dag_error' "$TMP/sched.log"; then
		grep 'event=dag_error' "$TMP/sched.log" >&2
		exit 1
	fi
}

bench_wait_log() {
	local i=0
	while ! grep -q -e "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.05
	done
}

# bench_run DAG RUN_ID [BUDGET_S]: trigger, then poll (every 0.25 s, a
# psql process each: cheap against the run) until the run has ended, or
# for at most BUDGET_S seconds (default 180). The wall time is from just
# before the trigger to the run's ended_at, both wall clocks; a run still
# going when the budget is spent is left running ($run_state says so) and
# $wall is the time spent.
bench_run() {
	local t0 deadline
	t0=$EPOCHREALTIME
	deadline=$((${t0%.*} + ${3:-180}))
	"$SLUICE" trigger "$1" --run-id "$2" >/dev/null || { echo "trigger failed" >&2; exit 1; }
	while :; do
		run_state=$(pg_sql "SELECT state FROM runs WHERE run_id = '$2'")
		case $run_state in success | failed) break ;; esac
		if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
			wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
			return 0
		fi
		sleep 0.25
	done
	wall=$(pg_sql "SELECT round((extract(epoch FROM ended_at) - $t0)::numeric, 3) FROM runs WHERE run_id = '$2'")
}

# Transactions and statements come from pg_stat_statements (counted at
# once: COMMIT is a statement of its own, since sl_db_transaction sends
# BEGIN and COMMIT); WAL flushes from pg_stat_wal, which backends report at
# most once a second: hence the pause (the idle ticks during it add a few).
bench_counters() {
	sleep 1.2
	walsyncs=$(pg_sql "SELECT wal_sync FROM pg_stat_wal")
	read -r xacts stmts <<<"$(pg_sql "SELECT coalesce(sum(calls) FILTER (WHERE query = 'COMMIT'), 0),
		coalesce(sum(calls), 0) FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'bench'" | tr '|' ' ')"
}

# bench_cpu: CPU time so far (ms, utime + stime) of the scheduler
# ($cpu_sched), its PostgreSQL backends ($cpu_pg), the worker ($cpu_worker)
# and the tasks the worker has reaped ($cpu_tasks: its children's times).
bench_cpu() {
	local tck pgpids
	tck=$(getconf CLK_TCK)
	pgpids=$(pg_sql "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
		WHERE datname = 'bench' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
	cpu_sched=$(awk -v t="$tck" '{ print ($14 + $15) * 1000 / t }' "/proc/$SPID/stat")
	cpu_worker=$(awk -v t="$tck" '{ print ($14 + $15) * 1000 / t }' "/proc/$WPID/stat")
	cpu_tasks=$(awk -v t="$tck" '{ print ($16 + $17) * 1000 / t }' "/proc/$WPID/stat")
	cpu_pg=0
	for p in $pgpids; do
		cpu_pg=$(awk -v t="$tck" -v c="$cpu_pg" '{ print c + ($14 + $15) * 1000 / t }' "/proc/$p/stat" 2>/dev/null || echo "$cpu_pg")
	done
}

TCK=$(getconf CLK_TCK)

# cpu_ms PID...: utime + stime (ms) of the processes, summed (0 for gone ones).
cpu_ms() {
	local p line f t=0
	for p in "$@"; do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		read -ra f <<<"${line##*) }" # f[0] is field 3 (state)
		t=$((t + f[11] + f[12]))
	done
	echo $((t * 1000 / TCK))
}

# pg_cpu_all: the postmaster with the children it reaped, and its live children.
pg_cpu_all() {
	local st line f t=0
	for st in /proc/[0-9]*/stat; do
		{ read -r line <"$st"; } 2>/dev/null || continue
		read -ra f <<<"${line##*) }"
		if [ "${st#/proc/}" = "$PM_PID/stat" ]; then
			t=$((t + f[11] + f[12] + f[13] + f[14]))
		elif [ "${f[1]}" = "$PM_PID" ]; then
			t=$((t + f[11] + f[12]))
		fi
	done
	echo $((t * 1000 / TCK))
}

bench_rss() {
	sched_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status")
	worker_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WPID/status")
}

bench_stop() {
	local p
	for p in $SPID $WPID; do kill -TERM "$p" 2>/dev/null; done
	for p in $SPID $WPID; do wait "$p" 2>/dev/null; done
	SPID=
	WPID=
}

# A column of numbers on stdin (any order) -> one value.
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p99() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else { i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; print v[i] } }'; }
maxof() { sort -g | tail -n 1; }

# ms_of SECONDS -> "12.34"
ms_of() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }
mib_of() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# met VALUE OP LIMIT -> "yes" / "NO"
met() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == "<") ? (v < l) : (v >= l); print ok ? "yes" : "NO" }'; }
