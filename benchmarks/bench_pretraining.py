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

With ``--bf16`` the same graph with bfloat16 matrix products (run_pretraining
``--use_bf16``) is timed too, interleaved, as implementation
``albert_zh_bf16``; its MFU is against the peak bfloat16 matmul FLOP/s,
measured the same way. On CPUs without AMX / AVX512_BF16 TensorFlow emulates
bfloat16 and these rows show how much slower that is.

Usage::

    python benchmarks/bench_pretraining.py                    # albert_tiny, seq 128
    python benchmarks/bench_pretraining.py --models=tiny,base --seq_lengths=128,512
    python benchmarks/bench_pretraining.py --json             # one JSON line per row
    python benchmarks/bench_pretraining.py --models=tiny,base --bf16 --reference
        # float32, bfloat16 and google-research/albert's float32, interleaved
    python benchmarks/bench_pretraining.py --reference --fetch_reference
        # also google-research/albert (TF 1.15; the albert-tensorflow
        # wheel from PyPI, kept in benchmarks/.reference/), interleaved with
        # ours in one run, and the speed ratio. Each implementation runs in
        # its own process with the host allocator its script gets (ours:
        # TensorFlow's BFC allocator, set by tf_compat; the reference:
        # TensorFlow's default, malloc); --same_allocator gives the reference
        # ours too, which compares the graphs alone.
    .venv-py3.11/bin/python benchmarks/bench_pretraining.py --reference \
        --reference_python=.venv/bin/python
        # albert_zh on TF 2 against the reference on TF 1.15, in one run.

The MFU of albert_zh counts the FLOPs its graph computes: the last block
only at [CLS] and the masked positions (the values the heads read are the
same as with the full last layer).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tf_compat import tf  # pylint: disable=g-import-not-at-top
import tf_compat  # pylint: disable=g-import-not-at-top

import modeling  # pylint: disable=g-import-not-at-top
import run_pretraining  # pylint: disable=g-import-not-at-top

REFERENCE_VERSION = "1.1"
DEFAULT_REFERENCE_DIR = os.path.join(ROOT, "benchmarks", ".reference")

CONFIGS = {
    "tiny": "albert_config/albert_config_tiny.json",
    "tiny_google": "albert_config/albert_config_tiny_google.json",
    "base": "albert_config/albert_config_base.json",
}


def forward_flops_per_example(config, seq_length, max_predictions, last_layer_at_positions=True):
    """Matmul FLOPs (2 per multiply-add) of one example's forward pass.

    With ``last_layer_at_positions`` (what run_pretraining.py builds), the
    last block runs its queries, output projection and FFN only at [CLS] and
    the masked positions (keys and values still at every position); without
    it, at every position (what the reference implementations compute).
    """
    h, e, i, v = (config.hidden_size, config.embedding_size, config.intermediate_size,
                  config.vocab_size)
    s, p = seq_length, max_predictions
    layers = config.num_hidden_layers * (config.inner_group_num
                                         if config.resolved_embedding_layout == "google" else 1)

    def block(rows):
        # K, V at every position; Q, output, scores, context and FFN at `rows`.
        return (2 * s * 2 * h * h + 2 * rows * 2 * h * h + 2 * 2 * rows * s * h +
                2 * 2 * rows * h * i)

    flops = 2 * s * e * h  # E -> H projection
    if last_layer_at_positions:
        flops += (layers - 1) * block(s) + block(1 + p)
    else:
        flops += layers * block(s)
    flops += 2 * h * h  # pooler
    if config.resolved_embedding_layout == "brightmart":
        flops += 2 * p * (h * h + h * e)  # transform H->H, back to E
    else:
        flops += 2 * p * h * e  # transform H->E
    flops += 2 * p * e * v  # output projection
    return flops


def measure_peak_matmul_flops(size=2048, seconds=3.0, dtype=tf.float32):
    """FLOP/s of a large TensorFlow matmul in ``dtype`` (and, for float32,
    numpy's); the max."""
    rates = {}
    with tf.Graph().as_default():
        a = tf.Variable(tf.cast(tf.random.normal([size, size]), dtype))
        b = tf.Variable(tf.cast(tf.random.normal([size, size]), dtype))
        product = tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(product)
            count, start = 0, time.time()
            while time.time() - start < seconds:
                sess.run(product)
                count += 1
            rates["tensorflow"] = 2.0 * size**3 * count / (time.time() - start)
    if dtype != tf.float32:
        return rates["tensorflow"], rates
    x = np.random.rand(size, size).astype(np.float32)
    np.dot(x, x)
    count, start = 0, time.time()
    while time.time() - start < seconds:
        np.dot(x, x)
        count += 1
    rates["numpy"] = 2.0 * size**3 * count / (time.time() - start)
    return max(rates.values()), rates


