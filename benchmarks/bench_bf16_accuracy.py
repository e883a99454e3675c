# coding=utf-8
"""Accuracy of bfloat16 pretraining: held-out masked-LM and sentence-order accuracy.

Pretrains the small demo model of scripts/demo.sh with ``run_pretraining.py``
the same number of steps in float32 and with ``--use_bf16=force`` (bfloat16
matrix products on float32 variables, see precision.py), once per seed,
interleaved (seed 1 float32, seed 1 bfloat16, seed 2 float32, ...), and
compares the metrics of the last checkpoint on held-out data:
masked_lm_accuracy, sentence_order_accuracy and loss (masked-LM plus
sentence-order loss), with each run's wall time (start-up, training and
evaluation of the subprocess).

The data is the repository's sample corpus, prepared as scripts/demo.sh does
(vocabulary of 8,000 from data/; create_pretraining_data.py on
data/sample_zh.txt and data/lcqmc_sample/pretrain_questions.txt with
--max_seq_length=32 --max_predictions_per_seq=5 --dupe_factor=5; the demo's
albert_config_demo.json), except that every 5th document of each file is held
out: training records come from the other documents, evaluation records from
these (with another --random_seed), and no line is in both. Training uses the
demo's settings (batch 32, AdamW, learning rate 1e-3, warmup a tenth of the
steps). Sentence-order prediction by default (--sentence_task=nsp for the
demo's default, next-sentence prediction; the metric keeps its name).

Printed: a row per run, mean / min / max per mode, the spread of float32
over the seeds (max - min) and whether the bfloat16 mean lies within the
float32 min..max; with the date, CPU model, the runs' Python and TensorFlow
and whether this machine computes bfloat16 natively (where it does not,
TensorFlow emulates it: same numerics, slower).

Usage::

    python benchmarks/bench_bf16_accuracy.py                    # seeds 1,2,3; 1000 steps
    python benchmarks/bench_bf16_accuracy.py --seeds=1,2 --steps=300 --json
    python benchmarks/bench_bf16_accuracy.py --python=.venv-py3.11/bin/python
        # the runs on another interpreter (here TensorFlow 2)
    python benchmarks/bench_bf16_accuracy.py --work_dir=/tmp/bf16 --keep
        # keep the data, checkpoints and logs
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("data/sample_zh.txt", "data/lcqmc_sample/pretrain_questions.txt")
VOCAB_SOURCES = "data/sample_zh.txt,data/lcqmc_sample/*.txt"
HOLD_OUT_EVERY = 5
TRAIN_DATA_SEED, HELD_OUT_DATA_SEED = 12345, 54321
MAX_SEQ_LENGTH, MAX_PREDICTIONS = 32, 5
CONFIG = {  # scripts/demo.sh's albert_config_demo.json; vocab_size is set later
    "embedding_size": 64,
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 256,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 128,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "ln_type": "preln",
    "embedding_layout": "brightmart"
}
MODES = (("float32", "false"), ("bfloat16", "force"))
METRICS = ("masked_lm_accuracy", "sentence_order_accuracy", "loss")
RUNTIME_PROBE = """
import json, sys
import precision, tf_compat
native, reason = precision.native_bfloat16()
print(json.dumps({"runtime": "Python %s, TensorFlow %s" % (
    sys.version.split()[0], tf_compat.tf.__version__),
    "native_bfloat16": native, "native_bfloat16_reason": reason}))
