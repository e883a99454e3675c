#!/usr/bin/env bash
# The whole pipeline on this repository's sample data, offline, in a few minutes on 2 CPU cores:
#   vocab from data/ -> pretraining TFRecords -> pretrain a small ALBERT -> fine-tune it on the
#   sample sentence pairs (data/lcqmc_sample) -> predictions for the test pairs.
#
# Usage: make demo                # or: scripts/demo.sh   (PYTHON=python3.11 for the TF 2 leg)
# Environment: DEMO_DIR [demo_output]  PRETRAIN_STEPS [300]  FINETUNE_EPOCHS [20]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV_DIR="$(scripts/setup.sh | tail -n 1)"
PY="$VENV_DIR/bin/python"
DEMO_DIR="${DEMO_DIR:-demo_output}"
PRETRAIN_STEPS="${PRETRAIN_STEPS:-300}"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-20}"
START=$(date +%s)
step() { echo; echo "=== [demo $(( $(date +%s) - START ))s] $*"; }

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

step "1/5 vocabulary from data/sample_zh.txt and data/lcqmc_sample"
"$PY" build_vocab.py --input_file='data/sample_zh.txt,data/lcqmc_sample/*.txt' \
  --output_file="$DEMO_DIR/vocab.txt" --vocab_size=8000
VOCAB_SIZE=$(wc -l < "$DEMO_DIR/vocab.txt" | tr -d ' ')
echo "vocab: $VOCAB_SIZE entries"

# A small brightmart-layout model (the albert_tiny layout) sized for a CPU demo.
cat > "$DEMO_DIR/albert_config_demo.json" <<JSON
{
  "vocab_size": $VOCAB_SIZE, "embedding_size": 64, "hidden_size": 128, "num_hidden_layers": 4,
  "num_attention_heads": 4, "intermediate_size": 512, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
  "max_position_embeddings": 128, "type_vocab_size": 2, "initializer_range": 0.02,
  "ln_type": "postln", "embedding_layout": "brightmart"
}
JSON

step "2/5 pretraining data (whole-word masking with jieba, SOP)"
"$PY" create_pretraining_data.py --input_file=data/sample_zh.txt \
  --output_file="$DEMO_DIR/pretrain.tfrecord" --vocab_file="$DEMO_DIR/vocab.txt" \
  --max_seq_length=64 --max_predictions_per_seq=10 --dupe_factor=5 --random_seed=12345

step "3/5 pretraining ($PRETRAIN_STEPS steps, MLM + SOP)"
"$PY" run_pretraining.py --albert_config_file="$DEMO_DIR/albert_config_demo.json" \
  --input_file="$DEMO_DIR/pretrain.tfrecord" --eval_input_file="$DEMO_DIR/pretrain.tfrecord" \
  --output_dir="$DEMO_DIR/pretrain" --do_train --do_eval \
  --max_seq_length=64 --max_predictions_per_seq=10 --train_batch_size=32 \
  --num_train_steps="$PRETRAIN_STEPS" --num_warmup_steps=30 --learning_rate=2e-3 \
  --optimizer=adamw --save_checkpoints_steps="$PRETRAIN_STEPS" --random_seed=12345
cat "$DEMO_DIR/pretrain/eval_results.txt"

step "4/5 fine-tuning on the sample sentence pairs (LCQMC layout)"
"$PY" run_classifier.py --task_name=lcqmc --data_dir=data/lcqmc_sample \
  --albert_config_file="$DEMO_DIR/albert_config_demo.json" --vocab_file="$DEMO_DIR/vocab.txt" \
  --init_checkpoint="$DEMO_DIR/pretrain" --output_dir="$DEMO_DIR/lcqmc" \
  --do_train --do_eval --do_predict --export_dir="$DEMO_DIR/lcqmc_export" \
  --max_seq_length=64 --train_batch_size=16 --learning_rate=1e-3 \
  --num_train_epochs="$FINETUNE_EPOCHS" --random_seed=12345
cat "$DEMO_DIR/lcqmc/eval_results.txt"

step "5/5 predictions for the test pairs"
if [ -f similarity.py ]; then
  cut -f1,2 data/lcqmc_sample/test.txt > "$DEMO_DIR/pairs.tsv"
  "$PY" similarity.py --model_dir="$DEMO_DIR/lcqmc_export" --input_file="$DEMO_DIR/pairs.tsv"
else
  paste <(cut -f1,2 data/lcqmc_sample/test.txt) "$DEMO_DIR/lcqmc/test_results.tsv"
fi
step "done; everything is in $DEMO_DIR/"
echo "Note: a few hundred pretraining steps on a 23 KB corpus teach the encoder little beyond token"
echo "frequencies, so these similarities are close to constant: the demo shows the pipeline, not a good"
echo "model. PRETRAIN_STEPS=5000 (or a real corpus and albert_tiny's released weights) gives real scores."
