# coding=utf-8
"""Tests of create_pretraining_data.py: masking, SOP, determinism, errors."""

import collections
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import build_vocab
import create_pretraining_data as cpd
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ZH = os.path.join(ROOT, "data", "sample_zh.txt")
SAMPLE_EN = os.path.join(ROOT, "data", "sample_en.txt")


def _write_vocab(path, tokens):
    with io.open(path, "w", encoding="utf-8", newline="\n") as writer:
        for token in tokens:
            writer.write(token + "\n")
    return str(path)


@pytest.fixture(scope="module")
def zh_vocab(tmp_path_factory):
    """A vocab built from the sample corpus, with "##" forms of CJK chars too.

    The "##" + CJK entries exist so that the tests would notice if the
    generator used them anywhere.
    """
    counts = build_vocab.count_words(build_vocab.iter_lines([SAMPLE_ZH]))
    tokens = build_vocab.build_wordpiece_vocab(counts, 5000, cjk_continuation_forms=True)
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    return _write_vocab(path, tokens)


@pytest.fixture(scope="module")
def zh_generator(zh_vocab):
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=12, random_seed=7)
    return cpd.InstanceGenerator(options)


def _units(generator, path, max_unit_chars=cpd.MAX_UNIT_CHARS):
    raws = list(cpd.read_units([path], {}, max_unit_chars))
    return [
        generator.prepare_unit(raw.lines, raw.index, raw.is_document_start, raw.source,
                               raw.first_line) for raw in raws
    ]


def _all_instances(generator, units):
    instances = []
    for pass_index in range(generator.options.dupe_factor):
        for unit in units:
            instances.extend(generator.create_instances(unit, pass_index)[0])
    return instances


@pytest.fixture(scope="module")
def zh_instances(zh_generator):
    return _all_instances(zh_generator, _units(zh_generator, SAMPLE_ZH))


def _words(boundary):
    """Position -> (begin, end) of its word, from token_boundary."""
    spans = {}
    begin = 0
    for position in range(1, len(boundary) + 1):
        if position == len(boundary) or boundary[position]:
            for k in range(begin, position):
                spans[k] = (begin, position)
            begin = position
    return spans


# ---------------------------------------------------------------------------
# Tokenization and segmentation.
# ---------------------------------------------------------------------------


def test_fast_tokenization_equals_full_tokenizer(zh_generator):
    tokenizer = zh_generator.tokenizer
    lines = [line.strip() for line in io.open(SAMPLE_ZH, encoding="utf-8")]
    lines += [
        u"Hello世界，ABC123测试 app", u"e\u0301t\u00e9中文ＡＢＣ", u"\u4e00\U00020000\uf900丽",
        u"  空格  与\t制表符 ", u"\u200b零宽", u"龘靐齉 unknown-chars 𠀀"
    ]
    for line in lines:
        expected = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
        assert zh_generator.tokenize_line(line)[0] == expected, line


@pytest.mark.parametrize("hmm", [True, False])
def test_jieba_words_are_whole_units(zh_vocab, hmm):
    import jieba  # pylint: disable=g-import-not-at-top
    zh_generator = cpd.InstanceGenerator(cpd.make_options(vocab_file=zh_vocab, jieba_hmm=hmm))
    line = u"我们小区里住着好几只流浪猫，最有名的是一只橘色的大胖猫。"
    ids, starts = zh_generator.tokenize_line(line)
    tokens = zh_generator.tokenizer.convert_ids_to_tokens(ids)
    words = []
    for token, start in zip(tokens, starts):
        if start:
            words.append(token)
        else:
            words[-1] += token
    expected = jieba.lcut(line, HMM=hmm)
    assert words == expected
    assert any(len(word) >= 3 for word in words)


# ---------------------------------------------------------------------------
# Masking invariants on real jieba segmentations.
# ---------------------------------------------------------------------------


def test_labels_are_the_original_plain_ids(zh_generator, zh_instances):
    inv = zh_generator.tokenizer.inv_vocab
    is_cjk = tokenization._is_chinese_char  # pylint: disable=protected-access
    assert any(token.startswith("##") and is_cjk(ord(token[2])) for token in inv.values())
    assert len(zh_instances) > 300
    for instance in zh_instances:
        positions = instance.masked_lm_positions
        assert positions == sorted(set(positions))
        assert instance.masked_lm_ids == [instance.original_ids[k] for k in positions]
        masked = set(positions)
        for k, (before, after) in enumerate(zip(instance.original_ids, instance.input_ids)):
            if k not in masked:
                assert before == after
        for token_id in instance.input_ids + instance.masked_lm_ids:
            token = inv[token_id]
            if token.startswith("##"):
                assert not is_cjk(ord(token[2])), token


def test_random_replacements_are_real_tokens(zh_generator, zh_instances):
    inv = zh_generator.tokenizer.inv_vocab
    replaced = 0
    for instance in zh_instances:
        for k in instance.masked_lm_positions:
            token_id = instance.input_ids[k]
            if token_id in (zh_generator.mask_id, instance.original_ids[k]):
                continue
            replaced += 1
            token = inv[token_id]
            assert not token.startswith("##")
            assert not (token.startswith("[") and token.endswith("]")), token
    assert replaced > 20


