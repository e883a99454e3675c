# coding=utf-8
"""Span extraction (reading comprehension) for ALBERT: heads, model_fn, export.

* Heads: v1 (``cls/squad/output_weights`` [2, H], ``output_bias`` [2]) and
  Google's v2 answerability head (start, end conditioned on the start, answer
  class), with Google's variable names.
* ``create_model`` / ``model_fn_builder``: the encoder (or a TF1 Hub module's)
  plus a head, and the Estimator model_fn with strict initialisation.
* ``export_saved_model``: a SavedModel of a fine-tuned span model.

Neighbours, in the order ``run_squad.py`` uses them: ``squad_data`` reads
SQuAD-format files (SQuAD v1.1/v2.0, CMRC2018, DRCD); ``squad_features``
tokenises with character offsets and writes the windowed feature files;
``squad_decoding`` turns the model's outputs into answer texts;
``squad_metrics`` scores them (SQuAD v1/v2, CMRC2018).

``python squad_utils.py --dataset_file=... --prediction_file=...`` still
scores a predictions file, as it did when the metrics lived here; the
command is ``squad_metrics.main``, run by the ``__main__`` block below.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import sys

import driver_utils
import hub_export
import modeling
from tf_compat import tf

# ---------------------------------------------------------------------------
# Heads.
# ---------------------------------------------------------------------------


def head_variable_patterns(version_2_with_negative):
    """Regexes of the head variables a pretrained checkpoint does not have."""
    if version_2_with_negative:
        return [r"^start_logits/", r"^end_logits/", r"^answer_class/"]
    return [r"^cls/squad/"]


def _encoder(albert_config, is_training, features, use_one_hot_embeddings, use_einsum,
             hub_module_handle=None):
    model = hub_export.encoder(hub_module_handle, albert_config, is_training, features["input_ids"],
                               features["input_mask"], features["segment_ids"],
                               use_one_hot_embeddings=use_one_hot_embeddings, use_einsum=use_einsum)
    return model.get_sequence_output()


def v1_logits(sequence_output):
    """Google's v1 head: (start_logits, end_logits) [B, L] from cls/squad/*."""
    shape = modeling.get_shape_list(sequence_output, expected_rank=3)
    hidden = shape[2]
    with tf.variable_scope("cls/squad"):
        weights = tf.get_variable("output_weights", [2, hidden],
                                  initializer=tf.truncated_normal_initializer(stddev=0.02))
        bias = tf.get_variable("output_bias", [2], initializer=tf.zeros_initializer())
    flat = tf.reshape(sequence_output, [-1, hidden])
    logits = tf.nn.bias_add(tf.matmul(flat, weights, transpose_b=True), bias)
    logits = tf.reshape(logits, [shape[0], shape[1], 2])
    return logits[:, :, 0], logits[:, :, 1]


def _masked(logits, p_mask):
    p_mask = tf.cast(p_mask, tf.float32)
    return logits * (1.0 - p_mask) - 1e30 * p_mask