def random_batch(config, batch_size, seq_length, max_predictions, seed=0):
    """A random pretraining batch (numpy), every position real."""
    rng = np.random.RandomState(seed)
    positions = np.stack([
        np.sort(rng.choice(np.arange(1, seq_length), max_predictions, replace=False))
        for _ in range(batch_size)
    ]).astype(np.int32)
    return {
        "input_ids":
            rng.randint(5, config.vocab_size, [batch_size, seq_length]).astype(np.int32),
        "input_mask":
            np.ones([batch_size, seq_length], np.int32),
        "segment_ids": (np.arange(seq_length)[None, :]
                        >= seq_length // 2).astype(np.int32).repeat(batch_size, 0),
        "masked_lm_positions":
            positions,
        "masked_lm_ids":
            rng.randint(5, config.vocab_size, [batch_size, max_predictions]).astype(np.int32),
        "masked_lm_weights":
            np.ones([batch_size, max_predictions], np.float32),
        "next_sentence_labels":
            rng.randint(0, 2, [batch_size, 1]).astype(np.int32),
    }


def build_trainer(config, batch, optimizer, use_xla=False, threads=0, use_einsum=True,
                  reference=None, compute_dtype=tf.float32):
    """A callable running n training steps of the pretraining graph; with
    ``reference`` (the imported ``albert.run_pretraining`` module of
    google-research/albert), that implementation's graph instead."""
    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.Dataset.from_tensors(batch).repeat()
        features = tf.data.make_one_shot_iterator(dataset).get_next()
        if reference is None:
            model_fn = run_pretraining.model_fn_builder(config, learning_rate=1e-4,
                                                        num_train_steps=100000, num_warmup_steps=0,
                                                        optimizer=optimizer, use_einsum=use_einsum,
                                                        compute_dtype=compute_dtype)
        else:
            ref_config = reference.modeling.AlbertConfig.from_dict(config.to_dict())
            model_fn = reference.model_fn_builder(ref_config, None, 1e-4, 100000, 0, False, False,
                                                  optimizer, 1.0, 0)
        spec = model_fn(features, None, tf.estimator.ModeKeys.TRAIN, {})
        session_config = run_pretraining.session_config(use_xla=use_xla, intra_op_threads=threads,
                                                        inter_op_threads=threads)
        sess = tf.Session(graph=graph, config=session_config)
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])

    def run(steps):
        start = time.time()
        for _ in range(steps):
            sess.run(spec.train_op)
        return (time.time() - start) / max(steps, 1)

    return run


def locate_reference(path, fetch):
    """Where google-research/albert's code is: ``path`` (a directory holding
    the ``albert`` package, or the albert-tensorflow wheel itself) or the
    newest albert_tensorflow wheel in the directory ``path``. With ``fetch``,
    a missing wheel is first downloaded from the package registry into
    ``path``. Exits with a one-line message when there is none."""

    def find_entry():
        if not os.path.isdir(path) or os.path.isdir(os.path.join(path, "albert")):
            return path if os.path.exists(path) else None
        wheels = sorted(
            f for f in os.listdir(path) if f.startswith("albert_tensorflow") and f.endswith(".whl"))
        return os.path.join(path, wheels[-1]) if wheels else None

    entry = find_entry()
    if entry is None and fetch:
        if not os.path.isdir(path):
            os.makedirs(path)
        if subprocess.call([
                sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", path,
                "albert-tensorflow==%s" % REFERENCE_VERSION
        ]) != 0:
            raise SystemExit("bench_pretraining.py: pip could not download "
                             "albert-tensorflow==%s into %s" % (REFERENCE_VERSION, path))
        entry = find_entry()
    if entry is None:
        raise SystemExit("bench_pretraining.py: %s holds neither the albert package "
                         "nor an albert_tensorflow wheel (use --fetch_reference)" % path)
    return entry


