# Helpers for end-to-end tests that run sluice-scheduler and sluice-worker
# (t0090 and up). Source after lib.sh and pg.sh; either call daemons_db
# (which sets the EXIT trap) or call daemons_cleanup from the script's own
# EXIT trap (before pg_stop).
#
#   daemons_db NAME         a private PostgreSQL with database NAME, its
#                           schema, and an EXIT trap that stops everything
#   PORT=$(free_port)
#   git_repo DIR            init DIR as a repository on branch main and
#                           commit everything in it
#   git_commit DIR MSG      commit every change in DIR; prints the new id
#   sched_config FILE REPO PATH [KEY: VALUE]...
#   worker_config FILE NAME [KEY: VALUE]...
#                           a config with each top-level KEY given replacing
#                           its default
#   $ROOT_TASK_USER         "task_user: root" when the tests run as root (a
#                           worker run as root refuses to start without a
#                           task_user), else empty: for configs written by hand
#   start_scheduler NAME    run it with $TMP/NAME.yaml, log $TMP/NAME.log;
#                           its pid in $NAME_pid (e.g. $s1_pid)
#   start_worker NAME       likewise
#   alive PID               the process exists and is not a zombie
#   wait_for FILE PATTERN [SECONDS]   until a line of FILE matches (20 s)
#   wait_exit PID [SECONDS]           until PID exits; its status in $status
#   stop_daemon NAME        SIGTERM, wait; its status in $status
#   wait_sql SQL [SECONDS]            until SQL prints "t" (60 s)
#   wait_run DAG RUN_ID [SECONDS]     until the run has finished (60 s)
#   attempts_of RUN_ID TASK           "try:outcome:worker ..." in try order

SCHED=${SLUICE_SCHEDULER:?SLUICE_SCHEDULER must point at sluice-scheduler}
WORKER=${SLUICE_WORKER:?SLUICE_WORKER must point at sluice-worker}
daemons_pids=
ROOT_TASK_USER=
[ "$(id -u)" -eq 0 ] && ROOT_TASK_USER="task_user: root"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# alive PID: the process exists and is not a zombie (a killed worker's
# orphans go to a PID 1 that may never reap them).
alive() {
	al_state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$al_state" ] && [ "$al_state" != Z ]
}

wait_for() {
	wf_i=0
	wf_max=$((${3:-20} * 20))
	while ! grep -q -e "$2" "$1" 2>/dev/null; do
		wf_i=$((wf_i + 1))
		[ $wf_i -gt $wf_max ] && return 1
		sleep 0.05
	done
	return 0
}

wait_exit() {
	we_i=0
	we_max=$((${2:-20} * 20))
	while kill -0 "$1" 2>/dev/null; do
		we_i=$((we_i + 1))
		if [ $we_i -gt $we_max ]; then
			status=124
			return 1
		fi
		sleep 0.05
	done
	wait "$1"
	status=$?
}

git_repo() {
	(cd "$1" && git init -q -b main && git add -A &&
		git -c user.name=t -c user.email=t@t commit -q -m init) || return 1
}

git_commit() {
	(cd "$1" && git add -A && git -c user.name=t -c user.email=t@t commit -q -m "$2" &&
		git rev-parse HEAD)
}

# The token every config of a test shares.
daemons_token() {
	[ -f "$TMP/token" ] || printf 'secret\n' >"$TMP/token"
}

# config_set FILE [KEY: VALUE]...: each top-level KEY replaces the default
# one of the file (a key given twice is an error in the config).
config_set() {
	cs_file=$1
	shift
	for kv in "$@"; do
		cs_key=${kv%%:*}
		sed -i "/^$cs_key:/d" "$cs_file"
		printf '%s\n' "$kv" >>"$cs_file"
	done
}

sched_config() {
	sc_file=$1
	daemons_token
	cat >"$sc_file" <<CONF
dags:
  repo: $2
  branch: main
  path: $3
  poll_interval: 1s
state_dir: $sc_file.state
listen: 127.0.0.1:$PORT
token_file: $TMP/token
heartbeat_timeout: 3s
CONF
	shift 3
	config_set "$sc_file" "$@"
}

worker_config() {
	wc_file=$1
	daemons_token
	cat >"$wc_file" <<CONF
scheduler: 127.0.0.1:$PORT
token_file: $TMP/token
name: $2
slots: 2
state_dir: $wc_file.state
grace: 2s
$ROOT_TASK_USER
CONF
	shift 2
	config_set "$wc_file" "$@"
}

# start_daemon BINARY NAME: background it, remember its pid.
start_daemon() {
	"$1" --config "$TMP/$2.yaml" 2>>"$TMP/$2.log" &
	eval "$2_pid=$!"
	daemons_pids="$daemons_pids $!"
}

start_scheduler() { start_daemon "$SCHED" "$1"; }
start_worker() { start_daemon "$WORKER" "$1"; }

stop_daemon() {
	eval "sd_pid=\$$1_pid"
	kill -TERM "$sd_pid" 2>/dev/null
	wait_exit "$sd_pid" 30
}

# Every daemon still running (a stopped one is continued first, or it
# would not die before SIGCONT), and every process of a task that recorded
# its pid in $TMP/*.pid.
daemons_cleanup() {
	for p in $daemons_pids; do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	for f in "$TMP"/*.pid; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	return 0
}

daemons_exit() {
	daemons_cleanup
	pg_stop
	rm -rf "$TMP"
}

daemons_db() {
	pg_start
	pg_newdb "$1"
	"$SLUICE" db init >/dev/null || exit 1
	trap daemons_exit EXIT
}

# wait_sql SQL [SECONDS]: poll until SQL prints "t" (60 s unless told);
# for states the daemons reach in their own time on a loaded machine.
wait_sql() {
	ws_i=0
	ws_max=$((${2:-60} * 5))
	while [ "$(pg_sql "$1" 2>/dev/null)" != t ]; do
		ws_i=$((ws_i + 1))
		[ $ws_i -gt $ws_max ] && return 1
		sleep 0.2
	done
	return 0
}

# attempts_of RUN_ID TASK: "try:outcome:worker ..." in try order ("live"
# for an attempt not ended).
attempts_of() {
	pg_sql "SELECT string_agg(a.try_number || ':' || coalesce(a.outcome, 'live') || ':'
			|| a.worker_id, ' ' ORDER BY a.try_number)
		FROM attempts a JOIN task_instances ti USING (ti_id) JOIN runs r USING (run_pk)
		WHERE r.run_id = '$1' AND ti.task_id = '$2'"
}

wait_run() {
	wait_sql "SELECT state IN ('success', 'failed', 'cancelled') FROM runs
		WHERE dag_id = '$1' AND run_id = '$2'" "${3:-60}"
}
