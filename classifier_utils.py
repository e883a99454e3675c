# coding=utf-8
"""Sentence and sentence-pair classification: features, model, model_fn, export.

Everything ``run_classifier.py`` needs between the task's examples and the
model, without flags, so that tests can call each piece directly:

* ``convert_single_example`` / ``load_or_create_features`` turn examples into
  fixed-length TFRecord features; the cache file is keyed on everything that
  changes the features (task, split, sequence length, data file content,
  vocabulary content, casing, labels), so a stale cache is never reused.
* ``create_model`` / ``model_fn_builder`` build the classifier head
  (``output_weights`` [num_labels, H], ``output_bias`` [num_labels] at the root
  scope, as both reference implementations name them; brightmart's pre-LN
  models add ``loss/LayerNorm`` on the pooled output).
* ``export_saved_model`` writes a SavedModel of a fine-tuned classifier.

Neighbours: ``classifier_tasks`` reads the task files (processors,
``InputExample``, ``DataError``) and writes submission files;
``classifier_metrics`` computes the metrics of the predictions.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import os
import re

import six

import classifier_tasks
import driver_utils
import feature_io
import hub_export
import modeling
from tf_compat import tf

# Bump when the feature layout or the conversion changes: old caches are then
# never reused.
FEATURE_FORMAT_VERSION = 1


class InputFeatures(object):
    """Fixed-length model inputs of one example."""

    def __init__(self, input_ids, input_mask, segment_ids, label_id, is_real_example=True):
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.label_id = label_id
        self.is_real_example = is_real_example


# ---------------------------------------------------------------------------
# Features.
# ---------------------------------------------------------------------------


def truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Truncates the longer of two token lists (from its end) until they fit."""
    while len(tokens_a) + len(tokens_b) > max_length:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        longer.pop()


def convert_single_example(example, label_list, max_seq_length, tokenizer, is_regression=False):
    """Tokenizes one example into ``[CLS] a [SEP] (b [SEP])`` features.

    Args:
      example: InputExample or PaddingInputExample.
      label_list: the task's labels (ids are list positions).
      max_seq_length: length of every feature (padded with 0).
      tokenizer: tokenization.FullTokenizer.
      is_regression: the label is a float.

    Returns:
      InputFeatures.
    """
    if isinstance(example, classifier_tasks.PaddingInputExample):
        zeros = [0] * max_seq_length
        return InputFeatures(zeros, list(zeros), list(zeros), 0.0 if is_regression else 0,
                             is_real_example=False)
    tokens_a = tokenizer.tokenize(example.text_a)
    tokens_b = tokenizer.tokenize(example.text_b) if example.text_b is not None else None
    if tokens_b is not None:
        truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
    else:
        tokens_a = tokens_a[:max_seq_length - 2]
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segment_ids = [0] * len(tokens)
    if tokens_b is not None:
        tokens += tokens_b + ["[SEP]"]
        segment_ids += [1] * (len(tokens_b) + 1)
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    input_mask = [1] * len(input_ids)
    padding = max_seq_length - len(input_ids)
    input_ids += [0] * padding
    input_mask += [0] * padding
    segment_ids += [0] * padding
    if is_regression:
        label_id = float(example.label) if example.label is not None else 0.0
    else:
        label_id = label_list.index(example.label) if example.label is not None else 0
    return InputFeatures(input_ids, input_mask, segment_ids, label_id)


def special_tokens_check(tokenizer):
    """Raises ValueError when the vocabulary lacks [CLS] or [SEP]."""
    missing = [t for t in ("[CLS]", "[SEP]") if t not in tokenizer.vocab]
    if missing:
        raise ValueError("the vocabulary (%s) has no %s token" %
                         (tokenizer.vocab_file or tokenizer.spm_model_file, " or ".join(missing)))


def feature_spec(max_seq_length, is_regression=False):
    """The classification features: ``{name: (shape, dtype)}`` (see feature_io)."""
    return collections.OrderedDict([
        ("input_ids", ([max_seq_length], "int64")),
        ("input_mask", ([max_seq_length], "int64")),
        ("segment_ids", ([max_seq_length], "int64")),
        ("label_ids", ([], "float32" if is_regression else "int64")),
        ("is_real_example", ([], "int64")),
    ])


