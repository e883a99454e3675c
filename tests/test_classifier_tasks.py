# coding=utf-8
"""Tests of classifier_tasks: the task registry, each task's files, submissions."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os

import numpy as np
import pytest

import classifier_tasks
from script_testlib import write


def write_json_lines(path, rows):
    return write(path, u"".join(json.dumps(r, ensure_ascii=False) + u"\n" for r in rows))


def examples_of(task, data_dir, split):
    return classifier_tasks.get_processor(task).get_examples(str(data_dir), split)


# ---------------------------------------------------------------------------
# Task registry.
# ---------------------------------------------------------------------------


def test_every_required_task_is_registered():
    required = [
        "lcqmc", "lcqmc_pair", "sentence_pair", "sentence", "afqmc", "tnews", "iflytek", "cmnli",
        "ocnli", "csl", "cluewsc2020", "wsc", "copa", "xnli", "chnsenticorp", "bq", "cola", "mnli",
        "mnli-mm", "mrpc", "qnli", "qqp", "rte", "sst-2", "sts-b", "wnli"
    ]
    for task in required:
        assert classifier_tasks.get_processor(task).name
    assert classifier_tasks.get_processor("LCQMC_PAIR").name == "lcqmc"
    assert classifier_tasks.get_processor("wsc").name == "cluewsc2020"


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        classifier_tasks.get_processor("lcqmcc")
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
    assert [(e.text_a, e.text_b, e.label) for e in without] == [(u"天地", u"山水", "1"),
                                                                (u"火木", u"金土", "0")]
    assert without[1].source.endswith("train.txt:2")


def test_lcqmc_wrong_label_on_line_one_is_reported_not_skipped(tmp_path):
    write(tmp_path / "train.txt", u"天地\t山水\t2\n火木\t金土\t0\n")
    with pytest.raises(classifier_tasks.DataError) as info:
        examples_of("lcqmc", tmp_path, "train")
    assert "train.txt:1: unknown label '2'" in str(info.value)
    assert "0, 1" in str(info.value)


def test_lcqmc_malformed_line_names_file_line_and_problem(tmp_path):
    write(tmp_path / "dev.txt", u"天地\t山水\t1\n火木金土\n")
    with pytest.raises(classifier_tasks.DataError) as info:
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
    with pytest.raises(classifier_tasks.DataError) as info:
        examples_of("lcqmc", tmp_path, "train")
    assert "train.txt:2: not valid UTF-8" in str(info.value)
    with pytest.raises(classifier_tasks.DataError) as info:
        examples_of("lcqmc", tmp_path, "dev")
    assert "dev.txt" in str(info.value) and "lcqmc" in str(info.value)


def test_empty_text_is_an_error(tmp_path):
    write(tmp_path / "train.txt", u"天地\t \t1\n")
    with pytest.raises(classifier_tasks.DataError, match=r"train.txt:1: empty text field"):
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
    assert [(e.text_a, e.text_b, e.label) for e in single] == [(u"天地人", None, "pos"),
                                                               (u"山水", None, "neg")]
    labels = classifier_tasks.get_processor("sentence").get_labels(str(tmp_path / "single"))
    assert labels == ["neg", "pos"]
    write(tmp_path / "single" / "dev.tsv", u"maybe\t天地\n")
    with pytest.raises(classifier_tasks.DataError, match="unknown label 'maybe'"):
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
    write_json_lines(tmp_path / "train.json", [{
        "sentence1": u"天地",
        "sentence2": u"山水",
        "label": "1"
    }])
    write_json_lines(tmp_path / "test.json", [{
        "id": 7,
        "sentence1": u"天地",
        "sentence2": u"山水"
    }, {
        "id": 9,
        "sentence1": u"火",
        "sentence2": u"木"
    }])
    train = examples_of("afqmc", tmp_path, "train")
    assert [(e.text_a, e.text_b, e.label) for e in train] == [(u"天地", u"山水", "1")]
    test = examples_of("afqmc", tmp_path, "test")
    assert [(e.item_id, e.label) for e in test] == [(7, None), (9, None)]


def test_clue_bad_json_missing_field_unknown_label(tmp_path):
    write(tmp_path / "train.json", u'{"sentence1": "a", "sentence2": "b", "label": "1"}\n{oops\n')
    with pytest.raises(classifier_tasks.DataError, match=r"train.json:2: not valid JSON"):
        examples_of("afqmc", tmp_path, "train")
    write_json_lines(tmp_path / "dev.json", [{"sentence1": u"天", "label": "1"}])
    with pytest.raises(classifier_tasks.DataError, match=r"dev.json:1: missing field 'sentence2'"):
        examples_of("afqmc", tmp_path, "dev")
    write_json_lines(tmp_path / "dev.json", [{"sentence": u"天", "label": "105"}])
    with pytest.raises(classifier_tasks.DataError, match=r"dev.json:1: unknown label '105'"):
        examples_of("tnews", tmp_path, "dev")


def test_tnews_iflytek_labels_and_placeholder_test_labels(tmp_path):
    tnews = classifier_tasks.get_processor("tnews").get_labels()
    assert len(tnews) == 15 and "105" not in tnews and "111" not in tnews
    assert classifier_tasks.get_processor("iflytek").get_labels() == [str(i) for i in range(119)]
    write_json_lines(tmp_path / "test.json", [{"id": 3, "sentence": u"天地", "label": "100"}])
    assert examples_of("tnews", tmp_path, "test")[0].label is None


def test_cmnli_ocnli_drop_dash_and_xnli(tmp_path):
    rows = [{
        "sentence1": u"天",
        "sentence2": u"地",
        "label": "neutral"
    }, {
        "sentence1": u"山",
        "sentence2": u"水",
        "label": "-"
    }]
    write_json_lines(tmp_path / "train.json", rows)
    assert [e.label for e in examples_of("cmnli", tmp_path, "train")] == ["neutral"]
    assert [e.label for e in examples_of("ocnli", tmp_path, "train")] == ["neutral"]
    write_json_lines(tmp_path / "x" / "dev.json", [{
        "premise": u"天",
        "hypo": u"地",
        "label": "contradictory"
    }])
    xnli = examples_of("xnli", tmp_path / "x", "dev")
    assert [(e.text_a, e.text_b, e.label) for e in xnli] == [(u"天", u"地", "contradiction")]


def test_csl_joins_keywords(tmp_path):
    write_json_lines(tmp_path / "dev.json", [{
        "id": 1,
        "abst": u"摘要",
        "keyword": [u"天", u"地"],
        "label": "0"
    }])
    example = examples_of("csl", tmp_path, "dev")[0]
    assert (example.text_a, example.text_b, example.label) == (u"天 地", u"摘要", "0")


def test_wsc_marks_both_spans(tmp_path):
    write_json_lines(tmp_path / "train.json", [{
        "target": {
            "span2_index": 5,
            "span1_index": 0,
            "span1_text": u"小明",
            "span2_text": u"他"
        },
        "idx": 0,
        "label": "true",
        "text": u"小明说今天他很高兴"
    }])
    example = examples_of("wsc", tmp_path, "train")[0]
    assert example.text_a == u"_小明_说今天[他]很高兴"
    assert example.label == "true"


def test_copa_two_examples_per_item(tmp_path):
    write_json_lines(tmp_path / "train.json", [{
        "idx": 4,
        "premise": u"下雨",
        "choice0": u"花开",
        "choice1": u"地湿",
        "question": "effect",
        "label": 1
    }, {
        "idx": 5,
        "premise": u"地湿",
        "choice0": u"下雨",
        "choice1": u"天晴",
        "question": "cause",
        "label": "0"
    }])
    examples = examples_of("copa", tmp_path, "train")
    assert [(e.text_a, e.text_b, e.label, e.item_id) for e in examples] == [(u"下雨", u"花开", "0", 4),
                                                                            (u"下雨", u"地湿", "1", 4),
                                                                            (u"下雨", u"地湿", "1", 5),
                                                                            (u"天晴", u"地湿", "0", 5)]


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
    write(mnli / "dev_mismatched.tsv", u"h\n" + _glue_row(16, {
        8: u"p",
        9: u"h",
        15: u"entailment"
    }))
    write(mnli / "test_matched.tsv", u"h\n" + _glue_row(10, {0: u"17", 8: u"p", 9: u"h"}))
    mrpc_header = u"\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    write(glue / "MRPC" / "train.tsv", u"Quality" + mrpc_header + u"1\t1\t2\ta\tb\n")
    write(glue / "MRPC" / "test.tsv", u"index" + mrpc_header + u"0\t1\t2\ta\tb\n")
    write(glue / "CoLA" / "train.tsv", u"gj04\t1\t\tGood sentence .\n")
    write(glue / "CoLA" / "test.tsv", u"index\tsentence\n0\tA test .\n")
    write(glue / "SST-2" / "dev.tsv", u"sentence\tlabel\nnice movie\t1\n")
    write(glue / "STS-B" / "train.tsv", u"h\n" + _glue_row(10, {7: u"a", 8: u"b", 9: u"3.8"}))
    write(
        glue / "QQP" / "train.tsv", u"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
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
    assert classifier_tasks.get_processor("sts-b").is_regression
    assert classifier_tasks.get_processor("cola").metric == "eval_matthews_corr"
    assert classifier_tasks.get_processor("sts-b").metric == "eval_pearson"
    assert classifier_tasks.get_processor("mrpc").metric == "eval_f1"


def test_glue_files_directly_in_data_dir(tmp_path):
    write(tmp_path / "train.tsv", u"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
    assert examples_of("rte", tmp_path, "train")[0].label == "entailment"


def test_stsb_label_must_be_a_number(tmp_path):
    write(tmp_path / "dev.tsv", u"h\n" + _glue_row(10, {7: u"a", 8: u"b", 9: u"high"}))
    with pytest.raises(classifier_tasks.DataError,
                       match=r"dev.tsv:2: label 'high' is not a number"):
        examples_of("sts-b", tmp_path, "dev")


# ---------------------------------------------------------------------------
# Submissions.
# ---------------------------------------------------------------------------


def test_clue_submission_uses_test_ids(tmp_path):
    write_json_lines(tmp_path / "test.json", [{
        "id": 10,
        "sentence": u"天"
    }, {
        "id": 11,
        "sentence": u"地"
    }])
    write_json_lines(tmp_path / "labels.json", [{
        "label": "100",
        "label_desc": "news_story"
    }, {
        "label": "101",
        "label_desc": "news_x"
    }])
    processor = classifier_tasks.get_processor("tnews")
    examples = processor.get_examples(str(tmp_path), "test")
    probs = np.zeros([2, 15])
    probs[0, 1] = 1.0
    probs[1, 0] = 1.0
    path = processor.write_submission(str(tmp_path), examples, probs, str(tmp_path))
    assert os.path.basename(path) == "tnews_predict.json"
    rows = [json.loads(l) for l in io.open(path, encoding="utf-8")]
    assert rows == [{
        "id": 10,
        "label": "101",
        "label_desc": "news_x"
    }, {
        "id": 11,
        "label": "100",
        "label_desc": "news_story"
    }]


def test_copa_submission_one_line_per_item(tmp_path):
    write_json_lines(tmp_path / "test.json", [{
        "idx": 4,
        "premise": u"下雨",
        "choice0": u"花开",
        "choice1": u"地湿",
        "question": "effect"
    }])
    processor = classifier_tasks.get_processor("copa")
    examples = processor.get_examples(str(tmp_path), "test")
    assert len(examples) == 2
    path = processor.write_submission(str(tmp_path), examples, [[0.6, 0.4], [0.3, 0.7]])
    assert [json.loads(l) for l in io.open(path)] == [{"id": 4, "label": "1"}]


def test_glue_submission_tsv(tmp_path):
    write(tmp_path / "test.tsv", u"index\tsentence\n0\tgood\n1\tbad\n")
    processor = classifier_tasks.get_processor("sst-2")
    examples = processor.get_examples(str(tmp_path), "test")
    path = processor.write_submission(str(tmp_path), examples, [[0.1, 0.9], [0.8, 0.2]])
    assert os.path.basename(path) == "SST-2.tsv"
    assert io.open(path).read() == "index\tprediction\n0\t1\n1\t0\n"
    stsb = classifier_tasks.get_processor("sts-b")
    path = stsb.write_submission(str(tmp_path), examples, [[6.2], [2.345]])
    assert io.open(path).read() == "index\tprediction\n0\t5.000\n1\t2.345\n"


def test_lcqmc_sample_in_data_parses():
    data_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                            "lcqmc_sample")
    processor = classifier_tasks.get_processor("lcqmc")
    # Hand-written pairs plus those of scripts/make_pair_sample.py, half of them positive.
    for split, count in (("train", 10048), ("dev", 316), ("test", 316)):
        examples = processor.get_examples(data_dir, split)
        assert len(examples) == count
        assert sum(e.label == "1" for e in examples) == count // 2
