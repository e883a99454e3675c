# coding=utf-8
"""scripts/make_pair_sample.py: the generator of data/lcqmc_sample."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import filecmp
import importlib
import io
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "make_pair_sample.py")
DATA = os.path.join(ROOT, "data", "lcqmc_sample")
FILES = ("train.txt", "dev.txt", "test.txt", "pretrain_questions.txt")
SMALL = ["--train_pairs=400", "--dev_pairs=60", "--test_pairs=60"]

sys.path.insert(0, os.path.join(ROOT, "scripts"))
make_pair_sample = importlib.import_module("make_pair_sample")
sys.path.pop(0)


def run(*args):
    return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)


def generate(directory, *args):
    result = run("--output_dir=%s" % directory, *args)
    assert result.returncode == 0, result.stderr.decode("utf-8")
    return str(directory)


def read_pairs(path):
    rows = []
    with io.open(path, encoding="utf-8") as reader:
        for line in reader:
            assert line.endswith(u"\n") and not line.endswith(u"\r\n")
            fields = line[:-1].split(u"\t")
            assert len(fields) == 3, line
            assert fields[2] in (u"0", u"1"), line
            rows.append((fields[0], fields[1], int(fields[2])))
    return rows


def read_sample(directory):
    return {
        split: read_pairs(os.path.join(directory, "%s.txt" % split))
        for split in make_pair_sample.SPLITS
    }


def test_help_exits_zero():
    result = run("--help")
    assert result.returncode == 0
    text = result.stdout.decode("utf-8")
    for flag in ("--output_dir", "--random_seed", "--train_pairs", "--dev_pairs", "--test_pairs"):
        assert flag in text


def test_same_seed_same_bytes_other_seed_other_pairs(tmp_path):
    first = generate(tmp_path / "a", "--random_seed=7", *SMALL)
    second = generate(tmp_path / "b", "--random_seed=7", *SMALL)
    other = generate(tmp_path / "c", "--random_seed=8", *SMALL)
    for name in FILES:
        assert filecmp.cmp(os.path.join(first, name), os.path.join(second, name), shallow=False)
    assert not filecmp.cmp(os.path.join(first, "train.txt"), os.path.join(other, "train.txt"),
                           shallow=False)


def test_layout_sizes_balance_and_hand_written_pairs_first(tmp_path):
    sample = read_sample(generate(tmp_path, *SMALL))
    sizes = {"train": 400, "dev": 60, "test": 60}
    for split, pairs in sample.items():
        hand_written = make_pair_sample.HANDWRITTEN[split]
        assert len(pairs) == len(hand_written) + sizes[split]
        assert pairs[:len(hand_written)] == [tuple(p) for p in hand_written]
        positives = sum(label for _, _, label in pairs)
        assert 0.4 <= positives / len(pairs) <= 0.6
        for a, b, _ in pairs:
            assert a != b
            assert 4 <= len(a) <= 20 and 4 <= len(b) <= 20, (a, b)


def test_no_pair_in_two_splits_and_held_out_entities_stay_out_of_train(tmp_path):
    directory = generate(tmp_path, *SMALL)
    sample = read_sample(directory)
    seen = {}
    for split, pairs in sample.items():
        for a, b, _ in pairs:
            key = (min(a, b), max(a, b))
            assert seen.setdefault(key, split) == split, (key, seen[key], split)
    with io.open(os.path.join(directory, "pretrain_questions.txt"), encoding="utf-8") as reader:
        corpus = reader.read()
    train_text = u"\n".join(a + u"\t" + b for a, b, _ in sample["train"])
    for split in ("dev", "test"):
        held_out = make_pair_sample.held_out_entities(split)
        assert held_out
        for entity in held_out:
            assert entity not in train_text and entity not in corpus, entity
        # Every generated pair of the split is about one of its held-out entities.
        hand_written = len(make_pair_sample.HANDWRITTEN[split])
        for a, b, _ in sample[split][hand_written:]:
            assert any(e in a or e in b for e in held_out), (a, b)
    # Dev and test have entities of their own.
    assert not set(make_pair_sample.held_out_entities("dev")) & set(
        make_pair_sample.held_out_entities("test"))


def test_pairs_follow_their_labels():
    sentences = make_pair_sample.check_tables()
    sample = make_pair_sample.make_sample(3, {"train": 300, "dev": 40, "test": 40})
    kinds = set()
    for split, pairs in sample.items():
        for a, b, label in pairs[len(make_pair_sample.HANDWRITTEN[split]):]:
            topic_a, entity_a, intent_a = sentences[a]
            topic_b, entity_b, intent_b = sentences[b]
            same = (entity_a, intent_a) == (entity_b, intent_b)
            assert same == (label == 1), (a, b, label)
            if not same:
                kinds.add("same entity" if entity_a == entity_b else "same intent" if (
                    topic_a,
                    intent_a) == (topic_b,
                                  intent_b) else "other topic" if topic_a != topic_b else "other")
    assert {"same entity", "same intent", "other topic"} <= kinds


def test_committed_sample_is_the_generator_output(tmp_path):
    directory = generate(tmp_path)
    for name in FILES:
        assert filecmp.cmp(os.path.join(directory, name), os.path.join(DATA, name),
                           shallow=False), name


def test_impossible_size_is_a_one_line_error(tmp_path):
    result = run("--output_dir=%s" % tmp_path, "--train_pairs=100000")
    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert stderr.startswith("error: train: only ") and "Traceback" not in stderr
    assert not os.listdir(str(tmp_path))


def test_tables_are_consistent():
    with pytest.raises(make_pair_sample.SampleError, match="must be >= 0"):
        make_pair_sample.make_sample(1, {"dev": -1})
    sentences = make_pair_sample.check_tables()
    assert len(sentences) > 5000


def test_unwritable_output_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text(u"not a directory")
    result = run("--output_dir=%s" % (blocker / "sample"), *SMALL)
    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert stderr.startswith("error: ") and str(blocker) in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
