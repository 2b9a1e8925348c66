#!/bin/sh
# `sluice users add | list | delete`, `sluice tokens create | list | revoke`
# and `sluice audit` against a private PostgreSQL: every command, bad
# inputs, that only hashes are stored (no SELECT finds a password or token
# in clear), that a stored password verifies with libsodium's
# crypto_pwhash_str_verify (query_tool login) and that each change is
# audited.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"

cd "$SRC_DIR" || exit 1
QT=${SLUICE_QUERY_TOOL:?}
ME=$(id -un)

for cmd in "users add" "users list" "users delete" "users passwd" "tokens create" "tokens list" \
	"tokens revoke" "audit"; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done

# --- usage errors, before any database ------------------------------------------
printf 'correct horse battery\n' >"$TMP/pw"
run "$SLUICE" users add ada <"$TMP/pw"
expect_status 2 "users add without --role is a usage error"
expect_grep "$TMP/err" "missing --role" "and names --role"
run "$SLUICE" users add ada --role root <"$TMP/pw"
expect_status 2 "an unknown role is a usage error"
expect_grep "$TMP/err" "\-\-role: 'root' is not viewer, operator or admin" "and names the flag"
run "$SLUICE" users add 'bad name!' --role admin <"$TMP/pw"
expect_status 2 "a bad user name is a usage error"
expect_grep "$TMP/err" "NAME: 'bad name!' is not a valid user name" "and names NAME"
run "$SLUICE" users add --role admin <"$TMP/pw"
expect_status 2 "users add without NAME is a usage error"
run "$SLUICE" users add ada --role admin </dev/null
expect_status 2 "an empty standard input is a usage error"
expect_grep "$TMP/err" "the password (first line of standard input) must have from 8" \
	"and says what the password must be"
printf 'short\n' >"$TMP/short"
run "$SLUICE" users add ada --role admin <"$TMP/short"
expect_status 2 "a password shorter than 8 bytes is refused"
run "$SLUICE" tokens revoke nine
expect_status 2 "a token id that is not a number is a usage error"
expect_grep "$TMP/err" "ID: expected an integer" "and names ID"
run "$SLUICE" tokens create
expect_status 2 "tokens create without USER is a usage error"
expect_grep "$TMP/err" "missing USER" "and names USER"
run "$SLUICE" audit --limit 0
expect_status 2 "audit --limit 0 is a usage error"
expect_grep "$TMP/err" "\-\-limit: expected an integer from 1" "and names --limit"
run "$SLUICE" users list extra
expect_status 2 "users list takes no argument"
run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=1" "$SLUICE" users list
expect_status 4 "an unreachable database exits 4"
run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=1" "$SLUICE" users add ada \
	--role admin <"$TMP/pw"
expect_status 4 "users add against an unreachable database exits 4"

pg_start
pg_newdb users
run "$SLUICE" db init
expect_status 0 "db init"

# --- users ---------------------------------------------------------------------
run "$SLUICE" users list --json
expect_file "$TMP/out" "[]" "no user at first"
run "$SLUICE" users add ada --role admin <"$TMP/pw"
expect_status 0 "users add creates an admin"
expect_file "$TMP/out" "user ada: created with role admin" "and says so"
printf 'another secret pw\r\n' >"$TMP/pw2"
run "$SLUICE" users add bob --role viewer --json <"$TMP/pw2"
expect_status 0 "users add creates a viewer (a CRLF line end is not part of the password)"
expect_jq "$TMP/out" '.user == "bob" and .role == "viewer"' "users add --json"
run "$SLUICE" users add ada --role viewer <"$TMP/pw"
expect_status 1 "adding an existing user fails"
expect_grep "$TMP/err" "user 'ada' already exists" "and says so"
run "$SLUICE" users list
expect_status 0 "users list"
expect_grep "$TMP/out" "^USER  ROLE  *CREATED  *TOKENS" "has a header"
expect_grep "$TMP/out" "^ada   admin  *20.*Z  *0$" "lists ada as admin with its creation time"
run "$SLUICE" users list --json
expect_jq "$TMP/out" 'length == 2 and .[0].user == "ada" and .[1].role == "viewer"
	and .[0].active_tokens == 0 and (.[0].created_at | test("Z$"))' "users list --json"
