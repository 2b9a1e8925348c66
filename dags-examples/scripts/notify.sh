#!/bin/sh
# Where a real deployment would page someone or post to chat.
set -eu
echo "NOTIFY: $*" >&2
