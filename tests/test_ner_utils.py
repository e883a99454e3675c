# coding=utf-8
"""Tests of ner_utils: formats, schemes, windows, CRF, model head, metrics."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import itertools
import json
import os
import random

import numpy as np
import pytest

import checkpoint_utils
import modeling
import ner_utils
import tokenization
from tf_compat import tf

CHINESE = u"北京是中国的首都天安门广场位于市中心浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读我在球队年"
ENGLISH = [
    u"new", u"york", u"paris", u"is", u"the", u"cat", u"cats", u"sat", u"on", u"mat", u"capital",
    u"of", u"france", u"seine", u"river", u"nba", u"team", u"cafe"
]
LETTERS = list(u"abcdefghijklmnopqrstuvwxyz0123456789")
VOCAB = ([u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] + list(CHINESE) + ENGLISH + LETTERS +
         [u"##s", u"##ing", u"##9", u"2019", u",", u".", u"，", u"。", u"ａ", u"ｂ"])


def write_bytes(path, data):
    with io.open(str(path), "wb") as f:
        f.write(data)
    return str(path)


def write(path, text):
    return write_bytes(path, text.encode("utf-8"))


def read_bytes(path):
    with io.open(str(path), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vocab")
    vocab = write(directory / "vocab.txt", u"\n".join(dict.fromkeys(VOCAB)) + u"\n")
    return tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)


# ---------------------------------------------------------------------------
# Formats: reading and byte-identical round trips.
# ---------------------------------------------------------------------------

CONLL = (u"-DOCSTART- -X- -X- O\n"
         u"\n"
         u"北 B-LOC\n"
         u"京 I-LOC\n"
         u"是 O\n"
         u"ｂ O\n"
         u"2 B-DATE\n"
         u"0 I-DATE\n"
         u"\n"
         u"\n"
         u"Paris\tNNP\tB-LOC\n"
         u"is\tVBZ\tO\n"
         u"cafés   NN  O  \n"
         u"Ｐａｒｉｓ\tB-ORG\n"
         u"\n")

TSV = (u"text_a\tlabel\n"
       u"北 京 是 中 国 的 首 都\tB-LOC I-LOC O B-LOC I-LOC O O O\n"
       u"\n"
       u"Ｎ Ｂ Ａ 2 0 1 9 a b\tB-ORG I-ORG I-ORG O O O O O O\n")

CLUENER_LINES = [
    # The types are not in text order, as in the released files.
    {
        "text": u"浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。",
        "label": {
            "name": {
                u"叶老桂": [[9, 11]]
            },
            "company": {
                u"浙商银行": [[0, 3]]
            }
        }
    },
    # Spaces, Latin words, digits, full-width characters; one entity twice,
    # its positions listed out of order.
    {
        "text": u"New York 的 ＮＢＡ 球队 2019 年在 New York",
        "label": {
            "address": {
                u"New York": [[26, 33], [0, 7]]
            },
            "organization": {
                u"ＮＢＡ 球队": [[11, 16]]
            }
        }
    },
]


def cluener_text():
    lines = [json.dumps(obj, ensure_ascii=False) for obj in CLUENER_LINES]
    # Other JSON spellings, an id, and a test-style line without label.
    lines.append(
        json.dumps({
            "id": 7,
            "text": u"北京 ａ",
            "label": {
                "address": {
                    u"北京": [[0, 1]]
                }
            }
        }, ensure_ascii=True))
    lines.append(
        json.dumps({
            "text": u"cat sat",
            "label": {
                "name": {
                    u"cat": [[0, 2]]
                }
            }
        }, separators=(",", ":")))
    lines.append(json.dumps({"id": 8, "text": u"天安门 广场"}, ensure_ascii=False))
    return u"\n".join(lines) + u"\n"


def test_conll_reading(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    assert ner_utils.detect_format(path) == "conll"
    examples = ner_utils.read_examples(path)
    assert [e.tokens for e in examples] == [[u"北", u"京", u"是", u"ｂ", u"2", u"0"],
                                            [u"Paris", u"is", u"cafés", u"Ｐａｒｉｓ"]]
    assert examples[0].tags == [u"B-LOC", u"I-LOC", u"O", u"O", u"B-DATE", u"I-DATE"]
    assert examples[1].tags == [u"B-LOC", u"O", u"O", u"B-ORG"]
    assert examples[0].source == "%s:3" % path and examples[1].source == "%s:11" % path
    assert examples[1].token_source(2) == "%s:13" % path
    assert all(e.scheme == "BIO" and e.fmt == "conll" for e in examples)


@pytest.mark.parametrize("variant", ["plain", "crlf", "bom", "no_final_newline"])
def test_conll_round_trip_is_byte_identical(tmp_path, variant):
    text = CONLL
    if variant == "crlf":
        text = text.replace(u"\n", u"\r\n")
    elif variant == "bom":
        text = u"\ufeff" + text
    elif variant == "no_final_newline":
        text = text.rstrip(u"\n")
    path = write(tmp_path / "in.txt", text)
    examples = ner_utils.read_examples(path)
    out = str(tmp_path / "out.txt")
    ner_utils.write_predictions(out, examples, [e.tags for e in examples], mode="replace")
    assert read_bytes(out) == read_bytes(path)
    # None keeps an example's own tags.
    ner_utils.write_predictions(out, examples, [None, None], mode="replace")
    assert read_bytes(out) == read_bytes(path)


def test_conll_predictions_append_a_column(tmp_path):
    path = write(tmp_path / "in.txt", CONLL)
    examples = ner_utils.read_examples(path)
    predicted = [[u"O"] * 5 + [u"B-X"], [u"B-LOC", u"O", u"B-PER", u"O"]]
    out = ner_utils.write_predictions(str(tmp_path / "out.txt"), examples, predicted)
    lines = read_bytes(out).decode("utf-8").split(u"\n")
    assert lines[0] == u"-DOCSTART- -X- -X- O" and lines[1] == u""
    assert lines[2] == u"北 B-LOC O"
    assert lines[7] == u"0 I-DATE B-X"
    assert lines[10] == u"Paris\tNNP\tB-LOC\tB-LOC"
    assert lines[12] == u"cafés   NN  O  B-PER  "
    assert lines[13] == u"Ｐａｒｉｓ\tB-ORG\tO"
    # Replacing instead of appending.
    out = ner_utils.write_predictions(str(tmp_path / "r.txt"), examples, predicted, mode="replace")
    assert read_bytes(out).decode("utf-8").split(u"\n")[12] == u"cafés   NN  B-PER  "


def test_unlabelled_conll(tmp_path):
    path = write(tmp_path / "test.txt", u"北\n京\n\n是\n")
    examples = ner_utils.read_examples(path, fmt="conll")
    assert [e.tokens for e in examples] == [[u"北", u"京"], [u"是"]]
    assert all(e.tags is None for e in examples)
    out = ner_utils.write_predictions(str(tmp_path / "out.txt"), examples,
                                      [[u"B-LOC", u"I-LOC"], [u"O"]])
    assert read_bytes(out).decode("utf-8") == u"北 B-LOC\n京 I-LOC\n\n是 O\n"
    ner_utils.write_predictions(str(tmp_path / "same.txt"), examples, [None, None], mode="replace")
    assert read_bytes(str(tmp_path / "same.txt")) == read_bytes(path)


def test_tsv_reading_and_round_trip(tmp_path):
    path = write(tmp_path / "train.tsv", TSV)
    assert ner_utils.detect_format(path) == "tsv"
    examples = ner_utils.read_examples(path)
    assert examples[1].tokens == [u"Ｎ", u"Ｂ", u"Ａ", u"2", u"0", u"1", u"9", u"a", u"b"]
    assert examples[1].tags[:3] == [u"B-ORG", u"I-ORG", u"I-ORG"]
    assert examples[1].source == "%s:4" % path
    out = str(tmp_path / "out.tsv")
    ner_utils.write_predictions(out, examples, [e.tags for e in examples], mode="replace")
    assert read_bytes(out) == read_bytes(path)
    predicted = [[u"O"] * 8, [u"B-ORG"] + [u"O"] * 8]
    ner_utils.write_predictions(out, examples, predicted)
    assert read_bytes(out).decode("utf-8") == (
        u"text_a\tlabel\n北 京 是 中 国 的 首 都\tO O O O O O O O\n\n"
        u"Ｎ Ｂ Ａ 2 0 1 9 a b\tB-ORG O O O O O O O O\n")


def test_tsv_without_label_column_gets_one(tmp_path):
    path = write(tmp_path / "test.tsv", u"text_a\n北 京\n")
    examples = ner_utils.read_examples(path, fmt="tsv")
    assert examples[0].tags is None
    out = ner_utils.write_predictions(str(tmp_path / "out.tsv"), examples, [[u"B-LOC", u"I-LOC"]])
    assert read_bytes(out).decode("utf-8") == u"text_a\tlabel\n北 京\tB-LOC I-LOC\n"


def test_cluener_reading_and_round_trip(tmp_path):
    path = write(tmp_path / "dev.json", cluener_text())
    assert ner_utils.detect_format(path) == "cluener"
    examples = ner_utils.read_examples(path)
    first, second = examples[0], examples[1]
    assert first.tokens == list(CLUENER_LINES[0]["text"])
    assert first.tags[:5] == [u"B-company", u"I-company", u"I-company", u"I-company", u"O"]
    assert first.tags[9:12] == [u"B-name", u"I-name", u"I-name"]
    assert second.tokens[3] == u" " and second.tags[3] == u"I-address"
    assert second.tags[8] == u"O" and second.tags[9] == u"O"
    assert second.tags[11:17] == [u"B-organization"] + [u"I-organization"] * 5
    assert examples[2].item_id == 7 and examples[4].item_id == 8 and examples[4].tags is None
    out = str(tmp_path / "out.json")
    ner_utils.write_predictions(out, examples, [e.tags for e in examples], mode="replace")
    assert read_bytes(out) == read_bytes(path)
    # Another tagging: the changed line is written in its own JSON spelling.
    tags = [list(e.tags) if e.tags else [u"O"] * len(e.tokens) for e in examples]
    tags[3] = [u"O"] * len(tags[3])
    ner_utils.write_predictions(out, examples, tags, mode="replace")
    lines = read_bytes(out).decode("utf-8").split(u"\n")
    assert lines[3] == u'{"text":"cat sat","label":{}}'
    assert lines[4] == u'{"id": 8, "text": "天安门 广场", "label": {}}'


def test_cluener_submission_format(tmp_path):
    path = write(tmp_path / "test.json", cluener_text())
    examples = ner_utils.read_examples(path)
    tags = [list(e.tags) if e.tags else [u"O"] * len(e.tokens) for e in examples]
    tags[4] = [u"B-scene", u"I-scene", u"I-scene", u"I-scene", u"I-scene", u"I-scene"]
    out = ner_utils.write_predictions(str(tmp_path / "cluener_predict.json"), examples, tags)
    rows = [json.loads(line) for line in read_bytes(out).decode("utf-8").splitlines()]
    assert [sorted(r) for r in rows] == [["id", "label"]] * 5
    assert [r["id"] for r in rows] == [0, 1, 7, 3, 8]
    assert rows[1]["label"] == {
        "address": {
            u"New York": [[26, 33], [0, 7]]
        },
        "organization": {
            u"ＮＢＡ 球队": [[11, 16]]
        }
    }
    assert rows[4]["label"] == {"scene": {u"天安门 广场": [[0, 5]]}}


def test_writing_in_another_format(tmp_path):
    examples = ner_utils.read_examples(write(tmp_path / "a.tsv", TSV))
    text = ner_utils.format_predictions(examples, [e.tags for e in examples], fmt="cluener",
                                        mode="replace")
    first = json.loads(text.splitlines()[0])
    assert first["text"] == u"北京是中国的首都"
    assert first["label"] == {"LOC": {u"北京": [[0, 1]], u"中国": [[3, 4]]}}
    conll = ner_utils.format_predictions(examples, [e.tags for e in examples], fmt="conll")
    assert conll.startswith(u"北 B-LOC B-LOC\n京 I-LOC I-LOC\n")
    by_hand = ner_utils.NerExample("x", [u"北", u"京"], [u"B-LOC", u"I-LOC"])
    assert ner_utils.format_predictions([by_hand], [[u"O", u"O"]]) == (u"北 B-LOC O\n京 I-LOC O\n\n")
    spaced = ner_utils.read_examples(write(tmp_path / "b.json", cluener_text()))
    with pytest.raises(ValueError, match="cannot be written"):
        ner_utils.format_predictions(spaced, [e.tags or [u"O"] * len(e.tokens) for e in spaced],
                                     fmt="conll")


def test_detect_format_refuses_ambiguous_files(tmp_path):
    path = write(tmp_path / "x.txt", u"北 京 是\tB-LOC I-LOC\n")
    with pytest.raises(ner_utils.DataError, match=r"x\.txt:1: cannot tell"):
        ner_utils.detect_format(path)
    assert ner_utils.detect_format(write(tmp_path / "h.tsv", u"北 京\tB-LOC I-LOC\n")) == "tsv"
    with pytest.raises(ner_utils.DataError, match="empty file"):
        ner_utils.detect_format(write(tmp_path / "e.txt", u"\n\n"))


# ---------------------------------------------------------------------------
# Tag schemes.
# ---------------------------------------------------------------------------


def test_spans_and_tags_in_every_scheme():
    spans = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("ORG", 5, 8)]
    expected = {
        "BIO": ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG"],
        "IOB1": ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"],
        "BIOES": ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG"],
        "BMES": ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "M-ORG", "E-ORG"],
        "BILOU": ["B-PER", "L-PER", "U-PER", "O", "U-LOC", "B-ORG", "I-ORG", "L-ORG"],
    }
    for scheme, tags in expected.items():
        assert ner_utils.spans_to_tags(spans, 8, scheme) == tags, scheme
        assert ner_utils.tags_to_spans(tags, scheme, strict=True) == spans, scheme
        assert ner_utils.detect_scheme([tags]) == scheme, scheme
    for a, b in itertools.permutations(expected, 2):
        assert ner_utils.convert_tags(expected[a], a, b, strict=True) == expected[b]
    assert ner_utils.spans_to_tags([("", 0, 2)], 3, "BIO") == ["B", "I", "O"]
    with pytest.raises(ValueError, match="overlaps"):
        ner_utils.spans_to_tags([("A", 0, 2), ("B", 1, 3)], 3)


def test_lenient_parsing_follows_seqeval():
    cases = [
        (["O", "I-PER", "I-PER"], "BIO", [("PER", 1, 3)]),
        (["B-PER", "I-LOC", "O"], "BIO", [("PER", 0, 1), ("LOC", 1, 2)]),
        (["B-PER", "O", "I-PER"], "BIO", [("PER", 0, 1), ("PER", 2, 3)]),
        (["B-PER", "O"], "BIOES", [("PER", 0, 1)]),
        (["E-PER", "S-LOC"], "BIOES", [("PER", 0, 1), ("LOC", 1, 2)]),
        (["S-PER", "E-PER"], "BIOES", [("PER", 0, 1), ("PER", 1, 2)]),
        (["B-PER", "I-PER", "B-LOC"], "BIOES", [("PER", 0, 2), ("LOC", 2, 3)]),
        (["O", "B-PER", "I-PER"], "IOB1", [("PER", 1, 3)]),
    ]
    for tags, scheme, spans in cases:
        assert ner_utils.tags_to_spans(tags, scheme) == spans, tags


def test_strict_parsing_rejects_what_the_scheme_forbids():
    cases = [
        (["O", "I-PER"], "BIO", "does not continue"),
        (["B-LOC", "I-PER"], "BIO", "does not continue"),
        (["O", "B-PER"], "IOB1", "must follow"),
        (["B-PER", "O"], "BIOES", "not closed"),
        (["B-PER", "I-PER"], "BIOES", "ends inside"),
        (["O", "E-PER"], "BIOES", "does not continue"),
    ]
    for tags, scheme, message in cases:
        with pytest.raises(ner_utils.DataError, match=message):
            ner_utils.tags_to_spans(tags, scheme, strict=True, source="f.txt:9")
    with pytest.raises(ner_utils.DataError, match=r"^f\.txt:9: tag 2: "):
        ner_utils.tags_to_spans(["O", "I-PER"], "BIO", strict=True, source="f.txt:9")
    with pytest.raises(ner_utils.DataError, match="unknown tag scheme prefix 'E'"):
        ner_utils.tags_to_spans(["B-PER", "E-PER"], "BIO")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        ner_utils.tags_to_spans(["O"], "XYZ")


def test_strict_and_lenient_reading(tmp_path):
    path = write(tmp_path / "train.txt", u"北 O\n京 I-LOC\n\n是 O\n")
    # Only I- tags at entity starts: detected as IOB1, where this is valid.
    assert ner_utils.read_examples(path, strict=True)[0].scheme == "IOB1"
    examples = ner_utils.read_examples(path, scheme="BIO")
    assert ner_utils.tags_to_spans(examples[0].tags) == [("LOC", 1, 2)]
    with pytest.raises(ner_utils.DataError) as error:
        ner_utils.read_examples(path, scheme="BIO", strict=True)
    assert str(error.value).startswith("%s:2: 'I-LOC' does not continue" % path)
    tsv = write(tmp_path / "t.tsv", u"text_a\tlabel\n北 京\tO I-LOC\n")
    with pytest.raises(ner_utils.DataError, match=r"t\.tsv:2: token 2: 'I-LOC'"):
        ner_utils.read_examples(tsv, scheme="BIO", strict=True)


def test_detect_scheme_of_files(tmp_path):
    bmes = write(tmp_path / "resume.char.bmes",
                 u"张 B-NAME\n三 E-NAME\n是 O\n\n李 S-NAME\n中 B-ORG\n国 M-ORG\n银 E-ORG\n")
    examples = ner_utils.read_examples(bmes, strict=True)
    assert examples[0].scheme == "BMES"
    assert ner_utils.tags_to_spans(examples[1].tags, "BMES") == [("NAME", 0, 1), ("ORG", 1, 4)]
    iob1 = write(tmp_path / "conll2003.txt", u"EU I-ORG\nrejects O\nGerman I-MISC\n\n")
    assert ner_utils.read_examples(iob1)[0].scheme == "IOB1"


def test_label_list():
    example = ner_utils.NerExample("x", [u"a", u"b", u"c"], [u"B-PER", u"O", u"B-LOC"])
    other = ner_utils.NerExample("y", [u"a", u"b"], [u"B-LOC", u"I-LOC"])
    assert ner_utils.get_label_list([example, other],
                                    complete=False) == ["O", "B-LOC", "B-PER", "I-LOC"]
    assert ner_utils.get_label_list([example, other]) == ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    assert ner_utils.get_label_list(labels=["B-X", "O"]) == ["B-X", "O"]
    with pytest.raises(ValueError, match="no 'O'"):
        ner_utils.get_label_list(labels=["B-X"])
    with pytest.raises(ValueError, match="duplicate"):
        ner_utils.get_label_list(labels=["O", "O"])


# ---------------------------------------------------------------------------
# Bad input: one DataError naming file and line.
# ---------------------------------------------------------------------------

BAD_INPUTS = [
    ("tsv", u"text_a\tlabel\n北 京\tB-LOC I-LOC\n中 国 人\tB-LOC I-LOC\n", 3, "3 tokens but 2 tags"),
    ("tsv", u"text_a\tlabel\n北 京\n", 2, "expected 2 tab-separated fields"),
    ("conll", u"北 B-LOC\n京 I-LOC\n\n中\n", 4, "has no tag"),
    ("conll", u"北 B-LOC\n京 X-LOC\n", 2, "unknown tag scheme prefix 'X'"),
    ("conll", u"北 B-LOC\n京 I-LOC\n是 BLOC\n", 3, "neither O nor PREFIX-TYPE"),
    ("cluener", u'{"text": "北京", "label": {}}\n{"text": "北京", "label": \n', 2, "not valid JSON"),
    ("cluener", u'{"text": "北京是", "label": {"address": {"北京": [[1, 2]]}}}\n', 1,
     "span \\[1, 2\\] is '京是' in the text, not '北京'"),
    ("cluener", u'{"text": "ab"}\n{"text": "北京是", "label": {"a": {"北京": [[0, 1]]}, '
     u'"b": {"京是": [[1, 2]]}}}\n', 2, "overlapping spans"),
    ("cluener", u'{"text": "北京", "label": {"a": {"北京": [[0, 5]]}}}\n', 1, "outside the text"),
    ("cluener", u'["北京"]\n', 1, "expected a JSON object"),
    ("cluener", u'{"label": {}}\n', 1, "no \"text\" string"),
]


@pytest.mark.parametrize("fmt,text,line,message", BAD_INPUTS)
def test_bad_input_names_file_and_line(tmp_path, fmt, text, line, message):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(ner_utils.DataError, match=message) as error:
        ner_utils.read_examples(path, fmt=fmt)
    assert str(error.value).startswith("%s:%d: " % (path, line))
    assert "\n" not in str(error.value)


def test_bad_bytes_and_empty_files(tmp_path):
    path = write_bytes(tmp_path / "latin1.txt", u"北 O\n".encode("utf-8") + b"caf\xe9 O\n")
    with pytest.raises(ner_utils.DataError, match=r"latin1\.txt:2: not valid UTF-8"):
        ner_utils.read_examples(path, fmt="conll")
    with pytest.raises(ner_utils.DataError, match="no sentences"):
        ner_utils.read_examples(write(tmp_path / "blank.txt", u"\n\n"), fmt="conll")
    with pytest.raises(ner_utils.DataError, match="cannot read"):
        ner_utils.read_examples(str(tmp_path / "missing.txt"), fmt="conll")
    with pytest.raises(ner_utils.DataError, match="BIO scheme"):
        ner_utils.read_examples(write(tmp_path / "e.txt", u"北 E-LOC\n"), scheme="BIO")


def test_unknown_tag_in_features_names_its_line(tmp_path, tokenizer):
    path = write(tmp_path / "dev.txt", u"北 B-LOC\n京 I-LOC\n\n是 O\n中 B-ORG\n")
    examples = ner_utils.read_examples(path)
    with pytest.raises(ner_utils.DataError) as error:
        ner_utils.convert_examples_to_features(examples, tokenizer, ["O", "B-LOC", "I-LOC"], 16, 8)
    assert str(error.value).startswith("%s:5: tag 'B-ORG' is not in the label list" % path)


# ---------------------------------------------------------------------------
# Sub-tokens, windows and merging.
# ---------------------------------------------------------------------------


def _gold_predictions(features):
    """Predicted ids that repeat the labels (0 where there is none)."""
    return [[max(i, 0) for i in f.label_ids] for f in features]


def _check_windows(examples, features, max_seq_length):
    """Every token with sub-tokens is read from exactly one window, and that
    window gives its first sub-token the most context."""
    windows = {}
    for f in features:
        windows.setdefault(f.example_index, []).append(f)
        assert len(f.input_ids) == len(f.input_mask) == len(f.label_ids) == max_seq_length
        assert all(len(v) == max_seq_length for v in f.as_dict().values())
        for position, token in enumerate(f.token_index):
            if f.label_mask[position]:
                assert f.label_ids[position] >= 0 and token >= 0
            else:
                assert f.label_ids[position] == -1
    for index, example in enumerate(examples):
        counts = [0] * len(example.tokens)
        chosen = {}
        scores = {}
        for f in windows[index]:
            real = sum(f.input_mask) - 2
            for position, token in enumerate(f.token_index):
                if not f.label_mask[position]:
                    continue
                piece = position - 1
                score = min(piece, real - 1 - piece) + 0.01 * real
                scores.setdefault(token, []).append(score)
                if f.is_max_context[position]:
                    counts[token] += 1
                    chosen[token] = score
        dropped = set(windows[index][0].dropped_tokens)
        for token, count in enumerate(counts):
            assert count == (0 if token in dropped else 1), (index, token)
            if token not in dropped:
                assert chosen[token] == max(scores[token])


LONG_TEXT = (u"北京是中国的首都 new york 2019 年 ＮＢＡ 球队在 Paris 天安门广场位于市中心 "
             u"cats sat on the mat 浙商银行企业信贷部叶老桂博士 ｂａ 2019 年解读\u200b。")


def _long_example(tmp_path):
    text = LONG_TEXT
    label = {}
    for type_, entity in (("address", u"new york"), ("organization", u"ＮＢＡ 球队"), ("name", u"叶老桂"),
                          ("scene", u"天安门广场")):
        start = text.index(entity)
        label[type_] = {entity: [[start, start + len(entity) - 1]]}
    line = json.dumps({"id": 1, "text": text, "label": label}, ensure_ascii=False)
    return ner_utils.read_examples(write(tmp_path / "long.json", line + u"\n"))


def test_long_sentence_windows_cover_each_token_once(tmp_path, tokenizer):
    examples = _long_example(tmp_path)
    assert len(examples[0].tokens) > 3 * 16
    labels = ner_utils.get_label_list(examples)
    for max_seq_length, doc_stride in ((16, 5), (16, 14), (20, 1), (64, 7)):
        features = ner_utils.convert_examples_to_features(examples, tokenizer, labels,
                                                          max_seq_length, doc_stride)
        if max_seq_length == 16:
            assert len(features) > 3
        _check_windows(examples, features, max_seq_length)
        merged = ner_utils.merge_window_predictions(examples, features, _gold_predictions(features))
        # The spaces inside an entity get its inside tag, the others O: the
        # gold tags come back exactly; the zero-width space gets O.
        assert merged == [examples[0].tags]
    first = features[0]
    dropped = [examples[0].tokens[t] for t in first.dropped_tokens]
    assert set(dropped) == {u" ", u"\u200b"}


def test_each_token_is_read_from_its_max_context_window(tmp_path, tokenizer):
    examples = _long_example(tmp_path)
    labels = ner_utils.get_label_list(examples)
    features = ner_utils.convert_examples_to_features(examples, tokenizer, labels, 16, 5)
    # Window w predicts label w (mod the number of labels) everywhere.
    predicted = [[f.window_index % len(labels)] * 16 for f in features]
    merged = ner_utils.merge_window_predictions(examples, features, predicted)[0]
    # The window where the token's first sub-token has the most context,
    # worked out here from the windows' sub-token offsets (earlier on ties).
    best = {}
    for f in features:
        real = sum(f.input_mask) - 2
        for position, token in enumerate(f.token_index):
            if f.label_mask[position]:
                piece = position - 1
                score = min(piece, real - 1 - piece) + 0.01 * real
                if token not in best or score > best[token][0]:
                    best[token] = (score, f.window_index)
    assert len(set(w for _, w in best.values())) == len(features)
    for token, (_, window) in best.items():
        assert merged[token] == labels[window % len(labels)], token


def test_a_word_split_into_sub_tokens_is_labelled_once(tmp_path, tokenizer):
    path = write(tmp_path / "en.txt", u"The O\nmats B-ANIMAL\nsat O\non O\nParis B-LOC\n\n")
    examples = ner_utils.read_examples(path)
    labels = ner_utils.get_label_list(examples)
    features = ner_utils.convert_examples_to_features(examples, tokenizer, labels, 12, 4,
                                                      keep_tokens=True)
    assert len(features) == 1
    f = features[0]
    assert f.tokens == [u"[CLS]", u"the", u"mat", u"##s", u"sat", u"on", u"paris", u"[SEP]"]
    assert f.label_mask == [0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert f.label_ids[2] == labels.index(u"B-ANIMAL") and f.label_ids[3] == -1
    assert f.token_index == [-1, 0, 1, 1, 2, 3, 4, -1, -1, -1, -1, -1]
    predicted = _gold_predictions(features)
    predicted[0][3] = labels.index(u"B-LOC")  # ignored: not a first sub-token
    assert ner_utils.merge_window_predictions(examples, features, predicted) == [examples[0].tags]
    # Bookkeeping survives JSON.
    back = ner_utils.NerFeature.from_json(json.loads(json.dumps(f.to_json())), labels)
    assert ner_utils.merge_window_predictions(examples, [back], predicted) == [examples[0].tags]


def test_random_sentences_merge_back(tmp_path, tokenizer):
    rng = random.Random(5)
    alphabet = list(CHINESE[:20]) + [u" ", u"ａ", u"1", u"9", u"x", u"\u3000"]
    lines = []
    for _ in range(20):
        text = u"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        spans = {}
        position = 0
        while position < len(text) - 1:
            length = rng.randint(1, 4)
            start = position + rng.randint(0, 3)
            end = min(start + length, len(text)) - 1
            if start <= end and text[start] not in u" \u3000" and text[end] not in u" \u3000":
                spans.setdefault(rng.choice([u"a", u"b"]), {}).setdefault(text[start:end + 1],
                                                                          []).append([start, end])
            position = end + 2
        lines.append(json.dumps({"text": text, "label": spans}, ensure_ascii=False))
    examples = ner_utils.read_examples(write(tmp_path / "r.json", u"\n".join(lines)), fmt="cluener")
    labels = ner_utils.get_label_list(examples)
    features = ner_utils.convert_examples_to_features(examples, tokenizer, labels, 10, 3)
    _check_windows(examples, features, 10)
    merged = ner_utils.merge_window_predictions(examples, features, _gold_predictions(features))
    for example, tags in zip(examples, merged):
        assert ner_utils.tags_to_spans(tags) == ner_utils.tags_to_spans(example.tags)


def test_missing_window_is_an_error(tmp_path, tokenizer):
    examples = _long_example(tmp_path)
    labels = ner_utils.get_label_list(examples)
    features = ner_utils.convert_examples_to_features(examples, tokenizer, labels, 16, 8)
    with pytest.raises(ValueError, match="no prediction"):
        ner_utils.merge_window_predictions(examples, features[:-1],
                                           _gold_predictions(features[:-1]))


def test_dropped_tokens_are_filled_from_their_neighbours():
    fill = ner_utils.fill_dropped_tags
    assert fill([u"B-LOC", None, u"I-LOC"]) == [u"B-LOC", u"I-LOC", u"I-LOC"]
    assert fill([u"B-LOC", None, None, u"B-LOC"]) == [u"B-LOC", u"O", u"O", u"B-LOC"]
    assert fill([None, u"B-LOC", None]) == [u"O", u"B-LOC", u"O"]
    assert fill([u"O", None, u"I-LOC"]) == [u"O", u"O", u"I-LOC"]
    assert fill([u"B-A", None, u"I-B"]) == [u"B-A", u"O", u"I-B"]
    assert fill([u"B-A", None, u"E-A"], "BMES") == [u"B-A", u"M-A", u"E-A"]
    assert fill([u"S-A", None, u"E-A"], "BIOES") == [u"S-A", u"O", u"E-A"]
    assert fill([u"I-A", None, u"I-A"], "IOB1") == [u"I-A", u"I-A", u"I-A"]


def test_dropped_first_character_keeps_entity_begin(tokenizer):
    example = ner_utils.NerExample("x", [u"\u200b", u"北", u"京", u"是"],
                                   [u"B-LOC", u"I-LOC", u"I-LOC", u"O"])
    labels = [u"O", u"B-LOC", u"I-LOC"]
    features = ner_utils.convert_examples_to_features([example], tokenizer, labels, 8, 4)
    assert features[0].label_ids[:5] == [-1, 1, 2, 0, -1]
    assert features[0].dropped_tokens == [0]


def test_sentencepiece_windows(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    rng = random.Random(3)
    lines = [u" ".join(rng.choice(ENGLISH) for _ in range(8)) for _ in range(300)]
    corpus = write(tmp_path / "corpus.txt", u"\n".join(lines) + u"\n")
    prefix = str(tmp_path / "sp")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=80,
                                   model_type="bpe", pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
                                   control_symbols=["[CLS]", "[SEP]",
                                                    "[MASK]"], hard_vocab_limit=False)
    sp_tokenizer = tokenization.FullTokenizer(spm_model_file=prefix + ".model")
    words = [rng.choice(ENGLISH + [u"Seine-river", u"Café", u"2019"]) for _ in range(40)]
    tags = [rng.choice([u"O", u"B-X", u"I-X"]) for _ in words]
    text = u"".join(u"%s %s\n" % (w, t) for w, t in zip(words, tags))
    examples = ner_utils.read_examples(write(tmp_path / "sp.txt", text), fmt="conll")
    labels = ner_utils.get_label_list(examples)
    features = ner_utils.convert_examples_to_features(examples, sp_tokenizer, labels, 12, 3)
    _check_windows(examples, features, 12)
    assert ner_utils.merge_window_predictions(examples, features,
                                              _gold_predictions(features)) == [examples[0].tags]


def test_feature_spec_and_tf_example(tokenizer):
    spec = ner_utils.feature_spec(16)
    assert list(spec) == ["input_ids", "input_mask", "segment_ids", "label_ids", "label_mask"]
    assert all(v == ([16], "int64") for v in spec.values())
    example = ner_utils.NerExample("x", [u"北", u"京"], [u"B-LOC", u"I-LOC"])
    feature = ner_utils.convert_examples_to_features([example], tokenizer,
                                                     [u"O", u"B-LOC", u"I-LOC"], 16, 8)[0]
    record = feature.to_tf_example()
    parsed = {name: list(record.features.feature[name].int64_list.value) for name in spec}
    assert parsed == dict(feature.as_dict())
    assert parsed["label_ids"][:4] == [-1, 1, 2, -1]


# ---------------------------------------------------------------------------
# CRF against brute-force enumeration.
# ---------------------------------------------------------------------------


def _brute_force(emissions, tags, mask, transitions):
    positions = [t for t in range(len(mask)) if mask[t]]
    num_tags = transitions.shape[0]

    def score(path):
        total = sum(emissions[p, y] for p, y in zip(positions, path))
        return total + sum(transitions[a, b] for a, b in zip(path, path[1:]))

    paths = list(itertools.product(range(num_tags), repeat=len(positions)))
    scores = np.array([score(p) for p in paths])
    log_z = np.log(np.sum(np.exp(scores - scores.max()))) + scores.max()
    gold = score([tags[p] for p in positions])
    best = paths[int(np.argmax(scores))]
    return gold - log_z, positions, best, scores.max()


def test_crf_matches_brute_force_enumeration():
    rng = np.random.RandomState(0)
    emissions = rng.randn(3, 6, 3).astype(np.float32)
    transitions = rng.randn(3, 3).astype(np.float32)
    masks = np.array(
        [
            [1, 1, 1, 1, 0, 0],  # 4 tokens, then padding
            [0, 1, 0, 1, 1, 0],  # 3 tokens between [CLS]/sub-tokens/[SEP]
            [0, 0, 0, 0, 0, 0]
        ],  # nothing (a padding example)
        dtype=np.int32)
    tags = rng.randint(0, 3, size=(3, 6)).astype(np.int32)
    tags[masks == 0] = -1
    with tf.Graph().as_default():
        e = tf.placeholder(tf.float32, [None, None, 3])
        y = tf.placeholder(tf.int32, [None, None])
        m = tf.placeholder(tf.int32, [None, None])
        trans = tf.Variable(transitions)
        log_likelihood = ner_utils.crf_log_likelihood(e, y, m, trans)
        path, best_score = ner_utils.crf_decode(e, m, trans)
        gradient = tf.gradients(-tf.reduce_sum(log_likelihood), [trans])[0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_ll, got_path, got_best, got_grad = sess.run(
                [log_likelihood, path, best_score, gradient], {
                    e: emissions,
                    y: tags,
                    m: masks
                })
            one_ll, one_path = sess.run([log_likelihood, path], {
                e: emissions[:1, :1],
                y: tags[:1, :1],
                m: masks[:1, :1]
            })
    for b in range(2):
        want_ll, positions, best, want_best = _brute_force(emissions[b], tags[b], masks[b],
                                                           transitions)
        assert abs(got_ll[b] - want_ll) < 1e-5
        assert [got_path[b, p] for p in positions] == list(best)
        assert abs(got_best[b] - want_best) < 1e-5
    # Positions outside the chain repeat the previous token's tag.
    assert got_path[1, 0] == got_path[1, 1] and got_path[1, 2] == got_path[1, 1]
    assert got_path[1, 5] == got_path[1, 4] and list(got_path[0, 4:]) == [got_path[0, 3]] * 2
    assert got_ll[2] == 0.0 and got_best[2] == 0.0
    assert np.all(np.isfinite(got_grad)) and np.abs(got_grad).max() > 1e-3
    want_ll, _, best, _ = _brute_force(emissions[0, :1], tags[0, :1], masks[0, :1], transitions)
    assert abs(one_ll[0] - want_ll) < 1e-5 and one_path[0, 0] == best[0]


# ---------------------------------------------------------------------------
# Model head.
# ---------------------------------------------------------------------------

NUM_LABELS = 4


def _config():
    return modeling.AlbertConfig(vocab_size=len(dict.fromkeys(VOCAB)), embedding_size=8,
                                 hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64,
                                 embedding_layout="google")


def _inputs():
    ids = np.array([[2, 10, 11, 12, 13, 3, 0, 0], [2, 14, 15, 3, 0, 0, 0, 0]], np.int32)
    mask = (ids > 0).astype(np.int32)
    label_mask = np.array([[0, 1, 1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0]], np.int32)
    labels = np.where(label_mask > 0, np.array([[0, 1, 2, 0, 3, 0, 0, 0]] * 2), -1)
    return ids, mask, label_mask, labels.astype(np.int32)


def _placeholders():
    return [
        tf.placeholder(tf.int32, [None, None], name=n)
        for n in ("input_ids", "input_mask", "label_mask", "label_ids")
    ]


@pytest.mark.parametrize("use_crf", [False, True])
def test_model_shapes_names_and_masked_loss(use_crf):
    ids, mask, label_mask, labels = _inputs()
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        p_ids, p_mask, p_label_mask, p_labels = _placeholders()
        outputs = ner_utils.create_model(_config(), False, p_ids, p_mask, tf.zeros_like(p_ids),
                                         p_labels, p_label_mask, NUM_LABELS, use_crf=use_crf)
        names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        assert names["output_weights"] == [NUM_LABELS, 32]
        assert names["output_bias"] == [NUM_LABELS]
        assert ("crf/transitions" in names) == use_crf
        if use_crf:
            assert names["crf/transitions"] == [NUM_LABELS, NUM_LABELS]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feed = {p_ids: ids, p_mask: mask, p_label_mask: label_mask, p_labels: labels}
            loss, per_example, logits, predicted = sess.run(outputs, feed)
            changed = labels.copy()
            changed[label_mask == 0] = 2  # labels where the mask is 0 do not count
            feed[p_labels] = changed
            assert sess.run(outputs.loss, feed) == pytest.approx(loss, abs=1e-6)
            changed[0, 1] = 3
            feed[p_labels] = changed
            assert abs(sess.run(outputs.loss, feed) - loss) > 1e-6
    assert logits.shape == (2, 8, NUM_LABELS)
    assert predicted.shape == (2, 8) and per_example.shape == (2,)
    if not use_crf:
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        picked = [
            -log_probs[b, t, labels[b, t]] for b in range(2) for t in range(8) if label_mask[b, t]
        ]
        assert loss == pytest.approx(np.mean(picked), rel=1e-5)
        assert per_example[1] == pytest.approx(np.mean(picked[3:]), rel=1e-5)
        assert (predicted == logits.argmax(-1)).all()
    else:
        assert loss == pytest.approx(per_example.mean(), rel=1e-5)


def _save_encoder_checkpoint(tmp_path):
    prefix = str(tmp_path / "pretrained" / "model.ckpt")
    with tf.Graph().as_default():
        modeling.AlbertModel(_config(), False, tf.zeros([1, 4], dtype=tf.int32))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix)
    return prefix


def test_model_fn_train_and_predict(tmp_path):
    prefix = _save_encoder_checkpoint(tmp_path)
    ids, mask, label_mask, labels = _inputs()
    features = {
        "input_ids": ids,
        "input_mask": mask,
        "segment_ids": np.zeros_like(ids),
        "label_ids": labels,
        "label_mask": label_mask
    }
    report = str(tmp_path / "report.txt")
    model_fn = ner_utils.model_fn_builder(_config(), NUM_LABELS, init_checkpoint=prefix,
                                          num_train_steps=10, use_crf=True, init_report_file=report)
    with tf.Graph().as_default():
        tensors = {k: tf.constant(v) for k, v in features.items()}
        spec = model_fn(tensors, None, tf.estimator.ModeKeys.TRAIN, {})
        graph = tf.get_default_graph()
        assert graph.get_tensor_by_name("total_loss:0") is not None
        assert spec.train_op is not None
    with io.open(report, encoding="utf-8") as f:
        text = f.read()
    assert "crf/transitions" in text and "output_weights" in text
    with tf.Graph().as_default():
        tensors = {k: tf.constant(v) for k, v in features.items()}
        spec = model_fn(tensors, None, tf.estimator.ModeKeys.PREDICT, {})
        assert sorted(spec.predictions) == ["label_ids", "label_mask", "predicted_ids"]
    with tf.Graph().as_default():
        tensors = {k: tf.constant(v) for k, v in features.items()}
        with pytest.raises(ValueError, match="only TRAIN and PREDICT"):
            model_fn(tensors, None, tf.estimator.ModeKeys.EVAL, {})
    assert ner_utils.head_variable_patterns()[-1] == r"^crf/transitions$"
    with tf.Graph().as_default():
        ner_utils.create_model(_config(), False, tf.constant(ids), tf.constant(mask),
                               tf.zeros_like(tf.constant(ids)), None, tf.constant(label_mask),
                               NUM_LABELS, use_crf=True)
        loaded = checkpoint_utils.init_from_checkpoint(
            prefix, allow_missing=ner_utils.head_variable_patterns(), log=False)
        assert sorted(
            loaded.allowed_missing) == ["crf/transitions", "output_bias", "output_weights"]


@pytest.mark.parametrize("use_crf", [False, True])
def test_export_saved_model(tmp_path, use_crf):
    ids, mask, label_mask, _ = _inputs()
    checkpoint = str(tmp_path / "ft" / "model.ckpt")
    with tf.Graph().as_default():
        p_ids, p_mask, p_label_mask, _ = _placeholders()
        outputs = ner_utils.create_model(_config(), False, p_ids, p_mask, tf.zeros_like(p_ids),
                                         None, p_label_mask, NUM_LABELS, use_crf=use_crf)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if use_crf:  # make the transitions matter
                transitions = [v for v in tf.global_variables() if "transitions" in v.name][0]
                sess.run(
                    transitions.assign(
                        np.random.RandomState(1).randn(NUM_LABELS, NUM_LABELS).astype(np.float32) *
                        3))
            want_ids, want_logits = sess.run([outputs.predicted_ids, outputs.logits], {
                p_ids: ids,
                p_mask: mask,
                p_label_mask: label_mask
            })
            tf.train.Saver().save(sess, checkpoint)
    export_dir = str(tmp_path / "export")
    ner_utils.export_saved_model(_config(), NUM_LABELS, checkpoint, export_dir, use_crf=use_crf,
                                 assets={"labels.txt": u"O\nB-X\n"})
    assert os.path.isfile(os.path.join(export_dir, "assets.extra", "labels.txt"))
    with tf.Graph().as_default():
        with tf.Session() as sess:
            meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING],
                                              export_dir)
            signature = meta.signature_def["serving_default"]
            inputs = sorted(signature.inputs)
            want_inputs = ["input_ids", "input_mask", "segment_ids"]
            assert inputs == sorted(want_inputs + (["label_mask"] if use_crf else []))
            feed = {
                signature.inputs["input_ids"].name: ids,
                signature.inputs["input_mask"].name: mask,
                signature.inputs["segment_ids"].name: np.zeros_like(ids)
            }
            if use_crf:
                feed[signature.inputs["label_mask"].name] = label_mask
            got_ids, got_logits = sess.run(
                [signature.outputs["tag_ids"].name, signature.outputs["logits"].name], feed)
    assert np.allclose(got_logits, want_logits, atol=1e-5)
    assert (got_ids == want_ids).all()


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------

GOLD = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG", "O"], ["B-ORG", "I-ORG", "O", "O"]]


def test_entity_metrics_hand_computed():
    # Gold: PER, LOC, ORG(3 tokens). Predicted: PER (right), ORG where LOC is
    # (wrong type), ORG of 2 tokens (wrong end).
    metrics = ner_utils.entity_metrics(GOLD, PRED)
    assert (metrics["support"], metrics["predicted"], metrics["correct"]) == (3, 3, 1)
    assert metrics["precision"] == pytest.approx(1 / 3)
    assert metrics["recall"] == pytest.approx(1 / 3)
    assert metrics["f1"] == pytest.approx(1 / 3)
    per_type = metrics["per_type"]
    assert list(per_type) == ["LOC", "ORG", "PER"]
    assert per_type["PER"]["f1"] == 1.0 and per_type["PER"]["support"] == 1
    assert per_type["LOC"]["recall"] == 0.0 and per_type["LOC"]["predicted"] == 0
    assert per_type["ORG"]["precision"] == 0.0 and per_type["ORG"]["predicted"] == 2
    assert metrics["macro_f1"] == pytest.approx(1 / 3)
    assert ner_utils.token_accuracy(GOLD, PRED) == pytest.approx(7 / 9)
    perfect = ner_utils.entity_metrics(GOLD, GOLD)
    assert perfect["f1"] == 1.0 and perfect["precision"] == 1.0
    # Lenient: an entity begun with I- counts (seqeval's default).
    assert ner_utils.entity_metrics([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])["f1"] == 1.0
    # A partial boundary is an error on both sides.
    partial = ner_utils.entity_metrics([["B-PER", "I-PER", "I-PER"]], [["B-PER", "I-PER", "O"]])
    assert (partial["precision"], partial["recall"]) == (0.0, 0.0)
    report = ner_utils.metrics_report(metrics)
    assert "micro avg" in report and "PER" in report


def test_metrics_are_the_same_in_bio_and_bioes():
    gold_bioes = [ner_utils.convert_tags(t, "BIO", "BIOES") for t in GOLD]
    pred_bioes = [ner_utils.convert_tags(t, "BIO", "BIOES") for t in PRED]
    assert gold_bioes[1] == ["B-ORG", "I-ORG", "E-ORG", "O"]
    assert (ner_utils.entity_metrics(gold_bioes, pred_bioes,
                                     "BIOES") == ner_utils.entity_metrics(GOLD, PRED, "BIO"))
    with pytest.raises(ValueError, match="gold tags but"):
        ner_utils.entity_metrics([["O"]], [["O", "O"]])