def import_reference(entry):
    """Imports the reference's run_pretraining module from ``entry``."""
    sys.path.insert(0, entry)  # a pure-Python wheel imports from the zip
    from albert import run_pretraining as ref_run_pretraining  # pylint: disable=g-import-not-at-top
    return ref_run_pretraining


WORKER_PREFIX = "BENCH "
BF16 = "albert_zh_bf16"
IMPLEMENTATIONS = ("albert_zh", BF16, "google")
REFERENCE_NEEDS_TF1 = ("bench_pretraining.py: google-research/albert needs "
                       "TensorFlow 1.x (it imports tf.contrib)")


def runtime_name():
    """Returns e.g. "python 3.7, tensorflow 1.15"."""
    return "python %d.%d, tensorflow %s" % (sys.version_info[0], sys.version_info[1], ".".join(
        str(x) for x in tf_compat.TF_VERSION))


def worker_main(args):
    """``--worker``: builds one trainer, then answers "run N" lines on stdin
    with the seconds per step, until stdin closes."""
    reference = None
    if args.worker == "google":
        if tf_compat.IS_TF2:
            raise SystemExit("%s; %s runs %s" %
                             (REFERENCE_NEEDS_TF1, sys.executable, runtime_name()))
        reference = import_reference(locate_reference(args.reference, False))
    model, seq_length = args.worker_setting.split(",")
    config = modeling.AlbertConfig.from_json_file(os.path.join(ROOT, CONFIGS[model]))
    batch = random_batch(config, args.batch_size, int(seq_length), args.max_predictions_per_seq)
    run = build_trainer(config, batch, args.optimizer, use_xla=args.use_xla, threads=args.threads,
                        use_einsum=bool(args.use_einsum), reference=reference,
                        compute_dtype=tf.bfloat16 if args.worker_bf16 else tf.float32)
    run(args.warmup_steps)
    print(WORKER_PREFIX + runtime_name())
    sys.stdout.flush()
    for line in sys.stdin:
        print(WORKER_PREFIX + repr(run(int(line))))
        sys.stdout.flush()
    return 0


class Worker(object):
    """A benchmark process timing one implementation (see ``worker_main``)."""

    def __init__(self, name, argv, env, python=None):
        self.name = name
        self.runtime = None  # e.g. "python 3.7, tensorflow 1.15", once ready
        self.log = tempfile.TemporaryFile()
        python = python or sys.executable
        try:
            self.proc = subprocess.Popen([python, os.path.abspath(__file__)] + argv,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.log, env=env, universal_newlines=True)
        except OSError as e:
            raise SystemExit("bench_pretraining.py: cannot run the %s worker "
                             "with %s: %s" % (name, python, e.strerror or e))

    def _answer(self):
        for line in self.proc.stdout:
            if line.startswith(WORKER_PREFIX):
                return line[len(WORKER_PREFIX):].strip()
        self.log.seek(0)
        tail = self.log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
        raise SystemExit("bench_pretraining.py: the %s worker exited:\n%s" %
                         (self.name, "\n".join(tail)))

    def wait_ready(self):
        """Waits until the trainer is built; records the worker's runtime."""
        self.runtime = self._answer()

    def run(self, steps):
        self.proc.stdin.write("%d\n" % steps)
        self.proc.stdin.flush()
        return float(self._answer())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.log.close()


