#!/usr/bin/env bash
# CLUENER2020 (Chinese fine-grained NER, 10 entity types) with albert_tiny:
# fine-tune on train.json, score every saved checkpoint once on dev.json with
# entity-level precision / recall / F1 (best kept as model.ckpt-best), then tag
# test.json with the best checkpoint and write CLUE's submission file
# cluener_predict.json. The dev F1 (micro and per type) is printed at the end.
#
#   bash run_ner_cluener.sh [-- extra run_ner.py flags]
#
# Settings: seq 128, batch 32, lr 1e-4, 5 epochs, warmup 0.1, softmax head
# (add -- --use_crf for a CRF), save and evaluate every 300 steps. CLUE gives
# no albert_tiny settings for CLUENER (its baselines are BERT / RoBERTa: seq
# 128, lr 2e-5 to 3e-5, 4-5 epochs); 1e-4 is brightmart's albert_tiny rate.
#
# Environment (all optional):
#   ALBERT_TINY_DIR  pretrained model dir          default: prev_trained_model/albert_tiny_zh
#   CLUENER_DIR      train.json, dev.json[, test.json]  default: CLUEdataset/cluener
#   OUTPUT_DIR       outputs                       default: cluener_output
#   ALBERT_TINY_URL, ALBERT_TINY_SHA256  model zip to download when missing
#   CLUENER_URL      data zip (cluener_public.zip) to download when missing
#   PYTHON           interpreter (default: .venv/bin/python if present, else python3)
# Without network, unpack the files yourself (see the error message) and run again.

set -euo pipefail

ROOT=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
ALBERT_TINY_DIR=${ALBERT_TINY_DIR:-$ROOT/prev_trained_model/albert_tiny_zh}
CLUENER_DIR=${CLUENER_DIR:-$ROOT/CLUEdataset/cluener}
OUTPUT_DIR=${OUTPUT_DIR:-$ROOT/cluener_output}
ALBERT_TINY_URL=${ALBERT_TINY_URL:-https://storage.googleapis.com/albert_zh/albert_tiny_489k.zip}
ALBERT_TINY_SHA256=${ALBERT_TINY_SHA256:-}
CLUENER_URL=${CLUENER_URL:-https://storage.googleapis.com/cluebenchmark/tasks/cluener_public.zip}

. "$ROOT/scripts/recipe_lib.sh"

EXTRA=()
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || die "usage: bash run_ner_cluener.sh [-- extra run_ner.py flags]"
  shift; EXTRA=("$@")
fi

ensure_model

if [ -s "$CLUENER_DIR/train.json" ] && [ -s "$CLUENER_DIR/dev.json" ]; then
  echo "data: $CLUENER_DIR"
else
  echo "data: downloading $CLUENER_URL"
  mkdir -p "$CLUENER_DIR"
  fetch "$CLUENER_URL" "$CLUENER_DIR/.download.zip" ||
    die "CLUENER2020 data is not in $CLUENER_DIR and could not be downloaded. Offline: unzip" \
        "cluener_public.zip and put train.json and dev.json (test.json for the submission) into" \
        "$CLUENER_DIR, or set CLUENER_DIR"
  if ! unpack "$CLUENER_DIR/.download.zip" "$CLUENER_DIR" "train.json,dev.json,test.json"; then
    rm -f "$CLUENER_DIR/.download.zip"; die "the downloaded $CLUENER_URL is unusable"
  fi
  rm -f "$CLUENER_DIR/.download.zip"
  for split in train dev; do
    [ -s "$CLUENER_DIR/$split.json" ] || die "$CLUENER_URL has no $split.json"
  done
fi

CONFIG=$(ls "$ALBERT_TINY_DIR"/albert_config*.json | head -n 1)
CKPT_INDEX=$(ls "$ALBERT_TINY_DIR"/*.ckpt*.index | head -n 1)
PREDICT=()
if [ -s "$CLUENER_DIR/test.json" ]; then
  PREDICT=(--do_predict --test_file="$CLUENER_DIR/test.json")
else
  echo "no $CLUENER_DIR/test.json: dev only, no submission file"
fi

echo "== CLUENER2020: seq 128, batch 32, lr 1e-4, 5 epochs"
"$PYTHON" "$ROOT/run_ner.py" \
  --data_format=cluener \
  --train_file="$CLUENER_DIR/train.json" --dev_file="$CLUENER_DIR/dev.json" \
  --vocab_file="$ALBERT_TINY_DIR/vocab.txt" --albert_config_file="$CONFIG" \
  --init_checkpoint="${CKPT_INDEX%.index}" \
  --output_dir="$OUTPUT_DIR" --do_train --do_eval \
  --max_seq_length=128 --train_batch_size=32 --learning_rate=1e-4 --num_train_epochs=5 \
  --warmup_proportion=0.1 --save_checkpoints_steps=300 \
  ${PREDICT[@]+"${PREDICT[@]}"} \
  ${EXTRA[@]+"${EXTRA[@]}"}

RESULTS="$OUTPUT_DIR/eval_results.txt"
best() { sed -n "/^\[model.ckpt-best\]/,\$ s/^$1 = //p" "$RESULTS" | head -n 1; }
step=$(sed -n 's/^\[model.ckpt-best\] (best by f1: step \([0-9]*\))$/\1/p' "$RESULTS")
echo "CLUENER2020 albert_tiny: dev F1 $(best f1) (precision $(best precision), recall $(best recall); model.ckpt-best, step ${step:-?})"
sed -n '/^\[model.ckpt-best\]/,$ { /^macro_f1 = /d; s/^\(.*\)_f1 = /  \1 F1 /p; }' "$RESULTS"
echo "results: $RESULTS"
if [ -s "$CLUENER_DIR/test.json" ]; then
  echo "submission: $OUTPUT_DIR/cluener_predict.json"
fi