def test_masked_words_are_whole_and_decided_once(zh_generator, zh_instances):
    mask_id = zh_generator.mask_id
    multi_char_words = 0
    for instance in zh_instances:
        words = _words(instance.token_boundary)
        masked = set(instance.masked_lm_positions)
        for k in masked:
            begin, end = words[k]
            assert all(p in masked for p in range(begin, end))
            states = set(instance.input_ids[p] == mask_id for p in range(begin, end))
            assert len(states) == 1
            if end - begin > 1:
                multi_char_words += 1
    assert multi_char_words > 100


def test_prediction_budget(zh_generator, zh_instances):
    options = zh_generator.options
    full = 0
    for instance in zh_instances:
        budget = min(options.max_predictions_per_seq,
                     max(1, int(round(len(instance.original_ids) * options.masked_lm_prob))))
        assert 1 <= len(instance.masked_lm_positions) <= budget
        full += len(instance.masked_lm_positions) == budget
    assert full > 0.9 * len(zh_instances)


def test_80_10_10_per_word(zh_instances):
    actions = collections.Counter()
    for instance in zh_instances:
        actions.update(instance.word_actions)
    total = float(sum(actions.values()))
    assert total > 3000
    assert abs(actions["mask"] / total - 0.8) < 0.03
    assert abs(actions["keep"] / total - 0.1) < 0.025
    assert abs(actions["random"] / total - 0.1) < 0.025


def test_ngram_length_distribution(zh_generator, zh_instances):
    expected = cpd.ngram_probabilities(3, True)
    assert expected == pytest.approx([6 / 11., 3 / 11., 2 / 11.])
    sampled = collections.Counter()
    used = collections.Counter()
    for instance in zh_instances:
        for n_sampled, n_used, _ in instance.spans:
            sampled[n_sampled] += 1
            assert n_used <= n_sampled
            if n_used:
                used[n_used] += 1
    total = float(sum(sampled.values()))
    assert total > 3000
    for n in (1, 2, 3):
        assert abs(sampled[n] / total - expected[n - 1]) < 0.03
    # Accepted spans: shortened near the budget, so shorter ones dominate.
    assert used[1] > used[2] > used[3] > 0
    reversed_probabilities = cpd.ngram_probabilities(3, False)
    assert reversed_probabilities == pytest.approx(expected[::-1])


def test_without_whole_word_mask_single_tokens(zh_vocab):
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1, do_whole_word_mask=False,
                               ngram=1)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, SAMPLE_ZH))
    for instance in instances:
        for n_sampled, n_used, length in instance.spans:
            assert n_sampled == 1 and length in (0, 1)


def test_masked_lm_prob_zero(zh_vocab):
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1, masked_lm_prob=0.0)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, SAMPLE_ZH))
    assert instances
    assert all(not i.masked_lm_positions for i in instances)


# ---------------------------------------------------------------------------
# SOP.
# ---------------------------------------------------------------------------


def _ordered_corpus(tmp_path, doc_lengths, line_length=7):
    """Documents of lines of distinct CJK characters in code-point order."""
    code = 0x4E00
    docs = []
    for num_lines in doc_lengths:
        doc = []
        for _ in range(num_lines):
            doc.append(u"".join(chr(code + k) for k in range(line_length)))
            code += line_length
        docs.append(doc)
    text = u"\n\n".join(u"\n".join(doc) for doc in docs) + u"\n"
    corpus = tmp_path / "ordered.txt"
    corpus.write_text(text, encoding="utf-8")
    chars = [chr(c) for c in range(0x4E00, code)]
    vocab = _write_vocab(tmp_path / "ordered_vocab.txt",
                         ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars)
    doc_of = {}
    for index, doc in enumerate(docs):
        for line in doc:
            for char in line:
                doc_of[char] = index
    return str(corpus), vocab, doc_of


def _segments(generator, instance):
    tokens = generator.tokenizer.convert_ids_to_tokens(instance.original_ids)
    a = [t for t, s in zip(tokens, instance.segment_ids) if s == 0][1:-1]
    b = [t for t, s in zip(tokens, instance.segment_ids) if s == 1][:-1]
    return a, b


@pytest.mark.parametrize("short_seq_prob", [0.0, 0.5])
def test_sop_order_and_labels(tmp_path, short_seq_prob):
    corpus, vocab, doc_of = _ordered_corpus(tmp_path, [1, 2, 5, 12, 30, 3])
    options = cpd.make_options(vocab_file=vocab, max_seq_length=40, dupe_factor=20,
                               short_seq_prob=short_seq_prob)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, corpus))
    labels = collections.Counter()
    for instance in instances:
        a, b = _segments(generator, instance)
        assert a and b
        assert not set(a) & set(b)
        assert a == sorted(a) and b == sorted(b)
        assert len(set(doc_of[c] for c in a + b)) == 1
        if instance.label == 0:
            assert a[-1] < b[0]
        else:
            assert b[-1] < a[0]
        labels[instance.label] += 1
    total = float(sum(labels.values()))
    assert total > 200
    assert 0.4 < labels[0] / total < 0.6