expect_jq "$TMP/out" '[.[] | keys[]] | index("password_hash") == null' \
	"users list --json shows no password hash"

# Only the argon2id string is stored: the clear password is nowhere.
run pg_sql "SELECT name, password_hash FROM users ORDER BY name"
expect_grep "$TMP/out" '^ada|\$argon2id\$v=19\$m=65536,t=2,p=1\$' "ada's password is an argon2id string"
if grep -q "correct horse" "$TMP/out"; then ok 1 "the password is not stored in clear"; else
	ok 0 "the password is not stored in clear"; fi
run pg_sql "SELECT count(*) FROM users u, users v WHERE u.name < v.name AND u.password_hash = v.password_hash"
expect_file "$TMP/out" "0" "each hash has its own salt"

# The stored hash verifies with crypto_pwhash_str_verify, a wrong one does not.
run "$QT" login ada <"$TMP/pw"
expect_status 0 "ada's password verifies against its stored hash"
expect_file "$TMP/out" "admin" "and the login has ada's role"
printf 'another secret pw\n' >"$TMP/pw2lf"
run "$QT" login bob <"$TMP/pw2lf"
expect_status 0 "bob's password (given with CRLF) verifies without the CR"
run "$QT" login ada <"$TMP/pw2lf"
expect_status 1 "a wrong password does not verify"
run "$QT" login nobody <"$TMP/pw"
expect_status 1 "an unknown user does not log in"

# --- tokens --------------------------------------------------------------------
run "$SLUICE" tokens create ada
expect_status 0 "tokens create"
TOKEN=$(tail -n 1 "$TMP/out")
expect_grep "$TMP/out" "^token 1 for user ada" "says which token it made"
case $TOKEN in
sluice-tk1.???????????????????????????????????????????) ok 0 "the token is on the last line" ;;
*) ok 1 "the token is on the last line (got '$TOKEN')" ;;
esac
run "$SLUICE" tokens create bob --json
expect_jq "$TMP/out" '.id == 2 and .user == "bob" and (.token | startswith("sluice-tk1."))' \
	"tokens create --json"
TOKEN2=$(jq -r .token "$TMP/out")
[ "$TOKEN" != "$TOKEN2" ]
ok $? "two tokens differ"
run "$SLUICE" tokens create nobody
expect_status 3 "a token for an unknown user: exit 3"
expect_grep "$TMP/err" "no user 'nobody'" "and says so"

# Only the SHA-256 is stored.
run pg_sql "SELECT token_id, encode(sha256, 'hex') FROM api_tokens ORDER BY token_id"
WANT=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
expect_grep "$TMP/out" "^1|$WANT\$" "token 1 is stored as the SHA-256 of the token"
run pg_sql "SELECT * FROM api_tokens"
if grep -q -e "${TOKEN#sluice-tk1.}" -e "${TOKEN2#sluice-tk1.}" "$TMP/out"; then
	ok 1 "no token is stored in clear"
else ok 0 "no token is stored in clear"; fi

run "$SLUICE" tokens list
expect_status 0 "tokens list"
expect_grep "$TMP/out" "^ID  USER  CREATED  *REVOKED  LAST USED" "has a header"
expect_grep "$TMP/out" "^ 1  ada   20.*  -        -" "token 1 is active and unused"
if grep -q -e "${TOKEN#sluice-tk1.}" -e "${TOKEN2#sluice-tk1.}" "$TMP/out"; then
	ok 1 "tokens list shows no token"
else ok 0 "tokens list shows no token"; fi
run "$SLUICE" tokens revoke 1
expect_status 0 "tokens revoke"
expect_file "$TMP/out" "token 1: revoked" "and says so"
run "$SLUICE" tokens revoke 1
expect_status 0 "revoking twice is not an error"
run "$SLUICE" tokens revoke 99
expect_status 3 "revoking an unknown token: exit 3"
expect_grep "$TMP/err" "no token '99'" "and says so"
run "$SLUICE" tokens list --json
expect_jq "$TMP/out" 'length == 2 and (.[0].revoked_at | test("Z$")) and .[1].revoked_at == null
	and .[0].last_used_at == null and ([.[] | keys[]] | index("token") == null)' \
	"tokens list --json: token 1 revoked, token 2 not, no token or hash"
