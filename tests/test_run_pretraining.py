# coding=utf-8
"""In-process tests of run_pretraining.py: heads, loss, input, optimizer.

End-to-end runs of the script are in test_run_pretraining_e2e.py, the
multi-device and multi-worker runs in test_run_pretraining_distributed.py.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tf_compat import tf

import driver_utils
import modeling
import run_pretraining as rp
import pretraining_testlib as lib

SEQ = 16
PRED = 4
VOCAB = 64


def _features(examples):
    """Batches synthetic examples into int32/float32 numpy feature arrays."""
    out = {}
    for name in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                 "masked_lm_weights", "next_sentence_labels"):
        dtype = np.float32 if name == "masked_lm_weights" else np.int32
        out[name] = np.array([e[name] for e in examples], dtype=dtype)
    return out


def _examples(count, seed=0, num_masked=None):
    rng = np.random.RandomState(seed)
    return [
        lib.synthetic_example(rng, SEQ, PRED, VOCAB, num_masked=num_masked) for _ in range(count)
    ]


def _placeholders():
    return {
        "input_ids": tf.placeholder(tf.int32, [None, SEQ]),
        "input_mask": tf.placeholder(tf.int32, [None, SEQ]),
        "segment_ids": tf.placeholder(tf.int32, [None, SEQ]),
        "masked_lm_positions": tf.placeholder(tf.int32, [None, PRED]),
        "masked_lm_ids": tf.placeholder(tf.int32, [None, PRED]),
        "masked_lm_weights": tf.placeholder(tf.float32, [None, PRED]),
        "next_sentence_labels": tf.placeholder(tf.int32, [None, 1]),
    }


def _feed(placeholders, features):
    return {placeholders[k]: v for k, v in features.items()}


# --------------------------------------------------------------------------
# Heads: names, shapes and numbers.
# --------------------------------------------------------------------------

HEAD_SHAPES = {
    # name: (google shape, brightmart shape) with H=32, E=16, V=64.
    "cls/predictions/transform/dense/kernel": ([32, 16], [32, 32]),
    "cls/predictions/transform/dense/bias": ([16], [32]),
    "cls/predictions/transform/LayerNorm/beta": ([16], [32]),
    "cls/predictions/transform/LayerNorm/gamma": ([16], [32]),
    "cls/predictions/output_bias": ([64], [64]),
    "cls/seq_relationship/output_weights": ([2, 32], [2, 32]),
    "cls/seq_relationship/output_bias": ([2], [2]),
}


def _np_layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean)**2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def _np_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("layout", ["google", "brightmart"])
def test_heads_have_reference_names_shapes_and_loss(layout):
    """Head variables match reference-facts §3.4; the loss matches numpy."""
    config = modeling.AlbertConfig.from_dict(lib.tiny_config(layout))
    examples = _examples(6, seed=3)
    # Unequal numbers of masked positions exercise the weighted mean.
    examples[0]["masked_lm_weights"][-2:] = [0.0, 0.0]
    features = _features(examples)
    with tf.Graph().as_default():
        ph = _placeholders()
        model_fn = rp.model_fn_builder(config)
        spec = model_fn(ph, None, tf.estimator.ModeKeys.EVAL, {})
        shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run({v.op.name: v for v in tf.global_variables()})
            loss = sess.run(spec.loss, _feed(ph, features))
    column = 0 if layout == "google" else 1
    for name, pair in HEAD_SHAPES.items():
        assert shapes[name] == pair[column], name
    cls_names = sorted(n for n in shapes if n.startswith("cls/"))
    assert cls_names == sorted(HEAD_SHAPES)

    # numpy reference of both heads from the encoder outputs.
    with tf.Graph().as_default():
        ph = _placeholders()
        model = modeling.AlbertModel(config, False, ph["input_ids"], ph["input_mask"],
                                     ph["segment_ids"])
        assign = [v.assign(values[v.op.name]) for v in tf.global_variables()]
        with tf.Session() as sess:
            sess.run(assign)
            seq_out, pooled = sess.run([model.get_sequence_output(),
                                        model.get_pooled_output()], _feed(ph, features))
    batch = len(examples)
    flat = seq_out.reshape(batch * SEQ, -1)
    index = (features["masked_lm_positions"] + np.arange(batch)[:, None] * SEQ).reshape(-1)
    hidden = flat[index].astype(np.float64)
    hidden = _np_gelu(hidden @ values["cls/predictions/transform/dense/kernel"] +
                      values["cls/predictions/transform/dense/bias"])
    hidden = _np_layer_norm(hidden, values["cls/predictions/transform/LayerNorm/gamma"],
                            values["cls/predictions/transform/LayerNorm/beta"])
    if layout == "brightmart":
        hidden = hidden @ values["bert/embeddings/word_embeddings_2"].T
    logits = (hidden @ values["bert/embeddings/word_embeddings"].T +
              values["cls/predictions/output_bias"])
    log_probs = _np_log_softmax(logits)
    labels = features["masked_lm_ids"].reshape(-1)
    weights = features["masked_lm_weights"].reshape(-1)
    ce = -log_probs[np.arange(len(labels)), labels]
    mlm = (weights * ce).sum() / (weights.sum() + 1e-5)
    sop_logits = (pooled @ values["cls/seq_relationship/output_weights"].T +
                  values["cls/seq_relationship/output_bias"])
    sop_lp = _np_log_softmax(sop_logits.astype(np.float64))
    sop = -sop_lp[np.arange(batch), features["next_sentence_labels"][:, 0]].mean()
    np.testing.assert_allclose(loss, mlm + sop, rtol=1e-5, atol=1e-5)


def test_gather_indexes():
    seq = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    pos = np.array([[0, 4], [2, 2]], np.int32)
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(rp.gather_indexes(tf.constant(seq), tf.constant(pos)))
    np.testing.assert_array_equal(got, [seq[0, 0], seq[0, 4], seq[1, 2], seq[1, 2]])


def test_sparse_softmax_cross_entropy_matches_numpy_and_tensorflow():
    """Loss and gradient against numpy (float64) and TensorFlow's own op,
    with a dominant logit (probabilities near 0 and 1), a row whose label
    has a tiny probability, and out-of-range labels giving NaN."""
    rng = np.random.RandomState(5)
    logits = (rng.randn(6, 40) * 4).astype(np.float32)
    logits[0, 7] = 200.0  # label's probability ~1
    logits[1, 2] = 150.0  # label 9's probability underflows float32
    labels = np.array([7, 9, 0, 39, 12, 12], np.int32)
    weights = rng.rand(6).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.constant(logits)
        ours = rp.sparse_softmax_cross_entropy(tf.constant(labels), x)
        theirs = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(labels),
                                                                logits=x)
        grads = [tf.gradients(tf.reduce_sum(v * weights), x)[0] for v in (ours, theirs)]
        bad = rp.sparse_softmax_cross_entropy(tf.constant([7, 40, -1, 0, 0, 0], tf.int64), x)
        got, want_tf, grad, grad_tf, got_bad = sess.run([ours, theirs] + grads + [bad])
    x64 = logits.astype(np.float64)
    lse = x64.max(1) + np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1))
    want = lse - x64[np.arange(6), labels]
    probs = np.exp(x64 - lse[:, None])
    want_grad = (probs - np.eye(40)[labels]) * weights[:, None]
    assert want[1] > 100  # the label's probability is below float32's range
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, want_tf, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, want_grad, atol=1e-6)
    np.testing.assert_allclose(grad, grad_tf, atol=1e-6)
    assert np.isnan(got_bad[1]) and np.isnan(got_bad[2])
    np.testing.assert_allclose(got_bad[[0, 3]], [want[0], lse[3] - x64[3, 0]], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# Input.
# --------------------------------------------------------------------------


def _read_all(dataset):
    batches = []
    with tf.Graph().as_default():
        nxt = tf.data.make_one_shot_iterator(dataset()).get_next()
        with tf.Session() as sess:
            while True:
                try:
                    batches.append(sess.run(nxt))
                except tf.errors.OutOfRangeError:
                    return batches


@pytest.mark.parametrize("with_boundary", [True, False])
def test_eval_input_reads_every_record_once(tmp_path, with_boundary):
    """No remainder dropped (G9): 11 records, batch 4 -> 3 batches, 1 pad."""
    path = lib.make_records(str(tmp_path / "dev.tfrecord"), 11, seq_length=SEQ,
                            max_predictions=PRED, seed=5, with_token_boundary=with_boundary)
    input_fn = rp.input_fn_builder([path], SEQ, PRED, is_training=False, batch_size=4)
    batches = _read_all(lambda: input_fn({}))
    assert len(batches) == 3
    real = np.concatenate([b["is_real_example"] for b in batches])
    np.testing.assert_array_equal(real, [1.0] * 11 + [0.0])
    ids = np.concatenate([b["input_ids"] for b in batches])[:11]
    expected = [
        e.features.feature["input_ids"].int64_list.value
        for e in map(tf.train.Example.FromString, tf.python_io.tf_record_iterator(path))
    ]
    np.testing.assert_array_equal(ids, expected)
    assert batches[0]["input_ids"].dtype == np.int32
    assert batches[-1]["masked_lm_weights"][-1].sum() == 0.0


def test_train_input_repeats_in_full_batches(tmp_path):
    path = lib.make_records(str(tmp_path / "t.tfrecord"), 5, seq_length=SEQ, max_predictions=PRED)
    input_fn = rp.input_fn_builder([path], SEQ, PRED, is_training=True, batch_size=4, seed=1)
    with tf.Graph().as_default():
        nxt = tf.data.make_one_shot_iterator(input_fn({})).get_next()
        with tf.Session() as sess:
            shapes = [sess.run(nxt)["input_ids"].shape for _ in range(4)]
    assert shapes == [(4, SEQ)] * 4


def _records_of(dataset, count):
    """The first `count` elements of a dataset of strings, as a list."""
    with tf.Graph().as_default():
        nxt = tf.data.make_one_shot_iterator(dataset().batch(count)).get_next()
        with tf.Session() as sess:
            return list(sess.run(nxt))


def test_files_read_in_parallel_give_the_records_in_turn(tmp_path):
    paths = [
        lib.make_records(str(tmp_path / ("f%d.tfrecord" % i)), 6, seq_length=SEQ,
                         max_predictions=PRED, seed=10 + i) for i in range(3)
    ]
    records = [list(tf.python_io.tf_record_iterator(path)) for path in paths]

    def interleaved(parallel):
        return lambda: rp._interleave_records(  # pylint: disable=protected-access
            tf.data.Dataset.from_tensor_slices(tf.constant(paths)).repeat(), 2, parallel)

    in_turn = _records_of(interleaved(False), 36)
    # The first two files alternate record by record.
    assert in_turn[:12] == [r for pair in zip(records[0], records[1]) for r in pair]
    assert sorted(in_turn[12:18]) == sorted(records[2][:3] + records[0][:3])
    assert _records_of(interleaved(True), 36) == in_turn


def test_a_damaged_record_read_in_parallel_is_an_error_not_a_crash(tmp_path):
    # TF 1.15's interleave(num_parallel_calls=...) could crash (segmentation
    # fault) while the session closed after a reader met the damaged record;
    # here 40 runs in one process must each end in the DataLossError.
    good = lib.make_records(str(tmp_path / "good.tfrecord"), 300, seq_length=SEQ,
                            max_predictions=PRED, seed=1)
    content = open(
        lib.make_records(str(tmp_path / "copy.tfrecord"), 10, seq_length=SEQ, max_predictions=PRED,
                         seed=2), "rb").read()
    damaged = bytearray(content)
    damaged[4 * (len(content) // 10) + 40] ^= 0x10
    bad = str(tmp_path / "bad.tfrecord")
    open(bad, "wb").write(bytes(damaged))
    code = "\n".join([
        "from tf_compat import tf",
        "import run_pretraining as rp",
        "errors = 0",
        "for run in range(40):",
        "    input_fn = rp.input_fn_builder(%r, %d, %d, is_training=True, batch_size=8,"
        " seed=run, num_cpu_threads=2)" % ([good, bad], SEQ, PRED),
        "    with tf.Graph().as_default():",
        "        nxt = tf.data.make_one_shot_iterator(input_fn({})).get_next()",
        "        with tf.Session() as sess:",
        "            try:",
        "                for _ in range(1000):",
        "                    sess.run(nxt)",
        "            except tf.errors.DataLossError:",
        "                errors += 1",
        "print('data loss errors:', errors)",
    ])
    result = subprocess.run([sys.executable, "-c", code], cwd=lib.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "data loss errors: 40"


def test_eval_metrics_ignore_padding_examples(tmp_path):
    """Metrics over 5 records in batches of 4 equal those in one batch of 5."""
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("google"))
    path = lib.make_records(str(tmp_path / "dev.tfrecord"), 5, seq_length=SEQ, max_predictions=PRED,
                            seed=9)
    results = []
    for batch in (4, 5):
        estimator = tf.estimator.Estimator(
            rp.model_fn_builder(config),
            config=tf.estimator.RunConfig(model_dir=str(tmp_path / "m"), tf_random_seed=1))
        input_fn = rp.input_fn_builder([path], SEQ, PRED, is_training=False, batch_size=batch)
        if batch == 4:
            # A checkpoint to evaluate: zero training steps.
            estimator.train(rp.input_fn_builder([path], SEQ, PRED, is_training=True, batch_size=2),
                            steps=1)
        results.append(
            rp.evaluate_checkpoint(estimator, input_fn,
                                   tf.train.latest_checkpoint(str(tmp_path / "m")), steps=None))
    for key in rp.METRIC_NAMES:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-5)


# --------------------------------------------------------------------------
# Data checks (before training).
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,seq,pred,message", [
    (dict(vocab_size=32), SEQ, PRED, "outside the config's vocab_size=32"),
    ({}, SEQ * 2, PRED, "\\w+ has length 16, expected 32.*--max_seq_length=16"),
    ({}, SEQ, PRED + 1, "masked_lm_\\w+ has length 4, expected 5.*--max_predictions_per_seq=4"),
    (dict(max_position_embeddings=8), SEQ, PRED,
     "--max_seq_length=16 exceeds max_position_embeddings=8"),
])
def test_check_records_reports_mismatches(tmp_path, kwargs, seq, pred, message):
    path = lib.make_records(str(tmp_path / "t.tfrecord"), 3, seq_length=SEQ, max_predictions=PRED)
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("google", **kwargs))
    with pytest.raises(rp.DataMismatchError, match=message):
        rp.check_records([path], config, seq, pred)


def test_check_records_accepts_records_without_token_boundary(tmp_path):
    path = lib.make_records(str(tmp_path / "b.tfrecord"), 3, seq_length=SEQ, max_predictions=PRED,
                            with_token_boundary=False)
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("brightmart"))
    assert rp.check_records([path], config, SEQ, PRED) == 3


def test_expand_input_files(tmp_path):
    for name in ("b.tfrecord", "a.tfrecord", "c.txt"):
        (tmp_path / name).write_text(u"")
    files = rp.expand_input_files("%s/*.tfrecord,%s" % (tmp_path, tmp_path / "c.txt"))
    assert [os.path.basename(f) for f in files] == ["a.tfrecord", "b.tfrecord", "c.txt"]
    with pytest.raises(rp.DataMismatchError, match="no such input file"):
        rp.expand_input_files(str(tmp_path / "missing*"))


# --------------------------------------------------------------------------
# Gradient accumulation.
# --------------------------------------------------------------------------


def _train_variables(config, optimizer, batches, accumulation_steps, init=None):
    """Runs the pretraining train op on `batches`; returns variable values."""
    with tf.Graph().as_default():
        ph = _placeholders()
        model_fn = rp.model_fn_builder(config, learning_rate=1e-3, num_train_steps=10,
                                       num_warmup_steps=0, optimizer=optimizer,
                                       gradient_accumulation_steps=accumulation_steps)
        spec = model_fn(ph, None, tf.estimator.ModeKeys.TRAIN, {})
        tvars = tf.trainable_variables()
        step = tf.train.get_global_step()
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            if init is None:
                init = sess.run({v.op.name: v for v in tvars})
            for var in tvars:
                var.load(init[var.op.name], sess)
            steps = []
            for batch in batches:
                sess.run(spec.train_op, _feed(ph, batch))
                steps.append(int(sess.run(step)))
            values = sess.run({v.op.name: v for v in tvars})
    return init, values, steps


@pytest.mark.parametrize("optimizer", ["adamw", "lamb"])
def test_gradient_accumulation_equals_large_batch(optimizer):
    """k=2 micro-batches of 4 give the same variables as batches of 8."""
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("google"))
    # Every example masks PRED positions, so the MLM mean of a batch is the
    # mean of its micro-batches' means.
    examples = _examples(16, seed=11)
    big = [_features(examples[:8]), _features(examples[8:])]
    micro = [_features(examples[i:i + 4]) for i in range(0, 16, 4)]
    init, expected, big_steps = _train_variables(config, optimizer, big, 1)
    _, got, micro_steps = _train_variables(config, optimizer, micro, 2, init)
    assert big_steps == [1, 2]
    assert micro_steps == [0, 1, 1, 2]
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5, err_msg=name)
        # The attention key bias has no gradient (softmax shift invariance).
        if not name.endswith("self/key/bias"):
            assert not np.allclose(init[name], expected[name]), name


def test_gradient_accumulation_first_micro_step_changes_nothing():
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("brightmart"))
    batch = _features(_examples(4, seed=2))
    init, values, steps = _train_variables(config, "lamb", [batch], 3)
    assert steps == [0]
    for name in init:
        np.testing.assert_array_equal(values[name], init[name])


# --------------------------------------------------------------------------
# TPU run configuration (never contacts a TPU).
# --------------------------------------------------------------------------


@pytest.fixture
def no_remote_connections(monkeypatch):
    """Fails the test if Python code tries to connect to a non-loopback host."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError("test tried to connect to %r" % (address,))
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def test_tpu_flags_build_tpu_run_config(no_remote_connections, tmp_path):
    """--use_tpu --tpu_name=grpc://10.0.0.1:8470 as Google's script wires it."""
    tpu = tf.estimator.tpu
    config = rp.build_run_config(str(tmp_path), use_tpu=True, tpu_name="grpc://10.0.0.1:8470",
                                 num_tpu_cores=8, iterations_per_loop=250,
                                 save_checkpoints_steps=500, keep_checkpoint_max=3)
    assert isinstance(config, tpu.RunConfig)
    assert config.master == "grpc://10.0.0.1:8470"
    assert config.cluster is not None
    assert config.cluster.master() == "grpc://10.0.0.1:8470"
    assert config.tpu_config.iterations_per_loop == 250
    assert config.tpu_config.num_shards == 8
    assert (config.tpu_config.per_host_input_for_training == tpu.InputPipelineConfig.PER_HOST_V2)
    assert config.save_checkpoints_steps == 500
    assert config.keep_checkpoint_max == 3
    assert config.model_dir == str(tmp_path)
    model_config = modeling.AlbertConfig.from_dict(lib.tiny_config("google"))
    estimator = rp.build_estimator(
        rp.model_fn_builder(model_config, use_tpu=True, use_one_hot_embeddings=True), config,
        use_tpu=True, train_batch_size=64, eval_batch_size=16)
    assert isinstance(estimator, tpu.TPUEstimator)
    assert estimator.config.tpu_config.num_shards == 8