def test_single_long_line_is_split_not_dropped(tmp_path):
    chars = [chr(0x4E00 + k) for k in range(309)]
    long_line, short_line = u"".join(chars[:300]), u"".join(chars[300:])
    corpus = tmp_path / "long.txt"
    corpus.write_text(long_line + u"\n\n" + short_line + u"\n", encoding="utf-8")
    vocab = _write_vocab(tmp_path / "v.txt", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars)
    options = cpd.make_options(vocab_file=vocab, max_seq_length=64, dupe_factor=3,
                               short_seq_prob=0.0)
    generator = cpd.InstanceGenerator(options)
    units = _units(generator, str(corpus))
    assert [kind for kind, _ in units[0].notes] == ["long_line"]
    assert "long.txt:1: line of 300 tokens" in units[0].notes[0][1]
    assert not units[1].notes
    for pass_index in range(3):
        seen = collections.Counter()
        for unit in units:
            for instance in generator.create_instances(unit, pass_index)[0]:
                a, b = _segments(generator, instance)
                assert a and b
                seen.update(a + b)
        # Every character exactly once: nothing duplicated, nothing dropped.
        assert seen == collections.Counter(chars)


def test_random_next_sentence_uses_other_documents(tmp_path):
    corpus, vocab, doc_of = _ordered_corpus(tmp_path, [6, 6, 6, 6])
    options = cpd.make_options(vocab_file=vocab, max_seq_length=40, dupe_factor=10,
                               random_next_sentence=True)
    generator = cpd.InstanceGenerator(options)
    units = _units(generator, corpus)
    labels = collections.Counter()
    for pass_index in range(10):
        for unit in units:
            others = [u for u in units if u is not unit]
            for instance in generator.create_instances(unit, pass_index, others)[0]:
                a, b = _segments(generator, instance)
                same_doc = doc_of[a[0]] == doc_of[b[0]]
                assert same_doc == (instance.label == 0)
                if instance.label == 0:
                    assert a[-1] < b[0]
                labels[instance.label] += 1
    assert labels[0] > 20 and labels[1] > 20


# ---------------------------------------------------------------------------
# Serialization, pipeline, determinism, round trip.
# ---------------------------------------------------------------------------


def test_encoder_matches_protobuf(zh_generator, zh_instances):
    from tf_compat import tf  # pylint: disable=g-import-not-at-top
    options = zh_generator.options
    for instance in zh_instances[:50]:
        seq, pred = options.max_seq_length, options.max_predictions_per_seq
        pad = seq - len(instance.input_ids)
        npred = len(instance.masked_lm_positions)

        def ints(values):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

        expected = tf.train.Example(features=tf.train.Features(
            feature={
                "input_ids":
                    ints(instance.input_ids + [0] * pad),
                "input_mask":
                    ints([1] * len(instance.input_ids) + [0] * pad),
                "segment_ids":
                    ints(instance.segment_ids + [0] * pad),
                "token_boundary":
                    ints(instance.token_boundary + [0] * pad),
                "masked_lm_positions":
                    ints(instance.masked_lm_positions + [0] * (pred - npred)),
                "masked_lm_ids":
                    ints(instance.masked_lm_ids + [0] * (pred - npred)),
                "masked_lm_weights":
                    tf.train.Feature(float_list=tf.train.FloatList(value=[1.0] * npred + [0.0] *
                                                                   (pred - npred))),
                "next_sentence_labels":
                    ints([instance.label]),
            }))
        parsed = tf.train.Example.FromString(zh_generator.serialize(instance))
        assert parsed == expected


def _run_pipeline(tmp_path, vocab, name, num_workers, **kwargs):
    options = cpd.make_options(vocab_file=vocab, dupe_factor=2, random_seed=3, **kwargs)
    outputs = [str(tmp_path / ("%s-%d.tfrecord" % (name, k))) for k in range(2)]
    summary = cpd.create_pretraining_data([SAMPLE_ZH], outputs, options, num_workers=num_workers,
                                          shuffle_buffer_size=100, log_examples=1)
    return outputs, summary


def test_same_bytes_for_one_and_two_workers_and_tf_data_round_trip(tmp_path, zh_vocab):
    out1, summary1 = _run_pipeline(tmp_path, zh_vocab, "w1", 1)
    out2, summary2 = _run_pipeline(tmp_path, zh_vocab, "w2", 2)
    for first, second in zip(out1, out2):
        with open(first, "rb") as f1, open(second, "rb") as f2:
            assert f1.read() == f2.read()
    assert summary1["instances"] == summary2["instances"] > 100
    assert sum(summary1["instances_per_output"]) == summary1["instances"]
    with open(out1[0] + ".json") as reader:
        on_disk = json.load(reader)
    assert on_disk["documents"] == 21
    assert on_disk["options"]["dupe_factor"] == 2
    assert on_disk["masked_tokens"] > 0
    leftovers = [name for name in os.listdir(str(tmp_path)) if ".tmp-" in name]
    assert not leftovers

    from tf_compat import tf  # pylint: disable=g-import-not-at-top
    spec = cpd.feature_spec(128, 20)
    dataset = tf.data.TFRecordDataset(out1).map(
        lambda record: tf.io.parse_single_example(record, spec))
    next_element = tf.data.make_one_shot_iterator(dataset).get_next()
    count = 0
    vocab_size = len(tokenization.load_vocab(zh_vocab))
    with tf.Session() as session:
        while True:
            try:
                example = session.run(next_element)
            except tf.errors.OutOfRangeError:
                break
            count += 1
            length = int(example["input_mask"].sum())
            assert example["input_ids"].shape == (128,)
            assert (example["input_ids"][length:] == 0).all()
            assert (example["input_ids"][:length] > 0).all()
            assert (example["input_ids"] < vocab_size).all()
            weights = example["masked_lm_weights"]
            npred = int(weights.sum())
            assert npred >= 1
            assert (example["masked_lm_positions"][:npred] < length).all()
            assert (example["masked_lm_ids"][npred:] == 0).all()
            assert example["next_sentence_labels"].shape == (1,)
            assert example["token_boundary"][0] == 1
    assert count == summary1["instances"]


