# coding=utf-8
"""Multiple-choice reading comprehension: task data, features, model, metrics.

Everything ``run_multiple_choice.py`` needs, without flags, so that tests can
call each piece directly:

* Readers for three tasks, each giving ``MultipleChoiceExample``s (id,
  context, question, options, label index or None, source):

  - ``c3``: CLUE's C3 (``d-train.json``, ``m-train.json``, ``d-dev.json``,
    ``m-dev.json``, ``test1.1.json`` / ``test1.0.json``; the original
    ``c3-{d,m}-{train,dev,test}.json`` names are accepted too). Each file is
    a JSON list of ``[lines, questions, document id]`` entries; a question is
    ``{"question", "choice": [2-4 texts], "answer": <text of a choice>}``,
    with an ``"id"`` in the test files (which have no answers).
  - ``race``: RACE as Google's run_race.py reads it:
    ``data_dir/RACE/{train,dev,test}/{middle,high}/`` with ``all.txt`` (one
    JSON object per line) or the release's ``*.txt`` files (one object per
    file); an object has ``article``, ``questions``, ``options`` (a list per
    question), ``answers`` ("A".."D") and ``id``.
  - ``jsonl``: generic JSON lines, ``{train,dev,test}.jsonl``, one
    ``{"id", "context", "question", "choices": [...], "label"}`` per line;
    the label is an index or the text of a choice.

  Bad input raises ``DataError`` (a ``classifier_tasks.DataError``) with one
  line naming the file, the line or entry, and the problem.
* Features: each option becomes ``[CLS] context [SEP] question+option [SEP]``
  (Google's merge: a ``_`` in the question is replaced by the option, else the
  option follows the question after a space). The question+option part keeps
  its last ``max_qa_length`` tokens, the context gives up the rest of the
  room. The options of an example are flattened into one record of
  ``num_choices * max_seq_length`` ids, as Google's RACE records are; missing
  options are all-zero rows with ``option_mask`` 0.
* ``create_model`` / ``model_fn_builder``: the encoder runs on
  ``[batch * num_choices, length]``; the pooled output is scored by Google's
  RACE head (``output_weights`` [1, H], ``output_bias`` [1] at the root
  scope), so checkpoints fine-tuned by Google's run_race.py and by this
  module load into each other. Options with ``option_mask`` 0 get the logit
  -10000 before the softmax over the options.
* Records: ``InputFeatures.as_dict()`` and ``feature_spec`` are the
  ``{name: values}`` dicts and ``{name: (shape, dtype)}`` spec of the shared
  feature-file code (``feature_io``: writing, content-keyed cache, input_fn).
* ``compute_metrics`` (exact accuracy and loss in numpy) and
  ``write_submission`` (CLUE's C3 file, or ``predictions.jsonl``).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import io
import json
import os
import re

import numpy as np
import six

import classifier_tasks
import classifier_utils
import driver_utils
import hub_export
import modeling
import script_utils
from tf_compat import tf

# Bump when the feature layout or the conversion changes, and put it in the
# description of cached feature files: old caches are then never reused.
FEATURE_FORMAT_VERSION = 1

TASKS = ("c3", "race", "jsonl")
SPLITS = ("train", "dev", "test")
DEFAULT_MAX_OPTIONS = 4

# The logit of a missing option: its probability underflows to 0 next to any
# real option, and a row without real options (a padding record) stays finite.
MASKED_LOGIT = -10000.0

C3_SUBMISSION_FILE = "c3_predict.json"
PREDICTIONS_FILE = "predictions.jsonl"

RACE_LEVELS = ("middle", "high")


class DataError(classifier_tasks.DataError):
    """Malformed or inconsistent task data (the message names file and line or entry)."""


class MultipleChoiceExample(object):
    """One question with its options.

    Attributes:
      example_id: the id predictions are written with: the question's ``id``
        (C3 test files, JSON lines) or its running index in the split (C3
        train/dev, JSON lines without ids); ``<article id>-<question index>``
        for RACE.
      context: the passage (C3: the dialogue or text lines joined by "\\n").
      question: the question text.
      options: list of option texts.
      label: index of the right option, or None when the data has no answer.
      source: where it came from, e.g. ``d-dev.json: entry 3, question 1``,
        ``train.jsonl:7`` or ``RACE/dev/high/all.txt:12: question 2``.
    """

    def __init__(self, example_id, context, question, options, label=None, source=None):
        self.example_id = example_id
        self.context = context
        self.question = question
        self.options = list(options)
        self.label = label
        self.source = source

    def qa_texts(self):
        """The question merged with each option (see ``merge_question_option``)."""
        return [merge_question_option(self.question, option) for option in self.options]

    def __repr__(self):
        return "MultipleChoiceExample(%r, %r, %r, %r, label=%r)" % (
            self.example_id, self.context[:40], self.question, self.options, self.label)


def merge_question_option(question, option):
    """Google's RACE rule: every ``_`` of a cloze question becomes the option;
    otherwise the option follows the question after a space."""
    if "_" in question:
        return question.replace("_", option)
    return question + " " + option


def canonical_task(task_name):
    """The task's canonical name (case-insensitive; "json_lines" means "jsonl").

    Raises:
      ValueError: for an unknown task, listing the known ones.
    """
    key = (task_name or "").strip().lower()
    key = {"json_lines": "jsonl", "jsonlines": "jsonl"}.get(key, key)
    if key not in TASKS:
        raise ValueError("unknown multiple-choice task %r; known tasks: %s" %
                         (task_name, ", ".join(TASKS)))
    return key


# ---------------------------------------------------------------------------
# Reading files.
# ---------------------------------------------------------------------------


def _read_text(path):
    try:
        with io.open(path, "rb") as reader:
            data = reader.read()
    except (IOError, OSError) as e:
        raise DataError("%s: cannot read: %s" % (path, getattr(e, "strerror", None) or e))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DataError("%s:%d: not valid UTF-8" % (path, line))


def _json_error(path, error, line_offset=0):
    line = getattr(error, "lineno", None)
    message = getattr(error, "msg", None) or str(error)
    where = ":%d" % (line + line_offset) if line else ""
    return DataError("%s%s: malformed JSON (%s)" % (path, where, message))


def _load_json(path):
    text = _read_text(path)
    try:
        return json.loads(text)
    except ValueError as e:
        raise _json_error(path, e)


def _json_objects(path):
    """``[(location, object)]`` of a file holding JSON objects.

    One object per line (location ``path:line``), or one object spread over
    the whole file (location ``path``), as in RACE's release.
    """
    text = _read_text(path)
    lines = [(n + 1, line) for n, line in enumerate(text.split("\n")) if line.strip()]
    objects = []
    for line_number, line in lines:
        try:
            obj = json.loads(line)
        except ValueError as e:
            if objects:
                raise _json_error(path, e, line_number - 1)
            try:
                whole = json.loads(text)
            except ValueError:
                raise _json_error(path, e, line_number - 1)
            if not isinstance(whole, dict):
                raise DataError("%s: expected JSON objects, got a %s" %
                                (path, type(whole).__name__))
            return [(path, whole)]
        if not isinstance(obj, dict):
            raise DataError("%s:%d: expected a JSON object, got %s" %
                            (path, line_number, type(obj).__name__))
        objects.append(("%s:%d" % (path, line_number), obj))
    return objects


def _text(value, where, name):
    """A non-empty text field; numbers are accepted as their text."""
    if value is None:
        raise DataError("%s: missing field %r" % (where, name))
    if isinstance(value, bool) or not isinstance(value, six.string_types + (int, float)):
        raise DataError("%s: field %r must be a text, got %s" % (where, name, type(value).__name__))
    value = six.text_type(value)
    if not value.strip():
        raise DataError("%s: empty %s" % (where, name))
    return value


def _options(values, where, name, max_options):
    """The option texts of a question, checked (2..max_options, none empty)."""
    if values is None:
        raise DataError("%s: missing field %r" % (where, name))
    if not isinstance(values, list):
        raise DataError("%s: field %r must be a list of option texts, got %s" %
                        (where, name, type(values).__name__))
    if len(values) < 2:
        raise DataError("%s: %d option(s); a question needs at least 2" % (where, len(values)))
    if len(values) > max_options:
        raise DataError("%s: %d options, more than the maximum of %d (raise the number "
                        "of choices to read such questions)" % (where, len(values), max_options))
    return [_text(option, where, "option %d" % (k + 1)) for k, option in enumerate(values)]


def _check_max_options(max_options):
    if not isinstance(max_options, int) or max_options < 2:
        raise ValueError("max_options must be an integer >= 2, got %r" % (max_options,))


def read_c3_file(path, require_labels=True, max_options=DEFAULT_MAX_OPTIONS, first_index=0):
    """Reads one C3 file (CLUE's or the original layout).

    Args:
      path: the JSON file: a list of ``[lines, questions, document id]``.
      require_labels: every question must have an ``answer`` (train/dev);
        otherwise a missing or empty answer gives ``label=None``.
      max_options: the largest number of choices accepted.
      first_index: running index of the file's first question (ids of
        questions without an ``id`` field continue it).

    Returns:
      list of MultipleChoiceExample; ``source`` is ``<path>: entry E,
      question Q`` (both counted from 1).

    Raises:
      DataError: malformed JSON, a wrong structure, a missing field, an empty
        text, fewer than 2 or more than ``max_options`` choices, an answer
        that is not one of the choices.
    """
    _check_max_options(max_options)
    data = _load_json(path)
    if not isinstance(data, list):
        raise DataError("%s: expected a JSON list of [lines, questions, document id] "
                        "entries (C3 layout), got a %s" % (path, type(data).__name__))
    examples = []
    index = first_index
    for entry_number, entry in enumerate(data, 1):
        where = "%s: entry %d" % (path, entry_number)
        if not isinstance(entry, list) or len(entry) < 2:
            raise DataError("%s: expected [lines, questions, document id]" % where)
        lines, questions = entry[0], entry[1]
        if isinstance(lines, six.string_types):
            lines = [lines]
        if not isinstance(lines, list) or not all(
                isinstance(line, six.string_types) for line in lines):
            raise DataError("%s: the context must be a list of text lines" % where)
        context = "\n".join(lines)
        if not context.strip():
            raise DataError("%s: empty context" % where)
        if not isinstance(questions, list):
            raise DataError("%s: the questions must be a list" % where)
        for question_number, item in enumerate(questions, 1):
            qwhere = "%s, question %d" % (where, question_number)
            if not isinstance(item, dict):
                raise DataError("%s: expected an object with \"question\", \"choice\" and "
                                "\"answer\"" % qwhere)
            question = _text(item.get("question"), qwhere, "question")
            options = _options(item.get("choice"), qwhere, "choice", max_options)
            answer = item.get("answer")
            label = None
            if answer is None or (isinstance(answer, six.string_types) and not answer.strip()):
                if require_labels:
                    raise DataError("%s: missing field 'answer'" %
                                    qwhere if answer is None else "%s: empty answer" % qwhere)
            else:
                label = _choice_index(options, six.text_type(answer))
                if label is None:
                    raise DataError("%s: answer %r is not among the choices %s" %
                                    (qwhere, answer, json.dumps(options, ensure_ascii=False)))
            example_id = item["id"] if item.get("id") is not None else index
            examples.append(
                MultipleChoiceExample(example_id, context, question, options, label, qwhere))
            index += 1
    return examples


def _choice_index(options, text):
    """Index of the option equal to ``text`` (then ignoring outer spaces), or None."""
    for stripped in (False, True):
        for k, option in enumerate(options):
            if (option.strip() if stripped else option) == (text.strip() if stripped else text):
                return k
    return None


def read_race_file(path, require_labels=True, max_options=DEFAULT_MAX_OPTIONS):
    """Reads one RACE file: JSON objects, one per line (``all.txt``) or one per file.

    Args:
      path: the file.
      require_labels: every question must have an answer letter.
      max_options: the largest number of options accepted (RACE has 4).

    Returns:
      list of MultipleChoiceExample, one per question; ``example_id`` is
      ``<id>-<question index from 0>`` (the file name when ``id`` is absent);
      ``source`` is ``<path>:<line>: question Q`` (Q from 1).

    Raises:
      DataError: malformed JSON, a missing field, lists of different lengths,
        an empty text, too few or too many options, an answer that is not
        the letter of an option.
    """
    _check_max_options(max_options)
    examples = []
    for location, obj in _json_objects(path):
        context = _text(obj.get("article"), location, "article")
        questions = obj.get("questions")
        options = obj.get("options")
        answers = obj.get("answers")
        for name, value in (("questions", questions), ("options", options)):
            if value is None:
                raise DataError("%s: missing field %r" % (location, name))
            if not isinstance(value, list):
                raise DataError("%s: field %r must be a list" % (location, name))
        if answers is None and require_labels:
            raise DataError("%s: missing field 'answers'" % location)
        if answers is not None and not isinstance(answers, list):
            raise DataError("%s: field 'answers' must be a list" % location)
        if len(options) != len(questions) or (answers is not None and
                                              len(answers) != len(questions)):
            raise DataError(
                "%s: %d questions, %d option lists and %s answers; they must "
                "match" %
                (location, len(questions), len(options), "no" if answers is None else len(answers)))
        article_id = obj.get("id")
        if article_id is None or six.text_type(article_id) == "":
            article_id = os.path.basename(location)
        for number, question in enumerate(questions):
            where = "%s: question %d" % (location, number + 1)
            question = _text(question, where, "question")
            choices = _options(options[number], where, "options", max_options)
            label = None
            if answers is not None:
                label = _answer_letter(answers[number], len(choices), where)
            examples.append(
                MultipleChoiceExample("%s-%d" % (article_id, number), context, question, choices,
                                      label, where))
    return examples


def _answer_letter(answer, num_options, where):
    letters = "".join(chr(ord("A") + k) for k in range(num_options))
    if not isinstance(answer, six.string_types) or len(answer.strip()) != 1 or \
            answer.strip() not in letters:
        raise DataError("%s: answer %r is not one of the option letters %s" %
                        (where, answer, "-".join([letters[0], letters[-1]])))
    return letters.index(answer.strip())


def read_jsonl_file(path, require_labels=True, max_options=DEFAULT_MAX_OPTIONS, first_index=0):
    """Reads the generic JSON lines format.

    Each line: ``{"id": ..., "context": ..., "question": ..., "choices": [...],
    "label": <index from 0, or the text of a choice>}``. ``id`` is optional
    (the running index in the split is used); ``label`` may be absent or
    null when ``require_labels`` is False.

    Returns:
      list of MultipleChoiceExample (``source`` is ``<path>:<line>``).

    Raises:
      DataError: malformed JSON, a missing field, an empty text, too few or
        too many choices, a label that is not an index or a choice text.
    """
    _check_max_options(max_options)
    examples = []
    try:
        rows = list(classifier_tasks.read_json_lines(path))
    except DataError:
        raise
    except classifier_tasks.DataError as e:
        raise DataError(str(e))
    for offset, (line_number, obj) in enumerate(rows):
        where = "%s:%d" % (path, line_number)
        context = _text(obj.get("context"), where, "context")
        question = _text(obj.get("question"), where, "question")
        options = _options(obj.get("choices"), where, "choices", max_options)
        raw = obj.get("label")
        label = None
        if raw is None:
            if require_labels:
                raise DataError("%s: missing field 'label'" % where)
        elif isinstance(raw, int) and not isinstance(raw, bool):
            if not 0 <= raw < len(options):
                raise DataError("%s: label %d is out of range for %d choices (indices start "
                                "at 0)" % (where, raw, len(options)))
            label = raw
        elif isinstance(raw, six.string_types):
            label = _choice_index(options, raw)
            if label is None:
                raise DataError("%s: label %r is not among the choices %s" %
                                (where, raw, json.dumps(options, ensure_ascii=False)))
        else:
            raise DataError("%s: label must be a choice index or a choice text, got %r" %
                            (where, raw))
        example_id = obj.get("id")
        if example_id is None:
            example_id = first_index + offset
        examples.append(MultipleChoiceExample(example_id, context, question, options, label, where))
    return examples


def _first_existing(directory, names):
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _race_root(data_dir):
    nested = os.path.join(data_dir, "RACE")
    return nested if os.path.isdir(nested) else data_dir


def data_files(task, data_dir, split, high_only=False, middle_only=False):
    """The files a split of a task is read from, in reading order.

    * c3: train/dev: ``d-<split>.json`` then ``m-<split>.json`` (either may be
      missing, not both; ``c3-d-``/``c3-m-`` names accepted); test: the first
      of ``test1.1.json``, ``test1.0.json``, ``test.json``, else
      ``c3-d-test.json`` and ``c3-m-test.json``.
    * race: ``<data_dir>/RACE/<split>/{middle,high}/`` (or ``<data_dir>/<split>/``
      when there is no RACE directory): ``all.txt`` when present, else every
      ``*.txt`` sorted by name.
    * jsonl: ``<split>.jsonl`` (or ``<split>.json``).

    Args:
      task: "c3", "race" or "jsonl".
      data_dir: the task's data directory.
      split: "train", "dev" or "test".
      high_only, middle_only: RACE: read one level only.

    Returns:
      list of paths.

    Raises:
      DataError: when no file is found.
      ValueError: for an unknown task or split, or both level filters.
    """
    task = canonical_task(task)
    if split not in SPLITS:
        raise ValueError("unknown split %r (expected one of %s)" % (split, ", ".join(SPLITS)))
    if task == "c3":
        if split == "test":
            single = _first_existing(data_dir, ("test1.1.json", "test1.0.json", "test.json"))
            if single:
                return [single]
        for prefix in ("", "c3-"):
            found = [
                p for p in (os.path.join(data_dir, "%s%s-%s.json" % (prefix, kind, split))
                            for kind in ("d", "m")) if os.path.isfile(p)
            ]
            if found:
                return found
        expected = ("test1.1.json, test1.0.json or test.json"
                    if split == "test" else "d-%s.json and/or m-%s.json" % (split, split))
        raise DataError("%s: no C3 %s file (expected %s)" % (data_dir, split, expected))
    if task == "race":
        if high_only and middle_only:
            raise ValueError("high_only and middle_only exclude each other")
        levels = [
            level for level in RACE_LEVELS
            if not (high_only and level == "middle") and not (middle_only and level == "high")
        ]
        root = os.path.join(_race_root(data_dir), split)
        paths = []
        for level in levels:
            directory = os.path.join(root, level)
            everything = os.path.join(directory, "all.txt")
            if os.path.isfile(everything):
                paths.append(everything)
            else:
                paths.extend(sorted(glob.glob(os.path.join(directory, "*.txt"))))
        if not paths:
            raise DataError("%s: no RACE %s files (expected %s/all.txt or *.txt)" %
                            (root, split, "{%s}" % ",".join(levels)))
        return paths
    path = _first_existing(data_dir, ("%s.jsonl" % split, "%s.json" % split))
    if not path:
        raise DataError("%s: no %s.jsonl file" % (data_dir, split))
    return [path]


def read_files(task, paths, require_labels=True, max_options=DEFAULT_MAX_OPTIONS):
    """Reads the examples of a task from the given files, in order.

    Args:
      task: "c3", "race" or "jsonl".
      paths: the files (see ``data_files``).
      require_labels: every question must have its answer.
      max_options: the largest number of options accepted.

    Returns:
      list of MultipleChoiceExample.

    Raises:
      DataError: for bad data (see the readers), or no example at all.
    """
    task = canonical_task(task)
    examples = []
    for path in paths:
        if task == "c3":
            found = read_c3_file(path, require_labels, max_options, first_index=len(examples))
        elif task == "race":
            found = read_race_file(path, require_labels, max_options)
        else:
            found = read_jsonl_file(path, require_labels, max_options, first_index=len(examples))
        examples.extend(found)
    if not examples:
        raise DataError("%s: no questions in the file%s" %
                        (", ".join(paths), "s" if len(paths) > 1 else ""))
    return examples


def read_examples(task, data_dir, split, max_options=DEFAULT_MAX_OPTIONS, high_only=False,
                  middle_only=False):
    """Reads one split of a task (answers required except for "test").

    Returns:
      list of MultipleChoiceExample.

    Raises:
      DataError, ValueError: see ``data_files`` and ``read_files``.
    """
    paths = data_files(task, data_dir, split, high_only, middle_only)
    return read_files(task, paths, require_labels=(split != "test"), max_options=max_options)


# ---------------------------------------------------------------------------
# Features.
# ---------------------------------------------------------------------------


class InputFeatures(object):
    """The model inputs of one example (all options flattened).

    Attributes:
      input_ids, input_mask, segment_ids: num_choices * max_seq_length ints;
        option k occupies ``[k * max_seq_length, (k + 1) * max_seq_length)``.
      option_mask: num_choices ints, 1 for the example's options.
      label_id: the right option (0 when unknown).
      is_real_example: False for padding records.
      example_id: the example's id (not written to records).
    """

    def __init__(self, input_ids, input_mask, segment_ids, option_mask, label_id,
                 is_real_example=True, example_id=None):
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.option_mask = option_mask
        self.label_id = label_id
        self.is_real_example = is_real_example
        self.example_id = example_id

    def as_dict(self):
        """OrderedDict record name -> list of ints (the names of ``feature_spec``)."""
        return collections.OrderedDict([
            ("input_ids", list(self.input_ids)),
            ("input_mask", list(self.input_mask)),
            ("segment_ids", list(self.segment_ids)),
            ("option_mask", list(self.option_mask)),
            ("label_ids", [int(self.label_id)]),
            ("is_real_example", [int(bool(self.is_real_example))]),
        ])


def feature_spec(max_seq_length, num_choices):
    """Record name -> (shape, dtype name) of the feature records.

    ``label_ids`` and ``is_real_example`` are scalars (shape []); the names
    are those of ``InputFeatures.as_dict`` (and of Google's RACE records,
    which lack ``option_mask``).
    """
    width = num_choices * max_seq_length
    return collections.OrderedDict([
        ("input_ids", ([width], "int64")),
        ("input_mask", ([width], "int64")),
        ("segment_ids", ([width], "int64")),
        ("option_mask", ([num_choices], "int64")),
        ("label_ids", ([], "int64")),
        ("is_real_example", ([], "int64")),
    ])


def _check_lengths(max_seq_length, max_qa_length, num_choices):
    if max_seq_length < 4:
        raise ValueError("max_seq_length must be at least 4 ([CLS], [SEP], [SEP] and one "
                         "token), got %d" % max_seq_length)
    if max_qa_length < 1:
        raise ValueError("max_qa_length must be at least 1, got %d" % max_qa_length)
    if num_choices < 2:
        raise ValueError("num_choices must be at least 2, got %d" % num_choices)


def truncate_option_tokens(context_tokens, qa_tokens, max_seq_length, max_qa_length):
    """Google's RACE truncation of one option's pair of token lists.

    The question+option tokens keep their LAST ``min(max_qa_length,
    max_seq_length - 3)`` tokens; the context keeps its first tokens, as
    many as the rest of the ``max_seq_length - 3`` positions allow.

    Returns:
      (context tokens, qa tokens): new lists.
    """
    budget = min(max_qa_length, max_seq_length - 3)
    qa = list(qa_tokens[len(qa_tokens) - budget:]) if len(qa_tokens) > budget else list(qa_tokens)
    context = list(context_tokens[:max_seq_length - 3 - len(qa)])
    return context, qa


def encode_option(context_tokens, qa_tokens, max_seq_length, max_qa_length):
    """``[CLS] context [SEP] qa [SEP]`` tokens (unpadded) and their segment ids."""
    context, qa = truncate_option_tokens(context_tokens, qa_tokens, max_seq_length, max_qa_length)
    tokens = ["[CLS]"] + context + ["[SEP]"] + qa + ["[SEP]"]
    segment_ids = [0] * (len(context) + 2) + [1] * (len(qa) + 1)
    return tokens, segment_ids


def _padding_features(max_seq_length, num_choices):
    zeros = [0] * (num_choices * max_seq_length)
    return InputFeatures(zeros, list(zeros), list(zeros), [0] * num_choices, 0,
                         is_real_example=False)


def convert_single_example(example, tokenizer, max_seq_length, max_qa_length, num_choices):
    """Encodes one example (or a ``classifier_tasks.PaddingInputExample``).

    Args:
      example: MultipleChoiceExample or PaddingInputExample.
      tokenizer: tokenization.FullTokenizer.
      max_seq_length: length of each option's sequence.
      max_qa_length: tokens kept of each question+option (its last ones).
      num_choices: options per record (missing ones are zero rows).

    Returns:
      InputFeatures.

    Raises:
      DataError: the example has more options than ``num_choices``.
    """
    if isinstance(example, classifier_tasks.PaddingInputExample):
        return _padding_features(max_seq_length, num_choices)
    if len(example.options) > num_choices:
        raise DataError("%s: %d options but records hold %d (num_choices)" %
                        (example.source, len(example.options), num_choices))
    context_tokens = tokenizer.tokenize(example.context)
    input_ids, input_mask, segment_ids = [], [], []
    for qa in example.qa_texts():
        tokens, segments = encode_option(context_tokens, tokenizer.tokenize(qa), max_seq_length,
                                         max_qa_length)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        padding = [0] * (max_seq_length - len(ids))
        input_ids += ids + padding
        input_mask += [1] * len(ids) + padding
        segment_ids += segments + padding
    missing = num_choices - len(example.options)
    zeros = [0] * (missing * max_seq_length)
    option_mask = [1] * len(example.options) + [0] * missing
    label = example.label if example.label is not None else 0
    return InputFeatures(input_ids + zeros, input_mask + zeros, segment_ids + list(zeros),
                         option_mask, label, example_id=example.example_id)


def generate_features(examples, tokenizer, max_seq_length, max_qa_length=128,
                      num_choices=DEFAULT_MAX_OPTIONS, progress=None):
    """Yields the InputFeatures of each example, one at a time.

    The arguments are checked before the first example is encoded. Large
    sets (RACE: 88k questions of 4 x 512 ids) are best streamed this way
    into a feature file, e.g. ``feature_io.write_records(path, (f.as_dict()
    for f in generate_features(...)), feature_spec(...))``.

    Args:
      examples: MultipleChoiceExamples (PaddingInputExamples allowed).
      tokenizer: tokenization.FullTokenizer.
      max_seq_length: length of each option's sequence.
      max_qa_length: tokens kept of each question+option (Google: 128).
      num_choices: options per record.
      progress: optional object with ``update(n)``, called per example.

    Returns:
      a generator of InputFeatures.

    Raises:
      ValueError: for impossible lengths, or a vocabulary without [CLS] or
        [SEP] (at once).
      DataError: an example with more options than ``num_choices`` (when
        it is reached).
    """
    _check_lengths(max_seq_length, max_qa_length, num_choices)
    classifier_utils.special_tokens_check(tokenizer)

    def _generate():
        for example in examples:
            yield convert_single_example(example, tokenizer, max_seq_length, max_qa_length,
                                         num_choices)
            if progress is not None:
                progress.update(1)

    return _generate()


def convert_examples_to_features(examples, tokenizer, max_seq_length, max_qa_length=128,
                                 num_choices=DEFAULT_MAX_OPTIONS, progress=None):
    """Encodes examples (see ``generate_features``) into a list.

    Returns:
      list of InputFeatures, one per example.

    Raises:
      ValueError: for impossible lengths.
      DataError: an example with more options than ``num_choices``.
    """
    return list(
        generate_features(examples, tokenizer, max_seq_length, max_qa_length, num_choices,
                          progress))


# ---------------------------------------------------------------------------
# Model.
# ---------------------------------------------------------------------------

ModelOutputs = collections.namedtuple("ModelOutputs",
                                      ["loss", "per_example_loss", "logits", "probabilities"])


def head_variable_patterns(albert_config):
    """Regexes of the head variables a pretrained checkpoint does not have."""
    return classifier_utils.head_variable_patterns(albert_config)


def head_problems(shapes):
    """Problems with the head variables of a checkpoint ({name: shape}).

    A classifier checkpoint (``output_bias`` [num_labels > 1]) cannot hold a
    multiple-choice model, whose head scores one option at a time.
    """
    bias = shapes.get("output_bias")
    if bias is not None and list(bias) != [1]:
        return [
            "the head has %d outputs; the multiple-choice head has 1 (a score per "
            "option)" % bias[0]
        ]
    return []


def _flatten_options(input_ids, num_choices):
    """(batch, num_choices, length) of [B, C, L] or flattened [B, C * L] inputs."""
    rank = input_ids.shape.ndims
    if rank == 3:
        batch, choices, length = modeling.get_shape_list(input_ids, expected_rank=3)
        if num_choices is None:
            num_choices = choices
        elif isinstance(choices, int) and choices != num_choices:
            raise ValueError("inputs hold %d options, num_choices is %d" % (choices, num_choices))
        return batch, num_choices, length
    batch, width = modeling.get_shape_list(input_ids, expected_rank=2, name="input_ids")
    if not num_choices:
        raise ValueError("num_choices is needed for flattened [batch, num_choices * "
                         "length] inputs")
    if isinstance(width, int) and width % num_choices:
        raise ValueError("input width %d is not a multiple of num_choices %d" %
                         (width, num_choices))
    return batch, num_choices, width // num_choices


def create_model(albert_config, is_training, input_ids, input_mask, segment_ids, option_mask,
                 labels, num_choices, dropout=0.1, use_one_hot_embeddings=False, use_einsum=True,
                 hub_module_handle=None):
    """Builds the encoder and Google's RACE head (a score per option).

    Args:
      albert_config: modeling.AlbertConfig.
      is_training: apply dropout.
      input_ids, input_mask, segment_ids: int32 [B, num_choices * L]
        (flattened records) or [B, num_choices, L].
      option_mask: int32 [B, num_choices], 1 for real options, or None (all
        real). Masked options get the logit MASKED_LOGIT.
      labels: int32 [B] right options, or None (no loss).
      num_choices: options per example (None with [B, C, L] inputs: C).
      dropout: dropout probability on the pooled output when training
        (Google's --dropout_prob).
      use_one_hot_embeddings: one-hot embedding lookup (TPU).
      use_einsum: False builds the einsum-free (TFLite-friendly) graph.
      hub_module_handle: take the encoder from this TF1 Hub module
        (hub_export.encoder) instead of building AlbertModel.

    Returns:
      ModelOutputs(loss, per_example_loss, logits [B, num_choices],
      probabilities [B, num_choices]); the losses are None without labels.
    """
    batch, num_choices, length = _flatten_options(input_ids, num_choices)
    rows = [-1, length]
    flat_ids = tf.reshape(input_ids, rows)
    model = hub_export.encoder(
        hub_module_handle,
        albert_config,
        is_training,
        flat_ids,
        tf.reshape(input_mask, rows),
        tf.reshape(segment_ids, rows),
        use_one_hot_embeddings=use_one_hot_embeddings,
        use_einsum=use_einsum,
        scope="bert",
        # Only [CLS] of the last layer is needed: the pooled output is the same.
        output_positions=tf.zeros_like(flat_ids[:, :1]))
    pooled = model.get_pooled_output()
    hidden_size = pooled.shape.as_list()[-1]
    output_weights = tf.get_variable("output_weights", [1, hidden_size],
                                     initializer=tf.truncated_normal_initializer(stddev=0.02))
    output_bias = tf.get_variable("output_bias", [1], initializer=tf.zeros_initializer())
    with tf.variable_scope("loss"):
        x = pooled
        if classifier_utils.uses_pooled_layer_norm(albert_config):
            x = modeling.layer_norm(x, "LayerNorm")
        if is_training:
            x = modeling.dropout(x, dropout)
        scores = tf.nn.bias_add(tf.matmul(x, output_weights, transpose_b=True), output_bias)
        logits = tf.reshape(scores, [batch, num_choices])
        if option_mask is not None:
            real = tf.reshape(tf.cast(option_mask, tf.bool), [batch, num_choices])
            logits = tf.where(real, logits, tf.fill(tf.shape(logits), MASKED_LOGIT))
        probabilities = tf.nn.softmax(logits, axis=-1)
        loss = per_example_loss = None
        if labels is not None:
            log_probs = tf.nn.log_softmax(logits, axis=-1)
            one_hot = tf.one_hot(labels, depth=num_choices, dtype=tf.float32)
            per_example_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1)
            loss = tf.reduce_mean(per_example_loss)
    return ModelOutputs(loss, per_example_loss, tf.identity(logits, name="logits"),
                        tf.identity(probabilities, name="probabilities"))


def model_fn_builder(albert_config, num_choices, init_checkpoint=None, learning_rate=1e-5,
                     num_train_steps=1, num_warmup_steps=0, use_tpu=False,
                     use_one_hot_embeddings=False, optimizer="adamw", dropout=0.1,
                     init_report_file=None, verbose=False, gradient_accumulation_steps=1,
                     hub_module_handle=None):
    """The Estimator model_fn (TPUEstimatorSpec when ``use_tpu``).

    Features: ``feature_spec``'s records (``option_mask`` may be absent:
    every option is then real). Training initialises from
    ``init_checkpoint`` strictly (only the head may be new) and reports the
    load in one line, once: not when the Estimator restores a checkpoint of
    its own output directory instead. Prediction gives ``probabilities``
    [num_choices], ``label_ids`` and ``is_real_example``.

    Args:
      albert_config: modeling.AlbertConfig.
      num_choices: options per record.
      init_checkpoint: pretrained (or Google RACE) checkpoint, or None.
      learning_rate: peak learning rate (Google's run_race: 1e-5).
      num_train_steps: total training steps.
      num_warmup_steps: warmup steps.
      use_tpu: build TPU specs.
      use_one_hot_embeddings: one-hot embedding lookup.
      optimizer: "adamw" or "lamb".
      dropout: dropout on the pooled output.
      init_report_file: where the full load report is written.
      verbose: log every variable of the load report.
      gradient_accumulation_steps: micro-batches per update.
      hub_module_handle: fine-tune the encoder of this TF1 Hub module (its
        variables are the starting point; give no init_checkpoint).

    Returns:
      model_fn(features, labels, mode, params, config).
    """

    def build(features, is_training):
        outputs = create_model(albert_config, is_training, features["input_ids"],
                               features["input_mask"], features["segment_ids"],
                               features.get("option_mask"), features["label_ids"], num_choices,
                               dropout, use_one_hot_embeddings, hub_module_handle=hub_module_handle)
        return outputs.loss, outputs

    def predictions(features, outputs):
        return {
            "probabilities": outputs.probabilities,
            "label_ids": features["label_ids"],
            "is_real_example": features["is_real_example"]
        }

    return driver_utils.fine_tuning_model_fn(
        build, predictions, init_checkpoint, head_variable_patterns(albert_config), learning_rate,
        num_train_steps, num_warmup_steps, use_tpu=use_tpu, optimizer=optimizer,
        init_report_file=init_report_file, verbose=verbose,
        gradient_accumulation_steps=gradient_accumulation_steps)


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------

SERVING_INPUTS = classifier_utils.SERVING_INPUTS + ("option_mask",)


def export_saved_model(albert_config, checkpoint, export_dir, num_choices=None, assets=None):
    """Writes a SavedModel of a fine-tuned multiple-choice model.

    The ``serving_default`` signature (also named ``predict``) takes
    ``input_ids``, ``input_mask``, ``segment_ids`` (int32 [batch,
    num_choices, length], any length up to max_position_embeddings) and
    ``option_mask`` (int32 [batch, num_choices]) and returns
    ``probabilities`` and ``logits`` [batch, num_choices]. The graph is the
    einsum-free one (same weights and values). An existing SavedModel in
    ``export_dir`` is replaced; the new one appears only when complete.

    Args:
      albert_config: modeling.AlbertConfig of the checkpoint.
      checkpoint: fine-tuned checkpoint prefix.
      export_dir: output directory.
      num_choices: options per example, or None to accept any number.
      assets: optional dict file name -> text or bytes, written to
        ``<export_dir>/assets.extra/`` (config, vocabulary, ...).

    Raises:
      ValueError: when export_dir exists and holds something else than a
        SavedModel.
    """

    def build_signature():
        inputs = collections.OrderedDict(
            (name, tf.placeholder(tf.int32, [None, num_choices, None], name=name))
            for name in classifier_utils.SERVING_INPUTS)
        inputs["option_mask"] = tf.placeholder(tf.int32, [None, num_choices], name="option_mask")
        outputs = create_model(albert_config, False, inputs["input_ids"], inputs["input_mask"],
                               inputs["segment_ids"], inputs["option_mask"], None, num_choices,
                               use_einsum=False)
        return inputs, {"probabilities": outputs.probabilities, "logits": outputs.logits}

    driver_utils.write_saved_model(export_dir, build_signature, checkpoint, assets)


# ---------------------------------------------------------------------------
# Metrics and predictions.
# ---------------------------------------------------------------------------


def predicted_labels(probabilities, examples=None):
    """The predicted option of each row (the first on ties).

    With ``examples``, only each example's own options compete.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if examples is None:
        return [int(k) for k in np.argmax(probabilities, axis=-1)] if len(probabilities) else []
    return [
        int(np.argmax(row[:len(example.options)])) for row, example in zip(probabilities, examples)
    ]


def accuracy(probabilities, label_ids):
    """Exact accuracy: (rows whose argmax is the label) / rows; 0.0 without rows."""
    labels = np.asarray(label_ids, dtype=np.int64).reshape([-1])
    if not len(labels):
        return 0.0
    predictions = np.asarray(predicted_labels(probabilities), dtype=np.int64)
    if predictions.shape != labels.shape:
        raise ValueError("%d rows of probabilities for %d labels" % (len(predictions), len(labels)))
    return int(np.sum(predictions == labels)) / float(len(labels))


def compute_metrics(probabilities, label_ids):
    """Accuracy and loss of predictions (real examples only).

    Args:
      probabilities: [N, num_choices] option probabilities.
      label_ids: [N] right options.

    Returns:
      OrderedDict: ``num_examples``, ``num_correct``, ``eval_accuracy``
      (exact: num_correct / num_examples) and ``eval_loss`` (mean
      cross-entropy, probabilities floored at 1e-12).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(label_ids, dtype=np.int64).reshape([-1])
    metrics = collections.OrderedDict()
    metrics["num_examples"] = int(len(labels))
    if not len(labels):
        metrics["num_correct"] = 0
        metrics["eval_accuracy"] = metrics["eval_loss"] = 0.0
        return metrics
    correct = int(np.sum(np.argmax(probabilities, axis=-1) == labels))
    metrics["num_correct"] = correct
    metrics["eval_accuracy"] = correct / float(len(labels))
    picked = probabilities[np.arange(len(labels)), labels]
    metrics["eval_loss"] = float(np.mean(-np.log(np.maximum(picked, 1e-12))))
    return metrics


def c3_submission_file_name(test_file=None):
    """The name CLUE expects for C3 predictions of a test file.

    CLUE's submission notes (updated 2021-09-04) name the file after the
    test set's version: ``c310_predict.json`` for ``test1.0.json`` and
    ``c311_predict.json`` for ``test1.1.json``; older submissions (and any
    other file) use ``c3_predict.json``.
    """
    base = os.path.basename(test_file or "")
    match = re.match(r"^test(\d)\.(\d)\.json$", base)
    if match:
        return "c3%s%s_predict.json" % match.groups()
    return C3_SUBMISSION_FILE


def write_submission(output_dir, task, examples, probabilities, file_name=None):
    """Writes the predictions of the examples, atomically.

    * c3: CLUE's format, ``c3_predict.json`` by default (see
      ``c3_submission_file_name`` for the versioned names): one JSON object
      per line, in the order of the test file, ``{"id": <the question's id>,
      "label": <index of the predicted choice, from 0>}``.
    * race, jsonl: ``predictions.jsonl``: one line per example, ``{"id",
      "label": <predicted index>, "probabilities": [one per option]}``.

    Args:
      output_dir: directory to write into.
      task: "c3", "race" or "jsonl".
      examples: the predicted examples (padding excluded), in order.
      probabilities: one row per example ([num_choices]; padded options
        are ignored).
      file_name: overrides the file name.

    Returns:
      the path written.

    Raises:
      ValueError: when examples and probabilities differ in number.
    """
    task = canonical_task(task)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if len(probabilities) != len(examples):
        raise ValueError("%d rows of probabilities for %d examples" %
                         (len(probabilities), len(examples)))
    labels = predicted_labels(probabilities, examples)
    lines = []
    for example, row, label in zip(examples, probabilities, labels):
        record = collections.OrderedDict([("id", example.example_id), ("label", label)])
        if task != "c3":
            record["probabilities"] = [float(p) for p in row[:len(example.options)]]
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    default = C3_SUBMISSION_FILE if task == "c3" else PREDICTIONS_FILE
    path = os.path.join(output_dir, file_name or default)
    script_utils.write_text(path, "".join(lines))
    return path
