# coding=utf-8
"""Pretraining throughput: examples/sec and model-FLOPs utilisation (MFU).

Trains the real pretraining graph of run_pretraining.py (AlbertModel, MLM
head at the masked positions, SOP head, LAMB or AdamW, clipping) on random
in-memory batches and reports, per setting, the median of `--repeats` timed
runs:

* examples/sec;
* MFU = achieved model FLOP/s / peak float32 matmul FLOP/s of this machine,
  where the model FLOPs of a training step are 3x the forward matmul FLOPs
  (dense layers, attention scores and context, MLM output projection at the
  masked positions) and the peak is measured here with a large matmul.

Usage::

    python benchmarks/bench_pretraining.py                    # albert_tiny, seq 128
    python benchmarks/bench_pretraining.py --models=tiny,base --seq_lengths=128,512
    python benchmarks/bench_pretraining.py --json             # one JSON line per row
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tf_compat import tf  # pylint: disable=g-import-not-at-top
import tf_compat  # pylint: disable=g-import-not-at-top

import modeling  # pylint: disable=g-import-not-at-top
import run_pretraining  # pylint: disable=g-import-not-at-top

CONFIGS = {
    "tiny": "albert_config/albert_config_tiny.json",
    "tiny_google": "albert_config/albert_config_tiny_google.json",
    "base": "albert_config/albert_config_base.json",
}


def forward_flops_per_example(config, seq_length, max_predictions):
    """Matmul FLOPs (2 per multiply-add) of one example's forward pass."""
    h, e, i, v = (config.hidden_size, config.embedding_size,
                  config.intermediate_size, config.vocab_size)
    s, p = seq_length, max_predictions
    layers = config.num_hidden_layers * (
        config.inner_group_num
        if config.resolved_embedding_layout == "google" else 1)
    flops = 2 * s * e * h                      # E -> H projection
    per_layer = (2 * s * 4 * h * h             # Q, K, V, output projections
                 + 2 * 2 * s * s * h           # scores and context
                 + 2 * 2 * s * h * i)          # FFN
    flops += layers * per_layer
    flops += 2 * h * h                         # pooler
    if config.resolved_embedding_layout == "brightmart":
        flops += 2 * p * (h * h + h * e)       # transform H->H, back to E
    else:
        flops += 2 * p * h * e                 # transform H->E
    flops += 2 * p * e * v                     # output projection
    return flops


def measure_peak_matmul_flops(size=2048, seconds=3.0):
    """float32 FLOP/s of a large TensorFlow matmul (and numpy's); the max."""
    rates = {}
    with tf.Graph().as_default():
        a = tf.Variable(tf.random.normal([size, size]))
        b = tf.Variable(tf.random.normal([size, size]))
        product = tf.reduce_sum(tf.matmul(a, b))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(product)
            count, start = 0, time.time()
            while time.time() - start < seconds:
                sess.run(product)
                count += 1
            rates["tensorflow"] = 2.0 * size ** 3 * count / (time.time() - start)
    x = np.random.rand(size, size).astype(np.float32)
    np.dot(x, x)
    count, start = 0, time.time()
    while time.time() - start < seconds:
        np.dot(x, x)
        count += 1
    rates["numpy"] = 2.0 * size ** 3 * count / (time.time() - start)
    return max(rates.values()), rates


def random_batch(config, batch_size, seq_length, max_predictions, seed=0):
    """A random pretraining batch (numpy), every position real."""
    rng = np.random.RandomState(seed)
    positions = np.stack([np.sort(rng.choice(np.arange(1, seq_length),
                                             max_predictions, replace=False))
                          for _ in range(batch_size)]).astype(np.int32)
    return {
        "input_ids": rng.randint(5, config.vocab_size,
                                 [batch_size, seq_length]).astype(np.int32),
        "input_mask": np.ones([batch_size, seq_length], np.int32),
        "segment_ids": (np.arange(seq_length)[None, :] >= seq_length // 2
                        ).astype(np.int32).repeat(batch_size, 0),
        "masked_lm_positions": positions,
        "masked_lm_ids": rng.randint(5, config.vocab_size,
                                     [batch_size, max_predictions]
                                     ).astype(np.int32),
        "masked_lm_weights": np.ones([batch_size, max_predictions], np.float32),
        "next_sentence_labels": rng.randint(0, 2, [batch_size, 1]
                                            ).astype(np.int32),
    }