def spawn_workers(args, model, seq_length):
    """Starts one process per implementation, each with the host allocator
    its own script gets: albert_zh's (tf_compat selects TensorFlow's BFC
    allocator unless TF_CPU_ALLOCATOR_USE_BFC is set) and, for
    google-research/albert, TensorFlow's default (malloc) unless
    ``--same_allocator``."""
    common = [
        "--worker_setting",
        "%s,%d" % (model, seq_length), "--batch_size",
        str(args.batch_size), "--max_predictions_per_seq",
        str(args.max_predictions_per_seq), "--optimizer", args.optimizer, "--warmup_steps",
        str(args.warmup_steps), "--threads",
        str(args.threads), "--use_einsum",
        str(args.use_einsum)
    ]
    if args.use_xla:
        common.append("--use_xla")
    ours_env = dict(os.environ)
    google_env = dict(os.environ)
    if not args.same_allocator:
        google_env["TF_CPU_ALLOCATOR_USE_BFC"] = "false"
    workers = {
        "albert_zh":
            Worker("albert_zh", ["--worker", "albert_zh"] + common, ours_env),
        "google":
            Worker("google", ["--worker", "google", "--reference", args.reference] + common,
                   google_env, python=args.reference_python),
    }
    if args.bf16:
        workers[BF16] = Worker(BF16, ["--worker", "albert_zh", "--worker_bf16"] + common, ours_env)
    for worker in workers.values():
        worker.wait_ready()
    allocators = dict(
        (name, "bfc" if env.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("1",
                                                                            "true") else "malloc")
        for name, env in (("albert_zh", ours_env), ("google", google_env)))
    allocators[BF16] = allocators["albert_zh"]
    return workers, allocators


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
    parser.add_argument(
        "--peak_gflops", type=float, default=None,
        help="peak float32 matmul GFLOP/s to compute MFU "
        "with (default: measured here, which other "
        "load on the machine lowers)")
    parser.add_argument("--use_einsum", type=int, default=1,
                        help="0 builds the einsum-free attention graph")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")
    parser.add_argument(
        "--reference", nargs="?", const=DEFAULT_REFERENCE_DIR, default=None,
        help="also time google-research/albert's pretraining "
        "graph (TF 1.15 only), interleaved with ours in "
        "the same run, and print the speed ratio; the "
        "value is a directory holding the albert package "
        "or the albert-tensorflow wheel (default "
        "benchmarks/.reference)")
    parser.add_argument(
        "--fetch_reference", action="store_true", help="download albert-tensorflow==%s into the "
        "--reference directory with pip if it is not "
        "there" % REFERENCE_VERSION)
    parser.add_argument(
        "--same_allocator", action="store_true",
        help="with --reference: give google-research/albert "
        "the same host allocator as albert_zh (TensorFlow's "
        "BFC allocator by default) instead of TensorFlow's "
        "default that its own script runs with: compares "
        "the graphs alone")
    parser.add_argument(
        "--reference_python", default=None, help="with --reference: the Python interpreter that "
        "runs google-research/albert (one with "
        "TensorFlow 1.15, e.g. .venv/bin/python), so that "
        "albert_zh on TensorFlow 2 is timed against it in "
        "the same run; default: this interpreter")
    parser.add_argument(
        "--bf16", action="store_true", help="also time the graph with bfloat16 matrix products "
        "(run_pretraining --use_bf16), MFU against the peak "
        "bfloat16 matmul")
    parser.add_argument("--worker_bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["albert_zh", "google"], help=argparse.SUPPRESS)
    parser.add_argument("--worker_setting", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tf.logging.set_verbosity(tf.logging.ERROR)
    if args.worker:
        return worker_main(args)
    with_reference = bool(args.reference or args.fetch_reference)
    if with_reference:
        # Only located (and fetched) here: the google worker imports it.
        args.reference = locate_reference(args.reference or DEFAULT_REFERENCE_DIR,
                                          args.fetch_reference)
        if tf_compat.IS_TF2 and not args.reference_python:
            raise SystemExit("%s; pass --reference_python=<a Python with tensorflow 1.15>, "
                             "e.g. --reference_python=.venv/bin/python" % REFERENCE_NEEDS_TF1)

    peak, peaks = measure_peak_matmul_flops()
    if args.peak_gflops:
        peaks["given"] = args.peak_gflops * 1e9
        peak = peaks["given"]
    peak_bf16 = measure_peak_matmul_flops(dtype=tf.bfloat16)[0] if args.bf16 else None
    runtime = runtime_name()
    if not args.json:
        print("%s; peak float32 matmul %.1f GFLOP/s (%s)" % (runtime, peak / 1e9, ", ".join(
            "%s %.1f" % (k, v / 1e9) for k, v in sorted(peaks.items()))))
        if peak_bf16:
            import precision  # pylint: disable=g-import-not-at-top
            native, reason = precision.native_bfloat16()
            print("peak bfloat16 matmul %.1f GFLOP/s (%s: %s)" %
                  (peak_bf16 / 1e9, "native" if native else "emulated", reason))
        print("%-12s %-14s %5s %5s %5s %-6s %12s %10s %6s" %
              ("model", "impl", "seq", "batch", "pred", "opt", "examples/s", "GFLOP/s", "MFU"))
    rows = []
    for model in args.models.split(","):
        config = modeling.AlbertConfig.from_json_file(os.path.join(ROOT, CONFIGS[model]))
        for seq_length in (int(s) for s in args.seq_lengths.split(",")):
            workers, allocators = {}, None
            if with_reference:
                # Each implementation in its own process (its own allocator),
                # driven in turn from here.
                workers, allocators = spawn_workers(args, model, seq_length)
                trainers = dict((n, w.run) for n, w in workers.items())
            else:
                batch = random_batch(config, args.batch_size, seq_length,
                                     args.max_predictions_per_seq)
                trainers = {
                    "albert_zh":
                        build_trainer(config, batch, args.optimizer, use_xla=args.use_xla,
                                      threads=args.threads, use_einsum=bool(args.use_einsum))
                }
                if args.bf16:
                    trainers[BF16] = build_trainer(config, batch, args.optimizer,
                                                   use_xla=args.use_xla, threads=args.threads,
                                                   use_einsum=bool(args.use_einsum),
                                                   compute_dtype=tf.bfloat16)
                for run in trainers.values():
                    run(args.warmup_steps)
            step_times = dict((name, []) for name in trainers)
            for _ in range(args.repeats):
                # Interleaved, so both see the same machine load.
                for name, run in sorted(trainers.items()):
                    step_times[name].append(run(args.steps))
            medians = {}
            for name in [n for n in IMPLEMENTATIONS if n in trainers]:
                step = float(np.median(step_times[name]))
                medians[name] = step
                rate = args.batch_size / step
                flops = 3 * forward_flops_per_example(
                    config, seq_length, args.max_predictions_per_seq,
                    last_layer_at_positions=(name != "google")) * rate
                name_peak = peak_bf16 if name == BF16 else peak
                row = {
                    "model": model,
                    "implementation": name,
                    "seq_length": seq_length,
                    "batch_size": args.batch_size,
                    "max_predictions_per_seq": args.max_predictions_per_seq,
                    "optimizer": args.optimizer,
                    "use_xla": args.use_xla,
                    "use_einsum": bool(args.use_einsum),
                    "examples_per_sec": round(rate, 2),
                    "runs_examples_per_sec": [
                        round(args.batch_size / t, 2) for t in step_times[name]
                    ],
                    "model_gflops_per_sec": round(flops / 1e9, 1),
                    "peak_gflops_per_sec": round(name_peak / 1e9, 1),
                    "mfu": round(flops / name_peak, 3),
                    "runtime": (workers[name].runtime if workers else runtime)
                }
                if allocators:
                    row["host_allocator"] = allocators[name]
                if name == "google":
                    row["speedup_of_albert_zh"] = round(step / medians["albert_zh"], 2)
                    if BF16 in medians:
                        row["speedup_of_albert_zh_bf16"] = round(step / medians[BF16], 2)
                elif name == BF16:
                    row["speedup_over_float32"] = round(medians["albert_zh"] / step, 2)
                rows.append(row)
                if args.json:
                    print(json.dumps(row, sort_keys=True))
                else:
                    print("%-12s %-14s %5d %5d %5d %-6s %12.2f %10.1f %5.1f%%" %
                          (model, name, seq_length, args.batch_size, args.max_predictions_per_seq,
                           args.optimizer, rate, flops / 1e9, 100.0 * flops / name_peak))
            for worker in workers.values():
                worker.close()
            if with_reference and not args.json:
                print("%-12s albert_zh (%s; %s allocator) / google (%s; %s "
                      "allocator) speed ratio: %.2fx (medians of %d interleaved "
                      "runs)" % (model, workers["albert_zh"].runtime, allocators["albert_zh"],
                                 workers["google"].runtime, allocators["google"],
                                 medians["google"] / medians["albert_zh"], args.repeats))
            if BF16 in medians and not args.json:
                print("%-12s bfloat16 / float32 speed ratio: %.2fx%s" %
                      (model, medians["albert_zh"] / medians[BF16],
                       "; bfloat16 / google float32: %.2fx" %
                       (medians["google"] / medians[BF16]) if "google" in medians else ""))
            sys.stdout.flush()
    return rows


if __name__ == "__main__":
    main()
