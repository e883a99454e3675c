# coding=utf-8
"""ALBERT pretraining: masked LM + sentence-order prediction.

Reads the TFRecords of ``create_pretraining_data.py`` (and of both reference
generators), builds ``AlbertModel`` with the two pretraining heads under the
exact variable names of the config's embedding layout, and trains with LAMB
(or AdamW) on TPU (``TPUEstimator``), on one device, on all local devices
(``--distribution_strategy=mirrored``) or on several machines
(``--distribution_strategy=multi_worker`` with ``TF_CONFIG``).

Example (one machine)::

    python run_pretraining.py \\
      --albert_config_file=albert_config/albert_config_tiny.json \\
      --input_file='data/pretrain/*.tfrecord' \\
      --eval_input_file=data/pretrain_dev.tfrecord \\
      --output_dir=out/pretrain --do_train --do_eval \\
      --max_seq_length=128 --max_predictions_per_seq=20 \\
      --train_batch_size=32 --num_train_steps=10000 --num_warmup_steps=1000

Heads (see the module's ``get_masked_lm_output``): google layout:
``cls/predictions/transform/dense`` [H, E] + ``transform/LayerNorm`` (E), logits
through ``word_embeddings``ᵀ + ``cls/predictions/output_bias``; brightmart
layout: transform [H, H] + LayerNorm (H), logits through
``word_embeddings_2``ᵀ then ``word_embeddings``ᵀ. SOP:
``cls/seq_relationship/output_weights`` [2, H] and ``output_bias`` [2].
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import json
import os
import re

import tf_compat
from tf_compat import tf

import checkpoint_utils
import driver_utils
import modeling
import optimization
import precision
import script_utils

# Features read from the records. ``token_boundary`` (Google's generator and
# ours) is not read, so brightmart's records, which lack it, work as well.
SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")
PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
METRIC_NAMES = ("masked_lm_accuracy", "masked_lm_loss", "sentence_order_accuracy",
                "sentence_order_loss", "loss")
DISTRIBUTION_STRATEGIES = ("none", "mirrored", "multi_worker")
# Heads that may be absent from an init checkpoint (e.g. an encoder-only
# export); they are then newly initialised and listed in the load report.
HEAD_VARIABLES = r"^cls/"


class DataMismatchError(ValueError):
    """Training records that disagree with the config or the flags."""


# ---------------------------------------------------------------------------
# Heads and losses.
# ---------------------------------------------------------------------------


def gather_indexes(sequence_tensor, positions):
    """Gathers the vectors at `positions` of every sequence.

    Args:
        sequence_tensor: float Tensor [B, S, W].
        positions: int Tensor [B, P] of positions in [0, S).

    Returns:
        float Tensor [B * P, W].
    """
    batch_size, seq_length, width = modeling.get_shape_list(sequence_tensor, expected_rank=3)
    flat_positions = modeling.flat_position_rows(positions, batch_size, seq_length)
    flat_sequence = tf.reshape(sequence_tensor, [-1, width])
    return tf.gather(flat_sequence, flat_positions)


def sparse_softmax_cross_entropy(labels, logits):
    """-log softmax(logits)[label] per row: the values and gradient of
    ``tf.nn.sparse_softmax_cross_entropy_with_logits``, built from one
    softmax pass (about 1.8x faster on CPU for the [B*P, vocab] MLM logits).

    The log-sum-exp comes from the largest probability, which never
    underflows (it is at least 1/V): loss = max(logits) - log(max(probs)) -
    logits[label]. The gradient is probs - one_hot(label), times the
    upstream gradient. A label outside [0, V) gives a NaN loss (as the GPU
    kernel of TensorFlow's op does), which training stops on.

    Args:
        labels: int Tensor [N].
        logits: float Tensor [N, V].

    Returns:
        float Tensor [N].
    """
    labels = tf.cast(labels, tf.int32)
    vocab = modeling.get_shape_list(logits, expected_rank=2)[1]
    valid = tf.logical_and(labels >= 0, labels < vocab)
    loss = _softmax_cross_entropy(logits, tf.where(valid, labels, tf.zeros_like(labels)))
    return tf.where(valid, loss, tf.fill(tf.shape(loss), float("nan")))


@tf.custom_gradient
def _softmax_cross_entropy(logits, labels):
    """``sparse_softmax_cross_entropy`` for labels known to be in range."""
    probs = tf.nn.softmax(logits)
    rows = modeling.get_shape_list(logits, expected_rank=2)[0]
    # (row, label) pairs index the [N, V] tensors directly: no flat N*V index
    # that could overflow int32 for large batches and vocabularies.
    indices = tf.stack([tf.range(rows), labels], axis=1)
    loss = (tf.reduce_max(logits, axis=-1) - tf.gather_nd(logits, indices) -
            tf.log(tf.reduce_max(probs, axis=-1)))

    def grad(dy):
        scaled = probs * dy[:, tf.newaxis]
        return tf.tensor_scatter_nd_sub(scaled, indices, dy), None

    return loss, grad


def get_masked_lm_output(config, sequence_output, embedding_table, embedding_projection, positions,
                         label_ids, label_weights):
    """The masked-LM head, computed only at the masked positions.

    Args:
        config: modeling.AlbertConfig.
        sequence_output: float Tensor [B, S, H]; or [B, P, H], the last layer
            already at the masked positions, when ``positions`` is None.
        embedding_table: the [V, E] word-embedding table.
        embedding_projection: brightmart's [E, H] ``word_embeddings_2``, or
            None for the google layout.
        positions: int Tensor [B, P], or None (see ``sequence_output``).
        label_ids: int Tensor [B, P].
        label_weights: float Tensor [B, P] (1.0 real, 0.0 padding).

    Returns:
        (loss, per_position_loss [B*P], log_probs [B*P, V]): the loss is
        sum(weight * cross_entropy) / (sum(weight) + 1e-5).
    """
    layout = config.resolved_embedding_layout
    width = (config.hidden_size if layout == "brightmart" else config.embedding_size)
    initializer = modeling.create_initializer(config.initializer_range)
    if positions is None:
        hidden = tf.reshape(sequence_output, [-1, config.hidden_size])
    else:
        hidden = gather_indexes(sequence_output, positions)
    with tf.variable_scope("cls/predictions"):
        with tf.variable_scope("transform"):
            hidden = modeling.dense(hidden, width, "dense", initializer,
                                    activation=modeling.get_activation(config.hidden_act))
            hidden = modeling.layer_norm(hidden, "LayerNorm")
        if embedding_projection is not None:
            # [N, H] x [E, H]^T -> [N, E]
            hidden = tf.matmul(hidden, embedding_projection, transpose_b=True)
        output_bias = tf.get_variable("output_bias", [config.vocab_size],
                                      initializer=tf.zeros_initializer())
        logits = tf.matmul(hidden, embedding_table, transpose_b=True)
        logits = tf.nn.bias_add(logits, output_bias)
        log_probs = tf.nn.log_softmax(logits, axis=-1)

        labels = tf.reshape(label_ids, [-1])
        weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
        per_position_loss = sparse_softmax_cross_entropy(labels, logits)
        loss = (tf.reduce_sum(weights * per_position_loss) / (tf.reduce_sum(weights) + 1e-5))
    return loss, per_position_loss, log_probs


def get_sentence_order_output(config, pooled_output, labels):
    """The sentence-order head (2-way classifier on the pooled output).

    Args:
        config: modeling.AlbertConfig.
        pooled_output: float Tensor [B, H].
        labels: int Tensor [B] or [B, 1] (0 = in order, 1 = swapped).

    Returns:
        (loss, per_example_loss [B], log_probs [B, 2]); the loss is the mean.
    """
    with tf.variable_scope("cls/seq_relationship"):
        output_weights = tf.get_variable(
            "output_weights", [2, config.hidden_size],
            initializer=modeling.create_initializer(config.initializer_range))
        output_bias = tf.get_variable("output_bias", [2], initializer=tf.zeros_initializer())
        logits = tf.matmul(pooled_output, output_weights, transpose_b=True)
        logits = tf.nn.bias_add(logits, output_bias)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        labels = tf.reshape(labels, [-1])
        per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits)
        loss = tf.reduce_mean(per_example_loss)
    return loss, per_example_loss, log_probs


def metric_fn(masked_lm_per_position_loss, masked_lm_log_probs, masked_lm_ids, masked_lm_weights,
              sentence_order_per_example_loss, sentence_order_log_probs, sentence_order_labels,
              is_real_example):
    """The evaluation metrics (tf.metrics pairs), weighted by real examples.

    Args:
        masked_lm_per_position_loss: [B*P] cross entropies.
        masked_lm_log_probs: [B*P, V].
        masked_lm_ids: [B, P] labels.
        masked_lm_weights: [B, P] weights.
        sentence_order_per_example_loss: [B].
        sentence_order_log_probs: [B, 2].
        sentence_order_labels: [B] or [B, 1].
        is_real_example: [B] float, 0.0 for the padding examples that fill the
            last eval batch.

    Returns:
        dict metric name -> (value, update_op); "loss" is left to the caller
        (the Estimator reserves that name).
    """
    real = tf.cast(tf.reshape(is_real_example, [-1]), tf.float32)
    mlm_weights = tf.cast(masked_lm_weights, tf.float32) * real[:, tf.newaxis]
    mlm_weights = tf.reshape(mlm_weights, [-1])
    mlm_predictions = tf.argmax(masked_lm_log_probs, axis=-1, output_type=tf.int32)
    sop_predictions = tf.argmax(sentence_order_log_probs, axis=-1, output_type=tf.int32)
    return {
        "masked_lm_accuracy":
            tf.metrics.accuracy(labels=tf.reshape(masked_lm_ids, [-1]), predictions=mlm_predictions,
                                weights=mlm_weights),
        "masked_lm_loss":
            tf.metrics.mean(masked_lm_per_position_loss, weights=mlm_weights),
        "sentence_order_accuracy":
            tf.metrics.accuracy(labels=tf.reshape(sentence_order_labels, [-1]),
                                predictions=sop_predictions, weights=real),
        "sentence_order_loss":
            tf.metrics.mean(sentence_order_per_example_loss, weights=real),
    }


# ---------------------------------------------------------------------------
# model_fn.
# ---------------------------------------------------------------------------


def model_fn_builder(albert_config, init_checkpoint=None, learning_rate=1e-4, num_train_steps=100,
                     num_warmup_steps=0, use_tpu=False, use_one_hot_embeddings=False,
                     optimizer="lamb", poly_power=1.0, start_warmup_step=0, init_from_group0=False,
                     gradient_accumulation_steps=1, weight_decay_rate=0.01, use_einsum=True,
                     loss_scale=None, init_report_file=None, verbose=False,
                     compute_dtype=tf.float32):
    """Returns a `model_fn` for Estimator / TPUEstimator.

    Args:
        albert_config: modeling.AlbertConfig.
        init_checkpoint: optional checkpoint to initialise from (strict: every
            model variable must be present; only the ``cls/`` heads may be
            missing, and are then reported as newly initialised).
        learning_rate: peak learning rate.
        num_train_steps: number of updates (the rate decays to 0 there).
        num_warmup_steps: linear warmup steps.
        use_tpu: build a `TPUEstimatorSpec` (CrossShardOptimizer, scaffold).
        use_one_hot_embeddings: one-hot embedding lookups (faster on TPU).
        optimizer: "lamb" or "adamw".
        poly_power: power of the polynomial decay.
        start_warmup_step: step where warmup starts.
        init_from_group0: initialise every layer group from group 0 of the
            checkpoint (Google's ``--init_from_group0``).
        gradient_accumulation_steps: micro-batches per update.
        weight_decay_rate: decoupled weight decay.
        use_einsum: False builds the einsum-free attention graph.
        loss_scale: None, "dynamic" (with --use_fp16) or a fixed number; see
            optimization.DynamicLossScale.
        init_report_file: where the full load report of ``init_checkpoint``
            is written (one summary line is logged, once: not when the
            Estimator restores a checkpoint of its own output directory).
        verbose: log every variable of the load report.
        compute_dtype: tf.float32, or tf.bfloat16 for the encoder's matrix
            products (--use_bf16; variables and the heads stay float32).

    Returns:
        model_fn(features, labels, mode, params, config).
    """

    def model_fn(features, labels, mode, params, config=None):  # pylint: disable=unused-argument
        """The pretraining graph for one (replica's) batch."""
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        input_ids = features["input_ids"]
        masked_positions = tf.cast(features["masked_lm_positions"], tf.int32)
        # Only [CLS] (for SOP) and the masked positions (for MLM) are read from
        # the last layer, so the model computes its last block only there:
        # the same values, about 70% of the last layer's work saved.
        output_positions = tf.concat([tf.zeros_like(masked_positions[:, :1]), masked_positions],
                                     axis=1)
        model = modeling.AlbertModel(config=albert_config, is_training=is_training,
                                     input_ids=input_ids, input_mask=features["input_mask"],
                                     token_type_ids=features["segment_ids"],
                                     use_one_hot_embeddings=use_one_hot_embeddings,
                                     use_einsum=use_einsum, output_positions=output_positions,
                                     compute_dtype=compute_dtype)
        mlm_loss, mlm_per_position, mlm_log_probs = get_masked_lm_output(
            albert_config,
            model.get_output_at_positions()[:, 1:, :], model.get_embedding_table(),
            model.get_embedding_projection(), None, features["masked_lm_ids"],
            features["masked_lm_weights"])
        sop_loss, sop_per_example, sop_log_probs = get_sentence_order_output(
            albert_config, model.get_pooled_output(), features["next_sentence_labels"])
        total_loss = tf.identity(mlm_loss + sop_loss, name="total_loss")

        scaffold_fn = None
        if (is_training and init_checkpoint and
                not checkpoint_utils.estimator_restores_own_checkpoint(config)):
            model_variables = tf.trainable_variables()

            def init_fn():
                checkpoint_utils.init_from_checkpoint(
                    init_checkpoint, variables=model_variables, allow_missing=[HEAD_VARIABLES],
                    init_from_group0=init_from_group0,
                    graph_layout=albert_config.resolved_embedding_layout, verbose=verbose,
                    report_file=init_report_file)
                return tf.train.Scaffold()

            if use_tpu:
                scaffold_fn = init_fn
            elif (tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context()):
                # Once, in cross-replica context, where mirrored variables
                # go by their own (not their replica copies') names.
                tf.distribute.get_replica_context().merge_call(lambda unused_strategy: init_fn())
            else:
                init_fn()

        if mode == tf.estimator.ModeKeys.TRAIN:
            train_op, lr = optimization.create_optimizer_with_lr(
                total_loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu=use_tpu,
                optimizer=optimizer, poly_power=poly_power, start_warmup_step=start_warmup_step,
                weight_decay_rate=weight_decay_rate,
                gradient_accumulation_steps=gradient_accumulation_steps, loss_scale=loss_scale)
            del lr  # Logged by name ("learning_rate") by driver_utils.TrainingLogHook.
            if use_tpu:
                return tf.estimator.tpu.TPUEstimatorSpec(mode=mode, loss=total_loss,
                                                         train_op=train_op, scaffold_fn=scaffold_fn)
            return tf.estimator.EstimatorSpec(mode=mode, loss=total_loss, train_op=train_op)

        if mode == tf.estimator.ModeKeys.EVAL:
            is_real = features.get("is_real_example")
            if is_real is None:
                is_real = tf.ones(tf.shape(input_ids)[:1], tf.float32)
            metric_args = [
                mlm_per_position, mlm_log_probs, features["masked_lm_ids"],
                features["masked_lm_weights"], sop_per_example, sop_log_probs,
                features["next_sentence_labels"], is_real
            ]
            if use_tpu:
                return tf.estimator.tpu.TPUEstimatorSpec(mode=mode, loss=total_loss,
                                                         eval_metrics=(metric_fn, metric_args),
                                                         scaffold_fn=scaffold_fn)
            return tf.estimator.EstimatorSpec(mode=mode, loss=total_loss,
                                              eval_metric_ops=metric_fn(*metric_args))

        raise ValueError("Only TRAIN and EVAL modes are supported: %s" % mode)

    return model_fn


# ---------------------------------------------------------------------------
# Input.
# ---------------------------------------------------------------------------


def expand_input_files(patterns):
    """Expands comma-separated globs (or a list of them) into sorted files.

    Args:
        patterns: "a/*.tfrecord,b.tfrecord" or a list of such strings.

    Returns:
        List of file names, in the order given (each glob sorted).

    Raises:
        DataMismatchError: if a pattern matches no file.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    files = []
    for item in patterns:
        for pattern in item.split(","):
            pattern = pattern.strip()
            if not pattern:
                continue
            matched = sorted(tf.gfile.Glob(pattern))
            if not matched:
                raise DataMismatchError("%s: no such input file" % pattern)
            files.extend(matched)
    if not files:
        raise DataMismatchError("no input files given")
    return files


def feature_spec(max_seq_length, max_predictions_per_seq):
    """The parsing spec of the pretraining records."""
    spec = {}
    for name in SEQUENCE_FEATURES:
        spec[name] = tf.FixedLenFeature([max_seq_length], tf.int64)
    spec["masked_lm_positions"] = tf.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_ids"] = tf.FixedLenFeature([max_predictions_per_seq], tf.int64)
    spec["masked_lm_weights"] = tf.FixedLenFeature([max_predictions_per_seq], tf.float32)
    spec["next_sentence_labels"] = tf.FixedLenFeature([1], tf.int64)
    return spec


def _decode_batch(serialized, spec):
    """Parses a batch of records; int64 features become int32."""
    parsed = tf.parse_example(serialized, spec)
    out = {}
    for name, tensor in parsed.items():
        out[name] = tf.cast(tensor, tf.int32) if tensor.dtype == tf.int64 else tensor
    return out


def _padding_example(max_seq_length, max_predictions_per_seq):
    """A serialized all-zero record (weights 0) that pads the last eval batch."""
    feature = {}
    for name in SEQUENCE_FEATURES + ("masked_lm_positions", "masked_lm_ids",
                                     "next_sentence_labels"):
        length = (max_seq_length if name in SEQUENCE_FEATURES else
                  1 if name == "next_sentence_labels" else max_predictions_per_seq)
        feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[0] * length))
    feature["masked_lm_weights"] = tf.train.Feature(float_list=tf.train.FloatList(
        value=[0.0] * max_predictions_per_seq))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _interleave_records(files, cycle_length, parallel):
    """The records of a dataset of file names, `cycle_length` files at a time.

    Record k comes from the (k mod cycle_length)-th open file (block length 1)
    in the same order whether or not the files are read in parallel. With
    `parallel`, each open file has a reader thread: on TensorFlow 1.x through
    `tf.data.experimental.parallel_interleave`, because TF 1.15's
    `interleave(num_parallel_calls=...)` can crash (segmentation fault) while
    the session closes after one of its readers met a damaged record, so that
    the DataLossError is never reported.

    Args:
      files: a dataset of file names.
      cycle_length: number of files open at once.
      parallel: read the open files in parallel threads.

    Returns:
      A dataset of serialized records.
    """
    if not parallel:
        return files.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length, block_length=1)
    if tf_compat.TF_VERSION[0] < 2:
        return files.apply(
            tf.data.experimental.parallel_interleave(tf.data.TFRecordDataset,
                                                     cycle_length=cycle_length, block_length=1,
                                                     sloppy=False))
    return files.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length, block_length=1,
                            num_parallel_calls=cycle_length)


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq, is_training,
                     batch_size=None, num_records=None, shuffle=True, seed=None, num_cpu_threads=4):
    """Returns an `input_fn` for training or evaluation.

    Training: files are shuffled and interleaved, records shuffled, the data
    repeats forever and every batch is full. Evaluation: the files are read
    once, in order, and the last batch is filled up with padding records
    (feature ``is_real_example`` = 0) so that every record is evaluated once
    and shapes stay static (TPU); the metrics ignore the padding.

    The batch size is ``params["batch_size"]`` (set by TPUEstimator per
    shard), else `batch_size`. Under a tf.distribute strategy the Estimator
    passes an `input_context`; the global batch is then split over the
    replicas and the files are sharded over the input pipelines (workers).

    Args:
        input_files: list of TFRecord files.
        max_seq_length: length of the sequence features.
        max_predictions_per_seq: length of the masked-LM features.
        is_training: training (repeat, shuffle) or evaluation (one pass).
        batch_size: global batch size when params has none.
        num_records: evaluation only: the number of records in `input_files`
            (to pad the last batch); None reads and counts them.
        shuffle: training only: shuffle files and records.
        seed: random seed of the shuffles.
        num_cpu_threads: parallel readers / parsers.

    Returns:
        input_fn(params, input_context=None) -> tf.data.Dataset.
    """
    input_files = list(input_files)
    spec = feature_spec(max_seq_length, max_predictions_per_seq)

    def input_fn(params, input_context=None):
        """Builds the dataset of feature dicts."""
        size = (params or {}).get("batch_size", batch_size)
        if not size:
            raise ValueError("no batch size given")
        files = input_files
        if input_context is not None:
            size = input_context.get_per_replica_batch_size(size)
        if is_training:
            dataset = tf.data.Dataset.from_tensor_slices(tf.constant(files))
            if (input_context is not None and input_context.num_input_pipelines > 1):
                if len(files) >= input_context.num_input_pipelines:
                    dataset = dataset.shard(input_context.num_input_pipelines,
                                            input_context.input_pipeline_id)
            dataset = dataset.repeat()
            if shuffle:
                dataset = dataset.shuffle(buffer_size=len(files), seed=seed)
            cycle_length = min(num_cpu_threads, len(files))
            dataset = _interleave_records(dataset, cycle_length, parallel=shuffle and
                                          cycle_length > 1)
            if (input_context is not None and input_context.num_input_pipelines > 1 and
                    len(files) < input_context.num_input_pipelines):
                dataset = dataset.shard(input_context.num_input_pipelines,
                                        input_context.input_pipeline_id)
            if shuffle:
                dataset = dataset.shuffle(buffer_size=1000, seed=seed)
            dataset = dataset.batch(size, drop_remainder=True)
        else:
            count = num_records
            if count is None:
                count = count_records(files)
            # TPUEstimator (PER_HOST_V2) feeds every core of the host from
            # this dataset: pad to whole steps of all of them.
            context = (params or {}).get("context")
            per_step = size * int(getattr(context, "num_of_replicas_per_host", 1) or 1)
            padding = (-count) % per_step
            records = tf.data.TFRecordDataset(files)
            records = records.map(lambda r: (r, tf.constant(1.0)))
            if padding:
                pad = tf.data.Dataset.from_tensors(
                    (tf.constant(_padding_example(max_seq_length, max_predictions_per_seq)),
                     tf.constant(0.0))).repeat(padding)
                records = records.concatenate(pad)
            dataset = records.batch(size, drop_remainder=True)

        def decode(serialized, *real):
            features = _decode_batch(serialized, spec)
            if real:
                features["is_real_example"] = real[0]
            return features

        dataset = dataset.map(decode, num_parallel_calls=num_cpu_threads)
        return dataset.prefetch(2)

    return input_fn


def count_records(files):
    """Counts the records of TFRecord files."""
    total = 0
    for name in files:
        for _ in tf.python_io.tf_record_iterator(name):
            total += 1
    return total


def _feature_values(feature):
    kind = feature.WhichOneof("kind")
    if kind is None:
        return kind, []
    return kind, list(getattr(feature, kind).value)


def check_records(input_files, albert_config, max_seq_length, max_predictions_per_seq,
                  max_records=1000, max_files=20):
    """Checks that records, config and flags agree, before any training.

    Reads up to `max_records` records of the first file and the first record
    of each of the next `max_files` - 1 files.

    Args:
        input_files: list of TFRecord files.
        albert_config: modeling.AlbertConfig.
        max_seq_length: the --max_seq_length flag.
        max_predictions_per_seq: the --max_predictions_per_seq flag.
        max_records: records to check in the first file.
        max_files: files to look at.

    Returns:
        The number of records checked.

    Raises:
        DataMismatchError: naming the file, the record and the problem.
    """
    if max_seq_length > albert_config.max_position_embeddings:
        raise DataMismatchError("--max_seq_length=%d exceeds max_position_embeddings=%d of the "
                                "config" % (max_seq_length, albert_config.max_position_embeddings))
    expected = dict((name, ("int64_list", max_seq_length)) for name in SEQUENCE_FEATURES)
    expected["masked_lm_positions"] = ("int64_list", max_predictions_per_seq)
    expected["masked_lm_ids"] = ("int64_list", max_predictions_per_seq)
    expected["masked_lm_weights"] = ("float_list", max_predictions_per_seq)
    expected["next_sentence_labels"] = ("int64_list", 1)
    flag_of = dict((name, "--max_seq_length") for name in SEQUENCE_FEATURES)
    flag_of.update((name, "--max_predictions_per_seq") for name in PREDICTION_FEATURES)
    checked = 0
    for file_index, name in enumerate(input_files[:max_files]):
        limit = max_records if file_index == 0 else 1
        for index, record in enumerate(tf.python_io.tf_record_iterator(name)):
            if index >= limit:
                break
            where = "%s: record %d" % (name, index + 1)
            example = tf.train.Example.FromString(record)
            features = example.features.feature
            values = {}
            for key, (kind, length) in sorted(expected.items()):
                if key not in features:
                    raise DataMismatchError("%s: feature %s is missing (not a pretraining "
                                            "record?)" % (where, key))
                got_kind, got = _feature_values(features[key])
                if got_kind != kind:
                    raise DataMismatchError("%s: feature %s is %s, expected %s" %
                                            (where, key, got_kind, kind))
                if len(got) != length:
                    flag = flag_of.get(key)
                    hint = (" (the data was written with %s=%d; pass the same "
                            "value)" % (flag, len(got)) if flag else "")
                    raise DataMismatchError("%s: feature %s has length %d, expected %d%s" %
                                            (where, key, len(got), length, hint))
                values[key] = got
            top = max(values["input_ids"] + values["masked_lm_ids"])
            if top >= albert_config.vocab_size or min(values["input_ids"]) < 0:
                raise DataMismatchError("%s: token id %d is outside the config's vocab_size=%d "
                                        "(records written with another vocabulary?)" %
                                        (where, top, albert_config.vocab_size))
            if values["masked_lm_positions"] and (max(
                    values["masked_lm_positions"]) >= max_seq_length or
                                                  min(values["masked_lm_positions"]) < 0):
                raise DataMismatchError("%s: masked_lm_positions %d outside [0, %d)" %
                                        (where, max(values["masked_lm_positions"]), max_seq_length))
            if max(values["segment_ids"]) >= albert_config.type_vocab_size:
                raise DataMismatchError(
                    "%s: segment id %d outside type_vocab_size=%d" %
                    (where, max(values["segment_ids"]), albert_config.type_vocab_size))
            if values["next_sentence_labels"][0] not in (0, 1):
                raise DataMismatchError("%s: next_sentence_labels is %d, expected 0 or 1" %
                                        (where, values["next_sentence_labels"][0]))
            checked += 1
        if file_index == 0 and checked == 0:
            raise DataMismatchError("%s: file holds no records" % name)
    return checked


# ---------------------------------------------------------------------------
# Run configuration.
# ---------------------------------------------------------------------------


def session_config(num_cpu_devices=None, use_xla=False, intra_op_threads=0, inter_op_threads=0):
    """A `tf.ConfigProto` for the Estimator's sessions.

    Args:
        num_cpu_devices: expose this many CPU devices (for testing
            `mirrored` without GPUs); None leaves the default (one).
        use_xla: turn on XLA auto-clustering (JIT) for the whole graph (on
            CPUs too: sets ``--tf_xla_cpu_global_jit`` in ``TF_XLA_FLAGS``).
        intra_op_threads: threads per op (0 = TensorFlow's choice).
        inter_op_threads: ops run in parallel (0 = TensorFlow's choice).

    Returns:
        tf.ConfigProto.
    """
    config = tf.ConfigProto(allow_soft_placement=True,
                            intra_op_parallelism_threads=intra_op_threads,
                            inter_op_parallelism_threads=inter_op_threads)
    if num_cpu_devices:
        config.device_count["CPU"] = int(num_cpu_devices)
    if use_xla:
        config.graph_options.optimizer_options.global_jit_level = (tf.OptimizerOptions.ON_1)
        # TensorFlow 1.15 auto-clusters for the CPU only with this flag (read
        # when the first session optimises its graph).
        xla_flags = os.environ.get("TF_XLA_FLAGS", "")
        if "--tf_xla_cpu_global_jit" not in xla_flags:
            os.environ["TF_XLA_FLAGS"] = (xla_flags + " --tf_xla_cpu_global_jit").strip()
    return config


def local_devices(num_cpu_devices=None):
    """The devices a `mirrored` strategy uses: all GPUs, else the CPUs.

    Args:
        num_cpu_devices: number of CPU devices when there is no GPU (the
            session config must expose as many, see `session_config`).

    Returns:
        List of device names.
    """
    from tensorflow.python.client import device_lib  # pylint: disable=g-import-not-at-top
    gpus = [d.name for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    if gpus:
        return gpus
    return ["/cpu:%d" % i for i in range(int(num_cpu_devices or 1))]


def build_strategy(name, num_cpu_devices=None):
    """Builds the tf.distribute strategy named by --distribution_strategy.

    Args:
        name: "none", "mirrored" or "multi_worker".
        num_cpu_devices: CPU devices to mirror over when there is no GPU.

    Returns:
        A strategy, or None for "none".

    Raises:
        ValueError: for an unknown name, or multi_worker without TF_CONFIG.
    """
    if name in (None, "", "none"):
        return None
    if name == "mirrored":
        devices = local_devices(num_cpu_devices)
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multi_worker":
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        if not tf_config.get("cluster"):
            raise ValueError("--distribution_strategy=multi_worker needs the cluster in the "
                             "TF_CONFIG environment variable, e.g. {\"cluster\": {\"worker\":"
                             " [\"host1:2222\", \"host2:2222\"]}, \"task\": {\"type\": "
                             "\"worker\", \"index\": 0}}")
        return tf.distribute.experimental.MultiWorkerMirroredStrategy()
    raise ValueError("unknown distribution strategy %r; choose one of: %s" %
                     (name, ", ".join(DISTRIBUTION_STRATEGIES)))


# The Estimator RunConfig (TPU or not) is shared with the fine-tuning scripts.
build_run_config = script_utils.build_run_config


def build_estimator(model_fn, run_config, use_tpu=False, train_batch_size=32, eval_batch_size=8):
    """A TPUEstimator (use_tpu) or a plain Estimator.

    Args:
        model_fn: from `model_fn_builder`.
        run_config: from `build_run_config`.
        use_tpu: TPUEstimator with batch sizes split over the shards.
        train_batch_size: global training batch size.
        eval_batch_size: global evaluation batch size.

    Returns:
        The estimator. The plain Estimator's input_fn takes its batch size
        from `input_fn_builder(batch_size=...)`; TPUEstimator passes the
        per-shard size in ``params["batch_size"]``.
    """
    if use_tpu:
        return tf.estimator.tpu.TPUEstimator(use_tpu=True, model_fn=model_fn, config=run_config,
                                             train_batch_size=train_batch_size,
                                             eval_batch_size=eval_batch_size)
    return tf.estimator.Estimator(model_fn=model_fn, config=run_config)


# ---------------------------------------------------------------------------
# Checkpoints and evaluation results.
# ---------------------------------------------------------------------------


def checkpoint_step(prefix):
    """The global step in a ``model.ckpt-<step>`` prefix, or None."""
    match = re.search(r"-(\d+)$", prefix or "")
    return int(match.group(1)) if match else None


def saved_checkpoints(output_dir):
    """Checkpoint prefixes recorded in ``output_dir/checkpoint``, oldest first."""
    state = tf.train.get_checkpoint_state(output_dir)
    if state is None:
        return []
    out = []
    for recorded in state.all_model_checkpoint_paths:
        # TensorFlow records paths as given to it: relative to the working
        # directory when --output_dir is relative, or relative to the
        # directory itself, or absolute (possibly from another machine).
        for path in (recorded, os.path.join(output_dir, recorded),
                     os.path.join(output_dir, os.path.basename(recorded))):
            if tf.gfile.Exists(path + ".index"):
                out.append(path)
                break
    return sorted(out, key=lambda p: checkpoint_step(p) or -1)


def evaluate_checkpoint(estimator, input_fn, checkpoint, steps):
    """Evaluates one checkpoint; returns the metrics with ``loss`` exact.

    ``loss`` is masked_lm_loss + sentence_order_loss over all evaluated
    records (the Estimator's own ``loss`` averages batch losses, which the
    padding of the last batch would distort).
    """
    metrics = estimator.evaluate(input_fn=input_fn, steps=steps, checkpoint_path=checkpoint,
                                 name=None)
    metrics = dict((k, float(v)) for k, v in metrics.items() if k != "global_step")
    metrics["loss"] = metrics["masked_lm_loss"] + metrics["sentence_order_loss"]
    tf.logging.info("Eval of %s: %s", checkpoint,
                    ", ".join("%s=%.4f" % (k, metrics[k]) for k in sorted(metrics)))
    return metrics


def eval_history(output_dir, eval_files, eval_steps):
    """The EvalHistory of ``output_dir`` for this evaluation data.

    Its key names the evaluated files (with their sizes) and the number of
    batches, so other evaluation data starts a new history; the best
    checkpoint is the one with the highest masked_lm_accuracy.
    """
    key = "%s; %s batches" % (", ".join("%s (%d bytes)" %
                                        (os.path.basename(path), tf.gfile.Stat(path).length)
                                        for path in eval_files), eval_steps)
    return driver_utils.EvalHistory(
        output_dir, key, "masked_lm_accuracy",
        "pretraining eval on %s (best by masked_lm_accuracy)" % ", ".join(eval_files))


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def define_flags():
    """Defines the command-line flags (the script's only global state)."""
    from absl import flags  # pylint: disable=g-import-not-at-top
    flags.DEFINE_string("albert_config_file", None,
                        "The model config JSON (either reference format).")
    flags.DEFINE_alias("bert_config_file", "albert_config_file")
    flags.DEFINE_string("input_file", None, "Training TFRecords: comma-separated files or globs.")
    flags.DEFINE_string(
        "eval_input_file", None, "Held-out TFRecords for --do_eval (comma-separated "
        "files or globs); every record is evaluated. Without "
        "it, --max_eval_steps batches of --input_file are.")
    flags.DEFINE_string("output_dir", None, "Where checkpoints and eval_results.txt are written.")
    flags.DEFINE_string(
        "init_checkpoint", None, "Checkpoint to start from (prefix, directory or "
        "'checkpoint' file). Ignored when output_dir already "
        "holds a checkpoint (the run resumes from it).")
    flags.DEFINE_integer(
        "max_seq_length", 512, "Sequence length of the records (as written by "
        "create_pretraining_data.py).")
    flags.DEFINE_integer("max_predictions_per_seq", 20,
                         "Masked positions per sequence of the records.")
    flags.DEFINE_bool("do_train", False, "Train.")
    flags.DEFINE_bool(
        "do_eval", False, "Evaluate every new checkpoint; keep the best one by "
        "masked_lm_accuracy as model.ckpt-best.")
    flags.DEFINE_integer("train_batch_size", 4096,
                         "Global training batch size (all devices together) "
                         "of one micro-batch.")
    flags.DEFINE_integer("eval_batch_size", 64, "Global evaluation batch size.")
    flags.DEFINE_enum("optimizer", "lamb", list(optimization.OPTIMIZER_CHOICES), "The optimizer.")
    flags.DEFINE_float("learning_rate", 0.00176, "Peak learning rate.")
    flags.DEFINE_float("poly_power", 1.0, "Power of the polynomial decay.")
    flags.DEFINE_integer("num_train_steps", 125000, "Number of updates (global steps).")
    flags.DEFINE_integer("num_warmup_steps", 3125, "Linear warmup steps.")
    flags.DEFINE_integer("start_warmup_step", 0, "Step where warmup starts.")
    flags.DEFINE_integer(
        "save_checkpoints_steps", 5000, "Save a checkpoint (and, with --do_train and "
        "--do_eval, evaluate it) every this many steps.")
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Number of recent checkpoints kept.")
    script_utils.define_tpu_flags(flags)
    flags.adopt_module_key_flags(script_utils)  # listed in --help
    flags.DEFINE_integer(
        "max_eval_steps", 100, "Evaluation batches when there is no "
        "--eval_input_file (with it, all records are "
        "evaluated unless this flag is given explicitly).")
    flags.DEFINE_bool("init_from_group0", False, "Initialise every layer group from group 0 of "
                      "--init_checkpoint.")
    flags.DEFINE_integer(
        "gradient_accumulation_steps", 1, "Micro-batches of --train_batch_size per update: "
        "the effective batch is train_batch_size x this.")
    flags.DEFINE_enum(
        "distribution_strategy", "none", list(DISTRIBUTION_STRATEGIES),
        "none: one device; mirrored: all local GPUs (or "
        "--num_cpu_devices CPUs); multi_worker: "
        "MultiWorkerMirroredStrategy, cluster from TF_CONFIG.")
    flags.DEFINE_integer(
        "num_cpu_devices", 1, "With --distribution_strategy=mirrored and no GPU: "
        "number of CPU devices to mirror over (testing).")
    flags.DEFINE_integer("random_seed", 12345, "Seed of initialisation, dropout and shuffling.")
    flags.DEFINE_bool("use_xla", False, "Compile the graph with XLA (auto-clustering).")
    flags.DEFINE_bool(
        "use_fp16", False, "Mixed precision on GPUs: float16 compute through the "
        "auto_mixed_precision graph rewrite, with dynamic loss "
        "scaling (steps with inf/NaN gradients are skipped). "
        "Refused when no GPU is visible.")
    precision.define_bf16_flag(flags, "the encoder (training and evaluation)")
    flags.DEFINE_bool("use_einsum", True, "False builds the einsum-free attention graph.")
    flags.DEFINE_float("weight_decay_rate", 0.01, "Decoupled weight decay.")
    flags.DEFINE_float("log_every_secs", 30.0, "Seconds between two training progress lines.")
    script_utils.define_verbose_flag(flags)
    return flags.FLAGS


def _gpu_available():
    from tensorflow.python.client import device_lib  # pylint: disable=g-import-not-at-top
    return any(d.device_type == "GPU" for d in device_lib.list_local_devices())


def _check_flags(flags_obj):
    """Flag combinations that cannot work: UserError before any work."""
    if not flags_obj.do_train and not flags_obj.do_eval:
        raise script_utils.UserError("nothing to do: pass --do_train and/or --do_eval")
    for name in ("albert_config_file", "output_dir"):
        if not getattr(flags_obj, name):
            raise script_utils.UserError("--%s is required" % name)
    if flags_obj.do_train and not flags_obj.input_file:
        raise script_utils.UserError("--do_train needs --input_file")
    if flags_obj.do_eval and not (flags_obj.input_file or flags_obj.eval_input_file):
        raise script_utils.UserError("--do_eval needs --eval_input_file (or --input_file)")
    for name in ("max_seq_length", "max_predictions_per_seq", "train_batch_size", "eval_batch_size",
                 "num_train_steps", "save_checkpoints_steps", "gradient_accumulation_steps",
                 "iterations_per_loop", "num_tpu_cores"):
        if getattr(flags_obj, name) < 1:
            raise script_utils.UserError("--%s must be >= 1, got %d" %
                                         (name, getattr(flags_obj, name)))
    if flags_obj.max_predictions_per_seq > flags_obj.max_seq_length:
        raise script_utils.UserError("--max_predictions_per_seq=%d exceeds --max_seq_length=%d" %
                                     (flags_obj.max_predictions_per_seq, flags_obj.max_seq_length))
    if flags_obj.use_tpu and flags_obj.distribution_strategy != "none":
        raise script_utils.UserError(
            "--use_tpu and --distribution_strategy=%s exclude each other (the "
            "TPU path shards over --num_tpu_cores itself)" % flags_obj.distribution_strategy)
    if flags_obj.use_fp16 and precision.requested_dtype(flags_obj.use_bf16) != tf.float32:
        raise script_utils.UserError("--use_fp16 and --use_bf16 exclude each other")
    if flags_obj.use_fp16 and not _gpu_available():
        raise script_utils.UserError(
            "--use_fp16 needs a GPU (float16 matmuls are slower than float32 "
            "on CPUs and TPUs use bfloat16); no GPU is visible to TensorFlow")


def _load_config(flags_obj):
    try:
        config = modeling.AlbertConfig.from_json_file(flags_obj.albert_config_file)
    except (IOError, OSError, ValueError) as e:
        raise script_utils.UserError("%s: %s" % (flags_obj.albert_config_file, e))
    resume = tf.train.latest_checkpoint(flags_obj.output_dir) if tf.gfile.Exists(
        flags_obj.output_dir) else None
    source = resume or flags_obj.init_checkpoint
    if source:
        try:
            config = checkpoint_utils.config_for_checkpoint(config, source)
            problems = checkpoint_utils.check_config_against_checkpoint(config, source)
        except (checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError) as e:
            raise script_utils.UserError(str(e))
        if problems:
            raise script_utils.UserError("%s does not match %s: %s" %
                                         (checkpoint_utils.resolve_checkpoint(source),
                                          flags_obj.albert_config_file, "; ".join(problems)))
    return config


def main(argv):
    """Runs training and/or evaluation as the flags say."""
    del argv
    flags_obj = FLAGS
    _check_flags(flags_obj)
    tf.logging.set_verbosity(tf.logging.INFO)
    compute_dtype = precision.compute_dtype(flags_obj.use_bf16, flags_obj.use_tpu)
    config = _load_config(flags_obj)
    tf.logging.info("Model config (%s layout): %s", config.resolved_embedding_layout,
                    json.dumps(config.to_dict(), sort_keys=True))

    try:
        train_files = (expand_input_files(flags_obj.input_file) if flags_obj.input_file else [])
        eval_files = (expand_input_files(flags_obj.eval_input_file)
                      if flags_obj.eval_input_file else train_files)
        driver_utils.check_tfrecord_files(train_files +
                                          [f for f in eval_files if f not in train_files])
        for files in (train_files, eval_files):
            if files:
                check_records(files, config, flags_obj.max_seq_length,
                              flags_obj.max_predictions_per_seq)
        if flags_obj.init_checkpoint:
            checkpoint_utils.check_checkpoint_complete(flags_obj.init_checkpoint)
    except (DataMismatchError, driver_utils.RecordFileError, checkpoint_utils.CheckpointError) as e:
        raise script_utils.UserError(str(e))
    except tf.errors.DataLossError as e:
        raise script_utils.UserError(
            driver_utils.describe_data_loss(
                e, train_files + [f for f in eval_files if f not in train_files]))
    driver_utils.prepare_output_dir(flags_obj.output_dir, is_chief=_is_chief())
    if flags_obj.do_train:
        driver_utils.check_resume_checkpoint(flags_obj.output_dir)

    if flags_obj.use_fp16:
        tf.logging.info("--use_fp16: float16 compute through the "
                        "auto_mixed_precision graph rewrite, dynamic loss "
                        "scaling")
    try:
        strategy = build_strategy(flags_obj.distribution_strategy, flags_obj.num_cpu_devices)
    except ValueError as e:
        raise script_utils.UserError(str(e))
    if strategy is not None:
        tf.logging.info("Distribution: %s (%s), %d replicas in sync",
                        flags_obj.distribution_strategy,
                        type(strategy).__name__, strategy.num_replicas_in_sync)
    num_cpu_devices = (flags_obj.num_cpu_devices
                       if flags_obj.distribution_strategy == "mirrored" else None)
    sess_config = session_config(num_cpu_devices=num_cpu_devices, use_xla=flags_obj.use_xla)
    if flags_obj.use_fp16:
        sess_config.graph_options.rewrite_options.auto_mixed_precision = 1
    run_config = script_utils.run_config_from_flags(flags_obj, train_distribute=strategy,
                                                    session_config_proto=sess_config)
    model_fn = model_fn_builder(
        config, init_checkpoint=flags_obj.init_checkpoint, learning_rate=flags_obj.learning_rate,
        num_train_steps=flags_obj.num_train_steps, num_warmup_steps=flags_obj.num_warmup_steps,
        use_tpu=flags_obj.use_tpu, use_one_hot_embeddings=flags_obj.use_tpu,
        optimizer=flags_obj.optimizer, poly_power=flags_obj.poly_power,
        start_warmup_step=flags_obj.start_warmup_step, init_from_group0=flags_obj.init_from_group0,
        gradient_accumulation_steps=flags_obj.gradient_accumulation_steps,
        weight_decay_rate=flags_obj.weight_decay_rate, use_einsum=flags_obj.use_einsum,
        loss_scale="dynamic" if flags_obj.use_fp16 else None, compute_dtype=compute_dtype,
        init_report_file=os.path.join(flags_obj.output_dir,
                                      driver_utils.INIT_REPORT_FILE), verbose=flags_obj.verbose)

    def make_estimator(distributed):
        rc = run_config
        if not distributed and not flags_obj.use_tpu and strategy is not None:
            rc = script_utils.run_config_from_flags(
                flags_obj, use_tpu=False,
                session_config_proto=session_config(use_xla=flags_obj.use_xla))
        if flags_obj.use_tpu:
            return build_estimator(model_fn, rc, use_tpu=True,
                                   train_batch_size=flags_obj.train_batch_size,
                                   eval_batch_size=flags_obj.eval_batch_size)
        return tf.estimator.Estimator(model_fn=model_fn, config=rc)

    train_input_fn = None
    if flags_obj.do_train:
        train_input_fn = input_fn_builder(train_files, flags_obj.max_seq_length,
                                          flags_obj.max_predictions_per_seq, is_training=True,
                                          batch_size=flags_obj.train_batch_size,
                                          seed=flags_obj.random_seed)
    eval_input_fn = eval_steps = None
    if flags_obj.do_eval:
        eval_input_fn, eval_steps = _eval_input(flags_obj, eval_files)

    try:
        _run(flags_obj, make_estimator, strategy, train_input_fn, eval_input_fn, eval_steps,
             eval_files)
    except (checkpoint_utils.CheckpointMismatchError, checkpoint_utils.CheckpointError) as e:
        raise script_utils.UserError(str(e))
    except tf.errors.DataLossError as e:
        raise script_utils.UserError(
            driver_utils.describe_data_loss(
                e, train_files + [f for f in eval_files if f not in train_files]))


def _eval_input(flags_obj, eval_files):
    """The eval input_fn and number of steps (all records, or max_eval_steps)."""
    batch = flags_obj.eval_batch_size
    if flags_obj.eval_input_file:
        num_records = count_records(eval_files)
        steps = -(-num_records // batch)
        if FLAGS["max_eval_steps"].present:
            steps = min(steps, flags_obj.max_eval_steps)
        tf.logging.info("Evaluating %d records of %s in %d batches of %d", num_records,
                        flags_obj.eval_input_file, steps, batch)
        return input_fn_builder(eval_files, flags_obj.max_seq_length,
                                flags_obj.max_predictions_per_seq, is_training=False,
                                batch_size=batch, num_records=num_records), steps
    # Google's behaviour: max_eval_steps batches of the training data.
    tf.logging.info("Evaluating %d batches of %d of the training data", flags_obj.max_eval_steps,
                    batch)
    return input_fn_builder(eval_files, flags_obj.max_seq_length, flags_obj.max_predictions_per_seq,
                            is_training=True, shuffle=False,
                            batch_size=batch), flags_obj.max_eval_steps


def _is_chief():
    """True for the chief of a TF_CONFIG cluster (or worker 0 without one)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = tf_config.get("task") or {}
    cluster = tf_config.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def _run(flags_obj, make_estimator, strategy, train_input_fn, eval_input_fn, eval_steps,
         eval_files):
    """Trains and evaluates (interleaved when both are asked for)."""
    del strategy  # built into the estimator by make_estimator
    output_dir = flags_obj.output_dir
    examples_per_step = (flags_obj.train_batch_size * flags_obj.gradient_accumulation_steps)
    # On TPU the loss lives inside the TPU loop; TPUEstimator logs it.
    hooks = [] if flags_obj.use_tpu else [
        driver_utils.TrainingLogHook(examples_per_step, flags_obj.num_train_steps,
                                     every_secs=flags_obj.log_every_secs)
    ]
    multi_worker = flags_obj.distribution_strategy == "multi_worker"

    def evaluate_new_checkpoints():
        estimator = make_estimator(distributed=False)
        history = eval_history(output_dir, eval_files, eval_steps)
        checkpoints = [(checkpoint_step(p), p) for p in saved_checkpoints(output_dir)]
        driver_utils.evaluate_new_checkpoints(
            output_dir, history,
            lambda prefix: evaluate_checkpoint(estimator, eval_input_fn, prefix, eval_steps),
            include_step_zero=True, checkpoints=checkpoints)

    if train_input_fn is not None:
        estimator = make_estimator(distributed=True)
        if multi_worker:
            # The distribute coordinator runs the workers together.
            tf.estimator.train_and_evaluate(
                estimator,
                tf.estimator.TrainSpec(train_input_fn, max_steps=flags_obj.num_train_steps,
                                       hooks=hooks),
                tf.estimator.EvalSpec(eval_input_fn or train_input_fn, steps=eval_steps or 1,
                                      start_delay_secs=10**9, throttle_secs=10**9))
        else:
            evaluating = eval_input_fn is not None
            step = driver_utils.train(
                estimator, output_dir, flags_obj.num_train_steps,
                lambda unused_step: train_input_fn,
                round_steps=flags_obj.save_checkpoints_steps if evaluating else None,
                after_round=evaluate_new_checkpoints if evaluating else None, hooks=hooks)
            tf.logging.info("Training done: global step %d", step)
    if eval_input_fn is not None and (not multi_worker or _is_chief()):
        evaluate_new_checkpoints()
        if not saved_checkpoints(output_dir):
            raise script_utils.UserError("%s holds no checkpoint to evaluate" % output_dir)


if __name__ == "__main__":
    FLAGS = define_flags()
    script_utils.run(main)
