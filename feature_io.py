# coding=utf-8
"""Feature files of the fine-tuning tasks: writing, a content-keyed cache, reading.

Every task (classification, span extraction, sequence labelling, multiple
choice) converts its examples into fixed-length integer features once, writes
them to a TFRecord file and trains from it. What the tasks share lives here:

* ``write_records(path, feature_dicts, spec)``: ``{name: values}`` dicts to
  ``tf.train.Example`` records, written under a temporary name and renamed
  when complete.
* ``cached_file(...)``: reuse a feature file only when the description of
  everything it depends on (data file content, vocabulary content and
  casing, lengths, labels, ...) hashes to the key recorded next to it.
* ``input_fn_builder(path, spec, ...)``: the Estimator ``input_fn`` reading
  such a file (int64 features arrive as int32).

A ``spec`` maps each feature name to ``(shape, dtype)`` with dtype
``"int64"`` or ``"float32"``, e.g. ``{"input_ids": ([128], "int64"),
"label_ids": ([], "int64")}``.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import hashlib
import io
import json
import os

import six

import script_utils
from tf_compat import tf


def int64_feature(values):
    """A ``tf.train.Feature`` of int64 values."""
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def float_feature(values):
    """A ``tf.train.Feature`` of float values."""
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def to_example(values, spec):
    """``{name: int, float or list}`` -> ``tf.train.Example``, in spec order.

    Args:
      values: the feature values of one record.
      spec: ``{name: (shape, dtype)}``; every name must be in ``values``.

    Returns:
      A tf.train.Example.
    """
    features = collections.OrderedDict()
    for name, (_, dtype) in spec.items():
        value = values[name]
        if not isinstance(value, (list, tuple)):
            value = [value]
        features[name] = (float_feature(value) if dtype == "float32" else int64_feature(
            int(v) for v in value))
    return tf.train.Example(features=tf.train.Features(feature=features))


def write_records(path, feature_dicts, spec, progress=None):
    """Writes one record per feature dict; the file appears only when complete.

    Args:
      path: the TFRecord file.
      feature_dicts: iterable of ``{name: values}``.
      spec: ``{name: (shape, dtype)}``.
      progress: optional object with ``update(n)``.

    Returns:
      The number of records written.
    """
    count = 0
    with script_utils.atomic_output(path) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
            for values in feature_dicts:
                writer.write(to_example(values, spec).SerializeToString())
                count += 1
                if progress is not None:
                    progress.update(1)
    return count


def file_sha1(path):
    """Hex SHA-1 of a file's content."""
    digest = hashlib.sha1()
    with io.open(path, "rb") as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tokenizer_fingerprint(tokenizer):
    """What about a tokenizer changes its output: vocabulary content and casing."""
    vocab_path = tokenizer.spm_model_file or tokenizer.vocab_file
    return collections.OrderedDict([
        ("mode", "sentencepiece" if tokenizer.spm_model_file else "wordpiece"),
        ("vocab_sha1", file_sha1(vocab_path)),
        ("do_lower_case", bool(tokenizer.do_lower_case)),
    ])


def cache_key(inputs):
    """The hex key of a description (a JSON-serialisable dict)."""
    return hashlib.sha1(json.dumps(inputs, sort_keys=True).encode("utf-8")).hexdigest()


def _read_json(path):
    try:
        with io.open(path, "r", encoding="utf-8") as reader:
            return json.load(reader)
    except (IOError, OSError, ValueError):
        return {}


def cached_file(record_file, inputs, write, extra_files=(), stale_pattern=None, logger=None):
    """A feature file for ``inputs``: the cached one if it matches, else a new one.

    The description and its key are kept in ``<stem>.json`` next to the
    TFRecord (``<stem>.tf_record``). The cache is reused only when that key
    equals the key of ``inputs`` and every file exists.

    Args:
      record_file: the TFRecord path.
      inputs: dict describing everything the features depend on.
      write: callable(record_file) writing the TFRecord (and any
        ``extra_files``) atomically; returns a dict of facts to keep in the
        description (it must hold ``num_records``).
      extra_files: other files ``write`` produces (all must exist for reuse).
      stale_pattern: glob of older feature files of the same kind to remove
        (with their descriptions) when a new file is written.
      logger: optional callable(str).

    Returns:
      (description dict, reused).
    """
    stem = (record_file[:-len(".tf_record")] if record_file.endswith(".tf_record") else record_file)
    info_file = stem + ".json"
    key = cache_key(inputs)
    files = [record_file, info_file] + list(extra_files)
    if all(os.path.isfile(path) for path in files):
        info = _read_json(info_file)
        if info.get("key") == key:
            if logger:
                logger("Reusing cached features %s (%d records)" %
                       (record_file, info.get("num_records", 0)))
            return info, True
    if stale_pattern:
        for old in glob.glob(stale_pattern):
            if os.path.abspath(old) == os.path.abspath(record_file):
                continue
            old_stem = old[:-len(".tf_record")] if old.endswith(".tf_record") else old
            for path in (old, old_stem + ".json"):
                if os.path.exists(path):
                    os.remove(path)
    directory = os.path.dirname(record_file)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    info = collections.OrderedDict(inputs)
    info.update(write(record_file))
    info["key"] = key
    script_utils.write_text(info_file, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info, False


def parse_spec(spec):
    """``{name: (shape, dtype)}`` -> ``{name: tf.io.FixedLenFeature}``."""
    out = {}
    for name, (shape, dtype) in six.iteritems(spec):
        out[name] = tf.io.FixedLenFeature(list(shape),
                                          tf.float32 if dtype == "float32" else tf.int64)
    return out


def input_fn_builder(input_file, spec, is_training, drop_remainder, batch_size=None, seed=None,
                     skip=0, shuffle_buffer=10000):
    """An Estimator input_fn reading a feature TFRecord.

    Args:
      input_file: the TFRecord file.
      spec: ``{name: (shape, dtype)}`` of its features.
      is_training: repeat and shuffle.
      drop_remainder: drop the last partial batch (TPU).
      batch_size: batch size when params has none (TPUEstimator passes
        ``params["batch_size"]``).
      seed: shuffle seed.
      skip: training only: records of the repeated file to skip first, so
        that training resumed at step k continues where it stopped instead
        of starting again at the beginning of the file.
      shuffle_buffer: records in the shuffle buffer.

    Returns:
      input_fn(params) -> tf.data.Dataset of feature dicts.
    """
    features = parse_spec(spec)

    def _decode(record):
        example = tf.io.parse_single_example(record, features)
        for name in list(example):
            if example[name].dtype == tf.int64:
                example[name] = tf.cast(example[name], tf.int32)
        return example

    def input_fn(params):
        size = (params or {}).get("batch_size", batch_size)
        dataset = tf.data.TFRecordDataset(input_file)
        if is_training:
            dataset = dataset.repeat()
            if skip:
                dataset = dataset.skip(skip)
            dataset = dataset.shuffle(buffer_size=shuffle_buffer, seed=seed)
        dataset = dataset.map(_decode)
        return dataset.batch(size, drop_remainder=drop_remainder)

    return input_fn
