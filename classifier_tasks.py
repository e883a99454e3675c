# coding=utf-8
"""Classification tasks: the file formats of each task, read and checked, and its submission file.

What a task's data looks like and how it is read, with no TensorFlow model in
sight (``tf`` is used only for log messages):

* ``InputExample`` (one or two texts and a label) and ``PaddingInputExample``
  (the fake example that fills a TPU batch).
* ``read_lines`` / ``read_tsv`` / ``read_json_lines``: UTF-8 text, TSV and
  JSON-lines files, every problem reported as a ``DataError`` naming the file
  and the line.
* Processors read the files of each task (LCQMC, the generic ``sentence`` and
  ``sentence_pair`` TSV tasks, CLUE, XNLI, ChnSentiCorp, BQ, GLUE), check
  every line and label, and write the benchmark's submission file. A
  malformed line raises ``DataError`` naming the file, the line number and
  the problem. ``get_processor(name)`` finds a task by name or alias;
  ``known_tasks()`` lists them.

``DataError`` is also the base of the data errors of ``squad_data``,
``ner_utils`` and ``multiple_choice_utils``, which read their own formats.

Neighbours: ``classifier_utils`` turns these examples into TFRecord features
and holds the model, model_fn and SavedModel export; ``classifier_metrics``
scores the predictions; ``run_classifier.py`` drives all three.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import io
import json
import os
import re

import numpy as np
import six

import script_utils
from tf_compat import tf

SPLITS = ("train", "dev", "test")


class DataError(ValueError):
    """Malformed or inconsistent task data (the message names file and line)."""


class InputExample(object):
    """One example: one or two texts and a label.

    Attributes:
      guid: unique id within the split (e.g. ``train-17``).
      text_a: the first (or only) text.
      text_b: the second text, or None for single-sentence tasks.
      label: the label string (a float for regression), or None when the
        split has no labels (benchmark test sets).
      item_id: the id the benchmark's submission file uses for this example
        (the ``id`` field of CLUE files, the index column of GLUE files);
        several examples may share one item (COPA).
      source: ``file:line`` the example came from.
    """

    def __init__(self, guid, text_a, text_b=None, label=None, item_id=None, source=None):
        self.guid = guid
        self.text_a = text_a
        self.text_b = text_b
        self.label = label
        self.item_id = item_id
        self.source = source

    def __repr__(self):
        return "InputExample(%r, %r, %r, %r)" % (self.guid, self.text_a, self.text_b, self.label)


class PaddingInputExample(object):
    """A fake example that fills the last batch on TPU (``is_real_example=0``)."""


# ---------------------------------------------------------------------------
# Reading files.
# ---------------------------------------------------------------------------


def read_lines(path):
    """Yields ``(line_number, text)`` for each non-blank line of a UTF-8 file.

    Lines are split on "\\n" only (a trailing "\\r" is removed), so Unicode
    line separators inside a text stay part of it.

    Args:
      path: the file.

    Yields:
      (1-based line number, line without its line end).

    Raises:
      DataError: when the file cannot be read or a line is not UTF-8.
    """
    try:
        with io.open(path, "rb") as reader:
            data = reader.read()
    except (IOError, OSError) as e:
        raise DataError("%s: cannot read: %s" % (path, getattr(e, "strerror", None) or e))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for index, raw in enumerate(data.split(b"\n")):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError("%s:%d: not valid UTF-8 (byte %d)" % (path, index + 1, e.start + 1))
        if text.strip():
            yield index + 1, text


def read_tsv(path):
    """Yields ``(line_number, fields)`` of a tab-separated file (no quoting)."""
    for line_number, text in read_lines(path):
        yield line_number, text.split("\t")


def read_json_lines(path):
    """Yields ``(line_number, object)`` of a file with one JSON object per line.

    Raises:
      DataError: when a line is not a JSON object.
    """
    for line_number, text in read_lines(path):
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise DataError("%s:%d: not valid JSON: %s" % (path, line_number, e))
        if not isinstance(obj, dict):
            raise DataError("%s:%d: expected a JSON object, got %s" %
                            (path, line_number, type(obj).__name__))
        yield line_number, obj


# Words that only appear in header rows (compared lower-cased).
_HEADER_LABEL_NAMES = frozenset([
    "label", "labels", "gold_label", "is_duplicate", "class", "category", "y", "target", "score",
    "similarity", "quality"
])
_HEADER_TEXT_NAMES = frozenset([
    "text", "text_a", "text_b", "sentence", "sentence1", "sentence2", "sentence_a", "sentence_b",
    "query", "query1", "query2", "question", "question1", "question2", "q1", "q2", "s1", "s2",
    "review", "content", "id", "qid", "guid", "index", "idx"
])


def _looks_like_header(fields, label_column):
    """True when a first line is a header row (see ``TsvProcessor``)."""
    names = [f.strip().lower() for f in fields]
    if label_column is not None and -len(names) <= label_column < len(names):
        return names[label_column] in _HEADER_LABEL_NAMES
    return all(n in _HEADER_TEXT_NAMES or n in _HEADER_LABEL_NAMES for n in names)


# ---------------------------------------------------------------------------
# Processors.
# ---------------------------------------------------------------------------


class DataProcessor(object):
    """Reads one task's train/dev/test files.

    Subclasses set ``labels`` (or override ``get_labels``) and
    ``split_files`` (split -> candidate file names, relative to the data
    directory; the first that exists is used), and implement
    ``_read_file``.
    """

    name = None
    labels = ("0", "1")
    is_regression = False
    # The eval metric that selects the best checkpoint (a compute_metrics key).
    metric = "eval_accuracy"
    split_files = {"train": ("train.txt",), "dev": ("dev.txt",), "test": ("test.txt",)}
    subdir = None

    def get_labels(self, data_dir=None):
        """The label list (its order defines the label ids).

        Args:
          data_dir: unused by most tasks (generic tasks may read labels.txt).

        Returns:
          list of label strings ([None] for regression).
        """
        del data_dir
        return list(self.labels)

    def task_dir(self, data_dir):
        """The directory holding the task files (``data_dir/<TASK>`` or data_dir)."""
        if self.subdir:
            nested = os.path.join(data_dir, self.subdir)
            if os.path.isdir(nested):
                return nested
        return data_dir

    def data_file(self, data_dir, split):
        """The file of a split.

        Args:
          data_dir: the task's data directory.
          split: "train", "dev" or "test".

        Returns:
          the path of the existing file.

        Raises:
          DataError: when none of the expected files exists.
        """
        if split not in self.split_files:
            raise DataError("the %s task has no %s split" % (self.name, split))
        directory = self.task_dir(data_dir)
        candidates = self.split_files[split]
        for name in candidates:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return path
        raise DataError("%s: no %s file for task %s (expected %s)" %
                        (directory, split, self.name, " or ".join(candidates)))

    def get_examples(self, data_dir, split):
        """Reads the examples of one split.

        Args:
          data_dir: the task's data directory.
          split: "train", "dev" or "test".

        Returns:
          list of InputExample.

        Raises:
          DataError: for a missing file, a malformed line or an unknown label.
        """
        path = self.data_file(data_dir, split)
        examples = list(self._read_file(path, split, data_dir))
        if not examples:
            raise DataError("%s: no examples in the file" % path)
        return examples

    def get_train_examples(self, data_dir):
        """The training examples."""
        return self.get_examples(data_dir, "train")

    def get_dev_examples(self, data_dir):
        """The development (evaluation) examples."""
        return self.get_examples(data_dir, "dev")

    def get_test_examples(self, data_dir):
        """The test (prediction) examples."""
        return self.get_examples(data_dir, "test")

    def _read_file(self, path, split, data_dir):
        raise NotImplementedError()

    def _check_label(self, label, path, line_number, data_dir=None):
        """Returns a valid label or raises DataError naming the line."""
        if self.is_regression:
            try:
                return float(label)
            except (TypeError, ValueError):
                raise DataError("%s:%d: label %r is not a number" % (path, line_number, label))
        label = label if isinstance(
            label, six.string_types) else (None if label is None else json.dumps(label))
        memo = self.__dict__.setdefault("_labels_memo", {})
        if data_dir not in memo:
            memo[data_dir] = self.get_labels(data_dir)
        labels = memo[data_dir]
        if label not in labels:
            raise DataError("%s:%d: unknown label %r; the %s task's labels are: %s" %
                            (path, line_number, label, self.name, ", ".join(labels)))
        return label

    # -- predictions and submissions ---------------------------------------

    def prediction_labels(self, probabilities, data_dir=None):
        """The predicted label of each row of ``probabilities``."""
        if self.is_regression:
            return [float(p[0]) for p in probabilities]
        labels = self.get_labels(data_dir)
        return [labels[int(np.argmax(p))] for p in probabilities]

    def submission_file_name(self):
        """Base name of the submission file."""
        return "submit_results.tsv"

    def write_submission(self, output_dir, examples, probabilities, data_dir=None):
        """Writes the submission file of the task's benchmark.

        The default is a TSV with the header ``index\\tprediction`` and one
        row per example (the item id, or the running index).

        Args:
          output_dir: directory to write into.
          examples: the predicted InputExamples (padding excluded).
          probabilities: one row of class probabilities (or [value] for
            regression) per example.
          data_dir: the task's data directory.

        Returns:
          the path written.
        """
        path = os.path.join(output_dir, self.submission_file_name())
        predictions = self.prediction_labels(probabilities, data_dir)
        lines = ["index\tprediction\n"]
        for index, (example, prediction) in enumerate(zip(examples, predictions)):
            item = example.item_id if example.item_id is not None else index
            lines.append("%s\t%s\n" % (item, self._format_prediction(prediction)))
        script_utils.write_text(path, "".join(lines))
        return path

    def _format_prediction(self, prediction):
        if self.is_regression:
            return "%.3f" % min(5.0, max(0.0, prediction))
        return prediction


Columns = collections.namedtuple("Columns", ["text_a", "text_b", "label", "guid"])
Columns.__new__.__defaults__ = (None, None, None)


class TsvProcessor(DataProcessor):
    """A task stored as tab-separated files.

    ``columns`` maps a split to ``Columns(text_a, text_b, label, guid)``
    (column indices; negative counts from the end; None when absent);
    ``test`` columns may leave the label out. ``header`` is "always" (the
    first line is skipped), "never", or "detect": the first line is skipped
    only when it is a header row, i.e. its label field is a column name such
    as ``label`` (or, without a label column, every field is one); anything
    else is data, so a wrong label on line 1 is reported, not skipped.
    """

    columns = {"train": Columns(0, 1, 2), "dev": Columns(0, 1, 2), "test": Columns(0, 1, 2)}
    test_columns_without_label = None
    header = "detect"
    never_header_splits = ()
    tolerate_malformed = False
    # Warn (once per file) about lines with more non-empty fields than read.
    warn_extra_columns = False

    def _columns_for(self, split, fields):
        cols = self.columns[split]
        unlabeled = self.test_columns_without_label
        if split == "test" and unlabeled is not None and len(fields) < _width(cols):
            return unlabeled
        return cols

    def _read_file(self, path, split, data_dir):
        skipped = []
        extra = []  # line numbers with more (non-empty) fields than the task reads
        for line_number, fields in read_tsv(path):
            cols = self._columns_for(split, fields)
            if line_number == 1 and split not in self.never_header_splits:
                if self.header == "always" or (self.header == "detect" and
                                               _looks_like_header(fields, cols.label)):
                    continue
            width = _width(cols)
            if len(fields) < width:
                problem = "expected at least %d tab-separated fields (%s), got %d" % (
                    width, _describe(cols), len(fields))
                if self.tolerate_malformed:
                    skipped.append("%s:%d: %s" % (path, line_number, problem))
                    continue
                raise DataError("%s:%d: %s" % (path, line_number, problem))
            if self.warn_extra_columns and any(f.strip() for f in fields[width:]):
                extra.append((line_number, width, _describe(cols)))
            text_a = fields[cols.text_a].strip()
            text_b = fields[cols.text_b].strip() if cols.text_b is not None else None
            if not text_a or (cols.text_b is not None and not text_b):
                problem = "empty text field"
                if self.tolerate_malformed:
                    skipped.append("%s:%d: %s" % (path, line_number, problem))
                    continue
                raise DataError("%s:%d: %s" % (path, line_number, problem))
            label = None
            if cols.label is not None:
                label = self._check_label(fields[cols.label].strip(), path, line_number, data_dir)
            guid = fields[cols.guid].strip() if cols.guid is not None else None
            yield InputExample(guid="%s-%d" % (split, line_number), text_a=text_a, text_b=text_b,
                               label=label, item_id=guid, source="%s:%d" % (path, line_number))
        if skipped:
            tf.logging.warning("%s: skipped %d malformed line(s), first: %s", path, len(skipped),
                               skipped[0])
        if extra:
            tf.logging.warning(
                "%s: %d line(s) have more than the %d tab-separated fields this task reads "
                "(%s); the extra fields are ignored (first: line %d)", path, len(extra),
                extra[0][1], extra[0][2], extra[0][0])


def _width(cols):
    indices = [i for i in cols if i is not None]
    return max(i + 1 if i >= 0 else -i for i in indices)


def _describe(cols):
    names = []
    for name in Columns._fields:
        index = getattr(cols, name)
        if index is not None:
            names.append("%s=column %d" % (name, index + 1 if index >= 0 else index))
    return ", ".join(names)


class LcqmcProcessor(TsvProcessor):
    """LCQMC (brightmart's layout): ``text_a\\ttext_b\\tlabel`` in train/dev/test.txt."""

    name = "lcqmc"
    test_columns_without_label = Columns(0, 1)
    warn_extra_columns = True


class BqProcessor(LcqmcProcessor):
    """BQ corpus: same layout as LCQMC (``.txt`` or ``.tsv`` files)."""

    name = "bq"
    split_files = {s: ("%s.txt" % s, "%s.tsv" % s) for s in SPLITS}


class _GenericLabels(object):
    """Labels of the generic tasks: ``labels.txt`` in the data dir, else 0/1."""

    def get_labels(self, data_dir=None):
        if data_dir:
            path = os.path.join(data_dir, "labels.txt")
            if os.path.isfile(path):
                labels = [text.strip() for _, text in read_lines(path)]
                if len(set(labels)) != len(labels):
                    raise DataError("%s: duplicate labels" % path)
                return labels
        return list(self.labels)


class SentencePairProcessor(_GenericLabels, TsvProcessor):
    """Generic pairs: ``label\\ttext_a\\ttext_b`` in train/dev/test.tsv.

    brightmart's ``train_0827.tsv`` names are accepted too. Labels are read
    from ``labels.txt`` (one per line) in the data dir, else "0" and "1".
    """

    name = "sentence_pair"
    split_files = {s: ("%s.tsv" % s, "%s_0827.tsv" % s) for s in SPLITS}
    columns = {s: Columns(1, 2, 0) for s in SPLITS}
    test_columns_without_label = Columns(0, 1)
    warn_extra_columns = True


class SentenceProcessor(_GenericLabels, TsvProcessor):
    """Generic single sentences: ``label\\ttext`` in train/dev/test.tsv."""

    name = "sentence"
    split_files = {s: ("%s.tsv" % s,) for s in SPLITS}
    columns = {s: Columns(1, None, 0) for s in SPLITS}
    test_columns_without_label = Columns(0)
    warn_extra_columns = True


class ChnSentiCorpProcessor(TsvProcessor):
    """ChnSentiCorp: ``label\\ttext_a`` with a header row, train/dev/test.tsv."""

    name = "chnsenticorp"
    split_files = {s: ("%s.tsv" % s,) for s in SPLITS}
    columns = {s: Columns(1, None, 0) for s in SPLITS}
    test_columns_without_label = Columns(0)
    warn_extra_columns = True


# -- CLUE (JSON lines) --------------------------------------------------------


class JsonProcessor(DataProcessor):
    """A CLUE-style task: train/dev/test.json with one JSON object per line.

    The test files carry no real labels (missing, or a placeholder such as
    "100" or "neutral"): test examples get ``label=None``. Train and dev
    rows whose label is in ``dropped_labels`` (e.g. "-", no annotator
    agreement) are skipped.
    """

    split_files = {s: ("%s.json" % s,) for s in SPLITS}
    text_a_key = "sentence1"
    text_b_key = "sentence2"
    label_key = "label"
    dropped_labels = ()

    def _field(self, obj, key, path, line_number):
        if key not in obj:
            raise DataError("%s:%d: missing field %r" % (path, line_number, key))
        value = obj[key]
        if isinstance(value, list):
            value = " ".join(six.text_type(v) for v in value)
        elif not isinstance(value, six.string_types):
            value = six.text_type(value)
        if not value.strip():
            raise DataError("%s:%d: empty field %r" % (path, line_number, key))
        return value.strip()

    def _texts(self, obj, path, line_number):
        """[(text_a, text_b, label_or_None_for_the_line_label)] of one object."""
        text_a = self._field(obj, self.text_a_key, path, line_number)
        text_b = (self._field(obj, self.text_b_key, path, line_number) if self.text_b_key else None)
        return [(text_a, text_b, None)]

    def _read_file(self, path, split, data_dir):
        dropped = 0
        for index, (line_number, obj) in enumerate(read_json_lines(path)):
            item_id = obj.get("id", obj.get("idx", index))
            label = None
            if split != "test":
                if self.label_key not in obj:
                    raise DataError("%s:%d: missing field %r" % (path, line_number, self.label_key))
                raw = obj[self.label_key]
                raw = raw if isinstance(raw, six.string_types) else json.dumps(raw)
                if raw in self.dropped_labels:
                    dropped += 1
                    continue
                label = self._check_label(raw, path, line_number, data_dir)
            for k, (text_a, text_b, own_label) in enumerate(self._texts(obj, path, line_number)):
                yield InputExample(
                    guid="%s-%d-%d" % (split, line_number, k), text_a=text_a, text_b=text_b,
                    label=own_label if (own_label is not None and label is not None) else label,
                    item_id=item_id, source="%s:%d" % (path, line_number))
        if dropped:
            tf.logging.info("%s: skipped %d example(s) labelled %s", path, dropped,
                            "/".join(self.dropped_labels))

    def submission_file_name(self):
        return "%s_predict.json" % self.name

    def _submission_extra(self, label, descriptions):
        del label, descriptions
        return {}

    def _label_descriptions(self, data_dir):
        """label -> description from the task's labels.json, if present."""
        out = {}
        if not data_dir:
            return out
        path = os.path.join(data_dir, "labels.json")
        if os.path.isfile(path):
            for _, obj in read_json_lines(path):
                if "label" in obj:
                    out[six.text_type(obj["label"])] = obj.get("label_desc",
                                                               obj.get("label_des", ""))
        return out

    def write_submission(self, output_dir, examples, probabilities, data_dir=None):
        """Writes ``{task}_predict.json``: one ``{"id": ..., "label": ...}`` per line.

        The id is the test file's ``id`` field (``idx`` for some tasks),
        falling back to the running index when the file has neither.
        """
        path = os.path.join(output_dir, self.submission_file_name())
        predictions = self.prediction_labels(probabilities, data_dir)
        descriptions = self._label_descriptions(data_dir)
        lines = []
        for example, label in zip(examples, predictions):
            record = collections.OrderedDict([("id", example.item_id), ("label", label)])
            record.update(self._submission_extra(label, descriptions))
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        script_utils.write_text(path, "".join(lines))
        return path


class AfqmcProcessor(JsonProcessor):
    """CLUE AFQMC: ``sentence1``, ``sentence2``, ``label`` 0/1."""

    name = "afqmc"


class TnewsProcessor(JsonProcessor):
    """CLUE TNEWS: ``sentence``; 15 labels "100".."116" without 105 and 111."""

    name = "tnews"
    labels = tuple(str(100 + i) for i in range(17) if i not in (5, 11))
    text_a_key = "sentence"
    text_b_key = None

    def _submission_extra(self, label, descriptions):
        return {"label_desc": descriptions.get(label, "")}


class IflytekProcessor(JsonProcessor):
    """CLUE IFLYTEK: ``sentence``; 119 labels "0".."118"."""

    name = "iflytek"
    labels = tuple(str(i) for i in range(119))
    text_a_key = "sentence"
    text_b_key = None


class CmnliProcessor(JsonProcessor):
    """CLUE CMNLI: ``sentence1``, ``sentence2``; rows labelled "-" are skipped."""

    name = "cmnli"
    labels = ("contradiction", "entailment", "neutral")
    dropped_labels = ("-",)


class OcnliProcessor(CmnliProcessor):
    """CLUE OCNLI: same fields and labels as CMNLI."""

    name = "ocnli"


class XnliProcessor(CmnliProcessor):
    """XNLI (Chinese, CLUE-style JSON lines): ``premise``, ``hypo``."""

    name = "xnli"
    text_a_key = "premise"
    text_b_key = "hypo"

    def _texts(self, obj, path, line_number):
        if self.text_b_key not in obj and "hypothesis" in obj:
            return [(self._field(obj, "premise", path,
                                 line_number), self._field(obj, "hypothesis", path,
                                                           line_number), None)]
        return super(XnliProcessor, self)._texts(obj, path, line_number)

    def _check_label(self, label, path, line_number, data_dir=None):
        if label == "contradictory":
            label = "contradiction"
        return super(XnliProcessor, self)._check_label(label, path, line_number, data_dir)

    def submission_file_name(self):
        return "xnli_predict.json"


class CslProcessor(JsonProcessor):
    """CLUE CSL: text_a = the keywords joined by spaces, text_b = ``abst``."""

    name = "csl"
    text_a_key = "keyword"
    text_b_key = "abst"


class WscProcessor(JsonProcessor):
    """CLUEWSC2020: the text with span1 wrapped in ``_..._`` and span2 in ``[...]``."""

    name = "cluewsc2020"
    labels = ("true", "false")

    def _texts(self, obj, path, line_number):
        text = self._field(obj, "text", path, line_number)
        target = obj.get("target")
        if not isinstance(target, dict):
            raise DataError("%s:%d: missing field 'target'" % (path, line_number))
        spans = []
        for number, (open_mark, close_mark) in ((1, ("_", "_")), (2, ("[", "]"))):
            span_text = target.get("span%d_text" % number)
            index = target.get("span%d_index" % number)
            if not isinstance(span_text, six.string_types) or not isinstance(index, int):
                raise DataError("%s:%d: target needs span%d_text and span%d_index" %
                                (path, line_number, number, number))
            start = _find_span(text, span_text, index)
            if start is None:
                raise DataError("%s:%d: span%d_text %r not found in the text" %
                                (path, line_number, number, span_text))
            spans.append((start, start + len(span_text), open_mark, close_mark))
        marked = text
        for start, end, open_mark, close_mark in sorted(spans, reverse=True):
            marked = marked[:start] + open_mark + marked[start:end] + close_mark + marked[end:]
        return [(marked, None, None)]


def _find_span(text, span, index):
    """Start of ``span`` in ``text``: at ``index`` if it is there, else the nearest."""
    if text[index:index + len(span)] == span:
        return index
    starts = [m.start() for m in re.finditer(re.escape(span), text)]
    if not starts:
        return None
    return min(starts, key=lambda s: abs(s - index))


class CopaProcessor(JsonProcessor):
    """COPA: each item gives two examples, (premise, choice) for "effect" and
    (choice, premise) for "cause"; the example of the right choice is "1".

    The submission has one line per item: the choice whose example has the
    higher probability of "1".
    """

    name = "copa"

    def _texts(self, obj, path, line_number):
        premise = self._field(obj, "premise", path, line_number)
        question = obj.get("question")
        if question not in ("cause", "effect"):
            raise DataError("%s:%d: question must be \"cause\" or \"effect\", got %r" %
                            (path, line_number, question))
        label = obj.get(self.label_key)
        label = None if label is None else six.text_type(label)
        out = []
        for k in (0, 1):
            choice = self._field(obj, "choice%d" % k, path, line_number)
            own = None if label is None else ("1" if label == str(k) else "0")
            pair = (premise, choice) if question == "effect" else (choice, premise)
            out.append(pair + (own,))
        return out

    def write_submission(self, output_dir, examples, probabilities, data_dir=None):
        path = os.path.join(output_dir, self.submission_file_name())
        scores = collections.OrderedDict()
        for example, probs in zip(examples, probabilities):
            scores.setdefault(example.item_id, []).append(float(probs[1]))
        lines = []
        for item_id, choice_scores in scores.items():
            record = collections.OrderedDict([("id", item_id),
                                              ("label", str(int(np.argmax(choice_scores))))])
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        script_utils.write_text(path, "".join(lines))
        return path


# -- GLUE -----------------------------------------------------------------------


class GlueProcessor(TsvProcessor):
    """A GLUE task: files in ``data_dir/<TASK>/`` (or directly in data_dir),
    header row skipped; submission ``<Name>.tsv`` with ``index\\tprediction``."""

    header = "always"
    glue_name = None

    def submission_file_name(self):
        return "%s.tsv" % self.glue_name


def _glue_files(dev="dev.tsv", test="test.tsv"):
    return {"train": ("train.tsv",), "dev": (dev,), "test": (test,)}


class MnliProcessor(GlueProcessor):
    """MNLI matched: sentence1=column 9, sentence2=column 10, label=last."""

    name = "mnli"
    subdir = "MNLI"
    glue_name = "MNLI-m"
    labels = ("contradiction", "entailment", "neutral")
    split_files = _glue_files("dev_matched.tsv", "test_matched.tsv")
    columns = {"train": Columns(8, 9, -1), "dev": Columns(8, 9, -1), "test": Columns(8, 9, None, 0)}


class MnliMismatchedProcessor(MnliProcessor):
    """MNLI mismatched (dev_mismatched.tsv / test_mismatched.tsv)."""

    name = "mnli-mm"
    glue_name = "MNLI-mm"
    split_files = _glue_files("dev_mismatched.tsv", "test_mismatched.tsv")


class MrpcProcessor(GlueProcessor):
    """MRPC: label=column 1, texts=columns 4 and 5; best checkpoint by F1."""

    name = "mrpc"
    subdir = "MRPC"
    glue_name = "MRPC"
    metric = "eval_f1"
    split_files = _glue_files()
    columns = {"train": Columns(3, 4, 0), "dev": Columns(3, 4, 0), "test": Columns(3, 4, None, 0)}


class ColaProcessor(GlueProcessor):
    """CoLA: train/dev have no header (label=column 2, text=column 4); test has
    one (index, sentence); best checkpoint by Matthews correlation."""

    name = "cola"
    subdir = "CoLA"
    glue_name = "CoLA"
    metric = "eval_matthews_corr"
    split_files = _glue_files()
    never_header_splits = ("train", "dev")
    columns = {
        "train": Columns(3, None, 1),
        "dev": Columns(3, None, 1),
        "test": Columns(1, None, None, 0)
    }


class Sst2Processor(GlueProcessor):
    """SST-2: sentence, label; test: index, sentence."""

    name = "sst-2"
    subdir = "SST-2"
    glue_name = "SST-2"
    split_files = _glue_files()
    columns = {
        "train": Columns(0, None, 1),
        "dev": Columns(0, None, 1),
        "test": Columns(1, None, None, 0)
    }


class StsbProcessor(GlueProcessor):
    """STS-B (regression): texts=columns 8 and 9, score=last; best by Pearson."""

    name = "sts-b"
    subdir = "STS-B"
    glue_name = "STS-B"
    labels = (None,)
    is_regression = True
    metric = "eval_pearson"
    split_files = _glue_files()
    columns = {"train": Columns(7, 8, -1), "dev": Columns(7, 8, -1), "test": Columns(7, 8, None, 0)}


class QqpProcessor(GlueProcessor):
    """QQP: questions=columns 4 and 5, label=column 6; best by F1. The few
    malformed rows of the released files are skipped (and counted)."""

    name = "qqp"
    subdir = "QQP"
    glue_name = "QQP"
    metric = "eval_f1"
    tolerate_malformed = True
    split_files = _glue_files()
    columns = {"train": Columns(3, 4, 5), "dev": Columns(3, 4, 5), "test": Columns(1, 2, None, 0)}


class QnliProcessor(GlueProcessor):
    """QNLI: index, question, sentence, label."""

    name = "qnli"
    subdir = "QNLI"
    glue_name = "QNLI"
    labels = ("entailment", "not_entailment")
    split_files = _glue_files()
    columns = {"train": Columns(1, 2, -1), "dev": Columns(1, 2, -1), "test": Columns(1, 2, None, 0)}


class RteProcessor(QnliProcessor):
    """RTE: index, sentence1, sentence2, label."""

    name = "rte"
    subdir = "RTE"
    glue_name = "RTE"


class WnliProcessor(GlueProcessor):
    """WNLI: index, sentence1, sentence2, label 0/1."""

    name = "wnli"
    subdir = "WNLI"
    glue_name = "WNLI"
    split_files = _glue_files()
    columns = {"train": Columns(1, 2, -1), "dev": Columns(1, 2, -1), "test": Columns(1, 2, None, 0)}


PROCESSORS = collections.OrderedDict([
    ("lcqmc", LcqmcProcessor),
    ("sentence_pair", SentencePairProcessor),
    ("sentence", SentenceProcessor),
    ("afqmc", AfqmcProcessor),
    ("tnews", TnewsProcessor),
    ("iflytek", IflytekProcessor),
    ("cmnli", CmnliProcessor),
    ("ocnli", OcnliProcessor),
    ("csl", CslProcessor),
    ("cluewsc2020", WscProcessor),
    ("copa", CopaProcessor),
    ("xnli", XnliProcessor),
    ("chnsenticorp", ChnSentiCorpProcessor),
    ("bq", BqProcessor),
    ("cola", ColaProcessor),
    ("mnli", MnliProcessor),
    ("mnli-mm", MnliMismatchedProcessor),
    ("mrpc", MrpcProcessor),
    ("qnli", QnliProcessor),
    ("qqp", QqpProcessor),
    ("rte", RteProcessor),
    ("sst-2", Sst2Processor),
    ("sts-b", StsbProcessor),
    ("wnli", WnliProcessor),
])

TASK_ALIASES = {
    "lcqmc_pair": "lcqmc",
    "wsc": "cluewsc2020",
    "mismnli": "mnli-mm",
    "mnli_mm": "mnli-mm",
    "mnli-m": "mnli",
    "sst2": "sst-2",
    "sst_2": "sst-2",
    "stsb": "sts-b",
    "sts_b": "sts-b",
}


def known_tasks():
    """All accepted task names (aliases included), sorted."""
    return sorted(set(PROCESSORS) | set(TASK_ALIASES))


def get_processor(task_name):
    """The processor of a task (case-insensitive; aliases accepted).

    Args:
      task_name: e.g. "lcqmc", "LCQMC_pair", "afqmc", "sts-b".

    Returns:
      a DataProcessor instance.

    Raises:
      ValueError: for an unknown task, listing the known ones.
    """
    key = (task_name or "").strip().lower()
    key = TASK_ALIASES.get(key, key)
    if key not in PROCESSORS:
        raise ValueError("unknown task %r; known tasks: %s" % (task_name, ", ".join(known_tasks())))
    return PROCESSORS[key]()