def test_tpu_master_without_name(no_remote_connections, tmp_path):
    config = rp.build_run_config(str(tmp_path), use_tpu=True, master="grpc://127.0.0.1:1",
                                 num_tpu_cores=2)
    assert config.master == "grpc://127.0.0.1:1"
    assert config.tpu_config.num_shards == 2


@pytest.mark.parametrize("compute_dtype", [tf.float32, tf.bfloat16])
def test_tpu_train_graph_builds_with_cross_shard_optimizer(compute_dtype):
    """The TPU model_fn: TPUEstimatorSpec, one-hot lookups, CrossReplicaSum;
    with bfloat16 (--use_tpu --use_bf16) float32 variables and bfloat16
    matrix products."""
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("google"))
    graph = tf.Graph()
    with graph.as_default():
        ph = _placeholders()
        spec = rp.model_fn_builder(config, use_tpu=True, use_one_hot_embeddings=True,
                                   compute_dtype=compute_dtype)(ph, None,
                                                                tf.estimator.ModeKeys.TRAIN, {
                                                                    "batch_size": 4
                                                                })
    assert isinstance(spec, tf.estimator.tpu.TPUEstimatorSpec)
    ops = graph.get_operations()
    assert "CrossReplicaSum" in {op.type for op in ops}
    trainable = graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)
    assert {v.dtype.base_dtype for v in trainable} == {tf.float32}
    encoder_products = {
        op.inputs[0].dtype
        for op in ops
        if op.type == "MatMul" and op.name.startswith("bert/encoder/transformer")
    }
    assert encoder_products == {compute_dtype}


