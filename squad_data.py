# coding=utf-8
"""SQuAD-format files read and checked: questions, contexts and gold answers.

Works on any SQuAD-format JSON: SQuAD v1.1, SQuAD v2.0 (``is_impossible``),
CMRC2018 and DRCD (Chinese, same format), and predict files without answers.

:func:`read_squad_examples` checks the file and reports problems as one-line
:class:`DataError` messages naming the file and the question id. An answer
whose ``answer_start`` does not match its text is moved to the nearest
occurrence of the text in the context, or skipped (and counted).
:func:`read_gold_answers` gives the answer texts the metrics score against.

Neighbours: ``squad_features`` (tokenisation with character offsets, windows,
feature files), ``squad_utils`` (heads, model_fn, export), ``squad_decoding``
(model outputs to answer texts), ``squad_metrics`` (EM/F1 and the scoring
command).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import io
import json

import six

import classifier_tasks


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
            self.qas_id, self.question_text, self.answer_text, self.start_char, self.is_impossible)


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
                "skipped" %
                (self.questions, self.offsets_fixed, self.answers_skipped, self.questions_skipped))


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
    stats.note("%s: question %s: answer_start %r does not match answer %r; using offset %d" %
               (path, qid, start, text, fixed))
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
                raise DataError("%s: data[%d].paragraphs[%d] is not an object" %
                                (path, article_number, paragraph_number))
            context = paragraph.get("context")
            qas = paragraph.get("qas") or []
            for qa in qas:
                if not isinstance(qa, dict):
                    raise DataError("%s: data[%d].paragraphs[%d]: question is not an object" %
                                    (path, article_number, paragraph_number))
                qid = qa.get("id")
                if qid is None or six.text_type(qid) == "":
                    raise DataError("%s: data[%d].paragraphs[%d]: question %r has no \"id\"" %
                                    (path, article_number, paragraph_number, qa.get("question")))
                qid = six.text_type(qid)
                if qid in seen:
                    raise DataError("%s: question %s: duplicated question id" % (path, qid))
                seen.add(qid)
                if not isinstance(context, six.string_types) or not context.strip():
                    raise DataError("%s: question %s has no context (data[%d].paragraphs[%d] "
                                    "has no non-empty \"context\")" %
                                    (path, qid, article_number, paragraph_number))
                question = qa.get("question")
                if not isinstance(question, six.string_types) or not question.strip():
                    raise DataError("%s: question %s has no question text" % (path, qid))
                stats.questions += 1
                is_impossible = bool(version_2_with_negative and qa.get("is_impossible", False))
                answers = []
                if not is_impossible:
                    raw = qa.get("answers") or []
                    if not isinstance(raw, list):
                        raise DataError("%s: question %s: \"answers\" is not a list" % (path, qid))
                    for answer in raw:
                        checked = _check_answer(path, qid, context, answer, stats)
                        if checked is not None:
                            answers.append(checked)
                answer_text = start_char = None
                if answers:
                    answer_text, start_char = answers[0]
                if is_training and not is_impossible and not answers:
                    stats.questions_skipped += 1
                    stats.note("%s: question %s: no usable answer; skipped for training" %
                               (path, qid))
                    continue
                examples.append(
                    SquadExample(qid, question, context, answers, answer_text, start_char,
                                 is_impossible, context_index))
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
                    gold[qid] = [
                        six.text_type(a.get("text", ""))
                        for a in qa.get("answers") or []
                        if isinstance(a, dict)
                    ]
    return gold
