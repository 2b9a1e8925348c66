#!/bin/sh
# Coloured states (docs/cli.md, "Terminal output"): --color=never|auto|always
# before or after the command, NO_COLOR, TERM=dumb; auto colours only on a
# terminal (a pty from script(1)); --json is never coloured; a table's
# columns are as wide coloured as plain; a bad --color is a usage error.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/runs_lib.sh"

ESC=$(printf '\033')
unset NO_COLOR
export TERM=xterm

# on_pty OUT CMD: run the shell command CMD on a pseudo-terminal, its output
# (with the pty's \r\n made \n) in OUT.
on_pty() {
	script -qfec "$2" /dev/null </dev/null | tr -d '\r' >"$1"
}

# has_sgr FILE DESCRIPTION / no_sgr FILE DESCRIPTION: FILE holds an escape
# sequence / none.
has_sgr() {
	if grep -q "$ESC\[" "$1"; then ok 0 "$2"; else ok 1 "$2"; sed 's/^/#   /' "$1"; fi
}
no_sgr() {
	if grep -q "$ESC" "$1"; then
		ok 1 "$2"
		sed 's/^/#   /' "$1" | cat -v
	else
		ok 0 "$2"
	fi
}
# strip FILE: FILE without its SGR sequences.
strip() { sed "s/$ESC\[[0-9;]*m//g" "$1"; }

cd "$TMP" || exit 1
cat >d.yaml <<'YAML'
schedule: null
tasks:
  good:
    command: "true"
  bad:
    command: "false"
  after:
    command: "true"
    depends_on: [bad]
YAML
T="$SLUICE test d.yaml"

# --- sluice test, no database ----------------------------------------------
on_pty "$TMP/auto" "$T"
has_sgr "$TMP/auto" "auto on a terminal: coloured"
grep -q "^\[bad\] ${ESC}\[31mfailed${ESC}\[0m" "$TMP/auto"
ok $? "failed is red, and only the state is coloured"
grep -q "^\[good\] ${ESC}\[32msuccess${ESC}\[0m" "$TMP/auto"
ok $? "success is green"
grep -q "^\[good\] ${ESC}\[34mrunning${ESC}\[0m: try 1 of 1" "$TMP/auto"
ok $? "running is blue"
grep -q "^after  ${ESC}\[31mupstream_failed${ESC}\[0m" "$TMP/auto"
ok $? "the summary table colours its STATE cell"
on_pty "$TMP/noc" "NO_COLOR=1 $T"
no_sgr "$TMP/noc" "NO_COLOR=1 on a terminal: plain"
on_pty "$TMP/noc-empty" "NO_COLOR= $T"
has_sgr "$TMP/noc-empty" "an empty NO_COLOR does not count"
on_pty "$TMP/dumb" "TERM=dumb $T"
no_sgr "$TMP/dumb" "TERM=dumb: plain"
on_pty "$TMP/never" "$T --color=never"
no_sgr "$TMP/never" "--color=never on a terminal: plain"
on_pty "$TMP/never2" "$SLUICE --color never test d.yaml"
no_sgr "$TMP/never2" "--color never before the command: plain"
on_pty "$TMP/always-noc" "NO_COLOR=1 $T --color=always"
has_sgr "$TMP/always-noc" "--color=always wins over NO_COLOR"

$T >"$TMP/piped" 2>&1
no_sgr "$TMP/piped" "auto through a pipe: plain"
$T --color=always >"$TMP/always" 2>&1
has_sgr "$TMP/always" "--color=always through a pipe: coloured"
"$SLUICE" --color=always test d.yaml >"$TMP/always2" 2>&1
has_sgr "$TMP/always2" "--color=always before the command"
# Sorted: tasks that run side by side may print in another order each time.
strip "$TMP/always" | sed 's/[0-9.]*s$//; s/test__[^ ]*/RUN/' | sort >"$TMP/a.plain"
sed 's/[0-9.]*s$//; s/test__[^ ]*/RUN/' "$TMP/piped" | sort >"$TMP/p.plain"
cmp -s "$TMP/a.plain" "$TMP/p.plain"
ok $? "coloured and plain differ only by the escapes: columns keep their width"
diff "$TMP/p.plain" "$TMP/a.plain" | sed 's/^/# /' | cat -v

on_pty "$TMP/json" "$T --json --color=always"
no_sgr "$TMP/json" "--json (stdout and the log on stderr) is never coloured, even with --color=always"
$T --json --color=always >"$TMP/json.out" 2>/dev/null
jq -e '.tasks | length == 3' "$TMP/json.out" >/dev/null
ok $? "and is still JSON"

