#!/bin/sh
# The man pages: sluice(1) has a section for every command `sluice --help`
# lists, naming every option that command's --help prints (or the option
# is a global one), and every page renders with groff without a warning.
. "$(dirname "$0")/lib.sh"

MAN_DIR=${SLUICE_MAN_DIR:-}
PAGES="sluice.1 sluice-scheduler.8 sluice-worker.8 sluice-web.8 sluice.yaml.5 sluice-worker.yaml.5 sluice-dag.5"
if [ -z "$MAN_DIR" ] || [ ! -f "$MAN_DIR/sluice.1" ]; then
	# A skip would let a machine without scdoc pass; .ci/install-deps
	# installs it.
	echo "Bail out! the man pages were not built: install scdoc (meson -Dman=enabled)"
	exit 1
fi
command -v groff >/dev/null || {
	echo "Bail out! no groff: install groff-base"
	exit 1
}

for p in $PAGES; do
	run groff -ww -man -Tutf8 "$MAN_DIR/$p"
	# Its header line names it: sluice.yaml(5).
	if [ "$status" -eq 0 ] && [ ! -s "$TMP/err" ] && head -n 1 "$TMP/out" | grep -q -F "${p%.*}(${p##*.})"; then
		ok 0 "$p renders with groff -ww, no warning"
	else
		ok 1 "$p renders with groff -ww, no warning"
		sed 's/^/#   /' "$TMP/err"
	fi
done

# sluice(1) as plain text, one roff line a line: no font changes, plain '-'.
sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' "$MAN_DIR/sluice.1" >"$TMP/page"

# section TITLE_PREFIX: the lines of the .SS (or .SH) section of sluice(1)
# whose title starts with TITLE_PREFIX followed by a blank or the end.
section() {
	awk -v want="$1" '
		/^\.S[SH] / {
			title = substr($0, 5)
			on = (title == want || index(title, want " ") == 1)
		}
		on { print }' "$TMP/page"
}

# has_flag FILE FLAG: FILE names FLAG as a whole word.
has_flag() {
	grep -q -E -e "(^|[^a-z-])$2([^a-z-]|\$)" "$1"
}

section "GLOBAL OPTIONS" >"$TMP/global"
run "$SLUICE" --help
expect_status 0 "sluice --help"
cp "$TMP/out" "$TMP/overview"
missing=
for f in $(grep -o -E -e '--[a-z][a-z-]*' "$TMP/overview" | sort -u); do
	has_flag "$TMP/global" "$f" || missing="$missing $f"
done
expect_str "${missing# }" "" "every option of 'sluice --help' is under GLOBAL OPTIONS"

# The commands: the lines after "Commands:". A path is one or two words;
# the summary follows (sometimes after a single space, when the path fills
# its column), so the path is the one `sluice PATH --help` knows.
sed -n '/^Commands:/,/^$/p' "$TMP/overview" | sed -n 's/^  \([^ ].*\)/\1/p' >"$TMP/commands"
[ -s "$TMP/commands" ]
ok $? "sluice --help lists commands"
n=0
while read -r w1 w2 _; do
	if "$SLUICE" "$w1" --help 2>/dev/null | head -n 1 | grep -q "^usage: sluice $w1\( \|\$\)"; then
		path=$w1
	else
		path="$w1 $w2"
	fi
	n=$((n + 1))
	section "sluice $path" >"$TMP/sect"
	if [ ! -s "$TMP/sect" ]; then
		ok 1 "sluice(1) has a section for 'sluice $path'"
		continue
	fi
	# shellcheck disable=SC2086 # the path is two words
	"$SLUICE" $path --help >"$TMP/help" 2>&1
	missing=
	for f in $(grep -o -E -e '--[a-z][a-z-]*' "$TMP/help" | sort -u); do
		has_flag "$TMP/sect" "$f" || has_flag "$TMP/global" "$f" || missing="$missing $f"
	done
	if [ -z "$missing" ]; then
		ok 0 "sluice(1) documents 'sluice $path' and its options"
	else
		ok 1 "sluice(1) documents 'sluice $path' and its options"
		echo "# missing from its section:$missing"
	fi
done <"$TMP/commands"
[ "$n" -ge 40 ]
ok $? "at least 40 commands were checked (found $n)"

# The checks can fail: a page without a command's section, and an option
# that its section does not name.
sed -e '/^\.SS sluice dags next/,/^\.SS /{/^\.SS sluice dags next/d;}' \
	-e 's/--count/--cnt/g' "$TMP/page" >"$TMP/page.bad"
mv "$TMP/page" "$TMP/page.good"
mv "$TMP/page.bad" "$TMP/page"
section "sluice dags next" >"$TMP/sect"
[ ! -s "$TMP/sect" ]
ok $? "a page without the section is caught"
section "sluice cron" >"$TMP/sect"
! has_flag "$TMP/sect" --count
ok $? "an option missing from a section is caught"
mv "$TMP/page.good" "$TMP/page"

# A page with a roff mistake is caught by groff -ww.
printf '.TH BAD 1\n.SH NAME\nbad \\fQ x\n.BOGUS\n' >"$TMP/bad.1"
groff -ww -man -Tutf8 "$TMP/bad.1" >/dev/null 2>"$TMP/bad.err"
[ -s "$TMP/bad.err" ]
ok $? "groff -ww reports a broken page on standard error"

done_testing
