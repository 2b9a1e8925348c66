#!/bin/sh
# Fake evaluation: a deterministic score derived from the model file. It is
# also the branch: `branch=publish` when the score reaches --min-auc, else
# `branch=keep_current`; sluice skips the direct downstream task not named.
set -eu
. "$(dirname "$0")/common.sh"
min_auc=0
while [ $# -gt 0 ]; do
	case $1 in
	--model) model=$2; shift 2 ;;
	--min-auc) min_auc=$2; shift 2 ;;
	*) echo "evaluate: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -r "${model:-}" ] || { echo "evaluate: no model" >&2; exit 1; }
auc="0.$(cksum <"$model" | cut -c1-3)"
echo "auc=$auc"
output auc "$auc"
if awk -v a="$auc" -v m="$min_auc" 'BEGIN { exit !(a >= m) }'; then
	output branch publish
else
	echo "auc $auc is below $min_auc: keeping the current model"
	output branch keep_current
fi