def v2_outputs(sequence_output, p_mask, is_training, start_positions=None, start_n_top=5,
               end_n_top=5, dropout_prob=0.1, initializer_range=0.02):
    """Google's v2 head (start; end conditioned on the start; answer class).

    Args:
      sequence_output: [B, L, H].
      p_mask: [B, L], 1 where no answer can start or end.
      is_training: condition the end on the gold start; apply dropout.
      start_positions: [B] gold starts (training).
      start_n_top, end_n_top: beam sizes at inference.
      dropout_prob: dropout in the answer-class layer when training.
      initializer_range: stddev of the initialisers.

    Returns:
      dict: start_log_probs [B, L]; training: end_log_probs [B, L]; inference:
      start_top_log_probs, start_top_index [B, start_n_top], end_top_log_probs,
      end_top_index [B, start_n_top * end_n_top]; always cls_logits [B].
    """
    initializer = modeling.create_initializer(initializer_range)
    shape = modeling.get_shape_list(sequence_output, expected_rank=3)
    batch, length, hidden = shape
    outputs = {}
    with tf.variable_scope("start_logits"):
        start_logits = tf.squeeze(modeling.dense(sequence_output, 1, "dense", initializer), -1)
        start_log_probs = tf.nn.log_softmax(_masked(start_logits, p_mask), -1)
    outputs["start_log_probs"] = start_log_probs
    with tf.variable_scope("end_logits"):
        if is_training:
            one_hot = tf.one_hot(start_positions, depth=length, dtype=tf.float32)
            start_features = tf.reduce_sum(one_hot[:, :, None] * sequence_output, axis=1)
            start_features = tf.tile(start_features[:, None, :], [1, length, 1])
            end_input = tf.concat([sequence_output, start_features], axis=-1)
            x = modeling.dense(end_input, hidden, "dense_0", initializer, activation=tf.tanh)
            x = modeling.layer_norm(x, "LayerNorm")
            end_logits = tf.squeeze(modeling.dense(x, 1, "dense_1", initializer), -1)
            outputs["end_log_probs"] = tf.nn.log_softmax(_masked(end_logits, p_mask), -1)
        else:
            start_top_log_probs, start_top_index = tf.nn.top_k(start_log_probs, k=start_n_top)
            index = tf.one_hot(start_top_index, depth=length, dtype=tf.float32)  # [B, K, L]
            start_features = tf.matmul(index, sequence_output)  # [B, K, H]
            start_features = tf.tile(start_features[:, None, :, :], [1, length, 1, 1])
            tiled = tf.tile(sequence_output[:, :, None, :], [1, 1, start_n_top, 1])
            end_input = tf.concat([tiled, start_features], axis=-1)  # [B, L, K, 2H]
            x = modeling.dense(end_input, hidden, "dense_0", initializer, activation=tf.tanh)
            x = modeling.layer_norm(x, "LayerNorm")
            end_logits = tf.squeeze(modeling.dense(x, 1, "dense_1", initializer), -1)
            end_logits = _masked(end_logits, p_mask[:, :, None])
            end_log_probs = tf.nn.log_softmax(end_logits, axis=1)  # over L
            end_top_log_probs, end_top_index = tf.nn.top_k(tf.transpose(end_log_probs, [0, 2, 1]),
                                                           k=end_n_top)  # [B, K, E]
            outputs["start_top_log_probs"] = start_top_log_probs
            outputs["start_top_index"] = start_top_index
            outputs["end_top_log_probs"] = tf.reshape(end_top_log_probs,
                                                      [batch, start_n_top * end_n_top])
            outputs["end_top_index"] = tf.reshape(end_top_index, [batch, start_n_top * end_n_top])
    with tf.variable_scope("answer_class"):
        start_p = tf.exp(start_log_probs)
        start_feature = tf.reduce_sum(start_p[:, :, None] * sequence_output, axis=1)
        cls_feature = sequence_output[:, 0, :]
        x = tf.concat([start_feature, cls_feature], axis=-1)
        x = modeling.dense(x, hidden, "dense_0", initializer, activation=tf.tanh)
        if is_training:
            x = modeling.dropout(x, dropout_prob)
        outputs["cls_logits"] = tf.squeeze(
            modeling.dense(x, 1, "dense_1", initializer, use_bias=False), -1)
    return outputs


def _cross_entropy(log_probs, positions, length):
    one_hot = tf.one_hot(positions, depth=length, dtype=tf.float32)
    return -tf.reduce_mean(tf.reduce_sum(one_hot * log_probs, axis=-1))


