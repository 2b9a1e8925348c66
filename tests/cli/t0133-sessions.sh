#!/bin/sh
# UI sessions (docs/web.md, "Signing in"; docs/security.md, "UI sessions
# and CSRF"): POST /api/v1/session signs in with a password and sets an
# HttpOnly, SameSite=Strict cookie (Secure over HTTPS) whose secret is
# stored only hashed; one answer for an unknown user and a wrong password;
# the cookie authorises /api/v1 GETs; a request that changes something
# needs the session's X-CSRF-Token and no foreign Origin; sessions end at
# their lifetime, when idle, at logout and with their user; sign-in and
# sign-out are audited without the password; all of it as a member of the
# sluice_web role.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db sessions
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
PW='an operator password'
printf '%s\n' "$PW" >"$TMP/pw"
"$SLUICE" users add olga --role operator <"$TMP/pw" >/dev/null || exit 1
printf 'a viewer password\n' | "$SLUICE" users add vera --role viewer >/dev/null || exit 1
TOKEN=$("$SLUICE" tokens create olga --json | jq -r .token)

# req METHOD PATH [CURL ARGS...]: the status in $st, headers in $TMP/h,
# body in $TMP/b. A URL of its own in $BASE (default the clear-text daemon).
req() {
	rq_m=$1 rq_p=$2
	shift 2
	st=$(curl -sS -k -X "$rq_m" -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$@" \
		"${BASE:-http://127.0.0.1:$PORT}$rq_p")
}
# login USER PASSWORD [CURL ARGS...]: POST /api/v1/session.
login() {
	lg_u=$1 lg_p=$2
	shift 2
	jq -cn --arg u "$lg_u" --arg p "$lg_p" '{user: $u, password: $p}' >"$TMP/login.json"
	req POST /api/v1/session -H 'Content-Type: application/json' --data-binary @"$TMP/login.json" "$@"
}
# The sluice_session value of the last answer's Set-Cookie.
cookie_of() { sed -n 's/^[Ss]et-[Cc]ookie: sluice_session=\([^;]*\).*/\1/p' "$TMP/h" | tr -d '\r'; }
setcookie() { grep -i '^set-cookie:' "$TMP/h" | tr -d '\r'; }
sessions() { pg_sql "SELECT count(*) FROM web_sessions"; }
# forge VALUE: VALUE with its last character changed (to A, or B if it was A).
forge() { case $1 in *A) printf '%sB' "${1%?}" ;; *) printf '%sA' "${1%?}" ;; esac; }

# As the least-privileged role sluice-web should run as (docs/web.md, "Its
# own database role"): its grants must cover signing in and out.
pg_sql "CREATE ROLE webuser LOGIN IN ROLE sluice_web" >/dev/null || exit 1
PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n  database_url: "%s user=webuser"\n' "$PORT" \
	"$SLUICE_DATABASE_URL" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"

# --- signing in ----------------------------------------------------------------------
login olga "$PW"
expect_str "$st" 201 "the right password: 201"
expect_jq "$TMP/b" '.user == "olga" and .role == "operator" and (.csrf | length) == 43' \
	"the answer names the user, the role and a CSRF token"
CSRF=$(jq -r .csrf "$TMP/b")
C1=$(cookie_of)
setcookie >"$TMP/sc"
expect_grep "$TMP/sc" '^[Ss]et-[Cc]ookie: sluice_session=sluice-ss1\.[A-Za-z0-9_-]\{43\}; ' \
	"Set-Cookie: sluice_session, a random secret"
expect_grep "$TMP/sc" '; Path=/;' "the cookie: Path=/"
expect_grep "$TMP/sc" '; HttpOnly' "the cookie: HttpOnly (no script reads it)"
expect_grep "$TMP/sc" '; SameSite=Strict' "the cookie: SameSite=Strict (no other site's request carries it)"
! grep -q 'Secure' "$TMP/sc"
ok $? "the cookie: not Secure over clear-text HTTP without an https base_url"
! grep -q 'Max-Age\|Expires' "$TMP/sc"
ok $? "the cookie: a browser-session cookie (no Max-Age)"
HASH=$(printf '%s' "$C1" | sha256sum | cut -c1-64)
pg_sql "SELECT encode(sha256, 'hex'), user_name, expires_at - created_at FROM web_sessions" >"$TMP/rows"
expect_file "$TMP/rows" "$HASH|olga|12:00:00" "one row: the SHA-256 of the secret, the user, a 12 h lifetime"
pg_dump -a -t web_sessions >"$TMP/dump" 2>&1
! grep -q -F "${C1#sluice-ss1.}" "$TMP/dump"
ok $? "the secret itself is stored nowhere in web_sessions"

