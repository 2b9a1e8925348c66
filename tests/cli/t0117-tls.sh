#!/bin/sh
# TLS on the job protocol (docs/security.md, "TLS on the job protocol"),
# end to end with a private PostgreSQL, the real daemons and certificates
# made by the very commands of docs/security.md ("Setting up TLS across
# hosts"): a task runs over TLS with a worker that verifies the scheduler
# by the CA and one that pins its fingerprint; fake schedulers (a TLS
# server whose certificate another CA signed, a clear-text listener) on a
# worker's configured address get no byte of its token, and the worker
# goes on to the real scheduler; a clear-text worker is refused by a TLS
# scheduler; clear text off loopback needs insecure: true, which warns.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

daemons_db tls

# The fenced block under "## Setting up TLS across hosts", with our own san.
awk '/^## Setting up TLS across hosts/ { s = 1 }
	s && !done && /^```sh$/ { b = 1; next }
	b && /^```$/ { b = 0; done = 1 }
	b' "$SRC_DIR/docs/security.md" >"$TMP/certs.sh"
grep -q '^san=' "$TMP/certs.sh" && grep -q 'openssl x509 -req' "$TMP/certs.sh"
ok $? "docs/security.md has the certificate commands"
sed -i 's/^san=.*/san="DNS:localhost,IP:127.0.0.1"/' "$TMP/certs.sh"
mkdir "$TMP/pki" "$TMP/rogue"
(cd "$TMP/pki" && sh -e "$TMP/certs.sh") >"$TMP/fp" 2>"$TMP/certs.err"
ok $? "they make a CA, a scheduler certificate and its fingerprint"
FP=$(tail -n 1 "$TMP/fp")
expect_str "$(printf '%s\n' "$FP" | grep -c -E '^sha256:([0-9A-F]{2}:){31}[0-9A-F]{2}$')" 1 \
	"the fingerprint is printed as the worker's tls.fingerprint takes it"
expect_str "$(stat -c %a "$TMP/pki/scheduler.key")" 600 "the scheduler's key is private"
# Another CA and a certificate for the very same names: the impostor's.
(cd "$TMP/rogue" && sh -e "$TMP/certs.sh") >/dev/null 2>>"$TMP/certs.err"
ok $? "and a rogue CA and certificate for the same names"

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/t.yaml" <<'YAML'
schedule: null
tasks:
  t:
    command: echo "ran on $SLUICE_WORKER"
YAML
git_repo "$R" || exit 1

PORT=$(free_port)
TLS_S="tls: {cert: $TMP/pki/scheduler.pem, key: $TMP/pki/scheduler.key}"
sched_config "$TMP/s.yaml" "$R" dags "$TLS_S" "heartbeat_timeout: 30s"
start_scheduler s
wait_for "$TMP/s.log" 'event=refreshed .* failed=0 ' 30
ok $? "a scheduler with tls starts"
expect_grep "$TMP/s.log" 'event=started .* tls=yes ' "and says it serves TLS"

# The impostors, on ports the workers are configured to try first. Each
# records what it receives: the TLS one the bytes that came before its
# handshake, then what it decrypted; the clear-text one every byte.
cat >"$TMP/fake.py" <<'PY'
import socket, ssl, sys, time
port, mode, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)
ctx = None
if mode == "tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
with open(out, "ab", buffering=0) as log:
    log.write(b"listening\n")
    while True:
        c, _ = srv.accept()
        c.settimeout(3)
        log.write(b"\naccepted\n")
        try:
            if ctx:
                # What came in clear before the handshake, as it came.
                time.sleep(0.5)
                log.write(b"raw: " + c.recv(65536, socket.MSG_PEEK) + b"\n")
                c = ctx.wrap_socket(c, server_side=True)
                log.write(b"handshake done\n")
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3:
                d = c.recv(65536)
                if not d:
                    break
                log.write(d)
        except Exception as e:
            log.write(("\nerror: %s\n" % e).encode())
        c.close()
PY
FAKE_TLS=$(free_port)
python3 "$TMP/fake.py" "$FAKE_TLS" tls "$TMP/fake-tls.bytes" \
	"$TMP/rogue/scheduler.pem" "$TMP/rogue/scheduler.key" 2>"$TMP/fake-tls.err" &
daemons_pids="$daemons_pids $!"
FAKE_CLEAR=$(free_port)
python3 "$TMP/fake.py" "$FAKE_CLEAR" clear "$TMP/fake-clear.bytes" 2>"$TMP/fake-clear.err" &
daemons_pids="$daemons_pids $!"
wait_for "$TMP/fake-tls.bytes" listening && wait_for "$TMP/fake-clear.bytes" listening
ok $? "two impostors listen"

# w1 trusts the CA; its first scheduler is the impostor with a rogue certificate.
worker_config "$TMP/w1.yaml" w1 "tls: {ca: $TMP/pki/ca.pem}" \
	"scheduler: [127.0.0.1:$FAKE_TLS, 127.0.0.1:$PORT]"
start_worker w1
wait_for "$TMP/w1.log" "event=tls_failed scheduler=127.0.0.1:$FAKE_TLS " 30
ok $? "w1 refuses the impostor's certificate"
expect_grep "$TMP/w1.log" \
	"^level=error event=tls_failed .*reason=\"the scheduler's certificate is not trusted: unable to get local issuer certificate\"" \
	"with OpenSSL's reason"
