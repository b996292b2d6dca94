#!/usr/bin/env bash
# Runs every benchmark script (scripts/bench-*.sh). Each prints its figures and the ratios
# measured in one run; none of them is a pass/fail test.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for bench in scripts/bench-*.sh; do
  [ -e "$bench" ] || continue
  printf '\n\033[1m### %s\033[0m\n' "$bench"
  bash "$bench" "$@" || { echo "!!! $bench failed" >&2; status=1; }
done
exit $status