# --- refused sign-ins ------------------------------------------------------------------
login olga 'not the password'
WRONG_ST=$st
cp "$TMP/b" "$TMP/wrong.b"
cp "$TMP/h" "$TMP/wrong.h"
expect_str "$WRONG_ST" 401 "a wrong password: 401"
login nobody 'not the password'
expect_str "$st" 401 "an unknown user: 401"
cp "$TMP/b" "$TMP/unknown.b"
cmp -s "$TMP/wrong.b" "$TMP/unknown.b"
ok $? "an unknown user gets the very answer of a wrong password"
expect_jq "$TMP/unknown.b" '.detail == "wrong user name or password"' "which says: wrong user name or password"
! grep -qi '^set-cookie' "$TMP/wrong.h"
ok $? "a refused sign-in sets no cookie"
login olga short
cp "$TMP/b" "$TMP/short1.b"
login nobody short
cp "$TMP/b" "$TMP/short2.b"
cmp -s "$TMP/short1.b" "$TMP/short2.b" && cmp -s "$TMP/short1.b" "$TMP/wrong.b"
ok $? "a password of impossible length: the same answer too"
# The time must not tell which names exist: an unknown name costs an
# argon2id hash as a wrong password does. Generous bound: a third.
python3 - "$PORT" >"$TMP/times" <<'PY'
import json, sys, time, urllib.request, urllib.error
def t(user):
    body = json.dumps({"user": user, "password": "not the password"}).encode()
    best = None
    for _ in range(3):
        req = urllib.request.Request("http://127.0.0.1:%s/api/v1/session" % sys.argv[1], body,
                                     {"Content-Type": "application/json"})
        t0 = time.monotonic()
        try:
            urllib.request.urlopen(req, timeout=20)
        except urllib.error.HTTPError:
            pass
        d = time.monotonic() - t0
        best = d if best is None else min(best, d)
    return best
w, u = t("olga"), t("nobody")
print("wrong=%.3f unknown=%.3f" % (w, u))
print("ok" if u >= w / 3 else "leaks")
PY
sed 's/^/# /' "$TMP/times" | head -1
expect_grep "$TMP/times" '^ok$' "an unknown user takes about as long as a wrong password"
login '' "$PW"
expect_str "$st" 401 "an empty user name: 401"
req POST /api/v1/session -H 'Content-Type: application/json' --data-binary '{"user":"olga"}'
expect_str "$st" 400 "no password: 400"
expect_jq "$TMP/b" '.detail == "password: expected a string"' "... naming the field"
req POST /api/v1/session -H 'Content-Type: application/json' --data-binary '{"user":"olga",'
expect_str "$st" 400 "malformed JSON: 400"
pg_sql "SELECT actor || ' ' || action || ' ' || target FROM audit_log WHERE action LIKE 'login%' ORDER BY audit_id" >"$TMP/audit"
expect_grep "$TMP/audit" '^olga login from 127\.0\.0\.1$' "the audit log has the sign-in, and where from"
expect_grep "$TMP/audit" '^olga login failed from 127\.0\.0\.1$' "and the refused one"
expect_grep "$TMP/audit" '^nobody login failed' "and the unknown user's"
expect_grep "$TMP/audit" '^- login failed' "an invalid name is recorded as -"
pg_dump -a -t audit_log >"$TMP/adump" 2>&1
! grep -q -e "$PW" -e 'not the password' "$TMP/adump" "$TMP/w.log"
ok $? "no password in the audit log or the daemon's log"
expect_str "$(sessions)" 1 "the refused sign-ins made no session"

