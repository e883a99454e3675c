# coding=utf-8
"""Latency of the persistent similarity predictor (similarity.py) on albert_tiny.

The model is albert_config/albert_config_tiny.json (4 layers, hidden 312,
brightmart layout) with a classifier head, all with RANDOM weights: latency
does not depend on the weight values. The vocabulary is a synthetic one of
the config's 21,128 entries (special tokens + CJK characters), so that
tokenization works on the real vocabulary size.

Rows (after --warmup calls, --calls timed calls each): wall-clock median,
p90 and minimum in ms, and the median process CPU time per call (all
threads), which shows how much of the wall time was waiting for a CPU when
other work shares the machine (the load average at start is printed too).

* ``pair``: one typical LCQMC pair (14 + 8 characters, 25 tokens) through
  ``predict_sentences`` (tokenization included), padded to the pair's own
  length -- what similarity.py does.
* ``pair_seq128``: the same pair padded to 128 tokens (session run only), what
  a predictor padding to max_seq_len would pay.
* ``batch64``: 64 pairs of 8-20 characters per sentence in one call; also
  reported as pairs/s.
* ``session_per_query`` (unless --skip_reload): building the graph, opening a
  session and restoring the checkpoint for every query, as the reference
  similarity.py does (a few calls only).

Both the checkpoint and the SavedModel loading paths are measured
(--sources).

Usage::

    python benchmarks/bench_similarity.py
    python benchmarks/bench_similarity.py --num_threads=1 --json
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tf_compat import tf  # pylint: disable=g-import-not-at-top

import classifier_utils  # pylint: disable=g-import-not-at-top
import modeling  # pylint: disable=g-import-not-at-top
import similarity  # pylint: disable=g-import-not-at-top

CONFIG = os.path.join(ROOT, "albert_config", "albert_config_tiny.json")
# A typical LCQMC pair: 14 and 8 characters.
PAIR = (u"我想知道今天北京的天气怎么样", u"今天北京天气如何")


def write_vocab(path, size):
    """A vocab.txt of ``size`` entries: specials, then CJK characters."""
    tokens = [u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"]
    code = 0x4E00
    while len(tokens) < size:
        tokens.append(chr(code))
        code += 1
    with io.open(path, "w", encoding="utf-8") as writer:
        writer.write(u"\n".join(tokens) + u"\n")


def make_model(work_dir, seed=1):
    """A random-weight albert_tiny classifier: checkpoint dir and SavedModel."""
    config = modeling.AlbertConfig.from_json_file(CONFIG)
    vocab = os.path.join(work_dir, "vocab.txt")
    write_vocab(vocab, config.vocab_size)
    ckpt_dir = os.path.join(work_dir, "ckpt")
    os.makedirs(ckpt_dir)
    prefix = os.path.join(ckpt_dir, "model.ckpt-1")
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        ids = tf.placeholder(tf.int32, [None, None])
        classifier_utils.create_model(config, False, ids, ids, ids, None, 2)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    export = os.path.join(work_dir, "export")
    assets = {
        "albert_config.json":
            config.to_json_string(),
        "vocab.txt":
            io.open(vocab, "rb").read(),
        "export_info.json":
            json.dumps({
                "task_name": "lcqmc",
                "labels": ["0", "1"],
                "is_regression": False,
                "max_seq_length": 128,
                "do_lower_case": True,
                "vocab_file": "vocab.txt",
                "tokenizer": "wordpiece"
            })
    }
    classifier_utils.export_saved_model(config, 2, prefix, export, assets=assets)
    return {"checkpoint": ckpt_dir, "saved_model": export, "vocab": vocab}


def timed(fn, calls, warmup):
    """(wall-clock ms, process CPU ms) of each of ``calls`` calls after warm-up."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(calls):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - cpu_start) * 1000.0)
    return wall, cpu


def summary(measured):
    wall, cpu = measured
    return {
        "median_ms": float(np.median(wall)),
        "p90_ms": float(np.percentile(wall, 90)),
        "min_ms": float(np.min(wall)),
        "cpu_ms": float(np.median(cpu)),
        "calls": len(wall)
    }


