#!/bin/sh
# A template where bash takes a variable's value for code is refused when the
# DAG is validated, so a --conf value can never run a command through it:
# `a[$(touch PWNED)]` inside $(( )) runs `touch` under bash (arithmetic
# evaluates array subscripts), and `bash -c '... {{ x }} ...'` hands the
# value to a shell sluice does not check. Each attack below creates PWNED
# when the check is disabled.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
attack='n=a[$(touch '"$TMP"'/PWNED)]'

not_there() {
	if [ -e "$1" ]; then ok 1 "$2"; else ok 0 "$2"; fi
}

# attack FILE DESCRIPTION [PREFIX...]: validate refuses FILE, and
# `sluice test` of it with the attacking --conf runs nothing.
attack() {
	file=$1 what=$2
	shift 2
	rm -f "$TMP/PWNED"
	run "$SLUICE" validate "$file"
	expect_status 1 "$what: validate refuses it"
	cp "$TMP/out" "$TMP/validate.out"
	run "$@" "$SLUICE" test "$file" --conf "$attack"
	expect_status 1 "$what: sluice test refuses it"
	not_there "$TMP/PWNED" "$what: the value ran no command"
}

cat >bash_c.yaml <<'Y'
params: {n: "1"}
tasks:
  a:
    command: bash -c 'echo $(( {{ params.n }} + 1 ))'
Y
attack bash_c.yaml "bash -c"
expect_grep "$TMP/validate.out" "bash_c.yaml:4:32: template {{ params.n }} inside sh -c: " \
	"the error is at the template and names the context"

cat >heredoc.yaml <<'Y'
params: {n: "1"}
tasks:
  a:
    command: |
      bash <<'EOF'
      echo $(( {{ params.n }} + 1 ))
      EOF
Y
attack heredoc.yaml "a here-document read by bash"
expect_grep "$TMP/validate.out" "heredoc.yaml:6:16: template {{ params.n }} inside a here-document read by a shell: " \
	"a block scalar's error points at the template's own line and column"

# Debian's /bin/sh is dash, which does not evaluate array subscripts; where
# /bin/sh is bash, $(( {{ params.n }} )) itself runs the command. Bind bash
# over /bin/sh in a private mount namespace (root only) to show it.
cat >arith.yaml <<'Y'
params: {n: "1"}
tasks:
  a:
    command: x=$(( {{ params.n }} + 1 )); echo "x=$x"
Y
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	attack arith.yaml "\$(( )) under a bash /bin/sh" \
		unshare -m sh -c 'mount --bind /bin/bash /bin/sh && exec "$@"' sh
else
	run "$SLUICE" validate arith.yaml
	expect_status 1 "\$(( )): validate refuses it"
	cp "$TMP/out" "$TMP/validate.out"
	echo "ok - # SKIP running it under a bash /bin/sh needs root"
fi
expect_grep "$TMP/validate.out" "arith.yaml:4:20: template {{ params.n }} inside shell arithmetic \$(( )): bash evaluates a variable's value as code there; validate the value first (e.g. case \$SLUICE_PARAM_N in \*\[!0-9\]\*) exit 2;; esac) and use the variable" \
	"the arithmetic error says why and how to fix it"

# The fix the message suggests passes validation and does the arithmetic.
cat >fixed.yaml <<'Y'
params: {n: "1"}
tasks:
  a:
    command: |
      case $SLUICE_PARAM_N in ''|*[!0-9]*) echo "bad n"; exit 2;; esac
      echo "n+1=$(( SLUICE_PARAM_N + 1 )) day={{ ds }}" '$(( {{ ds }} ))'
Y
run "$SLUICE" validate fixed.yaml
expect_status 0 "validating the value and using the variable is accepted"
run "$SLUICE" test fixed.yaml --conf n=41
expect_status 0 "and it runs"
expect_grep "$TMP/out" 'n+1=42 day=[0-9-]* \$(( \${SLUICE_DS} ))' "with the value"
rm -f "$TMP/PWNED"
run "$SLUICE" test fixed.yaml --conf "$attack"
expect_status 1 "the attacking value fails the check"
not_there "$TMP/PWNED" "and runs nothing"

done_testing
