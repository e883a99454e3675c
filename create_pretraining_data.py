# coding=utf-8
"""Corpus -> pretraining TFRecords: Chinese whole-word, n-gram masking, SOP.

Input: UTF-8 text files, one sentence (or paragraph) per line, a blank line
between documents. Output: TFRecord files of `tf.train.Example`s with the
features of `feature_spec` (the layout both reference pretraining scripts
read), plus a JSON summary next to the first output file.

How it works:

* Reading streams the files (in a seeded permutation of the file list) and
  cuts them into *units*: a document, or a part of a very long document (at
  most `MAX_UNIT_CHARS` characters, cut at a line boundary). Units are
  shuffled inside bounded windows and grouped into tasks.
* A task is processed by `InstanceGenerator` in a worker process: every line
  is tokenized and (Chinese mode) segmented by jieba exactly once, then each
  of the `dupe_factor` passes cuts the unit into instances and masks them.
  Every random choice comes from a `random.Random` seeded with
  (random_seed, pass, unit index), so the output does not depend on the
  number of workers.
* The main process takes the serialized examples back in task order, mixes
  them through a bounded shuffle buffer and writes them round-robin over the
  output files. Memory stays bounded whatever the corpus size.

Masking (see `InstanceGenerator.mask_instance`): word units are jieba words
for Chinese text and WordPiece/SentencePiece words otherwise; n-grams of
1..`ngram` units are chosen with p(n) proportional to 1/n; the 80% [MASK] /
10% keep / 10% random decision is taken once per word; random replacements
are real tokens (never [PAD], [CLS], [SEP], [MASK], [UNK], [unused*] or a
"##" piece). Input and label ids are plain vocabulary ids: word grouping is
kept in a separate boundary array, never by "##" marking of Chinese
characters.

Sentence order prediction (see `InstanceGenerator.create_instances`): A and B
are consecutive segments of one document; label 1 means they were swapped.
A single segment (or an over-long line) is split in two rather than
duplicated, dropped or paired with another document; a pair whose A and B
are identical (a repeated line) is skipped. With
`random_next_sentence`, label 1 instead means B comes from another document
(NSP, as in BERT).

Outputs: the paths are checked before anything is read (`check_output_files`:
not an input or the vocabulary, not given twice, not a directory, in a
writable directory); records go to temporary files that are renamed when
complete. SIGTERM or SIGINT stops the workers and removes the temporary files
(`stop_on_signals`); workers die with the main process, and a later run
removes the temporary files of a run killed with SIGKILL.

Two parts live in modules of their own: `example_encoder.py` writes the
`tf.train.Example` bytes of an instance (`ExampleEncoder`), and
`jieba_segmenter.py` gives jieba's word lengths for the CJK runs of a line
(`word_lengths`, `JiebaSegmenter`). Their names (and `FEATURE_NAMES`,
`init_jieba`) are still importable from this module.

The command-line driver is at the end of this file; every function here can
be used without flags.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import ctypes
import glob
import itertools
import json
import multiprocessing
import os
import queue
import random
import re
import signal
import sys
import threading
import time
import traceback

from absl import logging

from example_encoder import ExampleEncoder
from jieba_segmenter import init_jieba
from jieba_segmenter import word_lengths as _jieba_word_lengths
import script_utils
import tokenization

# Names that lived here before their modules existed, still importable from
# this module.
from example_encoder import FEATURE_NAMES  # noqa: F401 pylint: disable=unused-import
from jieba_segmenter import JiebaSegmenter  # noqa: F401 pylint: disable=unused-import
from jieba_segmenter import PlainJieba as _PlainJieba  # noqa: F401 pylint: disable=unused-import

UserError = script_utils.UserError

# A document longer than this (in characters) is processed in several units,
# cut at line boundaries; instances never span two units.
MAX_UNIT_CHARS = 20000
# Units are grouped into tasks of about this many characters of text.
TASK_CHARS = 30000
# Units are shuffled inside windows of this many units.
UNIT_WINDOW = 512
_ONES = b"\x01" * 65536
# At most this many warnings of one kind name their file and line.
MAX_WARNINGS_PER_KIND = 5

# CJK ideograph ranges whose characters the WordPiece tokenizer always turns
# into exactly one token, unchanged by lower-casing and accent stripping
# (compatibility ideographs are left out: NFD maps them to other characters).
_CJK_RUN_RE = re.compile(u"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002a6df\U0002a700-\U0002ceaf]+")

# ---------------------------------------------------------------------------
# Options.
# ---------------------------------------------------------------------------


class Options(
        collections.namedtuple("Options", [
            "vocab_file", "spm_model_file", "do_lower_case", "do_whole_word_mask", "non_chinese",
            "ngram", "favor_shorter_ngram", "max_seq_length", "max_predictions_per_seq",
            "masked_lm_prob", "dupe_factor", "short_seq_prob", "random_seed",
            "random_next_sentence", "jieba_hmm"
        ])):
    """Settings of the data generator (the flags of the script).

    Build it with `make_options`, which fills in defaults and validates.
    """


def make_options(vocab_file=None, spm_model_file=None, do_lower_case=True, do_whole_word_mask=True,
                 non_chinese=False, ngram=3, favor_shorter_ngram=True, max_seq_length=128,
                 max_predictions_per_seq=20, masked_lm_prob=0.15, dupe_factor=10,
                 short_seq_prob=0.1, random_seed=12345, random_next_sentence=False, jieba_hmm=True):
    """Returns validated `Options` (arguments as the script's flags).

    Raises:
      UserError: if a value is out of range or no vocabulary is given.
    """
    if not vocab_file and not spm_model_file:
        raise UserError("give --vocab_file (WordPiece vocab.txt) or "
                        "--spm_model_file (SentencePiece model)")
    if max_seq_length < 5:
        raise UserError("--max_seq_length must be at least 5 ([CLS] A [SEP] "
                        "B [SEP]), got %d" % max_seq_length)
    if max_predictions_per_seq < 1:
        raise UserError("--max_predictions_per_seq must be at least 1, got %d" %
                        max_predictions_per_seq)
    if not 0.0 <= masked_lm_prob <= 1.0:
        raise UserError("--masked_lm_prob must be in [0, 1], got %g" % masked_lm_prob)
    if not 0.0 <= short_seq_prob <= 1.0:
        raise UserError("--short_seq_prob must be in [0, 1], got %g" % short_seq_prob)
    if dupe_factor < 1:
        raise UserError("--dupe_factor must be at least 1, got %d" % dupe_factor)
    if ngram < 1:
        raise UserError("--ngram must be at least 1, got %d" % ngram)
    return Options(vocab_file=vocab_file, spm_model_file=spm_model_file,
                   do_lower_case=bool(do_lower_case), do_whole_word_mask=bool(do_whole_word_mask),
                   non_chinese=bool(non_chinese), ngram=int(ngram),
                   favor_shorter_ngram=bool(favor_shorter_ngram),
                   max_seq_length=int(max_seq_length),
                   max_predictions_per_seq=int(max_predictions_per_seq),
                   masked_lm_prob=float(masked_lm_prob), dupe_factor=int(dupe_factor),
                   short_seq_prob=float(short_seq_prob), random_seed=int(random_seed),
                   random_next_sentence=bool(random_next_sentence), jieba_hmm=bool(jieba_hmm))


def ngram_probabilities(ngram, favor_shorter_ngram=True):
    """Returns [p(1), ..., p(ngram)] for the n-gram length of a masked span.

    Args:
      ngram: the longest n-gram.
      favor_shorter_ngram: if true p(n) is proportional to 1/n (for ngram=3:
        6/11, 3/11, 2/11); if false the same values in reverse order (longer
        n-grams are more likely), as Google's script does.

    Returns:
      A list of `ngram` probabilities summing to 1.
    """
    weights = [1.0 / n for n in range(1, ngram + 1)]
    if not favor_shorter_ngram:
        weights.reverse()
    total = sum(weights)
    return [weight / total for weight in weights]


def feature_spec(max_seq_length, max_predictions_per_seq):
    """Returns the `tf.io.parse_single_example` spec of the output records.

    Args:
      max_seq_length: length of input_ids, input_mask, segment_ids and
        token_boundary.
      max_predictions_per_seq: length of the masked_lm_* features.

    Returns:
      A dict feature name -> `tf.io.FixedLenFeature`.
    """
    from tf_compat import tf  # pylint: disable=g-import-not-at-top
    seq = [max_seq_length]
    pred = [max_predictions_per_seq]
    return {
        "input_ids": tf.io.FixedLenFeature(seq, tf.int64),
        "input_mask": tf.io.FixedLenFeature(seq, tf.int64),
        "segment_ids": tf.io.FixedLenFeature(seq, tf.int64),
        "token_boundary": tf.io.FixedLenFeature(seq, tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature(pred, tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature(pred, tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature(pred, tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }


# ---------------------------------------------------------------------------
# Instances.
# ---------------------------------------------------------------------------


class TrainingInstance(object):
    """One pretraining example before padding.

    Attributes:
      original_ids: token ids of [CLS] A [SEP] B [SEP] before masking.
      input_ids: the same after masking.
      segment_ids: 0 for [CLS], A and the first [SEP]; 1 for B and the last.
      token_boundary: 1 where a word starts ([CLS] and [SEP] included).
      masked_lm_positions: masked positions, ascending.
      masked_lm_ids: original ids at those positions (the labels).
      label: next_sentence_labels (SOP: 1 = swapped; NSP: 1 = random B).
      spans: every n-gram draw as (n sampled, n used, number of tokens);
        n used is 0 for a draw that was skipped (overlap or budget).
      word_actions: one of "mask", "keep", "random" per masked word.
    """

    __slots__ = ("original_ids", "input_ids", "segment_ids", "token_boundary",
                 "masked_lm_positions", "masked_lm_ids", "label", "spans", "word_actions")

    def __init__(self, original_ids, segment_ids, token_boundary, label):
        self.original_ids = original_ids
        self.input_ids = list(original_ids)
        self.segment_ids = segment_ids
        self.token_boundary = token_boundary
        self.label = label
        self.masked_lm_positions = []
        self.masked_lm_ids = []
        self.spans = []
        self.word_actions = []


Segment = collections.namedtuple("Segment", ["ids", "starts"])


class PreparedUnit(object):
    """A tokenized unit of text: its segments and bookkeeping.

    Attributes:
      segments: list of `Segment` (token ids and word-start flags), at most
        max_seq_length - 3 tokens each.
      index: the global unit index (part of the RNG seed).
      is_document_start: whether the unit starts a document.
      document: index of the first unit of its document (units of one
        document share it).
      num_lines: number of non-empty lines read.
      num_chars: number of characters read.
      notes: list of (kind, message) warnings about the input.
    """

    def __init__(self, index, is_document_start, document=None):
        self.segments = []
        self.index = index
        self.is_document_start = is_document_start
        self.document = index if document is None else document
        self.num_lines = 0
        self.num_chars = 0
        self.notes = []


def _is_special_token(token):
    """Whether a vocab entry is a control entry ([PAD], [unused3], <S>, ...)."""
    return ((token.startswith("[") and token.endswith("]") and len(token) > 2) or
            (token.startswith("<") and token.endswith(">") and len(token) > 2))


def _all_cjk(text):
    """Whether `text` is non-empty and every character is a CJK ideograph."""
    is_cjk = tokenization._is_chinese_char  # pylint: disable=protected-access
    return bool(text) and all(is_cjk(ord(char)) for char in text)


def _check_readable_file(flag, path):
    """Raises UserError naming `flag` if `path` is missing or a directory."""
    if os.path.isdir(path):
        raise UserError("%s: %s is a directory" % (flag, path))
    if not os.path.exists(path):
        raise UserError("%s: %s does not exist" % (flag, path))


class InstanceGenerator(object):
    """Tokenizes units of text and turns them into masked SOP instances."""

    def __init__(self, options, load_jieba=True):
        """Loads the vocabulary and prepares per-id tables.

        Args:
          options: an `Options`.
          load_jieba: whether to load jieba's dictionary now (Chinese mode);
            otherwise it is loaded on first use.

        Raises:
          UserError: if the vocabulary file is missing, is a directory, cannot
            be read or lacks [CLS], [SEP] or [MASK].
        """
        self.options = options
        if options.spm_model_file:
            _check_readable_file("--spm_model_file", options.spm_model_file)
        else:
            _check_readable_file("--vocab_file", options.vocab_file)
        try:
            self.tokenizer = tokenization.FullTokenizer(vocab_file=options.vocab_file,
                                                        do_lower_case=options.do_lower_case,
                                                        spm_model_file=options.spm_model_file)
        except (IOError, OSError, ValueError) as error:
            raise UserError(str(error))
        vocab = self.tokenizer.vocab
        for token in (tokenization.CLS, tokenization.SEP, tokenization.MASK):
            if token not in vocab:
                raise UserError("the vocabulary %s has no %s token" %
                                (options.spm_model_file or options.vocab_file, token))
        self.cls_id = vocab[tokenization.CLS]
        self.sep_id = vocab[tokenization.SEP]
        self.mask_id = vocab[tokenization.MASK]
        self.unk_id = vocab.get(self.tokenizer.unk_token) if (self.tokenizer.unk_token) else None
        self.vocab_size = len(vocab)
        self.max_num_tokens = options.max_seq_length - 3

        inv_vocab = self.tokenizer.inv_vocab
        sentencepiece = self.tokenizer.is_sentencepiece
        sp_model = self.tokenizer.sp_model
        underline = tokenization.SPIECE_UNDERLINE
        # Per id: whether a non-CJK token starts a word, the text a CJK token
        # contributes to the jieba input (None for non-CJK tokens), and
        # whether it may replace a masked token.
        self.starts_word = []
        self.cjk_text = []
        self.replacement_ids = []
        for token_id in range(self.vocab_size):
            token = inv_vocab[token_id]
            if sentencepiece:
                text = token[len(underline):] if token.startswith(underline) else token
                starts = (token.startswith(underline) or not text or not all(
                    ("a" <= c <= "z") or ("A" <= c <= "Z") for c in text))
                real = not (sp_model.IsControl(token_id) or sp_model.IsUnknown(token_id) or
                            sp_model.IsUnused(token_id) or _is_special_token(token))
            else:
                text = token
                starts = not token.startswith(tokenization.WORDPIECE_CONTINUATION)
                real = starts and not _is_special_token(token)
            self.starts_word.append(1 if starts else 0)
            self.cjk_text.append(text if _all_cjk(text) else None)
            if real:
                self.replacement_ids.append(token_id)
        if not self.replacement_ids:
            raise UserError("the vocabulary %s holds no ordinary token to use "
                            "as a random replacement" %
                            (options.spm_model_file or options.vocab_file))
        self.ngram_cumulative = []
        total = 0.0
        for probability in ngram_probabilities(options.ngram, options.favor_shorter_ngram):
            total += probability
            self.ngram_cumulative.append(total)
        self.ngram_cumulative[-1] = 1.0
        self._use_jieba = not options.non_chinese
        self._fast_path = self._use_jieba and not sentencepiece
        self._char_ids = {}
        self._other_cache = {}
        self.identical_pairs_skipped = 0
        self.encoder = ExampleEncoder(self.vocab_size, options.max_seq_length,
                                      options.max_predictions_per_seq)
        if self._use_jieba and load_jieba:
            init_jieba()

    # -- tokenization -------------------------------------------------------

    def tokenize_line(self, line):
        """Tokenizes one line and marks where words start.

        Chinese mode: jieba segments the runs of CJK tokens of the line (once);
        a CJK token starts a word where a jieba word starts. Other tokens start
        a word unless they continue one ("##" pieces, SentencePiece pieces
        without the word-start mark).

        Args:
          line: a text line.

        Returns:
          (ids, starts): lists of token ids and 0/1 word-start flags.
        """
        if self._fast_path:
            return self._tokenize_line_fast(line)
        tokenizer = self.tokenizer
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
        starts_word = self.starts_word
        starts = [starts_word[token_id] for token_id in ids]
        if not self._use_jieba:
            return ids, starts
        cjk_text = self.cjk_text
        pieces = []
        offsets = []
        position = 0
        previous_cjk = False
        for index, token_id in enumerate(ids):
            text = cjk_text[token_id]
            if text is None:
                previous_cjk = False
                continue
            if not previous_cjk and pieces:
                pieces.append(" ")
                position += 1
            offsets.append((index, position))
            pieces.append(text)
            position += len(text)
            previous_cjk = True
        if offsets:
            word_starts = set()
            position = 0
            text = "".join(pieces)
            for length in _jieba_word_lengths(text, self.options.jieba_hmm):
                while text[position] == " ":
                    position += 1
                word_starts.add(position)
                position += length
            for index, offset in offsets:
                starts[index] = 1 if offset in word_starts else 0
        return ids, starts

    def _tokenize_line_fast(self, line):
        """`tokenize_line` for WordPiece vocabs: CJK runs bypass the tokenizer.

        Each CJK character of the fast ranges is exactly one token (itself or
        [UNK]) in `FullTokenizer`, so runs of them are mapped with a dict and
        only the text between them goes through the full tokenizer; the
        result equals the full tokenizer's (checked by the tests).
        """
        vocab = self.tokenizer.vocab
        char_ids = self._char_ids
        unk_id = self.unk_id
        ids = []
        starts = []
        runs = []
        run_slots = []
        position = 0
        for match in _CJK_RUN_RE.finditer(line):
            begin, end = match.span()
            if begin > position:
                other_ids, other_starts = self._tokenize_other(line[position:begin])
                ids.extend(other_ids)
                starts.extend(other_starts)
            run = match.group()
            for char in run:
                token_id = char_ids.get(char)
                if token_id is None:
                    token_id = vocab.get(char, unk_id)
                    if token_id is None:
                        raise UserError("character %r is not in the "
                                        "vocabulary, which has no [UNK]" % char)
                    char_ids[char] = token_id
                ids.append(token_id)
            run_slots.append(len(starts))
            starts.extend([1] * len(run))
            runs.append(run)
            position = end
        if position < len(line):
            other_ids, other_starts = self._tokenize_other(line[position:])
            ids.extend(other_ids)
            starts.extend(other_starts)
        if runs:
            flags = []
            for length in _jieba_word_lengths(" ".join(runs), self.options.jieba_hmm):
                flags.append(1)
                if length > 1:
                    flags.extend([0] * (length - 1))
            total = sum(len(run) for run in runs)
            if len(flags) != total:  # never expected; keep every char a word
                flags = [1] * total
            cursor = 0
            for run, slot in zip(runs, run_slots):
                starts[slot:slot + len(run)] = flags[cursor:cursor + len(run)]
                cursor += len(run)
        return ids, starts

    def _tokenize_other(self, text):
        """Ids and start flags of non-CJK text, cached (mostly punctuation)."""
        cached = self._other_cache.get(text)
        if cached is None:
            tokenizer = self.tokenizer
            ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))
            cached = (ids, [self.starts_word[token_id] for token_id in ids])
            if len(text) <= 16:
                if len(self._other_cache) >= 200000:
                    self._other_cache.clear()
                self._other_cache[text] = cached
        return cached

    def prepare_unit(self, lines, index, is_document_start=True, source=None, first_line=1,
                     document=None):
        """Tokenizes the lines of a unit and splits over-long lines.

        Args:
          lines: list of non-empty text lines (None entries are skipped lines
            and only advance the line counter).
          index: global unit index.
          is_document_start: whether the unit starts a document.
          source: file name, for warnings.
          first_line: 1-based line number of `lines[0]`, for warnings.
          document: index of the document's first unit (default `index`).

        Returns:
          A `PreparedUnit`.
        """
        unit = PreparedUnit(index, is_document_start, document)
        limit = self.max_num_tokens
        for offset, line in enumerate(lines):
            if line is None:
                continue
            unit.num_lines += 1
            unit.num_chars += len(line)
            ids, starts = self.tokenize_line(line)
            if not ids:
                continue
            if len(ids) <= limit:
                unit.segments.append(Segment(ids, starts))
                continue
            unit.notes.append(
                ("long_line", "%s:%d: line of %d tokens is longer than max_seq_length - 3 = "
                 "%d; split into pieces at word boundaries" %
                 (source, first_line + offset, len(ids), limit)))
            begin = 0
            while begin < len(ids):
                end = min(begin + limit, len(ids))
                if end < len(ids):
                    cut = end
                    while cut > begin + 1 and not starts[cut]:
                        cut -= 1
                    if cut > begin + 1:
                        end = cut
                unit.segments.append(Segment(ids[begin:end], [1] + starts[begin + 1:end]))
                begin = end
        return unit

    # -- instances ----------------------------------------------------------

    def create_instances(self, unit, pass_index, other_units=()):
        """Cuts a prepared unit into masked instances for one dupe pass.

        Args:
          unit: a `PreparedUnit`.
          pass_index: index of the dupe pass (part of the RNG seed).
          other_units: units of other documents, for NSP negatives (only used
            with `random_next_sentence`; without them every pair is in
            order, label 0).

        Returns:
          (instances, num_too_short): the list of `TrainingInstance`s and the
          number of chunks dropped because they hold a single token.
        """
        options = self.options
        rng = random.Random("%d:%d:%d" % (options.random_seed, pass_index, unit.index))
        segments = unit.segments
        max_num_tokens = self.max_num_tokens
        instances = []
        too_short = 0

        def draw_target():
            if rng.random() < options.short_seq_prob:
                return 2 + int(rng.random() * (max_num_tokens - 1))
            return max_num_tokens

        target = draw_target()
        chunk = []
        length = 0
        i = 0
        while i < len(segments):
            segment = segments[i]
            if (len(chunk) >= 2 and length + len(segment.ids) > max_num_tokens):
                put_back = self._emit(chunk, rng, other_units, unit, instances)
                i -= put_back
                chunk, length, target = [], 0, draw_target()
                continue
            chunk.append(segment)
            length += len(segment.ids)
            i += 1
            if length >= target or i == len(segments):
                if len(chunk) == 1 and len(segment.ids) < 2:
                    too_short += 1
                else:
                    i -= self._emit(chunk, rng, other_units, unit, instances)
                chunk, length, target = [], 0, draw_target()
        return instances, too_short

    def _emit(self, chunk, rng, other_units, unit, instances):
        """Builds one instance from a chunk; returns segments to put back."""
        options = self.options
        put_back = 0
        if len(chunk) >= 2:
            a_end = 1 + int(rng.random() * (len(chunk) - 1))
            a_ids, a_starts = _concat(chunk[:a_end])
            b_ids, b_starts = _concat(chunk[a_end:])
        else:
            a_end = 1
            ids, starts = chunk[0]
            cuts = [k for k in range(1, len(ids)) if starts[k]]
            cut = (cuts[int(rng.random() * len(cuts))] if cuts else 1 + int(rng.random() *
                                                                            (len(ids) - 1)))
            a_ids, a_starts = ids[:cut], starts[:cut]
            b_ids, b_starts = ids[cut:], starts[cut:]
        label = 0
        if options.random_next_sentence:
            if other_units and rng.random() < 0.5:
                other = other_units[rng.randrange(len(other_units))]
                b_ids, b_starts = self._random_b(other, rng, max(1,
                                                                 self.max_num_tokens - len(a_ids)))
                put_back = len(chunk) - a_end
                label = 1
        elif rng.random() < 0.5:
            a_ids, a_starts, b_ids, b_starts = b_ids, b_starts, a_ids, a_starts
            label = 1
        a_ids, a_starts, b_ids, b_starts = self._truncate_pair(a_ids, a_starts, b_ids, b_starts,
                                                               rng)
        if a_ids == b_ids:
            # Identical neighbours (a repeated line): the order is not
            # observable, so the pair teaches nothing; skip it.
            self.identical_pairs_skipped += 1
            return put_back
        ids = [self.cls_id] + a_ids + [self.sep_id] + b_ids + [self.sep_id]
        boundary = [1] + a_starts + [1] + b_starts + [1]
        # A segment cut at an arbitrary point still starts a word.
        boundary[1] = 1
        boundary[len(a_ids) + 2] = 1
        segment_ids = [0] * (len(a_ids) + 2) + [1] * (len(b_ids) + 1)
        instance = TrainingInstance(ids, segment_ids, boundary, label)
        self.mask_instance(instance, len(a_ids) + 1, rng)
        instances.append(instance)
        return put_back

    @staticmethod
    def _random_b(other, rng, target):
        """Consecutive segments of another unit, from a random start."""
        segments = other.segments
        start = rng.randrange(len(segments))
        chosen = []
        length = 0
        for segment in segments[start:]:
            chosen.append(segment)
            length += len(segment.ids)
            if length >= target:
                break
        return _concat(chosen)

    def _truncate_pair(self, a_ids, a_starts, b_ids, b_starts, rng):
        """Trims A and B to fit max_seq_length - 3 tokens together.

        The longer side is trimmed first; when both are longer than half the
        budget, both keep half. Each side loses a random share of its excess
        at the front and the rest at the back.
        """
        limit = self.max_num_tokens
        len_a, len_b = len(a_ids), len(b_ids)
        if len_a + len_b <= limit:
            return a_ids, a_starts, b_ids, b_starts
        if min(len_a, len_b) * 2 <= limit:
            if len_a <= len_b:
                new_a, new_b = len_a, limit - len_a
            else:
                new_a, new_b = limit - len_b, len_b
        else:
            new_a = limit // 2 + (limit % 2 if len_a >= len_b else 0)
            new_b = limit - new_a
        if new_a < len_a:
            excess = len_a - new_a
            front = int(rng.random() * (excess + 1))
            back = len_a - (excess - front)
            a_ids, a_starts = a_ids[front:back], a_starts[front:back]
        if new_b < len_b:
            excess = len_b - new_b
            front = int(rng.random() * (excess + 1))
            back = len_b - (excess - front)
            b_ids, b_starts = b_ids[front:back], b_starts[front:back]
        return a_ids, a_starts, b_ids, b_starts

    def mask_instance(self, instance, sep_position, rng):
        """Chooses and applies the masked-LM predictions of an instance.

        Word units: with `do_whole_word_mask`, a word start and its
        continuations; otherwise single tokens. Units are visited in random
        order; at each an n-gram length n is drawn (p(n) from
        `ngram_probabilities`), shortened to stay inside the segment and the
        prediction budget, and skipped if it overlaps an earlier choice. Each
        word of the n-gram then gets one decision: 80% all its tokens become
        [MASK], 10% they stay, 10% each becomes a random real token.

        Args:
          instance: a `TrainingInstance` (modified in place).
          sep_position: position of the first [SEP].
          rng: a `random.Random`.
        """
        options = self.options
        ids = instance.original_ids
        length = len(ids)
        if options.masked_lm_prob <= 0.0:
            return
        budget = min(options.max_predictions_per_seq,
                     max(1, int(round(length * options.masked_lm_prob))))
        # bounds[i]..bounds[i + 1] is unit i; [CLS] and [SEP] are units that
        # are never chosen.
        if options.do_whole_word_mask:
            bounds = list(itertools.compress(range(length), instance.token_boundary))
        else:
            bounds = list(range(length))
        bounds.append(length)
        sep_index = bounds.index(sep_position)
        last_index = len(bounds) - 2
        candidates = (list(range(1, sep_index)) + list(range(sep_index + 1, last_index)))
        # Units are visited in random order: a Fisher-Yates shuffle done
        # lazily, only as far as the budget needs.
        num_candidates = len(candidates)
        covered = bytearray(length)
        num_masked = 0
        chosen = []
        cumulative = self.ngram_cumulative
        spans = instance.spans
        random_value = rng.random
        step = 0
        while num_masked < budget and step < num_candidates:
            swap = step + int(random_value() * (num_candidates - step))
            i = candidates[swap]
            candidates[swap] = candidates[step]
            step += 1
            draw = random_value()
            sampled = 1
            while draw >= cumulative[sampled - 1]:
                sampled += 1
            n = (sep_index if i < sep_index else last_index) - i
            if sampled < n:
                n = sampled
            begin = bounds[i]
            remaining = budget - num_masked
            while n and bounds[i + n] - begin > remaining:
                n -= 1
            if not n:
                spans.append((sampled, 0, 0))
                continue
            end = bounds[i + n]
            if covered.find(1, begin, end) != -1:
                spans.append((sampled, 0, 0))
                continue
            covered[begin:end] = _ONES[:end - begin]
            num_masked += end - begin
            spans.append((sampled, n, end - begin))
            chosen.extend(range(i, i + n))

        input_ids = instance.input_ids
        replacements = self.replacement_ids
        num_replacements = len(replacements)
        mask_id = self.mask_id
        actions = instance.word_actions
        for i in chosen:
            begin, end = bounds[i], bounds[i + 1]
            draw = random_value()
            if draw < 0.8:
                actions.append("mask")
                input_ids[begin:end] = [mask_id] * (end - begin)
            elif draw < 0.9:
                actions.append("keep")
            else:
                actions.append("random")
                for position in range(begin, end):
                    input_ids[position] = replacements[int(random_value() * num_replacements)]
        positions = list(itertools.compress(range(length), covered))
        instance.masked_lm_positions = positions
        instance.masked_lm_ids = [ids[k] for k in positions]

    def serialize(self, instance):
        """Returns the serialized `tf.train.Example` of an instance."""
        return self.encoder.encode(instance)

    def describe(self, instance):
        """A readable one-line rendering of an instance, for the log."""
        tokens = self.tokenizer.convert_ids_to_tokens(instance.input_ids)
        labels = self.tokenizer.convert_ids_to_tokens(instance.masked_lm_ids)
        return "label=%d tokens=%s masked=%s" % (instance.label, " ".join(tokens), " ".join(
            "%d:%s" % pair for pair in zip(instance.masked_lm_positions, labels)))


def _concat(segments):
    """Concatenates the ids and start flags of several segments."""
    ids = []
    starts = []
    for segment in segments:
        ids.extend(segment.ids)
        starts.extend(segment.starts)
    return ids, starts


# ---------------------------------------------------------------------------
# Reading the corpus.
# ---------------------------------------------------------------------------


def expand_input_patterns(patterns):
    """Expands comma-separated glob patterns into a list of files.

    Args:
      patterns: a string of comma-separated globs, or a list of globs.

    Returns:
      The matched regular files, each pattern's matches sorted, without
      duplicates.

    Raises:
      UserError: if a pattern matches no regular file; a directory is not
        expanded (the error suggests the pattern '<directory>/*').
    """
    if isinstance(patterns, str):
        patterns = patterns.split(",")
    files = []
    seen = set()
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        found = glob.glob(pattern)
        matches = sorted(path for path in found if os.path.isfile(path))
        if not matches:
            if os.path.isdir(pattern):
                raise UserError("--input_file: %s is a directory (for the files in it, "
                                "give '%s')" % (pattern, os.path.join(pattern, "*")))
            if found:
                raise UserError("--input_file: %s matches only directories "
                                "(e.g. %s), no file" % (pattern, sorted(found)[0]))
            raise UserError("--input_file: no file matches %s" % pattern)
        for path in matches:
            if path not in seen:
                seen.add(path)
                files.append(path)
    if not files:
        raise UserError("--input_file: no input file given")
    return files


class RawUnit(
        collections.namedtuple("RawUnit", [
            "index", "source", "first_line", "lines", "is_document_start", "num_chars", "num_bytes",
            "document"
        ])):
    """Lines of a document (or part of one) as read, before tokenization."""


def read_units(files, stats, max_unit_chars=MAX_UNIT_CHARS):
    """Streams the corpus as `RawUnit`s, in file order.

    Undecodable lines are skipped (counted in stats["undecodable_lines"], the
    first few logged with file and line).

    Args:
      files: list of paths.
      stats: a dict updated with counts.
      max_unit_chars: a document is cut into units of about this size.

    Yields:
      `RawUnit`s with consecutive indices.
    """
    index = 0
    document = 0
    for path in files:
        lines = []
        first_line = 1
        num_chars = 0
        num_bytes = 0
        is_document_start = True
        with open(path, "rb") as reader:
            for line_number, raw in enumerate(reader, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    stats["undecodable_lines"] = stats.get("undecodable_lines", 0) + 1
                    if stats["undecodable_lines"] <= MAX_WARNINGS_PER_KIND:
                        logging.warning("%s:%d: not valid UTF-8 (%s at byte "
                                        "%d); line skipped", path, line_number, error.reason,
                                        error.start)
                    line = None
                if line is not None:
                    if line_number == 1:
                        line = line.lstrip(u"\ufeff")
                    line = line.strip()
                    if not line:
                        if any(item is not None for item in lines):
                            if is_document_start:
                                document = index
                            yield RawUnit(index, path, first_line, lines, is_document_start,
                                          num_chars, num_bytes, document)
                            index += 1
                        lines, num_chars, is_document_start = [], 0, True
                        num_bytes = 0
                        first_line = line_number + 1
                        continue
                if not lines:
                    first_line = line_number
                lines.append(line)
                num_chars += len(line) if line else 0
                num_bytes += len(raw)
                if num_chars >= max_unit_chars:
                    if is_document_start:
                        document = index
                    yield RawUnit(index, path, first_line, lines, is_document_start, num_chars,
                                  num_bytes, document)
                    index += 1
                    lines, num_chars, is_document_start = [], 0, False
                    num_bytes = 0
        if any(item is not None for item in lines):
            if is_document_start:
                document = index
            yield RawUnit(index, path, first_line, lines, is_document_start, num_chars, num_bytes,
                          document)
            index += 1


def _windowed_shuffle(units, rng, window=UNIT_WINDOW):
    """Yields `units` shuffled inside consecutive windows of `window`."""
    buffer = []
    for unit in units:
        buffer.append(unit)
        if len(buffer) >= window:
            rng.shuffle(buffer)
            for item in buffer:
                yield item
            buffer = []
    rng.shuffle(buffer)
    for item in buffer:
        yield item


def _group_tasks(units, task_chars=TASK_CHARS):
    """Groups units into lists of about `task_chars` characters."""
    task = []
    chars = 0
    for unit in units:
        task.append(unit)
        chars += unit.num_chars
        if chars >= task_chars:
            yield task
            task, chars = [], 0
    if task:
        yield task


# ---------------------------------------------------------------------------
# Worker side.
# ---------------------------------------------------------------------------

_WORKER_GENERATOR = None
# prctl option of Linux: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1
# The signals that stop a run (see `stop_on_signals`).
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _block_signals(signums):
    """Blocks `signums` in this thread; returns the previous mask (or None).

    A no-op returning None where `signal.pthread_sigmask` does not exist.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, signums)


