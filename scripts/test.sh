#!/usr/bin/env bash
# Set up the environment (scripts/setup.sh) and run the test suite in it.
#
# Usage: scripts/test.sh [pytest args...]
#        PYTHON=python3.11 scripts/test.sh      # the TensorFlow 2.15 leg
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="$("$ROOT/scripts/setup.sh" | tail -n 1)"
cd "$ROOT"
"$VENV_DIR/bin/python" -c 'import sys, tensorflow as tf; print("[test] Python %s, TensorFlow %s" % (sys.version.split()[0], tf.__version__))' 2>/dev/null
# Test files run in parallel (pytest-xdist, one file per worker at a time so a
# file's shared fixtures are built once): one worker per core, at most 4
# (TEST_WORKERS=N to choose, TEST_WORKERS=0 for a single process). Given -n or
# -p no:xdist, pytest's own arguments decide.
workers="${TEST_WORKERS:-}"
if [ -z "$workers" ]; then
  cores="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
  workers=$(( cores < 4 ? cores : 4 ))
fi
parallel=()
case " $* " in
  *" -n "*|*" -n="*|*" --numprocesses"*|*"no:xdist"*) ;;
  *) if [ "$workers" -gt 1 ]; then parallel=(-n "$workers" --dist loadfile); fi ;;
esac
exec "$VENV_DIR/bin/python" -m pytest ${parallel[@]+"${parallel[@]}"} "$@"
