#!/bin/sh
# The query layer (lib/db/sql): every statement prepares against a freshly
# migrated database, a statement naming a missing column is caught, the
# generator refuses malformed files with file:line, every statement is run
# from lib/, and the programs hold no SQL text.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"

QUERY_TOOL=${SLUICE_QUERY_TOOL:?SLUICE_QUERY_TOOL must point at query_tool}
EMBED="$SRC_DIR/lib/db/sql/embed.py"

# --- the generator ------------------------------------------------------------
# refused FILE-TEXT PATTERN DESCRIPTION: embed.py rejects a file
# lib/db/sql/bad.sql holding FILE-TEXT with a message matching PATTERN.
mkdir "$TMP/sql"
refused() {
	printf '%s\n' "$1" >"$TMP/sql/bad.sql"
	run python3 "$EMBED" --header "$TMP/q.h" "$TMP/sql/bad.sql"
	if [ "$status" -ne 0 ] && grep -q -e "$2" "$TMP/err"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# exit $status, expected a message matching '$2':"
		sed 's/^/#   /' "$TMP/err"
	fi
}
refused '-- name: bad_a
SELECT 1
-- name: bad_a
SELECT 2' 'bad.sql:3: statement .bad_a. is already defined at .*bad.sql:1' \
	"a duplicate name is refused with both places"
refused '-- name: bad_a
-- only a comment
-- name: bad_b
SELECT 1' 'bad.sql:1: statement .bad_a. is empty' "an empty statement is refused"
refused '-- name: runs_list
SELECT 1' "bad.sql:1: bad statement name 'runs_list': expected 'bad_'" \
	"a name not prefixed by its file's is refused"
refused '-- name: bad_Upper
SELECT 1' "bad.sql:1: bad statement name 'bad_Upper'" "a name with capitals is refused"
refused 'SELECT 1
-- name: bad_a
SELECT 2' "bad.sql:1: text before the first '-- name:' line" "text before a name is refused"
refused '-- name: bad_a
SELECT $1, $3' 'bad.sql:1: parameter \$2 is never used' "a gap in the parameters is refused"
refused '-- name: bad_a
SELECT 1; SELECT 2' 'bad.sql:1: more than one statement' "two statements in one are refused"

printf '%s\n' '-- name: good_a' "-- what it does" "SELECT \$1::int, '\$2;' -- \$3" "" \
	'-- name: good_b' 'SELECT 1;' >"$TMP/sql/good.sql"
run python3 "$EMBED" --source "$TMP/q.c" "$TMP/sql/good.sql"
expect_status 0 "a well-formed file is accepted"
expect_grep "$TMP/q.c" '\[SL_Q_GOOD_A\] = {"good_a", "lib/db/sql/good.sql", 1, sql_0, 1}' \
	"parameters in quotes and comments are not counted"

# --- no SQL in the programs ---------------------------------------------------
run grep -nE '"(SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|NOTIFY|CREATE) ' \
	"$SRC_DIR"/cli/*.c "$SRC_DIR"/cli/*.h "$SRC_DIR"/scheduler/*.c "$SRC_DIR"/scheduler/*.h \
	"$SRC_DIR"/web/*.c
expect_status 1 "cli/, scheduler/ and web/ hold no SQL text (it lives in lib/db/sql)"
[ "$status" -eq 1 ] || sed 's/^/# /' "$TMP/out"
run grep -n 'SL_Q_' "$SRC_DIR"/cli/*.c "$SRC_DIR"/cli/*.h "$SRC_DIR"/scheduler/*.c \
	"$SRC_DIR"/scheduler/*.h "$SRC_DIR"/web/*.c
expect_status 1 "cli/, scheduler/ and web/ run no statement by id (they call stores and views)"
[ "$status" -eq 1 ] || sed 's/^/# /' "$TMP/out"

# --- every statement is run from somewhere ------------------------------------
for name in $(sed -n 's/^-- name: *\([a-z0-9_]*\).*/\1/p' "$SRC_DIR"/lib/db/sql/*.sql); do
	id=SL_Q_$(printf '%s' "$name" | tr a-z A-Z)
	grep -rqw "$id" "$SRC_DIR"/lib --include='*.c' || echo "$id"
done >"$TMP/unused"
expect_file "$TMP/unused" "" "every statement of lib/db/sql is run by some C file of lib/"

# --- every quoted word is a name the code knows ----------------------------------
run "$QUERY_TOOL" words
expect_status 0 "every quoted word in a statement is a state, an outcome or a known word"
[ "$status" -eq 0 ] || sed 's/^/# /' "$TMP/out"
printf "SELECT 1 FROM runs WHERE state IN ('queued', 'runing')" >"$TMP/typo.sql"
run "$QUERY_TOOL" words - <"$TMP/typo.sql"
expect_status 1 "a misspelt state in a statement is caught"
expect_grep "$TMP/out" "'runing' is no state" "and named"

# --- every statement against the schema --------------------------------------
pg_start
pg_newdb queries
run "$SLUICE" db init
expect_status 0 "db init"
run "$QUERY_TOOL"
expect_status 0 "every statement prepares against the migrated schema"
expect_grep "$TMP/out" '^prepared \([0-9]*\) of \1 statements$' "query_tool prepared them all"
sed 's/^/# /' "$TMP/out" | tail -1

# A schema that lost a column the statements use: each statement that names
# it fails, with where it is written.
pg_sql "ALTER TABLE schema_migrations RENAME COLUMN applied_at TO applied_at_gone"
run "$QUERY_TOOL"
expect_status 1 "a statement naming a missing column fails"
expect_grep "$TMP/out" '^lib/db/sql/[a-z_]*\.sql:[0-9]*: [a-z_]*: .*column .*applied_at.* does not exist' \
	"the failure names the file, line, statement and column"

pg_stop
done_testing