def _restore_signal_mask(mask):
    """Restores a mask returned by `_block_signals`."""
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _exit_with_parent(parent_pid):
    """Makes this worker process end when its parent process ends.

    On Linux the kernel sends SIGKILL to the worker when the parent dies
    (prctl PR_SET_PDEATHSIG), even when the parent itself is killed with
    SIGKILL; elsewhere this only checks that the parent is still there.

    Args:
      parent_pid: process id of the main process; if this worker's parent
        is already another process (the main one died before this call), the
        worker exits at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # pylint: disable=protected-access


def _init_worker(options, parent_pid=None):
    """Sets up a worker process: signals, parent watch, the generator.

    Workers ignore SIGINT (a Ctrl-C reaches the whole process group: the main
    process stops them) and die on SIGTERM, which is how the main process
    stops them; both signals, blocked while the main process forks, are
    unblocked here. The generator is built unless inherited by fork.

    Args:
      options: the `Options`.
      parent_pid: process id of the main process (see `_exit_with_parent`).
    """
    global _WORKER_GENERATOR
    _exit_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if _WORKER_GENERATOR is None or _WORKER_GENERATOR.options != options:
        _WORKER_GENERATOR = InstanceGenerator(options, load_jieba=False)
    if not options.non_chinese:
        init_jieba()


def process_task(generator, raw_units, want_samples=0):
    """Turns a task (a list of `RawUnit`s) into serialized examples.

    Args:
      generator: an `InstanceGenerator`.
      raw_units: list of `RawUnit`s.
      want_samples: how many instances to describe for the log.

    Returns:
      (records, stats, notes, samples): serialized examples (all passes, pass
      by pass), a dict of counts, a list of (kind, message) warnings and a
      list of instance descriptions.
    """
    prepared = [
        generator.prepare_unit(raw.lines, raw.index, raw.is_document_start, raw.source,
                               raw.first_line, raw.document) for raw in raw_units
    ]
    stats = collections.Counter()
    notes = []
    stats["bytes"] += sum(raw.num_bytes for raw in raw_units)
    for unit in prepared:
        stats["units"] += 1
        stats["documents"] += 1 if unit.is_document_start else 0
        stats["lines"] += unit.num_lines
        stats["chars"] += unit.num_chars
        stats["corpus_tokens"] += sum(len(s.ids) for s in unit.segments)
        notes.extend(unit.notes)
        stats["long_lines_split"] += sum(1 for kind, _ in unit.notes if kind == "long_line")
    records = []
    samples = []
    serialize = generator.serialize
    identical_before = generator.identical_pairs_skipped
    usable = [unit for unit in prepared if unit.segments]
    for pass_index in range(generator.options.dupe_factor):
        for unit in usable:
            others = ([other for other in usable if other.document != unit.document]
                      if generator.options.random_next_sentence else ())
            instances, too_short = generator.create_instances(unit, pass_index, others)
            stats["chunks_too_short"] += too_short
            for instance in instances:
                records.append(serialize(instance))
                stats["instances"] += 1
                stats["tokens"] += len(instance.input_ids)
                stats["masked_tokens"] += len(instance.masked_lm_positions)
                stats["label_%d" % instance.label] += 1
                if len(samples) < want_samples:
                    samples.append(generator.describe(instance))
    stats["identical_pairs_skipped"] += (generator.identical_pairs_skipped - identical_before)
    return records, dict(stats), notes, samples


def _worker_main(connection, options, parent_pid):
    """Entry point of a worker process: computes tasks until stopped.

    Receives `(raw_units, want_samples)` tasks on `connection` and sends back
    one reply per task, in order: `("ok", process_task(...))`,
    `("user_error", message)` or `("error", traceback text)`.

    Args:
      connection: the worker's end of its pipe to the main process.
      options: the `Options`.
      parent_pid: process id of the main process.
    """
    failure = None
    try:
        _init_worker(options, parent_pid)
    except Exception as error:  # pylint: disable=broad-except
        failure = _failure_reply(error)
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        reply = failure
        if reply is None:
            raw_units, want_samples = task
            try:
                reply = ("ok", process_task(_WORKER_GENERATOR, raw_units, want_samples))
            except Exception as error:  # pylint: disable=broad-except
                reply = _failure_reply(error)
        try:
            connection.send(reply)
        except (OSError, ValueError):  # the main process is gone
            return


def _failure_reply(error):
    """The reply of a worker whose task raised `error`."""
    if isinstance(error, UserError):
        return ("user_error", str(error))
    return ("error", traceback.format_exc())


# ---------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------

_Worker = collections.namedtuple("_Worker", ["process", "connection", "outbox", "sender"])


def _send_tasks(connection, outbox):
    """Sender thread of one worker: sends the tasks of `outbox` in order.

    Ends at a None task or when the worker is gone.
    """
    while True:
        task = outbox.get()
        if task is None:
            return
        try:
            connection.send(task)
        except (OSError, ValueError):
            return


class WorkerPool(object):
    """Worker processes whose results come back in the order of the tasks.

    Task k goes to worker k % num_workers, and results are read back in task
    order. Each worker has a pipe of its own: no lock is shared between
    processes, so a worker that dies (killed from outside, out of memory)
    cannot leave the others or the main process waiting on a lock, and its
    death is reported instead of waited for. A thread per worker sends the
    tasks, so the main process never blocks on a full pipe while a worker
    waits for its previous result to be read.

    Workers are forked when TensorFlow is not loaded (they then inherit the
    generator of the main process), else spawned. They ignore SIGINT, end on
    SIGTERM (`stop`), and on Linux are killed by the kernel if the main
    process dies.
    """

    def __init__(self, num_workers, options):
        """Starts `num_workers` worker processes.

        Args:
          num_workers: number of processes.
          options: the `Options` of the generator.
        """
        method = "spawn"
        if "tensorflow" not in sys.modules and hasattr(os, "fork"):
            method = "fork"
        context = multiprocessing.get_context(method)
        self._workers = []
        self._submitted = 0
        self._received = 0
        try:
            for _ in range(num_workers):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker_main, args=(theirs, options, os.getpid()),
                                          daemon=True)
                # SIGTERM and SIGINT stay blocked in the worker until it has
                # set its own handlers (`_init_worker`); one that arrived
                # meanwhile then ends it.
                mask = _block_signals(_STOP_SIGNALS)
                try:
                    process.start()
                finally:
                    _restore_signal_mask(mask)
                theirs.close()
                self._workers.append(_Worker(process, ours, None, None))
            # The threads start after the last fork, so that no worker
            # inherits a lock one of them holds.
            for index, worker in enumerate(self._workers):
                outbox = queue.Queue()
                sender = threading.Thread(target=_send_tasks, args=(worker.connection, outbox))
                sender.daemon = True
                sender.start()
                self._workers[index] = worker._replace(outbox=outbox, sender=sender)
        except BaseException:
            self.stop()
            raise

    @property
    def pending(self):
        """Number of tasks submitted whose results were not read yet."""
        return self._submitted - self._received

    def submit(self, task):
        """Queues `task` ((raw_units, want_samples)) for its worker."""
        worker = self._workers[self._submitted % len(self._workers)]
        worker.outbox.put(task)
        self._submitted += 1

    def next_result(self, check_interval=0.1):
        """Waits for and returns the result of the oldest pending task.

        While it waits, `_raise_if_stopped` runs every `check_interval`
        seconds.

        Raises:
          UserError: if the task raised one, or if the worker process ended
            before replying.
          RuntimeError: if the task raised another exception (its traceback
            in the message).
          Interrupted: if a signal asked the run to stop.
        """
        worker = self._workers[self._received % len(self._workers)]
        try:
            while not worker.connection.poll(check_interval):
                _raise_if_stopped()
            kind, value = worker.connection.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            # A signal sent to the whole process group ends the workers too.
            _raise_if_stopped()
            raise UserError("worker process %d stopped unexpectedly (%s)" %
                            (worker.process.pid, _describe_exit(worker.process.exitcode)))
        self._received += 1
        if kind == "user_error":
            raise UserError(value)
        if kind == "error":
            raise RuntimeError("a worker process failed:\n%s" % value)
        return value

    def stop(self):
        """Ends the workers (SIGTERM) and waits for them; idempotent."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.process.exitcode is None:
                worker.process.terminate()
        for worker in workers:
            worker.process.join()
            if worker.outbox is not None:
                worker.outbox.put(None)
        for worker in workers:
            if worker.sender is not None:
                worker.sender.join()
            worker.connection.close()


