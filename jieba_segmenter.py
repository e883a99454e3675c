# coding=utf-8
"""jieba's accurate-mode word segmentation, recomputed faster from jieba's tables.

What it is: `word_lengths(text, hmm)` gives the lengths of the words of
`jieba.lcut(text, HMM=hmm)` (whitespace words left out) for text made of
runs of CJK characters separated by spaces, which is what
`create_pretraining_data.py` asks for to mark word starts for whole-word
masking. `JiebaSegmenter` does the work: the same dictionary route (highest
log-probability path through the DAG of dictionary words, ties to the longer
word) and the same HMM Viterbi for runs of unknown single characters, but
without jieba's per-block DAG dictionaries, generators and per-character path
copies, about a third of jieba's time. If jieba's internals are not as
expected, `word_lengths` falls back to `jieba.lcut` itself (`PlainJieba`),
slower but with the same result.

Outside that contract the result may differ from jieba's: with hmm=False,
jieba keeps runs of Latin letters and digits together where this module
gives one character per word.

Dependencies: jieba, and these of its internals (private, undocumented):
  * `jieba.dt` (the default `Tokenizer`): `FREQ` (word -> count, with
    prefixes of words at count 0), `total`, `initialized`;
    `jieba.initialize()`, `jieba.setLogLevel()`;
  * `jieba.re_han_default`: the pattern of the blocks jieba segments with its
    dictionary;
  * `jieba.finalseg`: `cut`, `Force_Split_Words`, `MIN_FLOAT`, `start_P`,
    `trans_P`, `emit_P` (the HMM's tables).
The tables are read once, on first use: words added to jieba afterwards
(`jieba.add_word`, `jieba.load_userdict`) are not taken into account.
Checked with jieba 0.42.1, the version installed on both runtimes of this
project (Python 3.7 + TensorFlow 1.15 and Python 3.11 + TensorFlow 2.15);
absl logging reports the fallback.

Tests: tests/test_jieba_segmenter.py compares the word lengths with
`jieba.lcut(text, HMM=True)` and `HMM=False` on varied Chinese text (the
sample corpus, names and other words missing from jieba's dictionary that
only the HMM finds, rare and supplementary-plane characters, a long run for
the Viterbi), and the fallback with the fast path.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import logging as std_logging
import math
import re

from absl import logging


def init_jieba():
    """Loads jieba's dictionary once per process, with its log quietened."""
    import jieba  # pylint: disable=g-import-not-at-top
    jieba.setLogLevel(std_logging.WARNING)
    if not jieba.dt.initialized:
        jieba.initialize()


