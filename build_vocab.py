# coding=utf-8
"""Builds a vocabulary for a new corpus: WordPiece vocab.txt or SentencePiece.

Two kinds (``--vocab_type``):

* ``wordpiece`` (default): a BERT-style ``vocab.txt`` for `FullTokenizer`.
  Layout: ``[PAD]``, ``[unused1]`` .. ``[unusedN]``, ``[UNK]``, ``[CLS]``,
  ``[SEP]``, ``[MASK]`` (with the default N = 99 these are ids 0, 1..99, 100,
  101, 102, 103 as in the Chinese BERT vocab, when ``--vocab_size`` leaves
  room), then every character seen (CJK characters and other word-initial
  characters, by frequency), the "##" continuation forms of characters seen
  inside non-CJK words, then word pieces learnt by frequency-driven pair
  merges over the non-CJK words until ``--vocab_size`` entries.
  CJK text needs no word pieces: the tokenizer splits it into characters.
* ``sentencepiece``: trains a SentencePiece model with the settings ALBERT
  expects (``pad_id=0``, ``unk_id=1``, no BOS/EOS, control symbols
  ``[CLS]``, ``[SEP]``, ``[MASK]``) on the corpus normalised exactly as the
  tokenizer normalises text before encoding. Writes ``<prefix>.model`` and
  ``<prefix>.vocab``. This module never imports TensorFlow (sentencepiece
  0.1.91 crashes when it trains next to TensorFlow 1.15).

Input: text files, one sentence per line (blank lines are ignored).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import heapq
import os
import shutil
import tempfile

from absl import logging

import script_utils
import tokenization

UserError = script_utils.UserError

DEFAULT_NUM_UNUSED = 99
ALBERT_CONTROL_SYMBOLS = (tokenization.CLS, tokenization.SEP, tokenization.MASK)


def expand_inputs(patterns):
    """Comma-separated globs -> sorted list of files.

    Raises:
      UserError: if a pattern matches no file.
    """
    if isinstance(patterns, str):
        patterns = patterns.split(",")
    files = []
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        matches = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        if not matches:
            raise UserError("--input_file: no file matches %s" % pattern)
        files.extend(p for p in matches if p not in files)
    if not files:
        raise UserError("--input_file: no input file given")
    return files


def iter_lines(files):
    """Yields the stripped non-empty lines of the files.

    Lines that are not valid UTF-8 are skipped with a warning naming the file
    and line.
    """
    skipped = 0
    for path in files:
        with open(path, "rb") as reader:
            for line_number, raw in enumerate(reader, 1):
                try:
                    line = raw.decode("utf-8").lstrip(u"\ufeff").strip()
                except UnicodeDecodeError as error:
                    skipped += 1
                    if skipped <= 5:
                        logging.warning("%s:%d: not valid UTF-8 (%s); line "
                                        "skipped", path, line_number, error.reason)
                    continue
                if line:
                    yield line
    if skipped:
        logging.warning("skipped %d lines that are not valid UTF-8", skipped)


def _is_cjk_word(word):
    """Whether `word` is a single CJK ideograph."""
    is_cjk = tokenization._is_chinese_char  # pylint: disable=protected-access
    return len(word) == 1 and is_cjk(ord(word))


def count_words(lines, do_lower_case=True):
    """Counts the words `BasicTokenizer` produces.

    Args:
      lines: iterable of text lines.
      do_lower_case: as the tokenizer that will use the vocab.

    Returns:
      A `collections.Counter` word -> count.
    """
    basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    counts = collections.Counter()
    for line in lines:
        counts.update(basic.tokenize(line))
    return counts


def learn_word_pieces(word_counts, max_pieces, min_frequency=2):
    """Learns word pieces by merging the most frequent adjacent pair.

    Words start as characters, with "##" on every character after the
    first; the most frequent pair of adjacent symbols (ties broken by the
    symbols) is merged into one symbol, repeatedly.

    Args:
      word_counts: dict word -> count (non-CJK words).
      max_pieces: maximum number of merges (new pieces).
      min_frequency: stop when the best pair occurs fewer times.

    Returns:
      The list of new pieces in the order they were learnt.
    """
    words = []
    for word, count in sorted(word_counts.items()):
        if len(word) > 1 and count >= min_frequency:
            symbols = [word[0]] + ["##" + char for char in word[1:]]
            words.append([symbols, count])
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for index, (symbols, count) in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += count
            pair_words[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    pieces = []
    seen = set()
    while heap and len(pieces) < max_pieces:
        negative, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative:
            continue
        if count < min_frequency:
            break
        first, second = pair
        merged = first + second[2:]
        if merged not in seen:
            seen.add(merged)
            pieces.append(merged)
        changed = set()
        for index in list(pair_words.pop(pair, ())):
            symbols, word_count = words[index]
            for old in zip(symbols, symbols[1:]):
                pair_counts[old] -= word_count
                changed.add(old)
            merged_symbols = []
            k = 0
            while k < len(symbols):
                if (k + 1 < len(symbols) and symbols[k] == first and symbols[k + 1] == second):
                    merged_symbols.append(merged)
                    k += 2
                else:
                    merged_symbols.append(symbols[k])
                    k += 1
            words[index][0] = merged_symbols
            for new in zip(merged_symbols, merged_symbols[1:]):
                pair_counts[new] += word_count
                pair_words[new].add(index)
                changed.add(new)
        pair_counts.pop(pair, None)
        for changed_pair in changed:
            value = pair_counts.get(changed_pair, 0)
            if value > 0 and changed_pair != pair:
                heapq.heappush(heap, (-value, changed_pair))
    return pieces


def build_wordpiece_vocab(word_counts, vocab_size, num_unused=DEFAULT_NUM_UNUSED, min_frequency=2,
                          cjk_continuation_forms=False):
    """Builds the list of vocabulary entries (see the module docstring).

    Args:
      word_counts: `Counter` of `BasicTokenizer` words.
      vocab_size: maximum number of entries.
      num_unused: number of [unused*] entries wanted after [PAD].
      min_frequency: minimum pair frequency for a learnt word piece.
      cjk_continuation_forms: also add "##" + CJK character entries (only
        useful for data made by tools that mark Chinese words with "##").

    Returns:
      The list of tokens; the index is the id.

    Raises:
      UserError: if `vocab_size` is too small or the corpus has no words.
    """
    if not word_counts:
        raise UserError("the corpus is empty: no words to build a vocab from")
    initial = collections.Counter()
    continuation = collections.Counter()
    other_words = {}
    for word, count in word_counts.items():
        initial[word[0]] += count
        if _is_cjk_word(word):
            if cjk_continuation_forms:
                continuation["##" + word] += count
            continue
        other_words[word] = count
        for char in word[1:]:
            continuation["##" + char] += count
    by_frequency = lambda counter: [
        token for token, _ in sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    ]
    alphabet = by_frequency(initial) + by_frequency(continuation)
    fixed = 5
    if vocab_size < fixed + 1:
        raise UserError("--vocab_size=%d is too small: the special tokens "
                        "alone need %d entries" % (vocab_size, fixed))
    unused = max(0, min(num_unused, vocab_size - fixed - len(alphabet)))
    if unused < num_unused:
        logging.warning(
            "--vocab_size=%d leaves room for only %d [unused*] "
            "entries (asked for %d)", vocab_size, unused, num_unused)
    tokens = [tokenization.PAD]
    tokens += ["[unused%d]" % k for k in range(1, unused + 1)]
    tokens += [tokenization.UNK, tokenization.CLS, tokenization.SEP, tokenization.MASK]
    room = vocab_size - len(tokens)
    if len(alphabet) > room:
        logging.warning(
            "--vocab_size=%d is too small for all %d characters; "
            "the %d rarest become [UNK]", vocab_size, len(alphabet),
            len(alphabet) - room)
        alphabet = alphabet[:room]
    tokens += alphabet
    present = set(tokens)
    room = vocab_size - len(tokens)
    if room > 0:
        for piece in learn_word_pieces(other_words, room * 2, min_frequency):
            if len(tokens) >= vocab_size:
                break
            if piece not in present:
                present.add(piece)
                tokens.append(piece)
    return tokens


def write_wordpiece_vocab(input_files, output_file, vocab_size, do_lower_case=True,
                          num_unused=DEFAULT_NUM_UNUSED, min_frequency=2,
                          cjk_continuation_forms=False):
    """Counts the corpus and writes vocab.txt (one token per line).

    Returns:
      The list of tokens written.
    """
    counts = count_words(iter_lines(input_files), do_lower_case)
    tokens = build_wordpiece_vocab(counts, vocab_size, num_unused, min_frequency,
                                   cjk_continuation_forms)
    with script_utils.atomic_output(output_file) as temp:
        with open(temp, "w", encoding="utf-8", newline="\n") as writer:
            for token in tokens:
                writer.write(token + "\n")
    logging.info("wrote %d tokens to %s (%d distinct words in the corpus)", len(tokens),
                 output_file, len(counts))
    if len(tokens) < vocab_size:
        logging.info("the corpus supports only %d entries (asked for %d)", len(tokens), vocab_size)
    return tokens


def train_sentencepiece(input_files, output_file, vocab_size, do_lower_case=True,
                        model_type="unigram", character_coverage=0.9995, user_defined_symbols="",
                        input_sentence_size=0, num_threads=None):
    """Trains a SentencePiece model with ALBERT's special ids.

    Args:
      input_files: list of text files.
      output_file: path of the .model to write (the .vocab goes beside it);
        a path without ".model" is taken as the prefix.
      vocab_size: number of pieces.
      do_lower_case: lower-case the text (as the tokenizer will).
      model_type: unigram, bpe, char or word.
      character_coverage: share of characters covered by the model.
      user_defined_symbols: comma-separated extra symbols.
      input_sentence_size: sample this many sentences (0 = all).
      num_threads: trainer threads (default: all cores).

    Returns:
      (model_path, vocab_path).

    Raises:
      UserError: if the corpus is empty or training fails.
    """
    import sentencepiece as spm  # pylint: disable=g-import-not-at-top
    prefix = output_file[:-len(".model")] if output_file.endswith(".model") else output_file
    directory = os.path.dirname(prefix)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    work_dir = tempfile.mkdtemp(prefix="build_vocab_")
    try:
        text_path = os.path.join(work_dir, "corpus.txt")
        num_lines = 0
        with open(text_path, "w", encoding="utf-8") as writer:
            for line in iter_lines(input_files):
                text = tokenization.preprocess_text(line, lower=do_lower_case)
                if text:
                    writer.write(text + "\n")
                    num_lines += 1
        if not num_lines:
            raise UserError("the corpus is empty: no text in %s" % ", ".join(input_files))
        temp_prefix = os.path.join(work_dir, "spm")
        arguments = dict(input=text_path, model_prefix=temp_prefix, vocab_size=vocab_size,
                         model_type=model_type, character_coverage=character_coverage, pad_id=0,
                         unk_id=1, eos_id=-1, bos_id=-1,
                         control_symbols=",".join(ALBERT_CONTROL_SYMBOLS),
                         input_sentence_size=input_sentence_size, shuffle_input_sentence=True,
                         num_threads=num_threads or os.cpu_count() or 1)
        if user_defined_symbols:
            arguments["user_defined_symbols"] = user_defined_symbols
        if getattr(spm, "__version__", None):
            arguments["minloglevel"] = 1
        try:
            spm.SentencePieceTrainer.train(**arguments)
        except (RuntimeError, OSError, ValueError) as error:
            raise UserError("SentencePiece training failed: %s" %
                            str(error).strip().splitlines()[-1])
        model_path = prefix + ".model"
        vocab_path = prefix + ".vocab"
        for suffix, final in ((".model", model_path), (".vocab", vocab_path)):
            with script_utils.atomic_output(final) as temp:
                shutil.copyfile(temp_prefix + suffix, temp)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    logging.info("wrote %s and %s (%d pieces)", model_path, vocab_path, vocab_size)
    return model_path, vocab_path


if __name__ == "__main__":
    from absl import flags  # pylint: disable=g-import-not-at-top

    flags.DEFINE_string(
        "input_file", None, "Corpus: comma-separated globs of "
        "UTF-8 text files, one sentence per line.")
    flags.DEFINE_string(
        "output_file", None, "wordpiece: the vocab.txt to "
        "write; sentencepiece: the .model to write (the "
        ".vocab goes beside it).")
    flags.DEFINE_enum("vocab_type", "wordpiece", ["wordpiece", "sentencepiece"],
                      "Kind of vocabulary to build.")
    flags.DEFINE_integer("vocab_size", 21128, "Number of entries / pieces.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the text, as the "
                      "tokenizer will.")
    flags.DEFINE_integer("num_unused", DEFAULT_NUM_UNUSED, "wordpiece: number "
                         "of [unused*] entries after [PAD].")
    flags.DEFINE_integer("min_frequency", 2, "wordpiece: minimum frequency of "
                         "a learnt word piece.")
    flags.DEFINE_bool(
        "cjk_continuation_forms", False, "wordpiece: also add "
        "'##' + CJK character entries (as the Chinese BERT "
        "vocab has; this project's tokenizer never uses them).")
    flags.DEFINE_string("model_type", "unigram", "sentencepiece: unigram, "
                        "bpe, char or word.")
    flags.DEFINE_float("character_coverage", 0.9995, "sentencepiece: share of "
                       "characters the model covers.")
    flags.DEFINE_string("user_defined_symbols", "", "sentencepiece: comma-"
                        "separated symbols always kept whole.")
    flags.DEFINE_integer("input_sentence_size", 0, "sentencepiece: sample "
                         "this many sentences (0 = all).")
    flags.mark_flag_as_required("input_file")
    flags.mark_flag_as_required("output_file")
    FLAGS = flags.FLAGS

    def _main(argv):
        if len(argv) > 1:
            raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
        files = expand_inputs(FLAGS.input_file)
        if FLAGS.vocab_type == "wordpiece":
            write_wordpiece_vocab(files, FLAGS.output_file, FLAGS.vocab_size,
                                  do_lower_case=FLAGS.do_lower_case, num_unused=FLAGS.num_unused,
                                  min_frequency=FLAGS.min_frequency,
                                  cjk_continuation_forms=FLAGS.cjk_continuation_forms)
        else:
            train_sentencepiece(files, FLAGS.output_file, FLAGS.vocab_size,
                                do_lower_case=FLAGS.do_lower_case, model_type=FLAGS.model_type,
                                character_coverage=FLAGS.character_coverage,
                                user_defined_symbols=FLAGS.user_defined_symbols,
                                input_sentence_size=FLAGS.input_sentence_size)

    script_utils.run(_main)