def feature_values(feature):
    """InputFeatures -> ``{name: values}`` for feature_io."""
    return {
        "input_ids": feature.input_ids,
        "input_mask": feature.input_mask,
        "segment_ids": feature.segment_ids,
        "label_ids": feature.label_id,
        "is_real_example": int(feature.is_real_example)
    }


def write_features(examples, label_list, max_seq_length, tokenizer, output_file,
                   is_regression=False, progress=None):
    """Converts examples and writes them to a TFRecord file (atomically).

    Args:
      examples: list of InputExample / PaddingInputExample.
      label_list: the task's labels.
      max_seq_length: feature length.
      tokenizer: tokenization.FullTokenizer.
      output_file: the TFRecord path.
      is_regression: float labels.
      progress: optional script_utils.Progress-like object with update().

    Returns:
      the number of records written.
    """
    features = (feature_values(
        convert_single_example(example, label_list, max_seq_length, tokenizer, is_regression))
                for example in examples)
    return feature_io.write_records(output_file, features,
                                    feature_spec(max_seq_length, is_regression), progress)


# Kept under their former names for callers of this module.
file_sha1 = feature_io.file_sha1
tokenizer_fingerprint = feature_io.tokenizer_fingerprint


def feature_cache_key(task_name, split, data_file, max_seq_length, tokenizer, label_list,
                      is_regression=False, num_padding=0):
    """The description of everything a feature file depends on, and its hash.

    Args:
      task_name: canonical task name.
      split: "train", "dev" or "test".
      data_file: the split's data file (its content is hashed).
      max_seq_length: feature length.
      tokenizer: tokenization.FullTokenizer.
      label_list: the task's labels.
      is_regression: float labels.
      num_padding: padding examples appended (TPU).

    Returns:
      (dict of the inputs, hex key).
    """
    inputs = collections.OrderedDict([
        ("format_version", FEATURE_FORMAT_VERSION),
        ("task", task_name),
        ("split", split),
        ("data_sha1", file_sha1(data_file)),
        ("max_seq_length", int(max_seq_length)),
        ("tokenizer", tokenizer_fingerprint(tokenizer)),
        ("labels", [None if l is None else six.text_type(l) for l in label_list]),
        ("is_regression", bool(is_regression)),
        ("num_padding", int(num_padding)),
    ])
    return inputs, feature_io.cache_key(inputs)


def load_or_create_features(cache_dir, task_name, split, data_file, examples, label_list,
                            max_seq_length, tokenizer, is_regression=False, num_padding=0,
                            progress=None):
    """Returns a TFRecord of the examples' features, reusing a matching cache.

    The file is ``<cache_dir>/<task>_<split>_<key>.tf_record`` with a
    ``.json`` description next to it; it is reused only when the description
    matches exactly (same data file content, vocabulary content, casing,
    sequence length, labels). Caches of the same task and split with another
    key are removed.

    Args:
      cache_dir: directory of the cache files.
      task_name: canonical task name.
      split: "train", "dev" or "test".
      data_file: the split's data file.
      examples: the split's examples (read from data_file).
      label_list: the task's labels.
      max_seq_length: feature length.
      tokenizer: tokenization.FullTokenizer.
      is_regression: float labels.
      num_padding: PaddingInputExamples to append (fills a TPU batch).
      progress: optional progress reporter.

    Returns:
      (path, number of records, whether the cache was reused).
    """
    inputs, key = feature_cache_key(task_name, split, data_file, max_seq_length, tokenizer,
                                    label_list, is_regression, num_padding)
    safe_task = re.sub(r"[^A-Za-z0-9_.-]", "_", task_name)
    record_file = os.path.join(cache_dir, "%s_%s_%s.tf_record" % (safe_task, split, key[:16]))
    all_examples = list(examples) + [
        classifier_tasks.PaddingInputExample() for _ in range(num_padding)
    ]

    def write(path):
        count = write_features(all_examples, label_list, max_seq_length, tokenizer, path,
                               is_regression, progress)
        return {"num_records": count, "data_file": os.path.abspath(data_file)}

    info, reused = feature_io.cached_file(
        record_file, inputs, write,
        stale_pattern=os.path.join(cache_dir, "%s_%s_*.tf_record" % (safe_task, split)),
        logger=tf.logging.info)
    if not reused:
        tf.logging.info("Wrote %d %s features to %s", info["num_records"], split, record_file)
    return record_file, info["num_records"], reused


