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
exec "$VENV_DIR/bin/python" -m pytest "$@"
