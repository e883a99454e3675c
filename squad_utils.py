# coding=utf-8
"""Span extraction (reading comprehension) for ALBERT: data, features, heads, metrics.

Works on any SQuAD-format JSON: SQuAD v1.1, SQuAD v2.0 (``is_impossible``),
CMRC2018 and DRCD (Chinese, same format), and predict files without answers.

* Reading: :func:`read_squad_examples` checks the file and reports problems as
  one-line :class:`DataError` messages naming the file and the question id. An
  answer whose ``answer_start`` does not match its text is moved to the
  nearest occurrence of the text in the context, or skipped (and counted).
* Tokenisation with exact character offsets: :func:`tokenize_with_offsets`
  returns, for each WordPiece / SentencePiece token, the span of original
  context characters it came from, in linear time (no LCS). A predicted token
  span is turned back into the exact substring of the original context.
* Features: sliding windows (``doc_stride``), each token's maximum-context
  window, ``[CLS] query [SEP] context [SEP]``, ``p_mask``.
* Heads: v1 (``cls/squad/output_weights`` [2, H], ``output_bias`` [2]) and
  Google's v2 answerability head (start, end conditioned on the start, answer
  class), with Google's variable names.
* Decoding: n-best spans with ``max_answer_length``; v2 null odds.
* Metrics: official SQuAD v1.1 and v2.0 EM/F1 and CMRC2018's EM/F1 (also used
  for DRCD). ``python squad_utils.py --dataset_file=... --prediction_file=...``
  scores a predictions file.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import bisect
import collections
import io
import json
import os
import re
import string
import sys
import unicodedata

import numpy as np
import six

import classifier_tasks
import driver_utils
import feature_io
import hub_export
import modeling
import script_utils
import tokenization
from tf_compat import tf

FEATURE_FORMAT_VERSION = 1
FIRST_UNIQUE_ID = 1000000000


class DataError(classifier_tasks.DataError):
    """Bad input data (reported as one line naming the file and question)."""


# ---------------------------------------------------------------------------
# Examples.
# ---------------------------------------------------------------------------


class SquadExample(object):
    """One question over one context.

    Attributes:
      qas_id: the question id (string).
      question_text: the question.
      context_text: the context paragraph, exactly as in the file.
      answers: list of (text, char_start) gold answers (all of them, for
        evaluation); empty for impossible questions or predict files.
      answer_text, start_char: the answer used for training (the first one),
        or None.
      is_impossible: v2 unanswerable question.
      context_index: index of the context among the file's paragraphs (the
        tokenisation of a context is shared by its questions).
    """

    def __init__(self, qas_id, question_text, context_text, answers=None, answer_text=None,
                 start_char=None, is_impossible=False, context_index=0):
        self.qas_id = qas_id
        self.question_text = question_text
        self.context_text = context_text
        self.answers = list(answers or [])
        self.answer_text = answer_text
        self.start_char = start_char
        self.is_impossible = is_impossible
        self.context_index = context_index

    @property
    def end_char(self):
        """Exclusive end offset of the training answer, or None."""
        if self.start_char is None:
            return None
        return self.start_char + len(self.answer_text)

    def __repr__(self):
        return "SquadExample(id=%r, question=%r, answer=%r@%r, impossible=%r)" % (
            self.qas_id, self.question_text, self.answer_text, self.start_char,
            self.is_impossible)


class ReadStats(object):
    """Counts of what reading a file fixed or skipped."""

    def __init__(self):
        self.questions = 0
        self.offsets_fixed = 0
        self.answers_skipped = 0
        self.questions_skipped = 0
        self.messages = []

    def note(self, message):
        if len(self.messages) < 20:
            self.messages.append(message)

    def __repr__(self):
        return ("%d questions, %d answer offsets corrected, %d answers and %d questions "
                "skipped" % (self.questions, self.offsets_fixed, self.answers_skipped,
                             self.questions_skipped))


def _load_json(path):
    try:
        with io.open(path, "r", encoding="utf-8-sig") as reader:
            text = reader.read()
    except (IOError, OSError) as e:
        raise DataError("%s: cannot read (%s)" % (path, e))
    except UnicodeDecodeError as e:
        raise DataError("%s: not UTF-8 (%s)" % (path, e.reason))
    try:
        return json.loads(text)
    except ValueError as e:
        line = getattr(e, "lineno", None)
        where = ":%d" % line if line else ""
        message = getattr(e, "msg", None) or str(e)
        raise DataError("%s%s: malformed JSON (%s)" % (path, where, message))


def _nearest_occurrence(context, text, start):
    """The start of the occurrence of ``text`` in ``context`` nearest ``start``."""
    best = None
    position = context.find(text)
    while position >= 0:
        if best is None or abs(position - start) < abs(best - start):
            best = position
        position = context.find(text, position + 1)
    return best


def _check_answer(path, qid, context, answer, stats):
    """(text, start) of a gold answer with a valid offset, or None (skipped)."""
    if not isinstance(answer, dict) or "text" not in answer:
        raise DataError("%s: question %s: answer without \"text\": %r" % (path, qid, answer))
    text = answer["text"]
    if not isinstance(text, six.string_types):
        text = six.text_type(text)
    start = answer.get("answer_start")
    if isinstance(start, six.string_types) and start.strip().lstrip("-").isdigit():
        start = int(start)
    if not text.strip():
        stats.answers_skipped += 1
        stats.note("%s: question %s: empty answer text skipped" % (path, qid))
        return None
    if isinstance(start, int) and context[start:start + len(text)] == text:
        return text, start
    fixed = _nearest_occurrence(context, text, start if isinstance(start, int) else 0)
    if fixed is None:
        stats.answers_skipped += 1
        stats.note("%s: question %s: answer %r (answer_start %r) does not occur in the "
                   "context; skipped" % (path, qid, text, start))
        return None
    stats.offsets_fixed += 1
    stats.note("%s: question %s: answer_start %r does not match answer %r; using offset %d"
               % (path, qid, start, text, fixed))
    return text, fixed


def read_squad_examples(path, is_training, version_2_with_negative=False, logger=None):
    """Reads a SQuAD-format JSON file.

    Layout: ``{"data": [{"paragraphs": [{"context": ..., "qas": [{"id": ...,
    "question": ..., "answers": [{"text": ..., "answer_start": ...}],
    "is_impossible": ...}]}]}]}`` (SQuAD v1.1/v2.0, CMRC2018, DRCD).

    For training, a question needs one usable answer unless it is impossible
    (v2); a question whose answers are all unusable is skipped and counted.
    For prediction all questions are kept, answers or not.

    Args:
      path: the JSON file.
      is_training: whether the examples are for training.
      version_2_with_negative: honour ``is_impossible``.
      logger: optional callable(str) for warnings (e.g. tf.logging.warning).

    Returns:
      (list of SquadExample, ReadStats).

    Raises:
      DataError: malformed JSON, wrong structure, a question without id,
        text or context, a duplicated question id, no questions at all.
    """
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError("%s: not a SQuAD-format file (expected an object with a \"data\" "
                        "list)" % path)
    stats = ReadStats()
    examples = []
    seen = set()
    context_index = 0
    for article_number, article in enumerate(data["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DataError("%s: data[%d] has no \"paragraphs\" list" % (path, article_number))
        for paragraph_number, paragraph in enumerate(paragraphs):
            if not isinstance(paragraph, dict):
                raise DataError("%s: data[%d].paragraphs[%d] is not an object"
                                % (path, article_number, paragraph_number))
            context = paragraph.get("context")
            qas = paragraph.get("qas") or []
            for qa in qas:
                if not isinstance(qa, dict):
                    raise DataError("%s: data[%d].paragraphs[%d]: question is not an object"
                                    % (path, article_number, paragraph_number))
                qid = qa.get("id")
                if qid is None or six.text_type(qid) == "":
                    raise DataError("%s: data[%d].paragraphs[%d]: question %r has no \"id\""
                                    % (path, article_number, paragraph_number,
                                       qa.get("question")))
                qid = six.text_type(qid)
                if qid in seen:
                    raise DataError("%s: question %s: duplicated question id" % (path, qid))
                seen.add(qid)
                if not isinstance(context, six.string_types) or not context.strip():
                    raise DataError("%s: question %s has no context (data[%d].paragraphs[%d] "
                                    "has no non-empty \"context\")"
                                    % (path, qid, article_number, paragraph_number))
                question = qa.get("question")
                if not isinstance(question, six.string_types) or not question.strip():
                    raise DataError("%s: question %s has no question text" % (path, qid))
                stats.questions += 1
                is_impossible = bool(version_2_with_negative and qa.get("is_impossible", False))
                answers = []
                if not is_impossible:
                    raw = qa.get("answers") or []
                    if not isinstance(raw, list):
                        raise DataError("%s: question %s: \"answers\" is not a list"
                                        % (path, qid))
                    for answer in raw:
                        checked = _check_answer(path, qid, context, answer, stats)
                        if checked is not None:
                            answers.append(checked)
                answer_text = start_char = None
                if answers:
                    answer_text, start_char = answers[0]
                if is_training and not is_impossible and not answers:
                    stats.questions_skipped += 1
                    stats.note("%s: question %s: no usable answer; skipped for training"
                               % (path, qid))
                    continue
                examples.append(SquadExample(
                    qid, question, context, answers, answer_text, start_char, is_impossible,
                    context_index))
            context_index += 1
    if not stats.questions:
        raise DataError("%s: no questions found" % path)
    if logger is not None:
        for message in stats.messages:
            logger(message)
        if stats.offsets_fixed or stats.answers_skipped or stats.questions_skipped:
            logger("%s: %r" % (path, stats))
    return examples, stats


def read_gold_answers(path):
    """{qid: [answer texts]} of a dataset file ([] for unanswerable questions).

    Answers are taken as written (offsets are not needed for scoring).

    Raises:
      DataError: malformed file.
    """
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError("%s: not a SQuAD-format file" % path)
    gold = collections.OrderedDict()
    for article in data["data"]:
        for paragraph in (article or {}).get("paragraphs") or []:
            for qa in paragraph.get("qas") or []:
                qid = six.text_type(qa.get("id"))
                if qa.get("is_impossible"):
                    gold[qid] = []
                else:
                    gold[qid] = [six.text_type(a.get("text", "")) for a in qa.get("answers") or []
                                 if isinstance(a, dict)]
    return gold


# ---------------------------------------------------------------------------
# Tokenisation with character offsets.
# ---------------------------------------------------------------------------


def _normalized_chars(char, do_lower_case):
    """What WordPiece's basic tokenizer turns one character into."""
    if do_lower_case:
        return tokenization._strip_accents(char.lower())  # pylint: disable=protected-access
    return char