def create_model(albert_config, is_training, features, version_2_with_negative=False,
                 use_one_hot_embeddings=False, use_einsum=True, start_n_top=5, end_n_top=5,
                 dropout_prob=0.1, hub_module_handle=None):
    """Encoder + span head (the encoder of a TF1 Hub module with
    ``hub_module_handle``).

    Returns:
      (loss or None, dict of prediction tensors): v1: start_logits,
      end_logits [B, L]; v2: see v2_outputs.
    """
    sequence_output = _encoder(albert_config, is_training, features, use_one_hot_embeddings,
                               use_einsum, hub_module_handle)
    length = modeling.get_shape_list(sequence_output, expected_rank=3)[1]
    loss = None
    if not version_2_with_negative:
        start_logits, end_logits = v1_logits(sequence_output)
        if is_training:
            loss = (_cross_entropy(tf.nn.log_softmax(
                start_logits, -1), features["start_positions"], length) + _cross_entropy(
                    tf.nn.log_softmax(end_logits, -1), features["end_positions"], length)) / 2.0
        return loss, {"start_logits": start_logits, "end_logits": end_logits}
    outputs = v2_outputs(sequence_output, features["p_mask"], is_training,
                         features.get("start_positions"), start_n_top, end_n_top, dropout_prob,
                         albert_config.initializer_range)
    if is_training:
        span_loss = (
            _cross_entropy(outputs["start_log_probs"], features["start_positions"], length) +
            _cross_entropy(outputs["end_log_probs"], features["end_positions"], length)) / 2.0
        class_loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.cast(features["is_impossible"], tf.float32),
                logits=outputs["cls_logits"]))
        loss = span_loss + 0.5 * class_loss
    del outputs["start_log_probs"]
    outputs.pop("end_log_probs", None)
    return loss, outputs


def model_fn_builder(albert_config, init_checkpoint=None, learning_rate=5e-5, num_train_steps=1,
                     num_warmup_steps=0, use_tpu=False, use_one_hot_embeddings=False,
                     optimizer="adamw", version_2_with_negative=False, start_n_top=5, end_n_top=5,
                     dropout_prob=0.1, use_einsum=True, init_report_file=None, verbose=False,
                     hub_module_handle=None):
    """The Estimator model_fn (TRAIN and PREDICT).

    Training initialises from ``init_checkpoint`` strictly (only the span
    head may be new) and reports the load in one line, once: not when the
    Estimator restores a checkpoint of its own output directory instead.
    ``init_report_file`` receives the full report; ``verbose`` logs it.
    With ``hub_module_handle`` the encoder is that TF1 Hub module's, starting
    from its variables (give no init_checkpoint).
    """

    def build(features, is_training):
        return create_model(albert_config, is_training, features, version_2_with_negative,
                            use_one_hot_embeddings, use_einsum, start_n_top, end_n_top,
                            dropout_prob, hub_module_handle)

    def predictions(features, outputs):
        predictions = dict(outputs)
        predictions["unique_ids"] = features["unique_ids"]
        return predictions

    return driver_utils.fine_tuning_model_fn(
        build, predictions, init_checkpoint, head_variable_patterns(version_2_with_negative),
        learning_rate, num_train_steps, num_warmup_steps, use_tpu=use_tpu, optimizer=optimizer,
        init_report_file=init_report_file, verbose=verbose,
        mode_error="only TRAIN and PREDICT are supported, got %s")


SERVING_INPUTS = ("input_ids", "input_mask", "segment_ids")


def export_saved_model(albert_config, checkpoint, export_dir, version_2_with_negative=False,
                       start_n_top=5, end_n_top=5, assets=None):
    """Writes a SavedModel of a fine-tuned span model (einsum-free graph).

    Signature ``serving_default`` (also ``predict``): inputs input_ids,
    input_mask, segment_ids (int32 [batch, length]; v2 also p_mask);
    outputs start_logits and end_logits (v1) or start_top_log_probs,
    start_top_index, end_top_log_probs, end_top_index and cls_logits (v2).
    An existing SavedModel in ``export_dir`` is replaced when the new one is
    complete.

    Raises:
      ValueError: export_dir exists and is not a SavedModel.
    """
    names = SERVING_INPUTS + (("p_mask",) if version_2_with_negative else ())

    def build_signature():
        inputs = {name: tf.placeholder(tf.int32, [None, None], name=name) for name in names}
        _, outputs = create_model(albert_config, False, inputs, version_2_with_negative,
                                  use_einsum=False, start_n_top=start_n_top, end_n_top=end_n_top)
        return inputs, {name: tf.identity(tensor, name=name) for name, tensor in outputs.items()}

    driver_utils.write_saved_model(export_dir, build_signature, checkpoint, assets)


if __name__ == "__main__":
    import squad_metrics  # pylint: disable=g-import-not-at-top
    sys.exit(squad_metrics.main())
