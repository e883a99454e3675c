# coding=utf-8
"""Benchmark of create_pretraining_data.py: MB/s, instances/s, peak memory.

Runs the real script as a subprocess once per worker count and prints a table
and one JSON line. Throughput is measured on the wall clock of the whole run
(start-up, TensorFlow import and all `--dupe_factor` passes included), in MB
of input corpus per second. Peak memory is sampled from /proc every 50 ms:
`peak_rss_mb` is the largest sum over the process tree (main + workers),
`peak_rss_single_mb` the largest single process. `cpu_seconds` (user + system
of the whole process tree) and `mb_per_cpu_s` do not depend on other load on
the machine; `load_avg_1m` is the 1-minute load average at the end of the run
(above the number of cores, other processes were competing for them).

Example (the setting of benchmarks/RESULTS.md, on a few MB of public Chinese text)::

    python benchmarks/bench_create_pretraining_data.py \
        --input_file='/path/to/corpus_zh/*.txt' --max_mb=5 \
        --vocab_file=/path/to/bert-base-chinese-vocab.txt

Without --vocab_file a vocab is built from the corpus with build_vocab.py.
For comparison: brightmart's script, jieba WWM, seq 128, max_pred 20,
dupe 10, did 0.024 MB/s on a 2-vCPU machine (benchmarks/RESULTS.md).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRIGHTMART_MB_PER_S = 0.024


def _tree_rss_kb(root_pid):
    """(sum, max) of VmRSS in kB over `root_pid` and its descendants."""
    children = {}
    rss = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name) as reader:
                status = reader.read()
        except (IOError, OSError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        value = fields.get("VmRSS", "0 kB").strip().split()[0]
        rss[pid] = int(value) if value.isdigit() else 0
    total = 0
    largest = 0
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        stack.extend(children.get(pid, []))
    return total, largest


def _prepare_corpus(work_dir):
    files = []
    for pattern in FLAGS.input_file.split(","):
        files.extend(sorted(glob.glob(pattern.strip())))
    if not files:
        raise app.UsageError("no file matches %s" % FLAGS.input_file)
    if FLAGS.max_mb <= 0:
        return files
    limit = int(FLAGS.max_mb * 1e6)
    path = os.path.join(work_dir, "corpus.txt")
    written = 0
    with open(path, "wb") as writer:
        for name in files:
            with open(name, "rb") as reader:
                for line in reader:
                    if written + len(line) > limit:
                        break
                    writer.write(line)
                    written += len(line)
            if written + 1 > limit:
                break
            writer.write(b"\n")
            written += 1
    return [path]


def _run_once(corpus, vocab_file, output, num_workers):
    command = [
        sys.executable,
        os.path.join(ROOT, "create_pretraining_data.py"),
        "--input_file=%s" % ",".join(corpus),
        "--output_file=%s" % output,
        "--vocab_file=%s" % vocab_file,
        "--max_seq_length=%d" % FLAGS.max_seq_length,
        "--max_predictions_per_seq=%d" % FLAGS.max_predictions_per_seq,
        "--dupe_factor=%d" % FLAGS.dupe_factor, "--do_whole_word_mask=true",
        "--num_workers=%d" % num_workers,
        "--jieba_hmm=%s" % str(FLAGS.jieba_hmm).lower()
    ]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak_total = 0
    peak_single = 0
    stderr_chunks = []
    while process.poll() is None:
        total, single = _tree_rss_kb(process.pid)
        peak_total = max(peak_total, total)
        peak_single = max(peak_single, single)
        time.sleep(0.05)
    elapsed = time.time() - start
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (usage_after.ru_utime + usage_after.ru_stime - usage_before.ru_utime -
                   usage_before.ru_stime)
    stderr_chunks.append(process.stderr.read().decode("utf-8", "replace"))
    if process.returncode:
        sys.stderr.write("".join(stderr_chunks)[-3000:])
        raise RuntimeError("create_pretraining_data.py failed")
    with open(output + ".json") as reader:
        summary = json.load(reader)
    megabytes = summary["input_bytes"] / 1e6
    return {
        "num_workers": num_workers,
        "corpus_mb": round(megabytes, 3),
        "documents": summary["documents"],
        "instances": summary["instances"],
        "wall_seconds": round(elapsed, 2),
        "mb_per_s": round(megabytes / elapsed, 4),
        "instances_per_s": round(summary["instances"] / elapsed, 1),
        "speedup_vs_brightmart": round(megabytes / elapsed / BRIGHTMART_MB_PER_S, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "mb_per_cpu_s": round(megabytes / cpu_seconds, 4),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(peak_total / 1024.0, 1),
        "peak_rss_single_mb": round(peak_single / 1024.0, 1),
    }


def main(argv):
    del argv
    work_dir = tempfile.mkdtemp(prefix="bench_cpd_")
    try:
        corpus = _prepare_corpus(work_dir)
        vocab_file = FLAGS.vocab_file
        if not vocab_file:
            vocab_file = os.path.join(work_dir, "vocab.txt")
            subprocess.check_call([
                sys.executable,
                os.path.join(ROOT, "build_vocab.py"),
                "--input_file=%s" % ",".join(corpus),
                "--output_file=%s" % vocab_file, "--vocab_size=21128"
            ], stderr=subprocess.DEVNULL)
        rows = []
        for workers in FLAGS.workers.split(","):
            output = os.path.join(work_dir, "out-w%s.tfrecord" % workers)
            rows.append(_run_once(corpus, vocab_file, output, int(workers)))
        columns = [
            "num_workers", "corpus_mb", "instances", "wall_seconds", "mb_per_s", "instances_per_s",
            "speedup_vs_brightmart", "cpu_seconds", "mb_per_cpu_s", "load_avg_1m", "peak_rss_mb",
            "peak_rss_single_mb"
        ]
        print("create_pretraining_data: dupe_factor=%d max_seq_length=%d "
              "max_predictions_per_seq=%d, whole-word masking (jieba, "
              "hmm=%s), Python %s, %d cores" %
              (FLAGS.dupe_factor, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
               FLAGS.jieba_hmm, sys.version.split()[0], os.cpu_count() or 1))
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(str(row[c]) for c in columns))
        print(
            json.dumps({
                "benchmark": "create_pretraining_data",
                "dupe_factor": FLAGS.dupe_factor,
                "max_seq_length": FLAGS.max_seq_length,
                "max_predictions_per_seq": FLAGS.max_predictions_per_seq,
                "jieba_hmm": FLAGS.jieba_hmm,
                "python": sys.version.split()[0],
                "baseline_mb_per_s": BRIGHTMART_MB_PER_S,
                "results": rows
            }))
    finally:
        if FLAGS.keep_outputs:
            print("outputs kept in %s" % work_dir)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    flags.DEFINE_string("input_file", os.path.join(ROOT, "data", "sample_zh.txt"),
                        "Corpus: comma-separated globs.")
    flags.DEFINE_float(
        "max_mb", 0.0, "If > 0, use only the first MB of the "
        "corpus (whole lines, files in sorted order).")
    flags.DEFINE_string("vocab_file", None, "WordPiece vocab (default: built "
                        "from the corpus).")
    flags.DEFINE_string("workers", "1,2", "Comma-separated --num_workers values.")
    flags.DEFINE_integer("dupe_factor", 10, "--dupe_factor.")
    flags.DEFINE_integer("max_seq_length", 128, "--max_seq_length.")
    flags.DEFINE_integer("max_predictions_per_seq", 20, "--max_predictions_per_seq.")
    flags.DEFINE_bool("keep_outputs", False, "Keep the temporary directory.")
    flags.DEFINE_bool("jieba_hmm", True, "--jieba_hmm.")
    FLAGS = flags.FLAGS
    app.run(main)