def _wordpiece_with_offsets(tokenizer, text):
    # Words as BasicTokenizer builds them, as lists of (normalised char,
    # original index); then punctuation split; then WordPiece.
    do_lower_case = tokenizer.do_lower_case
    tokenize_word = tokenizer.wordpiece_tokenizer.tokenize_word
    unk = tokenizer.wordpiece_tokenizer.unk_token
    clean_char = tokenization._clean_char  # pylint: disable=protected-access
    is_punctuation = tokenization._is_punctuation  # pylint: disable=protected-access
    tokens, starts, ends = [], [], []
    word_chars, word_index = [], []
    punctuation_cache = tokenization._PUNCTUATION_CHARS  # pylint: disable=protected-access
    normal_cache = {}

    def flush():
        if not word_chars:
            return
        piece_chars, piece_index = [], []
        pieces = []
        for char, index in zip(word_chars, word_index):
            punct = punctuation_cache.get(char)
            if punct is None:
                punct = is_punctuation(char)
                punctuation_cache[char] = punct
            if punct:
                if piece_chars:
                    pieces.append((piece_chars, piece_index))
                pieces.append(([char], [index]))
                piece_chars, piece_index = [], []
            else:
                piece_chars.append(char)
                piece_index.append(index)
        if piece_chars:
            pieces.append((piece_chars, piece_index))
        for chars, indexes in pieces:
            word = "".join(chars)
            sub_tokens = tokenize_word(word)
            if len(sub_tokens) == 1 and sub_tokens[0] == unk and word != unk:
                tokens.append(unk)
                starts.append(indexes[0])
                ends.append(indexes[-1] + 1)
                continue
            position = 0
            for sub_token in sub_tokens:
                length = len(sub_token)
                if position > 0 and sub_token.startswith(tokenization.WORDPIECE_CONTINUATION):
                    length -= len(tokenization.WORDPIECE_CONTINUATION)
                tokens.append(sub_token)
                starts.append(indexes[position])
                ends.append(indexes[position + length - 1] + 1)
                position += length
        del word_chars[:]
        del word_index[:]

    for index, char in enumerate(text):
        cleaned = clean_char(char)
        if not cleaned:
            continue
        if cleaned == " ":
            flush()
            continue
        if len(cleaned) == 3 and cleaned[0] == " ":  # an isolated CJK character
            flush()
            sub_tokens = tokenize_word(char)
            tokens.append(sub_tokens[0])
            starts.append(index)
            ends.append(index + 1)
            continue
        normal = normal_cache.get(char)
        if normal is None:
            normal = _normalized_chars(char, do_lower_case)
            normal_cache[char] = normal
        for normal_char in normal:
            word_chars.append(normal_char)
            word_index.append(index)
    flush()
    return tokens, starts, ends


def _sentencepiece_normal_text(text, do_lower_case):
    """``preprocess_text`` done per character: (normalised chars, original index)."""
    chars, index = [], []
    previous_space = True  # strips leading whitespace
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            if not previous_space:
                chars.append(" ")
                index.append(position)
                previous_space = True
            position += 1
            continue
        previous_space = False
        if char in "`'" and text[position:position + 2] in ("``", "''"):
            chars.append('"')
            index.append(position)
            position += 2
            continue
        normal = unicodedata.normalize("NFKD", char)
        normal = "".join(c for c in normal if not unicodedata.combining(c))
        if do_lower_case:
            normal = normal.lower()
        for normal_char in normal:
            chars.append(normal_char)
            index.append(position)
        position += 1
    while chars and chars[-1] == " ":
        chars.pop()
        index.pop()
    return chars, index


