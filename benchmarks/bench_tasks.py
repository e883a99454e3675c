# coding=utf-8
"""Speed of the sequence-labelling and multiple-choice tasks on albert_tiny.

Two measurements per task, on synthetic Chinese data the benchmark writes
itself (random characters of a 21,128-entry vocabulary; albert_tiny config
with random weights):

* feature conversion: reading the file and converting ``--num_examples``
  examples (10,000 by default) into features, in this process;
* fine-tuning: ``run_ner.py`` / ``run_multiple_choice.py`` (and
  ``run_classifier.py`` on sentence pairs, for comparison) run as the user
  runs them, ``--train_step`` steps at ``--max_seq_length`` 128 and
  ``--train_batch_size`` 32; examples/sec is the median of the scripts' own
  progress lines after the first ones. A multiple-choice example is one
  question with 4 options, i.e. 4 sequences.

Rows are printed as a table and, with ``--json``, one JSON line each, with
the date, CPU model, runtime and commit.

Usage::

    python benchmarks/bench_tasks.py
    python benchmarks/bench_tasks.py --num_examples=2000 --train_step=30 --json
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_similarity  # pylint: disable=g-import-not-at-top
import benchlib  # pylint: disable=g-import-not-at-top
import modeling  # pylint: disable=g-import-not-at-top
import multiple_choice_utils  # pylint: disable=g-import-not-at-top
import ner_utils  # pylint: disable=g-import-not-at-top
import tokenization  # pylint: disable=g-import-not-at-top
from tf_compat import tf  # pylint: disable=g-import-not-at-top

CONFIG = os.path.join(ROOT, "albert_config", "albert_config_tiny.json")
_CJK = [chr(0x4E00 + i) for i in range(3000)]


def _chars(rng, low, high):
    return u"".join(rng.choice(_CJK) for _ in range(rng.randint(low, high)))


def write_ner(path, count, seed):
    """CoNLL sentences of 30-60 characters with two or three entities."""
    rng = random.Random(seed)
    with io.open(path, "w", encoding="utf-8") as writer:
        for _ in range(count):
            lines = []
            for _ in range(rng.randint(2, 3)):
                lines += [u"%s O" % c for c in _chars(rng, 8, 18)]
                kind = rng.choice(["PER", "LOC", "ORG"])
                entity = _chars(rng, 2, 4)
                lines += [
                    u"%s %s-%s" % (c, "B" if i == 0 else "I", kind) for i, c in enumerate(entity)
                ]
            writer.write(u"\n".join(lines) + u"\n\n")


def write_mc(path, count, seed):
    """JSON lines questions: a 100-300 character context and 4 options."""
    rng = random.Random(seed)
    with io.open(path, "w", encoding="utf-8") as writer:
        for index in range(count):
            choices = [_chars(rng, 2, 8) for _ in range(4)]
            writer.write(
                json.dumps(
                    {
                        "id": "q%d" % index,
                        "context": _chars(rng, 100, 300),
                        "question": _chars(rng, 6, 15),
                        "choices": choices,
                        "label": rng.randrange(4)
                    }, ensure_ascii=False) + u"\n")


def write_pairs(path, count, seed):
    """LCQMC-style pairs for run_classifier.py."""
    rng = random.Random(seed)
    with io.open(path, "w", encoding="utf-8") as writer:
        for _ in range(count):
            writer.write(u"%s\t%s\t%d\n" %
                         (_chars(rng, 8, 20), _chars(rng, 8, 20), rng.randrange(2)))


def pretrained(work_dir):
    """A random albert_tiny encoder checkpoint and its vocab."""
    config = modeling.AlbertConfig.from_json_file(CONFIG)
    vocab = os.path.join(work_dir, "vocab.txt")
    bench_similarity.write_vocab(vocab, config.vocab_size)
    prefix = os.path.join(work_dir, "pretrained", "model.ckpt")
    with tf.Graph().as_default():
        modeling.AlbertModel(config, False, tf.zeros([1, 4], dtype=tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    return prefix, vocab


def time_conversion(task, path, tokenizer, max_seq_length):
    """(seconds, examples, features) of reading and converting one file."""
    start = time.time()
    if task == "ner":
        examples = ner_utils.read_examples(path)
        labels = ner_utils.get_label_list(examples)
        features = ner_utils.convert_examples_to_features(examples, tokenizer, labels,
                                                          max_seq_length, 64)
    else:
        examples = multiple_choice_utils.read_files("jsonl", [path])
        features = multiple_choice_utils.convert_examples_to_features(examples, tokenizer,
                                                                      max_seq_length, 64, 4)
    return time.time() - start, len(examples), len(features)


def time_training(script, args, skip_lines):
    """Median examples/sec of a script's progress lines (the first skipped)."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, script)] + args, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=3600)
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (script, proc.stderr[-3000:]))
    rates = [float(m) for m in re.findall(r"([\d.]+) examples/sec", proc.stderr)]
    rates = rates[skip_lines:] or rates
    if not rates:
        raise SystemExit("%s logged no progress line; raise --train_step" % script)
    rates.sort()
    return rates[len(rates) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_examples", type=int, default=10000,
                        help="examples converted per task")
    parser.add_argument("--train_examples", type=int, default=2000,
                        help="training examples written per task")
    parser.add_argument("--train_step", type=int, default=60, help="training steps per task")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--log_every_secs", type=float, default=5.0)
    parser.add_argument("--tasks", default="ner,ner_crf,mc,classifier")
    parser.add_argument("--json", action="store_true", help="one JSON line per row")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench_tasks_")
    try:
        prefix, vocab = pretrained(work)
        tokenizer = tokenization.FullTokenizer(vocab_file=vocab)
        meta = {
            "date": time.strftime("%Y-%m-%d"),
            "cpu": benchlib.cpu_model(),
            "runtime": "Python %s, TensorFlow %s" % (sys.version.split()[0], tf.__version__),
            "commit": benchlib.git_commit()
        }
        rows = []
        for name, writer in (("ner", write_ner), ("mc", write_mc)):
            path = os.path.join(work, "%s_convert.%s" % (name, "txt" if name == "ner" else "jsonl"))
            writer(path, args.num_examples, 1)
            seconds, examples, features = time_conversion(name, path, tokenizer,
                                                          args.max_seq_length)
            rows.append(
                dict(meta, task=name, measure="feature conversion", examples=examples,
                     features=features, seconds=round(seconds, 2),
                     examples_per_sec=round(examples / seconds, 1)))
        common = [
            "--albert_config_file=%s" % CONFIG,
            "--vocab_file=%s" % vocab,
            "--init_checkpoint=%s" % prefix, "--do_train",
            "--max_seq_length=%d" % args.max_seq_length,
            "--train_batch_size=%d" % args.train_batch_size,
            "--train_step=%d" % args.train_step, "--warmup_step=0",
            "--save_checkpoints_steps=%d" % args.train_step,
            "--log_every_secs=%s" % args.log_every_secs
        ]
        for task in args.tasks.split(","):
            data = os.path.join(work, task)
            os.makedirs(data)
            if task in ("ner", "ner_crf"):
                write_ner(os.path.join(data, "train.txt"), args.train_examples, 2)
                script, extra = "run_ner.py", ["--data_dir=%s" % data, "--doc_stride=64"]
                if task == "ner_crf":
                    extra.append("--use_crf")
            elif task == "mc":
                write_mc(os.path.join(data, "train.jsonl"), args.train_examples, 2)
                script = "run_multiple_choice.py"
                extra = ["--task_name=jsonl", "--data_dir=%s" % data, "--max_qa_length=64"]
            else:
                write_pairs(os.path.join(data, "train.txt"), args.train_examples, 2)
                script, extra = "run_classifier.py", ["--task_name=lcqmc", "--data_dir=%s" % data]
            rate = time_training(
                script, common + extra + ["--output_dir=%s" % os.path.join(work, "out_" + task)],
                skip_lines=1)
            rows.append(
                dict(meta, task=task, measure="fine-tuning", examples_per_sec=round(rate, 1),
                     sequences_per_sec=round(rate * (4 if task == "mc" else 1), 1)))
        print("%-11s %-19s %10s %10s %10s" % ("task", "measure", "examples/s", "seqs/s", "seconds"))
        for row in rows:
            print("%-11s %-19s %10s %10s %10s" %
                  (row["task"], row["measure"], row["examples_per_sec"],
                   row.get("sequences_per_sec", "-"), row.get("seconds", "-")))
        print("%s, %s, %s, commit %s" %
              (meta["date"], meta["cpu"], meta["runtime"], meta["commit"]))
        if args.json:
            for row in rows:
                print(json.dumps(row, sort_keys=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