"""


def run(python, script, args, what, log_file=None):
    """Runs a repository script on the CPU; returns (stderr, seconds). The
    output goes to ``log_file`` too."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    start = time.time()
    proc = subprocess.run([python, os.path.join(ROOT, script)] + args, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    seconds = time.time() - start
    if log_file:
        with io.open(log_file, "w", encoding="utf-8") as writer:
            writer.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit("bench_bf16_accuracy.py: %s failed:\n%s" %
                         (what, (proc.stdout + proc.stderr)[-3000:]))
    return proc.stderr, seconds


def read_documents(path):
    """The documents of a corpus file: lists of non-empty lines."""
    documents = [[]]
    with io.open(os.path.join(ROOT, path), encoding="utf-8") as reader:
        for line in reader:
            line = line.strip()
            if line:
                documents[-1].append(line)
            elif documents[-1]:
                documents.append([])
    return [d for d in documents if d]


def split_corpus(work_dir):
    """Writes train.txt and held_out.txt (every HOLD_OUT_EVERY-th document of
    each source; held-out lines also found in training are dropped)."""
    train, held_out = [], []
    for path in SOURCES:
        for index, document in enumerate(read_documents(path)):
            (held_out if index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 else train).append(document)
    train_lines = set(line for document in train for line in document)
    held_out = [d for d in ([l for l in d if l not in train_lines] for d in held_out) if d]
    assert not train_lines & set(l for d in held_out for l in d)
    paths = []
    for name, documents in (("train.txt", train), ("held_out.txt", held_out)):
        paths.append(os.path.join(work_dir, name))
        with io.open(paths[-1], "w", encoding="utf-8") as writer:
            writer.write(u"\n\n".join(u"\n".join(d) for d in documents) + u"\n")
    return paths, len(train), len(held_out)


def prepare_data(python, work_dir, sentence_task):
    """Vocabulary, config and the training and held-out TFRecords."""
    (train_txt, held_out_txt), train_docs, held_out_docs = split_corpus(work_dir)
    vocab = os.path.join(work_dir, "vocab.txt")
    run(python, "build_vocab.py",
        ["--input_file=" + VOCAB_SOURCES, "--output_file=" + vocab, "--vocab_size=8000"],
        "build_vocab.py")
    with io.open(vocab, encoding="utf-8") as reader:
        config = dict(CONFIG, vocab_size=sum(1 for _ in reader))
    config_file = os.path.join(work_dir, "albert_config_demo.json")
    with open(config_file, "w") as writer:
        json.dump(config, writer, indent=1)
    records = {}
    for name, text, seed in (("train", train_txt, TRAIN_DATA_SEED), ("held_out", held_out_txt,
                                                                     HELD_OUT_DATA_SEED)):
        records[name] = os.path.join(work_dir, name + ".tfrecord")
        log, _ = run(python, "create_pretraining_data.py", [
            "--input_file=" + text, "--output_file=" + records[name], "--vocab_file=" + vocab,
            "--max_seq_length=%d" % MAX_SEQ_LENGTH,
            "--max_predictions_per_seq=%d" % MAX_PREDICTIONS, "--dupe_factor=5",
            "--random_seed=%d" % seed,
            "--random_next_sentence" if sentence_task == "nsp" else "--norandom_next_sentence"
        ], "create_pretraining_data.py (%s)" % name, records[name] + ".log")
        found = re.findall(r"wrote (\d+) instances", log)
        records[name + "_count"] = int(found[-1]) if found else None
    records.update(train_documents=train_docs, held_out_documents=held_out_docs)
    return config_file, records


def pretrain(python, config_file, records, output_dir, steps, seed, use_bf16):
    """One run_pretraining.py run; its last evaluation and wall seconds."""
    _, seconds = run(python, "run_pretraining.py", [
        "--albert_config_file=" + config_file, "--input_file=" + records["train"],
        "--eval_input_file=" + records["held_out"], "--output_dir=" + output_dir, "--do_train",
        "--do_eval",
        "--max_seq_length=%d" % MAX_SEQ_LENGTH,
        "--max_predictions_per_seq=%d" % MAX_PREDICTIONS, "--train_batch_size=32",
        "--num_train_steps=%d" % steps,
        "--num_warmup_steps=%d" % (steps // 10), "--learning_rate=1e-3", "--optimizer=adamw",
        "--save_checkpoints_steps=%d" % steps,
        "--random_seed=%d" % seed, "--use_bf16=" + use_bf16
    ], "run_pretraining.py --random_seed=%d --use_bf16=%s" % (seed, use_bf16), output_dir + ".log")
    with open(os.path.join(output_dir, "eval_history.json")) as reader:
        last = json.load(reader)["entries"][-1]
    if last["step"] != steps:
        raise SystemExit("bench_bf16_accuracy.py: %s: last evaluation at step %d, not %d" %
                         (output_dir, last["step"], steps))
    return dict((m, last["metrics"][m]) for m in METRICS), seconds


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the top of benchmarks/bench_bf16_accuracy.py for what is measured.")
    parser.add_argument(
        "--seeds", default="1,2,3",
        help="comma-separated run_pretraining.py --random_seed values; each "
        "is run in float32 and in bfloat16 (default 1,2,3)")
    parser.add_argument("--steps", type=int, default=1000,
                        help="training steps of every run (default 1000)")
    parser.add_argument("--sentence_task", choices=("sop", "nsp"), default="sop",
                        help="sentence-order (default) or next-sentence prediction records")
    parser.add_argument(
        "--work_dir", default=None,
        help="directory for the data, checkpoints and logs (default: a new "
        "temporary directory); deleted at the end unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep --work_dir")
    parser.add_argument(
        "--python", default=sys.executable,
        help="Python interpreter running the repository's scripts "
        "(default: this one)")
    parser.add_argument("--json", action="store_true",
                        help="also print one JSON line per run and per mode")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.steps < 1 or not seeds:
        parser.error("--steps must be >= 1 and --seeds must name a seed")
    if args.work_dir:
        if not os.path.isdir(args.work_dir):
            os.makedirs(args.work_dir)
        work_dir = os.path.abspath(args.work_dir)
    else:
        work_dir = tempfile.mkdtemp(prefix="bench_bf16_accuracy_")
    try:
        probe = subprocess.check_output([args.python, "-c", RUNTIME_PROBE], cwd=ROOT,
                                        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""),
                                        stderr=subprocess.DEVNULL, universal_newlines=True)
        meta = dict(json.loads(probe.strip().splitlines()[-1]), date=time.strftime("%Y-%m-%d"),
                    cpu=benchlib.cpu_model(), commit=benchlib.git_commit(), steps=args.steps,
                    sentence_task=args.sentence_task)
        config_file, records = prepare_data(args.python, work_dir, args.sentence_task)
        rows = []
        for seed in seeds:
            for mode, use_bf16 in MODES:
                output_dir = os.path.join(work_dir, "%s_seed%d" % (mode, seed))
                shutil.rmtree(output_dir, ignore_errors=True)
                metrics, seconds = pretrain(args.python, config_file, records, output_dir,
                                            args.steps, seed, use_bf16)
                rows.append(dict(metrics, seed=seed, mode=mode, seconds=round(seconds, 1)))
                sys.stderr.write(
                    "seed %d %-8s  %s  %.0f s\n" %
                    (seed, mode, "  ".join("%s %.4f" % (m, metrics[m]) for m in METRICS), seconds))
        report(meta, records, rows, args.json)
    finally:
        if args.keep:
            sys.stderr.write("kept %s\n" % work_dir)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


def report(meta, records, rows, as_json):
    """Prints the table, the per-mode statistics and the comparison."""
    columns = METRICS + ("seconds",)
    print("%s; %s; %s; bfloat16 native here: %s (%s); commit %s" %
          (meta["date"], meta["cpu"], meta["runtime"], "yes" if meta["native_bfloat16"] else "no",
           meta["native_bfloat16_reason"], meta["commit"]))
    print("%d steps, batch 32, seq %d, %s; training: %s records from %d documents; held out: "
          "%s records from %d documents" %
          (meta["steps"], MAX_SEQ_LENGTH, meta["sentence_task"].upper(), records["train_count"],
           records["train_documents"], records["held_out_count"], records["held_out_documents"]))
    header = "%-6s %-9s" % ("seed", "mode") + "".join(" %23s" % c for c in columns)
    print(header)
    for row in rows:
        print("%-6d %-9s" % (row["seed"], row["mode"]) + "".join(
            (" %23.1f" if c == "seconds" else " %23.4f") % row[c] for c in columns))
    summary = {}
    for mode, _ in MODES:
        values = dict((c, [r[c] for r in rows if r["mode"] == mode]) for c in columns)
        summary[mode] = dict((c, {
            "mean": sum(v) / len(v),
            "min": min(v),
            "max": max(v)
        }) for c, v in values.items())
        for stat in ("mean", "min", "max"):
            print("%-6s %-9s" % (stat, mode) + "".join(
                (" %23.1f" if c == "seconds" else " %23.4f") % summary[mode][c][stat]
                for c in columns))
    fp32, bf16 = summary["float32"], summary["bfloat16"]
    comparison = dict((m, {
        "float32_spread": fp32[m]["max"] - fp32[m]["min"],
        "bfloat16_minus_float32_mean": bf16[m]["mean"] - fp32[m]["mean"],
        "bfloat16_mean_within_float32_range": fp32[m]["min"] <= bf16[m]["mean"] <= fp32[m]["max"]
    }) for m in METRICS)
    for m in METRICS:
        c = comparison[m]
        print("%-23s float32 spread over %d seeds (max - min) %.4f; bfloat16 mean - float32 "
              "mean %+.4f; bfloat16 mean within float32 min..max: %s" %
              (m, sum(1 for r in rows if r["mode"] == "float32"), c["float32_spread"],
               c["bfloat16_minus_float32_mean"],
               "yes" if c["bfloat16_mean_within_float32_range"] else "no"))
    if as_json:
        for row in rows:
            print(json.dumps(dict(meta, **row), sort_keys=True))
        for mode, _ in MODES:
            print(
                json.dumps(
                    dict(meta, mode=mode, seeds=[r["seed"] for r in rows if r["mode"] == mode],
                         **summary[mode]), sort_keys=True))
        print(json.dumps(dict(meta, comparison=comparison), sort_keys=True))


if __name__ == "__main__":
    main()