def _sentencepiece_with_offsets(tokenizer, text):
    chars, index = _sentencepiece_normal_text(text, tokenizer.do_lower_case)
    pieces = tokenization.encode_pieces(tokenizer.sp_model, "".join(chars))
    tokens, starts, ends = [], [], []
    # Greedy linear alignment of the pieces' characters to the normalised
    # text. SentencePiece's own normaliser may still change characters; a
    # differing character is matched one-to-one, and spaces on either side
    # are skipped.
    n = len(chars)
    position = 0
    for piece in pieces:
        surface = piece.replace(tokenization.SPIECE_UNDERLINE, " ")
        first = last = None
        for piece_char in surface:
            if piece_char == " ":
                while position < n and chars[position] == " ":
                    position += 1
                continue
            while position < n and chars[position] == " " and piece_char != " ":
                position += 1
            if position >= n:
                break
            if first is None:
                first = index[position]
            last = index[position]
            position += 1
        if first is None:
            # A piece of only "▁" (or past the end): attach to the next char.
            anchor = index[min(position, n - 1)] if n else 0
            first = last = anchor
        tokens.append(piece)
        starts.append(first)
        ends.append(last + 1)
    return tokens, starts, ends


def tokenize_with_offsets(tokenizer, text):
    """Tokenises ``text`` and maps every token to its original characters.

    WordPiece: the same tokens as ``tokenizer.tokenize(text)`` (cleaning,
    per-character CJK, lower-casing and accent stripping, punctuation split,
    WordPiece). SentencePiece: the pieces of the normalised text. Runs in
    linear time.

    Args:
      tokenizer: tokenization.FullTokenizer.
      text: the original text.

    Returns:
      (tokens, starts, ends): lists of equal length; token i came from
      ``text[starts[i]:ends[i]]``. Starts and ends never decrease.
    """
    text = tokenization.convert_to_unicode(text)
    if tokenizer.is_sentencepiece:
        return _sentencepiece_with_offsets(tokenizer, text)
    return _wordpiece_with_offsets(tokenizer, text)


def char_span_to_token_span(starts, ends, start_char, end_char):
    """Token span [first, last] covering the characters [start_char, end_char).

    Args:
      starts, ends: token character offsets (from tokenize_with_offsets).
      start_char: first character of the span.
      end_char: exclusive end.

    Returns:
      (first, last) token indexes (inclusive), or None when no token lies in
      the span (e.g. it is only whitespace).
    """
    first = bisect.bisect_right(ends, start_char)
    last = bisect.bisect_left(starts, end_char) - 1
    if first >= len(starts) or last < first:
        return None
    return first, last


# ---------------------------------------------------------------------------
# Features.
# ---------------------------------------------------------------------------


class InputFeatures(object):
    """One window of one example, as the model sees it.

    Attributes:
      unique_id: feature id (from 1000000000 on).
      example_index: index of the example in the list converted.
      doc_span_index: index of the window within the example.
      input_ids, input_mask, segment_ids, p_mask: lists of max_seq_length ints
        (p_mask is 1 where an answer cannot be: query, [SEP], padding).
      token_start_char, token_end_char: {position: char offset} for the
        context tokens of the window (end exclusive).
      token_is_max_context: {position: bool}.
      start_position, end_position: training label (0, 0 when the answer is
        not in the window or the question is impossible).
      is_impossible: training label.
    """

    def __init__(self, unique_id, example_index, doc_span_index, input_ids, input_mask,
                 segment_ids, p_mask, token_start_char, token_end_char, token_is_max_context,
                 start_position=0, end_position=0, is_impossible=False, tokens=None):
        self.unique_id = unique_id
        self.example_index = example_index
        self.doc_span_index = doc_span_index
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.p_mask = p_mask
        self.token_start_char = token_start_char
        self.token_end_char = token_end_char
        self.token_is_max_context = token_is_max_context
        self.start_position = start_position
        self.end_position = end_position
        self.is_impossible = is_impossible
        self.tokens = tokens

    def to_json(self):
        """The decoding metadata (not the model inputs) as a JSON-able dict."""
        positions = sorted(self.token_start_char)
        return {"unique_id": self.unique_id, "example_index": self.example_index,
                "doc_span_index": self.doc_span_index,
                "first": positions[0] if positions else 0,
                "starts": [self.token_start_char[p] for p in positions],
                "ends": [self.token_end_char[p] for p in positions],
                "max_context": [int(self.token_is_max_context[p]) for p in positions]}

    @classmethod
    def from_json(cls, data):
        """Decoding metadata back (model inputs are not restored)."""
        first = data["first"]
        positions = range(first, first + len(data["starts"]))
        return cls(data["unique_id"], data["example_index"], data["doc_span_index"], None,
                   None, None, None, dict(zip(positions, data["starts"])),
                   dict(zip(positions, data["ends"])),
                   dict(zip(positions, [bool(m) for m in data["max_context"]])))


def doc_windows(num_tokens, max_tokens_for_doc, doc_stride):
    """Sliding windows [(start, length)] over ``num_tokens`` context tokens.

    Each window holds up to ``max_tokens_for_doc`` tokens; the next starts
    ``min(length, doc_stride)`` tokens later; the last one reaches the end.
    """
    spans = []
    start = 0
    while True:
        length = min(num_tokens - start, max_tokens_for_doc)
        spans.append((start, length))
        if start + length >= num_tokens:
            break
        start += min(length, doc_stride)
    return spans


def max_context_windows(spans, num_tokens):
    """For each context token, the window where it has the most context.

    A token's score in a window is min(tokens left of it, tokens right of
    it) + 0.01 * window length; ties keep the earlier window (BERT's rule).

    Returns:
      a list of window indexes, one per token.
    """
    best = [-1] * num_tokens
    best_score = [-1.0] * num_tokens
    for span_index, (start, length) in enumerate(spans):
        for position in range(start, start + length):
            score = min(position - start, start + length - 1 - position) + 0.01 * length
            if score > best_score[position]:
                best_score[position] = score
                best[position] = span_index
    return best