# --- the cookie authorises /api/v1 -----------------------------------------------------
req GET /api/v1/session -H "Cookie: sluice_session=$C1"
expect_str "$st" 200 "GET /api/v1/session with the cookie: 200"
expect_jq "$TMP/b" ".user == \"olga\" and .role == \"operator\" and .csrf == \"$CSRF\"" \
	"... the user, role and the same CSRF token"
req GET /api/v1/session
expect_str "$st" 401 "GET /api/v1/session without a cookie: 401"
req GET /api/v1/session -H "Authorization: Bearer $TOKEN"
expect_str "$st" 401 "... nor with only a bearer token (it has no session)"
req GET /api/v1/dags -H "Cookie: sluice_session=$C1"
expect_str "$st" 200 "GET /api/v1/dags with only the cookie: 200"
cp "$TMP/b" "$TMP/bycookie"
req GET /api/v1/dags -H "Authorization: Bearer $TOKEN"
cmp -s "$TMP/b" "$TMP/bycookie"
ok $? "... the document a bearer token gets"
req GET /api/v1/dags -H "Cookie: theme=dark;  sluice_session=$C1 ; lang=fr"
expect_str "$st" 200 "the cookie among others, with spaces"
req GET /api/v1/dags -H "Cookie: sluice_session=\"$C1\""
expect_str "$st" 200 "the cookie's value in DQUOTEs"
req GET /api/v1/dags -H "Cookie: a=b" -H "Cookie: sluice_session=$C1"
expect_str "$st" 200 "the cookie in a Cookie header of its own"
req GET /api/v1/dags -H "Cookie: sluice_session=$C1; sluice_session=$C1"
expect_str "$st" 200 "the same cookie twice"
req GET /api/v1/dags -H "Cookie: sluice_session=$(forge "$C1"); sluice_session=$C1"
expect_str "$st" 401 "two different sluice_session cookies: 401 (a planted one is not guessed apart)"
req GET /api/v1/dags -H "Cookie: xsluice_session=$C1"
expect_str "$st" 401 "a cookie whose name only ends so: not the session"
req GET /api/v1/dags -H "Cookie: sluice_session=$(forge "$C1")"
expect_str "$st" 401 "a forged secret of the right shape: 401"
expect_jq "$TMP/b" '.detail == "the session has ended or does not exist: sign in again"' "... saying so"
setcookie >"$TMP/sc"
expect_grep "$TMP/sc" 'sluice_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0' \
	"... and telling the browser to forget it"

# --- CSRF: a request that changes something ----------------------------------------------
# A cross-site page could make the browser send the cookie (were it not
# SameSite) but could not read the CSRF token nor choose the Origin.
req DELETE /api/v1/session -H "Cookie: sluice_session=$C1"
expect_str "$st" 403 "DELETE with the cookie and no X-CSRF-Token: 403"
expect_jq "$TMP/b" '.detail | startswith("missing or wrong CSRF token")' "... missing or wrong CSRF token"
req DELETE /api/v1/session -H "Cookie: sluice_session=$C1" -H "X-CSRF-Token: $(forge "$CSRF")"
expect_str "$st" 403 "a wrong X-CSRF-Token: 403"
req DELETE /api/v1/session -H "Cookie: sluice_session=$C1" -H "X-CSRF-Token: ${CSRF}A"
expect_str "$st" 403 "a longer X-CSRF-Token: 403"
req DELETE /api/v1/session -H "Cookie: sluice_session=$C1" -H "X-CSRF-Token: $CSRF" \
	-H "Origin: http://evil.example"
expect_str "$st" 403 "the right token from another Origin: 403"
expect_jq "$TMP/b" '.detail | test("another origin")' "... naming the origin"
req POST /api/v1/dags -H "Cookie: sluice_session=$C1"
expect_str "$st" 403 "any non-GET with the cookie and no token is refused before it is routed"
req GET /api/v1/session -H "Cookie: sluice_session=$C1"
expect_str "$st" 200 "the refused requests changed nothing: the session lives"
pg_sql "SELECT count(*) FROM audit_log WHERE action = 'logout'" >"$TMP/n"
expect_file "$TMP/n" 0 "... and logged nobody out"
expect_grep "$TMP/w.log" 'event=csrf_refused reason=token user=olga' "the daemon logs a refused CSRF token"
req POST /api/v1/dags -H "Authorization: Bearer $TOKEN"
expect_str "$st" 405 "a bearer token needs no CSRF token (405: the route takes no POST)"
login olga "$PW" -H "Origin: http://evil.example"
expect_str "$st" 403 "signing in from another Origin: 403 (login CSRF)"
expect_str "$(sessions)" 1 "... and no session made"

