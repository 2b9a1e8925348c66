#!/bin/sh
# The layers of libsluice (docs/architecture.md) are held by the build, not
# by convention: the worker has no libpq in its address space, a header of a
# layer a target does not link refuses to compile, core includes no
# system library of another layer, and no source file grows past 900 lines.
. "$(dirname "$0")/lib.sh"

: "${SLUICE_WORKER:?}" "${SLUICE_SCHEDULER:?}" "${SLUICE_CC:?}"

needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

needed "$SLUICE_WORKER" >"$TMP/worker.needed"
needed "$SLUICE_SCHEDULER" >"$TMP/scheduler.needed"
expect_grep "$TMP/scheduler.needed" '^libpq' "the scheduler links libpq (so the next check can fail)"
# sluice-web links core, exec and db: libpq, never libgit2 (the git layer).
needed "${SLUICE_WEB:?}" >"$TMP/web.needed"
expect_grep "$TMP/web.needed" '^libpq' "sluice-web links libpq"
expect_grep "$TMP/scheduler.needed" '^libgit2' "the scheduler links libgit2 (so the next check can fail)"
! grep -q '^libgit2' "$TMP/web.needed"
ok $? "sluice-web does not link libgit2"
if grep -q '^libpq' "$TMP/worker.needed"; then
	ok 1 "sluice-worker does not link libpq"
	sed 's/^/#   /' "$TMP/worker.needed"
else
	ok 0 "sluice-worker does not link libpq"
fi

# syntax LAYERS HEADER: compile a file that includes sluice/HEADER with the
# layer macros a target linking LAYERS gets.
syntax() {
	layers=$1
	header=$2
	defs=
	for l in $layers; do
		defs="$defs -DSLUICE_LAYER_$l"
	done
	printf '#include "sluice/%s"\nint sl_probe(void);\nint sl_probe(void) { return 0; }\n' \
		"$header" >"$TMP/probe.c"
	# shellcheck disable=SC2086
	run $SLUICE_CC $defs -I"$SRC_DIR/include" -fsyntax-only "$TMP/probe.c"
}

syntax "CORE EXEC GIT" taskexec.h
expect_status 0 "a worker file may include the exec layer"
syntax "CORE EXEC GIT" db.h
expect_status 1 "a worker file that includes sluice/db.h does not build"
expect_grep "$TMP/err" "sluice/db.h: this target does not link the database layer" "and the error says why"
syntax "CORE EXEC GIT" runstore.h
expect_status 1 "nor one that includes sluice/runstore.h"
syntax "CORE EXEC GIT" engine.h
expect_status 1 "nor one that includes sluice/engine.h"
syntax "CORE EXEC DB" httpd.h
expect_status 1 "a file of a target without the http layer cannot include sluice/httpd.h"
expect_grep "$TMP/err" "sluice/httpd.h: this target does not link the http layer" "and the error says why"
syntax "CORE EXEC DB HTTP" httpd.h
expect_status 0 "sluice-web's files may"
syntax "CORE EXEC GIT HTTP" metricsd.h
expect_status 0 "a worker file may include sluice/metricsd.h (the http layer has no libpq)"
syntax "CORE EXEC GIT" metricsd.h
expect_status 1 "a target without the http layer cannot"
syntax "CORE" dag.h
expect_status 0 "a core file may include the DAG model"
syntax "CORE" taskexec.h
expect_status 1 "a core file that includes the process runner does not build"
syntax "CORE" gitsrc.h
expect_status 1 "nor one that includes the git layer"

grep -ln '#include <\(uv\|git2\|libpq-fe\|openssl/[a-z0-9_]*\)\.h>' "$SRC_DIR"/lib/core/*.c \
	"$SRC_DIR"/include/sluice/*.h >"$TMP/sys" 2>/dev/null
for f in $(cat "$TMP/sys"); do
	h=$(basename "$f")
	case $h in
	taskexec.h | frameconn.h | sdnotify.h | gitsrc.h | checkout.h | db.h | httpd.h | metricsd.h) ;;
	*) echo "# $f includes a system library of another layer" ;;
	esac
done >"$TMP/bad"
expect_file "$TMP/bad" "" "core includes neither libuv, libgit2, libpq nor OpenSSL"

# One file, one concern: a file past 900 lines is doing several jobs.
for f in "$SRC_DIR"/lib/*/*.c "$SRC_DIR"/cli/*.c "$SRC_DIR"/scheduler/*.c "$SRC_DIR"/worker/*.c \
	"$SRC_DIR"/web/*.c; do
	n=$(wc -l <"$f")
	[ "$n" -gt 900 ] && echo "# ${f#"$SRC_DIR"/}: $n lines"
done >"$TMP/big"
expect_file "$TMP/big" "" "no source file is over 900 lines"

done_testing