class _ContextCache(object):
    """Tokenises each context once (questions share their paragraph)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.key = None
        self.value = None

    def get(self, example):
        key = (example.context_index, example.context_text)
        if key != self.key:
            tokens, starts, ends = tokenize_with_offsets(self.tokenizer, example.context_text)
            ids = self.tokenizer.convert_tokens_to_ids(tokens)
            self.key, self.value = key, (tokens, starts, ends, ids)
        return self.value


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride,
                                 max_query_length, is_training, output_fn, progress=None,
                                 keep_tokens=False):
    """Turns examples into windows and passes each InputFeatures to ``output_fn``.

    Args:
      examples: list of SquadExample.
      tokenizer: tokenization.FullTokenizer.
      max_seq_length: window length in tokens, incl. [CLS] and two [SEP].
      doc_stride: tokens between window starts.
      max_query_length: the question is cut to this many tokens.
      is_training: set the answer labels.
      output_fn: callable(InputFeatures).
      progress: optional object with update(n).
      keep_tokens: keep the token strings on each feature (for tests/logging).

    Returns:
      a dict of counts: features, answers_not_whole (training answers whose
      ends fall inside a token, so the label covers the whole token), and
      answers_without_tokens.

    Raises:
      ValueError: when max_seq_length leaves no room for the context.
    """
    cls_id, sep_id = tokenizer.convert_tokens_to_ids([tokenization.CLS, tokenization.SEP])
    cache = _ContextCache(tokenizer)
    unique_id = FIRST_UNIQUE_ID
    counts = collections.Counter()
    last_windows_key = spans = best_window = None
    for example_index, example in enumerate(examples):
        query_tokens = tokenizer.tokenize(example.question_text)[:max_query_length]
        query_ids = tokenizer.convert_tokens_to_ids(query_tokens)
        doc_tokens, starts, ends, doc_ids = cache.get(example)
        max_tokens_for_doc = max_seq_length - len(query_ids) - 3
        if max_tokens_for_doc < 1:
            raise ValueError("max_seq_length=%d leaves no room for the context after a "
                             "question of %d tokens (max_query_length=%d)"
                             % (max_seq_length, len(query_ids), max_query_length))
        answer_span = None
        if is_training and not example.is_impossible:
            answer_span = char_span_to_token_span(starts, ends, example.start_char,
                                                  example.end_char)
            if answer_span is None:
                counts["answers_without_tokens"] += 1
            elif (starts[answer_span[0]] != example.start_char or
                  ends[answer_span[1]] != example.end_char):
                counts["answers_not_whole"] += 1
        windows_key = (cache.key, max_tokens_for_doc)
        if windows_key != last_windows_key:
            spans = doc_windows(len(doc_ids), max_tokens_for_doc, doc_stride)
            best_window = max_context_windows(spans, len(doc_ids))
            last_windows_key = windows_key
        offset = len(query_ids) + 2
        head_ids = [cls_id] + query_ids + [sep_id]
        for span_index, (span_start, span_length) in enumerate(spans):
            input_ids = head_ids + doc_ids[span_start:span_start + span_length] + [sep_id]
            used = len(input_ids)
            padding = max_seq_length - used
            segment_ids = [0] * offset + [1] * (span_length + 1) + [0] * padding
            input_mask = [1] * used + [0] * padding
            p_mask = [0] + [1] * (offset - 1) + [0] * span_length + [1] * (1 + padding)
            input_ids = input_ids + [0] * padding
            token_start_char, token_end_char, is_max = {}, {}, {}
            for i in range(span_length):
                doc_index = span_start + i
                token_start_char[offset + i] = starts[doc_index]
                token_end_char[offset + i] = ends[doc_index]
                is_max[offset + i] = best_window[doc_index] == span_index
            start_position = end_position = 0
            impossible = bool(example.is_impossible)
            if is_training and not example.is_impossible:
                if (answer_span is not None and answer_span[0] >= span_start and
                        answer_span[1] < span_start + span_length):
                    start_position = answer_span[0] - span_start + offset
                    end_position = answer_span[1] - span_start + offset
                else:
                    impossible = True
            tokens = None
            if keep_tokens:
                tokens = ([tokenization.CLS] + query_tokens + [tokenization.SEP] +
                          doc_tokens[span_start:span_start + span_length] + [tokenization.SEP])
            output_fn(InputFeatures(unique_id, example_index, span_index, input_ids, input_mask,
                                    segment_ids, p_mask, token_start_char, token_end_char, is_max,
                                    start_position, end_position, impossible, tokens))
            unique_id += 1
            counts["features"] += 1
        if progress is not None:
            progress.update(1)
    return dict(counts)


# ---------------------------------------------------------------------------
# Feature files.
# ---------------------------------------------------------------------------


def feature_spec(max_seq_length):
    """The span features (Google's names): ``{name: (shape, dtype)}``."""
    return collections.OrderedDict([
        ("unique_ids", ([], "int64")),
        ("input_ids", ([max_seq_length], "int64")),
        ("input_mask", ([max_seq_length], "int64")),
        ("segment_ids", ([max_seq_length], "int64")),
        ("p_mask", ([max_seq_length], "int64")),
        ("start_positions", ([], "int64")),
        ("end_positions", ([], "int64")),
        ("is_impossible", ([], "int64")),
    ])


def feature_to_tf_example(feature):
    """InputFeatures -> tf.train.Example (Google's feature names)."""
    values = {"unique_ids": feature.unique_id, "input_ids": feature.input_ids,
              "input_mask": feature.input_mask, "segment_ids": feature.segment_ids,
              "p_mask": feature.p_mask, "start_positions": feature.start_position,
              "end_positions": feature.end_position,
              "is_impossible": int(feature.is_impossible)}
    return feature_io.to_example(values, feature_spec(len(feature.input_ids)))


def feature_cache_key(data_file, tokenizer, max_seq_length, doc_stride, max_query_length,
                      is_training, version_2_with_negative):
    """(description, hex key) of everything a feature file depends on."""
    inputs = collections.OrderedDict([
        ("format_version", FEATURE_FORMAT_VERSION),
        ("kind", "squad"),
        ("data_sha1", feature_io.file_sha1(data_file)),
        ("tokenizer", feature_io.tokenizer_fingerprint(tokenizer)),
        ("max_seq_length", int(max_seq_length)),
        ("doc_stride", int(doc_stride)),
        ("max_query_length", int(max_query_length)),
        ("is_training", bool(is_training)),
        ("version_2_with_negative", bool(version_2_with_negative)),
    ])
    return inputs, feature_io.cache_key(inputs)


def write_feature_files(examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                        is_training, record_file, meta_file, progress=None):
    """Converts examples; writes the TFRecord and the decoding metadata (JSON lines).

    Both files are written under temporary names and renamed when complete.

    Returns:
      (number of features, counts dict from convert_examples_to_features).
    """
    with script_utils.atomic_output(record_file) as tmp_record, \
            script_utils.atomic_output(meta_file) as tmp_meta:
        with tf.io.TFRecordWriter(tmp_record) as writer, \
                io.open(tmp_meta, "w", encoding="utf-8") as meta:
            def output_fn(feature):
                writer.write(feature_to_tf_example(feature).SerializeToString())
                meta.write(json.dumps(feature.to_json(), separators=(",", ":")) + "\n")
            counts = convert_examples_to_features(
                examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                is_training, output_fn, progress)
    return counts.get("features", 0), counts


def read_feature_meta(meta_file):
    """The decoding metadata written by write_feature_files (list of InputFeatures)."""
    with io.open(meta_file, "r", encoding="utf-8") as reader:
        return [InputFeatures.from_json(json.loads(line)) for line in reader if line.strip()]


def load_or_create_features(data_file, examples, tokenizer, max_seq_length, doc_stride,
                            max_query_length, is_training, version_2_with_negative,
                            cache_dir=None, record_file=None, progress=None, logger=None):
    """A feature TFRecord (+ metadata) for ``examples``, reusing a matching cache.

    The cache is reused only when its ``.json`` description matches: data
    file content, vocabulary content and casing, max_seq_length, doc_stride,
    max_query_length, training or not, v2 or not.

    Args:
      data_file: the SQuAD-format file the examples came from.
      examples: its examples.
      tokenizer, max_seq_length, doc_stride, max_query_length, is_training,
        version_2_with_negative: conversion settings.
      cache_dir: where to put ``squad_<train|predict>_<key>.tf_record``.
      record_file: explicit TFRecord path (Google's --train_feature_file /
        --predict_feature_file); overrides cache_dir.
      progress: optional progress reporter.
      logger: optional callable(str).

    Returns:
      (record_file, meta_file, number of features, reused).
    """
    inputs, key = feature_cache_key(data_file, tokenizer, max_seq_length, doc_stride,
                                    max_query_length, is_training, version_2_with_negative)
    if record_file is None:
        split = "train" if is_training else "predict"
        record_file = os.path.join(cache_dir, "squad_%s_%s.tf_record" % (split, key[:16]))
    stem = record_file[:-len(".tf_record")] if record_file.endswith(".tf_record") else record_file
    meta_file = stem + ".meta.jsonl"

    def write(path):
        count, counts = write_feature_files(examples, tokenizer, max_seq_length, doc_stride,
                                            max_query_length, is_training, path, meta_file,
                                            progress)
        if logger:
            logger("Wrote %d features of %d examples to %s (%s)" % (count, len(examples),
                                                                    path, counts))
        return {"num_records": count, "num_features": count, "num_examples": len(examples),
                "data_file": os.path.abspath(data_file), "counts": counts}

    info, reused = feature_io.cached_file(record_file, inputs, write, extra_files=[meta_file],
                                          logger=logger)
    return record_file, meta_file, info["num_features"], reused


def input_fn_builder(input_file, seq_length, is_training, drop_remainder, batch_size=None,
                     seed=None, skip=0):
    """An Estimator input_fn over a span feature TFRecord (see feature_io)."""
    return feature_io.input_fn_builder(input_file, feature_spec(seq_length), is_training,
                                       drop_remainder, batch_size=batch_size, seed=seed,
                                       skip=skip)


# ---------------------------------------------------------------------------
# Heads.
# ---------------------------------------------------------------------------


def head_variable_patterns(version_2_with_negative):
    """Regexes of the head variables a pretrained checkpoint does not have."""
    if version_2_with_negative:
        return [r"^start_logits/", r"^end_logits/", r"^answer_class/"]
    return [r"^cls/squad/"]


def _encoder(albert_config, is_training, features, use_one_hot_embeddings, use_einsum,
             hub_module_handle=None):
    model = hub_export.encoder(
        hub_module_handle, albert_config, is_training, features["input_ids"],
        features["input_mask"], features["segment_ids"],
        use_one_hot_embeddings=use_one_hot_embeddings, use_einsum=use_einsum)
    return model.get_sequence_output()


def v1_logits(sequence_output):
    """Google's v1 head: (start_logits, end_logits) [B, L] from cls/squad/*."""
    shape = modeling.get_shape_list(sequence_output, expected_rank=3)
    hidden = shape[2]
    with tf.variable_scope("cls/squad"):
        weights = tf.get_variable("output_weights", [2, hidden],
                                  initializer=tf.truncated_normal_initializer(stddev=0.02))
        bias = tf.get_variable("output_bias", [2], initializer=tf.zeros_initializer())
    flat = tf.reshape(sequence_output, [-1, hidden])
    logits = tf.nn.bias_add(tf.matmul(flat, weights, transpose_b=True), bias)
    logits = tf.reshape(logits, [shape[0], shape[1], 2])
    return logits[:, :, 0], logits[:, :, 1]


def _masked(logits, p_mask):
    p_mask = tf.cast(p_mask, tf.float32)
    return logits * (1.0 - p_mask) - 1e30 * p_mask


def v2_outputs(sequence_output, p_mask, is_training, start_positions=None, start_n_top=5,
               end_n_top=5, dropout_prob=0.1, initializer_range=0.02):
    """Google's v2 head (start; end conditioned on the start; answer class).

    Args:
      sequence_output: [B, L, H].
      p_mask: [B, L], 1 where no answer can start or end.
      is_training: condition the end on the gold start; apply dropout.
      start_positions: [B] gold starts (training).
      start_n_top, end_n_top: beam sizes at inference.
      dropout_prob: dropout in the answer-class layer when training.
      initializer_range: stddev of the initialisers.

    Returns:
      dict: start_log_probs [B, L]; training: end_log_probs [B, L]; inference:
      start_top_log_probs, start_top_index [B, start_n_top], end_top_log_probs,
      end_top_index [B, start_n_top * end_n_top]; always cls_logits [B].
    """
    initializer = modeling.create_initializer(initializer_range)
    shape = modeling.get_shape_list(sequence_output, expected_rank=3)
    batch, length, hidden = shape
    outputs = {}
    with tf.variable_scope("start_logits"):
        start_logits = tf.squeeze(modeling.dense(sequence_output, 1, "dense", initializer), -1)
        start_log_probs = tf.nn.log_softmax(_masked(start_logits, p_mask), -1)
    outputs["start_log_probs"] = start_log_probs
    with tf.variable_scope("end_logits"):
        if is_training:
            one_hot = tf.one_hot(start_positions, depth=length, dtype=tf.float32)
            start_features = tf.reduce_sum(one_hot[:, :, None] * sequence_output, axis=1)
            start_features = tf.tile(start_features[:, None, :], [1, length, 1])
            end_input = tf.concat([sequence_output, start_features], axis=-1)
            x = modeling.dense(end_input, hidden, "dense_0", initializer, activation=tf.tanh)
            x = modeling.layer_norm(x, "LayerNorm")
            end_logits = tf.squeeze(modeling.dense(x, 1, "dense_1", initializer), -1)
            outputs["end_log_probs"] = tf.nn.log_softmax(_masked(end_logits, p_mask), -1)
        else:
            start_top_log_probs, start_top_index = tf.nn.top_k(start_log_probs, k=start_n_top)
            index = tf.one_hot(start_top_index, depth=length, dtype=tf.float32)  # [B, K, L]
            start_features = tf.matmul(index, sequence_output)  # [B, K, H]
            start_features = tf.tile(start_features[:, None, :, :], [1, length, 1, 1])
            tiled = tf.tile(sequence_output[:, :, None, :], [1, 1, start_n_top, 1])
            end_input = tf.concat([tiled, start_features], axis=-1)  # [B, L, K, 2H]
            x = modeling.dense(end_input, hidden, "dense_0", initializer, activation=tf.tanh)
            x = modeling.layer_norm(x, "LayerNorm")
            end_logits = tf.squeeze(modeling.dense(x, 1, "dense_1", initializer), -1)
            end_logits = _masked(end_logits, p_mask[:, :, None])
            end_log_probs = tf.nn.log_softmax(end_logits, axis=1)  # over L
            end_top_log_probs, end_top_index = tf.nn.top_k(
                tf.transpose(end_log_probs, [0, 2, 1]), k=end_n_top)  # [B, K, E]
            outputs["start_top_log_probs"] = start_top_log_probs
            outputs["start_top_index"] = start_top_index
            outputs["end_top_log_probs"] = tf.reshape(end_top_log_probs,
                                                      [batch, start_n_top * end_n_top])
            outputs["end_top_index"] = tf.reshape(end_top_index, [batch, start_n_top * end_n_top])
    with tf.variable_scope("answer_class"):
        start_p = tf.exp(start_log_probs)
        start_feature = tf.reduce_sum(start_p[:, :, None] * sequence_output, axis=1)
        cls_feature = sequence_output[:, 0, :]
        x = tf.concat([start_feature, cls_feature], axis=-1)
        x = modeling.dense(x, hidden, "dense_0", initializer, activation=tf.tanh)
        if is_training:
            x = modeling.dropout(x, dropout_prob)
        outputs["cls_logits"] = tf.squeeze(
            modeling.dense(x, 1, "dense_1", initializer, use_bias=False), -1)
    return outputs


def _cross_entropy(log_probs, positions, length):
    one_hot = tf.one_hot(positions, depth=length, dtype=tf.float32)
    return -tf.reduce_mean(tf.reduce_sum(one_hot * log_probs, axis=-1))


def create_model(albert_config, is_training, features, version_2_with_negative=False,
                 use_one_hot_embeddings=False, use_einsum=True, start_n_top=5, end_n_top=5,
                 dropout_prob=0.1, hub_module_handle=None):
    """Encoder + span head (the encoder of a TF1 Hub module with
    ``hub_module_handle``).

    Returns:
      (loss or None, dict of prediction tensors): v1: start_logits,
      end_logits [B, L]; v2: see v2_outputs.
    """
    sequence_output = _encoder(albert_config, is_training, features, use_one_hot_embeddings,
                               use_einsum, hub_module_handle)
    length = modeling.get_shape_list(sequence_output, expected_rank=3)[1]
    loss = None
    if not version_2_with_negative:
        start_logits, end_logits = v1_logits(sequence_output)
        if is_training:
            loss = (_cross_entropy(tf.nn.log_softmax(start_logits, -1),
                                   features["start_positions"], length) +
                    _cross_entropy(tf.nn.log_softmax(end_logits, -1),
                                   features["end_positions"], length)) / 2.0
        return loss, {"start_logits": start_logits, "end_logits": end_logits}
    outputs = v2_outputs(sequence_output, features["p_mask"], is_training,
                         features.get("start_positions"), start_n_top, end_n_top,
                         dropout_prob, albert_config.initializer_range)
    if is_training:
        span_loss = (_cross_entropy(outputs["start_log_probs"], features["start_positions"],
                                    length) +
                     _cross_entropy(outputs["end_log_probs"], features["end_positions"],
                                    length)) / 2.0
        class_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(features["is_impossible"], tf.float32),
            logits=outputs["cls_logits"]))
        loss = span_loss + 0.5 * class_loss
    del outputs["start_log_probs"]
    outputs.pop("end_log_probs", None)
    return loss, outputs