wait_for "$TMP/fake-tls.bytes" 'error: ' 10
expect_grep "$TMP/fake-tls.bytes" 'accepted' "the impostor was dialled"
expect_grep "$TMP/fake-tls.bytes" 'error: .*alert' "its handshake ended in w1's alert"
grep -a -q -e secret -e '"token"' "$TMP/fake-tls.bytes"
ok $((!$?)) "it received no byte of the token, nor any HELLO, in clear or not"
grep -q 'handshake done' "$TMP/fake-tls.bytes"
ok $((!$?)) "it never completed a handshake with w1"
wait_for "$TMP/s.log" 'event=worker_connected .*worker=w1 ' 30
ok $? "and connects to the real scheduler next"
expect_grep "$TMP/s.log" 'event=accepted peer=127.0.0.1:[0-9]* tls=yes' "over TLS"
run timeout 60 "$SLUICE" trigger t --run-id r1 --wait
expect_status 0 "a task runs end to end, the worker verifying the scheduler by its CA"
stop_daemon w1

# w2 pins the certificate; its first scheduler is a clear-text listener.
worker_config "$TMP/w2.yaml" w2 "tls: {fingerprint: \"$FP\"}" \
	"scheduler: [127.0.0.1:$FAKE_CLEAR, 127.0.0.1:$PORT]"
start_worker w2
wait_for "$TMP/w2.log" "event=tls_failed scheduler=127.0.0.1:$FAKE_CLEAR " 30
ok $? "w2 refuses the clear-text listener"
wait_for "$TMP/s.log" 'event=worker_connected .*worker=w2 ' 30
ok $? "and connects to the real scheduler next, by its pinned fingerprint"
run timeout 60 "$SLUICE" trigger t --run-id r2 --wait
expect_status 0 "a task runs end to end on w2"
expect_str "$(attempts_of r2 t)" "1:success:w2" "on w2"
# The listener got w2's ClientHello (a TLS handshake record, 0x16), nothing else.
expect_str "$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read().split(b"accepted\n",1)[1]; print(d[:1].hex())' "$TMP/fake-clear.bytes")" 16 \
	"the clear-text listener received a TLS ClientHello"
grep -a -q -e secret -e '"token"' "$TMP/fake-clear.bytes"
ok $((!$?)) "and no byte of the token"
stop_daemon w2

# A pin that is not the scheduler's.
BAD_FP="sha256:$(printf '00:%.0s' $(seq 31))00"
worker_config "$TMP/w3.yaml" w3 "tls: {fingerprint: \"$BAD_FP\"}"
start_worker w3
wait_for "$TMP/w3.log" "event=tls_failed .*does not match the pinned fingerprint" 30
ok $? "a wrong pin is refused"
stop_daemon w3

# A clear-text worker against the TLS scheduler.
worker_config "$TMP/w4.yaml" w4
start_worker w4
wait_for "$TMP/s.log" 'event=tls_failed peer=127.0.0.1:[0-9]* reason="TLS handshake failed: wrong version number"' 30
ok $? "the scheduler refuses a clear-text worker and logs tls_failed"
stop_daemon w4
grep -q 'event=worker_connected .*worker=w4 ' "$TMP/s.log"
ok $((!$?)) "the clear-text worker never got in"

# Clear text off loopback: refused at start, unless insecure: true.
P2=$(free_port)
sched_config "$TMP/s2.yaml" "$R" dags "listen: 0.0.0.0:$P2"
run "$SCHED" --config "$TMP/s2.yaml"
expect_status 1 "a scheduler listening on 0.0.0.0 without tls does not start"
expect_grep "$TMP/err" "^$TMP/s2.yaml:[0-9]*:9: listen: 0.0.0.0:$P2 is not a loopback address" \
	"the message names the file, line, column and key"
expect_grep "$TMP/err" "set tls (cert and key) .* or insecure: true" "and says what to set"
run "$SCHED" --config "$TMP/s2.yaml" --check-config
expect_status 2 "sluice-scheduler --check-config reports it"
worker_config "$TMP/w5.yaml" w5 "scheduler: sched.example.com:7411"
run "$WORKER" --config "$TMP/w5.yaml" --check-config
expect_status 2 "sluice-worker --check-config refuses a scheduler off loopback without tls"
expect_grep "$TMP/err" "w5.yaml:[0-9]*:12: scheduler: sched.example.com:7411 is not a loopback address" \
	"naming the entry"

config_set "$TMP/s2.yaml" "insecure: true"
start_scheduler s2
wait_for "$TMP/s2.log" 'event=listening' 30
ok $? "with insecure: true it starts"
expect_grep "$TMP/s2.log" '^level=warn event=insecure listen=0.0.0.0:' "and warns"
stop_daemon s2
config_set "$TMP/w5.yaml" "insecure: true" "scheduler: 192.0.2.1:7411"
start_worker w5
wait_for "$TMP/w5.log" '^level=warn event=insecure ' 30
ok $? "a worker with insecure: true warns at start"
stop_daemon w5

stop_daemon s
ok $status "the TLS scheduler stops cleanly"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' "$TMP"/*.log
ok $((!$?)) "no sanitizer report"

done_testing