def _describe_exit(exitcode):
    """"killed by SIGKILL", "exit status 1", ... for a process exit code."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return "killed by %s" % signal.Signals(-exitcode).name
        except ValueError:
            return "killed by signal %d" % -exitcode
    return "exit status %d" % exitcode


class _ProgressLog(object):
    """Logs documents, MB, MB/s, instances/s and ETA every `interval` s."""

    def __init__(self, total_bytes, interval, start=None):
        self.total_bytes = max(1, total_bytes)
        self.interval = interval
        self.bytes = 0
        self.documents = 0
        self.instances = 0
        self.start = start or time.time()
        self.last = self.start

    def update(self, num_bytes, documents, instances):
        """Adds the counts of one finished task; may log."""
        self.bytes += num_bytes
        self.documents += documents
        self.instances += instances
        now = time.time()
        if now - self.last >= self.interval:
            self.last = now
            self.log(now)

    def log(self, now=None):
        """Logs one progress line."""
        elapsed = max((now or time.time()) - self.start, 1e-9)
        rate = self.bytes / elapsed
        eta = ""
        if 0 < self.bytes < 0.99 * self.total_bytes:
            eta = ", ETA %s" % script_utils.format_seconds((self.total_bytes - self.bytes) / rate)
        logging.info(
            "%d documents, %.2f/%.2f MB (%.0f%%), %.3f MB/s, %d instances "
            "(%.0f/s), elapsed %s%s", self.documents, self.bytes / 1e6, self.total_bytes / 1e6,
            100.0 * self.bytes / self.total_bytes, rate / 1e6, self.instances,
            self.instances / elapsed, script_utils.format_seconds(elapsed), eta)


def summary_path(output_files):
    """The JSON summary path for the given output files."""
    return output_files[0] + ".json"


def _file_identity(path):
    """Keys that are equal for two names of one file: real path, inode."""
    keys = {("path", os.path.realpath(path))}
    try:
        status = os.stat(path)
    except OSError:
        return keys
    keys.add(("inode", status.st_dev, status.st_ino))
    return keys


def check_output_files(output_files, input_files=(), options=None):
    """Refuses output paths that must not or cannot be written.

    Runs before anything is read. The paths checked are the output files and
    the JSON summary (`summary_path`); two names are the same file if their
    real paths (symbolic links resolved) or their inodes (hard links) match.

    Args:
      output_files: the output TFRecord paths.
      input_files: the corpus files, which are never written.
      options: the `Options`, whose vocabulary files are never written.

    Raises:
      UserError: (one line naming the path) if no output is given, if an
        output is given twice or is the same file as another output, an
        input file or the vocabulary, or if `script_utils.check_output_path`
        refuses it (a directory, a parent that is not a directory, a
        directory that is not writable).
    """
    output_files = list(output_files)
    if not output_files:
        raise UserError("--output_file: no output file given")
    read = [(path, "an input file (--input_file)") for path in input_files]
    if options is not None:
        for flag in ("vocab_file", "spm_model_file"):
            path = getattr(options, flag)
            if path:
                read.append((path, "the --%s" % flag))
    read_keys = [(_file_identity(path), what) for path, what in read]
    summary = summary_path(output_files)
    written = [(path, path) for path in output_files]
    written.append((summary, "the JSON summary of %s (%s)" % (output_files[0], summary)))
    seen = []
    for path, name in written:
        keys = _file_identity(path)
        for other_keys, other_path, other_name in seen:
            if keys & other_keys:
                if path == other_path and name == other_name:
                    raise UserError("--output_file: %s is given twice" % path)
                raise UserError("--output_file: %s and %s are the same file" % (other_name, name))
        for other_keys, what in read_keys:
            if keys & other_keys:
                raise UserError("--output_file: %s is also %s; it would be "
                                "overwritten" % (name, what))
        seen.append((keys, path, name))
    for path, _ in written:
        script_utils.check_output_path(path, "--output_file")


def _start_output(stack, path):
    """Enters `atomic_output(path)` on `stack`; creates the empty temp file.

    Returns:
      The temporary path.

    Raises:
      UserError: if the directory or the temporary file cannot be created.
    """
    try:
        temp = stack.enter_context(script_utils.atomic_output(path))
        with open(temp, "wb"):
            pass
    except OSError as error:
        raise UserError("--output_file: cannot write %s: %s" % (path, error.strerror or error))
    return temp


class Interrupted(BaseException):
    """SIGTERM or SIGINT reached the main process (see `stop_on_signals`).

    A BaseException, like KeyboardInterrupt, so that no `except Exception`
    swallows it; cleanup code (`finally`, context managers) runs.

    Attributes:
      signum: the signal number.
    """

    def __init__(self, signum):
        super(Interrupted, self).__init__(signum)
        self.signum = signum

    @property
    def signal_name(self):
        """"SIGTERM", "SIGINT", ... ."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return "signal %d" % self.signum


