#!/bin/sh
# bench/fuzz-proto.sh [BUILD_DIR] [RUNS]: run the fuzz_proto target (the
# job protocol decoder, and frames cut across TLS records) for RUNS
# executions, 10,000,000 by default, over a copy of its seed corpus, and
# print execs, seconds, execs/s, peak RSS and new crashes. BUILD_DIR
# (default build-fuzz) is a libFuzzer build (docs/fuzzing.md); with
# -Db_sanitize=address,undefined it measures what CI runs, without it the
# code alone. A crash is copied to the current directory and fails the script.
set -eu
build=${1:-build-fuzz}
runs=${2:-10000000}
bin="$build/tests/fuzz/fuzz_proto"
if [ ! -x "$bin" ]; then
	echo "build first: CC=clang meson setup $build -Dfuzzing=true -Db_lundef=false" \
		"-Dc_args=-fsanitize=fuzzer-no-link [-Db_sanitize=address,undefined]" \
		"&& ninja -C $build tests/fuzz/fuzz_proto" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus" "$dir/crashes"
cp "$src"/tests/fuzz/corpus/proto/* "$dir/corpus/"
sanitized=$(grep -q -e '-fsanitize=address' "$build/build.ninja" && echo "ASan+UBSan" || echo "none")

t0=$(date +%s.%N)
status=0
"$bin" -runs="$runs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$dir/crashes/" "$dir/corpus" >"$dir/log" 2>&1 || status=$?
t1=$(date +%s.%N)

stat() { sed -n "s/^stat::$1: *//p" "$dir/log"; }
execs=$(stat number_of_executed_units)
rss=$(stat peak_rss_mb)
crashes=$(find "$dir/crashes" -type f | wc -l)
secs=$(echo "$t0 $t1" | awk '{printf "%.0f", $2 - $1}')
rate=$(echo "${execs:-0} $secs" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }')

printf 'fuzz_proto, %s, sanitizers: %s, corpus: %s seeds\n\n' "$build" "$sanitized" \
	"$(ls "$src"/tests/fuzz/corpus/proto | wc -l)"
printf '%12s %9s %9s %14s %12s\n' "execs" "seconds" "execs/s" "peak RSS MB" "new crashes"
printf '%12s %9s %9s %14s %12s\n' "${execs:-?}" "$secs" "$rate" "${rss:-?}" "$crashes"
if [ "$crashes" -gt 0 ] || [ "$status" -ne 0 ]; then
	cp "$dir"/crashes/* . 2>/dev/null || true
	tail -n 30 "$dir/log" >&2
	exit 1
fi