# --- ending sessions ---------------------------------------------------------------------
# ended COOKIE SET DESCRIPTION: once `UPDATE web_sessions SET <SET>` has
# aged it, COOKIE's session is refused, and the next sign-in (its cookie
# in $NEXT) deletes its row.
ended() {
	pg_sql "UPDATE web_sessions SET $2 WHERE sha256 = sha256(convert_to('$1', 'UTF8'))" >/dev/null
	req GET /api/v1/dags -H "Cookie: sluice_session=$1"
	expect_str "$st" 401 "$3: 401"
	login olga "$PW"
	NEXT=$(cookie_of)
	pg_sql "SELECT count(*) FROM web_sessions WHERE sha256 = sha256(convert_to('$1', 'UTF8'))" >"$TMP/n"
	expect_file "$TMP/n" 0 "$3: the next sign-in deletes its row"
}
login olga "$PW"
ended "$(cookie_of)" "expires_at = now() - interval '1 second'" "a session past its lifetime"
ended "$NEXT" "last_seen_at = now() - interval '61 minutes'" "a session idle for over an hour"
C4=$NEXT

SEEN="SELECT extract(epoch FROM last_seen_at) FROM web_sessions WHERE sha256 = sha256(convert_to('$C4', 'UTF8'))"
pg_sql "$SEEN" >"$TMP/seen1"
req GET /api/v1/dags -H "Cookie: sluice_session=$C4"
pg_sql "$SEEN" >"$TMP/seen2"
cmp -s "$TMP/seen1" "$TMP/seen2"
ok $? "a use within the minute does not write last_seen_at"
pg_sql "UPDATE web_sessions SET last_seen_at = now() - interval '50 minutes' WHERE sha256 = sha256(convert_to('$C4', 'UTF8'))" >/dev/null
req GET /api/v1/dags -H "Cookie: sluice_session=$C4"
pg_sql "SELECT last_seen_at > now() - interval '30 seconds' FROM web_sessions WHERE sha256 = sha256(convert_to('$C4', 'UTF8'))" >"$TMP/n"
expect_file "$TMP/n" t "a use after 50 idle minutes keeps the session alive"

req DELETE /api/v1/session -H "Cookie: sluice_session=$C1" -H "X-CSRF-Token: $CSRF" \
	-H "Origin: http://127.0.0.1:$PORT"
expect_str "$st" 204 "logout with the CSRF token (and this daemon's Origin): 204"
setcookie >"$TMP/sc"
expect_grep "$TMP/sc" 'sluice_session=; .*Max-Age=0' "... the cookie cleared"
req GET /api/v1/session -H "Cookie: sluice_session=$C1"
expect_str "$st" 401 "the old cookie replayed after logout: 401 (killed server-side)"
pg_sql "SELECT count(*) FROM web_sessions WHERE sha256 = decode('$HASH', 'hex')" >"$TMP/n"
expect_file "$TMP/n" 0 "its row is gone"
pg_sql "SELECT actor || ' ' || action FROM audit_log WHERE action = 'logout'" >"$TMP/n"
expect_file "$TMP/n" "olga logout" "the logout is audited"

login vera 'a viewer password'
CV=$(cookie_of)
req GET /api/v1/session -H "Cookie: sluice_session=$CV"
expect_jq "$TMP/b" '.role == "viewer"' "a viewer signs in as viewer"
"$SLUICE" users delete vera >/dev/null
req GET /api/v1/dags -H "Cookie: sluice_session=$CV"
expect_str "$st" 401 "a deleted user's session dies with it"
pg_sql "SELECT count(*) FROM web_sessions WHERE user_name = 'vera'" >"$TMP/n"
expect_file "$TMP/n" 0 "... its rows deleted by the foreign key"

