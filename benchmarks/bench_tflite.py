# coding=utf-8
"""TensorFlow Lite exports of albert_tiny (tflite_export.py) against the TF graph.

The model is albert_config/albert_config_tiny.json (4 layers, hidden 312,
brightmart layout) with a 2-way classifier head, all with RANDOM weights
(latency and size do not depend on the weight values); the head's bias is
centred so that the random model splits the dev pairs about evenly, which
makes the decision agreement a sensitivity measure (not an accuracy). The vocabulary is
a synthetic one of the config's 21,128 entries (special tokens + CJK
characters), so the project's LCQMC-layout sample pairs
(data/lcqmc_sample/dev.txt, 316 pairs) tokenize on it as on a real one.

For each --seq_lengths value the checkpoint is exported three times with
``tflite_export.export_tflite`` (quantize none / dynamic / float16), and the
TF graph is frozen the same way (``build_inference_graph`` + restore +
freeze) for the TF rows.

Rows:

* latency, per sequence length and thread count: one subprocess holds the
  frozen TF graph (session.run, intra-op threads = n, inter-op 1) and the
  three TFLite files in the --interpreter (default: the fastest installed,
  tflite_export.INTERPRETERS; plus the float32 file in tf.lite.Interpreter
  when that is another one), and times one call of each in turn
  (interleaved, so load changes hit all engines alike), batch 1, on the dev
  pairs in order: median and p90 in ms, and the ratio to the TF graph's
  median. The subprocess is pinned to n CPUs with os.sched_setaffinity and
  the interpreters get ``num_threads=n`` (TF 1.15's tf.lite.Interpreter has
  no thread setting: the CPU affinity is its only limit).
* memory, per sequence length and engine: a fresh subprocess (1 CPU) imports
  TensorFlow, then loads that engine and runs it once; peak RSS growth
  (VmHWM after minus VmRSS before loading, from /proc/self/status).
* size and accuracy, per sequence length and quantization: file size, and on
  all the dev pairs the max |diff| of the probabilities against the TF
  graph and the argmax agreement with the TF graph and with the float32
  TFLite model (export_tflite itself checks each file on --num_check pairs).

Usage::

    python benchmarks/bench_tflite.py
    python benchmarks/bench_tflite.py --calls=100 --seq_lengths=128 --json
    python benchmarks/bench_tflite.py --checkpoint=demo_output/lcqmc/model.ckpt-best \
        --albert_config_file=demo_output/albert_config_demo.json \
        --vocab_file=demo_output/vocab.txt --seq_lengths=32   # a fine-tuned classifier
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import datetime
import io
import json
import os
import shutil
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

import classifier_tasks  # pylint: disable=g-import-not-at-top
import classifier_utils  # pylint: disable=g-import-not-at-top
import modeling  # pylint: disable=g-import-not-at-top
import tflite_export  # pylint: disable=g-import-not-at-top
import tokenization  # pylint: disable=g-import-not-at-top
import benchlib  # pylint: disable=g-import-not-at-top

CONFIG = os.path.join(ROOT, "albert_config", "albert_config_tiny.json")
DEV = os.path.join(ROOT, "data", "lcqmc_sample", "dev.txt")
MODEL_NAME = "albert_tiny classifier (random weights)"
QUANTIZE = ("none", "dynamic", "float16")
# Engines: the TF graph, each file run by the chosen interpreter, and (when
# that is not TensorFlow's own) the float32 file run by tf.lite.Interpreter.
ENGINES = ("tf_graph",) + tuple("tflite_" + q for q in QUANTIZE)
TF_LITE_ENGINE = "tflite_none@tf.lite"

# ---------------------------------------------------------------------------
# Model and data (parent process).
# ---------------------------------------------------------------------------


def write_vocab(path, size):
    """A vocab.txt of ``size`` entries: specials, then CJK characters."""
    tokens = [u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"]
    code = 0x4E00
    while len(tokens) < size:
        tokens.append(chr(code))
        code += 1
    with io.open(path, "w", encoding="utf-8") as writer:
        writer.write(u"\n".join(tokens) + u"\n")


def make_checkpoint(work_dir, vocab, seed=1):
    """A random-weight albert_tiny classifier checkpoint; returns its prefix.

    The head's bias is centred on the dev pairs (class 1 bias = minus the
    median logit difference), so the random model splits them about half and
    half and decision agreement is measured on real decisions (otherwise a
    random head gives every pair the same class).
    """
    config = modeling.AlbertConfig.from_json_file(CONFIG)
    features = dev_features(vocab, 128)
    prefix = os.path.join(work_dir, "ckpt", "model.ckpt-1")
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        inputs = [tf.placeholder(tf.int32, [None, None]) for _ in range(3)]
        model = classifier_utils.create_model(config, False, inputs[0], inputs[1], inputs[2], None,
                                              2)
        bias = [v for v in tf.global_variables() if v.op.name == "output_bias"][0]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            feed = dict(zip(inputs, [features[n] for n in tflite_export.SEQUENCE_INPUTS]))
            logits = session.run(model.logits, feed)
            shift = float(np.median(logits[:, 1] - logits[:, 0]))
            session.run(bias.assign([0.0, -shift]))
            tf.train.Saver().save(session, prefix)
    return prefix


def dev_features(vocab, max_seq_length):
    """The dev pairs as int32 arrays [n, max_seq_length] (labels unused)."""
    tokenizer = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)
    rows = {"input_ids": [], "input_mask": [], "segment_ids": []}
    with io.open(DEV, encoding="utf-8") as reader:
        for index, line in enumerate(reader):
            text_a, text_b, label = line.rstrip(u"\n").split(u"\t")
            example = classifier_tasks.InputExample("dev-%d" % index, text_a, text_b, label)
            feature = classifier_utils.convert_single_example(example, ["0", "1"], max_seq_length,
                                                              tokenizer)
            rows["input_ids"].append(feature.input_ids)
            rows["input_mask"].append(feature.input_mask)
            rows["segment_ids"].append(feature.segment_ids)
    return {name: np.array(values, np.int32) for name, values in rows.items()}


def freeze_graph(prefix, max_seq_length, path):
    """The frozen static-shape TF graph (the one the TFLite files come from)."""
    with tf.Graph().as_default() as graph:
        _, outputs = tflite_export.build_inference_graph("classifier", CONFIG,
                                                         max_seq_length=max_seq_length,
                                                         num_labels=2)
        with tf.Session(graph=graph) as session:
            tflite_export.restore_checkpoint(session, "classifier", prefix, num_labels=2)
            frozen = tflite_export.freeze(session, list(outputs.values()))
    with open(path, "wb") as writer:
        writer.write(frozen.SerializeToString())


# ---------------------------------------------------------------------------
# Engines (subprocesses).
# ---------------------------------------------------------------------------


class GraphEngine(object):
    """session.run of a frozen GraphDef."""

    def __init__(self, path, threads):
        graph_def = tf.GraphDef()
        with open(path, "rb") as reader:
            graph_def.ParseFromString(reader.read())
        graph = tf.Graph()
        with graph.as_default():
            tf.import_graph_def(graph_def, name="")
        config = tf.ConfigProto(intra_op_parallelism_threads=threads,
                                inter_op_parallelism_threads=1)
        self.session = tf.Session(graph=graph, config=config)
        self.feeds = [graph.get_tensor_by_name(n + ":0") for n in tflite_export.SEQUENCE_INPUTS]
        self.output = graph.get_tensor_by_name("probabilities:0")

    def __call__(self, row):
        return self.session.run(self.output, dict(zip(self.feeds, row)))


class LiteEngine(object):
    """A TFLite interpreter (tflite_export.make_interpreter) of a .tflite file."""

    def __init__(self, path, threads, interpreter):
        self.interpreter = tflite_export.make_interpreter(model_path=path, num_threads=threads,
                                                          interpreter=interpreter)
        details = {d["name"]: d["index"] for d in self.interpreter.get_input_details()}
        self.inputs = [details[n] for n in tflite_export.SEQUENCE_INPUTS]
        self.output = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, row):
        for index, value in zip(self.inputs, row):
            self.interpreter.set_tensor(index, value)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


def make_engine(name, files, threads, interpreter):
    if name == "tf_graph":
        return GraphEngine(files["tf_graph"], threads)
    if name == TF_LITE_ENGINE:
        return LiteEngine(files["tflite_none"], threads, "tensorflow")
    return LiteEngine(files[name], threads, interpreter)


def engine_names(interpreter):
    """The engines measured with ``interpreter`` (a resolved name)."""
    return ENGINES + (() if interpreter == "tensorflow" else (TF_LITE_ENGINE,))


def feature_rows(features_path):
    data = np.load(features_path)
    arrays = [data[n] for n in tflite_export.SEQUENCE_INPUTS]
    return [[a[i:i + 1] for a in arrays] for i in range(len(arrays[0]))]


def proc_status_kb(field):
    with open("/proc/self/status") as reader:
        for line in reader:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def worker(spec):
    """Runs in a subprocess: pins the CPUs, then measures; returns a dict."""
    threads = spec["threads"]
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cpus)
    rows = feature_rows(spec["features"])
    if spec["mode"] == "memory":
        before = proc_status_kb("VmRSS")
        engine = make_engine(spec["engine"], spec["files"], threads, spec["interpreter"])
        engine(rows[0])
        return {
            "rss_delta_mb": (proc_status_kb("VmHWM") - before) / 1024.0,
            "rss_after_mb": proc_status_kb("VmRSS") / 1024.0
        }
    names = engine_names(spec["interpreter"])
    engines = [
        (name, make_engine(name, spec["files"], threads, spec["interpreter"])) for name in names
    ]
    for _ in range(spec["warmup"]):
        for _, engine in engines:
            engine(rows[0])
    times = dict((name, []) for name in names)
    for call in range(spec["calls"]):
        row = rows[call % len(rows)]
        # Rotating start: no engine always runs right after another one.
        order = engines[call % len(engines):] + engines[:call % len(engines)]
        for name, engine in order:
            start = time.perf_counter()
            engine(row)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {"times": times}


def run_worker(spec):
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker",
         json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    if result.returncode != 0:
        raise RuntimeError("worker failed: %s" % result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


def export_all(prefix, vocab, seq, work_dir, num_check, interpreter):
    """Exports the .tflite files of one sequence length (each checked by
    export_tflite on the first ``num_check`` dev pairs), then measures every
    file on all the dev pairs against the frozen TF graph."""
    features = dev_features(vocab, seq)
    features_path = os.path.join(work_dir, "dev_%d.npz" % seq)
    np.savez(features_path, **features)
    files = {"tf_graph": os.path.join(work_dir, "frozen_%d.pb" % seq)}
    freeze_graph(prefix, seq, files["tf_graph"])
    check = dict((name, values[:num_check]) for name, values in features.items())
    rows = []
    for quantize in QUANTIZE:
        path = os.path.join(work_dir, "tiny_%d_%s.tflite" % (seq, quantize))
        report = tflite_export.export_tflite("classifier", CONFIG, prefix, path, max_seq_length=seq,
                                             num_labels=2, quantize=quantize, sample_inputs=check,
                                             interpreter=interpreter)
        files["tflite_" + quantize] = path
        rows.append({
            "table": "size",
            "seq": seq,
            "quantize": quantize,
            "file_mb": report["file_size"] / 1e6,
            "float32_weights_mb": report["parameter_bytes"] / 1e6
        })
    dev_rows = feature_rows(features_path)
    outputs = {}
    for engine in ENGINES:
        run = make_engine(engine, files, 0, interpreter)
        outputs[engine] = np.concatenate([run(row) for row in dev_rows])
    for row in rows:
        got = outputs["tflite_" + row["quantize"]]
        row["max_abs_diff_vs_tf"] = float(np.abs(got - outputs["tf_graph"]).max())
        row["agreement_vs_tf"] = float(np.mean(got.argmax(-1) == outputs["tf_graph"].argmax(-1)))
        row["agreement_vs_float_tflite"] = float(
            np.mean(got.argmax(-1) == outputs["tflite_none"].argmax(-1)))
        row["num_dev"] = len(dev_rows)
        # How informative the agreement is: the TF graph's share of class 1
        # and its median margin |p1 - p0| (a random head is near 0.5).
        row["tf_class1_rate"] = float(np.mean(outputs["tf_graph"].argmax(-1) == 1))
        row["tf_median_margin"] = float(
            np.median(np.abs(outputs["tf_graph"][:, 1] - outputs["tf_graph"][:, 0])))
    return rows, files, features_path


def summarize(times):
    return {
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "calls": len(times)
    }


def main():
    global CONFIG, DEV, MODEL_NAME  # pylint: disable=global-statement
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        tf.logging.set_verbosity(tf.logging.ERROR)
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seq_lengths", default="128,64", help="comma-separated")
    parser.add_argument("--threads", default="1,2", help="comma-separated CPU counts")
    parser.add_argument("--calls", type=int, default=100,
                        help="timed calls per engine and configuration")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per engine")
    parser.add_argument("--num_check", type=int, default=16,
                        help="dev pairs export_tflite checks each file on")
    parser.add_argument("--skip_memory", action="store_true", help="skip the memory rows")
    parser.add_argument("--json", action="store_true",
                        help="one JSON line per row on stdout (everything else on stderr)")
    parser.add_argument(
        "--interpreter", default="auto", choices=("auto",) + tuple(tflite_export.INTERPRETERS),
        help="TFLite interpreter of the tflite_* rows (auto: the first "
        "installed of %s); other than tensorflow, the float32 file "
        "is also timed with tf.lite.Interpreter (%s)" %
        (", ".join(tflite_export.INTERPRETERS), TF_LITE_ENGINE))
    parser.add_argument(
        "--checkpoint", default=None,
        help="a fine-tuned two-class run_classifier.py checkpoint prefix to "
        "measure instead of the random albert_tiny classifier (with "
        "--albert_config_file and --vocab_file)")
    parser.add_argument("--albert_config_file", default=None, help="config of --checkpoint")
    parser.add_argument("--vocab_file", default=None, help="vocab.txt of --checkpoint")
    parser.add_argument("--dev_file", default=DEV,
                        help="sentence pairs (a<TAB>b<TAB>label) the files are compared on")
    options = parser.parse_args()
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    tf.logging.set_verbosity(tf.logging.ERROR)
    try:
        interpreter = tflite_export.interpreter_class(options.interpreter)[0]
    except tflite_export.ExportError as e:
        parser.error(str(e))
    # The JSON lines alone on stdout: TF 2's converter prints its op summary there.
    json_out = os.fdopen(os.dup(1), "w") if options.json else sys.stdout
    if options.json:
        sys.stdout.flush()
        os.dup2(2, 1)
    if options.checkpoint:
        if not (options.albert_config_file and options.vocab_file):
            parser.error("--checkpoint needs --albert_config_file and --vocab_file")
        CONFIG = options.albert_config_file
        MODEL_NAME = "classifier %s" % options.checkpoint
    DEV = options.dev_file
    seqs = [int(s) for s in options.seq_lengths.split(",") if s.strip()]
    threads_list = [int(t) for t in options.threads.split(",") if t.strip()]
    load_at_start = os.getloadavg()[0]
    started = time.time()
    work_dir = tempfile.mkdtemp(prefix="bench_tflite_")
    rows = []
    try:
        if options.checkpoint:
            vocab, prefix = options.vocab_file, options.checkpoint
        else:
            vocab = os.path.join(work_dir, "vocab.txt")
            write_vocab(vocab, modeling.AlbertConfig.from_json_file(CONFIG).vocab_size)
            prefix = make_checkpoint(work_dir, vocab)
        for seq in seqs:
            size_rows, files, features_path = export_all(prefix, vocab, seq, work_dir,
                                                         options.num_check, interpreter)
            rows.extend(size_rows)
            rows.append({
                "table": "size",
                "seq": seq,
                "quantize": "tf_graph (frozen .pb)",
                "file_mb": os.path.getsize(files["tf_graph"]) / 1e6
            })
            for threads in threads_list:
                result = run_worker({
                    "mode": "latency",
                    "threads": threads,
                    "files": files,
                    "features": features_path,
                    "calls": options.calls,
                    "warmup": options.warmup,
                    "interpreter": interpreter
                })
                reference = np.median(result["times"]["tf_graph"])
                for engine in engine_names(interpreter):
                    row = {"table": "latency", "seq": seq, "threads": threads, "engine": engine}
                    row.update(summarize(result["times"][engine]))
                    row["ratio_to_tf"] = row["median_ms"] / reference
                    rows.append(row)
            if not options.skip_memory:
                for engine in ENGINES:
                    result = run_worker({
                        "mode": "memory",
                        "threads": 1,
                        "files": files,
                        "engine": engine,
                        "features": features_path,
                        "interpreter": interpreter
                    })
                    row = {"table": "memory", "seq": seq, "engine": engine}
                    row.update(result)
                    rows.append(row)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    setup = setup_info(load_at_start, started, interpreter)
    if options.json:
        for row in rows:
            row["setup"] = setup
            json_out.write(json.dumps(row, sort_keys=True) + "\n")
        json_out.flush()
        return
    print_tables(setup, rows)


def setup_info(load_at_start, started, interpreter):
    return {
        "cpu":
            benchlib.cpu_model(),
        "cpus":
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "tensorflow":
            ".".join(map(str, tf_compat.TF_VERSION)),
        "tensorflow_full":
            tf.VERSION,
        "converter":
            tflite_export.converter_name(),
        "interpreter":
            interpreter,
        "python":
            "%d.%d" % sys.version_info[:2],
        "date":
            datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "commit":
            benchlib.git_commit(),
        "load_average_at_start":
            round(load_at_start, 2),
        "load_average_at_end":
            round(os.getloadavg()[0], 2),
        "wall_s":
            round(time.time() - started, 1)
    }


def print_tables(setup, rows):
    print("%s, TF %s (%s), %s interpreter, Python %s, %s, %s CPUs; "
          "%s, commit %s; load average %.2f at start, %.2f at end; %.0f s" %
          (MODEL_NAME, setup["tensorflow_full"], setup["converter"], setup["interpreter"],
           setup["python"], setup["cpu"], setup["cpus"], setup["date"], setup["commit"],
           setup["load_average_at_start"], setup["load_average_at_end"], setup["wall_s"]))
    print("\nlatency, batch 1 (threads limited by CPU affinity%s)" %
          ("" if tf_compat.IS_TF2 else "; TF 1.15's tf.lite.Interpreter has no thread setting"))
    print("%5s %7s %-19s %10s %10s %8s %6s" %
          ("seq", "threads", "engine", "median_ms", "p90_ms", "vs_tf", "calls"))
    for row in rows:
        if row["table"] == "latency":
            print("%5d %7d %-19s %10.2f %10.2f %8.2f %6d" %
                  (row["seq"], row["threads"], row["engine"], row["median_ms"], row["p90_ms"],
                   row["ratio_to_tf"], row["calls"]))
    memory = [row for row in rows if row["table"] == "memory"]
    if memory:
        print("\npeak RSS growth loading + one call (fresh process each, after importing TF)")
        print("%5s %-16s %14s %14s" % ("seq", "engine", "rss_delta_mb", "rss_after_mb"))
        for row in memory:
            print("%5d %-16s %14.1f %14.1f" %
                  (row["seq"], row["engine"], row["rss_delta_mb"], row["rss_after_mb"]))
    print("\nfiles and accuracy on %s" % os.path.relpath(DEV, ROOT))
    print("%5s %-22s %9s %14s %10s %12s %8s %10s %11s" %
          ("seq", "quantize", "file_mb", "max|diff|_tf", "agree_tf", "agree_float", "num_dev",
           "tf_class1", "tf_margin"))
    for row in rows:
        if row["table"] == "size":
            print(
                "%5d %-22s %9.2f %14s %10s %12s %8s %10s %11s" %
                (row["seq"], row["quantize"], row["file_mb"],
                 "%.3g" % row["max_abs_diff_vs_tf"] if "max_abs_diff_vs_tf" in row else "-",
                 "%.4f" % row["agreement_vs_tf"] if "agreement_vs_tf" in row else "-", "%.4f" %
                 row["agreement_vs_float_tflite"] if "agreement_vs_float_tflite" in row else "-",
                 row.get("num_dev", "-"), "%.3f" % row["tf_class1_rate"] if "tf_class1_rate" in row
                 else "-", "%.4f" % row["tf_median_margin"] if "tf_median_margin" in row else "-"))


if __name__ == "__main__":
    main()
