#!/bin/sh
# Limits before HELLO (docs/security.md, "Before HELLO"), against a private
# PostgreSQL and the real scheduler, with python playing the attacker on
# raw sockets: a HELLO trickled a byte a second is cut off at hello_timeout,
# long before heartbeat_timeout; 200 connections holding partial frames are
# capped (64 before HELLO) and the scheduler's memory with them, and a real
# worker still runs a task; a HELLO larger than a HELLO can be is refused
# before it is buffered; a HELLO whose host holds a newline cannot forge a
# log line.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db preauth

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/one.yaml" <<'YAML'
schedule: null
tasks:
  t:
    command: echo ran
YAML
git_repo "$R" || exit 1

PORT=$(free_port)
# heartbeat_timeout far beyond hello_timeout: a connection closed at 3 s is
# closed by the HELLO deadline, not by silence.
sched_config "$TMP/s.yaml" "$R" dags "heartbeat_timeout: 30s" "hello_timeout: 3s"
worker_config "$TMP/w.yaml" w1
start_scheduler s
wait_for "$TMP/s.log" 'event=lease_acquired' 30 && wait_for "$TMP/s.log" 'event=refreshed' 30
ok $? "the scheduler leads and has its DAGs"

# The attacker: python3 $TMP/peer.py PORT MODE [ARG].
cat >"$TMP/peer.py" <<'PY'
import json, select, socket, struct, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]

def frame(t, obj):
    body = bytes([t]) + json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body

def hello(host="h", worker="forger", token="secret"):
    return frame(1, {"version_min": 1, "version_max": 65535, "token": token,
                     "worker_id": worker, "host": host, "slots": 1, "queues": ["q"]})

def connect():
    return socket.create_connection(("127.0.0.1", port))

# Seconds until the peer closes, reading (and printing the type of) frames.
def until_closed(s, limit):
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            if len(d) >= 5:
                print("frame", d[4])
    except OSError:
        pass
    return time.monotonic() - t0

def closed(s):
    try:
        r, _, _ = select.select([s], [], [], 0)
        return bool(r) and s.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True

