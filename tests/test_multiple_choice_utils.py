# coding=utf-8
"""Tests of multiple_choice_utils: C3/RACE/JSON-lines readers, features, head, outputs."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os

import numpy as np
import pytest

import checkpoint_utils
import classifier_tasks
import modeling
import multiple_choice_utils as mc
import tokenization
from tf_compat import tf

CHARS = u"天地人山水火木金土日月星风云雨红花草甲乙丙丁"
WORDS = [
    u"the", u"cat", u"dog", u"sat", u"on", u"mat", u"is", u"a", u"red", u"blue", u"what", u"color"
]
VOCAB = [u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] + list(CHARS) + WORDS + [u"?", u"."]
ID = {token: index for index, token in enumerate(VOCAB)}


def write(path, text):
    path = str(path)
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    with io.open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_json(path, obj, indent=None):
    return write(path, json.dumps(obj, ensure_ascii=False, indent=indent))


def write_json_lines(path, rows):
    return write(path, u"".join(json.dumps(r, ensure_ascii=False) + u"\n" for r in rows))


@pytest.fixture
def tokenizer(tmp_path):
    vocab = write(tmp_path / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    return tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)


def question(text, choices, answer=None, qid=None):
    item = {"question": text, "choice": choices}
    if answer is not None:
        item["answer"] = answer
    if qid is not None:
        item["id"] = qid
    return item


# ---------------------------------------------------------------------------
# C3.
# ---------------------------------------------------------------------------


def write_c3(data_dir):
    dialogue = [
        [[u"男：天地", u"女：山水"],
         [question(u"谁说山水？", [u"男", u"女"], u"女"),
          question(u"说了什么？", [u"天地", u"火木", u"山水"], u"火木")], u"d1-1"],
        [[u"甲：红花"], [question(u"什么花？", [u"红花", u"草"], u"红花")], u"d1-2"],
    ]
    mixed = [
        [[u"日月星风云雨。"], [question(u"有什么？", [u"日", u"木", u"金", u"土"], u"日")], u"m1-1"],
    ]
    write_json(data_dir / "d-train.json", dialogue, indent=2)
    write_json(data_dir / "m-train.json", mixed)


def test_c3_reads_dialogue_and_mixed_files_with_two_to_four_options(tmp_path):
    write_c3(tmp_path)
    examples = mc.read_examples("c3", str(tmp_path), "train")
    assert [len(e.options) for e in examples] == [2, 3, 2, 4]
    assert [e.label for e in examples] == [1, 1, 0, 0]
    assert [e.example_id for e in examples] == [0, 1, 2, 3]
    first = examples[0]
    assert first.context == u"男：天地\n女：山水"
    assert first.question == u"谁说山水？"
    assert first.source == "%s: entry 1, question 1" % (tmp_path / "d-train.json")
    assert examples[1].source.endswith("d-train.json: entry 1, question 2")
    assert examples[3].source.endswith("m-train.json: entry 1, question 1")
    assert examples[3].context == u"日月星风云雨。"
    # Chinese questions have no "_": the option follows the question.
    assert first.qa_texts() == [u"谁说山水？ 男", u"谁说山水？ 女"]


def test_c3_dev_with_only_one_of_the_two_files_and_original_names(tmp_path):
    write_json(tmp_path / "c3-m-dev.json", [[[u"天"], [question(u"天？", [u"天", u"地"], u"地")], u"m"]])
    examples = mc.read_examples("c3", str(tmp_path), "dev")
    assert len(examples) == 1 and examples[0].label == 1
    assert mc.data_files("c3", str(tmp_path), "dev") == [str(tmp_path / "c3-m-dev.json")]


def test_c3_test_file_ids_no_labels_and_version_preference(tmp_path):
    entries = [[[u"天地"],
                [question(u"天？", [u"天", u"地", u"人"], qid=7),
                 question(u"地？", [u"天", u"地"], qid=12)], u"t1"]]
    write_json(tmp_path / "test1.0.json",
               entries[:0] + [[[u"人"], [question(u"人？", [u"天", u"人"], qid=0)], u"t0"]])
    assert mc.data_files("c3", str(tmp_path), "test") == [str(tmp_path / "test1.0.json")]
    write_json(tmp_path / "test1.1.json", entries)
    examples = mc.read_examples("c3", str(tmp_path), "test")
    assert [e.example_id for e in examples] == [7, 12]
    assert [e.label for e in examples] == [None, None]
    assert mc.c3_submission_file_name(str(tmp_path / "test1.1.json")) == "c311_predict.json"
    assert mc.c3_submission_file_name("x/test1.0.json") == "c310_predict.json"
    assert mc.c3_submission_file_name("x/test.json") == "c3_predict.json"
    assert mc.c3_submission_file_name() == "c3_predict.json"


def test_c3_answer_matching_ignores_outer_spaces_only(tmp_path):
    path = write_json(tmp_path / "d-train.json",
                      [[[u"天"], [question(u"天？", [u"天 ", u"地"], u"天")], u"x"]])
    assert mc.read_c3_file(path)[0].label == 0


def test_c3_more_options_need_a_larger_maximum(tmp_path):
    path = write_json(tmp_path / "d-train.json",
                      [[[u"天"], [question(u"天？", [u"天", u"地", u"人", u"山", u"水"], u"水")], u"x"]])
    with pytest.raises(mc.DataError, match=r"entry 1, question 1: 5 options, more than "
                       r"the maximum of 4"):
        mc.read_c3_file(path)
    assert mc.read_c3_file(path, max_options=5)[0].label == 4


def _c3_bad(case):
    good = question(u"天？", [u"天", u"地"], u"天")
    broken = dict(good)
    context = [u"天地"]
    if case == "answer":
        broken["answer"] = u"水"
    elif case == "one_option":
        broken["choice"] = [u"天"]
    elif case == "five_options":
        broken["choice"] = [u"天", u"地", u"人", u"山", u"水"]
    elif case == "empty_option":
        broken["choice"] = [u"天", u"  "]
    elif case == "empty_question":
        broken["question"] = u""
    elif case == "missing_choice":
        del broken["choice"]
    elif case == "missing_answer":
        del broken["answer"]
    elif case == "empty_context":
        context = [u"", u" "]
    return [[[u"地"], [good], u"ok"], [context, [good, broken], u"bad"]]


@pytest.mark.parametrize("case, problem", [
    ("answer", u"answer '水' is not among the choices"),
    ("one_option", "1 option(s); a question needs at least 2"),
    ("five_options", "5 options, more than the maximum of 4"),
    ("empty_option", "empty option 2"),
    ("empty_question", "empty question"),
    ("missing_choice", "missing field 'choice'"),
    ("missing_answer", "missing field 'answer'"),
    ("empty_context", "empty context"),
])
def test_c3_bad_inputs_name_file_and_entry(tmp_path, case, problem):
    path = write_json(tmp_path / "d-train.json", _c3_bad(case))
    with pytest.raises(mc.DataError) as info:
        mc.read_examples("c3", str(tmp_path), "train")
    message = str(info.value)
    where = "%s: entry 2" % path if case == "empty_context" else "%s: entry 2, question 2" % path
    assert message.startswith(where + ": ")
    assert problem in message
    assert "\n" not in message


def test_c3_malformed_json_and_wrong_structure(tmp_path):
    path = write(tmp_path / "d-train.json", u'[\n  [["天"], [], "x"],\n  [["地"] [], "y"]\n]\n')
    with pytest.raises(mc.DataError, match=r"d-train\.json:3: malformed JSON"):
        mc.read_c3_file(path)
    path = write_json(tmp_path / "m-train.json", {"data": []})
    with pytest.raises(mc.DataError, match=r"m-train\.json: expected a JSON list"):
        mc.read_c3_file(path)
    with pytest.raises(mc.DataError, match=r"no C3 dev file"):
        mc.read_examples("c3", str(tmp_path), "dev")


# ---------------------------------------------------------------------------
# RACE.
# ---------------------------------------------------------------------------


def race_article(article_id, questions, answers=("A",)):
    return {
        "id": article_id,
        "article": u"the cat sat on the mat .",
        "questions": list(questions),
        "options": [[u"red", u"blue", u"cat", u"dog"] for _ in questions],
        "answers": list(answers)
    }


def write_race(data_dir, split="train"):
    root = data_dir / "RACE" / split
    write_json_lines(root / "middle" / "all.txt", [
        race_article("middle1.txt", [u"the _ is red .", u"what color ?"], ["C", "B"]),
        race_article("middle2.txt", [u"a _ sat on _ mat ."], ["D"]),
    ])
    # The release's layout: one pretty-printed object per file.
    write_json(root / "high" / "high7.txt", race_article("high7.txt", [u"what is it ?"], ["A"]),
               indent=2)
    write_json(root / "high" / "high3.txt", race_article("high3.txt", [u"is it red ?"], ["B"]))


def test_race_layout_levels_and_google_merge(tmp_path):
    write_race(tmp_path)
    examples = mc.read_examples("race", str(tmp_path), "train")
    assert [e.example_id for e in examples
           ] == ["middle1.txt-0", "middle1.txt-1", "middle2.txt-0", "high3.txt-0", "high7.txt-0"]
    assert [e.label for e in examples] == [2, 1, 3, 1, 0]
    # "_" is replaced by the option (every "_", as Google's str.replace does).
    assert examples[0].qa_texts()[0] == u"the red is red ."
    assert examples[2].qa_texts()[3] == u"a dog sat on dog mat ."
    # Otherwise the option follows the question after a space.
    assert examples[1].qa_texts() == [
        u"what color ? red", u"what color ? blue", u"what color ? cat", u"what color ? dog"
    ]
    middle = str(tmp_path / "RACE" / "train" / "middle" / "all.txt")
    assert examples[1].source == "%s:1: question 2" % middle
    assert examples[2].source == "%s:2: question 1" % middle
    assert examples[4].source == "%s: question 1" % (tmp_path / "RACE" / "train" / "high" /
                                                     "high7.txt")
    high = mc.read_examples("race", str(tmp_path), "train", high_only=True)
    assert [e.example_id for e in high] == ["high3.txt-0", "high7.txt-0"]
    middle_only = mc.read_examples("race", str(tmp_path), "train", middle_only=True)
    assert len(middle_only) == 3
    with pytest.raises(ValueError, match="exclude each other"):
        mc.data_files("race", str(tmp_path), "train", high_only=True, middle_only=True)


def test_race_all_txt_is_preferred_and_data_dir_may_be_the_race_dir(tmp_path):
    write_race(tmp_path)
    write_json_lines(tmp_path / "RACE" / "train" / "middle" / "middle1.txt",
                     [race_article("middle1.txt", [u"what color ?"], ["B"])])
    race_dir = str(tmp_path / "RACE")
    files = mc.data_files("race", race_dir, "train")
    assert [os.path.basename(p) for p in files] == ["all.txt", "high3.txt", "high7.txt"]
    assert files == mc.data_files("race", str(tmp_path), "train")
    with pytest.raises(mc.DataError, match="no RACE dev files"):
        mc.data_files("race", str(tmp_path), "dev")


@pytest.mark.parametrize("change, problem", [
    (lambda a: a.update(answers=["E", "B"]), "question 1: answer 'E' is not one of the option "
     "letters A-D"),
    (lambda a: a.update(answers=["A"]), "2 questions, 2 option lists and 1 answers"),
    (lambda a: a.pop("article"), "missing field 'article'"),
    (lambda a: a.update(article=u"  "), "empty article"),
    (lambda a: a["options"][1].pop(), "question 2: field 'options' must"),
    (lambda a: a.update(options=[[u"red"], [u"a", u"b"]]), "question 1: 1 option(s)"),
    (lambda a: a["options"][1].__setitem__(2, u""), "question 2: empty option 3"),
    (lambda a: a["questions"].__setitem__(0, u""), "question 1: empty question"),
])
def test_race_bad_inputs_name_file_line_and_question(tmp_path, change, problem):
    article = race_article("m.txt", [u"what color ?", u"is it red ?"], ["A", "B"])
    change(article)
    if "field 'options' must" in problem:
        article["options"][1] = u"not a list"
    path = write_json_lines(tmp_path / "RACE" / "dev" / "middle" / "all.txt",
                            [race_article("ok.txt", [u"is it ?"]), article])
    with pytest.raises(mc.DataError) as info:
        mc.read_examples("race", str(tmp_path), "dev")
    message = str(info.value)
    assert message.startswith("%s:2" % path)
    assert problem in message


def test_race_malformed_json_line_and_test_without_answers(tmp_path):
    path = write(tmp_path / "RACE" / "test" / "high" / "all.txt",
                 json.dumps(race_article("a", [u"is it ?"])) + u"\n{\"article\": \n")
    with pytest.raises(mc.DataError, match=r"all\.txt:2: malformed JSON"):
        mc.read_race_file(path)
    article = race_article("h1.txt", [u"is it ?"])
    del article["answers"]
    write_json_lines(tmp_path / "RACE" / "test" / "high" / "all.txt", [article])
    examples = mc.read_examples("race", str(tmp_path), "test")
    assert examples[0].label is None
    with pytest.raises(mc.DataError, match="missing field 'answers'"):
        mc.read_race_file(path)


# ---------------------------------------------------------------------------
# JSON lines.
# ---------------------------------------------------------------------------


def test_jsonl_int_and_text_labels_ids_and_unlabelled_test(tmp_path):
    write_json_lines(tmp_path / "train.jsonl", [
        {
            "id": "q1",
            "context": u"天地",
            "question": u"天？",
            "choices": [u"天", u"地"],
            "label": 1
        },
        {
            "context": u"山水",
            "question": u"水？",
            "choices": [u"山", u"水", u"火"],
            "label": u"火"
        },
    ])
    write_json_lines(tmp_path / "test.jsonl", [
        {
            "id": 5,
            "context": u"天",
            "question": u"天？",
            "choices": [u"天", u"地"]
        },
        {
            "id": 6,
            "context": u"地",
            "question": u"地？",
            "choices": [u"天", u"地"],
            "label": None
        },
    ])
    train = mc.read_examples("jsonl", str(tmp_path), "train")
    assert [(e.example_id, e.label) for e in train] == [("q1", 1), (1, 2)]
    assert train[1].source == "%s:2" % (tmp_path / "train.jsonl")
    test = mc.read_examples("json_lines", str(tmp_path), "test")
    assert [(e.example_id, e.label) for e in test] == [(5, None), (6, None)]
    with pytest.raises(mc.DataError, match=r"test\.jsonl:1: missing field 'label'"):
        mc.read_jsonl_file(str(tmp_path / "test.jsonl"))


@pytest.mark.parametrize("row, problem", [
    ({
        "label": 2
    }, "label 2 is out of range for 2 choices"),
    ({
        "label": u"水"
    }, u"label '水' is not among the choices"),
    ({
        "label": True
    }, "label must be a choice index or a choice text"),
    ({
        "context": u""
    }, "empty context"),
    ({
        "context": None
    }, "missing field 'context'"),
    ({
        "question": u" "
    }, "empty question"),
    ({
        "choices": [u"天"]
    }, "1 option(s); a question needs at least 2"),
    ({
        "choices": [u"天", u"地", u"人", u"山", u"水"]
    }, "5 options, more than the maximum"),
    ({
        "choices": u"天地"
    }, "field 'choices' must be a list"),
    ({
        "choices": [u"天", 3, u""]
    }, "empty option 3"),
])
def test_jsonl_bad_inputs_name_file_and_line(tmp_path, row, problem):
    good = {"context": u"天地", "question": u"天？", "choices": [u"天", u"地"], "label": 0}
    bad = dict(good)
    bad.update(row)
    bad = {k: v for k, v in bad.items() if v is not None}
    path = write_json_lines(tmp_path / "dev.jsonl", [good, good, bad])
    with pytest.raises(mc.DataError) as info:
        mc.read_examples("jsonl", str(tmp_path), "dev")
    assert str(info.value).startswith("%s:3: " % path)
    assert problem in str(info.value)


def test_jsonl_malformed_line_missing_file_and_unknown_task(tmp_path):
    good = json.dumps({
        "context": u"天",
        "question": u"天？",
        "choices": [u"天", u"地"],
        "label": 0
    }, ensure_ascii=False)
    path = write(tmp_path / "train.jsonl", good + u'\n\n{"context": \n')
    with pytest.raises(mc.DataError, match=r"train\.jsonl:3: not valid JSON"):
        mc.read_jsonl_file(path)
    with pytest.raises(mc.DataError, match=r"no dev\.jsonl file"):
        mc.read_examples("jsonl", str(tmp_path), "dev")
    with pytest.raises(ValueError, match="known tasks: c3, race, jsonl"):
        mc.read_examples("swag", str(tmp_path), "train")
    write(tmp_path / "empty" / "train.jsonl", u"\n")
    with pytest.raises(mc.DataError, match="no questions"):
        mc.read_examples("jsonl", str(tmp_path / "empty"), "train")


# ---------------------------------------------------------------------------
# Features.
# ---------------------------------------------------------------------------


def test_truncation_keeps_the_last_qa_tokens_and_cuts_the_context_first():
    context = list(u"abcdefghij")
    qa = list(u"0123456")
    # 12 positions - 3 specials = 9: qa keeps its last 4, the context its first 5.
    assert mc.truncate_option_tokens(context, qa, 12, 4) == (list(u"abcde"), list(u"3456"))
    # A short qa is kept whole; the context takes the rest of the room.
    assert mc.truncate_option_tokens(context, list(u"01"), 12, 4) == (list(u"abcdefg"), list(u"01"))
    # Everything fits: nothing is cut.
    assert mc.truncate_option_tokens(list(u"abc"), list(u"01"), 12,
                                     4) == (list(u"abc"), list(u"01"))
    # max_qa_length beyond the sequence: qa keeps its last max_seq_length - 3.
    assert mc.truncate_option_tokens(context, qa, 8, 100) == ([], list(u"23456"))
    tokens, segments = mc.encode_option(context, qa, 12, 4)
    assert tokens == ["[CLS]", "a", "b", "c", "d", "e", "[SEP]", "3", "4", "5", "6", "[SEP]"]
    assert segments == [0] * 7 + [1] * 5
    assert len(tokens) == 12


def _ids(tokens):
    return [ID[t] for t in tokens]


def test_features_exact_rows_padding_and_option_mask(tokenizer):
    example = mc.MultipleChoiceExample("x", u"天地人山水火", u"天 _ 地", [u"红", u"花草"], label=1,
                                       source="mem:1")
    feature = mc.convert_examples_to_features([example], tokenizer, max_seq_length=8,
                                              max_qa_length=3, num_choices=4)[0]
    length = 8
    assert len(feature.input_ids) == len(feature.input_mask) == len(feature.segment_ids) == 32
    # Option 0: qa "天 红 地" (3 tokens, kept), context cut to 8 - 3 - 3 = 2 tokens.
    row0 = _ids(["[CLS]", u"天", u"地", "[SEP]", u"天", u"红", u"地", "[SEP]"])
    # Option 1: qa "天 花 草 地" keeps its last 3 tokens "花 草 地".
    row1 = _ids(["[CLS]", u"天", u"地", "[SEP]", u"花", u"草", u"地", "[SEP]"])
    assert feature.input_ids[:length] == row0
    assert feature.input_ids[length:2 * length] == row1
    assert feature.segment_ids[:2 * length] == [0, 0, 0, 0, 1, 1, 1, 1] * 2
    assert feature.input_mask[:2 * length] == [1] * 16
    assert feature.input_ids[2 * length:] == [0] * 16
    assert feature.input_mask[2 * length:] == [0] * 16
    assert feature.segment_ids[2 * length:] == [0] * 16
    assert feature.option_mask == [1, 1, 0, 0]
    assert feature.label_id == 1 and feature.is_real_example
    record = feature.as_dict()
    spec = mc.feature_spec(8, 4)
    assert list(record) == list(spec) == [
        "input_ids", "input_mask", "segment_ids", "option_mask", "label_ids", "is_real_example"
    ]
    for name, (shape, dtype) in spec.items():
        assert dtype == "int64"
        assert len(record[name]) == (shape[0] if shape else 1)
    assert record["label_ids"] == [1] and record["is_real_example"] == [1]


def test_short_texts_are_padded_within_each_row(tokenizer):
    example = mc.MultipleChoiceExample("y", u"山", u"水？", [u"天", u"地", u"人"], label=None)
    feature = mc.convert_single_example(example, tokenizer, 10, 5, 3)
    rows = [feature.input_ids[k * 10:(k + 1) * 10] for k in range(3)]
    assert rows[2] == _ids(
        ["[CLS]", u"山", "[SEP]", u"水", u"？" if u"？" in ID else "[UNK]", u"人", "[SEP]"]) + [0, 0, 0]
    assert feature.input_mask[20:30] == [1] * 7 + [0] * 3
    assert feature.segment_ids[20:30] == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert feature.option_mask == [1, 1, 1]
    assert feature.label_id == 0  # unknown answer


def test_too_many_options_padding_examples_and_bad_lengths(tokenizer):
    example = mc.MultipleChoiceExample("z", u"天", u"天？", [u"天", u"地", u"人"], 0,
                                       source="f.json: entry 3, question 1")
    with pytest.raises(mc.DataError, match=r"f\.json: entry 3, question 1: 3 options but "
                       r"records hold 2"):
        mc.convert_examples_to_features([example], tokenizer, 8, 3, 2)
    padding = mc.convert_examples_to_features([classifier_tasks.PaddingInputExample()], tokenizer,
                                              8, 3, 4)[0]
    assert not padding.is_real_example
    assert padding.input_ids == [0] * 32 and padding.option_mask == [0] * 4
    assert padding.as_dict()["is_real_example"] == [0]
    with pytest.raises(ValueError, match="max_seq_length"):
        mc.convert_examples_to_features([example], tokenizer, 3, 3, 4)
    with pytest.raises(ValueError, match="max_qa_length"):
        mc.convert_examples_to_features([example], tokenizer, 8, 0, 4)


def test_feature_dicts_parse_with_the_spec_and_stream(tmp_path, tokenizer):
    """as_dict() written as tf.train.Examples parses back with feature_spec."""
    write_c3(tmp_path)
    examples = mc.read_examples("c3", str(tmp_path), "train")
    examples.append(classifier_tasks.PaddingInputExample())
    spec = mc.feature_spec(16, 4)
    record_file = str(tmp_path / "train.tf_record")

    class Counter(object):
        count = 0

        def update(self, n):
            self.count += n

    counter = Counter()
    stream = mc.generate_features(examples, tokenizer, 16, 5, 4, progress=counter)
    assert counter.count == 0  # nothing is encoded before it is read
    with tf.io.TFRecordWriter(record_file) as writer:
        for feature in stream:
            writer.write(
                tf.train.Example(features=tf.train.Features(
                    feature={
                        name: tf.train.Feature(int64_list=tf.train.Int64List(value=values))
                        for name, values in feature.as_dict().items()
                    })).SerializeToString())
    assert counter.count == 5
    parse = {name: tf.io.FixedLenFeature(shape, tf.int64) for name, (shape, _) in spec.items()}
    with tf.Graph().as_default():
        dataset = tf.data.TFRecordDataset(record_file).map(
            lambda record: tf.io.parse_single_example(record, parse)).batch(8)
        batch = tf.data.make_one_shot_iterator(dataset).get_next()
        with tf.Session() as sess:
            got = sess.run(batch)
    want = mc.convert_examples_to_features(examples, tokenizer, 16, 5, 4)
    assert got["input_ids"].shape == (5, 64) and got["option_mask"].shape == (5, 4)
    assert got["label_ids"].shape == (5,)
    for k, feature in enumerate(want):
        for name, values in feature.as_dict().items():
            np.testing.assert_array_equal(np.reshape(got[name][k], [-1]), values)
    assert list(got["is_real_example"]) == [1, 1, 1, 1, 0]
    assert list(got["option_mask"][:, 3]) == [0, 0, 0, 1, 0]
    assert list(got["label_ids"]) == [1, 1, 0, 0, 0]


# ---------------------------------------------------------------------------
# Model.
# ---------------------------------------------------------------------------

HIDDEN = 16


def _config(**overrides):
    fields = dict(vocab_size=len(VOCAB), embedding_size=8, hidden_size=HIDDEN, num_hidden_layers=2,
                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                  embedding_layout="google")
    fields.update(overrides)
    return modeling.AlbertConfig(**fields)


LENGTH = 6


def _inputs(num_choices, batch=2, seed=3):
    """Random flattened records: option k of row b has a random length."""
    rng = np.random.RandomState(seed)
    ids = np.zeros([batch, num_choices, LENGTH], np.int32)
    mask = np.zeros_like(ids)
    for b in range(batch):
        for k in range(num_choices):
            n = rng.randint(3, LENGTH + 1)
            ids[b, k, :n] = rng.randint(5, len(VOCAB), size=n)
            mask[b, k, :n] = 1
    types = (np.arange(LENGTH) >= 3).astype(np.int32) * mask
    return ids, mask, types


def _fetch(outputs):
    """The tensors of a ModelOutputs (the losses are None without labels)."""
    return {name: value for name, value in outputs._asdict().items() if value is not None}


def _run(fetches):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches)


def test_head_variables_are_googles_and_shapes():
    ids, mask, types = _inputs(4)
    with tf.Graph().as_default():
        outputs = mc.create_model(_config(), False, tf.constant(ids.reshape([2, -1])),
                                  tf.constant(mask.reshape([2, -1])),
                                  tf.constant(types.reshape([2, -1])),
                                  tf.constant([[1, 1, 1, 0], [1, 1, 1, 1]]), tf.constant([2, 0]), 4)
        shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        head = {n: s for n, s in shapes.items() if not n.startswith("bert/")}
        assert head == {"output_weights": [1, HIDDEN], "output_bias": [1]}
        assert outputs.logits.shape.as_list() == [2, 4]
        got = _run(_fetch(outputs))
    assert got["probabilities"].shape == (2, 4)
    np.testing.assert_allclose(got["probabilities"].sum(axis=1), 1.0, rtol=1e-6)
    assert got["per_example_loss"].shape == (2,)
    np.testing.assert_allclose(
        got["per_example_loss"],
        [-np.log(got["probabilities"][0, 2]), -np.log(got["probabilities"][1, 0])], rtol=1e-5)
    assert got["loss"] == pytest.approx(got["per_example_loss"].mean(), rel=1e-6)
    assert mc.head_variable_patterns(_config()) == [r"^output_weights$", r"^output_bias$"]
    assert mc.head_problems({"output_bias": [1]}) == []
    assert "has 3 outputs" in mc.head_problems({"output_bias": [3]})[0]


def test_masked_options_get_no_probability_and_padding_is_equivalent():
    """A 2-option example scores its options as the same example padded to 4."""
    ids, mask, types = _inputs(4, batch=1)
    with tf.Graph().as_default():
        config = _config()
        two = mc.create_model(config, False, tf.constant(ids[:, :2].reshape([1, -1])),
                              tf.constant(mask[:, :2].reshape([1, -1])),
                              tf.constant(types[:, :2].reshape([1, -1])), None, None, 2)
        padded_ids = ids.copy()
        padded_ids[:, 2:] = 0
        padded_mask = mask.copy()
        padded_mask[:, 2:] = 0
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            four = mc.create_model(config, False, tf.constant(padded_ids.reshape([1, -1])),
                                   tf.constant(padded_mask.reshape([1, -1])),
                                   tf.constant((types * padded_mask).reshape([1, -1])),
                                   tf.constant([[1, 1, 0, 0]]), tf.constant([1]), 4)
            # The options themselves ([B, C, L] inputs) give the same scores.
            nested = mc.create_model(config, False, tf.constant(ids), tf.constant(mask),
                                     tf.constant(types), tf.constant([[1, 1, 0, 0]]), None, None)
        assert len(tf.global_variables()) == len(
            [v for v in tf.global_variables() if v.op.name.startswith("bert/")]) + 2
        got = _run({"two": _fetch(two), "four": _fetch(four), "nested": _fetch(nested)})
    np.testing.assert_allclose(got["four"]["logits"][:, :2], got["two"]["logits"], atol=1e-5)
    np.testing.assert_allclose(got["four"]["probabilities"][:, :2], got["two"]["probabilities"],
                               atol=1e-6)
    assert np.all(got["four"]["logits"][:, 2:] == mc.MASKED_LOGIT)
    assert np.all(got["four"]["probabilities"][:, 2:] < 1e-30)
    np.testing.assert_allclose(got["nested"]["probabilities"], got["four"]["probabilities"],
                               atol=1e-6)
    assert got["four"]["loss"] == pytest.approx(-np.log(got["two"]["probabilities"][0, 1]),
                                                rel=1e-5)


def test_logits_are_the_head_on_each_options_pooled_output_in_record_order():
    """Option k of example b is row b * num_choices + k of the encoder batch, and
    the score is pooled . output_weights + output_bias (numpy, full model)."""
    ids, mask, types = _inputs(3, batch=2, seed=8)
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        outputs = mc.create_model(_config(), False, tf.constant(ids.reshape([2, -1])),
                                  tf.constant(mask.reshape([2, -1])),
                                  tf.constant(types.reshape([2, -1])), None, None, 3)
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            full = modeling.AlbertModel(_config(), False, tf.constant(ids.reshape([6, -1])),
                                        tf.constant(mask.reshape([6, -1])),
                                        tf.constant(types.reshape([6, -1])), scope="bert")
            weights = tf.get_variable("output_weights")
            bias = tf.get_variable("output_bias")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            bias.load(np.array([0.3], np.float32), sess)
            # Large head weights spread the six scores far apart, so that a
            # wrong option order could not pass within the tolerance.
            head = np.random.RandomState(4).normal(0, 10, weights.shape.as_list())
            weights.load(head.astype(np.float32), sess)
            got = sess.run({
                "logits": outputs.logits,
                "pooled": full.get_pooled_output(),
                "weights": weights,
                "bias": bias
            })
    want = (got["pooled"].astype(np.float64).dot(got["weights"][0]) + got["bias"][0])
    np.testing.assert_allclose(got["logits"], want.reshape([2, 3]), rtol=1e-5, atol=1e-5)
    gaps = np.abs(np.subtract.outer(want, want))[~np.eye(6, dtype=bool)]
    assert gaps.min() > 1e-2, want  # the options do score differently


def test_dropout_on_the_pooled_output_only_when_training():
    ids, mask, types = _inputs(4, batch=1)
    for is_training, distinct in ((True, True), (False, False)):
        with tf.Graph().as_default():
            tf.set_random_seed(1)
            outputs = mc.create_model(
                _config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0), is_training,
                tf.constant(ids), tf.constant(mask), tf.constant(types), None, None, None,
                dropout=0.9)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                runs = {tuple(np.round(sess.run(outputs.logits)[0], 6)) for _ in range(4)}
        assert (len(runs) > 1) == distinct


def test_a_row_without_options_stays_finite():
    ids, mask, types = _inputs(4, batch=1)
    with tf.Graph().as_default():
        outputs = mc.create_model(_config(), False, tf.constant(ids), tf.constant(mask),
                                  tf.constant(types), tf.constant([[0, 0, 0, 0]]), tf.constant([0]),
                                  None)
        got = _run(_fetch(outputs))
    np.testing.assert_allclose(got["probabilities"], 0.25, rtol=1e-6)
    assert np.isfinite(got["loss"])


def test_checkpoints_interchange_with_googles_race_head(tmp_path):
    """A pretrained checkpoint fills all but the head; a RACE checkpoint fills all."""
    config = _config()
    ids, mask, types = _inputs(4)
    pretrained = str(tmp_path / "pretrained" / "model.ckpt")
    race = str(tmp_path / "race" / "model.ckpt")
    with tf.Graph().as_default():
        modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, pretrained)
    with tf.Graph().as_default():
        # Google's RACE head variables, written by hand with their names and shapes.
        modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
        tf.get_variable("output_weights", [1, HIDDEN])
        tf.get_variable("output_bias", [1])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, race)
    for checkpoint, allowed in ((pretrained, ["output_bias", "output_weights"]), (race, [])):
        with tf.Graph().as_default():
            mc.create_model(config, False, tf.constant(ids.reshape([2, -1])),
                            tf.constant(mask.reshape([2, -1])), tf.constant(types.reshape([2, -1])),
                            None, None, 4)
            report = checkpoint_utils.init_from_checkpoint(
                checkpoint, allow_missing=mc.head_variable_patterns(config), log=False)
            assert report.ok
            assert sorted(report.allowed_missing) == allowed


def _model_fn_features():
    ids, mask, types = _inputs(4)
    return {
        "input_ids": tf.constant(ids.reshape([2, -1])),
        "input_mask": tf.constant(mask.reshape([2, -1])),
        "segment_ids": tf.constant(types.reshape([2, -1])),
        "option_mask": tf.constant([[1, 1, 1, 0], [1, 1, 1, 1]]),
        "label_ids": tf.constant([1, 3]),
        "is_real_example": tf.constant([1, 0])
    }


def test_model_fn_train_and_predict_specs():
    config = _config()
    model_fn = mc.model_fn_builder(config, 4, learning_rate=1e-3, num_train_steps=10,
                                   num_warmup_steps=1)
    with tf.Graph().as_default():
        spec = model_fn(_model_fn_features(), None, tf.estimator.ModeKeys.TRAIN, {})
        assert isinstance(spec, tf.estimator.EstimatorSpec) and spec.train_op is not None
        assert tf.get_default_graph().get_tensor_by_name("total_loss:0") is not None
    with tf.Graph().as_default():
        spec = model_fn(_model_fn_features(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert sorted(spec.predictions) == ["is_real_example", "label_ids", "probabilities"]
        probs = _run(spec.predictions["probabilities"])
        assert probs.shape == (2, 4) and probs[0, 3] < 1e-30
    tpu_fn = mc.model_fn_builder(config, 4, use_tpu=True, use_one_hot_embeddings=True)
    with tf.Graph().as_default():
        spec = tpu_fn(_model_fn_features(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert type(spec).__name__ == "TPUEstimatorSpec"
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="only TRAIN and PREDICT"):
            model_fn(_model_fn_features(), None, tf.estimator.ModeKeys.EVAL, {})


def test_export_saved_model_signature(tmp_path):
    config = _config()
    ids, mask, types = _inputs(4)
    option_mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.int32)
    checkpoint = str(tmp_path / "ft" / "model.ckpt")
    with tf.Graph().as_default():
        outputs = mc.create_model(config, False, tf.constant(ids), tf.constant(mask),
                                  tf.constant(types), tf.constant(option_mask), None, 4)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            want = sess.run(outputs.probabilities)
            tf.train.Saver().save(sess, checkpoint)
    export_dir = str(tmp_path / "export")
    mc.export_saved_model(config, checkpoint, export_dir, assets={"vocab.txt": u"x\n"})
    assert os.path.isfile(os.path.join(export_dir, "assets.extra", "vocab.txt"))
    with tf.Graph().as_default():
        with tf.Session() as sess:
            meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING],
                                              export_dir)
            signature = meta.signature_def["serving_default"]
            assert sorted(
                signature.inputs) == ["input_ids", "input_mask", "option_mask", "segment_ids"]
            feeds = {
                signature.inputs["input_ids"].name: ids,
                signature.inputs["input_mask"].name: mask,
                signature.inputs["segment_ids"].name: types,
                signature.inputs["option_mask"].name: option_mask
            }
            got = sess.run(signature.outputs["probabilities"].name, feeds)
            # Three options of a shorter length: the signature takes any of both.
            three = sess.run(
                signature.outputs["probabilities"].name, {
                    signature.inputs["input_ids"].name: ids[:, :3, :5],
                    signature.inputs["input_mask"].name: mask[:, :3, :5],
                    signature.inputs["segment_ids"].name: types[:, :3, :5],
                    signature.inputs["option_mask"].name: option_mask[:, :3]
                })
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert three.shape == (2, 3)
    write(tmp_path / "foreign" / "notes.txt", u"mine")
    with pytest.raises(ValueError, match="not a SavedModel"):
        mc.export_saved_model(config, checkpoint, str(tmp_path / "foreign"))


# ---------------------------------------------------------------------------
# Metrics and outputs.
# ---------------------------------------------------------------------------


def test_accuracy_and_metrics_are_exact():
    probabilities = [[0.1, 0.7, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.1, 0.4, 0.0]]
    assert mc.accuracy(probabilities, [1, 0, 2]) == 2.0 / 3.0
    metrics = mc.compute_metrics(probabilities, [1, 0, 2])
    assert metrics["num_examples"] == 3 and metrics["num_correct"] == 2
    assert metrics["eval_accuracy"] == 2.0 / 3.0
    assert metrics["eval_loss"] == pytest.approx(-(np.log(0.7) + np.log(0.25) + np.log(0.4)) / 3)
    assert mc.accuracy([], []) == 0.0
    assert mc.compute_metrics(np.zeros([0, 4]), [])["eval_accuracy"] == 0.0
    with pytest.raises(ValueError, match="3 rows of probabilities for 2 labels"):
        mc.accuracy(probabilities, [1, 0])


def _read_lines(path):
    with io.open(path, encoding="utf-8") as reader:
        return [json.loads(line) for line in reader.read().splitlines()]


def test_c3_submission_is_clues_format(tmp_path):
    examples = [
        mc.MultipleChoiceExample(7, u"天", u"天？", [u"天", u"地", u"人"]),
        mc.MultipleChoiceExample(12, u"地", u"地？", [u"天", u"地"])
    ]
    # Padded options never win, even with a larger (meaningless) value.
    probabilities = [[0.2, 0.1, 0.7, 0.0], [0.3, 0.4, 0.0, 0.9]]
    path = mc.write_submission(str(tmp_path), "c3", examples, probabilities)
    assert os.path.basename(path) == "c3_predict.json"
    with io.open(path, encoding="utf-8") as reader:
        text = reader.read()
    assert text == u'{"id": 7, "label": 2}\n{"id": 12, "label": 1}\n'
    versioned = mc.write_submission(str(tmp_path), "c3", examples, probabilities,
                                    file_name=mc.c3_submission_file_name("test1.1.json"))
    assert os.path.basename(versioned) == "c311_predict.json"
    assert [n for n in os.listdir(str(tmp_path)) if "tmp" in n] == []
    with pytest.raises(ValueError, match="2 rows of probabilities for 1 examples"):
        mc.write_submission(str(tmp_path), "c3", examples[:1], probabilities)


def test_race_and_jsonl_predictions_file(tmp_path):
    examples = [
        mc.MultipleChoiceExample("high1.txt-0", u"c", u"q", [u"a", u"b", u"c", u"d"]),
        mc.MultipleChoiceExample("q2", u"c", u"q", [u"a", u"b"])
    ]
    probabilities = np.array([[0.1, 0.2, 0.3, 0.4], [0.6, 0.4, 0.0, 0.0]])
    for task in ("race", "jsonl"):
        path = mc.write_submission(str(tmp_path / task), task, examples, probabilities)
        assert os.path.basename(path) == "predictions.jsonl"
        rows = _read_lines(path)
        assert rows == [{
            "id": "high1.txt-0",
            "label": 3,
            "probabilities": [0.1, 0.2, 0.3, 0.4]
        }, {
            "id": "q2",
            "label": 0,
            "probabilities": [0.6, 0.4]
        }]