def test_seed_changes_output(tmp_path, zh_vocab):
    out_a, _ = _run_pipeline(tmp_path, zh_vocab, "a", 1)
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=2, random_seed=4)
    out_b = [str(tmp_path / "b.tfrecord")]
    cpd.create_pretraining_data([SAMPLE_ZH], out_b, options)
    with open(out_a[0], "rb") as f1, open(out_b[0], "rb") as f2:
        assert f1.read() != f2.read()


def test_non_chinese_mode(tmp_path):
    counts = build_vocab.count_words(build_vocab.iter_lines([SAMPLE_EN]))
    tokens = build_vocab.build_wordpiece_vocab(counts, 600, min_frequency=2)
    vocab = _write_vocab(tmp_path / "en_vocab.txt", tokens)
    options = cpd.make_options(vocab_file=vocab, non_chinese=True, dupe_factor=3)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, SAMPLE_EN))
    assert len(instances) > 5
    inv = generator.tokenizer.inv_vocab
    for instance in instances:
        words = _words(instance.token_boundary)
        masked = set(instance.masked_lm_positions)
        for k, token_id in enumerate(instance.original_ids):
            if inv[token_id].startswith("##"):
                assert not instance.token_boundary[k]
        for k in masked:
            begin, end = words[k]
            assert all(p in masked for p in range(begin, end))


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------


def test_no_file_matched_is_a_user_error(tmp_path):
    with pytest.raises(cpd.UserError, match="no file matches .*nothing"):
        cpd.expand_input_patterns(str(tmp_path / "nothing*.txt"))


def test_empty_corpus_leaves_no_output(tmp_path, zh_vocab):
    corpus = tmp_path / "empty.txt"
    corpus.write_text(u"\n  \n\n", encoding="utf-8")
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1)
    output = str(tmp_path / "out.tfrecord")
    with pytest.raises(cpd.UserError, match="corpus is empty"):
        cpd.create_pretraining_data([str(corpus)], [output], options)
    assert os.listdir(str(tmp_path)) == ["empty.txt"]


def test_undecodable_and_long_lines_are_reported(tmp_path, zh_vocab, caplog):
    good = u"今天天气很好，我们去公园散步。\n阳光照在湖面上，闪闪发亮。\n"
    data = (good.encode("utf-8") + b"\xff\xfe broken \xc3\n" +
            (u"长" * 300 + u"\n").encode("utf-8") + good.encode("utf-8"))
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes(data)
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1)
    output = str(tmp_path / "out.tfrecord")
    summary = cpd.create_pretraining_data([str(corpus)], [output], options)
    assert summary["undecodable_lines_skipped"] == 1
    assert summary["long_lines_split"] == 1
    assert summary["instances"] > 0
    text = caplog.text
    assert "bad.txt:3: not valid UTF-8" in text
    assert "bad.txt:4: line of 300 tokens" in text


def test_bad_options():
    with pytest.raises(cpd.UserError, match="vocab_file"):
        cpd.make_options()
    with pytest.raises(cpd.UserError, match="max_seq_length"):
        cpd.make_options(vocab_file="v", max_seq_length=3)


def test_missing_special_token(tmp_path):
    vocab = _write_vocab(tmp_path / "v.txt", ["[PAD]", "[UNK]", "a", "b"])
    with pytest.raises(cpd.UserError, match=r"no \[CLS\]"):
        cpd.InstanceGenerator(cpd.make_options(vocab_file=vocab))


def _run_script(args, cwd=ROOT, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable] + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def test_script_one_line_errors(tmp_path, zh_vocab):
    result = _run_script([
        "create_pretraining_data.py",
        "--input_file=%s" % (tmp_path / "missing*.txt"),
        "--output_file=%s" % (tmp_path / "o.tfrecord"),
        "--vocab_file=%s" % zh_vocab
    ])
    assert result.returncode == 1
    assert "error: --input_file: no file matches" in result.stderr
    assert "Traceback" not in result.stderr
    result = _run_script([
        "create_pretraining_data.py", "--input_file=x", "--output_file=y", "--vocab_file=z",
        "--no_such_flag=1"
    ])
    assert result.returncode != 0
    assert "no_such_flag" in result.stderr


