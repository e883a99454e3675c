#!/usr/bin/env bash
# Build (or refresh) the project's virtual environment.
#
# Usage: scripts/setup.sh            # Python 3.7 + TensorFlow 1.15.5 -> .venv/
#        PYTHON=python3.11 scripts/setup.sh   # Python 3.11 + TF 2.15.1 -> .venv-py3.11/
#
# PYTHON may be a command name (python3.7), a bare version (3.11) or a path.
# A command that is only a pyenv shim for a version that is not selected is
# looked up under pyenv's versions directory instead. Prints the venv path on
# its last line of stdout. Idempotent: pip runs only when the interpreter or
# the requirements files changed since the last successful install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTED="${PYTHON:-python3.7}"

log() { echo "[setup] $*" >&2; }

works() {
  # True when "$1" runs and is a Python 3.7, 3.9, 3.10 or 3.11.
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3,7),(3,9),(3,10),(3,11)) else 1)' \
    >/dev/null 2>&1
}

find_python() {
  local req="$1" ver="" cand
  if [[ "$req" == */* ]]; then
    works "$req" && { echo "$req"; return 0; }
    return 1
  fi
  if [[ "$req" =~ ^[0-9]+\.[0-9]+$ ]]; then
    ver="$req"; req="python$req"
  elif [[ "$req" =~ ^python([0-9]+\.[0-9]+)$ ]]; then
    ver="${BASH_REMATCH[1]}"
  fi
  if command -v "$req" >/dev/null 2>&1 && works "$req"; then
    command -v "$req"; return 0
  fi
  [[ -n "$ver" ]] || return 1
  local roots=()
  if command -v pyenv >/dev/null 2>&1; then roots+=("$(pyenv root 2>/dev/null || true)"); fi
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv")
  local r
  for r in "${roots[@]}"; do
    [[ -n "$r" && -d "$r/versions" ]] || continue
    # Newest patch release first.
    for cand in $(ls -d "$r/versions/$ver".* 2>/dev/null | sort -t. -k3 -n -r); do
      if [[ -x "$cand/bin/python$ver" ]] && works "$cand/bin/python$ver"; then
        echo "$cand/bin/python$ver"; return 0
      fi
    done
  done
  return 1
}

if ! PY="$(find_python "$REQUESTED")"; then
  cat >&2 <<MSG
[setup] error: no usable Python for PYTHON=$REQUESTED. albert_zh needs Python 3.7 (TensorFlow 1.15.5,
the primary runtime) or Python 3.9-3.11 (TensorFlow 2.15.1, selected with e.g. PYTHON=python3.11). It looked
for '$REQUESTED' on PATH and under pyenv's versions directory. Install one with 'pyenv install 3.7.16'
(or your OS package manager, or conda 'conda create -n py37 python=3.7'), then re-run, or point PYTHON at
the interpreter, e.g. 'make test PYTHON=/opt/python3.7/bin/python3.7'.
MSG
  exit 2
fi

PY="$("$PY" -c 'import sys; print(sys.executable)')"
PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ -n "${VENV:-}" ]]; then
  VENV_DIR="$VENV"
elif [[ "$PYVER" == "3.7" ]]; then
  VENV_DIR="$ROOT/.venv"
else
  VENV_DIR="$ROOT/.venv-py$PYVER"
fi

TFLITE_RUNTIME_PY37="tflite-runtime==2.11.0"
STAMP="$VENV_DIR/.albert_zh_stamp"
WANT="$("$PY" -c 'import sys; print(sys.version.split()[0])') $(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | cksum) $TFLITE_RUNTIME_PY37"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV_DIR/bin/python" ]]; then
  log "environment up to date: $VENV_DIR (Python $PYVER)"
  echo "$VENV_DIR"
  exit 0
fi

log "building $VENV_DIR with $PY (Python $PYVER)"
if [[ ! -x "$VENV_DIR/bin/python" ]]; then
  "$PY" -m venv "$VENV_DIR"
fi
"$VENV_DIR/bin/python" -m pip install --quiet --upgrade "pip<24.1" >&2
"$VENV_DIR/bin/python" -m pip install --quiet -r "$ROOT/requirements-dev.txt" >&2
if [[ "$PYVER" == "3.7" ]]; then
  # The TFLite runtime for Python 3.7 (XNNPACK and thread counts, which TF 1.15's own
  # tf.lite.Interpreter lacks). Its metadata asks for numpy>=1.19.2, which TensorFlow 1.15
  # forbids; it runs on numpy 1.18, so it is installed without its dependencies. Its wheels
  # are for Linux only: elsewhere tf.lite.Interpreter is used.
  if ! "$VENV_DIR/bin/python" -m pip install --quiet --no-deps "$TFLITE_RUNTIME_PY37" >&2; then
    log "no $TFLITE_RUNTIME_PY37 for this platform: TFLite files will run in tf.lite.Interpreter"
  fi
fi
# The import check's output (TensorFlow 2's CUDA "factory" and TensorRT notices on
# machines without a GPU) is shown only if the check fails.
if ! check_log="$(TF_CPP_MIN_LOG_LEVEL=3 "$VENV_DIR/bin/python" -c \
    'import tensorflow, numpy, six, sentencepiece, jieba' 2>&1)"; then
  echo "$check_log" >&2
  log "error: the new environment cannot import its packages (above)"
  exit 1
fi
echo "$WANT" > "$STAMP"
log "ready: $VENV_DIR"
echo "$VENV_DIR"