def input_fn_builder(input_file, seq_length, is_training, drop_remainder, is_regression=False,
                     batch_size=None, seed=None, skip=0):
    """An Estimator input_fn reading a classification feature TFRecord.

    See ``feature_io.input_fn_builder`` for the arguments; ``seq_length`` and
    ``is_regression`` give the features' ``feature_spec``.
    """
    return feature_io.input_fn_builder(input_file, feature_spec(seq_length,
                                                                is_regression), is_training,
                                       drop_remainder, batch_size=batch_size, seed=seed, skip=skip)


# ---------------------------------------------------------------------------
# Model.
# ---------------------------------------------------------------------------


def uses_pooled_layer_norm(albert_config):
    """Whether the head applies ``loss/LayerNorm`` (brightmart pre-LN models)."""
    return (albert_config.resolved_ln_type == "preln" and
            albert_config.resolved_embedding_layout == "brightmart")


def head_variable_patterns(albert_config):
    """Regexes of the head variables a pretrained checkpoint does not have."""
    patterns = [r"^output_weights$", r"^output_bias$"]
    if uses_pooled_layer_norm(albert_config):
        patterns.append(r"^loss/LayerNorm/(beta|gamma)$")
    return patterns


ModelOutputs = collections.namedtuple(
    "ModelOutputs", ["loss", "per_example_loss", "logits", "probabilities", "pooled_output"])


def create_model(albert_config, is_training, input_ids, input_mask, segment_ids, labels, num_labels,
                 use_one_hot_embeddings=False, classifier_dropout=0.1, is_regression=False,
                 hub_module_handle=None):
    """Builds the encoder and the classification (or regression) head.

    Args:
      albert_config: modeling.AlbertConfig.
      is_training: apply dropout.
      input_ids, input_mask, segment_ids: int32 [B, S].
      labels: int32 [B] (float32 for regression), or None (no loss).
      num_labels: number of classes (1 for regression).
      use_one_hot_embeddings: one-hot embedding lookup (TPU).
      classifier_dropout: dropout probability on the pooled output when
        training.
      is_regression: squared-error loss; "probabilities" is the raw score.
      hub_module_handle: take the encoder from this TF1 Hub module
        (hub_export.encoder) instead of building AlbertModel.

    Returns:
      ModelOutputs (loss and per_example_loss are None without labels).
    """
    model = hub_export.encoder(hub_module_handle, albert_config, is_training, input_ids, input_mask,
                               segment_ids, use_one_hot_embeddings=use_one_hot_embeddings)
    pooled = model.get_pooled_output()
    hidden_size = pooled.shape.as_list()[-1]
    output_weights = tf.get_variable("output_weights", [num_labels, hidden_size],
                                     initializer=tf.truncated_normal_initializer(stddev=0.02))
    output_bias = tf.get_variable("output_bias", [num_labels], initializer=tf.zeros_initializer())
    with tf.variable_scope("loss"):
        x = pooled
        if uses_pooled_layer_norm(albert_config):
            x = modeling.layer_norm(x, "LayerNorm")
        if is_training:
            x = modeling.dropout(x, classifier_dropout)
        logits = tf.nn.bias_add(tf.matmul(x, output_weights, transpose_b=True), output_bias)
        if is_regression:
            probabilities = logits
        else:
            probabilities = tf.nn.softmax(logits, axis=-1)
        loss = per_example_loss = None
        if labels is not None:
            if is_regression:
                per_example_loss = tf.square(tf.squeeze(logits, [-1]) - labels)
            else:
                log_probs = tf.nn.log_softmax(logits, axis=-1)
                one_hot = tf.one_hot(labels, depth=num_labels, dtype=tf.float32)
                per_example_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1)
            loss = tf.reduce_mean(per_example_loss)
    return ModelOutputs(loss, per_example_loss, logits,
                        tf.identity(probabilities, name="probabilities"),
                        tf.identity(pooled, name="pooled_output"))


