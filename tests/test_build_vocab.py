# coding=utf-8
"""Tests of build_vocab.py: WordPiece vocab.txt and SentencePiece training."""

import collections
import io
import os
import subprocess
import sys

import pytest

import build_vocab
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ZH = os.path.join(ROOT, "data", "sample_zh.txt")
SAMPLE_EN = os.path.join(ROOT, "data", "sample_en.txt")


def _run(args):
    return subprocess.run([sys.executable] + args, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def test_wordpiece_vocab_loads_with_chinese_bert_ids(tmp_path):
    output = str(tmp_path / "vocab.txt")
    result = _run([
        "build_vocab.py",
        "--input_file=%s,%s" % (SAMPLE_ZH, SAMPLE_EN),
        "--output_file=%s" % output, "--vocab_size=3000"
    ])
    assert result.returncode == 0, result.stderr[-2000:]
    tokenizer = tokenization.FullTokenizer(vocab_file=output)
    vocab = tokenizer.vocab
    assert vocab["[PAD]"] == 0
    assert vocab["[unused1]"] == 1 and vocab["[unused99]"] == 99
    assert (vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"]) == (100, 101, 102, 103)
    assert len(vocab) <= 3000
    # Every line of both corpora tokenizes without [UNK].
    for path in (SAMPLE_ZH, SAMPLE_EN):
        for line in io.open(path, encoding="utf-8"):
            assert tokenization.UNK not in tokenizer.tokenize(line), line
    # Frequent characters come first; frequent English words became pieces.
    assert vocab["，"] < vocab["猫"]
    assert "the" in vocab and "##e" in vocab
    assert "##猫" not in vocab


def test_small_vocab_size_gives_up_unused_slots_first():
    counts = collections.Counter({u"猫": 5, u"狗": 3, u"cat": 4, u"dog": 2})
    tokens = build_vocab.build_wordpiece_vocab(counts, 20, num_unused=99)
    assert len(tokens) <= 20
    assert tokens[0] == "[PAD]"
    assert tokens.count("[CLS]") == 1
    alphabet = [u"猫", u"c", u"狗", u"d", u"##a", u"##t", u"##o", u"##g"]
    assert all(char in tokens for char in alphabet)
    unused = [t for t in tokens if t.startswith("[unused")]
    assert len(unused) == 20 - 5 - len(alphabet)
    too_small = build_vocab.build_wordpiece_vocab(counts, 8, num_unused=99)
    assert len(too_small) == 8
    assert not any(t.startswith("[unused") for t in too_small)
    assert too_small[5] == u"猫"
    with pytest.raises(build_vocab.UserError):
        build_vocab.build_wordpiece_vocab(counts, 3)
    with pytest.raises(build_vocab.UserError, match="empty"):
        build_vocab.build_wordpiece_vocab(collections.Counter(), 100)


def test_learn_word_pieces_merges_frequent_pairs():
    pieces = build_vocab.learn_word_pieces({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 10)
    assert pieces[0] in ("##es", "##st")
    assert "##est" in pieces
    assert "low" in pieces
    assert build_vocab.learn_word_pieces({"ab": 1}, 10) == []


def test_cjk_continuation_forms_option():
    counts = collections.Counter({u"猫": 5, u"cat": 4})
    tokens = build_vocab.build_wordpiece_vocab(counts, 200, cjk_continuation_forms=True)
    assert u"##猫" in tokens


def test_sentencepiece_training_without_tensorflow(tmp_path):
    model = str(tmp_path / "sp.model")
    code = ("import sys, build_vocab\n"
            "build_vocab.train_sentencepiece([%r, %r], %r, 1500)\n"
            "assert 'tensorflow' not in sys.modules\n" % (SAMPLE_ZH, SAMPLE_EN, model))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(str(tmp_path / "sp.vocab"))
    tokenizer = tokenization.FullTokenizer(spm_model_file=model)
    vocab = tokenizer.vocab
    assert vocab["<pad>"] == 0 and vocab["<unk>"] == 1
    assert (vocab["[CLS]"], vocab["[SEP]"], vocab["[MASK]"]) == (2, 3, 4)
    assert tokenizer.sp_model.IsControl(vocab["[MASK]"])
    assert len(vocab) == 1500
    pieces = tokenizer.tokenize(u"我们去菜市场买菜。The bakery opens at six.")
    assert pieces and "<unk>" not in pieces


def test_sentencepiece_errors_are_one_line(tmp_path):
    result = _run([
        "build_vocab.py",
        "--input_file=%s" % SAMPLE_ZH,
        "--output_file=%s" % (tmp_path / "sp.model"), "--vocab_type=sentencepiece",
        "--vocab_size=50"
    ])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: SentencePiece training failed")
    assert "Traceback" not in result.stderr
    assert not os.path.exists(str(tmp_path / "sp.model"))


def test_errors(tmp_path):
    result = _run([
        "build_vocab.py",
        "--input_file=%s" % (tmp_path / "no*"),
        "--output_file=%s" % (tmp_path / "v.txt")
    ])
    assert result.returncode == 1
    assert "error: --input_file: no file matches" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"\n\xff\xfe\n")
    with pytest.raises(build_vocab.UserError, match="empty"):
        build_vocab.write_wordpiece_vocab([str(empty)], str(tmp_path / "v.txt"), 100)
    assert not os.path.exists(str(tmp_path / "v.txt"))