def model_fn_builder(albert_config, init_checkpoint=None, learning_rate=5e-5, num_train_steps=1,
                     num_warmup_steps=0, use_tpu=False, use_one_hot_embeddings=False,
                     optimizer="adamw", version_2_with_negative=False, start_n_top=5,
                     end_n_top=5, dropout_prob=0.1, use_einsum=True, init_report_file=None,
                     verbose=False, hub_module_handle=None):
    """The Estimator model_fn (TRAIN and PREDICT).

    Training initialises from ``init_checkpoint`` strictly (only the span
    head may be new) and reports the load in one line, once: not when the
    Estimator restores a checkpoint of its own output directory instead.
    ``init_report_file`` receives the full report; ``verbose`` logs it.
    With ``hub_module_handle`` the encoder is that TF1 Hub module's, starting
    from its variables (give no init_checkpoint).
    """
    def build(features, is_training):
        return create_model(
            albert_config, is_training, features, version_2_with_negative,
            use_one_hot_embeddings, use_einsum, start_n_top, end_n_top, dropout_prob,
            hub_module_handle)

    def predictions(features, outputs):
        predictions = dict(outputs)
        predictions["unique_ids"] = features["unique_ids"]
        return predictions

    return driver_utils.fine_tuning_model_fn(
        build, predictions, init_checkpoint, head_variable_patterns(version_2_with_negative),
        learning_rate, num_train_steps, num_warmup_steps, use_tpu=use_tpu,
        optimizer=optimizer, init_report_file=init_report_file, verbose=verbose,
        mode_error="only TRAIN and PREDICT are supported, got %s")


