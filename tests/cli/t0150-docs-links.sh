#!/bin/sh
# The documentation checks itself (docs/README.md, "Checked documentation"):
# every relative link and #anchor of README.md and docs/*.md resolves, no
# file of the repository names the developers' brief, and every block
# fenced as ```sh runnable runs, in order per page, against a scratch
# database.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"

CHECK="$TESTS_DIR/docs_check.py"
BIN_DIR=$(dirname "$SLUICE")
BUILD_ROOT=$(cd "$BIN_DIR/.." && pwd)

# The checker itself first, on pages made to fail: a test that cannot
# fail proves nothing.
mkdir -p "$TMP/bad/docs"
cat >"$TMP/bad/README.md" <<'EOF'
# Bad

- [a page](docs/a.md)
- [a missing page](docs/missing.md)
- [a heading](docs/a.md#no-such-heading)
- [outside](../outside.md)
EOF
cat >"$TMP/bad/docs/a.md" <<'EOF'
# A page

## `sluice dags pause` / unpause

See [the heading](#sluice-dags-pause--unpause) and [twice](#twice-1),
[not this one](#twice-2), and `docs/b.md`.

## Twice

## Twice

```sh
# [not a link](nowhere.md) inside a code block
```
EOF
run python3 "$CHECK" links "$TMP/bad" "$TMP/bad/README.md" "$TMP/bad/docs/a.md"
expect_status 1 "the checker fails on broken links"
expect_file "$TMP/out" "README.md:4: link 'docs/missing.md': no such file
README.md:5: link 'docs/a.md#no-such-heading': docs/a.md has no heading with anchor #no-such-heading
README.md:6: link '../outside.md' leaves the repository
docs/a.md:6: link '#twice-2': docs/a.md has no heading with anchor #twice-2
docs/a.md:6: 'docs/b.md': no such file" "it names file:line of each, and only those"

# The real pages.
run python3 "$CHECK" links "$SRC_DIR" "$SRC_DIR/README.md" "$SRC_DIR"/docs/*.md
expect_status 0 "every link and anchor of README.md and docs/*.md resolves"
sed 's/^/# /' "$TMP/out"

# Every page is installed with the man pages that point to it.
missing=
for f in "$SRC_DIR"/docs/*.md; do
	grep -q "'$(basename "$f")'" "$SRC_DIR/man/meson.build" || missing="$missing $(basename "$f")"
done
expect_str "${missing# }" "" "man/meson.build installs every docs/*.md"

# Nothing points outside the repository: its files never name the
# developers' brief or the folder it lives in.
if git -C "$SRC_DIR" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$SRC_DIR" ls-files -z | (cd "$SRC_DIR" && xargs -0 grep -l -I -E 'SPEC[.]md|[.][.]/shared/') >"$TMP/outside"
	expect_file "$TMP/outside" "" "no file of the repository names the developers' brief or its folder"
else
	tap_n=$((tap_n + 1))
	echo "ok $tap_n # SKIP not a git checkout: cannot list the repository's files"
fi

# The runnable blocks. Each page gets a fresh database and a scratch
# directory with the example DAGs committed to a git repository.
mkdir -p "$TMP/bin"
for b in "$SLUICE" "${SLUICE_SCHEDULER:-}" "${SLUICE_WORKER:-}" "${SLUICE_WEB:-}"; do
	[ -n "$b" ] && ln -sf "$b" "$TMP/bin/$(basename "$b")"
done

pg_start
page=0
# run_page ROOT REL SCRIPT: run the runnable blocks of ROOT/REL, which
# `docs_check.py scripts` wrote to SCRIPT. Sets page_status to
# the page's exit status; what it printed is in $TMP/page.out and
# $TMP/page.err. Each page gets its own database and scratch directory.
run_page() {
	rel=$2
	page=$((page + 1))
	pg_newdb "docs_$page"
	work="$TMP/work$page"
	mkdir -p "$work"
	cp -R "$1/dags-examples" "$work/"
	(cd "$work/dags-examples" && git init -q -b main . && git add -A &&
		git -c user.name=docs -c user.email=docs@example.com commit -q -m examples) || {
		page_status=1
		echo "$rel: cannot make the scratch repository" >"$TMP/page.err"
		return
	}
	# Line 1 of a page is its title, never code: the prelude goes there so
	# that every other line keeps its number.
	sed -i "1s|.*|set -eE -o pipefail; trap 'echo \"$rel:\$LINENO: command failed with exit status \$?\" >\&2' ERR|" "$3"
	(cd "$work" && PATH="$TMP/bin:$PATH" HOME="$work" bash --noprofile --norc "$3") \
		>"$TMP/page.out" 2>"$TMP/page.err" </dev/null
	page_status=$?
	if [ $page_status -ne 0 ] && ! grep -q ": command failed" "$TMP/page.err"; then
		echo "$rel: exit status $page_status (the failing command's line is unknown)" >>"$TMP/page.err"
	fi
}

# A broken block must fail, be named by its line, and stop its page.
cat >"$TMP/bad/docs/run.md" <<'EOF'
# Runnable

```sh runnable
sluice version >/dev/null
```

```sh
false  # shown, not run
```

```sh runnable
sluice cron '0 2 * * *' --count 1 >/dev/null
sluice validate no-such-file.yaml
sluice version
```
EOF
cp -R "$SRC_DIR/dags-examples" "$TMP/bad/"
mkdir "$TMP/bad-scripts"
python3 "$CHECK" scripts "$TMP/bad-scripts" "$TMP/bad/docs/run.md" >"$TMP/bad-list"
expect_file "$TMP/bad-list" "1 2 $TMP/bad/docs/run.md" "the runnable blocks are found, the others left"
run_page "$TMP/bad" docs/run.md "$TMP/bad-scripts/1.sh"
if [ "$page_status" -ne 0 ] &&
	grep -q '^docs/run.md:13: command failed with exit status 1$' "$TMP/page.err" &&
	! grep -q 'sluice [0-9]' "$TMP/page.out"; then
	ok 0 "a failing runnable command fails its page, named by file:line, and stops it"
else
	ok 1 "a failing runnable command fails its page, named by file:line, and stops it"
	sed 's/^/#   /' "$TMP/page.out" "$TMP/page.err"
fi

mkdir "$TMP/scripts"
(cd "$SRC_DIR" && python3 "$CHECK" scripts "$TMP/scripts" README.md docs/*.md) >"$TMP/list"
ok $? "the code blocks of README.md and docs/*.md can be read"
pages=0
while read -r n blocks rel <&3; do
	[ "$blocks" -gt 0 ] || continue
	pages=$((pages + 1))
	run_page "$SRC_DIR" "$rel" "$TMP/scripts/$n.sh"
	ok $page_status "$rel: its $blocks runnable block(s) run"
	[ $page_status -eq 0 ] || sed 's/^/#   /' "$TMP/page.out" "$TMP/page.err" | tail -n 40
done 3<"$TMP/list"
[ "$pages" -ge 4 ]
ok $? "runnable blocks on at least four pages (found $pages)"

done_testing
