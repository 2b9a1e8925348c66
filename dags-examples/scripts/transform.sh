#!/bin/sh
# Drop the header and small orders; report how many rows remain.
set -eu
. "$(dirname "$0")/common.sh"
batch=500
[ "${1:-}" = --batch-size ] && batch=$2
rows=0
for f in "$DEMO_DIR"/orders-*.csv; do
	[ -e "$f" ] || continue
	n=$(tail -n +2 "$f" | awk -F, '$2 >= 5' | wc -l)
	rows=$((rows + n))
done
echo "transformed $rows rows (batch size $batch)"
output rows "$rows"
