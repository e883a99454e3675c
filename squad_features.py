# coding=utf-8
"""SQuAD features: tokenisation with character offsets, windows, feature files.

* Tokenisation with exact character offsets: :func:`tokenize_with_offsets`
  returns, for each WordPiece / SentencePiece token, the span of original
  context characters it came from, in linear time (no LCS). A predicted token
  span is turned back into the exact substring of the original context.
  ``ner_utils`` tags characters with the same alignment and windows.
* Features: sliding windows (``doc_stride``), each token's maximum-context
  window, ``[CLS] query [SEP] context [SEP]``, ``p_mask``.
* Feature files: the TFRecord (Google's feature names) plus the decoding
  metadata of each window (JSON lines), cached under a key of everything they
  depend on; the Estimator ``input_fn`` that reads them.

Neighbours: ``squad_data`` reads the examples converted here; ``squad_utils``
holds the model that reads the features; ``squad_decoding`` maps its outputs
back to context characters through each feature's offsets.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import bisect
import collections
import io
import json
import os
import unicodedata

import feature_io
import script_utils
import tokenization
from tf_compat import tf

FEATURE_FORMAT_VERSION = 1
FIRST_UNIQUE_ID = 1000000000

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

    def __init__(self, unique_id, example_index, doc_span_index, input_ids, input_mask, segment_ids,
                 p_mask, token_start_char, token_end_char, token_is_max_context, start_position=0,
                 end_position=0, is_impossible=False, tokens=None):
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
        return {
            "unique_id": self.unique_id,
            "example_index": self.example_index,
            "doc_span_index": self.doc_span_index,
            "first": positions[0] if positions else 0,
            "starts": [self.token_start_char[p] for p in positions],
            "ends": [self.token_end_char[p] for p in positions],
            "max_context": [int(self.token_is_max_context[p]) for p in positions]
        }

    @classmethod
    def from_json(cls, data):
        """Decoding metadata back (model inputs are not restored)."""
        first = data["first"]
        positions = range(first, first + len(data["starts"]))
        return cls(data["unique_id"], data["example_index"], data["doc_span_index"], None, None,
                   None, None, dict(zip(positions, data["starts"])),
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


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                                 is_training, output_fn, progress=None, keep_tokens=False):
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
                             "question of %d tokens (max_query_length=%d)" %
                             (max_seq_length, len(query_ids), max_query_length))
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
            output_fn(
                InputFeatures(unique_id, example_index, span_index, input_ids, input_mask,
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
    values = {
        "unique_ids": feature.unique_id,
        "input_ids": feature.input_ids,
        "input_mask": feature.input_mask,
        "segment_ids": feature.segment_ids,
        "p_mask": feature.p_mask,
        "start_positions": feature.start_position,
        "end_positions": feature.end_position,
        "is_impossible": int(feature.is_impossible)
    }
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

            counts = convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride,
                                                  max_query_length, is_training, output_fn,
                                                  progress)
    return counts.get("features", 0), counts


def read_feature_meta(meta_file):
    """The decoding metadata written by write_feature_files (list of InputFeatures)."""
    with io.open(meta_file, "r", encoding="utf-8") as reader:
        return [InputFeatures.from_json(json.loads(line)) for line in reader if line.strip()]


def load_or_create_features(data_file, examples, tokenizer, max_seq_length, doc_stride,
                            max_query_length, is_training, version_2_with_negative, cache_dir=None,
                            record_file=None, progress=None, logger=None):
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
            logger("Wrote %d features of %d examples to %s (%s)" %
                   (count, len(examples), path, counts))
        return {
            "num_records": count,
            "num_features": count,
            "num_examples": len(examples),
            "data_file": os.path.abspath(data_file),
            "counts": counts
        }

    info, reused = feature_io.cached_file(record_file, inputs, write, extra_files=[meta_file],
                                          logger=logger)
    return record_file, meta_file, info["num_features"], reused


def input_fn_builder(input_file, seq_length, is_training, drop_remainder, batch_size=None,
                     seed=None, skip=0):
    """An Estimator input_fn over a span feature TFRecord (see feature_io)."""
    return feature_io.input_fn_builder(input_file, feature_spec(seq_length), is_training,
                                       drop_remainder, batch_size=batch_size, seed=seed, skip=skip)
