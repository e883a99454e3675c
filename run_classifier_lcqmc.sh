#!/usr/bin/env bash
# LCQMC sentence-pair similarity with albert_tiny, brightmart's settings:
# max_seq_length 128, batch 64, learning rate 1e-4, 5 epochs; every saved
# checkpoint is evaluated on dev once, the best is kept (model.ckpt-best) and
# used for the test set. Dev and test accuracy are printed at the end.
#
#   bash run_classifier_lcqmc.sh [extra run_classifier.py flags]
#
# Environment (all optional):
#   ALBERT_TINY_DIR   pretrained model dir (albert_model.ckpt.*, albert_config*.json, vocab.txt)
#                     default: prev_trained_model/albert_tiny_zh
#   LCQMC_DIR         LCQMC data dir (train.txt, dev.txt, test.txt)   default: datasets/lcqmc
#   OUTPUT_DIR        fine-tuning output                               default: lcqmc_output
#   ALBERT_TINY_URL   where to download the model zip when it is missing
#   ALBERT_TINY_SHA256  optional checksum of that zip
#   LCQMC_URL         base URL of train.txt/dev.txt/test.txt when they are missing
#   MAX_SEQ_LENGTH TRAIN_BATCH_SIZE LEARNING_RATE NUM_TRAIN_EPOCHS SAVE_CHECKPOINTS_STEPS
#   PYTHON            interpreter (default: .venv/bin/python if present, else python3)
# Without network, put the files in the directories above (or point the
# variables at them) and run again: nothing is downloaded when they exist.

set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
ALBERT_TINY_DIR=${ALBERT_TINY_DIR:-$ROOT/prev_trained_model/albert_tiny_zh}
LCQMC_DIR=${LCQMC_DIR:-$ROOT/datasets/lcqmc}
OUTPUT_DIR=${OUTPUT_DIR:-$ROOT/lcqmc_output}
ALBERT_TINY_URL=${ALBERT_TINY_URL:-https://storage.googleapis.com/albert_zh/albert_tiny_489k.zip}
ALBERT_TINY_SHA256=${ALBERT_TINY_SHA256:-}
LCQMC_URL=${LCQMC_URL:-https://raw.githubusercontent.com/pengming617/text_matching/master/data}
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-128}
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-64}
LEARNING_RATE=${LEARNING_RATE:-1e-4}
NUM_TRAIN_EPOCHS=${NUM_TRAIN_EPOCHS:-5}
SAVE_CHECKPOINTS_STEPS=${SAVE_CHECKPOINTS_STEPS:-1000}

. "$ROOT/scripts/recipe_lib.sh"





check_lcqmc_file() {
  "$PYTHON" - "$1" <<'PY'
import io, sys
path = sys.argv[1]
with io.open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
        if line.strip():
            if len(line.rstrip("\r\n").split("\t")) < 2:
                sys.exit("%s:%d: not an LCQMC file (expected text_a<TAB>text_b<TAB>label)" % (path, number))
            break
    else:
        sys.exit("%s: empty" % path)
PY
}

ensure_data() {
  mkdir -p "$LCQMC_DIR"
  local split
  for split in train dev test; do
    if [ ! -s "$LCQMC_DIR/$split.txt" ]; then
      echo "data: downloading $LCQMC_URL/$split.txt"
      fetch "$LCQMC_URL/$split.txt" "$LCQMC_DIR/$split.txt" ||
        die "LCQMC $split.txt is not in $LCQMC_DIR and could not be downloaded. Offline: put" \
            "train.txt, dev.txt, test.txt (text_a<TAB>text_b<TAB>label) in $LCQMC_DIR, or set LCQMC_DIR"
    fi
    check_lcqmc_file "$LCQMC_DIR/$split.txt" || die "bad LCQMC file in $LCQMC_DIR"
  done
  echo "data: $LCQMC_DIR"
}

ensure_model
ensure_data

CONFIG=$(ls "$ALBERT_TINY_DIR"/albert_config*.json | head -n 1)
CKPT_INDEX=$(ls "$ALBERT_TINY_DIR"/*.ckpt*.index | head -n 1)
INIT_CHECKPOINT=${CKPT_INDEX%.index}

"$PYTHON" "$ROOT/run_classifier.py" \
  --task_name=lcqmc \
  --data_dir="$LCQMC_DIR" \
  --vocab_file="$ALBERT_TINY_DIR/vocab.txt" \
  --albert_config_file="$CONFIG" \
  --init_checkpoint="$INIT_CHECKPOINT" \
  --output_dir="$OUTPUT_DIR" \
  --do_train --do_eval --do_predict \
  --max_seq_length="$MAX_SEQ_LENGTH" \
  --train_batch_size="$TRAIN_BATCH_SIZE" \
  --learning_rate="$LEARNING_RATE" \
  --num_train_epochs="$NUM_TRAIN_EPOCHS" \
  --save_checkpoints_steps="$SAVE_CHECKPOINTS_STEPS" \
  "$@"

dev_acc=$(sed -n '/^\[model.ckpt-best\]/,$ s/^eval_accuracy = //p' "$OUTPUT_DIR/eval_results.txt" | head -n 1)
test_acc=$(sed -n 's/^test_accuracy = //p' "$OUTPUT_DIR/test_eval_results.txt" 2>/dev/null | head -n 1)
echo "LCQMC albert_tiny: dev accuracy ${dev_acc:-n/a} (model.ckpt-best), test accuracy ${test_acc:-n/a}"
echo "results: $OUTPUT_DIR/eval_results.txt, $OUTPUT_DIR/test_results.tsv"