def test_shell_recipe_runs(tmp_path):
    result = subprocess.run(["bash", os.path.join(ROOT, "create_pretrain_data.sh")],
                            env=dict(os.environ, PYTHON=sys.executable,
                                     OUTPUT_DIR=str(tmp_path / "recipe"), DUPE_FACTOR="1",
                                     NUM_WORKERS="2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    output = tmp_path / "recipe" / "tf_examples.tfrecord"
    assert output.exists() and output.stat().st_size > 0
    with open(str(output) + ".json") as reader:
        summary = json.load(reader)
    assert summary["instances"] > 0
    vocab = tokenization.load_vocab(str(tmp_path / "recipe" / "vocab.txt"))
    assert vocab["[CLS]"] == 101


def test_identical_neighbour_lines_never_give_a_equal_b(tmp_path, zh_vocab):
    corpus = tmp_path / "repeat.txt"
    corpus.write_text(u"好的。\n好的。\n好的。\n好的。\n", encoding="utf-8")
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=5, max_seq_length=9)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, str(corpus)))
    for instance in instances:
        a, b = _segments(generator, instance)
        assert a != b
    assert generator.identical_pairs_skipped > 0


def test_units_of_a_long_document_share_the_document(tmp_path):
    corpus = tmp_path / "doc.txt"
    corpus.write_text(u"\n".join([u"第%d行的内容。" % k for k in range(40)]) + u"\n\n另一篇。\n",
                      encoding="utf-8")
    stats = {}
    units = list(cpd.read_units([str(corpus)], stats, max_unit_chars=50))
    assert len(units) > 3
    first = units[0]
    assert first.is_document_start and first.first_line == 1
    for unit in units[1:-1]:
        assert not unit.is_document_start
        assert unit.document == first.document
    assert units[-1].is_document_start and units[-1].first_line == 42
    assert units[-1].document != first.document


def test_sentencepiece_chinese_mode(tmp_path):
    model = str(tmp_path / "sp.model")
    code = ("import build_vocab\n"
            "build_vocab.train_sentencepiece([%r], %r, 1200)\n" % (SAMPLE_ZH, model))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    options = cpd.make_options(spm_model_file=model, dupe_factor=2)
    generator = cpd.InstanceGenerator(options)
    instances = _all_instances(generator, _units(generator, SAMPLE_ZH))
    assert len(instances) > 20
    sp_model = generator.tokenizer.sp_model
    joined_words = 0
    for instance in instances:
        assert instance.masked_lm_ids == [
            instance.original_ids[k] for k in instance.masked_lm_positions
        ]
        words = _words(instance.token_boundary)
        masked = set(instance.masked_lm_positions)
        for k in masked:
            begin, end = words[k]
            assert all(p in masked for p in range(begin, end))
        joined_words += sum(1 for k, flag in enumerate(instance.token_boundary) if not flag)
        for k in masked:
            token_id = instance.input_ids[k]
            assert not sp_model.IsControl(token_id) or (token_id == generator.mask_id)
    assert joined_words > 0


# ---------------------------------------------------------------------------
# Output paths, flag values, signals and temporary files.
# ---------------------------------------------------------------------------


def _script_args(input_file, output_file, vocab_file, *extra):
    return ([
        "create_pretraining_data.py",
        "--input_file=%s" % input_file,
        "--output_file=%s" % output_file,
        "--vocab_file=%s" % vocab_file, "--dupe_factor=1", "--num_workers=1"
    ] + list(extra))


def _assert_one_line_error(result, expected):
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert expected in errors[0], errors[0]
    return errors[0]


def _listing(directory):
    return sorted(os.listdir(str(directory)))


def test_output_that_is_an_input_is_refused_before_reading(tmp_path):
    corpus = tmp_path / "corpus.txt"
    with open(SAMPLE_ZH, "rb") as reader:
        original = reader.read()
    corpus.write_bytes(original)
    # The vocabulary does not exist: the output check must come first.
    result = _run_script(_script_args(corpus, corpus, tmp_path / "no.txt"))
    _assert_one_line_error(result, "--output_file: %s is also an input file" % corpus)
    assert corpus.read_bytes() == original
    assert _listing(tmp_path) == ["corpus.txt"]


