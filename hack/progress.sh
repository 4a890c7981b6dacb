#!/usr/bin/env bash
# progress.sh LABEL COMMAND [ARGS...]
# Runs COMMAND and, while it runs, prints every 30 seconds what is being built
# and for how long, so a slow first build does not look like a hang.
set -euo pipefail
label=$1
shift
start=$(date +%s)
(
  while sleep 30; do
    echo "  ... still building ${label}: $(( $(date +%s) - start ))s elapsed"
  done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT
"$@"
echo "built ${label} in $(( $(date +%s) - start ))s"
