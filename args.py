# coding=utf-8
"""Default settings of similarity.py (the sentence-pair similarity service).

Module constants, as in brightmart's args.py, so that code written against
that file keeps working (``import args; args.max_seq_len``). Every setting
similarity.py uses can be overridden by the flag of the same name
(``python similarity.py --model_dir=... --max_seq_len=64``) or by the keyword
argument of the same name of ``similarity.SimilarityPredictor``.

Relative paths below are relative to the repository root (the directory of
this file), not to the current directory, so ``python /path/to/similarity.py``
works from anywhere. Paths given as flags are relative to the current
directory, as usual.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os

_ROOT = os.path.dirname(os.path.abspath(__file__))

# -- the model --

# A fine-tuned model: a run_classifier.py --output_dir (model.ckpt-best is
# used when present, else the latest checkpoint), a checkpoint prefix, or a
# SavedModel directory written by run_classifier.py --export_dir.
# The default is where run_classifier_lcqmc.sh writes its model, so
# `bash run_classifier_lcqmc.sh` then `python similarity.py` works. (brightmart's
# args.py used albert_lcqmc_checkpoints/: pass --model_dir=albert_lcqmc_checkpoints.)
model_dir = os.path.join(_ROOT, "lcqmc_output")

# brightmart's name for the fine-tuning output directory; model_dir is the
# same place. Kept for compatibility (brightmart's similarity.py restored its
# checkpoint from here); similarity.py reads model_dir.
output_dir = model_dir

# A checkpoint prefix inside model_dir. When no such checkpoint exists (the
# "model.ckpt" of brightmart's args.py is never written by run_classifier.py,
# which writes model.ckpt-N and model.ckpt-best) the best or latest one in
# model_dir is used.
ckpt_name = os.path.join(model_dir, "model.ckpt")

# Model config JSON of a checkpoint. Used when model_dir holds no config of
# its own (albert_config*.json, bert_config*.json, config.json); a
# SavedModel carries its own.
config_name = os.path.join(_ROOT, "albert_config", "albert_config_tiny.json")

# WordPiece vocab.txt (or a SentencePiece .model). Used when model_dir holds
# no vocabulary of its own; a SavedModel carries its own.
vocab_file = os.path.join(_ROOT, "albert_config", "vocab.txt")

# Lower-case the input (True for every Chinese model). A SavedModel's
# export_info.json overrides it.
do_lower_case = True

# -- inference --

# Longest input in tokens, including [CLS] and two [SEP]; longer pairs are
# truncated (the longer sentence first). A batch is padded only to its
# longest pair, not to max_seq_len. For a SavedModel, the export's
# max_seq_length is the default instead.
max_seq_len = 128

# Pairs per session run. Pairs are sorted by length before batching so that
# each batch is padded as little as possible; results come back in input
# order.
batch_size = 128

# The label whose probability is "the similarity" (LCQMC: "1" = same
# meaning). Labels of a checkpoint are ["0", "1"]; a SavedModel lists its
# own in assets.extra/export_info.json.
label = "1"

# Share of GPU memory the session may take (ignored on CPU).
gpu_memory_fraction = 0.8

# CPU threads of the session (0: TensorFlow's default, all cores).
num_threads = 0

# Run a frozen copy of the graph (weights folded in as constants): fewer ops
# per query, identical results. Turn off to save memory with very large
# models (the frozen copy briefly holds the weights twice).
freeze_graph = True

# Compute the encoder's matrix products in bfloat16 (checkpoints only; a
# SavedModel's graph is float32). Faster only where the hardware has native
# bfloat16 (CPUs with AMX or AVX512_BF16 on TensorFlow 2, Ampere GPUs); the
# --use_bf16 flag checks that and also takes --use_bf16=force.
use_bf16 = False

# -- the HTTP service (--serve) --

# Port of the JSON service; it listens on 127.0.0.1 only. 0 picks a free
# port (printed at start).
port = 8765

# Largest request body in bytes; bigger requests get HTTP 413.
max_request_bytes = 1 << 20

# Connections the kernel queues while the service is busy accepting (the
# listen backlog; Linux caps it at net.core.somaxconn). Python's default of
# 5 resets clients as soon as a few dozen connect at once.
listen_backlog = 512

# Connections handled at once (one thread each). A connection beyond this
# gets HTTP 503 with Retry-After instead of a thread.
max_connections = 512

# Seconds SIGINT/SIGTERM waits for the predictions in progress to finish
# before the model is closed (requests arriving meanwhile get HTTP 503; a
# second signal stops waiting). Predictions still running then get 503.
shutdown_timeout = 10.0

# Run the pairs of requests that wait while the model is busy together, in
# shared batches of up to batch_size pairs, sorted by length and run in
# groups of similar length (same results; more pairs per session run under
# concurrent load). False: every call runs its own batches.
batch_requests = True

# -- kept from brightmart's args.py for scripts that import them; not used by
# similarity.py --

data_dir = os.path.join(_ROOT, "data")
num_train_epochs = 10
learning_rate = 5e-5
layer_indexes = [-2]
graph_file = os.path.join(model_dir, "graph")
