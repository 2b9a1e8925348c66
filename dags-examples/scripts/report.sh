#!/bin/sh
# Steps of the regional report: prepare, region NAME, summary, cleanup.
set -eu
. "$(dirname "$0")/common.sh"
step=${1:?step}
shift
case $step in
prepare) mkdir -p "$DEMO_DIR/report-$1"; echo "prepared report for $1" ;;
region) echo "$1 $(printf '%s' "$1" | wc -c)" >"$DEMO_DIR/report-$2/$1"; echo "region $1 done" ;;
summary) cat "$DEMO_DIR/report-$1"/* 2>/dev/null | sort; echo "summary written" ;;
cleanup) rm -rf "$DEMO_DIR/report-$1"; echo "cleaned up" ;;
*) echo "report for $step"; ;;
esac