def model_fn_builder(albert_config, num_labels, init_checkpoint=None, learning_rate=5e-5,
                     num_train_steps=1, num_warmup_steps=0, use_tpu=False,
                     use_one_hot_embeddings=False, optimizer="adamw", classifier_dropout=0.1,
                     is_regression=False, init_report_file=None, verbose=False,
                     hub_module_handle=None):
    """The Estimator model_fn (TPUEstimatorSpec when ``use_tpu``).

    Training initialises from ``init_checkpoint`` strictly: every encoder
    variable must be in it; only the head may be new. The load is reported
    in one line (see ``checkpoint_utils.LoadReport.log``), once: not when the
    Estimator restores a checkpoint of its own output directory instead.

    Args:
      albert_config: modeling.AlbertConfig.
      num_labels: number of classes (1 for regression).
      init_checkpoint: pretrained checkpoint, or None to train from scratch.
      learning_rate: peak learning rate.
      num_train_steps: total training steps.
      num_warmup_steps: warmup steps.
      use_tpu: build TPU specs.
      use_one_hot_embeddings: one-hot embedding lookup.
      optimizer: "adamw" or "lamb".
      classifier_dropout: dropout on the pooled output.
      is_regression: regression head.
      init_report_file: where the full load report is written.
      verbose: log every variable of the load report.
      hub_module_handle: fine-tune the encoder of this TF1 Hub module (its
        variables are the starting point; give no init_checkpoint).

    Returns:
      model_fn(features, labels, mode, params, config).
    """

    def build(features, is_training):
        outputs = create_model(albert_config, is_training, features["input_ids"],
                               features["input_mask"], features["segment_ids"],
                               features["label_ids"], num_labels, use_one_hot_embeddings,
                               classifier_dropout, is_regression, hub_module_handle)
        return outputs.loss, outputs

    def predictions(features, outputs):
        return {
            "probabilities": outputs.probabilities,
            "label_ids": features["label_ids"],
            "is_real_example": features["is_real_example"]
        }

    return driver_utils.fine_tuning_model_fn(build, predictions, init_checkpoint,
                                             head_variable_patterns(albert_config), learning_rate,
                                             num_train_steps, num_warmup_steps, use_tpu=use_tpu,
                                             optimizer=optimizer, init_report_file=init_report_file,
                                             verbose=verbose)


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------

SERVING_INPUTS = ("input_ids", "input_mask", "segment_ids")


def export_saved_model(albert_config, num_labels, checkpoint, export_dir, is_regression=False,
                       assets=None):
    """Writes a SavedModel of a fine-tuned classifier.

    The ``serving_default`` signature (also named ``predict``) takes
    ``input_ids``, ``input_mask`` and ``segment_ids`` (int32 [batch, length],
    any length up to max_position_embeddings) and returns ``probabilities``
    [batch, num_labels] (the score [batch, 1] for regression) and
    ``pooled_output`` [batch, hidden]. An existing SavedModel in
    ``export_dir`` is replaced; the new one appears only when complete.

    Args:
      albert_config: modeling.AlbertConfig of the checkpoint.
      num_labels: number of classes (1 for regression).
      checkpoint: fine-tuned checkpoint prefix.
      export_dir: output directory.
      is_regression: regression head.
      assets: optional dict file name -> text or bytes, written to
        ``<export_dir>/assets.extra/`` (config, vocabulary, labels).

    Raises:
      ValueError: when export_dir exists and holds something else than a
        SavedModel.
    """

    def build_signature():
        inputs = {n: tf.placeholder(tf.int32, [None, None], name=n) for n in SERVING_INPUTS}
        outputs = create_model(albert_config, False, inputs["input_ids"], inputs["input_mask"],
                               inputs["segment_ids"], None, num_labels, is_regression=is_regression)
        return inputs, {
            "probabilities": outputs.probabilities,
            "pooled_output": outputs.pooled_output
        }

    driver_utils.write_saved_model(export_dir, build_signature, checkpoint, assets)
