#!/bin/sh
# The admin's action routes (docs/web.md, "Actions"): pools, users, tokens
# and the audit log. Each works for an admin, is 403 for an operator and
# 401 without a token, and then changes nothing; each change has its
# audit row via=web; the answers are the CLI's --json documents and its
# sentences.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
. "$TESTS_DIR/cli/api_lib.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db apiadmin
OPERATOR=$(api_user otto operator) || exit 1
ADMIN=$(api_user ada admin) || exit 1

api_start_web webadmin

# --- pools --------------------------------------------------------------------------
req PUT /api/v1/pools/warehouse "" '{"slots": 3}'
expect_grep "$TMP/status" '^401 ' "pools set without a token: 401"
req PUT /api/v1/pools/warehouse "$OPERATOR" '{"slots": 3}'
expect_grep "$TMP/status" '^403 ' "pools set by an operator: 403"
expect_str "$(detail)" "this needs the role admin; user otto is operator" "the 403 says which role it needs"
expect_str "$(pg_sql "SELECT count(*) FROM pools")" 0 "neither created the pool"
req PUT /api/v1/pools/warehouse "$ADMIN" '{"slots": 3, "description": "the DW"}'
expect_grep "$TMP/status" '^200 application/json' "pools set by an admin: 200"
"$SLUICE" pools list --json | jq -S '.[] | select(.pool == "warehouse")' >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "the answer is the pool's row of sluice pools list --json"
expect_jq "$TMP/body" '.slots == 3 and .description == "the DW"' "with its slots and description"
req PUT /api/v1/pools/warehouse "$ADMIN" '{"slots": 5}'
expect_jq "$TMP/body" '.slots == 5 and .description == "the DW"' "a change keeps the description when none is given"
req PUT /api/v1/pools/warehouse "$ADMIN" '{"slots": -1}'
expect_grep "$TMP/status" '^400 ' "negative slots: 400"
expect_str "$(detail)" "slots: expected an integer from 0 to 2147483647, got -1" "naming the key"
req PUT /api/v1/pools/warehouse "$ADMIN" '{"slots": "3"}'
expect_str "$(detail)" "slots: expected an integer from 0 to 2147483647, got a string" "slots as a string: 400"
req PUT /api/v1/pools/warehouse "$ADMIN" '{"description": "x"}'
expect_grep "$TMP/status" '^400 ' "no slots: 400"
req PUT "/api/v1/pools/bad%20name" "$ADMIN" '{"slots": 1}'
expect_grep "$TMP/status" '^400 ' "a bad pool name: 400"
expect_str "$(detail)" "$(cli_sentence pools set 'bad name' 1)" "with the CLI's sentence"
expect_str "$(pg_sql "SELECT slots FROM pools WHERE name = 'warehouse'")" 5 "the refused changes changed nothing"
req DELETE /api/v1/pools/warehouse "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "pools delete by an operator: 403"
expect_str "$(pg_sql "SELECT count(*) FROM pools")" 1 "the pool is still there"
req DELETE /api/v1/pools/warehouse "$ADMIN"
expect_grep "$TMP/status" '^204 $' "pools delete by an admin: 204, no body"
expect_str "$(pg_sql "SELECT count(*) FROM pools")" 0 "the pool is gone"
req DELETE /api/v1/pools/warehouse "$ADMIN"
expect_grep "$TMP/status" '^404 ' "deleting it again: 404"
expect_str "$(detail)" "$(cli_sentence pools delete warehouse)" "with the CLI's sentence"

# --- users ---------------------------------------------------------------------------
req GET /api/v1/users "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "users list by an operator: 403"
req GET /api/v1/users "$ADMIN"
expect_grep "$TMP/status" '^200 application/json' "users list by an admin: 200"
"$SLUICE" users list --json | jq -S . >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "the answer is sluice users list --json"
req POST /api/v1/users "$OPERATOR" '{"name": "mallory", "role": "admin", "password": "a long password"}'
expect_grep "$TMP/status" '^403 ' "users add by an operator: 403"
expect_str "$(pg_sql "SELECT count(*) FROM users WHERE name = 'mallory'")" 0 "no user was made"
req POST /api/v1/users "$ADMIN" '{"name": "newbie", "role": "viewer", "password": "a long password"}'
expect_grep "$TMP/status" '^201 application/json' "users add by an admin: 201"
expect_jq "$TMP/body" '. == {"user": "newbie", "role": "viewer"}' "the answer is users add --json's document"
pg_sql "SELECT password_hash FROM users WHERE name = 'newbie'" >"$TMP/hash"
expect_grep "$TMP/hash" '^\$argon2id\$' "the password is stored as its argon2id string"
if grep -q 'a long password' "$TMP/w.log"; then ok 1 "the password is not logged"; else ok 0 "the password is not logged"; fi
req POST /api/v1/users "$ADMIN" '{"name": "newbie", "role": "viewer", "password": "a long password"}'
expect_grep "$TMP/status" '^409 ' "a name that is taken: 409"
expect_str "$(detail)" "$(printf 'a long password\n' | cli_sentence users add newbie --role viewer)" "with the CLI's sentence"
req POST /api/v1/users "$ADMIN" '{"name": "x", "role": "root", "password": "a long password"}'
expect_str "$(detail)" "role: 'root' is not viewer, operator or admin" "an unknown role: 400 naming it"
req POST /api/v1/users "$ADMIN" '{"name": "x", "role": "viewer", "password": "short"}'
expect_grep "$TMP/status" '^400 ' "a short password: 400"
expect_str "$(detail)" "a password has from 8 to 1024 bytes, not 5" "saying the bounds"
req POST /api/v1/users "$ADMIN" '{"name": "x", "role": "viewer"}'
expect_str "$(detail)" "password: missing" "no password: 400"
req POST /api/v1/users "$ADMIN" '{"name": "bad name", "role": "viewer", "password": "a long password"}'
expect_str "$(detail)" "'bad name' is not a valid user name" "a bad name: 400"
expect_str "$(pg_sql "SELECT count(*) FROM users WHERE name IN ('x', 'bad name')")" 0 "no refused user was made"