# The signal that asked the run to stop (set by `stop_on_signals`).
_STOP_SIGNAL = []


def _raise_if_stopped():
    """Raises `Interrupted` if a signal asked the run to stop.

    See `stop_on_signals`: the places that call this decide where a run can
    be interrupted.
    """
    if _STOP_SIGNAL:
        raise Interrupted(_STOP_SIGNAL[0])


@contextlib.contextmanager
def stop_on_signals(signums=_STOP_SIGNALS):
    """Records the first of the given signals as a request to stop the run.

    The handler itself never raises: an exception thrown at an arbitrary
    point of the main thread could land inside an import (TensorFlow's takes
    seconds, and a half-imported numpy then fails with a misleading
    ImportError) or inside the queue that feeds a worker (whose lock state it
    can break, so that stopping the workers waits forever). Instead the run
    calls `_raise_if_stopped` at points of its own -- between tasks, several
    times a second while it waits for a worker, after the TensorFlow import,
    every few thousand records written -- which raises `Interrupted`, so that
    the workers are stopped and the temporary files removed on the way out.
    Later signals are ignored. A process forked before its own handlers are
    set (a worker starting) dies of the signal as if no handler were
    installed. The previous handlers are restored on exit. Must be called
    from the main thread.

    Args:
      signums: the signals to handle.

    Yields:
      None.
    """
    owner = os.getpid()

    def handler(signum, unused_frame):
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if not _STOP_SIGNAL:
            _STOP_SIGNAL.append(signum)

    del _STOP_SIGNAL[:]
    previous = [(signum, signal.signal(signum, handler)) for signum in signums]
    try:
        yield
    finally:
        for signum, old in previous:
            signal.signal(signum, old)
        del _STOP_SIGNAL[:]


