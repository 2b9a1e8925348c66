#!/bin/sh
# The validation hooks of docs/validate-in-ci.md, run for real and taken
# from the page itself so that the page and the test cannot drift:
# pre-commit with this repository's .pre-commit-hooks.yaml, the pre-receive
# hook in a bare repository (including a symbolic link to a file of the
# server, which must not be read), and the generic CI step.
. "$(dirname "$0")/lib.sh"

DOC=$SRC_DIR/docs/validate-in-ci.md
command -v pre-commit >/dev/null || { echo "Bail out! pre-commit is not installed (.ci/install-deps)"; exit 1; }

# No user or system git configuration; commits need an identity.
export HOME="$TMP/home" GIT_CONFIG_NOSYSTEM=1 PRE_COMMIT_HOME="$TMP/pre-commit-home"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
mkdir -p "$HOME" "$TMP/bin"
git config --global init.defaultBranch main
# The hooks run the `sluice` on PATH, as they would on a user's machine.
ln -s "$SLUICE" "$TMP/bin/sluice"
PATH="$TMP/bin:$PATH"
export PATH

# extract PHRASE: the fenced block after the page's "<!-- tested: ... PHRASE -->" line.
extract() {
	awk -v phrase="$1" '
		/^<!-- tested:/ && index($0, phrase) { found = 1; next }
		found == 1 && /^```/ { found = 2; next }
		found == 2 && /^```/ { exit }
		found == 2 { print }' "$DOC"
}

good_dag() {
	mkdir -p dags
	printf 'dag: good\ntasks:\n  a:\n    command: "true"\n' >dags/good.yaml
}
bad_dag() {
	mkdir -p dags
	printf 'dag: bad\ntasks:\n  load:\n    command: "true"\n    retires: 3\n' >dags/bad.yaml
}
BAD_MSG="dags/bad.yaml:5:5: unknown key 'retires' in task 'load' (did you mean 'retries'?)"

# --- pre-commit, with this repository's .pre-commit-hooks.yaml ----------
# A clone of sluice as pre-commit sees one: a git repository holding the file.
git init -q "$TMP/sluice-repo"
cp "$SRC_DIR/.pre-commit-hooks.yaml" "$TMP/sluice-repo/"
git -C "$TMP/sluice-repo" add .pre-commit-hooks.yaml
git -C "$TMP/sluice-repo" commit -q -m hooks
rev=$(git -C "$TMP/sluice-repo" rev-parse HEAD)

git init -q "$TMP/dagrepo"
cd "$TMP/dagrepo" || exit 1
extract "runs this configuration" >"$TMP/config.yaml"
expect_grep "$TMP/config.yaml" "id: sluice-validate" "the page's .pre-commit-config.yaml is found"
sed -e "s|repo: https://git.example.com/sluice.git|repo: $TMP/sluice-repo|" \
	-e "s|rev: v0.1.0|rev: $rev|" "$TMP/config.yaml" >.pre-commit-config.yaml
# A YAML file outside dags/ that is no DAG: the hook must leave it alone.
printf 'name: ci\non: [push]\n' >ci.yaml
run pre-commit install
expect_status 0 "pre-commit install"
good_dag
git add .
run git commit -q -m good
expect_status 0 "pre-commit: a commit of a valid DAG (and a YAML file outside dags/) passes"
cat "$TMP/out" "$TMP/err" >"$TMP/both"
expect_grep "$TMP/both" "sluice validate.*Passed" "pre-commit ran the sluice-validate hook"

bad_dag
git add dags/bad.yaml
run git commit -q -m bad
expect_status 1 "pre-commit: a commit of a DAG with a typo'd key is refused"
cat "$TMP/out" "$TMP/err" >"$TMP/both"
expect_grep "$TMP/both" "^$BAD_MSG\$" "pre-commit shows file:line:col and the message"
run git log --format=%s -1
expect_file "$TMP/out" "good" "the refused commit was not made"

# --- the pre-receive hook -----------------------------------------------
git init -q --bare "$TMP/server.git"
extract "installs this hook" >"$TMP/server.git/hooks/pre-receive"
chmod +x "$TMP/server.git/hooks/pre-receive"
expect_grep "$TMP/server.git/hooks/pre-receive" "sluice validate" "the page's pre-receive hook is found"

git clone -q "$TMP/server.git" "$TMP/work" 2>/dev/null
cd "$TMP/work" || exit 1
good_dag
printf 'not: a DAG, outside dags/\n' >README.yaml
git add .
git commit -q -m good
run git push -q origin HEAD:main
expect_status 0 "pre-receive: a push of valid DAG files is accepted"
good_rev=$(git rev-parse HEAD)
expect_str "$(git -C "$TMP/server.git" rev-parse main)" "$good_rev" "the server has the pushed commit"

bad_dag
git add dags/bad.yaml
git commit -q -m bad
run git push origin HEAD:main
expect_status 1 "pre-receive: a push of a DAG with a typo'd key is refused"
# (git pads the lines of "remote:" with blanks)
expect_grep "$TMP/err" "^remote: $BAD_MSG *\$" "the pusher sees file:line:col and the message"
expect_grep "$TMP/err" "pre-receive hook declined" "git says the hook declined the push"
expect_str "$(git -C "$TMP/server.git" rev-parse main)" "$good_rev" "the refused commit is not on the server"

# A symbolic link to a file of the server (and to a folder of them) must
# not be read: its content would come back in the messages.
git rm -q dags/bad.yaml
mkdir -p "$TMP/secrets"
printf 'SECRET_TOKEN_1234: x\n' >"$TMP/secrets/secret.yaml"
ln -s "$TMP/secrets/secret.yaml" dags/leak.yaml
ln -s "$TMP/secrets" dags/folder
git add dags
git commit -q -m links
run git push origin HEAD:main
expect_status 1 "pre-receive: a push of symbolic links in the DAG folder is refused"
expect_grep "$TMP/err" "^remote: dags/leak.yaml: is a symbolic link" "the link to a file is named"
expect_grep "$TMP/err" "^remote: dags/folder: is a symbolic link" "the link to a folder is named"
if grep -q SECRET_TOKEN_1234 "$TMP/err" "$TMP/out"; then
	ok 1 "nothing of the linked files reaches the pusher"
	sed 's/^/# /' "$TMP/err"
else
	ok 0 "nothing of the linked files reaches the pusher"
fi

git reset -q --hard "$good_rev"
git push -q origin HEAD:refs/heads/topic 2>/dev/null
run git push origin :refs/heads/topic
expect_status 0 "pre-receive: deleting a branch is not checked"

# --- the generic CI step ------------------------------------------------
extract "runs this step" >"$TMP/ci-step.sh"
expect_grep "$TMP/ci-step.sh" "sluice validate" "the page's CI step is found"
cd "$TMP/work" || exit 1
run sh -e "$TMP/ci-step.sh"
expect_status 0 "the CI step passes on valid DAG files"
bad_dag
run sh -e "$TMP/ci-step.sh"
expect_status 1 "the CI step fails on a DAG with a typo'd key"
expect_grep "$TMP/out" "^$BAD_MSG\$" "the CI step shows file:line:col and the message"

done_testing
