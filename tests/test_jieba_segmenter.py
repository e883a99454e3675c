# coding=utf-8
"""Tests of jieba_segmenter.py: the same words as jieba itself.

The segmenter re-implements jieba's route and HMM from jieba's private
tables, so these tests pin it against `jieba.lcut` / `jieba.cut` on the
installed jieba: if a jieba release changes its algorithm or tables, they
fail.
"""

import io
import os
import re

import pytest

import jieba_segmenter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ZH = os.path.join(ROOT, "data", "sample_zh.txt")

# Runs of CJK ideographs: what create_pretraining_data.py hands to the
# segmenter, joined by spaces.
_CJK_RUN = re.compile(u"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002a6df\U0002a700-\U0002ceaf]+")

# Varied Chinese text: news, dialogue, names, brands and coined words that
# are not in jieba's dictionary (only the HMM joins their characters), a
# classic ambiguity, rare and supplementary-plane characters, one-character
# runs.
VARIED_TEXTS = (
    u"韩冰冰和欧阳娜娜周末在杭研大厦楼下喝咖啡",
    u"他说王五和赵六去了哈尔滨冰雪大世界",
    u"记者杜小蓓从市卫健委获悉 本周全市新增病例三例",
    u"林黛玉和贾宝玉在大观园里 说话",
    u"南京市长江大桥欢迎您",
    u"他来到了网易杭研大厦",
    u"小明硕士毕业于中国科学院计算所 后在日本京都大学深造",
    u"这款奶茶叫芋泥波波 网红店门口排起了长队",
    u"我们小区里住着好几只流浪猫 最有名的是一只橘色的大胖猫",
    u"\u3400\u4e00\u9fd6\u9fa5 龘",
    u"\U00020000中文 \u9fff",
    u"一",
    u"",
    u"  ",
    u"的 了 吗",
    # A long run: the Viterbi over hundreds of characters.
    u"".join(chr(0x4E00 + 37 * k % 20000) for k in range(300)),
)


def _corpus_texts():
    with io.open(SAMPLE_ZH, encoding="utf-8") as reader:
        return [u" ".join(_CJK_RUN.findall(line)) for line in reader]


def _jieba_lengths(text, hmm):
    import jieba  # pylint: disable=g-import-not-at-top
    return [len(word) for word in jieba.lcut(text, HMM=hmm) if not word.isspace()]


@pytest.fixture(scope="module")
def segmenter():
    return jieba_segmenter.JiebaSegmenter()


@pytest.mark.parametrize("hmm", [True, False])
def test_word_lengths_equal_jieba_lcut(segmenter, hmm):
    texts = list(VARIED_TEXTS) + _corpus_texts()
    assert len(texts) > 100
    for text in texts:
        assert segmenter.word_lengths(text, hmm) == _jieba_lengths(text, hmm), text


def test_words_equal_jieba_cut_with_hmm(segmenter):
    import jieba  # pylint: disable=g-import-not-at-top
    for text in VARIED_TEXTS:
        words = [word for word in jieba.cut(text, HMM=True) if not word.isspace()]
        lengths = segmenter.word_lengths(text, True)
        assert lengths == [len(word) for word in words], text
        # The same words, not only the same lengths.
        joined = u"".join(text.split())
        starts = [sum(lengths[:k]) for k in range(len(lengths))]
        assert [joined[start:start + length] for start, length in zip(starts, lengths)] == words


def test_the_texts_need_the_hmm(segmenter):
    """Unknown words: the HMM joins characters into non-dictionary words."""
    import jieba  # pylint: disable=g-import-not-at-top
    unknown = []
    for text in VARIED_TEXTS[:8]:
        with_hmm = jieba.lcut(text, HMM=True)
        unknown.extend(word for word in with_hmm if len(word) > 1 and not jieba.dt.FREQ.get(word))
        assert segmenter.word_lengths(
            text, True) == [len(word) for word in with_hmm if not word.isspace()]
    # e.g. 杭研, 赵六去, 杜小蓓: words only the HMM finds.
    assert len(unknown) >= 3, unknown
    assert u"杭研" in unknown
    for text in (VARIED_TEXTS[0], VARIED_TEXTS[5]):
        assert (segmenter.word_lengths(text, True) != segmenter.word_lengths(text, False))


def test_viterbi_equals_jieba_finalseg(segmenter):
    import jieba.finalseg  # pylint: disable=g-import-not-at-top
    runs = [
        u"杭研", u"赵六去", u"杜小蓓从", VARIED_TEXTS[-1],
        u"".join(chr(0x4E00 + 101 * k % 20000) for k in range(80))
    ]
    for run in runs:
        lengths = []
        segmenter._hmm_lengths(run, lengths)  # pylint: disable=protected-access
        assert lengths == [len(word) for word in jieba.finalseg.cut(run)], run


def test_plain_jieba_agrees(segmenter):
    plain = jieba_segmenter.PlainJieba()
    for text in VARIED_TEXTS:
        for hmm in (True, False):
            assert (plain.word_lengths(text, hmm) == segmenter.word_lengths(text, hmm)), text


def test_word_lengths_falls_back_to_jieba_when_internals_differ(monkeypatch):

    def broken(self):
        raise AttributeError("module 'jieba' has no attribute 'dt'")

    monkeypatch.setattr(jieba_segmenter, "_SEGMENTER", [])
    monkeypatch.setattr(jieba_segmenter.JiebaSegmenter, "__init__", broken)
    text = VARIED_TEXTS[0]
    assert jieba_segmenter.word_lengths(text) == _jieba_lengths(text, True)
    assert isinstance(
        jieba_segmenter._SEGMENTER[0],  # pylint: disable=protected-access
        jieba_segmenter.PlainJieba)


def test_word_lengths_keeps_one_segmenter_per_process(monkeypatch):
    monkeypatch.setattr(jieba_segmenter, "_SEGMENTER", [])
    text = VARIED_TEXTS[1]
    assert jieba_segmenter.word_lengths(text, False) == _jieba_lengths(text, False)
    first = jieba_segmenter._SEGMENTER[0]  # pylint: disable=protected-access
    assert isinstance(first, jieba_segmenter.JiebaSegmenter)
    jieba_segmenter.word_lengths(text)
    assert jieba_segmenter._SEGMENTER == [first]  # pylint: disable=protected-access


def test_names_stay_importable_from_create_pretraining_data():
    import create_pretraining_data  # pylint: disable=g-import-not-at-top
    assert (create_pretraining_data.JiebaSegmenter is jieba_segmenter.JiebaSegmenter)
    assert create_pretraining_data.init_jieba is jieba_segmenter.init_jieba
    assert (create_pretraining_data._jieba_word_lengths is  # pylint: disable=protected-access
            jieba_segmenter.word_lengths)
