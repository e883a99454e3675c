# coding=utf-8
"""Benchmark of SQuAD/CMRC2018 feature conversion (squad_data, squad_features).

Generates a synthetic CMRC2018-size training set (default 10,000 questions
over 2,500 Chinese contexts of ~500 characters, with some English words and
numbers mixed in, full-width punctuation and answers at random character
offsets) and a WordPiece vocab covering it, then times, on one process:

* ``read``: reading and checking the JSON;
* ``convert``: tokenisation with character offsets, windows, max-context and
  labels (convert_examples_to_features);
* ``write``: the same plus writing the TFRecord and metadata files
  (load_or_create_features, as run_squad.py does).

Wall-clock and CPU seconds (of this single process) are both reported: CPU
seconds do not depend on other load on the machine.

Prints a table and one JSON line. Example::

    python benchmarks/bench_squad_features.py --contexts=2500 --questions_per_context=4
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import squad_data  # pylint: disable=g-import-not-at-top,wrong-import-position
import squad_features  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenization  # pylint: disable=g-import-not-at-top,wrong-import-position

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
ENGLISH = [
    "albert", "bert", "google", "model", "data", "the", "of", "and", "beijing", "2019", "1980",
    "tensorflow", "python", "cmrc"
]
PUNCTUATION = list(u"，。、；：？！（）《》“”")


def _context(rng, length):
    parts = []
    size = 0
    while size < length:
        roll = rng.random()
        if roll < 0.05:
            word = rng.choice(ENGLISH)
            word = word.capitalize() if rng.random() < 0.3 else word
            piece = u" %s " % word
        elif roll < 0.12:
            piece = rng.choice(PUNCTUATION)
        else:
            piece = rng.choice(CJK)
        parts.append(piece)
        size += len(piece)
    return u"".join(parts)


def generate(path, contexts, questions_per_context, context_chars, seed):
    rng = random.Random(seed)
    paragraphs = []
    for c in range(contexts):
        context = _context(rng, rng.randint(int(context_chars * 0.6), int(context_chars * 1.4)))
        qas = []
        for q in range(questions_per_context):
            length = rng.randint(2, 12)
            start = rng.randrange(len(context) - length)
            end = start + length
            # Answers start and end on word boundaries (never inside an
            # English word), as real answers do.
            while start > 0 and context[start - 1].isascii() and context[start - 1].isalnum():
                start -= 1
            while end < len(context) and context[end].isascii() and context[end].isalnum():
                end += 1
            while context[start].isspace():
                start += 1
            while context[end - 1].isspace():
                end -= 1
            qas.append({
                "id": "c%d-q%d" % (c, q),
                "question": u"".join(rng.choice(CJK) for _ in range(rng.randint(8, 20))),
                "answers": [{
                    "text": context[start:end],
                    "answer_start": start
                }]
            })
        paragraphs.append({"context": context, "qas": qas})
    with io.open(path, "w", encoding="utf-8") as writer:
        json.dump({
            "version": "synthetic",
            "data": [{
                "title": "s",
                "paragraphs": paragraphs
            }]
        }, writer, ensure_ascii=False)


def write_vocab(path):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + CJK + PUNCTUATION + ENGLISH
    tokens += ["##" + t for t in ("s", "ing", "ed")] + list("abcdefghijklmnopqrstuvwxyz0123456789")
    tokens += ["##" + t for t in "abcdefghijklmnopqrstuvwxyz0123456789"]
    with io.open(path, "w", encoding="utf-8") as writer:
        writer.write(u"\n".join(dict.fromkeys(tokens)) + u"\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contexts", type=int, default=2500)
    parser.add_argument("--questions_per_context", type=int, default=4)
    parser.add_argument("--context_chars", type=int, default=500)
    parser.add_argument("--max_seq_length", type=int, default=512)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--max_query_length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="bench_squad_")
    try:
        data = os.path.join(work, "train.json")
        vocab = os.path.join(work, "vocab.txt")
        generate(data, args.contexts, args.questions_per_context, args.context_chars, args.seed)
        write_vocab(vocab)
        tokenizer = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)

        t0, c0 = time.time(), time.process_time()
        examples, _ = squad_data.read_squad_examples(data, True)
        read_s, read_cpu = time.time() - t0, time.process_time() - c0

        t0, c0 = time.time(), time.process_time()
        counts = squad_features.convert_examples_to_features(examples, tokenizer,
                                                             args.max_seq_length, args.doc_stride,
                                                             args.max_query_length, True,
                                                             lambda feature: None)
        convert_s, convert_cpu = time.time() - t0, time.process_time() - c0

        t0, c0 = time.time(), time.process_time()
        _, _, num_features, _ = squad_features.load_or_create_features(
            data, examples, tokenizer, args.max_seq_length, args.doc_stride, args.max_query_length,
            True, False, cache_dir=work)
        write_s, write_cpu = time.time() - t0, time.process_time() - c0

        result = {
            "questions": len(examples),
            "contexts": args.contexts,
            "context_chars": args.context_chars,
            "features": num_features,
            "answers_not_whole": counts.get("answers_not_whole", 0),
            "max_seq_length": args.max_seq_length,
            "doc_stride": args.doc_stride,
            "read_s": round(read_s, 2),
            "convert_s": round(convert_s, 2),
            "convert_and_write_s": round(write_s, 2),
            "read_cpu_s": round(read_cpu, 2),
            "convert_cpu_s": round(convert_cpu, 2),
            "convert_and_write_cpu_s": round(write_cpu, 2),
            "load_avg_1m": os.getloadavg()[0],
            "questions_per_s": round(len(examples) / max(convert_s, 1e-9), 1)
        }
        print("| step | wall s | CPU s |")
        print("|---|---|---|")
        print("| read JSON (%d questions) | %.2f | %.2f |" % (len(examples), read_s, read_cpu))
        print("| convert (%d windows) | %.2f | %.2f |" % (num_features, convert_s, convert_cpu))
        print("| convert + write TFRecord | %.2f | %.2f |" % (write_s, write_cpu))
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