def raw_result(row, version_2_with_negative):
    """One Estimator prediction row -> RawResultV1 / RawResultV2."""
    unique_id = int(row["unique_ids"])
    if not version_2_with_negative:
        return RawResultV1(unique_id, [float(x) for x in row["start_logits"]],
                           [float(x) for x in row["end_logits"]])
    return RawResultV2(unique_id, row["start_top_log_probs"], row["start_top_index"],
                       row["end_top_log_probs"], row["end_top_index"], row["cls_logits"])


SERVING_INPUTS = ("input_ids", "input_mask", "segment_ids")


def export_saved_model(albert_config, checkpoint, export_dir, version_2_with_negative=False,
                       start_n_top=5, end_n_top=5, assets=None):
    """Writes a SavedModel of a fine-tuned span model (einsum-free graph).

    Signature ``serving_default`` (also ``predict``): inputs input_ids,
    input_mask, segment_ids (int32 [batch, length]; v2 also p_mask);
    outputs start_logits and end_logits (v1) or start_top_log_probs,
    start_top_index, end_top_log_probs, end_top_index and cls_logits (v2).
    An existing SavedModel in ``export_dir`` is replaced when the new one is
    complete.

    Raises:
      ValueError: export_dir exists and is not a SavedModel.
    """
    names = SERVING_INPUTS + (("p_mask",) if version_2_with_negative else ())

    def build_signature():
        inputs = {name: tf.placeholder(tf.int32, [None, None], name=name) for name in names}
        _, outputs = create_model(albert_config, False, inputs, version_2_with_negative,
                                  use_einsum=False, start_n_top=start_n_top,
                                  end_n_top=end_n_top)
        return inputs, {name: tf.identity(tensor, name=name)
                        for name, tensor in outputs.items()}

    driver_utils.write_saved_model(export_dir, build_signature, checkpoint, assets)


# ---------------------------------------------------------------------------
# Decoding.
# ---------------------------------------------------------------------------

RawResultV1 = collections.namedtuple("RawResultV1", ["unique_id", "start_logits", "end_logits"])
RawResultV2 = collections.namedtuple(
    "RawResultV2", ["unique_id", "start_top_log_probs", "start_top_index", "end_top_log_probs",
                    "end_top_index", "cls_logits"])


def _top_indexes(values, n):
    values = np.asarray(values)
    n = min(n, len(values))
    order = np.argsort(-values, kind="mergesort")
    return [int(i) for i in order[:n]]


def _softmax(scores):
    if not scores:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    exp = np.exp(scores - scores.max())
    return list(exp / exp.sum())


def _valid_span(feature, start, end, max_answer_length):
    return (start in feature.token_start_char and end in feature.token_start_char and
            feature.token_is_max_context.get(start, False) and end >= start and
            end - start + 1 <= max_answer_length)


def _finish_nbest(example, candidates, n_best_size):
    """Sorted, text-deduplicated n-best entries with probabilities."""
    candidates.sort(key=lambda c: -c["score"])
    seen = set()
    nbest = []
    for candidate in candidates:
        text = example.context_text[candidate["start_char"]:candidate["end_char"]]
        if text in seen:
            continue
        seen.add(text)
        entry = collections.OrderedDict([("text", text)])
        entry.update(candidate)
        nbest.append(entry)
        if len(nbest) >= n_best_size:
            break
    if not nbest:
        nbest.append(collections.OrderedDict([("text", ""), ("score", 0.0),
                                              ("start_char", -1), ("end_char", -1)]))
    for entry, probability in zip(nbest, _softmax([e["score"] for e in nbest])):
        entry["probability"] = float(probability)
    return nbest


def _group_features(features):
    by_example = collections.defaultdict(list)
    for feature in features:
        by_example[feature.example_index].append(feature)
    return by_example


