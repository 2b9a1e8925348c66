#!/bin/sh
# sluice-web's skeleton (docs/web.md): /health follows the database (200,
# then 503 once it is stopped), /api/v1/version, a problem+json 404, a
# malformed request answered 400 by h2o while the daemon keeps serving,
# HTTPS with web.tls_cert/tls_key, an exit 0 on SIGTERM with a kept-alive
# connection open, and its config group read strictly (file:line:col).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db web

# get PATH: "STATUS CONTENT-TYPE" on the first line of $TMP/out, the body after.
get() {
	python3 - "$PORT" "$1" >"$TMP/out" <<'PY'
import sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2])
try:
    r = urllib.request.urlopen(url, timeout=20)
    code, ctype, body = r.status, r.headers.get("Content-Type"), r.read()
except urllib.error.HTTPError as e:
    code, ctype, body = e.code, e.headers.get("Content-Type"), e.read()
print(code, ctype)
print(body.decode())
PY
}

PORT=$(free_port)
cat >"$TMP/w.yaml" <<YAML
web:
  listen: 127.0.0.1:$PORT
  base_url: http://localhost:$PORT/
YAML
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"
expect_grep "$TMP/w.log" "listen=127.0.0.1:$PORT" "the log names the listen address"

get /health
expect_grep "$TMP/out" '^200 application/json' "/health: 200 JSON"
expect_grep "$TMP/out" '^{"status":"ok"}$' "/health: status ok"

get /api/v1/version
expect_grep "$TMP/out" '^200 application/json' "/api/v1/version: 200 JSON"
expect_grep "$TMP/out" '^{"version":"[0-9][0-9.]*"}$' "/api/v1/version: the version"

python3 - "$PORT" >"$TMP/raw" <<'PY'
import http.client, sys
for method, path in (("HEAD", "/api/v1/version"), ("POST", "/health")):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
    c.request(method, path)
    r = c.getresponse()
    print(method, r.status, r.getheader("Allow"), len(r.read()))
PY
expect_grep "$TMP/raw" '^HEAD 200 None 0$' "HEAD: 200 without a body"
expect_grep "$TMP/raw" '^POST 405 GET, HEAD ' "POST on /health: 405 with Allow"

get /nope
expect_grep "$TMP/out" '^404 application/problem+json' "an unknown path: 404 problem+json"
# Every answer tells a browser not to sniff it into HTML, nor run, load
# or frame anything from it (docs/security.md, "Answers a browser opens").
for path in /api/v1/version /health /nope /api/v1/dags; do
	curl -sS -D - -o /dev/null "http://127.0.0.1:$PORT$path" | tr -d '\r' >"$TMP/hdr"
	grep -qi '^x-content-type-options: nosniff$' "$TMP/hdr" &&
		grep -qi "^content-security-policy: default-src 'none'; frame-ancestors 'none'$" "$TMP/hdr" &&
		[ "$(grep -ci '^content-security-policy:' "$TMP/hdr")" -eq 1 ]
	ok $? "$path: nosniff and a CSP that allows nothing, once"
done
python3 - "$TMP/out" <<'PY'
import json, sys
doc = json.loads(open(sys.argv[1]).read().split("\n", 1)[1])
assert doc["status"] == 404 and doc["title"] == "Not Found", doc
assert doc["type"] == "about:blank" and "/nope" in doc["detail"], doc
PY
ok $? "the 404 is an RFC 9457 problem naming the path"

# A request line that is not HTTP: h2o answers 400, the daemon lives on.
python3 - "$PORT" >"$TMP/raw" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"GARBAGE \x01\x02 NOT-HTTP\r\n\r\n")
print(s.recv(4096).decode("latin-1").split("\r\n")[0])
PY
expect_grep "$TMP/raw" '^HTTP/1.1 400' "a malformed request line: 400"
get /api/v1/version
expect_grep "$TMP/out" '^200 ' "the daemon still serves after it"

# HTTPS: web.tls_cert and web.tls_key (the layer's TLS 1.3 context).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/web.key" -out "$TMP/web.pem" 2>"$TMP/openssl.err"
ok $? "a self-signed certificate"
TPORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n  tls_cert: %s\n  tls_key: %s\n' \
	"$TPORT" "$TMP/web.pem" "$TMP/web.key" >"$TMP/t.yaml"