# --- bad values ---------------------------------------------------------------
for form in "$SLUICE --color=bogus version" "$SLUICE version --color=bogus" \
	"$SLUICE --color bogus version" "$SLUICE version --color bogus"; do
	run $form
	expect_status 2 "$form: a usage error"
	expect_grep "$TMP/err" "--color: expected never, auto or always, got 'bogus'" \
		"which names the flag and the value"
done
run "$SLUICE" version --color
expect_status 2 "--color without a value: a usage error"
expect_grep "$TMP/err" "'--color' needs a value" "which names the flag"
run "$SLUICE" --help
expect_grep "$TMP/out" "\[--color WHEN\]" "sluice --help shows --color"
run "$SLUICE" runs list --help
expect_grep "$TMP/out" "^  --color WHEN" "a command's --help lists --color"

# --- the commands over the database ------------------------------------------
pg_start
pg_newdb colour
"$SLUICE" db init >/dev/null || exit 1
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
"$SLUICE" trigger hello --run-id r1 >/dev/null || exit 1
"$SLUICE" trigger hello --run-id r2 >/dev/null || exit 1
set_states r1 greet=success count=failed done=upstream_failed
pg_sql "UPDATE runs SET state = 'failed', started_at = now(), ended_at = now()
	WHERE run_id = 'r1'" >/dev/null
pg_sql "UPDATE task_instances ti SET state = 'up_for_retry', try_number = 1,
	next_retry_at = now() + interval '1 hour' FROM runs r
	WHERE r.run_pk = ti.run_pk AND r.run_id = 'r2' AND ti.task_id = 'greet'" >/dev/null
pg_sql "UPDATE runs SET state = 'running', started_at = now() WHERE run_id = 'r2'" >/dev/null
pg_sql "INSERT INTO workers (worker_id, host, queues, slots, state) VALUES
	('w1', 'h1', '{default}', 2, 'active'), ('w2', 'h2', '{default}', 1, 'draining');
	UPDATE workers SET last_heartbeat_at = now() - interval '1 hour'" >/dev/null

# check NAME CMD PATTERN: CMD with --color=always colours PATTERN (a red
# failed, ...), and without the escapes prints what --color=never prints.
check() {
	"$SLUICE" $2 --color=always >"$TMP/c.out" 2>&1
	expect_grep "$TMP/c.out" "$3" "$1: the state is coloured with --color=always"
	"$SLUICE" $2 --color=never >"$TMP/n.out" 2>&1
	no_sgr "$TMP/n.out" "$1: plain with --color=never"
	strip "$TMP/c.out" | sed 's/[0-9][0-9a-z]* ago/AGO/; s/[0-9][0-9]*[smhd]$/DUR/' >"$TMP/c.plain"
	sed 's/[0-9][0-9a-z]* ago/AGO/; s/[0-9][0-9]*[smhd]$/DUR/' "$TMP/n.out" >"$TMP/n.plain"
	cmp -s "$TMP/c.plain" "$TMP/n.plain"
	ok $? "$1: the same text and column widths either way"
	diff "$TMP/n.plain" "$TMP/c.plain" | sed 's/^/# /' | cat -v
	"$SLUICE" $2 --json --color=always >"$TMP/j.out" 2>&1
	no_sgr "$TMP/j.out" "$1 --json: never coloured"
}
check "runs list" "runs list" "${ESC}\[31mfailed${ESC}\[0m"
check "runs show" "runs show hello r1" "^count  *${ESC}\[31mfailed${ESC}\[0m"
check "runs show (head)" "runs show hello r2" "^state  *${ESC}\[34mrunning${ESC}\[0m (manual run)"
check "runs show (retry)" "runs show hello r2" "^greet  *${ESC}\[33mup_for_retry${ESC}\[0m"
check "dags list" "dags list" "^hello .*${ESC}\[34mrunning${ESC}\[0m\|^hello .*${ESC}\[31mfailed${ESC}\[0m"
check "workers list" "workers list" "^w2 .*${ESC}\[33mdraining${ESC}\[0m"
check "status" "status" "^workers: .*${ESC}\[32mactive${ESC}\[0m"

on_pty "$TMP/list.pty" "$SLUICE runs list"
expect_grep "$TMP/list.pty" "${ESC}\[31mfailed" "runs list on a terminal: coloured (auto)"
on_pty "$TMP/list.noc" "NO_COLOR=1 $SLUICE runs list"
no_sgr "$TMP/list.noc" "runs list on a terminal with NO_COLOR: plain"

done_testing