# --- tokens ---------------------------------------------------------------------------
req POST /api/v1/users/newbie/tokens "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "tokens create by an operator: 403"
expect_str "$(pg_sql "SELECT count(*) FROM api_tokens WHERE user_name = 'newbie'")" 0 "no token was made"
req POST /api/v1/users/newbie/tokens "$ADMIN"
expect_grep "$TMP/status" '^201 application/json' "tokens create by an admin: 201"
expect_jq "$TMP/body" '.user == "newbie" and (.token | startswith("sluice-tk1.")) and (.id | type == "number")' \
	"the answer holds the token, its id and user"
NEW=$(jq -r .token "$TMP/body")
NEW_ID=$(jq -r .id "$TMP/body")
expect_str "$(pg_sql "SELECT encode(sha256, 'hex') FROM api_tokens WHERE token_id = $NEW_ID")" \
	"$(printf '%s' "$NEW" | sha256sum | cut -d' ' -f1)" "only its SHA-256 is stored"
req GET /api/v1/dags "$NEW"
expect_grep "$TMP/status" '^200 ' "the new token works"
req POST /api/v1/users/nobody/tokens "$ADMIN"
expect_grep "$TMP/status" '^404 ' "a token for an unknown user: 404"
expect_str "$(detail)" "$(cli_sentence tokens create nobody)" "with the CLI's sentence"
req DELETE "/api/v1/tokens/$NEW_ID" "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "tokens revoke by an operator: 403"
req GET /api/v1/dags "$NEW"
expect_grep "$TMP/status" '^200 ' "the token still works"
req DELETE "/api/v1/tokens/$NEW_ID" "$ADMIN"
expect_grep "$TMP/status" '^204 ' "tokens revoke by an admin: 204"
req GET /api/v1/dags "$NEW"
expect_grep "$TMP/status" '^401 ' "the revoked token is refused"
req DELETE /api/v1/tokens/999 "$ADMIN"
expect_grep "$TMP/status" '^404 ' "an unknown token: 404"
expect_str "$(detail)" "$(cli_sentence tokens revoke 999)" "with the CLI's sentence"
req DELETE /api/v1/tokens/abc "$ADMIN"
expect_grep "$TMP/status" '^400 ' "a token id that is not a number: 400"

# --- deleting a user -----------------------------------------------------------------
req DELETE /api/v1/users/newbie "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "users delete by an operator: 403"
expect_str "$(pg_sql "SELECT count(*) FROM users WHERE name = 'newbie'")" 1 "the user is still there"
req DELETE /api/v1/users/newbie "$ADMIN"
expect_grep "$TMP/status" '^204 ' "users delete by an admin: 204"
req DELETE /api/v1/users/newbie "$ADMIN"
expect_grep "$TMP/status" '^404 ' "deleting it again: 404"
expect_str "$(detail)" "$(cli_sentence users delete newbie)" "with the CLI's sentence"

# --- the audit log ------------------------------------------------------------------
"$SLUICE" pools set cli_pool 2 >/dev/null || exit 1
req GET /api/v1/audit "$OPERATOR"
expect_grep "$TMP/status" '^403 ' "the audit log for an operator: 403"
req GET /api/v1/audit
expect_grep "$TMP/status" '^401 ' "the audit log without a token: 401"
req GET /api/v1/audit "$ADMIN"
expect_grep "$TMP/status" '^200 application/json' "the audit log for an admin: 200"
"$SLUICE" audit --json | jq -S . >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "the answer is sluice audit --json"
jq -r '.[] | select(.via == "web") | "\(.actor) \(.action) \(.target)"' "$TMP/body" >"$TMP/web_rows"
cat >"$TMP/want" <<TXT
ada users delete newbie
ada tokens revoke $NEW_ID user=newbie
ada tokens create $NEW_ID user=newbie
ada users add newbie role=viewer
ada pools delete warehouse
ada pools set warehouse slots=5
ada pools set warehouse slots=3
TXT
cmp -s "$TMP/want" "$TMP/web_rows"
ok $? "each accepted change has its row by ada via web, newest first; no refused one has"
diff "$TMP/want" "$TMP/web_rows" | sed 's/^/# /'
expect_jq "$TMP/body" '.[0] | .via == "cli" and .action == "pools set" and .target == "cli_pool slots=2"' \
	"the CLI's pools set is audited too"
req GET "/api/v1/audit?limit=2" "$ADMIN"
expect_jq "$TMP/body" 'length == 2' "limit=2: two rows"
"$SLUICE" audit --json --limit 2 | jq -S . >"$TMP/c"
jq -S . "$TMP/body" >"$TMP/a"
expect_same "the same two as sluice audit --limit 2"
req GET "/api/v1/audit?limit=0" "$ADMIN"
expect_grep "$TMP/status" '^400 ' "limit=0: 400"
expect_str "$(detail)" "query parameter limit: expected an integer from 1 to 100000, got '0'" "naming the parameter"

api_stop_web webadmin
done_testing