start_daemon "$WEB" t
wait_for "$TMP/t.log" "event=started.* tls=yes" 30
ok $? "sluice-web starts with TLS"
python3 - "$TPORT" "$TMP/web.pem" >"$TMP/tls" <<'PY'
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[2])
r = urllib.request.urlopen("https://127.0.0.1:%s/api/v1/version" % sys.argv[1], context=ctx, timeout=20)
print(r.status, r.read().decode())
try:
    urllib.request.urlopen("http://127.0.0.1:%s/api/v1/version" % sys.argv[1], timeout=20)
    print("clear text answered")
except Exception as e:
    print("clear text refused")
PY
expect_grep "$TMP/tls" '^200 {"version":' "HTTPS: the version, the certificate verified"
expect_grep "$TMP/tls" '^clear text refused' "clear text on the TLS port gets no answer"
stop_daemon t
expect_str "$status" 0 "the TLS daemon stops with exit 0"

# The database stops: /health says so, other routes go on.
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1
get /health
expect_grep "$TMP/out" '^503 application/problem+json' "/health without the database: 503 problem+json"
expect_grep "$TMP/out" '"status":503' "the problem holds the status"
get /api/v1/version
expect_grep "$TMP/out" '^200 ' "other routes still answer"

# SIGTERM while a client holds a kept-alive connection open: h2o closes it
# (no keep-alive once a stop is asked for) and the daemon exits 0.
python3 - "$PORT" "$w_pid" >"$TMP/ka" <<'PY'
import http.client, os, signal, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
c.request("GET", "/api/v1/version")
r = c.getresponse()
r.read()
print("keep-alive" if not r.will_close else "closed")
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.2)
c.request("GET", "/api/v1/version")
try:
    r = c.getresponse()
    r.read()
    print("answered", r.status, "close" if r.will_close else "kept")
except (ConnectionError, http.client.HTTPException):
    print("closed by the server")
PY
expect_grep "$TMP/ka" "^keep-alive" "the first answer keeps the connection alive"
wait_exit "$w_pid" 20
expect_str "$status" 0 "SIGTERM: exit 0 within a generous 20 s"
expect_grep "$TMP/w.log" "event=stopped" "it logs its stop"

# The config group is read strictly.
printf 'web:\n  listen: 127.0.0.1:1\n  lisen: x\n' >"$TMP/bad.yaml"
run "$WEB" --config "$TMP/bad.yaml"
expect_status 2 "an unknown web key: exit 2"
expect_grep "$TMP/err" "bad.yaml:3:3: .*lisen" "it is reported at file:line:col"
printf 'web:\n  listen: 0.0.0.0:7412\n' >"$TMP/open.yaml"
run "$WEB" --config "$TMP/open.yaml"
expect_status 2 "off loopback without web.insecure: exit 2"
expect_grep "$TMP/err" "open.yaml:2:11: web.listen: 0.0.0.0:7412 is not a loopback" \
	"the refusal names file:line:col"
printf 'web:\n  listen: 0.0.0.0:7412\n  insecure: true\n' >"$TMP/open.yaml"
run "$WEB" --config "$TMP/open.yaml" --check-config
expect_status 0 "web.insecure: true allows it"
printf 'web:\n  listen: 0.0.0.0:7412\n  tls_cert: a.pem\n  tls_key: a.key\n' >"$TMP/open.yaml"
run "$WEB" --config "$TMP/open.yaml" --check-config
expect_status 0 "so do tls_cert and tls_key"
printf 'web:\n  listen: 127.0.0.1:7412\n  tls_cert: a.pem\n' >"$TMP/half.yaml"
run "$WEB" --config "$TMP/half.yaml"
expect_status 2 "tls_cert without tls_key: exit 2"
expect_grep "$TMP/err" "half.yaml:2:3: web: tls_cert and tls_key go together" \
	"it is reported at file:line:col"
printf 'web:\n  tls_cert: %s\n  tls_key: %s\n' "$TMP/web.key" "$TMP/web.pem" >"$TMP/swap.yaml"
run "$WEB" --config "$TMP/swap.yaml"
expect_status 1 "a certificate that does not load: exit 1"
expect_grep "$TMP/err" "^sluice-web: web.tls_cert: cannot load" "... said so"

done_testing