# --------------------------------------------------------------------------
# Best checkpoint bookkeeping.
# --------------------------------------------------------------------------


def test_eval_history_keeps_best_by_masked_lm_accuracy(tmp_path):
    out = str(tmp_path)
    eval_file = tmp_path / "dev.tfrecord"
    eval_file.write_bytes(b"x" * 10)
    for step in (1, 2, 3):
        prefix = os.path.join(out, "model.ckpt-%d" % step)
        for suffix in (".index", ".meta", ".data-00000-of-00001"):
            with open(prefix + suffix, "w") as f:
                f.write("step %d" % step)
    metrics = {
        "masked_lm_loss": 1.0,
        "sentence_order_accuracy": 0.5,
        "sentence_order_loss": 0.7,
        "loss": 1.7
    }
    accuracies = {1: 0.3, 2: 0.6, 3: 0.5}
    history = rp.eval_history(out, [str(eval_file)], 4)
    driver_utils.evaluate_new_checkpoints(
        out, history, lambda p: dict(metrics, masked_lm_accuracy=accuracies[rp.checkpoint_step(p)]),
        include_step_zero=True)
    with open(os.path.join(out, "model.ckpt-best.index")) as f:
        assert f.read() == "step 2"
    results = driver_utils.read_eval_results(os.path.join(out, "eval_results.txt"))
    assert sorted(results) == ["model.ckpt-1", "model.ckpt-2", "model.ckpt-3", "model.ckpt-best"]
    for key in rp.METRIC_NAMES:
        assert key in results["model.ckpt-3"]
    assert results["model.ckpt-3"]["masked_lm_accuracy"] == 0.5
    assert results["model.ckpt-best"]["global_step"] == 2
    # Reloaded, the history knows what was evaluated; other data starts anew.
    again = rp.eval_history(out, [str(eval_file)], 4)
    assert [e["step"] for e in again.entries] == [1, 2, 3]
    assert again.best["step"] == 2
    assert rp.eval_history(out, [str(eval_file)], 5).entries == []


def test_saved_checkpoints_with_a_relative_output_dir(tmp_path, monkeypatch):
    # TF turns the recorded relative names into "<output_dir>/model.ckpt-N";
    # with a relative --output_dir that must not be joined to it again.
    monkeypatch.chdir(str(tmp_path))
    out = os.path.join("runs", "pretrain")
    os.makedirs(out)
    with tf.Graph().as_default():
        tf.Variable(1.0, name="w")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, os.path.join(out, "model.ckpt"), global_step=3)
            saver.save(sess, os.path.join(out, "model.ckpt"), global_step=7)
    found = rp.saved_checkpoints(out)
    assert [rp.checkpoint_step(p) for p in found] == [3, 7]
    assert all(os.path.exists(p + ".index") for p in found)