def test_output_checks_compare_real_files(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(u"一句话。\n", encoding="utf-8")
    summary_input = tmp_path / "old.tfrecord.json"
    summary_input.write_text(u"二句话。\n", encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(u"[CLS]\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    os.symlink(str(corpus), str(tmp_path / "link.txt"))
    os.link(str(corpus), str(tmp_path / "hard.txt"))
    options = cpd.make_options(vocab_file=str(vocab))
    inputs = [str(corpus), str(summary_input)]

    def refused(outputs, match):
        with pytest.raises(cpd.UserError, match=match):
            cpd.check_output_files([str(tmp_path / name) for name in outputs], inputs, options)

    refused(["link.txt"], "link.txt is also an input file")
    refused(["hard.txt"], "hard.txt is also an input file")
    refused(["sub/../corpus.txt"], "is also an input file")
    refused(["vocab.txt"], "vocab.txt is also the --vocab_file")
    refused(["a", "sub/../a"], "a and .*sub/../a are the same file")
    refused(["b", "b"], "b is given twice")
    refused(["c", "c.json"], "c.json and the JSON summary of .*c .*are the "
            "same file")
    refused(["old.tfrecord"], "the JSON summary of .*old.tfrecord .* is "
            "also an input file")
    cpd.check_output_files([str(tmp_path / "new.tfrecord")], inputs, options)
    # Nothing is read before the outputs are refused.
    monkeypatch.setattr(cpd, "InstanceGenerator", None)
    monkeypatch.setattr(cpd, "read_units", None)
    with pytest.raises(cpd.UserError, match="also an input file"):
        cpd.create_pretraining_data([str(corpus)], [str(corpus)], options)


def test_same_output_twice_leaves_nothing(tmp_path, zh_vocab):
    output = tmp_path / "out.tfrecord"
    result = _run_script(_script_args(SAMPLE_ZH, "%s,%s" % (output, output), zh_vocab))
    _assert_one_line_error(result, "--output_file: %s is given twice" % output)
    assert _listing(tmp_path) == []


def test_output_that_is_a_directory_leaves_nothing(tmp_path, zh_vocab):
    output = tmp_path / "out"
    output.mkdir()
    result = _run_script(_script_args(SAMPLE_ZH, output, zh_vocab))
    _assert_one_line_error(result, "--output_file: %s is a directory" % output)
    assert _listing(tmp_path) == ["out"]
    assert _listing(output) == []


def test_output_under_a_regular_file_is_refused(tmp_path, zh_vocab):
    blocker = tmp_path / "file"
    blocker.write_text(u"x", encoding="utf-8")
    output = blocker / "sub" / "out.tfrecord"
    result = _run_script(_script_args(SAMPLE_ZH, output, zh_vocab))
    _assert_one_line_error(
        result, "--output_file: cannot create %s: %s is not a directory" % (output, blocker))
    assert _listing(tmp_path) == ["file"]


def test_unwritable_output_directory_is_refused(tmp_path, zh_vocab, monkeypatch):
    # Tests run as root, for whom permission bits do not apply: the check is
    # exercised with os.access answering for an unwritable directory.
    locked = os.path.realpath(str(tmp_path / "locked"))
    os.mkdir(locked)
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if os.path.realpath(path) == locked and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1)
    for output in (os.path.join(locked, "out.tfrecord"),
                   os.path.join(locked, "new", "deeper", "out.tfrecord")):
        with pytest.raises(
                cpd.UserError, match=("--output_file: cannot write .*out.tfrecord: the directory "
                                      ".*locked is not writable")):
            cpd.create_pretraining_data([SAMPLE_ZH], [output], options)
    assert os.listdir(locked) == []


def test_temporary_file_that_cannot_be_created_is_a_user_error(tmp_path, zh_vocab):
    import script_utils  # pylint: disable=g-import-not-at-top
    output = str(tmp_path / "out.tfrecord")
    # The temporary name of this process is taken by a directory.
    os.mkdir(script_utils.temporary_name(output))
    options = cpd.make_options(vocab_file=zh_vocab, dupe_factor=1)
    with pytest.raises(cpd.UserError, match="--output_file: cannot write .*out.tfrecord: "):
        cpd.create_pretraining_data([SAMPLE_ZH], [output], options)
    assert _listing(tmp_path) == [".out.tfrecord.tmp-%d" % os.getpid()]


@pytest.mark.parametrize("case", [
    "num_workers", "shuffle_buffer_size", "vocab_dir", "spm_dir", "input_dir", "input_glob_of_dirs"
])
def test_bad_flag_values_are_one_line_errors(tmp_path, zh_vocab, case):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    (corpus_dir / "a.txt").write_text(u"一句话。\n", encoding="utf-8")
    output = tmp_path / "out" / "data.tfrecord"
    input_file, vocab, extra = SAMPLE_ZH, zh_vocab, []
    if case == "num_workers":
        extra = ["--num_workers=-1"]
        expected = "--num_workers must be 0 (all cores) or more, got -1"
    elif case == "shuffle_buffer_size":
        extra = ["--shuffle_buffer_size=0"]
        expected = "--shuffle_buffer_size must be at least 1, got 0"
    elif case == "vocab_dir":
        vocab = corpus_dir
        expected = "--vocab_file: %s is a directory" % corpus_dir
    elif case == "spm_dir":
        extra = ["--spm_model_file=%s" % corpus_dir]
        expected = "--spm_model_file: %s is a directory" % corpus_dir
    elif case == "input_dir":
        input_file = corpus_dir
        expected = ("--input_file: %s is a directory (for the files in it, "
                    "give '%s')" % (corpus_dir, corpus_dir / "*"))
    else:
        input_file = tmp_path / "corp*"
        expected = ("--input_file: %s matches only directories (e.g. %s)" %
                    (input_file, corpus_dir))
    result = _run_script(_script_args(input_file, output, vocab, *extra))
    _assert_one_line_error(result, expected)
    assert not os.path.exists(str(output.parent))


def test_stale_temporary_files_are_those_of_finished_processes(tmp_path):
    import script_utils  # pylint: disable=g-import-not-at-top
    finished = subprocess.Popen([sys.executable, "-c", ""])
    finished.wait()
    output = str(tmp_path / "x.tfrecord")
    stale = script_utils.temporary_name(output, finished.pid)
    kept = [
        script_utils.temporary_name(output),  # this process
        script_utils.temporary_name(output, 1),  # init runs
        stale + "0x",
        str(tmp_path / (".y.tfrecord.tmp-%d" % finished.pid)),
        str(tmp_path / ".x.tfrecord.tmp-"),
        output
    ]
    for path in [stale] + kept:
        with open(path, "w") as writer:
            writer.write("partial")
    os.mkdir(script_utils.temporary_name(output, finished.pid + 1000000))
    lines = []
    removed = script_utils.remove_stale_temporary_files(
        output, log_fn=lambda fmt, *args: lines.append(fmt % args))
    assert removed == [stale]
    assert not os.path.exists(stale)
    assert all(os.path.exists(path) for path in kept)
    assert len(lines) == 1 and stale in lines[0]


def test_atomic_output_removes_the_temporary_file_if_the_rename_fails(tmp_path):
    import script_utils  # pylint: disable=g-import-not-at-top
    occupied = tmp_path / "out"
    occupied.mkdir()
    (occupied / "keep").write_text(u"x", encoding="utf-8")
    with pytest.raises(OSError):
        with script_utils.atomic_output(str(occupied)) as temp:
            with open(temp, "w") as writer:
                writer.write("complete")
    assert _listing(tmp_path) == ["out"]


def _proc_stat(pid):
    """(state, parent pid, process group) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as reader:
            text = reader.read()
    except (IOError, OSError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _live_processes(predicate):
    """Pids of running (not zombie) processes whose stat satisfies predicate."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _proc_stat(int(name))
            if stat and stat[0] != "Z" and predicate(*stat):
                pids.append(int(name))
    return pids


def _cmdline(pid):
    """The command line of a process (bytes), or None when it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as reader:
            return reader.read()
    except (IOError, OSError):
        return None


def _workers_of(process):
    """Pids of the worker processes of a running script.

    Forked workers keep the command line of the main process; other
    children it may start for a moment (e.g. a shell) do not count.
    """
    main = _cmdline(process.pid)
    return [
        pid for pid in _live_processes(lambda state, ppid, pgrp: ppid == process.pid)
        if main is not None and _cmdline(pid) == main
    ]


def _wait_until(condition, timeout, process=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return condition()
        time.sleep(0.05)
    return condition()


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory):
    """The sample corpus 40 times over (about 0.9 MB): several seconds."""
    with io.open(SAMPLE_ZH, encoding="utf-8") as reader:
        text = reader.read().strip() + u"\n\n"
    path = tmp_path_factory.mktemp("big") / "corpus.txt"
    path.write_text(text * 40, encoding="utf-8")
    return str(path)


def _ignores_sigint(pid):
    """Whether SIGINT is ignored by process `pid` (a worker set up)."""
    try:
        with open("/proc/%d/status" % pid) as reader:
            for line in reader:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except (IOError, OSError):
        pass
    return False


def _run_paths(tmp_path):
    """(out_dir, output, stderr_path) of a run in `tmp_path`; out_dir made."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return out_dir, out_dir / "data.tfrecord", tmp_path / "stderr.txt"


def _start_in_group(big_corpus, vocab, output, stderr_path):
    """Starts the script with two workers in a process group of its own."""
    with open(str(stderr_path), "w") as stderr:
        return subprocess.Popen([
            sys.executable, "create_pretraining_data.py",
            "--input_file=%s" % big_corpus,
            "--output_file=%s" % output,
            "--vocab_file=%s" % vocab, "--num_workers=2", "--dupe_factor=5"
        ], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=os.setpgrp)


def _assert_interrupted_cleanly(returncode, stderr_path, out_dir, left_running, signum):
    """The run ended on `signum` with its one line, no file and no process left."""
    with open(str(stderr_path)) as reader:
        stderr = reader.read()
    assert returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.splitlines()[-1] == ("interrupted by %s: workers stopped, temporary files "
                                       "removed" % signal.Signals(signum).name)
    assert _listing(out_dir) == []
    assert not left_running


def _start_two_workers(big_corpus, vocab, output, stderr_path, set_up=False):
    """Starts the script in a process group of its own; waits for its temp
    file and its two workers. Returns the process and the workers' pids.

    With `set_up`, also waits until both workers have set up their signals,
    which they do right after asking for the parent-death signal.
    """
    process = _start_in_group(big_corpus, vocab, output, stderr_path)
    prefix = ".%s.tmp-" % os.path.basename(str(output))

    workers = []

    def ready():
        if not any(name.startswith(prefix) for name in os.listdir(os.path.dirname(str(output)))):
            return False
        workers[:] = _workers_of(process)
        return len(workers) >= 2 and (not set_up or all(_ignores_sigint(pid) for pid in workers))

    started = _wait_until(ready, timeout=120, process=process)
    if not started:
        _kill_group(process)
        with open(str(stderr_path)) as reader:
            pytest.fail("no temporary file and two workers: %s" % reader.read()[-2000:])
    return process, workers


def _kill_group(process):
    """SIGKILL to what is left of the process group the test started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


requires_proc = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                   reason="reads /proc; prctl")


@requires_proc
@pytest.mark.parametrize("signum,to_group", [(signal.SIGTERM, False), (signal.SIGTERM, True),
                                             (signal.SIGINT, True)])
def test_signal_stops_the_workers_and_removes_temporary_files(tmp_path, zh_vocab, big_corpus,
                                                              signum, to_group):
    out_dir, output, stderr_path = _run_paths(tmp_path)
    process, _ = _start_two_workers(big_corpus, zh_vocab, output, stderr_path)
    try:
        if to_group:  # as Ctrl-C in a terminal, or timeout(1), does
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
        returncode = process.wait(timeout=60)
        # The main process terminates and joins its workers before it exits.
        left_running = _live_processes(lambda state, ppid, pgrp: pgrp == process.pid)
    finally:
        _kill_group(process)
    _assert_interrupted_cleanly(returncode, stderr_path, out_dir, left_running, signum)


@requires_proc
def test_workers_die_with_the_main_process_and_its_temp_file_is_removed(
        tmp_path, zh_vocab, big_corpus):
    import script_utils  # pylint: disable=g-import-not-at-top
    out_dir, output, stderr_path = _run_paths(tmp_path)
    process, workers = _start_two_workers(big_corpus, zh_vocab, output, stderr_path, set_up=True)
    assert len(workers) == 2
    try:
        # Stopped workers cannot notice on their own that the main process is
        # gone: only the kernel's parent-death signal (SIGKILL) ends them.
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        workers_gone = _wait_until(
            lambda: not [pid for pid in workers if _proc_stat(pid) and _proc_stat(pid)[0] != "Z"],
            timeout=10)
    finally:
        _kill_group(process)
    assert workers_gone
    left = script_utils.temporary_name(str(output), process.pid)
    assert _listing(out_dir) == [os.path.basename(left)]
    # A temporary file of a running process (this one) is not touched.
    running = script_utils.temporary_name(str(output))
    with open(running, "w") as writer:
        writer.write("in use")
    result = _run_script(_script_args(SAMPLE_ZH, output, zh_vocab))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "removed stale temporary file %s" % left in result.stderr
    assert _listing(out_dir) == sorted(
        [os.path.basename(running), "data.tfrecord", "data.tfrecord.json"])


@requires_proc
def test_a_worker_killed_from_outside_is_reported(tmp_path, zh_vocab, big_corpus):
    out_dir, output, stderr_path = _run_paths(tmp_path)
    process, workers = _start_two_workers(big_corpus, zh_vocab, output, stderr_path)
    assert len(workers) == 2
    try:
        os.kill(workers[-1], signal.SIGKILL)
        returncode = process.wait(timeout=60)
        left_running = _live_processes(lambda state, ppid, pgrp: pgrp == process.pid)
    finally:
        _kill_group(process)
    with open(str(stderr_path)) as reader:
        stderr = reader.read()
    assert returncode == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == (
        "error: worker process %d stopped unexpectedly (killed by SIGKILL)" % workers[-1])
    assert _listing(out_dir) == []
    assert not left_running


def test_an_error_in_a_worker_reaches_the_caller(tmp_path):
    vocab = _write_vocab(tmp_path / "vocab.txt", ["[PAD]", "[CLS]", "[SEP]", "[MASK]", u"一", u"二"])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(u"一二一二\n二一二一\n\n一二三\n", encoding="utf-8")
    options = cpd.make_options(vocab_file=vocab, dupe_factor=1)
    output = str(tmp_path / "out" / "data.tfrecord")
    with pytest.raises(cpd.UserError, match="is not in the vocabulary"):
        cpd.create_pretraining_data([str(corpus)], [output], options, num_workers=2)
    assert not os.listdir(str(tmp_path / "out"))


def _maps_mention(pid, text):
    """Whether /proc/<pid>/maps names a file whose path contains `text`."""
    try:
        with open("/proc/%d/maps" % pid) as reader:
            return text in reader.read()
    except (IOError, OSError):
        return False


@requires_proc
@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_a_signal_while_tensorflow_is_imported_stops_the_run_cleanly(tmp_path, zh_vocab, big_corpus,
                                                                     delay):
    # The main process imports TensorFlow while the workers start on the
    # first tasks; numpy is the first extension that import loads. A stop
    # asked for in the middle of the import is carried out after it (an
    # exception thrown inside it left a half-imported numpy: ImportError).
    out_dir, output, stderr_path = _run_paths(tmp_path)
    process = _start_in_group(big_corpus, zh_vocab, output, stderr_path)
    try:
        deadline = time.time() + 120
        while (not _maps_mention(process.pid, "_multiarray_umath") and process.poll() is None and
               time.time() < deadline):
            time.sleep(0.001)
        assert process.poll() is None, "the run ended before importing TensorFlow"
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGINT)
        returncode = process.wait(timeout=60)
        left_running = _live_processes(lambda state, ppid, pgrp: pgrp == process.pid)
    finally:
        _kill_group(process)
    _assert_interrupted_cleanly(returncode, stderr_path, out_dir, left_running, signal.SIGINT)


def test_a_signal_stops_the_run_only_where_the_run_checks():
    # The handler records the first signal and returns; `_raise_if_stopped`
    # raises it; later signals are ignored; leaving restores the handlers.
    code = "\n".join([
        "import os, signal, time",
        "import create_pretraining_data as cpd",
        "before = signal.getsignal(signal.SIGTERM)",
        "with cpd.stop_on_signals():",
        "    os.kill(os.getpid(), signal.SIGTERM)",
        "    os.kill(os.getpid(), signal.SIGINT)",
        "    time.sleep(0.1)",
        "    print('running on')",
        "    try:",
        "        cpd._raise_if_stopped()",
        "    except cpd.Interrupted as interrupt:",
        "        print('interrupted by', interrupt.signal_name, interrupt.signum)",
        "print('restored', signal.getsignal(signal.SIGTERM) is before)",
        "cpd._raise_if_stopped()",
        "print('cleared')",
    ])
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "running on",
        "interrupted by SIGTERM %d" % signal.SIGTERM, "restored True", "cleared"
    ]