def decode_v1(examples, features, results, n_best_size, max_answer_length):
    """n-best answers of the v1 head.

    Args:
      examples: list of SquadExample.
      features: their InputFeatures (decoding metadata suffices).
      results: RawResultV1 per feature (by unique_id).
      n_best_size: answers kept per question (and start/end candidates per
        window).
      max_answer_length: longest answer in tokens.

    Returns:
      (predictions {qid: text}, nbest {qid: [entries]}); each entry has
      text, score (start + end logit), start_logit, end_logit, start_char,
      end_char (offsets into the context) and probability (softmax over the
      n-best scores).
    """
    by_id = {r.unique_id: r for r in results}
    by_example = _group_features(features)
    predictions = collections.OrderedDict()
    all_nbest = collections.OrderedDict()
    for example_index, example in enumerate(examples):
        candidates = []
        for feature in by_example.get(example_index, []):
            result = by_id.get(feature.unique_id)
            if result is None:
                continue
            start_logits = np.asarray(result.start_logits)
            end_logits = np.asarray(result.end_logits)
            for start in _top_indexes(start_logits, n_best_size):
                for end in _top_indexes(end_logits, n_best_size):
                    if not _valid_span(feature, start, end, max_answer_length):
                        continue
                    candidates.append(collections.OrderedDict([
                        ("score", float(start_logits[start] + end_logits[end])),
                        ("start_logit", float(start_logits[start])),
                        ("end_logit", float(end_logits[end])),
                        ("start_char", feature.token_start_char[start]),
                        ("end_char", feature.token_end_char[end])]))
        nbest = _finish_nbest(example, candidates, n_best_size)
        predictions[example.qas_id] = nbest[0]["text"]
        all_nbest[example.qas_id] = nbest
    return predictions, all_nbest


def decode_v2(examples, features, results, n_best_size, max_answer_length, start_n_top,
              end_n_top):
    """n-best answers and null odds of the v2 (answerability) head.

    The score of a span is its start log-probability plus its end
    log-probability; the null odds of a question is the smallest answer-class
    logit over its windows (higher means "no answer").

    Returns:
      (best_non_null {qid: text}, nbest {qid: [entries]}, null_odds
      {qid: float}).
    """
    by_id = {r.unique_id: r for r in results}
    by_example = _group_features(features)
    best_text = collections.OrderedDict()
    all_nbest = collections.OrderedDict()
    null_odds = collections.OrderedDict()
    for example_index, example in enumerate(examples):
        candidates = []
        null = None
        for feature in by_example.get(example_index, []):
            result = by_id.get(feature.unique_id)
            if result is None:
                continue
            cls_logit = float(np.asarray(result.cls_logits).reshape([-1])[0])
            null = cls_logit if null is None else min(null, cls_logit)
            start_log_probs = np.asarray(result.start_top_log_probs).reshape([-1])
            start_index = np.asarray(result.start_top_index).reshape([-1])
            end_log_probs = np.asarray(result.end_top_log_probs).reshape([-1])
            end_index = np.asarray(result.end_top_index).reshape([-1])
            for i in range(start_n_top):
                for j in range(end_n_top):
                    k = i * end_n_top + j
                    start, end = int(start_index[i]), int(end_index[k])
                    if not _valid_span(feature, start, end, max_answer_length):
                        continue
                    candidates.append(collections.OrderedDict([
                        ("score", float(start_log_probs[i] + end_log_probs[k])),
                        ("start_log_prob", float(start_log_probs[i])),
                        ("end_log_prob", float(end_log_probs[k])),
                        ("start_char", feature.token_start_char[start]),
                        ("end_char", feature.token_end_char[end])]))
        nbest = _finish_nbest(example, candidates, n_best_size)
        best_text[example.qas_id] = nbest[0]["text"]
        all_nbest[example.qas_id] = nbest
        null_odds[example.qas_id] = 0.0 if null is None else null
    return best_text, all_nbest, null_odds


