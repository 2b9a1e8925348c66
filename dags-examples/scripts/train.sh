#!/bin/sh
# Fake training: check the input, "train", write a model file.
set -eu
. "$(dirname "$0")/common.sh"
lr=0.01 epochs=1 input=
while [ $# -gt 0 ]; do
	case $1 in
	--lr) lr=$2; shift 2 ;;
	--epochs) epochs=$2; shift 2 ;;
	--input) input=$2; shift 2 ;;
	*) echo "train: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -r "$input" ] || { echo "train: cannot read $input" >&2; exit 1; }
model="$DEMO_DIR/model-$(date -u +%s).txt"
echo "lr=$lr epochs=$epochs rows=$(wc -l <"$input")" >"$model"
echo "trained $epochs epochs at lr $lr"
output model_path "$model"
