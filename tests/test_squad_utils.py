# coding=utf-8
"""Tests of the SQuAD modules: reading (squad_data), alignment and windows
(squad_features), decoding (squad_decoding), metrics and the scoring command
(squad_metrics, also run as squad_utils.py)."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os
import random
import subprocess
import sys

import pytest

import squad_data
import squad_decoding
import squad_features
import squad_metrics
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHINESE = u"北京是中国的首都天安门广场位于市中心有很多人来参观长城也在附近"
ENGLISH_WORDS = [
    u"the", u"cat", u"sat", u"on", u"mat", u"paris", u"is", u"capital", u"of", u"france", u"river",
    u"seine", u"flows", u"through", u"city", u"cafe"
]
VOCAB = ([u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] + list(CHINESE) + ENGLISH_WORDS + [
    u"##s", u"##ing", u"1", u"##9", u"##8", u"##0", u"9", u"8", u"0", u",", u".", u"，", u"。", u"！",
    u"？", u"(", u")", u"-", u"ａ", u"ｂ"
])


def write(path, text):
    with io.open(str(path), "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vocab")
    vocab = write(directory / "vocab.txt", u"\n".join(dict.fromkeys(VOCAB)) + u"\n")
    return tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)


def squad_json(paragraphs):
    """paragraphs: [(context, [(qid, question, [(text, start)], impossible)])]."""
    data = {
        "version":
            "test",
        "data": [{
            "title":
                "t",
            "paragraphs": [{
                "context":
                    context,
                "qas": [{
                    "id": qid,
                    "question": question,
                    "is_impossible": impossible,
                    "answers": [{
                        "text": t,
                        "answer_start": s
                    } for t, s in answers]
                } for qid, question, answers, impossible in qas]
            } for context, qas in paragraphs]
        }]
    }
    return json.dumps(data, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Alignment.
# ---------------------------------------------------------------------------

ALIGNMENT_TEXTS = [
    u"北京是中国的首都。天安门广场位于市中心！",
    u"The cat sat on the mat, Paris is the capital of France.",
    u"北京 is the capital of 中国 (1980)，长城 also.",
    u"  Café\u00a0\u3000 cats\t\nsitting ｂａ 北京\u200b市  ",
    u"Ｐaris-Seine flows through the city? 北京？",
]


@pytest.mark.parametrize("text", ALIGNMENT_TEXTS)
def test_offsets_match_the_tokenizer_and_cover_the_text(tokenizer, text):
    tokens, starts, ends = squad_features.tokenize_with_offsets(tokenizer, text)
    assert tokens == tokenizer.tokenize(text)
    assert len(starts) == len(ends) == len(tokens)
    for token, start, end in zip(tokens, starts, ends):
        assert 0 <= start < end <= len(text)
        piece = text[start:end]
        assert not piece[0].isspace() and not piece[-1].isspace()
        if token != u"[UNK]" and not token.startswith(u"##"):
            normal = tokenizer.tokenize(piece)
            # A piece re-tokenised alone gives the same token (without ##).
            assert normal[0].replace(u"##", u"") == token.replace(u"##", u"")
    assert starts == sorted(starts) and ends == sorted(ends)


@pytest.mark.parametrize("text", ALIGNMENT_TEXTS)
def test_every_token_aligned_answer_round_trips(tokenizer, text):
    tokens, starts, ends = squad_features.tokenize_with_offsets(tokenizer, text)
    rng = random.Random(len(text))
    for _ in range(50):
        first = rng.randrange(len(tokens))
        last = rng.randrange(first, min(len(tokens), first + 6))
        answer_start, answer_end = starts[first], ends[last]
        answer = text[answer_start:answer_end]
        span = squad_features.char_span_to_token_span(starts, ends, answer_start, answer_end)
        assert span == (first, last)
        assert text[starts[span[0]]:ends[span[1]]] == answer


def test_chinese_answers_round_trip_through_features(tokenizer):
    context = u"北京是中国的首都，天安门广场位于市中心。长城也在附近！Paris is the capital."
    answers = [u"北京", u"中国的首都", u"天安门广场", u"市中心。长城", u"Paris", u"capital", u"附近！Paris is"]
    qas = [("q%d" % i, u"在哪里", [(a, context.index(a))], False) for i, a in enumerate(answers)]
    examples = _examples_from(squad_json([(context, qas)]), is_training=True)
    features = []
    counts = squad_features.convert_examples_to_features(examples, tokenizer, max_seq_length=20,
                                                         doc_stride=4, max_query_length=8,
                                                         is_training=True,
                                                         output_fn=features.append)
    assert counts.get("answers_not_whole", 0) == 0
    for index, example in enumerate(examples):
        windows = [f for f in features if f.example_index == index and not f.is_impossible]
        assert windows, "answer %r is whole in no window" % example.answer_text
        for f in windows:
            got = context[f.token_start_char[f.start_position]:f.token_end_char[f.end_position]]
            assert got == example.answer_text


def test_sentencepiece_alignment(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    rng = random.Random(3)
    lines = [u" ".join(rng.choice(ENGLISH_WORDS) for _ in range(8)) for _ in range(300)]
    corpus = write(tmp_path / "corpus.txt", u"\n".join(lines) + u"\n")
    prefix = str(tmp_path / "sp")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=80,
                                   model_type="bpe", pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
                                   control_symbols=["[CLS]", "[SEP]",
                                                    "[MASK]"], hard_vocab_limit=False)
    sp_tokenizer = tokenization.FullTokenizer(spm_model_file=prefix + ".model")
    text = u"The cat  sat on the mat, Paris ``is'' the capital of Frañce."
    tokens, starts, ends = squad_features.tokenize_with_offsets(sp_tokenizer, text)
    assert tokens == sp_tokenizer.tokenize(text)
    for answer in (u"cat", u"Paris", u"capital of Frañce", u"The cat  sat"):
        start = text.index(answer)
        span = squad_features.char_span_to_token_span(starts, ends, start, start + len(answer))
        assert text[starts[span[0]]:ends[span[1]]] == answer


# ---------------------------------------------------------------------------
# Windows and max context.
# ---------------------------------------------------------------------------


def test_doc_windows_and_max_context_hand_built():
    spans = squad_features.doc_windows(10, 6, 3)
    assert spans == [(0, 6), (3, 6), (6, 4)]
    best = squad_features.max_context_windows(spans, 10)
    # Token 4: window 0 -> min(4, 1)=1; window 1 -> min(1, 4)=1; tie keeps the
    # earlier window (0). Token 5: window 0 -> 0, window 1 -> min(2,3)=2 -> 1.
    # Token 6: window 1 -> min(3, 2)=2 + .06; window 2 -> min(0, 3)=0 -> 1.
    assert best == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]


def test_every_answer_whole_in_a_training_window(tokenizer):
    rng = random.Random(7)
    paragraphs = []
    for p in range(6):
        context = u"".join(rng.choice(CHINESE) for _ in range(rng.randint(30, 80)))
        qas = []
        for q in range(5):
            length = rng.randint(1, 6)
            start = rng.randrange(len(context) - length)
            qas.append(("p%dq%d" % (p, q), u"问题" * rng.randint(1, 3),
                        [(context[start:start + length], start)], False))
        paragraphs.append((context, qas))
    examples = _examples_from(squad_json(paragraphs), is_training=True)
    features = []
    squad_features.convert_examples_to_features(examples, tokenizer, max_seq_length=24,
                                                doc_stride=5, max_query_length=6, is_training=True,
                                                output_fn=features.append, keep_tokens=True)
    for index, example in enumerate(examples):
        own = [f for f in features if f.example_index == index]
        assert len(own) > 1
        good = [f for f in own if not f.is_impossible]
        assert good
        for f in good:
            text = example.context_text[f.token_start_char[f.start_position]:f.
                                        token_end_char[f.end_position]]
            assert text == example.answer_text
        for f in own:
            assert len(f.input_ids) == len(f.input_mask) == len(f.p_mask) == 24
            assert f.tokens[0] == u"[CLS]" and f.tokens[-1] == u"[SEP]"
            # p_mask: 0 exactly at [CLS] and the context tokens.
            allowed = [i for i, m in enumerate(f.p_mask) if m == 0]
            assert allowed == [0] + sorted(f.token_start_char)
        # Each context token is max-context in exactly one window.
        counts = {}
        for f in own:
            for position, is_max in f.token_is_max_context.items():
                key = f.token_start_char[position]
                counts[key] = counts.get(key, 0) + int(is_max)
        assert set(counts.values()) == {1}


# ---------------------------------------------------------------------------
# Reading and bad input.
# ---------------------------------------------------------------------------


def _examples_from(text, is_training, v2=False, tmp=None):
    import tempfile
    directory = tmp or tempfile.mkdtemp()
    path = write(os.path.join(str(directory), "data.json"), text)
    examples, _ = squad_data.read_squad_examples(path, is_training, v2)
    return examples


def test_reading_v2_and_predict_files(tmp_path):
    text = squad_json([(u"北京是首都", [("a", u"首都?", [(u"北京", 0)], False), ("b", u"x?", [], True)])])
    examples = _examples_from(text, True, v2=True, tmp=tmp_path)
    assert [(e.qas_id, e.is_impossible, e.answer_text) for e in examples] == [("a", False, u"北京"),
                                                                              ("b", True, None)]
    predict = {
        "data": [{
            "paragraphs": [{
                "context": u"abc",
                "qas": [{
                    "id": 7,
                    "question": u"q"
                }]
            }]
        }]
    }
    examples = _examples_from(json.dumps(predict), False, tmp=tmp_path)
    assert examples[0].qas_id == "7" and examples[0].answers == []


def test_bad_offsets_are_fixed_or_skipped_with_a_count(tmp_path):
    context = u"天安门在北京，北京是首都"
    text = squad_json([(
        context,
        [
            ("ok", u"q", [(u"北京", 4)], False),
            ("shifted", u"q", [(u"北京", 6)], False),  # nearest occurrence is 7
            ("absent", u"q", [(u"上海", 0)], False)
        ])])
    path = write(tmp_path / "d.json", text)
    messages = []
    examples, stats = squad_data.read_squad_examples(path, True, logger=messages.append)
    assert [(e.qas_id, e.start_char) for e in examples] == [("ok", 4), ("shifted", 7)]
    assert stats.offsets_fixed == 1 and stats.questions_skipped == 1
    assert any("absent" in m and path in m for m in messages)
    # For prediction the question is kept (it is scored on its texts).
    examples, _ = squad_data.read_squad_examples(path, False)
    assert [e.qas_id for e in examples] == ["ok", "shifted", "absent"]


@pytest.mark.parametrize("content,expected", [
    (u'{"data": [', "malformed JSON"),
    (u'[1, 2]', "not a SQuAD-format file"),
    (squad_json([(u"", [("q9", u"q", [(u"x", 0)], False)])]), "question q9 has no context"),
    (squad_json([(u"abc", [("q1", u"q", [(u"a", 0)], False),
                           ("q1", u"q", [(u"b", 1)], False)])]), "question q1: duplicated"),
    (squad_json([(u"abc", [("q2", u"", [(u"a", 0)], False)])]), "question q2 has no question"),
    (u'{"data": []}', "no questions"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, expected):
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(squad_data.DataError) as info:
        squad_data.read_squad_examples(path, True)
    message = str(info.value)
    assert path in message and expected in message and "\n" not in message


# ---------------------------------------------------------------------------
# Decoding.
# ---------------------------------------------------------------------------


def test_decode_v1_picks_the_best_valid_span(tokenizer):
    context = u"北京是中国的首都"
    examples = _examples_from(squad_json([(context, [("q", u"首都", [], False)])]), False)
    features = []
    squad_features.convert_examples_to_features(examples, tokenizer, 16, 4, 4, False,
                                                features.append)
    assert len(features) == 1
    f = features[0]
    offset = min(f.token_start_char)  # position of 北
    start = [0.0] * 16
    end = [0.0] * 16
    start[1] = 9.0  # query token: invalid
    start[offset + 3] = 5.0  # 中
    end[offset + 4] = 4.0  # 国
    end[offset + 2] = 8.0  # 是 (before the start: invalid with 中)
    start[offset] = 1.0
    result = squad_decoding.RawResultV1(f.unique_id, start, end)
    predictions, nbest = squad_decoding.decode_v1(examples, features, [result], 5, 30)
    assert predictions["q"] == u"中国"
    assert abs(sum(e["probability"] for e in nbest["q"]) - 1.0) < 1e-6
    # Answers of one token only: start 是 (0) + end 是 (8) beats 中 (5 + 0).
    predictions, _ = squad_decoding.decode_v1(examples, features, [result], 16, 1)
    assert predictions["q"] == u"是"


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------


def test_squad_v1_metrics_hand_computed():
    gold = {"a": [u"The Eiffel Tower", u"Eiffel tower"], "b": [u"in 1889"], "c": [u"Paris"]}
    predictions = {"a": u"eiffel tower!", "b": u"1889 exhibition"}
    metrics = squad_metrics.evaluate_v1(gold, predictions)
    # a: EM 1 (articles/punctuation/case removed), F1 1.
    # b: gold tokens [in, 1889], pred [1889, exhibition]: P=1/2 R=1/2 F1=1/2.
    # c: missing: 0.
    assert metrics["exact_match"] == pytest.approx(100.0 / 3)
    assert metrics["f1"] == pytest.approx(100.0 * 1.5 / 3)
    assert metrics["missing"] == 1


def test_squad_v2_metrics_hand_computed():
    gold = {"h1": [u"red apple"], "h2": [u"blue"], "n1": [], "n2": []}
    best_text = {"h1": u"red", "h2": u"blue", "n1": u"green", "n2": u"red"}
    odds = {"h1": -2.0, "h2": 1.0, "n1": 0.5, "n2": -1.0}
    metrics = squad_metrics.evaluate_v2(gold, best_text, odds, threshold=0.0)
    # threshold 0: h1 answered "red" (EM 0, F1 2/3), h2 null (0), n1 null (1),
    # n2 answered (0).
    assert metrics["exact"] == pytest.approx(100.0 * 1 / 4)
    assert metrics["f1"] == pytest.approx(100.0 * (2 / 3 + 1) / 4)
    assert metrics["HasAns_f1"] == pytest.approx(100.0 * (2 / 3) / 2)
    assert metrics["NoAns_exact"] == pytest.approx(50.0)
    assert metrics["HasAns_total"] == 2 and metrics["NoAns_total"] == 2
    # Oracle: answer odds <= t. t=-2: 2/3+0+1+1 = 2.667; t=-1: 2/3+0+1+0;
    # t=0.5: ..+0; t=1: 2/3+1+0+0. Best: t=-2 -> 2.667/4.
    assert metrics["oracle_threshold_tuned_on_this_data"] == pytest.approx(-2.0)
    assert metrics["oracle_f1_tuned_on_this_data"] == pytest.approx(100.0 * (2 / 3 + 2) / 4)
    # Without null odds the texts are final predictions.
    metrics = squad_metrics.evaluate_v2(gold, {
        "h1": u"red apple",
        "h2": u"",
        "n1": u"",
        "n2": u"x"
    })
    assert metrics["exact"] == pytest.approx(50.0)
    # Threshold tuned on other data is applied here.
    metrics = squad_metrics.evaluate_v2(gold, best_text, odds, tuning=(gold, best_text, odds))
    assert metrics["null_score_diff_threshold"] == pytest.approx(-2.0)


def test_cmrc2018_metrics_hand_computed():
    gold = {"a": [u"北京市", u"北京"], "b": [u"1980年", u"1980"], "c": [u"天安门 广场"], "d": [u"长城"]}
    predictions = {"a": u"北京", "b": u"在1980年，", "c": u"天安门广场！", "d": u"故宫"}
    metrics = squad_metrics.evaluate_cmrc2018(gold, predictions)
    # a: EM 1 (second reference), F1 1.
    # b: segments gold [1980, 年], pred [在, 1980, 年]: common run 2, P 2/3 R 1 -> 0.8; EM 0.
    # c: punctuation and spaces removed: EM 1, F1 1. d: 0.
    assert metrics["exact_match"] == pytest.approx(50.0)
    assert metrics["f1"] == pytest.approx(100.0 * (1 + 0.8 + 1) / 4)
    assert squad_metrics.cmrc_segments(u"Hello, World 北京！") == [u"hello", u"world", u"北", u"京"]


@pytest.mark.parametrize("script", ["squad_metrics.py", "squad_utils.py"])
def test_evaluate_entry_point(tmp_path, script):
    dataset = write(
        tmp_path / "dev.json",
        squad_json([(u"北京是首都", [("a", u"q", [(u"北京", 0)], False),
                                ("b", u"q", [(u"首都", 3)], False)])]))
    predictions = write(tmp_path / "pred.json", json.dumps({"a": u"北京", "b": u"是"}))
    out = subprocess.run([
        sys.executable,
        os.path.join(ROOT, script),
        "--dataset_file=%s" % dataset,
        "--prediction_file=%s" % predictions
    ], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["metric"] == "cmrc2018" and metrics["exact_match"] == pytest.approx(50.0)
    bad = write(tmp_path / "bad.json", u"{")
    out = subprocess.run([
        sys.executable,
        os.path.join(ROOT, script),
        "--dataset_file=%s" % bad,
        "--prediction_file=%s" % predictions
    ], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    assert out.returncode == 1 and "malformed JSON" in out.stderr
    assert "Traceback" not in out.stderr
