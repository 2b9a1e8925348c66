#!/bin/sh
# The command line itself: help, version, usage errors and their exit codes.
. "$(dirname "$0")/lib.sh"

for cmd in validate "dags show" cron version; do
	# shellcheck disable=SC2086
	run "$SLUICE" $cmd --help
	expect_status 0 "$cmd --help exits 0"
	expect_grep "$TMP/out" "^usage: sluice $cmd" "$cmd --help prints its usage"
done

run "$SLUICE" --help
expect_status 0 "sluice --help exits 0"
expect_grep "$TMP/out" "validate" "overview lists validate"

run "$SLUICE"
expect_status 2 "no command is a usage error"

run "$SLUICE" frobnicate
expect_status 2 "unknown command exits 2"
expect_grep "$TMP/err" "unknown command 'frobnicate'" "unknown command is named"

run "$SLUICE" validate --frob x
expect_status 2 "unknown option exits 2"
expect_grep "$TMP/err" "unknown option '--frob'" "unknown option is named"

run "$SLUICE" cron '* * * * *' --count
expect_status 2 "option without its value exits 2"
expect_grep "$TMP/err" "option '--count' needs a value" "missing value names the flag"

run "$SLUICE" version
expect_status 0 "version exits 0"
expect_grep "$TMP/out" "^sluice [0-9]" "version prints sluice and a number"

run "$SLUICE" version --json
expect_status 0 "version --json exits 0"
expect_grep "$TMP/out" '"version": "' "version --json has a version key"

run "$SLUICE" --json version
expect_grep "$TMP/out" '"version": "' "a global --json before the command applies"

run "$SLUICE" dags
expect_status 2 "dags without a subcommand exits 2"

printf 'database_url: 5\ndags:\n  rpo: x\n' >"$TMP/bad-config.yaml"
run env -u SLUICE_DATABASE_URL "$SLUICE" db status --config "$TMP/bad-config.yaml"
expect_status 2 "an invalid --config file is a usage error"
expect_grep "$TMP/err" "bad-config.yaml:1:15: database_url: expected a string, got integer 5" \
	"configuration problems name file:line:col"
expect_grep "$TMP/err" "bad-config.yaml:3:3: unknown key 'rpo' in dags (did you mean 'repo'?)" \
	"every problem is listed"

run env -u SLUICE_DATABASE_URL SLUICE_CONFIG="$TMP/nowhere.yaml" "$SLUICE" db status
expect_status 2 "a missing \$SLUICE_CONFIG file is a usage error"
expect_grep "$TMP/err" "nowhere.yaml:1:1: cannot open" "and is named"

done_testing