def create_pretraining_data(input_files, output_files, options, num_workers=1,
                            shuffle_buffer_size=100000, log_examples=3, progress_interval=10.0):
    """Runs the whole pipeline: corpus files -> TFRecord files + JSON summary.

    Before any work the output paths are checked (`check_output_files`),
    temporary files that earlier runs killed with SIGKILL left next to the
    outputs are removed (`script_utils.remove_stale_temporary_files`), and
    the temporary files are created. Worker processes are stopped and the
    temporary files removed on any exception, `Interrupted` included.

    Args:
      input_files: list of input paths (see `expand_input_patterns`).
      output_files: list of output TFRecord paths; instances are spread over
        them round-robin.
      options: an `Options`.
      num_workers: number of worker processes (1 = no pool). The output does
        not depend on it.
      shuffle_buffer_size: number of serialized instances held for shuffling.
      log_examples: number of instances to log in readable form.
      progress_interval: seconds between progress lines.

    Returns:
      The summary dict (also written as JSON next to the first output).

    Raises:
      UserError: if an output path is refused, the vocabulary cannot be
        used, or the corpus yields no instance.
    """
    global _WORKER_GENERATOR
    start_time = time.time()
    output_files = list(output_files)
    check_output_files(output_files, input_files, options)
    num_workers = max(1, int(num_workers))
    # The main process only validates the vocabulary: workers load jieba in
    # parallel while the main process imports TensorFlow.
    generator = InstanceGenerator(options, load_jieba=num_workers == 1)
    for path in output_files + [summary_path(output_files)]:
        script_utils.remove_stale_temporary_files(path)
    files = list(input_files)
    file_rng = random.Random("%d:files" % options.random_seed)
    file_rng.shuffle(files)
    total_bytes = sum(os.path.getsize(path) for path in files)
    read_stats = {}
    units = _windowed_shuffle(read_units(files, read_stats),
                              random.Random("%d:units" % options.random_seed))
    tasks = _group_tasks(units)

    stats = collections.Counter()
    notes_by_kind = collections.Counter()
    per_output = [0] * len(output_files)
    shuffle_rng = random.Random("%d:shuffle" % options.random_seed)
    buffer = []
    progress = _ProgressLog(total_bytes, progress_interval, start_time)
    written = [0]

    with contextlib.ExitStack() as stack:
        temp_paths = [_start_output(stack, path) for path in output_files]
        _WORKER_GENERATOR = generator  # inherited by forked workers
        pool = None
        if num_workers > 1:
            pool = WorkerPool(num_workers, options)
            stack.callback(pool.stop)
        _raise_if_stopped()
        max_pending = 2 * num_workers + 2
        task_iter = enumerate(tasks)
        if pool is not None:
            # Give the workers their first tasks before importing TensorFlow.
            for task_number, task in task_iter:
                pool.submit((task, log_examples if task_number == 0 else 0))
                if pool.pending >= max_pending:
                    break
        from tf_compat import tf  # pylint: disable=g-import-not-at-top
        _raise_if_stopped()

        writers = [
            stack.enter_context(contextlib.closing(tf.io.TFRecordWriter(path)))
            for path in temp_paths
        ]

        def write(record):
            slot = written[0] % len(writers)
            writers[slot].write(record)
            per_output[slot] += 1
            written[0] += 1

        def consume(result):
            records, task_stats, notes, samples = result
            stats.update(task_stats)
            for kind, message in notes:
                notes_by_kind[kind] += 1
                if notes_by_kind[kind] <= MAX_WARNINGS_PER_KIND:
                    logging.warning("%s", message)
            for sample in samples:
                logging.info("example instance: %s", sample)
            for record in records:
                if len(buffer) < shuffle_buffer_size:
                    buffer.append(record)
                    continue
                slot = int(shuffle_rng.random() * len(buffer))
                write(buffer[slot])
                buffer[slot] = record
            progress.update(task_stats.get("bytes", 0), task_stats.get("documents", 0),
                            task_stats.get("instances", 0))

        for task_number, task in task_iter:
            want = log_examples if task_number == 0 else 0
            if pool is None:
                consume(process_task(generator, task, want))
            else:
                pool.submit((task, want))
                while pool.pending >= max_pending:
                    consume(pool.next_result())
            _raise_if_stopped()
        if pool is not None:
            while pool.pending:
                consume(pool.next_result())
                _raise_if_stopped()
            pool.stop()

        shuffle_rng.shuffle(buffer)
        for index, record in enumerate(buffer):
            if index % 4096 == 0:
                _raise_if_stopped()
            write(record)
        buffer = []
        if not stats.get("documents"):
            raise UserError("the corpus is empty: no text in %s" % ", ".join(input_files))
        if not written[0]:
            raise UserError("the corpus yields no instance (documents too "
                            "short?): %s" % ", ".join(input_files))
        _raise_if_stopped()

    progress.log()
    if read_stats.get("undecodable_lines"):
        logging.warning("skipped %d lines that are not valid UTF-8",
                        read_stats["undecodable_lines"])
    if notes_by_kind.get("long_line"):
        logging.warning("split %d lines longer than max_seq_length - 3 tokens",
                        notes_by_kind["long_line"])
    elapsed = time.time() - start_time
    summary = collections.OrderedDict([
        ("input_files", list(input_files)),
        ("input_bytes", total_bytes),
        ("output_files", list(output_files)),
        ("instances_per_output", per_output),
        ("documents", stats.get("documents", 0)),
        ("units", stats.get("units", 0)),
        ("lines", stats.get("lines", 0)),
        ("corpus_tokens", stats.get("corpus_tokens", 0)),
        ("instances", written[0]),
        ("tokens", stats.get("tokens", 0)),
        ("masked_tokens", stats.get("masked_tokens", 0)),
        ("label_0", stats.get("label_0", 0)),
        ("label_1", stats.get("label_1", 0)),
        ("undecodable_lines_skipped", read_stats.get("undecodable_lines", 0)),
        ("long_lines_split", stats.get("long_lines_split", 0)),
        ("chunks_too_short_skipped", stats.get("chunks_too_short", 0)),
        ("identical_pairs_skipped", stats.get("identical_pairs_skipped", 0)),
        ("num_workers", num_workers),
        ("shuffle_buffer_size", shuffle_buffer_size),
        ("elapsed_seconds", round(elapsed, 3)),
        ("options", options._asdict()),
    ])
    with script_utils.atomic_output(summary_path(output_files)) as temp:
        with open(temp, "w") as writer:
            json.dump(summary, writer, indent=2, ensure_ascii=False)
            writer.write("\n")
    logging.info(
        "wrote %d instances from %d documents (%.2f MB) to %s in "
        "%.1fs (%.3f MB/s, %.0f instances/s)", written[0], summary["documents"], total_bytes / 1e6,
        ", ".join(output_files), elapsed, total_bytes / 1e6 / max(elapsed, 1e-9),
        written[0] / max(elapsed, 1e-9))
    return summary