# --- password guessing (docs/security.md, "Password guessing") -----------------------
printf 'gus password\n' | "$SLUICE" users add gus --role viewer >/dev/null || exit 1
i=0
while [ $i -lt 10 ]; do
	login gus "guess $i"
	[ "$st" = 401 ] || break
	i=$((i + 1))
done
expect_str "$i" 10 "ten wrong passwords for gus: ten 401s"
login gus 'gus password'
expect_str "$st" 429 "the eleventh sign-in, with the right password, is refused: 429"
expect_jq "$TMP/b" '.detail | startswith("too many failed sign-ins as this user or from this address; try again in ")' \
	"... saying why and when"
tr -d '\r' <"$TMP/h" | grep -i '^retry-after: ' | sed 's/^[^:]*: //' >"$TMP/ra"
ra=$(cat "$TMP/ra")
[ -n "$ra" ] && [ "$ra" -gt 800 ] && [ "$ra" -le 900 ]
ok $? "... with Retry-After: the seconds until the oldest failure is 15 minutes old ($ra)"
! grep -q 'Set-Cookie' "$TMP/h"
ok $? "... and no session"
pg_sql "SELECT count(*) FROM audit_log WHERE actor = 'gus' AND action = 'login throttled'" >"$TMP/n"
expect_file "$TMP/n" 1 "the refusal is audited as login throttled"
pg_sql "SELECT count(*) FROM audit_log WHERE actor = 'gus' AND action = 'login'" >"$TMP/n"
expect_file "$TMP/n" 0 "and gus never signed in"
i=0
while [ $i -lt 10 ]; do
	login nobody2 "guess $i"
	i=$((i + 1))
done
login nobody2 'anything'
expect_str "$st" 429 "a name that is no user is locked the same way (no hint of which names exist)"
login olga "$PW"
expect_str "$st" 201 "another user still signs in from the same address"
pg_sql "UPDATE audit_log SET at = at - interval '15 minutes' WHERE actor = 'gus'" >/dev/null
login gus 'gus password'
expect_str "$st" 201 "once the failures are 15 minutes old, gus signs in"
# An address that failed 100 times (any names) is refused for every name.
pg_sql "INSERT INTO audit_log (actor, via, action, target) SELECT 'spray' || g, 'web', 'login failed', 'from 127.0.0.1' FROM generate_series(1, 100) g" >/dev/null
login olga "$PW"
expect_str "$st" 429 "after 100 failures from one address, even a right password from it: 429"
pg_sql "UPDATE audit_log SET at = at - interval '15 minutes' WHERE action = 'login failed'" >/dev/null
login olga "$PW"
expect_str "$st" 201 "and once they are old, 201 again"
stop_daemon w
ok $? "sluice-web stops"

# --- Secure: an https base_url, or TLS --------------------------------------------------
printf 'web:\n  listen: 127.0.0.1:%s\n  base_url: https://sluice.example.com/\n' "$PORT" >"$TMP/b.yaml"
start_daemon "$WEB" b
wait_for "$TMP/b.log" "event=started" 30
login olga "$PW"
setcookie >"$TMP/sc"
expect_grep "$TMP/sc" '; Secure$' "behind an https base_url the cookie is Secure"
CB=$(cookie_of)
CSRFB=$(jq -r .csrf "$TMP/b")
req DELETE /api/v1/session -H "Cookie: sluice_session=$CB" -H "X-CSRF-Token: $CSRFB" \
	-H "Origin: https://sluice.example.com"
expect_str "$st" 204 "the base_url's origin is this daemon's own"
stop_daemon b

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/web.key" -out "$TMP/web.pem" 2>"$TMP/openssl.err" || exit 1
printf 'web:\n  listen: 127.0.0.1:%s\n  tls_cert: %s\n  tls_key: %s\n' \
	"$PORT" "$TMP/web.pem" "$TMP/web.key" >"$TMP/t.yaml"
start_daemon "$WEB" t
wait_for "$TMP/t.log" "event=started.* tls=yes" 30
BASE="https://127.0.0.1:$PORT" login olga "$PW"
expect_str "$st" 201 "signing in over TLS"
setcookie >"$TMP/sc"
expect_grep "$TMP/sc" '; Secure$' "over TLS the cookie is Secure"
stop_daemon t
done_testing
