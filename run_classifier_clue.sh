#!/usr/bin/env bash
# CLUE classification tasks with albert_tiny and per-task settings: for each
# task, fine-tune, evaluate every saved checkpoint on dev once (best kept as
# model.ckpt-best), predict the test set and write the CLUE submission file
# <task>_predict.json. A summary table is printed at the end.
#
#   bash run_classifier_clue.sh [task ...] [-- extra run_classifier.py flags]
#
# Tasks (default: afqmc cmnli csl iflytek tnews wsc):
#   task     seq  batch  lr    epochs  save_steps
#   afqmc    128  16     2e-5  3       300
#   cmnli    128  64     3e-5  2       300
#   ocnli    128  32     2e-5  3       300
#   csl      128  16     1e-5  5       100
#   iflytek  128  32     2e-5  3       300
#   tnews    128  16     2e-5  3       300
#   wsc      128  16     1e-5  10      10     (cluewsc2020)
#
# Environment (all optional):
#   ALBERT_TINY_DIR  pretrained model dir      default: prev_trained_model/albert_tiny_zh
#   CLUE_DATA_DIR    CLUE data, one dir a task default: CLUEdataset
#   OUTPUT_ROOT      outputs (<task>_output)   default: clue_output
#   ALBERT_TINY_URL, ALBERT_TINY_SHA256  model zip to download when missing
#   CLUE_URL         base URL of <task>_public.zip files
#   PYTHON           interpreter (default: .venv/bin/python if present, else python3)
# Without network, unpack the files yourself (see the error message) and run again.

set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
ALBERT_TINY_DIR=${ALBERT_TINY_DIR:-$ROOT/prev_trained_model/albert_tiny_zh}
CLUE_DATA_DIR=${CLUE_DATA_DIR:-$ROOT/CLUEdataset}
OUTPUT_ROOT=${OUTPUT_ROOT:-$ROOT/clue_output}
ALBERT_TINY_URL=${ALBERT_TINY_URL:-https://storage.googleapis.com/albert_zh/albert_tiny_489k.zip}
ALBERT_TINY_SHA256=${ALBERT_TINY_SHA256:-}
CLUE_URL=${CLUE_URL:-https://storage.googleapis.com/cluebenchmark/tasks}

. "$ROOT/scripts/recipe_lib.sh"

# task -> "seq batch lr epochs save_steps"
settings() {
  case "$1" in
    afqmc) echo "128 16 2e-5 3 300" ;;
    cmnli) echo "128 64 3e-5 2 300" ;;
    ocnli) echo "128 32 2e-5 3 300" ;;
    csl) echo "128 16 1e-5 5 100" ;;
    iflytek) echo "128 32 2e-5 3 300" ;;
    tnews) echo "128 16 2e-5 3 300" ;;
    wsc|cluewsc2020) echo "128 16 1e-5 10 10" ;;
    *) return 1 ;;
  esac
}

# The CLUE download name of a task.
archive_name() {
  case "$1" in
    wsc|cluewsc2020) echo "cluewsc2020_public.zip" ;;
    *) echo "$1_public.zip" ;;
  esac
}





ensure_task_data() {
  local task=$1 dir="$CLUE_DATA_DIR/$1" name
  name=$(archive_name "$task")
  if [ -s "$dir/train.json" ] && [ -s "$dir/dev.json" ] && [ -s "$dir/test.json" ]; then
    echo "data: $dir"; return
  fi
  echo "data: downloading $CLUE_URL/$name"
  mkdir -p "$dir"
  fetch "$CLUE_URL/$name" "$dir/.download.zip" ||
    die "CLUE $task data is not in $dir and could not be downloaded. Offline: unpack $name" \
        "(train.json, dev.json, test.json) into $dir, or set CLUE_DATA_DIR"
  if ! unpack "$dir/.download.zip" "$dir" ".json"; then
    rm -f "$dir/.download.zip"; die "the downloaded $name is unusable"
  fi
  rm -f "$dir/.download.zip"
  for split in train dev test; do
    [ -s "$dir/$split.json" ] || die "$name has no $split.json"
  done
}

TASKS=()
EXTRA=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; EXTRA=("$@"); break; fi
  settings "$1" >/dev/null || die "unknown CLUE task '$1'; known: afqmc cmnli ocnli csl iflytek tnews wsc"
  TASKS+=("$1"); shift
done
[ ${#TASKS[@]} -gt 0 ] || TASKS=(afqmc cmnli csl iflytek tnews wsc)

ensure_model
CONFIG=$(ls "$ALBERT_TINY_DIR"/albert_config*.json | head -n 1)
CKPT_INDEX=$(ls "$ALBERT_TINY_DIR"/*.ckpt*.index | head -n 1)
INIT_CHECKPOINT=${CKPT_INDEX%.index}

SUMMARY=()
for task in "${TASKS[@]}"; do
  ensure_task_data "$task"
  read -r seq batch lr epochs save_steps <<<"$(settings "$task")"
  out="$OUTPUT_ROOT/${task}_output"
  echo "== $task: seq $seq, batch $batch, lr $lr, epochs $epochs, save every $save_steps steps"
  "$PYTHON" "$ROOT/run_classifier.py" \
    --task_name="$task" \
    --data_dir="$CLUE_DATA_DIR/$task" \
    --vocab_file="$ALBERT_TINY_DIR/vocab.txt" \
    --albert_config_file="$CONFIG" \
    --init_checkpoint="$INIT_CHECKPOINT" \
    --output_dir="$out" \
    --do_train --do_eval --do_predict \
    --max_seq_length="$seq" \
    --train_batch_size="$batch" \
    --learning_rate="$lr" \
    --num_train_epochs="$epochs" \
    --save_checkpoints_steps="$save_steps" \
    ${EXTRA[@]+"${EXTRA[@]}"}
  acc=$(sed -n '/^\[model.ckpt-best\]/,$ s/^eval_accuracy = //p' "$out/eval_results.txt" | head -n 1)
  submission=$(ls "$out"/*_predict.json | head -n 1)
  SUMMARY+=("$(printf '%-12s dev accuracy %-10s %s' "$task" "${acc:-n/a}" "$submission")")
done

echo "CLUE results (albert_tiny, best checkpoint on dev):"
printf '  %s\n' "${SUMMARY[@]}"