def random_pairs(count, seed=5):
    rng = random.Random(seed)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

    def sentence():
        return u"".join(rng.choice(chars) for _ in range(rng.randint(8, 20)))

    return [(sentence(), sentence()) for _ in range(count)]


def bench_source(name, predictor, calls, warmup):
    rows = []
    predictor.start_model()
    ids, segments = predictor.encode(*PAIR)
    rows.append(
        dict(source=name, case="pair", tokens=len(ids),
             **summary(timed(lambda: predictor.predict_sentences([PAIR]), calls, warmup))))
    padded = np.zeros([1, 128], np.int32)
    mask = np.zeros([1, 128], np.int32)
    seg = np.zeros([1, 128], np.int32)
    padded[0, :len(ids)] = ids
    mask[0, :len(ids)] = 1
    seg[0, :len(ids)] = segments
    run = predictor._run  # pylint: disable=protected-access
    rows.append(
        dict(source=name, case="pair_seq128", tokens=128,
             **summary(timed(lambda: run(padded, mask, seg), calls, warmup))))
    batch = random_pairs(64)
    times = timed(lambda: predictor.predict_sentences(batch), max(10, calls // 10), 3)
    row = dict(source=name, case="batch64", tokens=max(len(predictor.encode(*p)[0]) for p in batch),
               **summary(times))
    row["pairs_per_s"] = 64 * 1000.0 / row["median_ms"]
    rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per row")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    parser.add_argument("--num_threads", type=int, default=0,
                        help="session CPU threads (0: TensorFlow's default)")
    parser.add_argument("--no_freeze", action="store_true",
                        help="run the graph with variables (freeze_graph=False)")
    parser.add_argument("--sources", default="checkpoint,saved_model",
                        help="comma-separated: checkpoint, saved_model")
    parser.add_argument("--skip_reload", action="store_true", help="skip the session-per-query row")
    parser.add_argument("--json", action="store_true", help="one JSON line per row")
    options = parser.parse_args()
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    tf.logging.set_verbosity(tf.logging.ERROR)
    load_at_start = os.getloadavg()[0]
    work_dir = tempfile.mkdtemp(prefix="bench_similarity_")
    rows = []
    try:
        model = make_model(work_dir)
        for source in options.sources.split(","):
            source = source.strip()
            predictor = similarity.SimilarityPredictor(model_dir=model[source], config_name=CONFIG,
                                                       vocab_file=model["vocab"],
                                                       num_threads=options.num_threads,
                                                       freeze_graph=not options.no_freeze)
            rows.extend(bench_source(source, predictor, options.calls, options.warmup))
            predictor.close()
        if not options.skip_reload:

            def reload_and_predict():
                with similarity.SimilarityPredictor(model_dir=model["checkpoint"],
                                                    config_name=CONFIG, vocab_file=model["vocab"],
                                                    num_threads=options.num_threads,
                                                    freeze_graph=False) as p:
                    p.predict_sentences([PAIR])

            rows.append(
                dict(source="checkpoint", case="session_per_query", tokens=None,
                     **summary(timed(reload_and_predict, 5, 1))))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    header = ("albert_tiny (random weights), TF %s, Python %d.%d, %d CPUs, num_threads=%d, "
              "freeze_graph=%s, load average at start %.2f" %
              (tf.VERSION, sys.version_info[0], sys.version_info[1], os.cpu_count() or
               0, options.num_threads, not options.no_freeze, load_at_start))
    if options.json:
        for row in rows:
            row["setup"] = header
            print(json.dumps(row, sort_keys=True))
        return
    print(header)
    print("%-12s %-18s %6s %10s %10s %10s %10s %10s" %
          ("source", "case", "tokens", "median_ms", "p90_ms", "min_ms", "cpu_ms", "pairs/s"))
    for row in rows:
        print("%-12s %-18s %6s %10.2f %10.2f %10.2f %10.2f %10s" %
              (row["source"], row["case"], row["tokens"] if row["tokens"] else "-",
               row["median_ms"], row["p90_ms"], row["min_ms"], row["cpu_ms"],
               "%.0f" % row["pairs_per_s"] if "pairs_per_s" in row else "-"))


if __name__ == "__main__":
    main()
