#!/bin/sh
# Pretend to pull one day of orders for a region from an upstream API.
set -eu
. "$(dirname "$0")/common.sh"
day= region=eu
while [ $# -gt 0 ]; do
	case $1 in
	--day) day=$2; shift 2 ;;
	--region) region=$2; shift 2 ;;
	*) echo "extract: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$day" ] || { echo "extract: --day is required" >&2; exit 2; }
out="$DEMO_DIR/orders-$region-$day.csv"
echo "order_id,amount" >"$out"
i=1
while [ $i -le 20 ]; do
	echo "$i,$((i * 7 % 50 + 1))" >>"$out"
	i=$((i + 1))
done
echo "extracted 20 orders for $region on $day into $out"
output file "$out"
