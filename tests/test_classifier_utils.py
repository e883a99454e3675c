# coding=utf-8
"""Tests of classifier_utils: processors, features, cache, head, metrics, submissions."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os

import numpy as np
import pytest

import checkpoint_utils
import classifier_utils as cu
import modeling
import tokenization
from tf_compat import tf

CHARS = u"天地人山水火木金土日月星风云雨红花草"
VOCAB = [u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] + list(CHARS) + [
    u"hello", u"world", u"good", u"bad"]


def write(path, text):
    directory = os.path.dirname(str(path))
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    with io.open(str(path), "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def write_json_lines(path, rows):
    return write(path, u"".join(json.dumps(r, ensure_ascii=False) + u"\n" for r in rows))


@pytest.fixture
def tokenizer(tmp_path):
    vocab = write(tmp_path / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    return tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)


def examples_of(task, data_dir, split):
    return cu.get_processor(task).get_examples(str(data_dir), split)


# ---------------------------------------------------------------------------
# Task registry.
# ---------------------------------------------------------------------------


def test_every_required_task_is_registered():
    required = ["lcqmc", "lcqmc_pair", "sentence_pair", "sentence", "afqmc", "tnews", "iflytek",
                "cmnli", "ocnli", "csl", "cluewsc2020", "wsc", "copa", "xnli", "chnsenticorp",
                "bq", "cola", "mnli", "mnli-mm", "mrpc", "qnli", "qqp", "rte", "sst-2", "sts-b",
                "wnli"]
    for task in required:
        assert cu.get_processor(task).name
    assert cu.get_processor("LCQMC_PAIR").name == "lcqmc"
    assert cu.get_processor("wsc").name == "cluewsc2020"


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        cu.get_processor("lcqmcc")
    message = str(info.value)
    assert "lcqmcc" in message and "afqmc" in message and "sts-b" in message


# ---------------------------------------------------------------------------
# TSV tasks.
# ---------------------------------------------------------------------------


def test_lcqmc_header_detected_not_always_skipped(tmp_path):
    write(tmp_path / "with" / "train.txt", u"text_a\ttext_b\tlabel\n天地\t山水\t1\n")
    write(tmp_path / "without" / "train.txt", u"天地\t山水\t1\n火木\t金土\t0\r\n")
    with_header = examples_of("lcqmc", tmp_path / "with", "train")
    without = examples_of("lcqmc", tmp_path / "without", "train")
    assert [(e.text_a, e.text_b, e.label) for e in with_header] == [(u"天地", u"山水", "1")]
    assert [(e.text_a, e.text_b, e.label) for e in without] == [
        (u"天地", u"山水", "1"), (u"火木", u"金土", "0")]
    assert without[1].source.endswith("train.txt:2")


def test_lcqmc_wrong_label_on_line_one_is_reported_not_skipped(tmp_path):
    write(tmp_path / "train.txt", u"天地\t山水\t2\n火木\t金土\t0\n")
    with pytest.raises(cu.DataError) as info:
        examples_of("lcqmc", tmp_path, "train")
    assert "train.txt:1: unknown label '2'" in str(info.value)
    assert "0, 1" in str(info.value)


def test_lcqmc_malformed_line_names_file_line_and_problem(tmp_path):
    write(tmp_path / "dev.txt", u"天地\t山水\t1\n火木金土\n")
    with pytest.raises(cu.DataError) as info:
        examples_of("lcqmc", tmp_path, "dev")
    message = str(info.value)
    assert "dev.txt:2:" in message and "expected at least 3 tab-separated fields" in message


def test_lcqmc_test_without_labels(tmp_path):
    write(tmp_path / "test.txt", u"天地\t山水\n火木\t金土\n")
    examples = examples_of("lcqmc", tmp_path, "test")
    assert [e.label for e in examples] == [None, None]


def test_bad_utf8_and_missing_file(tmp_path):
    with io.open(str(tmp_path / "train.txt"), "wb") as f:
        f.write(u"天地\t山水\t1\n".encode("utf-8") + b"\xff\xfe\t1\t0\n")
    with pytest.raises(cu.DataError) as info:
        examples_of("lcqmc", tmp_path, "train")
    assert "train.txt:2: not valid UTF-8" in str(info.value)
    with pytest.raises(cu.DataError) as info:
        examples_of("lcqmc", tmp_path, "dev")
    assert "dev.txt" in str(info.value) and "lcqmc" in str(info.value)


def test_empty_text_is_an_error(tmp_path):
    write(tmp_path / "train.txt", u"天地\t \t1\n")
    with pytest.raises(cu.DataError, match=r"train.txt:1: empty text field"):
        examples_of("lcqmc", tmp_path, "train")


def test_generic_sentence_pair_and_sentence(tmp_path):
    write(tmp_path / "pair" / "train.tsv", u"label\ttext_a\ttext_b\n1\t天地\t山水\n")
    write(tmp_path / "pair" / "test.tsv", u"天地\t山水\n")
    write(tmp_path / "single" / "train.tsv", u"pos\t天地人\nneg\t山水\n")
    write(tmp_path / "single" / "labels.txt", u"neg\npos\n")
    pair = examples_of("sentence_pair", tmp_path / "pair", "train")
    assert [(e.text_a, e.text_b, e.label) for e in pair] == [(u"天地", u"山水", "1")]
    assert examples_of("sentence_pair", tmp_path / "pair", "test")[0].label is None
    single = examples_of("sentence", tmp_path / "single", "train")
    assert [(e.text_a, e.text_b, e.label) for e in single] == [
        (u"天地人", None, "pos"), (u"山水", None, "neg")]
    assert cu.get_processor("sentence").get_labels(str(tmp_path / "single")) == ["neg", "pos"]
    write(tmp_path / "single" / "dev.tsv", u"maybe\t天地\n")
    with pytest.raises(cu.DataError, match="unknown label 'maybe'"):
        examples_of("sentence", tmp_path / "single", "dev")


def test_brightmart_0827_file_names(tmp_path):
    write(tmp_path / "train_0827.tsv", u"0\t天地\t山水\n")
    assert len(examples_of("sentence_pair", tmp_path, "train")) == 1


def test_chnsenticorp_and_bq(tmp_path):
    write(tmp_path / "senti" / "train.tsv", u"label\ttext_a\n1\t好天气\n0\t坏天气\n")
    senti = examples_of("chnsenticorp", tmp_path / "senti", "train")
    assert [(e.text_a, e.label) for e in senti] == [(u"好天气", "1"), (u"坏天气", "0")]
    write(tmp_path / "bq" / "dev.tsv", u"天地\t山水\t0\n")
    assert examples_of("bq", tmp_path / "bq", "dev")[0].label == "0"


# ---------------------------------------------------------------------------
# CLUE (JSON lines).
# ---------------------------------------------------------------------------


def test_afqmc_and_test_ids(tmp_path):
    write_json_lines(tmp_path / "train.json", [
        {"sentence1": u"天地", "sentence2": u"山水", "label": "1"}])
    write_json_lines(tmp_path / "test.json", [
        {"id": 7, "sentence1": u"天地", "sentence2": u"山水"},
        {"id": 9, "sentence1": u"火", "sentence2": u"木"}])
    train = examples_of("afqmc", tmp_path, "train")
    assert [(e.text_a, e.text_b, e.label) for e in train] == [(u"天地", u"山水", "1")]
    test = examples_of("afqmc", tmp_path, "test")
    assert [(e.item_id, e.label) for e in test] == [(7, None), (9, None)]


def test_clue_bad_json_missing_field_unknown_label(tmp_path):
    write(tmp_path / "train.json", u'{"sentence1": "a", "sentence2": "b", "label": "1"}\n{oops\n')
    with pytest.raises(cu.DataError, match=r"train.json:2: not valid JSON"):
        examples_of("afqmc", tmp_path, "train")
    write_json_lines(tmp_path / "dev.json", [{"sentence1": u"天", "label": "1"}])
    with pytest.raises(cu.DataError, match=r"dev.json:1: missing field 'sentence2'"):
        examples_of("afqmc", tmp_path, "dev")
    write_json_lines(tmp_path / "dev.json", [{"sentence": u"天", "label": "105"}])
    with pytest.raises(cu.DataError, match=r"dev.json:1: unknown label '105'"):
        examples_of("tnews", tmp_path, "dev")


def test_tnews_iflytek_labels_and_placeholder_test_labels(tmp_path):
    tnews = cu.get_processor("tnews").get_labels()
    assert len(tnews) == 15 and "105" not in tnews and "111" not in tnews
    assert cu.get_processor("iflytek").get_labels() == [str(i) for i in range(119)]
    write_json_lines(tmp_path / "test.json", [{"id": 3, "sentence": u"天地", "label": "100"}])
    assert examples_of("tnews", tmp_path, "test")[0].label is None


def test_cmnli_ocnli_drop_dash_and_xnli(tmp_path):
    rows = [{"sentence1": u"天", "sentence2": u"地", "label": "neutral"},
            {"sentence1": u"山", "sentence2": u"水", "label": "-"}]
    write_json_lines(tmp_path / "train.json", rows)
    assert [e.label for e in examples_of("cmnli", tmp_path, "train")] == ["neutral"]
    assert [e.label for e in examples_of("ocnli", tmp_path, "train")] == ["neutral"]
    write_json_lines(tmp_path / "x" / "dev.json", [
        {"premise": u"天", "hypo": u"地", "label": "contradictory"}])
    xnli = examples_of("xnli", tmp_path / "x", "dev")
    assert [(e.text_a, e.text_b, e.label) for e in xnli] == [(u"天", u"地", "contradiction")]


def test_csl_joins_keywords(tmp_path):
    write_json_lines(tmp_path / "dev.json", [
        {"id": 1, "abst": u"摘要", "keyword": [u"天", u"地"], "label": "0"}])
    example = examples_of("csl", tmp_path, "dev")[0]
    assert (example.text_a, example.text_b, example.label) == (u"天 地", u"摘要", "0")


def test_wsc_marks_both_spans(tmp_path):
    write_json_lines(tmp_path / "train.json", [{
        "target": {"span2_index": 5, "span1_index": 0, "span1_text": u"小明",
                   "span2_text": u"他"},
        "idx": 0, "label": "true", "text": u"小明说今天他很高兴"}])
    example = examples_of("wsc", tmp_path, "train")[0]
    assert example.text_a == u"_小明_说今天[他]很高兴"
    assert example.label == "true"


def test_copa_two_examples_per_item(tmp_path):
    write_json_lines(tmp_path / "train.json", [
        {"idx": 4, "premise": u"下雨", "choice0": u"花开", "choice1": u"地湿",
         "question": "effect", "label": 1},
        {"idx": 5, "premise": u"地湿", "choice0": u"下雨", "choice1": u"天晴",
         "question": "cause", "label": "0"}])
    examples = examples_of("copa", tmp_path, "train")
    assert [(e.text_a, e.text_b, e.label, e.item_id) for e in examples] == [
        (u"下雨", u"花开", "0", 4), (u"下雨", u"地湿", "1", 4),
        (u"下雨", u"地湿", "1", 5), (u"天晴", u"地湿", "0", 5)]


# ---------------------------------------------------------------------------
# GLUE.
# ---------------------------------------------------------------------------


def _glue_row(n, values):
    row = [u"x"] * n
    for index, value in values.items():
        row[index] = value
    return u"\t".join(row) + u"\n"


def test_glue_processors_columns(tmp_path):
    glue = tmp_path / "glue"
    mnli = glue / "MNLI"
    write(mnli / "train.tsv", u"h\n" + _glue_row(12, {8: u"p", 9: u"h", 11: u"neutral"}))
    write(mnli / "dev_mismatched.tsv",
          u"h\n" + _glue_row(16, {8: u"p", 9: u"h", 15: u"entailment"}))
    write(mnli / "test_matched.tsv", u"h\n" + _glue_row(10, {0: u"17", 8: u"p", 9: u"h"}))
    mrpc_header = u"\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    write(glue / "MRPC" / "train.tsv", u"Quality" + mrpc_header + u"1\t1\t2\ta\tb\n")
    write(glue / "MRPC" / "test.tsv", u"index" + mrpc_header + u"0\t1\t2\ta\tb\n")
    write(glue / "CoLA" / "train.tsv", u"gj04\t1\t\tGood sentence .\n")
    write(glue / "CoLA" / "test.tsv", u"index\tsentence\n0\tA test .\n")
    write(glue / "SST-2" / "dev.tsv", u"sentence\tlabel\nnice movie\t1\n")
    write(glue / "STS-B" / "train.tsv", u"h\n" + _glue_row(10, {7: u"a", 8: u"b", 9: u"3.8"}))
    write(glue / "QQP" / "train.tsv", u"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
          u"1\t2\t3\tq one\tq two\t1\n5\t6\tbroken\n")
    write(glue / "QQP" / "test.tsv", u"id\tquestion1\tquestion2\n0\tq one\tq two\n")
    write(glue / "QNLI" / "dev.tsv", u"index\tquestion\tsentence\tlabel\n0\tq\ts\tnot_entailment\n")
    write(glue / "RTE" / "train.tsv", u"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    write(glue / "WNLI" / "train.tsv", u"index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n")

    def first(task, split):
        e = examples_of(task, glue, split)[0]
        return (e.text_a, e.text_b, e.label)

    assert first("mnli", "train") == (u"p", u"h", "neutral")
    assert first("mnli-mm", "dev") == (u"p", u"h", "entailment")
    test = examples_of("mnli", glue, "test")[0]
    assert (test.item_id, test.label) == (u"17", None)
    assert first("mrpc", "train") == (u"a", u"b", "1")
    assert examples_of("mrpc", glue, "test")[0].item_id == u"0"
    assert first("cola", "train") == (u"Good sentence .", None, "1")
    assert first("cola", "test") == (u"A test .", None, None)
    assert first("sst-2", "dev") == (u"nice movie", None, "1")
    assert first("sts-b", "train") == (u"a", u"b", 3.8)
    qqp = examples_of("qqp", glue, "train")
    assert [(e.text_a, e.text_b, e.label) for e in qqp] == [(u"q one", u"q two", "1")]
    assert first("qqp", "test") == (u"q one", u"q two", None)
    assert first("qnli", "dev") == (u"q", u"s", "not_entailment")
    assert first("rte", "train") == (u"a", u"b", "entailment")
    assert first("wnli", "train") == (u"a", u"b", "1")
    assert cu.get_processor("sts-b").is_regression
    assert cu.get_processor("cola").metric == "eval_matthews_corr"
    assert cu.get_processor("sts-b").metric == "eval_pearson"
    assert cu.get_processor("mrpc").metric == "eval_f1"


def test_glue_files_directly_in_data_dir(tmp_path):
    write(tmp_path / "train.tsv", u"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    assert examples_of("rte", tmp_path, "train")[0].label == "entailment"


def test_stsb_label_must_be_a_number(tmp_path):
    write(tmp_path / "dev.tsv", u"h\n" + _glue_row(10, {7: u"a", 8: u"b", 9: u"high"}))
    with pytest.raises(cu.DataError, match=r"dev.tsv:2: label 'high' is not a number"):
        examples_of("sts-b", tmp_path, "dev")


# ---------------------------------------------------------------------------
# Submissions.
# ---------------------------------------------------------------------------


def test_clue_submission_uses_test_ids(tmp_path):
    write_json_lines(tmp_path / "test.json", [
        {"id": 10, "sentence": u"天"}, {"id": 11, "sentence": u"地"}])
    write_json_lines(tmp_path / "labels.json", [
        {"label": "100", "label_desc": "news_story"}, {"label": "101", "label_desc": "news_x"}])
    processor = cu.get_processor("tnews")
    examples = processor.get_examples(str(tmp_path), "test")
    probs = np.zeros([2, 15])
    probs[0, 1] = 1.0
    probs[1, 0] = 1.0
    path = processor.write_submission(str(tmp_path), examples, probs, str(tmp_path))
    assert os.path.basename(path) == "tnews_predict.json"
    rows = [json.loads(l) for l in io.open(path, encoding="utf-8")]
    assert rows == [{"id": 10, "label": "101", "label_desc": "news_x"},
                    {"id": 11, "label": "100", "label_desc": "news_story"}]


def test_copa_submission_one_line_per_item(tmp_path):
    write_json_lines(tmp_path / "test.json", [
        {"idx": 4, "premise": u"下雨", "choice0": u"花开", "choice1": u"地湿",
         "question": "effect"}])
    processor = cu.get_processor("copa")
    examples = processor.get_examples(str(tmp_path), "test")
    assert len(examples) == 2
    path = processor.write_submission(str(tmp_path), examples, [[0.6, 0.4], [0.3, 0.7]])
    assert [json.loads(l) for l in io.open(path)] == [{"id": 4, "label": "1"}]


def test_glue_submission_tsv(tmp_path):
    write(tmp_path / "test.tsv", u"index\tsentence\n0\tgood\n1\tbad\n")
    processor = cu.get_processor("sst-2")
    examples = processor.get_examples(str(tmp_path), "test")
    path = processor.write_submission(str(tmp_path), examples, [[0.1, 0.9], [0.8, 0.2]])
    assert os.path.basename(path) == "SST-2.tsv"
    assert io.open(path).read() == "index\tprediction\n0\t1\n1\t0\n"
    stsb = cu.get_processor("sts-b")
    path = stsb.write_submission(str(tmp_path), examples, [[6.2], [2.345]])
    assert io.open(path).read() == "index\tprediction\n0\t5.000\n1\t2.345\n"


# ---------------------------------------------------------------------------
# Features and cache.
# ---------------------------------------------------------------------------


def test_convert_single_example_pair_and_truncation(tokenizer):
    example = cu.InputExample("g", u"天地人山水", u"火木", "1")
    features = cu.convert_single_example(example, ["0", "1"], 8, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(features.input_ids)
    assert tokens == [u"[CLS]", u"天", u"地", u"人", u"[SEP]", u"火", u"木", u"[SEP]"]
    assert features.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
    assert features.input_mask == [1] * 8 and features.label_id == 1
    single = cu.convert_single_example(cu.InputExample("g", u"Hello 天"), ["0", "1"], 6, tokenizer)
    assert tokenizer.convert_ids_to_tokens(single.input_ids[:4]) == [
        u"[CLS]", u"hello", u"天", u"[SEP]"]
    assert single.input_ids[4:] == [0, 0] and single.input_mask == [1, 1, 1, 1, 0, 0]
    padding = cu.convert_single_example(cu.PaddingInputExample(), ["0", "1"], 4, tokenizer)
    assert not padding.is_real_example and padding.input_ids == [0] * 4


def _cache(tmp_path, tokenizer, data_file, seq_len=16, labels=("0", "1")):
    processor = cu.get_processor("lcqmc")
    examples = processor.get_examples(os.path.dirname(data_file), "train")
    return cu.load_or_create_features(str(tmp_path / "cache"), "lcqmc", "train", data_file,
                                      examples, list(labels), seq_len, tokenizer)


def _records(path):
    return [tf.train.Example.FromString(r) for r in tf.python_io.tf_record_iterator(path)]


def test_feature_cache_reused_and_invalidated(tmp_path, tokenizer):
    os.makedirs(str(tmp_path / "cache"))
    data = write(tmp_path / "data" / "train.txt", u"天地\t山水\t1\n火\t木\t0\n")
    path, count, reused = _cache(tmp_path, tokenizer, data)
    assert count == 2 and not reused
    record = _records(path)[0].features.feature
    assert list(record["input_ids"].int64_list.value)[:3] == [
        tokenizer.vocab[u"[CLS]"], tokenizer.vocab[u"天"], tokenizer.vocab[u"地"]]
    assert record["label_ids"].int64_list.value == [1]
    assert _cache(tmp_path, tokenizer, data) == (path, 2, True)
    # Sequence length.
    path_32, _, reused = _cache(tmp_path, tokenizer, data, seq_len=32)
    assert not reused and path_32 != path and not os.path.exists(path)
    # Data content (same size, same name).
    write(data, u"天地\t山水\t0\n火\t木\t0\n")
    path_data, _, reused = _cache(tmp_path, tokenizer, data, seq_len=32)
    assert not reused
    assert _records(path_data)[0].features.feature["label_ids"].int64_list.value == [0]
    # Vocabulary content (same size, same path): two tokens swapped.
    swapped = list(VOCAB)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    write(tokenizer.vocab_file, u"\n".join(swapped) + u"\n")
    new_tokenizer = tokenization.FullTokenizer(vocab_file=tokenizer.vocab_file)
    path_vocab, _, reused = _cache(tmp_path, new_tokenizer, data, seq_len=32)
    assert not reused
    ids = list(_records(path_vocab)[0].features.feature["input_ids"].int64_list.value)
    assert ids[1] == new_tokenizer.vocab[u"天"] == 6
    # Casing.
    cased = tokenization.FullTokenizer(vocab_file=tokenizer.vocab_file, do_lower_case=False)
    assert not _cache(tmp_path, cased, data, seq_len=32)[2]
    # Label list.
    assert not _cache(tmp_path, cased, data, seq_len=32, labels=("1", "0"))[2]
    # Only the current cache of a task and split is kept.
    assert len([n for n in os.listdir(str(tmp_path / "cache")) if n.endswith(".tf_record")]) == 1


def test_input_fn_reads_features(tmp_path, tokenizer):
    os.makedirs(str(tmp_path / "cache"))
    data = write(tmp_path / "data" / "train.txt", u"天地\t山水\t1\n火\t木\t0\n金\t土\t1\n")
    path, _, _ = _cache(tmp_path, tokenizer, data, seq_len=8)
    with tf.Graph().as_default():
        dataset = cu.input_fn_builder(path, 8, False, False, batch_size=2)({})
        batch = tf.data.make_one_shot_iterator(dataset).get_next()
        with tf.Session() as session:
            first = session.run(batch)
    assert first["input_ids"].shape == (2, 8) and first["input_ids"].dtype == np.int32
    assert list(first["label_ids"]) == [1, 0]
    assert list(first["is_real_example"]) == [1, 1]


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------


def test_metrics_against_hand_computed_values():
    labels = [1, 1, 0, 0, 1, 0]
    predictions = [1, 0, 0, 1, 1, 0]
    # tp=2 tn=2 fp=1 fn=1
    assert cu.f1_score(predictions, labels) == pytest.approx(2 / 3.0)
    assert cu.matthews_corr(predictions, labels) == pytest.approx((4 - 1) / 9.0)
    assert cu.matthews_corr([1, 1], [1, 0]) == 0.0
    x = [1.0, 2.0, 3.0, 4.0]
    assert cu.pearson(x, [2.0, 4.0, 6.0, 8.0]) == pytest.approx(1.0)
    assert cu.pearson(x, [1.0, 3.0, 2.0, 5.0]) == pytest.approx(0.8315218, abs=1e-6)
    assert cu.spearman([1, 2, 2, 3], [10, 20, 20, 35]) == pytest.approx(1.0)
    assert cu.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert list(cu._rank([3, 1, 3, 2])) == [3.5, 1.0, 3.5, 2.0]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    metrics = cu.compute_metrics(probs, [0, 1, 1])
    assert metrics["eval_accuracy"] == pytest.approx(2 / 3.0)
    assert metrics["eval_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3)
    assert metrics["num_examples"] == 3
    regression = cu.compute_metrics(np.array([[1.0], [2.0], [3.5]]), [1.0, 2.0, 3.0], True)
    assert regression["eval_mse"] == pytest.approx(0.25 / 3)
    assert regression["eval_spearman"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# Model head and strict loading.
# ---------------------------------------------------------------------------


def _config(**overrides):
    fields = dict(vocab_size=len(VOCAB), embedding_size=8, hidden_size=16, num_hidden_layers=1,
                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                  embedding_layout="google")
    fields.update(overrides)
    return modeling.AlbertConfig(**fields)


def _build(config, num_labels=3, labels=True, is_training=False, dropout=0.1):
    ids = tf.constant([[2, 5, 6, 3, 0]], dtype=tf.int32)
    mask = tf.constant([[1, 1, 1, 1, 0]], dtype=tf.int32)
    return cu.create_model(config, is_training, ids, mask, tf.zeros_like(ids),
                           tf.constant([1]) if labels else None, num_labels,
                           classifier_dropout=dropout)


def test_head_variable_names_and_shapes():
    with tf.Graph().as_default():
        outputs = _build(_config())
        names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        assert names["output_weights"] == [3, 16]
        assert names["output_bias"] == [3]
        assert not any(n.startswith("loss/") for n in names)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            probs, loss = session.run([outputs.probabilities, outputs.loss])
        assert probs.shape == (1, 3) and np.allclose(probs.sum(), 1.0)
        assert loss == pytest.approx(-np.log(probs[0, 1]), rel=1e-5)


def test_brightmart_preln_head_adds_pooled_layer_norm():
    config = _config(embedding_layout="brightmart", ln_type="preln")
    assert cu.head_variable_patterns(config)[-1].startswith("^loss/LayerNorm")
    with tf.Graph().as_default():
        _build(config)
        names = [v.op.name for v in tf.global_variables()]
    assert "loss/LayerNorm/gamma" in names and "loss/LayerNorm/beta" in names
    assert cu.head_variable_patterns(_config()) == [r"^output_weights$", r"^output_bias$"]


def test_classifier_dropout_only_when_training():
    config = _config()
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        outputs = _build(config, labels=False, is_training=True, dropout=0.9)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            runs = {tuple(np.round(session.run(outputs.logits)[0], 6)) for _ in range(5)}
        assert len(runs) > 1
    with tf.Graph().as_default():
        outputs = _build(config, labels=False, is_training=False, dropout=0.9)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            runs = {tuple(np.round(session.run(outputs.logits)[0], 6)) for _ in range(3)}
        assert len(runs) == 1


def test_strict_init_allows_only_the_head(tmp_path):
    config = _config()
    prefix = str(tmp_path / "pretrained" / "model.ckpt")
    with tf.Graph().as_default():
        ids = tf.zeros([1, 4], dtype=tf.int32)
        modeling.AlbertModel(config, False, ids)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    with tf.Graph().as_default():
        _build(config)
        report = checkpoint_utils.init_from_checkpoint(
            prefix, allow_missing=cu.head_variable_patterns(config))
        assert sorted(report.allowed_missing) == ["output_bias", "output_weights"]
        assert report.ok
    bigger = _config(intermediate_size=48)
    with tf.Graph().as_default():
        _build(bigger)
        with pytest.raises(checkpoint_utils.CheckpointMismatchError):
            checkpoint_utils.init_from_checkpoint(
                prefix, allow_missing=cu.head_variable_patterns(bigger))


def test_export_saved_model_rejects_foreign_directory(tmp_path):
    write(tmp_path / "export" / "notes.txt", u"mine")
    with pytest.raises(ValueError, match="not a SavedModel"):
        cu.export_saved_model(_config(), 2, str(tmp_path / "nothing"), str(tmp_path / "export"))
    assert os.path.exists(str(tmp_path / "export" / "notes.txt"))


def test_lcqmc_sample_in_data_parses():
    data_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "data", "lcqmc_sample")
    processor = cu.get_processor("lcqmc")
    # Hand-written pairs plus those of scripts/make_pair_sample.py, half of them positive.
    for split, count in (("train", 10048), ("dev", 316), ("test", 316)):
        examples = processor.get_examples(data_dir, split)
        assert len(examples) == count
        assert sum(e.label == "1" for e in examples) == count // 2


def _features_for_model_fn():
    ids = tf.constant([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]], dtype=tf.int32)
    return {"input_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32),
            "segment_ids": tf.zeros_like(ids), "label_ids": tf.constant([1, 0]),
            "is_real_example": tf.constant([1, 0])}


def test_model_fn_train_and_predict_specs():
    config = _config()
    model_fn = cu.model_fn_builder(config, 2, learning_rate=1e-3, num_train_steps=10,
                                   num_warmup_steps=1)
    with tf.Graph().as_default():
        spec = model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.TRAIN, {})
        assert isinstance(spec, tf.estimator.EstimatorSpec) and spec.train_op is not None
        names = [v.op.name for v in tf.trainable_variables()]
        assert "output_weights" in names and "output_bias" in names
    with tf.Graph().as_default():
        spec = model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert sorted(spec.predictions) == ["is_real_example", "label_ids", "probabilities"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            probs = session.run(spec.predictions["probabilities"])
        assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0)
    tpu_fn = cu.model_fn_builder(config, 2, use_tpu=True, use_one_hot_embeddings=True)
    with tf.Graph().as_default():
        spec = tpu_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert type(spec).__name__ == "TPUEstimatorSpec"
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="only TRAIN and PREDICT"):
            model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.EVAL, {})
