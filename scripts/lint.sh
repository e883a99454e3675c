#!/usr/bin/env bash
# Formatting (yapf) and lint (flake8) checks with the settings in setup.cfg.
#
# Usage: scripts/lint.sh           # check: prints what differs, exits 1 on any finding
#        scripts/lint.sh --fix     # reformat the files in place with yapf
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="$("$ROOT/scripts/setup.sh" | tail -n 1)"
cd "$ROOT"
PY="$VENV_DIR/bin/python"
FILES=(*.py tests benchmarks scripts)
YAPF=("$PY" -m yapf --recursive --parallel --exclude 'benchmarks/.reference/*')
if [ "${1:-}" = "--fix" ]; then
  exec "${YAPF[@]}" --in-place "${FILES[@]}"
fi
status=0
if ! diff="$("${YAPF[@]}" --diff "${FILES[@]}")"; then
  printf '%s\n' "$diff"
  echo "lint: the files above are not formatted as setup.cfg says; 'make format' fixes them" >&2
  status=1
fi
"$PY" -m flake8 . || status=1
if [ "$status" -eq 0 ]; then echo "lint: yapf and flake8 clean"; fi
exit "$status"