def main_with_flags(flags_values):
    """Runs the pipeline from parsed flag values (the script's main).

    SIGTERM and SIGINT stop the run (see `stop_on_signals`): the workers are
    terminated, the temporary files removed, and `Interrupted` raised.

    Args:
      flags_values: the parsed flags (absl's FLAGS or an object with the
        same attributes).

    Returns:
      The summary dict.

    Raises:
      UserError: for bad flag values or input.
      Interrupted: on SIGTERM or SIGINT.
    """
    with stop_on_signals():
        return _main_with_flags(flags_values)


def _main_with_flags(flags_values):
    """`main_with_flags` without the signal handlers."""
    if flags_values.num_workers < 0:
        raise UserError("--num_workers must be 0 (all cores) or more, got %d" %
                        flags_values.num_workers)
    if flags_values.shuffle_buffer_size < 1:
        raise UserError("--shuffle_buffer_size must be at least 1, got %d" %
                        flags_values.shuffle_buffer_size)
    options = make_options(
        vocab_file=flags_values.vocab_file, spm_model_file=flags_values.spm_model_file,
        do_lower_case=flags_values.do_lower_case,
        do_whole_word_mask=flags_values.do_whole_word_mask, non_chinese=flags_values.non_chinese,
        ngram=flags_values.ngram, favor_shorter_ngram=flags_values.favor_shorter_ngram,
        max_seq_length=flags_values.max_seq_length,
        max_predictions_per_seq=flags_values.max_predictions_per_seq,
        masked_lm_prob=flags_values.masked_lm_prob, dupe_factor=flags_values.dupe_factor,
        short_seq_prob=flags_values.short_seq_prob, random_seed=flags_values.random_seed,
        random_next_sentence=flags_values.random_next_sentence, jieba_hmm=flags_values.jieba_hmm)
    input_files = expand_input_patterns(flags_values.input_file)
    output_files = [path.strip() for path in flags_values.output_file.split(",") if path.strip()]
    num_workers = flags_values.num_workers or os.cpu_count() or 1
    logging.info("reading %d input files with %d workers", len(input_files), num_workers)
    return create_pretraining_data(input_files, output_files, options, num_workers=num_workers,
                                   shuffle_buffer_size=flags_values.shuffle_buffer_size)