def apply_null_threshold(best_text, null_odds, threshold):
    """v2 predictions: "" where the null odds exceed ``threshold``."""
    return collections.OrderedDict(
        (qid, "" if null_odds.get(qid, 0.0) > threshold else text)
        for qid, text in best_text.items())


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """SQuAD's normalisation: lower case, no punctuation, articles or extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _squad_tokens(text):
    return normalize_answer(text).split() if text else []


def squad_exact(gold, prediction):
    """1 when the normalised texts are equal (SQuAD EM of one pair)."""
    return int(normalize_answer(gold) == normalize_answer(prediction))


def squad_f1(gold, prediction):
    """SQuAD token-bag F1 of one pair (v2 rule: empty vs empty is 1)."""
    gold_tokens = _squad_tokens(gold)
    pred_tokens = _squad_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def evaluate_v1(gold, predictions):
    """Official SQuAD v1.1 EM and F1 (percent).

    Args:
      gold: {qid: [answer texts]}.
      predictions: {qid: text}; a missing prediction scores 0.

    Returns:
      OrderedDict exact_match, f1, total, missing.
    """
    exact = f1 = 0.0
    missing = 0
    for qid, answers in gold.items():
        if qid not in predictions:
            missing += 1
            continue
        prediction = predictions[qid]
        answers = answers or [""]
        exact += max(squad_exact(a, prediction) for a in answers)
        f1 += max(_squad_f1_v1(a, prediction) for a in answers)
    total = max(len(gold), 1)
    return collections.OrderedDict([("exact_match", 100.0 * exact / total),
                                    ("f1", 100.0 * f1 / total), ("total", len(gold)),
                                    ("missing", missing)])


def _squad_f1_v1(gold, prediction):
    # v1.1's script: no special case for empty texts (0 unless tokens overlap).
    gold_tokens = _squad_tokens(gold)
    pred_tokens = _squad_tokens(prediction)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _v2_raw_scores(gold, predictions):
    exact, f1 = {}, {}
    for qid, answers in gold.items():
        if qid not in predictions:
            continue
        answers = [a for a in answers if normalize_answer(a)] or [""]
        prediction = predictions[qid]
        exact[qid] = max(squad_exact(a, prediction) for a in answers)
        f1[qid] = max(squad_f1(a, prediction) for a in answers)
    return exact, f1


def _summary(scores, qids):
    if not qids:
        return 0.0
    return 100.0 * sum(scores.get(q, 0.0) for q in qids) / len(qids)


def best_null_threshold(gold, best_text, null_odds):
    """The null-odds threshold maximising v2 F1 on (gold, predictions).

    Returns:
      (threshold, best F1 in percent).
    """
    _, f1 = _v2_raw_scores(gold, best_text)
    has_answer = {qid: bool([a for a in answers if normalize_answer(a)])
                  for qid, answers in gold.items()}
    qids = sorted((q for q in gold if q in null_odds), key=lambda q: null_odds[q])
    # A question is answered when its odds <= threshold. Start below every
    # odds (all null), then answer questions from the lowest odds up.
    score = sum(0.0 if has_answer[q] else 1.0 for q in qids)
    best_score = score
    best_threshold = (null_odds[qids[0]] - 1.0) if qids else 0.0
    for position, qid in enumerate(qids):
        score += f1.get(qid, 0.0) - (0.0 if has_answer[qid] else 1.0)
        tied = (position + 1 < len(qids) and
                null_odds[qids[position + 1]] == null_odds[qid])
        if not tied and score > best_score:
            best_score, best_threshold = score, float(null_odds[qid])
    return best_threshold, 100.0 * best_score / max(len(gold), 1)


def evaluate_v2(gold, best_text, null_odds=None, threshold=0.0, tuning=None):
    """Official SQuAD v2.0 EM/F1 overall, HasAns and NoAns (percent).

    Predictions are ``best_text`` with "" wherever the null odds exceed
    ``threshold``. The headline figures use that threshold, which must come
    from other data (default 0.0, i.e. answer-class probability 0.5). The
    threshold that would be best on this very data, and the F1 it would
    give, are reported under ``oracle_*`` names: optimistic, not comparable.

    Args:
      gold: {qid: [answer texts]} ([] for unanswerable).
      best_text: {qid: text} (best non-null answer, or final predictions when
        null_odds is None).
      null_odds: {qid: float} or None.
      threshold: null-odds threshold chosen elsewhere.
      tuning: optional (gold, best_text, null_odds) of another data set to
        choose the threshold on (overrides ``threshold``).

    Returns:
      OrderedDict of metrics.
    """
    metrics = collections.OrderedDict()
    if tuning is not None:
        threshold, _ = best_null_threshold(*tuning)
        metrics["threshold_source"] = "tuned on other data"
    predictions = (apply_null_threshold(best_text, null_odds, threshold)
                   if null_odds is not None else best_text)
    exact, f1 = _v2_raw_scores(gold, predictions)
    has_ans = [q for q, a in gold.items() if [x for x in a if normalize_answer(x)]]
    no_ans = [q for q in gold if q not in set(has_ans)]
    all_q = list(gold)
    metrics["exact"] = _summary(exact, all_q)
    metrics["f1"] = _summary(f1, all_q)
    metrics["total"] = len(all_q)
    metrics["HasAns_exact"] = _summary(exact, has_ans)
    metrics["HasAns_f1"] = _summary(f1, has_ans)
    metrics["HasAns_total"] = len(has_ans)
    metrics["NoAns_exact"] = _summary(exact, no_ans)
    metrics["NoAns_f1"] = _summary(f1, no_ans)
    metrics["NoAns_total"] = len(no_ans)
    metrics["missing"] = sum(1 for q in gold if q not in predictions)
    if null_odds is not None:
        metrics["null_score_diff_threshold"] = float(threshold)
        oracle_threshold, oracle_f1 = best_null_threshold(gold, best_text, null_odds)
        metrics["oracle_f1_tuned_on_this_data"] = oracle_f1
        metrics["oracle_threshold_tuned_on_this_data"] = float(oracle_threshold)
    return metrics


_CMRC_EXTRA_PUNCTUATION = frozenset(u"-:_*^/\\~`+=，。：？！“”；’《》…·、「」（）－～『』")


def _is_cmrc_punctuation(char):
    return (char in _CMRC_EXTRA_PUNCTUATION or char in _ASCII_PUNCTUATION or
            unicodedata.category(char).startswith("P"))


def cmrc_segments(text):
    """CMRC2018 segmentation: CJK characters one by one, other runs as words.

    Lower-cased; punctuation and whitespace removed.
    """
    text = text.lower().strip()
    segments = []
    word = []
    for char in text:
        if _is_cmrc_punctuation(char) or char.isspace():
            if word:
                segments.append("".join(word))
                word = []
            continue
        if tokenization._is_chinese_char(ord(char)):  # pylint: disable=protected-access
            if word:
                segments.append("".join(word))
                word = []
            segments.append(char)
        else:
            word.append(char)
    if word:
        segments.append("".join(word))
    return segments


def _longest_common_substring(a, b):
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                if current[j + 1] > best:
                    best = current[j + 1]
        previous = current
    return best


def cmrc_f1(gold, prediction):
    """CMRC2018 F1 of one pair: longest common run of segments."""
    gold_segments = cmrc_segments(gold)
    pred_segments = cmrc_segments(prediction)
    common = _longest_common_substring(gold_segments, pred_segments)
    if common == 0:
        return 0.0
    precision = common / len(pred_segments)
    recall = common / len(gold_segments)
    return 2 * precision * recall / (precision + recall)


def cmrc_exact(gold, prediction):
    """CMRC2018 EM of one pair: equal after removing punctuation and spaces."""
    return int("".join(cmrc_segments(gold)) == "".join(cmrc_segments(prediction)))


def evaluate_cmrc2018(gold, predictions):
    """CMRC2018's EM and F1 (percent; also used for DRCD).

    Each question scores its best EM and F1 against every reference answer;
    a missing prediction scores 0.

    Returns:
      OrderedDict f1, exact_match, average (of the two), total, missing.
    """
    exact = f1 = 0.0
    missing = 0
    for qid, answers in gold.items():
        if qid not in predictions:
            missing += 1
            continue
        prediction = predictions[qid]
        answers = answers or [""]
        f1 += max(cmrc_f1(a, prediction) for a in answers)
        exact += max(cmrc_exact(a, prediction) for a in answers)
    total = max(len(gold), 1)
    metrics = collections.OrderedDict()
    metrics["f1"] = 100.0 * f1 / total
    metrics["exact_match"] = 100.0 * exact / total
    metrics["average"] = (metrics["f1"] + metrics["exact_match"]) / 2
    metrics["total"] = len(gold)
    metrics["missing"] = missing
    return metrics


METRICS = ("squad_v1", "squad_v2", "cmrc2018")


def guess_metric(gold, version_2_with_negative=False):
    """squad_v2 with negatives, cmrc2018 when answers are mostly CJK, else squad_v1."""
    if version_2_with_negative:
        return "squad_v2"
    chars = cjk = 0
    for answers in list(gold.values())[:2000]:
        for answer in answers[:1]:
            for char in answer:
                chars += 1
                cjk += tokenization._is_chinese_char(ord(char))  # pylint: disable=protected-access
    return "cmrc2018" if chars and cjk * 2 >= chars else "squad_v1"


def evaluate(gold, predictions, metric, null_odds=None, threshold=0.0):
    """Scores predictions with the named metric (see METRICS)."""
    if metric == "squad_v1":
        return evaluate_v1(gold, predictions)
    if metric == "squad_v2":
        return evaluate_v2(gold, predictions, null_odds, threshold)
    if metric == "cmrc2018":
        return evaluate_cmrc2018(gold, predictions)
    raise ValueError("unknown metric %r (one of %s)" % (metric, ", ".join(METRICS)))


def main(argv=None):
    """``python squad_utils.py --dataset_file=D --prediction_file=P``: prints metrics JSON."""
    parser = argparse.ArgumentParser(
        description="Score a predictions.json against a SQuAD-format dataset file.")
    parser.add_argument("--dataset_file", required=True, help="SQuAD-format JSON with answers.")
    parser.add_argument("--prediction_file", required=True, help="{id: answer text} JSON.")
    parser.add_argument("--metric", choices=METRICS, default=None,
                        help="Default: squad_v2 with --na_prob_file, cmrc2018 for Chinese "
                             "answers, else squad_v1.")
    parser.add_argument("--na_prob_file", default=None,
                        help="null_odds.json (v2): a prediction becomes \"\" when its null "
                             "odds exceed --na_prob_thresh.")
    parser.add_argument("--na_prob_thresh", type=float, default=0.0,
                        help="Null-odds threshold (choose it on other data).")
    args = parser.parse_args(argv)
    try:
        gold = read_gold_answers(args.dataset_file)
        predictions = _load_json(args.prediction_file)
        null_odds = _load_json(args.na_prob_file) if args.na_prob_file else None
    except DataError as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    if not isinstance(predictions, dict):
        sys.stderr.write("error: %s: expected a JSON object {id: text}\n" % args.prediction_file)
        return 1
    metric = args.metric or guess_metric(gold, null_odds is not None)
    metrics = evaluate(gold, predictions, metric, null_odds, args.na_prob_thresh)
    metrics["metric"] = metric
    sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
