#!/bin/sh
# `sluice completion bash|zsh|fish`: scripts made from the command table,
# driven on partial lines (bash through its completion function, zsh with
# compadd stubbed, fish with `complete -C`); DAG and run ids from a real
# database through the hidden `sluice __complete`, and nothing, quickly and
# silently, when no database answers.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"

unset SLUICE_CONFIG SLUICE_DATABASE_URL PGHOST PGPORT PGDATABASE PGUSER PGSERVICE
# The scripts run `sluice` as typed on the line: this build's.
BIN=$TMP/bin
mkdir -p "$BIN" && ln -s "$SLUICE" "$BIN/sluice"
PATH=$BIN:$PATH
export PATH

# complete_bash LINE: what bash completes at the end of LINE, one a line, in
# $TMP/out; in the folder $TMP/f, for file names.
mkdir -p "$TMP/f/sub"
: >"$TMP/f/conf.yaml"
complete_bash() {
	(cd "$TMP/f" && bash --norc "$TESTS_DIR/cli/complete.bash" "$TMP/sluice.bash" "$1") \
		>"$TMP/out" 2>"$TMP/err"
	status=$?
}

# expect_completes LINE WANTED...: bash offers exactly WANTED (in any order).
expect_completes() {
	ec_line=$1
	shift
	complete_bash "$ec_line"
	if [ $# -eq 0 ]; then : >"$TMP/want"; else printf '%s\n' "$@" | sort >"$TMP/want"; fi
	sort "$TMP/out" >"$TMP/got"
	if [ "$status" -eq 0 ] && [ ! -s "$TMP/err" ] && cmp -s "$TMP/want" "$TMP/got"; then
		ok 0 "bash: '$ec_line' completes $*"
	else
		ok 1 "bash: '$ec_line' completes $*"
		echo "# exit $status; stderr:"
		sed 's/^/#   /' "$TMP/err"
		diff -u "$TMP/want" "$TMP/got" | sed 's/^/# /'
	fi
}

# --- the command ---------------------------------------------------------------
for sh in bash zsh fish; do
	run "$SLUICE" completion "$sh"
	expect_status 0 "completion $sh exits 0"
	cp "$TMP/out" "$TMP/sluice.$sh"
done
run "$SLUICE" completion
expect_status 2 "completion without a shell is a usage error"
run "$SLUICE" completion tcsh
expect_status 2 "an unknown shell is a usage error"
expect_grep "$TMP/err" "unknown shell 'tcsh': expected bash, zsh or fish" "naming it"
run "$SLUICE" --help
expect_status 0 "sluice --help"
expect_grep "$TMP/out" "^  completion " "lists completion"
expect_grep "$TMP/out" "^  init " "and init"
if grep -q "__complete" "$TMP/out"; then ok 1 "but not the hidden __complete"; else ok 0 "but not the hidden __complete"; fi

run bash -n "$TMP/sluice.bash"
expect_status 0 "the bash script parses"
run zsh -n "$TMP/sluice.zsh"
expect_status 0 "the zsh script parses (zsh -n)"
run fish -n "$TMP/sluice.fish"
expect_status 0 "the fish script parses (fish -n)"
expect_grep "$TMP/sluice.zsh" "^#compdef sluice$" "the zsh script starts as compinit expects"

# Installed where each shell looks, as this sluice prints them.
for pair in bash:/share/bash-completion/completions/sluice \
	zsh:/share/zsh/vendor-completions/_sluice fish:/share/fish/vendor_completions.d/sluice.fish; do
	built=$(meson introspect --installed "${SLUICE_BUILD_ROOT:?}" |
		jq -r --arg n "${pair#*:}" 'to_entries[] | select(.value | endswith($n)) | .key')
	[ -n "$built" ] && cmp -s "$built" "$TMP/sluice.${pair%%:*}"
	ok $? "meson installs the ${pair%%:*} script as ...${pair#*:}"
done

# --- commands, options, values (no database) ----------------------------------
expect_completes "sluice da" dags
expect_completes "sluice dags " list show next pause unpause errors refresh
expect_completes "sluice dags s" show
expect_completes "sluice ru" runs
expect_completes "sluice comp" completion
expect_completes "sluice completion " bash zsh fish
expect_completes "sluice trigger --" --json --help --config --color --conf --conf-json \
	--logical-date --run-id --wait
expect_completes "sluice trigger --r" --run-id
expect_completes "sluice --" --json --help --version --config --color
expect_completes "sluice --color=" never auto always
expect_completes "sluice --color=al" always
expect_completes "sluice --color " never auto always
expect_completes "sluice runs list --state " queued running success failed cancelled
expect_completes "sluice runs list --state=fa" failed
expect_completes "sluice runs list --color=n" never
expect_completes "sluice users add bob --role " viewer operator admin
expect_completes "sluice tasks mark d r t " success failed
# An option's value is not an option, nor a positional argument.
expect_completes "sluice runs list --limit " 
expect_completes "sluice tasks mark --config x d r t " success failed
expect_completes "sluice tasks mark d --json r t " success failed
expect_completes "sluice nosuch " 

# Files: --config, PATH and DIR arguments.
expect_completes "sluice --config $TMP/f/co" "$TMP/f/conf.yaml"
expect_completes "sluice --config=$TMP/f/co" "$TMP/f/conf.yaml"
expect_completes "sluice validate $TMP/f/" "$TMP/f/conf.yaml" "$TMP/f/sub"
expect_completes "sluice validate x $TMP/f/c" "$TMP/f/conf.yaml"
expect_completes "sluice init $TMP/f/" "$TMP/f/sub"

# The table cannot drift from the commands: every option a command's --help
# shows is completed for it (the common ones included).
"$SLUICE" --help | sed -n 's/^  \([a-z][a-z ]*[a-z]\)  .*/\1/p' | sed 's/ *$//' >"$TMP/paths"
drift=0
while IFS= read -r path; do
	# shellcheck disable=SC2086
	"$SLUICE" $path --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$TMP/help-opts"
	complete_bash "sluice $path --"
	sort -u "$TMP/out" >"$TMP/comp-opts"
	missing=$(comm -23 "$TMP/help-opts" "$TMP/comp-opts")
	if [ -n "$missing" ]; then
		echo "# sluice $path: --help shows, completion lacks: $(echo "$missing" | tr '\n' ' ')"
		drift=1
	fi
done <"$TMP/paths"
[ -s "$TMP/paths" ] || drift=1
ok $drift "every option of every command's --help is completed ($(wc -l <"$TMP/paths") commands)"

# --- no database: nothing, quickly, silently -----------------------------------
# A server that accepts the connection and never answers: only the
# connect_timeout that __complete forces ends the wait, over the 30 s the
# URI asks for.
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(120)
' >"$TMP/port" &
HANG=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
HANG_URL="postgresql://sluice@127.0.0.1:$(cat "$TMP/port")/sluice?connect_timeout=30"
start=$(date +%s)
run env SLUICE_DATABASE_URL="$HANG_URL" "$SLUICE" __complete dags
took=$(($(date +%s) - start))
expect_status 0 "__complete with a server that never answers exits 0"
expect_file "$TMP/out" "" "and prints nothing"
expect_file "$TMP/err" "" "and nothing on stderr"
[ "$took" -lt 10 ]
ok $? "within 10 s, whatever the URI's connect_timeout (took ${took}s)"
start=$(date +%s)
SLUICE_DATABASE_URL=$HANG_URL complete_bash "sluice dags pause "
took=$(($(date +%s) - start))
[ "$status" -eq 0 ] && [ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]
ok $? \
	"bash completes no DAG id then, silently"
[ "$took" -lt 10 ]
ok $? "and quickly (took ${took}s)"
kill "$HANG" 2>/dev/null
wait "$HANG" 2>/dev/null

run env SLUICE_DATABASE_URL="host=$TMP/nowhere port=5432 dbname=x" "$SLUICE" __complete runs d
expect_status 0 "__complete runs without a server exits 0"
[ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]
ok $? "silently"
printf 'nonsense: [\n' >"$TMP/bad.yaml"
run "$SLUICE" --config "$TMP/bad.yaml" __complete dags
expect_status 0 "__complete with a broken configuration file exits 0"
[ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]
ok $? "silently"
run "$SLUICE" __complete tasks
expect_status 2 "__complete of an unknown kind is a usage error"

# --- ids from the database -----------------------------------------------------
pg_start
pg_newdb completion
"$SLUICE" db init >/dev/null || exit 1
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
seed_dag "$SRC_DIR/dags-examples/nightly_etl.yaml" || exit 1
"$SLUICE" trigger hello --run-id first --logical-date 2026-03-01T00:00:00Z >/dev/null || exit 1
"$SLUICE" trigger hello --logical-date 2026-03-02T10:30:00Z >/dev/null || exit 1
"$SLUICE" trigger nightly_etl --run-id other >/dev/null || exit 1
# A URI, with the forced timeout added after it.
SLUICE_DATABASE_URL="postgresql:///completion?host=$PG_DIR&port=$PG_PORT&user=$PG_USER"
export SLUICE_DATABASE_URL

run "$SLUICE" __complete dags
expect_file "$TMP/out" "hello
nightly_etl" "__complete dags lists the DAGs (a URI SLUICE_DATABASE_URL)"
run "$SLUICE" __complete dags ni
expect_file "$TMP/out" "nightly_etl" "__complete dags PREFIX only those starting so"
run "$SLUICE" __complete runs hello
expect_file "$TMP/out" "manual__2026-03-02T10:30:00+00:00
first" "__complete runs DAG lists its runs, newest first"
run "$SLUICE" __complete dags '%'
expect_file "$TMP/out" "" "a prefix is no LIKE pattern"

expect_completes "sluice dags pause " hello nightly_etl
expect_completes "sluice dags pause h" hello
expect_completes "sluice --json dags pause n" nightly_etl
expect_completes "sluice runs show h" hello
expect_completes "sluice runs show hello " latest first "manual__2026-03-02T10:30:00+00:00"
expect_completes "sluice runs show nightly_etl " latest other
expect_completes "sluice runs show hello f" first
# Readline replaces only what follows the last ':' of the word.
expect_completes "sluice runs show hello manual__2026-03-02T10:" "30:00+00:00"
expect_completes "sluice logs hello first " 
expect_completes "sluice dags show " hello nightly_etl conf.yaml sub
expect_completes "sluice trigger hello " 
expect_completes "sluice runs show hello first " 

# fish, for real: `complete -C` runs the completion of a line.
run fish --no-config -c "source $TMP/sluice.fish; complete -C 'sluice da'"
expect_file "$TMP/out" "dags" "fish: 'sluice da' completes dags"
run fish --no-config -c "source $TMP/sluice.fish; complete -C 'sluice dags pause '"
expect_file "$TMP/out" "hello
nightly_etl" "fish: DAG ids from the database"
run fish --no-config -c "source $TMP/sluice.fish; complete -C 'sluice --color='"
expect_file "$TMP/out" "--color=always
--color=auto
--color=never" "fish: --color= values"

# zsh, with compadd stubbed to print what it is given.
# shellcheck disable=SC2016 # for zsh
ZSH_DRIVER='compdef() { :; }
compadd() { [[ $1 == -- ]] && shift; local w; for w; do [[ $w == "$PREFIX"* ]] && print -r -- "$w"; done; }
compset() { [[ $2 == "*=" ]] && PREFIX=${PREFIX#*=}; }
source "$1"
shift
words=("$@")
CURRENT=$#
PREFIX=${words[CURRENT]}
_sluice'
run zsh -f -c "$ZSH_DRIVER" zsh "$TMP/sluice.zsh" sluice runs show hello ''
expect_file "$TMP/out" "manual__2026-03-02T10:30:00+00:00
first
latest" "zsh: run ids of the DAG on the line"
run zsh -f -c "$ZSH_DRIVER" zsh "$TMP/sluice.zsh" sluice dags ''
expect_file "$TMP/out" "list
show
next
pause
unpause
errors
refresh" "zsh: subcommands"
run zsh -f -c "$ZSH_DRIVER" zsh "$TMP/sluice.zsh" sluice runs show hello f
expect_file "$TMP/out" "first" "zsh: a run id prefix"
run zsh -f -c "$ZSH_DRIVER" zsh "$TMP/sluice.zsh" sluice --color=
expect_file "$TMP/out" "never
auto
always" "zsh: --color= values"

# Ids are typed into the user's shell: one that is not a valid id (possible
# only with the schema's checks dropped) is never offered.
pg_sql "ALTER DOMAIN sl_id DROP CONSTRAINT sl_id_check;
	INSERT INTO dags (dag_id, paused) VALUES ('x\$(touch $TMP/pwned)', false), ('x y', false)"
run "$SLUICE" __complete dags x
expect_file "$TMP/out" "" "__complete prints no id outside the id pattern"
expect_completes "sluice dags pause x" 
[ ! -e "$TMP/pwned" ]
ok $? "and nothing of it ran"

done_testing