if __name__ == "__main__":
    from absl import flags  # pylint: disable=g-import-not-at-top

    flags.DEFINE_string(
        "input_file", None, "Input raw text file(s): comma-"
        "separated globs ('dir/*' for the files of a "
        "directory). UTF-8, one sentence per line, a blank "
        "line between documents.")
    flags.DEFINE_string(
        "output_file", None, "Output TFRecord file(s), comma-"
        "separated; instances are spread over them. Each must "
        "differ from the inputs, the vocabulary and the "
        "others.")
    flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt.")
    flags.DEFINE_string("spm_model_file", None, "SentencePiece model; used "
                        "instead of --vocab_file when given.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the input text.")
    flags.DEFINE_bool(
        "do_whole_word_mask", True, "Mask whole words (jieba "
        "words for Chinese, WordPiece/SentencePiece words "
        "otherwise) instead of single tokens.")
    flags.DEFINE_bool(
        "non_chinese", False, "Text is English or another "
        "space-separated language: no jieba segmentation.")
    flags.DEFINE_integer("ngram", 3, "Longest n-gram (in words) to mask.")
    flags.DEFINE_bool(
        "favor_shorter_ngram", True, "p(n) proportional to 1/n;"
        " false reverses the probabilities (favours longer).")
    flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum number of "
                         "masked LM predictions per sequence.")
    flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
    flags.DEFINE_integer(
        "dupe_factor", 10, "Number of passes over the input "
        "(each with different chunking and masks).")
    flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter "
                       "target sequence length.")
    flags.DEFINE_integer("random_seed", 12345, "Random seed.")
    flags.DEFINE_bool("random_next_sentence", False, "NSP instead of SOP: "
                      "label 1 = B from another document.")
    flags.DEFINE_bool(
        "jieba_hmm", True, "Let jieba find words missing from "
        "its dictionary (e.g. names) with its HMM; false is "
        "about 15% faster on Chinese text.")
    flags.DEFINE_integer(
        "num_workers", 0, "Worker processes (default 0 = all "
        "cores; not negative). Output does not depend on "
        "it.")
    flags.DEFINE_integer("shuffle_buffer_size", 100000, "Instances held in "
                         "the shuffle buffer (at least 1; bounds memory).")
    flags.mark_flag_as_required("input_file")
    flags.mark_flag_as_required("output_file")

    def _main(argv):
        if len(argv) > 1:
            raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
        try:
            main_with_flags(flags.FLAGS)
        except Interrupted as interrupt:
            sys.stderr.write("interrupted by %s: workers stopped, temporary "
                             "files removed\n" % interrupt.signal_name)
            sys.stderr.flush()
            sys.exit(128 + interrupt.signum)

    script_utils.run(_main)