def time_training(config, batch_size, seq_length, max_predictions, optimizer,
                  warmup_steps, timed_steps, use_xla=False, threads=0,
                  use_einsum=True):
    """Seconds per step of the pretraining train op (after warmup)."""
    batch = random_batch(config, batch_size, seq_length, max_predictions)
    with tf.Graph().as_default():
        dataset = tf.data.Dataset.from_tensors(batch).repeat()
        features = tf.data.make_one_shot_iterator(dataset).get_next()
        model_fn = run_pretraining.model_fn_builder(
            config, learning_rate=1e-4, num_train_steps=100000,
            num_warmup_steps=0, optimizer=optimizer, use_einsum=use_einsum)
        spec = model_fn(features, None, tf.estimator.ModeKeys.TRAIN, {})
        session_config = run_pretraining.session_config(
            use_xla=use_xla, intra_op_threads=threads,
            inter_op_threads=threads)
        with tf.Session(config=session_config) as sess:
            sess.run([tf.global_variables_initializer(),
                      tf.local_variables_initializer()])
            for _ in range(warmup_steps):
                sess.run(spec.train_op)
            start = time.time()
            for _ in range(timed_steps):
                sess.run(spec.train_op)
            return (time.time() - start) / timed_steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny",
                        help="comma-separated: %s" % ", ".join(sorted(CONFIGS)))
    parser.add_argument("--seq_lengths", default="128")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_predictions_per_seq", type=int, default=20)
    parser.add_argument("--optimizer", default="lamb", choices=["lamb", "adamw"])
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--use_xla", action="store_true")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra/inter-op threads (0: TensorFlow's choice)")
    parser.add_argument("--peak_gflops", type=float, default=None,
                        help="peak float32 matmul GFLOP/s to compute MFU "
                             "with (default: measured here, which other "
                             "load on the machine lowers)")
    parser.add_argument("--use_einsum", type=int, default=1,
                        help="0 builds the einsum-free attention graph")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per row")
    args = parser.parse_args(argv)
    tf.logging.set_verbosity(tf.logging.ERROR)

    peak, peaks = measure_peak_matmul_flops()
    if args.peak_gflops:
        peaks["given"] = args.peak_gflops * 1e9
        peak = peaks["given"]
    runtime = "python %d.%d, tensorflow %s" % (
        sys.version_info[0], sys.version_info[1],
        ".".join(str(x) for x in tf_compat.TF_VERSION))
    if not args.json:
        print("%s; peak float32 matmul %.1f GFLOP/s (%s)" % (
            runtime, peak / 1e9, ", ".join("%s %.1f" % (k, v / 1e9)
                                           for k, v in sorted(peaks.items()))))
        print("%-12s %5s %5s %5s %-6s %12s %10s %6s" % (
            "model", "seq", "batch", "pred", "opt", "examples/s", "GFLOP/s",
            "MFU"))
    rows = []
    for model in args.models.split(","):
        config = modeling.AlbertConfig.from_json_file(
            os.path.join(ROOT, CONFIGS[model]))
        for seq_length in (int(s) for s in args.seq_lengths.split(",")):
            step_times = [time_training(
                config, args.batch_size, seq_length,
                args.max_predictions_per_seq, args.optimizer,
                args.warmup_steps, args.steps, use_xla=args.use_xla,
                threads=args.threads, use_einsum=bool(args.use_einsum))
                for _ in range(args.repeats)]
            step = float(np.median(step_times))
            rate = args.batch_size / step
            flops = 3 * forward_flops_per_example(
                config, seq_length, args.max_predictions_per_seq) * rate
            row = {"model": model, "seq_length": seq_length,
                   "batch_size": args.batch_size,
                   "max_predictions_per_seq": args.max_predictions_per_seq,
                   "optimizer": args.optimizer, "use_xla": args.use_xla,
                   "use_einsum": bool(args.use_einsum),
                   "examples_per_sec": round(rate, 2),
                   "runs_examples_per_sec": [round(args.batch_size / t, 2)
                                             for t in step_times],
                   "model_gflops_per_sec": round(flops / 1e9, 1),
                   "peak_gflops_per_sec": round(peak / 1e9, 1),
                   "mfu": round(flops / peak, 3), "runtime": runtime}
            rows.append(row)
            if args.json:
                print(json.dumps(row, sort_keys=True))
            else:
                print("%-12s %5d %5d %5d %-6s %12.1f %10.1f %5.1f%%" % (
                    model, seq_length, args.batch_size,
                    args.max_predictions_per_seq, args.optimizer, rate,
                    flops / 1e9, 100.0 * flops / peak))
            sys.stdout.flush()
    return rows


if __name__ == "__main__":
    main()
