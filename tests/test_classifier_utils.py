# coding=utf-8
"""Tests of classifier_utils: features, cache, input_fn, head, model_fn, export."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os

import numpy as np
import pytest

import checkpoint_utils
import classifier_tasks
import classifier_utils as cu
import modeling
import tokenization
from tf_compat import tf
from script_testlib import write

CHARS = u"天地人山水火木金土日月星风云雨红花草"
VOCAB = [u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"
        ] + list(CHARS) + [u"hello", u"world", u"good", u"bad"]


@pytest.fixture
def tokenizer(tmp_path):
    vocab = write(tmp_path / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    return tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)


# ---------------------------------------------------------------------------
# Features and cache.
# ---------------------------------------------------------------------------


def test_convert_single_example_pair_and_truncation(tokenizer):
    example = classifier_tasks.InputExample("g", u"天地人山水", u"火木", "1")
    features = cu.convert_single_example(example, ["0", "1"], 8, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(features.input_ids)
    assert tokens == [u"[CLS]", u"天", u"地", u"人", u"[SEP]", u"火", u"木", u"[SEP]"]
    assert features.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
    assert features.input_mask == [1] * 8 and features.label_id == 1
    single = cu.convert_single_example(classifier_tasks.InputExample("g", u"Hello 天"), ["0", "1"],
                                       6, tokenizer)
    assert tokenizer.convert_ids_to_tokens(
        single.input_ids[:4]) == [u"[CLS]", u"hello", u"天", u"[SEP]"]
    assert single.input_ids[4:] == [0, 0] and single.input_mask == [1, 1, 1, 1, 0, 0]
    padding = cu.convert_single_example(classifier_tasks.PaddingInputExample(), ["0", "1"], 4,
                                        tokenizer)
    assert not padding.is_real_example and padding.input_ids == [0] * 4


def _cache(tmp_path, tokenizer, data_file, seq_len=16, labels=("0", "1")):
    processor = classifier_tasks.get_processor("lcqmc")
    examples = processor.get_examples(os.path.dirname(data_file), "train")
    return cu.load_or_create_features(str(tmp_path / "cache"), "lcqmc", "train", data_file,
                                      examples, list(labels), seq_len, tokenizer)


def _records(path):
    return [tf.train.Example.FromString(r) for r in tf.python_io.tf_record_iterator(path)]


def test_feature_cache_reused_and_invalidated(tmp_path, tokenizer):
    os.makedirs(str(tmp_path / "cache"))
    data = write(tmp_path / "data" / "train.txt", u"天地\t山水\t1\n火\t木\t0\n")
    path, count, reused = _cache(tmp_path, tokenizer, data)
    assert count == 2 and not reused
    record = _records(path)[0].features.feature
    assert list(record["input_ids"].int64_list.value)[:3] == [
        tokenizer.vocab[u"[CLS]"], tokenizer.vocab[u"天"], tokenizer.vocab[u"地"]
    ]
    assert record["label_ids"].int64_list.value == [1]
    assert _cache(tmp_path, tokenizer, data) == (path, 2, True)
    # Sequence length.
    path_32, _, reused = _cache(tmp_path, tokenizer, data, seq_len=32)
    assert not reused and path_32 != path and not os.path.exists(path)
    # Data content (same size, same name).
    write(data, u"天地\t山水\t0\n火\t木\t0\n")
    path_data, _, reused = _cache(tmp_path, tokenizer, data, seq_len=32)
    assert not reused
    assert _records(path_data)[0].features.feature["label_ids"].int64_list.value == [0]
    # Vocabulary content (same size, same path): two tokens swapped.
    swapped = list(VOCAB)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    write(tokenizer.vocab_file, u"\n".join(swapped) + u"\n")
    new_tokenizer = tokenization.FullTokenizer(vocab_file=tokenizer.vocab_file)
    path_vocab, _, reused = _cache(tmp_path, new_tokenizer, data, seq_len=32)
    assert not reused
    ids = list(_records(path_vocab)[0].features.feature["input_ids"].int64_list.value)
    assert ids[1] == new_tokenizer.vocab[u"天"] == 6
    # Casing.
    cased = tokenization.FullTokenizer(vocab_file=tokenizer.vocab_file, do_lower_case=False)
    assert not _cache(tmp_path, cased, data, seq_len=32)[2]
    # Label list.
    assert not _cache(tmp_path, cased, data, seq_len=32, labels=("1", "0"))[2]
    # Only the current cache of a task and split is kept.
    assert len([n for n in os.listdir(str(tmp_path / "cache")) if n.endswith(".tf_record")]) == 1


def test_input_fn_reads_features(tmp_path, tokenizer):
    os.makedirs(str(tmp_path / "cache"))
    data = write(tmp_path / "data" / "train.txt", u"天地\t山水\t1\n火\t木\t0\n金\t土\t1\n")
    path, _, _ = _cache(tmp_path, tokenizer, data, seq_len=8)
    with tf.Graph().as_default():
        dataset = cu.input_fn_builder(path, 8, False, False, batch_size=2)({})
        batch = tf.data.make_one_shot_iterator(dataset).get_next()
        with tf.Session() as session:
            first = session.run(batch)
    assert first["input_ids"].shape == (2, 8) and first["input_ids"].dtype == np.int32
    assert list(first["label_ids"]) == [1, 0]
    assert list(first["is_real_example"]) == [1, 1]


# ---------------------------------------------------------------------------
# Model head and strict loading.
# ---------------------------------------------------------------------------


def _config(**overrides):
    fields = dict(vocab_size=len(VOCAB), embedding_size=8, hidden_size=16, num_hidden_layers=1,
                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                  embedding_layout="google")
    fields.update(overrides)
    return modeling.AlbertConfig(**fields)


def _build(config, num_labels=3, labels=True, is_training=False, dropout=0.1):
    ids = tf.constant([[2, 5, 6, 3, 0]], dtype=tf.int32)
    mask = tf.constant([[1, 1, 1, 1, 0]], dtype=tf.int32)
    return cu.create_model(config, is_training, ids, mask, tf.zeros_like(ids),
                           tf.constant([1]) if labels else None, num_labels,
                           classifier_dropout=dropout)


def test_head_variable_names_and_shapes():
    with tf.Graph().as_default():
        outputs = _build(_config())
        names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        assert names["output_weights"] == [3, 16]
        assert names["output_bias"] == [3]
        assert not any(n.startswith("loss/") for n in names)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            probs, loss = session.run([outputs.probabilities, outputs.loss])
        assert probs.shape == (1, 3) and np.allclose(probs.sum(), 1.0)
        assert loss == pytest.approx(-np.log(probs[0, 1]), rel=1e-5)


def test_brightmart_preln_head_adds_pooled_layer_norm():
    config = _config(embedding_layout="brightmart", ln_type="preln")
    assert cu.head_variable_patterns(config)[-1].startswith("^loss/LayerNorm")
    with tf.Graph().as_default():
        _build(config)
        names = [v.op.name for v in tf.global_variables()]
    assert "loss/LayerNorm/gamma" in names and "loss/LayerNorm/beta" in names
    assert cu.head_variable_patterns(_config()) == [r"^output_weights$", r"^output_bias$"]


def test_classifier_dropout_only_when_training():
    config = _config()
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        outputs = _build(config, labels=False, is_training=True, dropout=0.9)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            runs = {tuple(np.round(session.run(outputs.logits)[0], 6)) for _ in range(5)}
        assert len(runs) > 1
    with tf.Graph().as_default():
        outputs = _build(config, labels=False, is_training=False, dropout=0.9)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            runs = {tuple(np.round(session.run(outputs.logits)[0], 6)) for _ in range(3)}
        assert len(runs) == 1


def test_strict_init_allows_only_the_head(tmp_path):
    config = _config()
    prefix = str(tmp_path / "pretrained" / "model.ckpt")
    with tf.Graph().as_default():
        ids = tf.zeros([1, 4], dtype=tf.int32)
        modeling.AlbertModel(config, False, ids)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    with tf.Graph().as_default():
        _build(config)
        report = checkpoint_utils.init_from_checkpoint(
            prefix, allow_missing=cu.head_variable_patterns(config))
        assert sorted(report.allowed_missing) == ["output_bias", "output_weights"]
        assert report.ok
    bigger = _config(intermediate_size=48)
    with tf.Graph().as_default():
        _build(bigger)
        with pytest.raises(checkpoint_utils.CheckpointMismatchError):
            checkpoint_utils.init_from_checkpoint(prefix,
                                                  allow_missing=cu.head_variable_patterns(bigger))


def test_export_saved_model_rejects_foreign_directory(tmp_path):
    write(tmp_path / "export" / "notes.txt", u"mine")
    with pytest.raises(ValueError, match="not a SavedModel"):
        cu.export_saved_model(_config(), 2, str(tmp_path / "nothing"), str(tmp_path / "export"))
    assert os.path.exists(str(tmp_path / "export" / "notes.txt"))


def _features_for_model_fn():
    ids = tf.constant([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]], dtype=tf.int32)
    return {
        "input_ids": ids,
        "input_mask": tf.cast(ids > 0, tf.int32),
        "segment_ids": tf.zeros_like(ids),
        "label_ids": tf.constant([1, 0]),
        "is_real_example": tf.constant([1, 0])
    }


def test_model_fn_train_and_predict_specs():
    config = _config()
    model_fn = cu.model_fn_builder(config, 2, learning_rate=1e-3, num_train_steps=10,
                                   num_warmup_steps=1)
    with tf.Graph().as_default():
        spec = model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.TRAIN, {})
        assert isinstance(spec, tf.estimator.EstimatorSpec) and spec.train_op is not None
        names = [v.op.name for v in tf.trainable_variables()]
        assert "output_weights" in names and "output_bias" in names
    with tf.Graph().as_default():
        spec = model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert sorted(spec.predictions) == ["is_real_example", "label_ids", "probabilities"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            probs = session.run(spec.predictions["probabilities"])
        assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0)
    tpu_fn = cu.model_fn_builder(config, 2, use_tpu=True, use_one_hot_embeddings=True)
    with tf.Graph().as_default():
        spec = tpu_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.PREDICT, {})
        assert type(spec).__name__ == "TPUEstimatorSpec"
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="only TRAIN and PREDICT"):
            model_fn(_features_for_model_fn(), None, tf.estimator.ModeKeys.EVAL, {})
