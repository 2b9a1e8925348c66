#!/bin/sh
# Hostile input: an alias bomb, a 100 MB file, random bytes and deep nesting
# each get one clear error, quickly and in bounded memory. The time limit
# here only catches a hang; the measured figures live in bench/.
. "$(dirname "$0")/lib.sh"

# Memory is capped for the plain build; ASan reserves terabytes of address
# space for its shadow, so there the cap would only break the tool.
limit() {
	if [ -n "${SLUICE_SANITIZED:-}" ]; then
		timeout 20 "$@"
	else
		(ulimit -v 262144 && timeout 20 "$@")
	fi
}

{
	echo 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
	i=1
	while [ $i -le 50 ]; do
		p=$((i - 1))
		echo "a$i: &a$i [*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p,*a$p]"
		i=$((i + 1))
	done
	echo "tasks: *a50"
} >"$TMP/bomb.yaml"
run limit "$SLUICE" validate "$TMP/bomb.yaml"
expect_status 1 "alias bomb is rejected"
expect_grep "$TMP/out" "bomb.yaml:[0-9]*:[0-9]*: .*alias" "alias bomb error names the aliases"

head -c 100000000 /dev/zero | tr '\0' '#' >"$TMP/huge.yaml"
run limit "$SLUICE" validate "$TMP/huge.yaml"
expect_status 1 "100 MB file is rejected"
expect_grep "$TMP/out" "huge.yaml:1:1: .*limit of 1048576 bytes" "size error names the limit"
rm -f "$TMP/huge.yaml"

# A fixed pseudo-random stream, so a failure can be reproduced.
awk 'BEGIN { srand(42); for (i = 0; i < 65536; i++) printf "%c", int(rand() * 256) }' \
	>"$TMP/random.yaml"
run limit "$SLUICE" validate "$TMP/random.yaml"
expect_status 1 "random bytes are rejected"
expect_grep "$TMP/out" "random.yaml:[0-9]*:[0-9]*: " "random bytes error has a position"

awk 'BEGIN { for (i = 0; i < 10000; i++) printf "["; print "" }' >"$TMP/deep.yaml"
run limit "$SLUICE" validate "$TMP/deep.yaml"
expect_status 1 "deep nesting is rejected"
expect_grep "$TMP/out" "deep.yaml:1:[0-9]*: .*nest" "nesting error says so"

mkfifo "$TMP/pipe.yaml"
(head -c 3000000 /dev/zero | tr '\0' 'x' >"$TMP/pipe.yaml") &
run limit "$SLUICE" validate "$TMP/pipe.yaml"
expect_status 1 "an endless pipe is cut at the limit"
expect_grep "$TMP/out" "pipe.yaml:1:1: .*limit" "pipe error names the limit"
wait

# What a DISPATCH frame cannot carry is refused here, not by the worker when
# the attempt is handed out: a command over 256 KiB, and more env entries
# than leave room for the 12 SLUICE_* variables under the protocol's 4096.
cd "$TMP" || exit 1
awk 'BEGIN { printf "tasks:\n  a:\n    command: "; for (i = 0; i <= 262144; i++) printf "x"; print "" }' \
	>command.yaml
run limit "$SLUICE" validate command.yaml
expect_status 1 "a command over 256 KiB is rejected"
expect_file "$TMP/out" "command.yaml:3:14: command: is 262145 bytes long, over the job \
protocol's limit of 262144 bytes" "the command error names the limit"

awk 'BEGIN { print "tasks: {a: {command: x}}\nenv:"; for (i = 0; i < 4084; i++) print "  V" i ": x" }' \
	>env.yaml
run limit "$SLUICE" validate env.yaml
expect_status 1 "4084 env entries are rejected"
expect_file "$TMP/out" "env.yaml:2:1: env: the DAG's env and params make 4084 environment \
variables, over the limit of 4083 (the job protocol's 4096 less 13 kept for sluice's SLUICE_* \
variables)" "the env error counts the entries and names the limit"

# The loaded model is capped too: a small file that multiplies itself
# through defaults or aliases (a 100 KiB defaults.env over 2,000 tasks, a
# 100 KiB command aliased by 1,200 tasks, a depends_on list of 400 long ids
# aliased by 240 tasks, a list aliased by 900 params) is refused where the
# count passes 8 MiB, in a few MB of memory instead of hundreds; a large
# but realistic DAG (2,000 tasks, modest defaults) is still accepted.
python3 "$(dirname "$0")/model_bombs.py" "$TMP"
# peak FILE...: run `sluice validate FILE` and set $kb to its peak RSS in KiB
# (not meaningful under ASan, whose shadow memory dominates).
peak() {
	kb=$(python3 -c '
import resource, subprocess, sys
with open(sys.argv[2], "w") as out, open(sys.argv[3], "w") as err:
    rc = subprocess.call(sys.argv[4:], stdout=out, stderr=err)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' x "$TMP/out" "$TMP/err" "$SLUICE" validate "$@")
	status=$?
}
for f in defaults_env:181:3 alias_command:83:18 alias_deps:493:38 alias_params:12:7; do
	name=${f%%:*} pos=${f#*:}
	peak "$name.yaml"
	expect_status 1 "$name: the loaded model is over the cap"
	expect_grep "$TMP/out" "^$name.yaml:$pos: this DAG's loaded definition exceeds 8388608 bytes \
after defaults and aliases are applied" "$name: refused where the count passed the cap"
	if [ -z "${SLUICE_SANITIZED:-}" ]; then
		[ "$kb" -lt 40960 ]
		ok $? "$name: validate's peak RSS is under 40 MB (${kb} KiB)"
	fi
done
peak realistic.yaml
expect_status 0 "2,000 tasks with modest defaults are accepted"
if [ -z "${SLUICE_SANITIZED:-}" ]; then
	[ "$kb" -lt 40960 ]
	ok $? "in under 40 MB (${kb} KiB)"
fi

done_testing
