# A small TAP producer for the CLI tests. Each test script sources this,
# runs the real `sluice` binary ($SLUICE, set by meson) and calls `done_testing`.
set -u

SLUICE=${SLUICE:?SLUICE must point at the sluice binary}
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
SRC_DIR=$(cd "$TESTS_DIR/.." && pwd)
tap_n=0
tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# Where `sluice standalone` records its database and the CLI looks for it
# when none is configured: the test's own, never the user's.
export XDG_STATE_HOME="$TMP/xdg-state"

ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# run CMD...: run it, keeping stdout, stderr and the exit status.
run() {
	"$@" >"$TMP/out" 2>"$TMP/err"
	status=$?
}

# expect_status N DESCRIPTION: the last `run` exited with N.
expect_status() {
	if [ "$status" -eq "$1" ]; then
		ok 0 "$2"
	else
		ok 1 "$2"
		echo "# expected exit $1, got $status; stderr:"
		sed 's/^/#   /' "$TMP/err"
	fi
}

# expect_file FILE WANTED DESCRIPTION: FILE's content equals WANTED.
expect_file() {
	if { [ -z "$2" ] && [ ! -s "$1" ]; } || printf '%s\n' "$2" | cmp -s - "$1"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '%s\n' "$2" | diff -u - "$1" | sed 's/^/# /'
	fi
}

# expect_str GOT WANTED DESCRIPTION: the string GOT equals WANTED.
expect_str() {
	printf '%s\n' "$1" >"$TMP/got"
	expect_file "$TMP/got" "$2" "$3"
}

# expect_grep FILE PATTERN DESCRIPTION: FILE has a line matching PATTERN.
expect_grep() {
	if grep -q -e "$2" "$1"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# no line matches: $2"
		sed 's/^/#   /' "$1"
	fi
}

# expect_jq FILE FILTER DESCRIPTION: `jq -e FILTER` holds of FILE.
expect_jq() {
	if jq -e "$2" "$1" >/dev/null 2>&1; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "# jq -e '$2' is not true of:"
		sed 's/^/#   /' "$1" | head -n 40
	fi
}

# skip N REASON: N checks that cannot run here, reported as TAP skips.
skip() {
	sk_i=0
	while [ $sk_i -lt "$1" ]; do
		sk_i=$((sk_i + 1))
		tap_n=$((tap_n + 1))
		echo "ok $tap_n # skip $2"
	done
}

# python_with MODULE PACKAGE: sets PY to the first Python that imports
# MODULE: Debian's /usr/bin/python3 when another python3 (pyenv, a venv)
# comes first on PATH without it. Bails out naming the Debian PACKAGE
# (.ci/install-deps installs it) when none does.
python_with() {
	PY=
	for pw_p in python3 /usr/bin/python3; do
		if "$pw_p" -c "import $1" 2>/dev/null; then
			PY=$pw_p
			return 0
		fi
	done
	echo "Bail out! $2 is not installed (.ci/install-deps)"
	exit 1
}

# promtool_check FILE DESC: Prometheus' own linter (promtool, Debian's
# prometheus package) accepts the exposition in FILE. Skipped without
# promtool, unless CI is set.
promtool_check() {
	if ! command -v promtool >/dev/null; then
		if [ -n "${CI-}" ]; then
			ok 1 "$2 (promtool is missing: .ci/install-deps)"
		else
			skip 1 "needs promtool (Debian's prometheus)"
		fi
		return
	fi
	promtool check metrics <"$1" >"$TMP/promtool.out" 2>&1
	ok $? "$2"
	sed 's/^/# /' "$TMP/promtool.out"
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
