#!/usr/bin/env bash
# One-command recipe: sample corpus -> vocab.txt -> pretraining TFRecords.
#
#   ./create_pretrain_data.sh
#
# Environment overrides (defaults in brackets):
#   PYTHON [python]            interpreter (e.g. .venv/bin/python)
#   INPUT_FILE [data/sample_zh.txt]   comma-separated globs of corpus files
#   OUTPUT_DIR [pretrain_data]        where vocab.txt and the TFRecords go
#   VOCAB_FILE [$OUTPUT_DIR/vocab.txt, built from the corpus if missing]
#   MAX_SEQ_LENGTH [128]  MAX_PREDICTIONS_PER_SEQ [20]  MASKED_LM_PROB [0.15]
#   DUPE_FACTOR [10]  NUM_WORKERS [0 = all cores]  RANDOM_SEED [12345]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python}"
INPUT_FILE="${INPUT_FILE:-data/sample_zh.txt}"
OUTPUT_DIR="${OUTPUT_DIR:-pretrain_data}"
VOCAB_FILE="${VOCAB_FILE:-$OUTPUT_DIR/vocab.txt}"
MAX_SEQ_LENGTH="${MAX_SEQ_LENGTH:-128}"
MAX_PREDICTIONS_PER_SEQ="${MAX_PREDICTIONS_PER_SEQ:-20}"
MASKED_LM_PROB="${MASKED_LM_PROB:-0.15}"
DUPE_FACTOR="${DUPE_FACTOR:-10}"
NUM_WORKERS="${NUM_WORKERS:-0}"
RANDOM_SEED="${RANDOM_SEED:-12345}"

mkdir -p "$OUTPUT_DIR"
if [ ! -f "$VOCAB_FILE" ]; then
  echo "[create_pretrain_data] building $VOCAB_FILE from $INPUT_FILE"
  "$PYTHON" build_vocab.py \
    --input_file="$INPUT_FILE" \
    --output_file="$VOCAB_FILE" \
    --vocab_type=wordpiece \
    --vocab_size=21128
fi

echo "[create_pretrain_data] writing $OUTPUT_DIR/tf_examples.tfrecord"
"$PYTHON" create_pretraining_data.py \
  --input_file="$INPUT_FILE" \
  --output_file="$OUTPUT_DIR/tf_examples.tfrecord" \
  --vocab_file="$VOCAB_FILE" \
  --do_lower_case=true \
  --do_whole_word_mask=true \
  --max_seq_length="$MAX_SEQ_LENGTH" \
  --max_predictions_per_seq="$MAX_PREDICTIONS_PER_SEQ" \
  --masked_lm_prob="$MASKED_LM_PROB" \
  --dupe_factor="$DUPE_FACTOR" \
  --random_seed="$RANDOM_SEED" \
  --num_workers="$NUM_WORKERS"
echo "[create_pretrain_data] done: $OUTPUT_DIR/tf_examples.tfrecord ($OUTPUT_DIR/tf_examples.tfrecord.json)"
