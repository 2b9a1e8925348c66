#!/bin/sh
# Publish the model only when it is good enough.
set -eu
. "$(dirname "$0")/common.sh"
model=$1 auc=$2
ln -sf "$model" "$DEMO_DIR/model-current.txt"
echo "published $model (auc $auc)"