def rss_kb(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

if mode == "slowloris":
    s = connect()
    t0 = time.monotonic()
    data = hello()
    s.setblocking(False)
    for b in data:
        try:
            s.send(bytes([b]))
        except OSError:
            break
        time.sleep(1)
        if closed(s):
            break
    print("closed_after %.1f" % (time.monotonic() - t0))
elif mode == "oversized":
    s = connect()
    try:
        s.sendall(hello(host="x" * (200 * 1024)))
    except OSError:
        pass
    print("closed_after %.1f" % until_closed(s, 10))
elif mode == "forge":
    s = connect()
    s.sendall(hello(host="x\nlevel=error event=forged"))
    s.settimeout(5)
    d = s.recv(65536)
    print("frame", d[4] if len(d) >= 5 else "none")
    s.close()
elif mode == "flood":
    pid = sys.argv[3]
    before = rss_kb(pid)
    socks = []
    for i in range(200):
        socks.append(connect())
    # Each holds a partial frame: the prefix of a HELLO of 110 KiB, which
    # fits the limit before HELLO, and 100 KiB of it.
    partial = struct.pack(">I", 110 * 1024) + b"\x01" + b"{" + b" " * (100 * 1024)
    for s in socks:
        try:
            s.sendall(partial)
        except OSError:
            pass
    time.sleep(1)
    print("rss_growth_kb", rss_kb(pid) - before)
    print("closed", sum(closed(s) for s in socks))
    for s in socks:
        s.close()
elif mode == "cap":
    # A worker that has said HELLO holds a connection; then one more.
    a = connect()
    a.sendall(hello(worker="holder"))
    a.settimeout(5)
    d = a.recv(65536)
    print("frame", d[4] if len(d) >= 5 else "none")
    b = connect()
    time.sleep(1)
    print("first_closed", closed(a))
    print("second_closed", closed(b))
PY

# --- a HELLO cannot forge a log line ------------------------------------------
run python3 "$TMP/peer.py" "$PORT" forge
expect_str "$(cat "$TMP/out")" "frame 2" "a HELLO whose host holds a newline is welcomed"
wait_for "$TMP/s.log" 'event=worker_connected .*worker=forger' 10
if grep -q '^level=error event=forged' "$TMP/s.log"; then
	ok 1 "no log line starts with the forged text"
	grep -n 'forged' "$TMP/s.log" | sed 's/^/#   /'
else
	ok 0 "no log line starts with the forged text"
fi
expect_grep "$TMP/s.log" 'event=worker_connected .*host="x\\nlevel=error event=forged"' \
	"the host is logged quoted, its newline escaped"

# --- an oversized frame before HELLO --------------------------------------------
run python3 "$TMP/peer.py" "$PORT" oversized
grep -q '^frame' "$TMP/out"
ok $((!$?)) "a 200 KiB HELLO gets no answer"
expect_grep "$TMP/s.log" 'event=worker_disconnected .*reason="frame of 20[0-9]* bytes exceeds the [0-9]*-byte limit"' \
	"it is refused by its length and the connection closed"

# --- slowloris ------------------------------------------------------------------
run timeout 60 python3 "$TMP/peer.py" "$PORT" slowloris
secs=$(sed -n 's/^closed_after \([0-9]*\).*/\1/p' "$TMP/out")
[ -n "$secs" ] && [ "$secs" -ge 2 ] && [ "$secs" -le 6 ]
ok $? "a HELLO sent a byte a second is cut off at hello_timeout (3 s, took ${secs:-?} s)"
expect_grep "$TMP/s.log" '^level=warn event=hello_timeout peer=127\.0\.0\.1:' \
	"the scheduler logs the HELLO timeout"

# --- 200 connections holding partial frames ---------------------------------------
# The limits let them hold 64 partial frames under 113 KiB, in buffers that
# grow by doubling to 128 KiB: 8 MiB; the 200 without the cap hold 25 MiB.
run python3 "$TMP/peer.py" "$PORT" flood "$s_pid"
growth=$(sed -n 's/^rss_growth_kb //p' "$TMP/out")
closed=$(sed -n 's/^closed //p' "$TMP/out")
bound=$((20 * 1024))
[ -n "${SLUICE_SANITIZED:-}" ] && bound=$((80 * 1024))
[ -n "$growth" ] && [ "$growth" -lt "$bound" ]
ok $? "the scheduler grows by less than $((bound / 1024)) MiB (${growth:-?} KiB)"
[ -n "$closed" ] && [ "$closed" -ge 136 ]
ok $? "connections past the 64 before HELLO are closed at once (${closed:-?} of 200)"
[ "$(grep -c 'event=connection_refused cap=before_hello' "$TMP/s.log")" -eq 1 ]
ok $? "the refusals are logged once"

start_worker w
wait_for "$TMP/s.log" 'event=worker_connected .*worker=w1' 30
ok $? "a real worker connects afterwards"
run timeout 60 "$SLUICE" trigger one --run-id r1 --wait
expect_status 0 "and runs a task"

stop_daemon s
expect_str "$status" 0 "the scheduler stops cleanly"

# --- max_connections, with authenticated connections ---------------------------------
# 2: the worker and one more that said HELLO; a third is closed at accept.
mv "$TMP/s.log" "$TMP/s-first.log"
config_set "$TMP/s.yaml" "max_connections: 2"
start_scheduler s
wait_for "$TMP/s.log" 'event=worker_connected .*worker=w1' 30
ok $? "the worker reconnects to the restarted scheduler"
run python3 "$TMP/peer.py" "$PORT" cap
expect_str "$(cat "$TMP/out")" "frame 2
first_closed False
second_closed True" "past max_connections a connection is closed at once, the others stay"
expect_grep "$TMP/s.log" '^level=warn event=connection_refused cap=max_connections refused=1 connections=2$' \
	"the refusal is logged"

stop_daemon w
stop_daemon s
expect_str "$status" 0 "the scheduler stops cleanly"

done_testing
