#!/bin/sh
# Append the day's row count to a local "warehouse" file.
set -eu
. "$(dirname "$0")/common.sh"
rows=0
[ "${1:-}" = --rows ] && rows=$2
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) rows=$rows" >>"$DEMO_DIR/warehouse.log"
echo "loaded $rows rows"