class JiebaSegmenter(object):
    """jieba's accurate-mode segmentation, computed faster, as word lengths.

    Gives exactly the words of `jieba.lcut(text, HMM=hmm)` (checked by the
    tests) for text made of CJK runs and spaces, from jieba's own dictionary
    and HMM: for each block of characters jieba treats as Chinese, the
    highest-probability path through the dictionary words (log-probabilities
    computed once, ties going to the longer word as in jieba), with runs of
    single characters that are not a dictionary word handed to jieba's HMM.
    It saves jieba's per-block DAG dictionaries and generators, about a third
    of its time. Characters outside jieba's Chinese range are words of their
    own; whitespace is skipped.
    """

    def __init__(self):
        import jieba  # pylint: disable=g-import-not-at-top
        import jieba.finalseg  # pylint: disable=g-import-not-at-top
        init_jieba()
        self._freq = jieba.dt.FREQ
        log_total = math.log(jieba.dt.total)
        self._log_prob = dict(
            (word, math.log(count) - log_total) for word, count in self._freq.items() if count)
        self._missing = -log_total
        self._hmm_cut = jieba.finalseg.cut
        self._block_re = re.compile(jieba.re_han_default.pattern)
        finalseg = jieba.finalseg
        self._hmm_run_re = re.compile(u"[\u4E00-\u9FD5]+")
        self._force_split = finalseg.Force_Split_Words
        self._min_float = finalseg.MIN_FLOAT
        self._start_p = finalseg.start_P
        self._emit_p = finalseg.emit_P
        self._trans = dict((before + after, finalseg.trans_P[before].get(after, finalseg.MIN_FLOAT))
                           for before in "BMES"
                           for after in "BMES")

    def word_lengths(self, text, hmm=True):
        """Lengths of the words of `text`, whitespace words left out.

        Args:
          text: a text string.
          hmm: whether unknown words are found with jieba's HMM.

        Returns:
          A list of word lengths (in characters).
        """
        lengths = []
        for block in self._block_re.split(text):
            if not block:
                continue
            if self._block_re.match(block):
                self._cut_block(block, lengths, hmm)
            else:
                lengths.extend([1 for char in block if not char.isspace()])
        return lengths

    def _cut_block(self, block, lengths, hmm):
        """Appends the word lengths of one block of Chinese characters."""
        freq = self._freq
        log_prob = self._log_prob
        size = len(block)
        score = [0.0] * (size + 1)
        route = [0] * size
        for start in range(size - 1, -1, -1):
            best = None
            best_end = start
            end = start
            fragment = block[start]
            while end < size and fragment in freq:
                if freq[fragment]:
                    value = log_prob[fragment] + score[end + 1]
                    if best is None or value >= best:
                        best = value
                        best_end = end
                end += 1
                fragment = block[start:end + 1]
            if best is None:
                best = self._missing + score[start + 1]
            score[start] = best
            route[start] = best_end
        position = 0
        singles_start = -1
        while position < size:
            following = route[position] + 1
            if hmm and following - position == 1:
                if singles_start < 0:
                    singles_start = position
            else:
                if singles_start >= 0:
                    self._flush_singles(block[singles_start:position], lengths)
                    singles_start = -1
                lengths.append(following - position)
            position = following
        if singles_start >= 0:
            self._flush_singles(block[singles_start:], lengths)

    def _flush_singles(self, run, lengths):
        """A run of one-character words: jieba's HMM may join them."""
        if len(run) == 1:
            lengths.append(1)
        elif self._freq.get(run):
            lengths.extend([1] * len(run))
        elif self._hmm_run_re.fullmatch(run) and not self._force_split:
            self._hmm_lengths(run, lengths)
        else:
            lengths.extend([len(word) for word in self._hmm_cut(run)])

    def _hmm_lengths(self, run, lengths):
        """jieba's HMM (B/M/E/S Viterbi) on a run of Chinese characters.

        The same sums in the same order and the same tie-breaking as jieba's
        `finalseg`, with back-pointers instead of copied paths (jieba copies
        the whole path at every character, quadratic in the run length).
        """
        minimum = self._min_float
        emit_b, emit_m, emit_e, emit_s = [self._emit_p[state] for state in "BMES"]
        trans = self._trans
        t_eb, t_sb = trans["EB"], trans["SB"]
        t_mm, t_bm = trans["MM"], trans["BM"]
        t_ss, t_es = trans["SS"], trans["ES"]
        t_be, t_me = trans["BE"], trans["ME"]
        first = run[0]
        start = self._start_p
        v_b = start["B"] + emit_b.get(first, minimum)
        v_m = start["M"] + emit_m.get(first, minimum)
        v_e = start["E"] + emit_e.get(first, minimum)
        v_s = start["S"] + emit_s.get(first, minimum)
        back = []
        for char in run[1:]:
            e_b = emit_b.get(char, minimum)
            e_m = emit_m.get(char, minimum)
            e_e = emit_e.get(char, minimum)
            e_s = emit_s.get(char, minimum)
            # Ties go to the later state letter, as max() over (prob, state).
            x, y = v_e + t_eb + e_b, v_s + t_sb + e_b
            n_b, p_b = (x, "E") if x > y else (y, "S")
            x, y = v_m + t_mm + e_m, v_b + t_bm + e_m
            n_m, p_m = (x, "M") if x >= y else (y, "B")
            x, y = v_s + t_ss + e_s, v_e + t_es + e_s
            n_s, p_s = (x, "S") if x >= y else (y, "E")
            x, y = v_b + t_be + e_e, v_m + t_me + e_e
            n_e, p_e = (x, "B") if x > y else (y, "M")
            back.append((p_b, p_m, p_e, p_s))
            v_b, v_m, v_e, v_s = n_b, n_m, n_e, n_s
        state = "E" if v_e > v_s else "S"
        states = [state]
        slot = {"B": 0, "M": 1, "E": 2, "S": 3}
        for pointers in reversed(back):
            state = pointers[slot[state]]
            states.append(state)
        states.reverse()
        begin = 0
        following = 0
        for index, state in enumerate(states):
            if state == "B":
                begin = index
            elif state == "E":
                lengths.append(index + 1 - begin)
                following = index + 1
            elif state == "S":
                lengths.append(1)
                following = index + 1
        if following < len(run):
            lengths.append(len(run) - following)


class PlainJieba(object):
    """`jieba.lcut` itself, if jieba's internals are not as expected."""

    def word_lengths(self, text, hmm=True):
        """Lengths of the non-whitespace words of `jieba.lcut(text)`."""
        import jieba  # pylint: disable=g-import-not-at-top
        init_jieba()
        return [len(word) for word in jieba.lcut(text, HMM=hmm) if not word.isspace()]


# The segmenter of this process, made on first use.
_SEGMENTER = []


def word_lengths(text, hmm=True):
    """Word lengths of `text` by jieba (see `JiebaSegmenter`).

    The first call builds the process's segmenter (`JiebaSegmenter`, or
    `PlainJieba` with a warning if jieba's internals differ).

    Args:
      text: runs of CJK characters separated by spaces.
      hmm: whether unknown words are found with jieba's HMM.

    Returns:
      A list of word lengths (in characters), whitespace left out.
    """
    if not _SEGMENTER:
        try:
            _SEGMENTER.append(JiebaSegmenter())
        except (AttributeError, KeyError, TypeError) as error:
            logging.warning(
                "jieba internals differ from jieba 0.42 (%s); "
                "using jieba.lcut, which is slower", error)
            _SEGMENTER.append(PlainJieba())
    return _SEGMENTER[0].word_lengths(text, hmm)
