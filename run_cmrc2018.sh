#!/usr/bin/env bash
# CMRC2018 (Chinese span extraction) with albert_tiny and the CLUE settings:
# fine-tune on train.json, score every saved checkpoint once on dev.json with
# CMRC2018's EM/F1 (best kept as model.ckpt-best), then write the dev
# predictions (predictions.json, nbest_predictions.json) and, when test.json is
# present, the test predictions as the CLUE submission cmrc2018_predict.json.
#
#   bash run_cmrc2018.sh [-- extra run_squad.py flags]
#
# Settings: seq 512, doc_stride 128, query 64, batch 32, lr 2e-4, 3 epochs,
# warmup 0.1, max answer 50 tokens, save every 500 steps.
#
# Environment (all optional):
#   ALBERT_TINY_DIR  pretrained model dir   default: prev_trained_model/albert_tiny_zh
#   CMRC_DATA_DIR    train/dev[/test].json  default: CLUEdataset/cmrc2018
#   OUTPUT_DIR       outputs                default: cmrc2018_output
#   ALBERT_TINY_URL, ALBERT_TINY_SHA256  model zip to download when missing
#   CMRC_URL         data zip to download when missing
#   PYTHON           interpreter (default: .venv/bin/python if present, else python3)
# Without network, unpack the files yourself (see the error message) and run again.

set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
ALBERT_TINY_DIR=${ALBERT_TINY_DIR:-$ROOT/prev_trained_model/albert_tiny_zh}
CMRC_DATA_DIR=${CMRC_DATA_DIR:-$ROOT/CLUEdataset/cmrc2018}
OUTPUT_DIR=${OUTPUT_DIR:-$ROOT/cmrc2018_output}
ALBERT_TINY_URL=${ALBERT_TINY_URL:-https://storage.googleapis.com/albert_zh/albert_tiny_489k.zip}
ALBERT_TINY_SHA256=${ALBERT_TINY_SHA256:-}
CMRC_URL=${CMRC_URL:-https://storage.googleapis.com/cluebenchmark/tasks/cmrc2018_public.zip}

. "$ROOT/scripts/recipe_lib.sh"

EXTRA=()
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || die "usage: bash run_cmrc2018.sh [-- extra run_squad.py flags]"
  shift; EXTRA=("$@")
fi




ensure_model

if [ -s "$CMRC_DATA_DIR/train.json" ] && [ -s "$CMRC_DATA_DIR/dev.json" ]; then
  echo "data: $CMRC_DATA_DIR"
else
  echo "data: downloading $CMRC_URL"
  mkdir -p "$CMRC_DATA_DIR"
  fetch "$CMRC_URL" "$CMRC_DATA_DIR/.download.zip" ||
    die "CMRC2018 data is not in $CMRC_DATA_DIR and could not be downloaded. Offline: put" \
        "train.json and dev.json (SQuAD format; test.json optional) into $CMRC_DATA_DIR," \
        "or set CMRC_DATA_DIR"
  if ! unpack "$CMRC_DATA_DIR/.download.zip" "$CMRC_DATA_DIR" ".json"; then
    rm -f "$CMRC_DATA_DIR/.download.zip"; die "the downloaded $CMRC_URL is unusable"
  fi
  rm -f "$CMRC_DATA_DIR/.download.zip"
  for split in train dev; do
    [ -s "$CMRC_DATA_DIR/$split.json" ] || die "$CMRC_URL has no $split.json"
  done
fi

CONFIG=$(ls "$ALBERT_TINY_DIR"/albert_config*.json | head -n 1)
CKPT_INDEX=$(ls "$ALBERT_TINY_DIR"/*.ckpt*.index | head -n 1)
COMMON=(--vocab_file="$ALBERT_TINY_DIR/vocab.txt" --albert_config_file="$CONFIG"
        --max_seq_length=512 --doc_stride=128 --max_query_length=64 --max_answer_length=50
        --predict_batch_size=32 --metric=cmrc2018)

echo "== CMRC2018: seq 512, batch 32, lr 2e-4, 3 epochs"
"$PYTHON" "$ROOT/run_squad.py" "${COMMON[@]}" \
  --init_checkpoint="${CKPT_INDEX%.index}" \
  --train_file="$CMRC_DATA_DIR/train.json" --predict_file="$CMRC_DATA_DIR/dev.json" \
  --output_dir="$OUTPUT_DIR" --do_train --do_predict \
  --train_batch_size=32 --learning_rate=2e-4 --num_train_epochs=3 --warmup_proportion=0.1 \
  --save_checkpoints_steps=500 \
  ${EXTRA[@]+"${EXTRA[@]}"}

if [ -s "$CMRC_DATA_DIR/test.json" ]; then
  echo "== CMRC2018 test predictions (model.ckpt-best)"
  mkdir -p "$OUTPUT_DIR/test"
  for f in "$OUTPUT_DIR"/model.ckpt-best.*; do cp "$f" "$OUTPUT_DIR/test/"; done
  "$PYTHON" "$ROOT/run_squad.py" "${COMMON[@]}" \
    --predict_file="$CMRC_DATA_DIR/test.json" --output_dir="$OUTPUT_DIR/test" --do_predict \
    ${EXTRA[@]+"${EXTRA[@]}"}
  cp "$OUTPUT_DIR/test/predictions.json" "$OUTPUT_DIR/cmrc2018_predict.json"
  echo "submission: $OUTPUT_DIR/cmrc2018_predict.json"
fi

echo "CMRC2018 dev (albert_tiny, best checkpoint):"
sed -n '/^\[model.ckpt-best\]/,$ p' "$OUTPUT_DIR/eval_results.txt"