run "$SLUICE" users list --json
expect_jq "$TMP/out" '.[0].active_tokens == 0 and .[1].active_tokens == 1' \
	"users list counts active tokens only"

# --- delete --------------------------------------------------------------------
run "$SLUICE" users delete bob
expect_status 0 "users delete"
expect_file "$TMP/out" "user bob: deleted, with its tokens" "and says so"
run pg_sql "SELECT count(*) FROM api_tokens WHERE user_name = 'bob'"
expect_file "$TMP/out" "0" "bob's tokens went with it"
run "$SLUICE" users delete bob
expect_status 3 "deleting an unknown user: exit 3"
expect_grep "$TMP/err" "no user 'bob'" "and says so"
run "$SLUICE" users delete 'x y'
expect_status 2 "users delete with a bad name is a usage error"

# --- audit ---------------------------------------------------------------------
run "$SLUICE" audit --json
expect_status 0 "audit --json"
expect_jq "$TMP/out" '[.[] | .action] == ["users delete", "tokens revoke", "tokens revoke",
	"tokens create", "tokens create", "users add", "users add"]' \
	"every change is audited, newest first (failed ones are not)"
expect_jq "$TMP/out" "all(.[]; .actor == \"$ME\" and .via == \"cli\" and (.at | test(\"Z\$\")))" \
	"as made by the login name of the effective uid, via cli"
expect_jq "$TMP/out" '.[0].target == "bob" and .[1].target == "1 user=ada"
	and .[6].target == "ada role=admin"' "with their targets"
run "$SLUICE" audit --limit 2
expect_status 0 "audit --limit 2"
expect_grep "$TMP/out" "^ID  AT  *WHO  *VIA  ACTION  *TARGET" "has a header"
[ "$(wc -l <"$TMP/out")" -eq 3 ]
ok $? "prints the header and 2 rows"
expect_grep "$TMP/out" "^ 7  20.*  $ME  cli  users delete   bob" "the newest first"

# --- passwd ---------------------------------------------------------------------
# A session of ada's, as the web UI makes one, ends with her old password.
pg_sql "INSERT INTO web_sessions (sha256, user_name, csrf_token, expires_at)
	VALUES (decode(repeat('ab', 32), 'hex'), 'ada', 'csrf', now() + interval '1 hour')" >/dev/null
printf 'a brand new secret\n' >"$TMP/pw3"
run "$SLUICE" users passwd ada <"$TMP/pw3"
expect_status 0 "users passwd"
expect_file "$TMP/out" "user ada: new password; its web sessions ended" "and says so"
run "$QT" login ada <"$TMP/pw3"
expect_status 0 "the new password verifies"
run "$QT" login ada <"$TMP/pw"
expect_status 1 "the old one does not"
run pg_sql "SELECT count(*) FROM web_sessions WHERE user_name = 'ada'"
expect_file "$TMP/out" "0" "ada's web session ended with her old password"
run "$SLUICE" users passwd nobody <"$TMP/pw3"
expect_status 3 "passwd of an unknown user: exit 3"
expect_grep "$TMP/err" "no user 'nobody'" "and says so"
printf 'short\n' >"$TMP/pw4"
run "$SLUICE" users passwd ada <"$TMP/pw4"
expect_status 2 "a password too short: usage error"
run "$QT" login ada <"$TMP/pw3"
expect_status 0 "and the password did not change"
run "$SLUICE" users passwd 'x y' <"$TMP/pw3"
expect_status 2 "a bad name: usage error"
run "$SLUICE" audit --limit 1 --json
expect_jq "$TMP/out" '.[0].action == "users password" and .[0].target == "ada"' "passwd is audited"
run pg_sql "SELECT count(*) FROM audit_log WHERE target LIKE '%sluice-tk1%' OR target LIKE '%horse%' OR target LIKE '%brand new%'"
expect_file "$TMP/out" "0" "the audit log holds no secret"

pg_stop
done_testing
