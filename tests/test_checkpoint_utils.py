# coding=utf-8
"""Tests of checkpoint_utils: resolving, inspecting and strictly loading checkpoints.

The checkpoints here are written from literal name/shape tables taken from
reference-facts.md §3 (brightmart native §3.1, Google §3.2, pretraining heads
§3.4, optimizer slots §3.6), never derived from modeling.py: a naming slip in
the model or in the loader makes these tests fail.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tf_compat import tf

import checkpoint_utils
import modeling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CONFIG = os.path.join(ROOT, "albert_config", "albert_config_tiny.json")
SMALL_GOOGLE_CONFIG = os.path.join(ROOT, "albert_config", "albert_config_small_google.json")

# Sizes of the small synthetic models (not a released config).
SMALL = dict(vocab_size=50, embedding_size=16, hidden_size=32, intermediate_size=64,
             max_position_embeddings=64, type_vocab_size=2, num_attention_heads=4,
             num_hidden_layers=4, hidden_act="gelu", hidden_dropout_prob=0.0,
             attention_probs_dropout_prob=0.0, initializer_range=0.02)

# ---------------------------------------------------------------------------
# Literal name/shape tables (reference-facts.md §3).
# ---------------------------------------------------------------------------


def brightmart_model_names(V, E, H, I, P, T):  # pylint: disable=invalid-name
    """§3.1: B-native variables (scope bert, one shared layer)."""
    return [
        ("bert/embeddings/word_embeddings", [V, E]),
        ("bert/embeddings/word_embeddings_2", [E, H]),
        ("bert/embeddings/token_type_embeddings", [T, H]),
        ("bert/embeddings/position_embeddings", [P, H]),
        ("bert/embeddings/LayerNorm/beta", [H]),
        ("bert/embeddings/LayerNorm/gamma", [H]),
        ("bert/encoder/layer_shared/attention/self/query/kernel", [H, H]),
        ("bert/encoder/layer_shared/attention/self/query/bias", [H]),
        ("bert/encoder/layer_shared/attention/self/key/kernel", [H, H]),
        ("bert/encoder/layer_shared/attention/self/key/bias", [H]),
        ("bert/encoder/layer_shared/attention/self/value/kernel", [H, H]),
        ("bert/encoder/layer_shared/attention/self/value/bias", [H]),
        ("bert/encoder/layer_shared/attention/output/dense/kernel", [H, H]),
        ("bert/encoder/layer_shared/attention/output/dense/bias", [H]),
        ("bert/encoder/layer_shared/attention/output/LayerNorm/beta", [H]),
        ("bert/encoder/layer_shared/attention/output/LayerNorm/gamma", [H]),
        ("bert/encoder/layer_shared/intermediate/dense/kernel", [H, I]),
        ("bert/encoder/layer_shared/intermediate/dense/bias", [I]),
        ("bert/encoder/layer_shared/output/dense/kernel", [I, H]),
        ("bert/encoder/layer_shared/output/dense/bias", [H]),
        ("bert/encoder/layer_shared/output/LayerNorm/beta", [H]),
        ("bert/encoder/layer_shared/output/LayerNorm/gamma", [H]),
        ("bert/pooler/dense/kernel", [H, H]),
        ("bert/pooler/dense/bias", [H]),
    ]


def brightmart_head_names(V, E, H):  # pylint: disable=invalid-name,unused-argument
    """§3.4, brightmart column: MLM transform is H -> H."""
    return [
        ("cls/predictions/transform/dense/kernel", [H, H]),
        ("cls/predictions/transform/dense/bias", [H]),
        ("cls/predictions/transform/LayerNorm/beta", [H]),
        ("cls/predictions/transform/LayerNorm/gamma", [H]),
        ("cls/predictions/output_bias", [V]),
        ("cls/seq_relationship/output_weights", [2, H]),
        ("cls/seq_relationship/output_bias", [2]),
    ]


def google_model_names(V, E, H, I, P, T, groups=1, inner=1):  # pylint: disable=invalid-name
    """§3.2: G-standard variables (E-wide embeddings, group/inner_group layers)."""
    names = [
        ("bert/embeddings/word_embeddings", [V, E]),
        ("bert/embeddings/token_type_embeddings", [T, E]),
        ("bert/embeddings/position_embeddings", [P, E]),
        ("bert/embeddings/LayerNorm/beta", [E]),
        ("bert/embeddings/LayerNorm/gamma", [E]),
        ("bert/encoder/embedding_hidden_mapping_in/kernel", [E, H]),
        ("bert/encoder/embedding_hidden_mapping_in/bias", [H]),
    ]
    for g in range(groups):
        for k in range(inner):
            block = "bert/encoder/transformer/group_%d/inner_group_%d/" % (g, k)
            names += [
                (block + "attention_1/self/query/kernel", [H, H]),
                (block + "attention_1/self/query/bias", [H]),
                (block + "attention_1/self/key/kernel", [H, H]),
                (block + "attention_1/self/key/bias", [H]),
                (block + "attention_1/self/value/kernel", [H, H]),
                (block + "attention_1/self/value/bias", [H]),
                (block + "attention_1/output/dense/kernel", [H, H]),
                (block + "attention_1/output/dense/bias", [H]),
                (block + "LayerNorm/beta", [H]),
                (block + "LayerNorm/gamma", [H]),
                (block + "ffn_1/intermediate/dense/kernel", [H, I]),
                (block + "ffn_1/intermediate/dense/bias", [I]),
                (block + "ffn_1/intermediate/output/dense/kernel", [I, H]),
                (block + "ffn_1/intermediate/output/dense/bias", [H]),
                (block + "LayerNorm_1/beta", [H]),
                (block + "LayerNorm_1/gamma", [H]),
            ]
    names += [
        ("bert/pooler/dense/kernel", [H, H]),
        ("bert/pooler/dense/bias", [H]),
    ]
    return names


def google_head_names(V, E, H):  # pylint: disable=invalid-name
    """§3.4, Google column: MLM transform is H -> E."""
    return [
        ("cls/predictions/transform/dense/kernel", [H, E]),
        ("cls/predictions/transform/dense/bias", [E]),
        ("cls/predictions/transform/LayerNorm/beta", [E]),
        ("cls/predictions/transform/LayerNorm/gamma", [E]),
        ("cls/predictions/output_bias", [V]),
        ("cls/seq_relationship/output_weights", [2, H]),
        ("cls/seq_relationship/output_bias", [2]),
    ]


def slot_names(model_names, slot_suffixes, which):
    """Optimizer slots (§3.6) for the model variables at indexes ``which``."""
    out = []
    for index in which:
        name, shape = model_names[index]
        out += [("%s/%s" % (name, suffix), shape) for suffix in slot_suffixes]
    return out


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------


def random_arrays(names_and_shapes, seed):
    """Random float32 arrays per name (distinct from any initialiser's output)."""
    rng = np.random.RandomState(seed)
    return collections.OrderedDict((name, rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))
                                   for name, shape in names_and_shapes)


def write_checkpoint(prefix, arrays, global_step=None, step_suffix=None, write_state=True):
    """Saves ``arrays`` (name -> ndarray) with tf.train.Saver under exact names.

    Args:
      prefix: checkpoint prefix (its directory is created).
      arrays: dict name -> numpy array.
      global_step: if not None, also saves an int64 ``global_step`` variable.
      step_suffix: if not None, Saver appends ``-<step_suffix>`` to the prefix.
      write_state: write the directory's ``checkpoint`` file.

    Returns:
      The prefix actually written.
    """
    directory = os.path.dirname(prefix)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    graph = tf.Graph()
    with graph.as_default():
        var_list = {}
        for name, value in arrays.items():
            var_list[name] = tf.get_variable(name, shape=value.shape,
                                             dtype=tf.as_dtype(value.dtype),
                                             initializer=tf.zeros_initializer(), trainable=False)
        if global_step is not None:
            var_list["global_step"] = tf.get_variable("global_step", shape=[], dtype=tf.int64,
                                                      initializer=tf.zeros_initializer(),
                                                      trainable=False)
        saver = tf.train.Saver(var_list=var_list)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for name, value in arrays.items():
                var_list[name].load(value, sess)
            if global_step is not None:
                var_list["global_step"].load(global_step, sess)
            return saver.save(sess, prefix, global_step=step_suffix, write_meta_graph=False,
                              write_state=write_state)


def write_tiny_checkpoint(prefix, step_suffix=None, write_state=True, value=0.0):
    """A one-variable checkpoint for the path-resolution tests."""
    arrays = {"bert/embeddings/word_embeddings": np.full([3, 2], value, np.float32)}
    return write_checkpoint(prefix, arrays, step_suffix=step_suffix, write_state=write_state)


def build_model(config, extra=None):
    """Builds AlbertModel (+ optional extra variables) in the current graph."""
    input_ids = tf.placeholder(tf.int32, [2, 8], name="input_ids")
    model = modeling.AlbertModel(config, is_training=False, input_ids=input_ids)
    if extra:
        for name, shape in extra:
            tf.get_variable(name, shape, initializer=tf.zeros_initializer())
    return model


def load(prefix, config, extra=None, **kwargs):
    """Builds a fresh graph, initialises it from ``prefix`` and reads every variable.

    Returns:
      (LoadReport, dict graph name -> value).
    """
    graph = tf.Graph()
    with graph.as_default():
        build_model(config, extra)
        report = checkpoint_utils.init_from_checkpoint(prefix, **kwargs)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            variables = tf.global_variables()
            values = dict(zip([v.op.name for v in variables], sess.run(variables)))
    return report, values


def small_config(**overrides):
    fields = dict(SMALL)
    fields.update(overrides)
    return modeling.AlbertConfig.from_dict(fields)


Checkpoint = collections.namedtuple("Checkpoint", "prefix arrays model heads slots")


def _make_checkpoint(directory, model_names, head_names, slot_list, seed, global_step=1234):
    arrays = random_arrays(model_names + head_names + slot_list, seed)
    prefix = write_checkpoint(os.path.join(directory, "model.ckpt"), arrays,
                              global_step=global_step)
    return Checkpoint(prefix, arrays, [n for n, _ in model_names], [n for n, _ in head_names],
                      [n for n, _ in slot_list])


# ---------------------------------------------------------------------------
# Module fixtures: every checkpoint is written once.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def brightmart_tiny(tmp_path_factory):
    """albert_config_tiny.json sizes: V=21128, E=128, H=312, I=1248, P=512, T=2."""
    model_names = brightmart_model_names(V=21128, E=128, H=312, I=1248, P=512, T=2)
    heads = brightmart_head_names(V=21128, E=128, H=312)
    slots = (slot_names(model_names, ["lamb_m", "lamb_v"], [1, 6]) +
             slot_names(model_names, ["adam_m", "adam_v"], [22]))
    return _make_checkpoint(str(tmp_path_factory.mktemp("bm_tiny")), model_names, heads, slots,
                            seed=1)


@pytest.fixture(scope="module")
def google_small(tmp_path_factory):
    """albert_config_small_google.json sizes: V=21128, E=128, H=384, I=1536, one group."""
    model_names = google_model_names(V=21128, E=128, H=384, I=1536, P=512, T=2)
    heads = google_head_names(V=21128, E=128, H=384)
    slots = (slot_names(model_names, ["adam_m", "adam_v"], [5, 7]) +
             slot_names(model_names, ["lamb_m", "lamb_v"], [0]))
    return _make_checkpoint(str(tmp_path_factory.mktemp("g_small")), model_names, heads, slots,
                            seed=2)


@pytest.fixture(scope="module")
def google_multi(tmp_path_factory):
    """Small Google checkpoint with 2 groups x 2 inner groups."""
    model_names = google_model_names(V=50, E=16, H=32, I=64, P=64, T=2, groups=2, inner=2)
    heads = google_head_names(V=50, E=16, H=32)
    slots = slot_names(model_names, ["adam_m", "adam_v"], [8, 30])
    return _make_checkpoint(str(tmp_path_factory.mktemp("g_multi")), model_names, heads, slots,
                            seed=3)


@pytest.fixture(scope="module")
def google_shared(tmp_path_factory):
    """Small Google checkpoint, one group, one inner group (all layers shared)."""
    model_names = google_model_names(V=50, E=16, H=32, I=64, P=64, T=2)
    heads = google_head_names(V=50, E=16, H=32)
    slots = slot_names(model_names, ["adam_m", "adam_v"], [7])
    return _make_checkpoint(str(tmp_path_factory.mktemp("g_shared")), model_names, heads, slots,
                            seed=4)


@pytest.fixture(scope="module")
def brightmart_small(tmp_path_factory):
    """Small brightmart checkpoint (layer_shared)."""
    model_names = brightmart_model_names(V=50, E=16, H=32, I=64, P=64, T=2)
    heads = brightmart_head_names(V=50, E=16, H=32)
    slots = slot_names(model_names, ["lamb_m", "lamb_v"], [0, 16])
    return _make_checkpoint(str(tmp_path_factory.mktemp("bm_small")), model_names, heads, slots,
                            seed=5)


def assert_clean_load(report, ckpt, graph_names):
    """Everything loaded 1:1; only heads unused; slots and global_step ignored."""
    assert report.missing == []
    assert report.allowed_missing == []
    assert report.shape_mismatches == []
    assert report.newly_initialized == []
    assert report.ok
    assert sorted(report.unexpected) == sorted(ckpt.heads)
    assert sorted(report.ignored) == sorted(ckpt.slots + ["global_step"])
    loaded = dict((name, (found, shape)) for name, found, shape in report.loaded)
    assert sorted(loaded) == sorted(ckpt.model)
    assert sorted(graph_names) == sorted(ckpt.model)
    for name, (found, shape) in loaded.items():
        assert found == name
        assert shape == list(ckpt.arrays[name].shape)


# ---------------------------------------------------------------------------
# 1-2. Released layouts load 1:1.
# ---------------------------------------------------------------------------


def test_brightmart_tiny_release_layout_loads_exactly(brightmart_tiny):
    config = modeling.AlbertConfig.from_json_file(TINY_CONFIG)
    assert config.resolved_embedding_layout == "brightmart"
    report, values = load(brightmart_tiny.prefix, config)
    assert report.checkpoint == brightmart_tiny.prefix
    assert report.dialect == "brightmart"
    assert_clean_load(report, brightmart_tiny, [n for n in values if n != "input_ids"])
    for name in [
            "bert/embeddings/word_embeddings", "bert/embeddings/word_embeddings_2",
            "bert/embeddings/position_embeddings",
            "bert/encoder/layer_shared/attention/self/query/kernel",
            "bert/encoder/layer_shared/output/dense/kernel",
            "bert/encoder/layer_shared/output/LayerNorm/gamma", "bert/pooler/dense/bias"
    ]:
        np.testing.assert_array_equal(values[name], brightmart_tiny.arrays[name])


def test_google_small_release_layout_loads_exactly(google_small):
    config = modeling.AlbertConfig.from_json_file(SMALL_GOOGLE_CONFIG)
    assert config.resolved_embedding_layout == "google"
    report, values = load(google_small.prefix, config)
    assert report.dialect == "google"
    assert_clean_load(report, google_small, list(values))
    for name in [
            "bert/embeddings/word_embeddings", "bert/embeddings/token_type_embeddings",
            "bert/encoder/embedding_hidden_mapping_in/kernel",
            "bert/encoder/transformer/group_0/inner_group_0/attention_1/self/value/kernel",
            "bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/output/"
            "dense/kernel", "bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/beta"
    ]:
        np.testing.assert_array_equal(values[name], google_small.arrays[name])


def test_google_multi_group_layout_loads_exactly(google_multi):
    config = small_config(num_hidden_groups=2, inner_group_num=2, embedding_layout="google")
    report, values = load(google_multi.prefix, config)
    assert report.dialect == "google"
    assert_clean_load(report, google_multi, list(values))
    for g in range(2):
        for k in range(2):
            block = "bert/encoder/transformer/group_%d/inner_group_%d/" % (g, k)
            for suffix in [
                    "attention_1/self/query/kernel", "attention_1/output/dense/bias",
                    "ffn_1/intermediate/dense/kernel", "LayerNorm/gamma"
            ]:
                np.testing.assert_array_equal(values[block + suffix],
                                              google_multi.arrays[block + suffix])


def test_init_from_checkpoint_accepts_a_directory(google_shared):
    report, values = load(os.path.dirname(google_shared.prefix),
                          small_config(embedding_layout="google"))
    assert report.checkpoint == google_shared.prefix
    name = "bert/pooler/dense/kernel"
    np.testing.assert_array_equal(values[name], google_shared.arrays[name])


def test_explicit_variable_list_and_name_map(brightmart_small):
    """Only the given variables are touched; name_map renames graph -> checkpoint."""
    config = small_config(embedding_layout="brightmart")
    graph = tf.Graph()
    with graph.as_default():
        with tf.variable_scope("student"):
            build_model(config)
        variables = [v for v in tf.global_variables() if "/embeddings/" in v.op.name]
        report = checkpoint_utils.init_from_checkpoint(brightmart_small.prefix, variables=variables,
                                                       name_map=lambda name: name[len("student/"):])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            word = sess.run(graph.get_tensor_by_name("student/bert/embeddings/word_embeddings_2:0"))
            pooler = sess.run(graph.get_tensor_by_name("student/bert/pooler/dense/bias:0"))
    assert report.missing == []
    assert len(report.loaded) == 6
    assert ("student/bert/embeddings/word_embeddings_2", "bert/embeddings/word_embeddings_2",
            [16, 32]) in report.loaded
    np.testing.assert_array_equal(word,
                                  brightmart_small.arrays["bert/embeddings/word_embeddings_2"])
    np.testing.assert_array_equal(pooler, np.zeros([32], np.float32))  # untouched
    assert "bert/pooler/dense/kernel" in report.unexpected


def test_report_lines_and_summary(brightmart_small):
    report, _ = load(brightmart_small.prefix, small_config(embedding_layout="brightmart"),
                     extra=[("output_weights", [3, 32])], allow_missing=[r"^output_"])
    lines = report.lines()
    assert lines[0] == report.summary()
    assert "brightmart layout" in lines[0]
    assert "24 loaded, 1 newly initialised, 0 missing, 0 shape mismatches" in lines[0]
    assert "7 unused in checkpoint" in lines[0]
    assert any(l.startswith("  NEW") and "output_weights" in l and "allowed" in l for l in lines)
    assert any(l.startswith("  loaded") and "bert/pooler/dense/kernel [32, 32]" in l for l in lines)
    assert any(l.startswith("  ignored") and l.strip().endswith("global_step") for l in lines)
    assert any(l.startswith("  unused") and "cls/predictions/output_bias" in l for l in lines)


# ---------------------------------------------------------------------------
# 3. resolve_checkpoint.
# ---------------------------------------------------------------------------


def test_resolve_prefix_and_checkpoint_own_files(tmp_path):
    prefix = write_tiny_checkpoint(str(tmp_path / "albert_model.ckpt"))
    assert prefix == str(tmp_path / "albert_model.ckpt")
    assert checkpoint_utils.resolve_checkpoint(prefix) == prefix
    assert checkpoint_utils.resolve_checkpoint(prefix + ".index") == prefix
    assert checkpoint_utils.resolve_checkpoint(prefix + ".data-00000-of-00001") == prefix
    assert checkpoint_utils.list_variables(prefix + ".index") == [
        ("bert/embeddings/word_embeddings", [3, 2])
    ]


def test_resolve_directory_follows_checkpoint_file(tmp_path):
    # Saved step 5, then step 3: the `checkpoint` file names step 3, which
    # must win over "highest step".
    write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=5)
    latest = write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=3)
    assert latest == str(tmp_path / "model.ckpt-3")
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == latest
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path) + os.sep) == latest
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path / "checkpoint")) == latest


def test_resolve_directory_without_checkpoint_file_picks_highest_step(tmp_path):
    for step in (100, 2000, 300):
        write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=step, write_state=False)
    assert not (tmp_path / "checkpoint").exists()
    # Numeric, not lexical ("model.ckpt-300" > "model.ckpt-2000" as strings).
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-2000")


def test_resolve_directory_without_checkpoint_file_prefers_best(tmp_path):
    write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=2000, write_state=False)
    write_tiny_checkpoint(str(tmp_path / "model.ckpt-best"), write_state=False)
    write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=100, write_state=False)
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-best")


def test_resolve_moved_directory_with_absolute_paths(tmp_path):
    old = tmp_path / "old_place"
    saved = write_tiny_checkpoint(str(old / "model.ckpt"), step_suffix=7)
    with open(str(old / "checkpoint")) as f:
        assert saved in f.read()  # absolute path of the old location recorded
    new = tmp_path / "elsewhere" / "moved"
    os.makedirs(str(new.parent))
    shutil.move(str(old), str(new))
    expected = str(new / "model.ckpt-7")
    assert checkpoint_utils.resolve_checkpoint(str(new)) == expected
    assert checkpoint_utils.resolve_checkpoint(str(new / "checkpoint")) == expected
    assert checkpoint_utils.list_variables(str(new))[0][0] == "bert/embeddings/word_embeddings"


def test_resolve_copied_directory_uses_its_own_files(tmp_path):
    """A copy whose `checkpoint` file names the original: the copy's files are used."""
    original = tmp_path / "original"
    write_tiny_checkpoint(str(original / "model.ckpt"), step_suffix=7)
    copy = tmp_path / "copy"
    shutil.copytree(str(original), str(copy))
    assert checkpoint_utils.resolve_checkpoint(str(copy)) == str(copy / "model.ckpt-7")
    assert checkpoint_utils.resolve_checkpoint(str(original)) == str(original / "model.ckpt-7")


def test_resolve_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    write_tiny_checkpoint(os.path.join("out", "model.ckpt"), step_suffix=4)
    expected = os.path.join("out", "model.ckpt-4")
    assert os.path.abspath(checkpoint_utils.resolve_checkpoint("out")) == os.path.abspath(expected)
    assert checkpoint_utils.resolve_checkpoint(expected) == expected


def test_resolve_stale_or_empty_checkpoint_file_falls_back_to_scanning(tmp_path):
    write_tiny_checkpoint(str(tmp_path / "model.ckpt"), step_suffix=10, write_state=False)
    state = tmp_path / "checkpoint"
    state.write_text(u'model_checkpoint_path: "/nowhere/model.ckpt-99"\n')
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-10")
    state.write_text(u"")
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-10")
    assert checkpoint_utils.resolve_checkpoint(str(state)) == str(tmp_path / "model.ckpt-10")
    state.write_text(u"this is { not a checkpoint state")
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-10")


def test_resolve_missing_path_names_it(tmp_path):
    missing = str(tmp_path / "no_such_dir" / "albert_model.ckpt")
    with pytest.raises(checkpoint_utils.CheckpointError) as info:
        checkpoint_utils.resolve_checkpoint(missing)
    assert missing in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(checkpoint_utils.CheckpointError):
        checkpoint_utils.list_variables(missing)
    with pytest.raises(checkpoint_utils.CheckpointError, match="empty"):
        checkpoint_utils.resolve_checkpoint("")


def test_resolve_wrong_prefix_lists_what_is_there(tmp_path):
    write_tiny_checkpoint(str(tmp_path / "albert_model.ckpt"))
    wrong = str(tmp_path / "bert_model.ckpt")
    with pytest.raises(checkpoint_utils.CheckpointError) as info:
        checkpoint_utils.resolve_checkpoint(wrong)
    assert wrong in str(info.value)
    assert "albert_model.ckpt" in str(info.value)


def test_resolve_empty_directory_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(checkpoint_utils.CheckpointError) as info:
        checkpoint_utils.resolve_checkpoint(str(empty))
    assert str(empty) in str(info.value)
    # A directory holding only an (unusable) `checkpoint` file is no better.
    (empty / "checkpoint").write_text(u'model_checkpoint_path: "model.ckpt-1"\n')
    with pytest.raises(checkpoint_utils.CheckpointError) as info:
        checkpoint_utils.resolve_checkpoint(str(empty))
    assert str(empty) in str(info.value)


def test_list_variables_of_a_corrupt_checkpoint_is_a_checkpoint_error(tmp_path):
    prefix = str(tmp_path / "broken.ckpt")
    with open(prefix + ".index", "wb") as f:
        f.write(b"this is not a tensor bundle")
    with pytest.raises(checkpoint_utils.CheckpointError) as info:
        checkpoint_utils.list_variables(prefix)
    assert prefix in str(info.value)


# ---------------------------------------------------------------------------
# 4. Mismatches.
# ---------------------------------------------------------------------------


def test_google_checkpoint_into_brightmart_model_is_an_error_with_hint(google_shared):
    config = small_config(embedding_layout="brightmart")
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(google_shared.prefix, config, log=False)
    message = str(info.value)
    assert google_shared.prefix in message
    assert "missing" in message
    assert "bert/embeddings/word_embeddings_2" in message
    assert "bert/encoder/layer_shared/attention/self/query/kernel" in message
    assert "google layout" in message
    assert "embedding_layout" in message


def test_brightmart_checkpoint_into_google_model_is_an_error_with_hint(brightmart_small):
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(brightmart_small.prefix, small_config(embedding_layout="google"), log=False)
    message = str(info.value)
    assert "bert/encoder/embedding_hidden_mapping_in/kernel" in message
    assert "brightmart layout" in message


def test_vocab_size_mismatch_names_variable_and_both_shapes(brightmart_small):
    config = small_config(embedding_layout="brightmart", vocab_size=60)
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(brightmart_small.prefix, config, log=False)
    message = str(info.value)
    assert "bert/embeddings/word_embeddings" in message
    assert "[60, 16]" in message and "[50, 16]" in message
    assert "shape mismatch" in message


def test_allow_shape_mismatch_keeps_going(brightmart_small):
    config = small_config(embedding_layout="brightmart", vocab_size=60)
    report, values = load(brightmart_small.prefix, config, allow_shape_mismatch=True)
    assert report.shape_mismatches == [("bert/embeddings/word_embeddings", [60, 16], [50, 16])]
    assert report.missing == []
    assert not report.ok
    assert [n for n, _ in report.newly_initialized] == ["bert/embeddings/word_embeddings"]
    assert "bert/embeddings/word_embeddings" not in report.unexpected
    assert values["bert/embeddings/word_embeddings"].shape == (60, 16)
    name = "bert/embeddings/word_embeddings_2"
    np.testing.assert_array_equal(values[name], brightmart_small.arrays[name])


def test_new_head_must_be_allowed(brightmart_small):
    config = small_config(embedding_layout="brightmart")
    head = [("output_weights", [3, 32]), ("output_bias", [3])]
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(brightmart_small.prefix, config, extra=head, log=False)
    assert "output_weights" in str(info.value)
    assert "output_bias" in str(info.value)
    report, values = load(brightmart_small.prefix, config, extra=head, allow_missing=[r"^output_"])
    assert sorted(report.allowed_missing) == ["output_bias", "output_weights"]
    assert report.missing == []
    assert report.ok
    assert sorted(n for n, _ in report.newly_initialized) == ["output_bias", "output_weights"]
    assert all("allowed" in reason for _, reason in report.newly_initialized)
    np.testing.assert_array_equal(values["output_weights"], np.zeros([3, 32], np.float32))
    name = "bert/encoder/layer_shared/intermediate/dense/kernel"
    np.testing.assert_array_equal(values[name], brightmart_small.arrays[name])
    report, _ = load(brightmart_small.prefix, config, extra=head, allow_missing=True)
    assert sorted(report.allowed_missing) == ["output_bias", "output_weights"]
    # The allowance is for the head only: a model variable is still required.
    with pytest.raises(checkpoint_utils.CheckpointMismatchError):
        load(brightmart_small.prefix, small_config(embedding_layout="google"), extra=head,
             allow_missing=[r"^output_"], log=False)


# ---------------------------------------------------------------------------
# 5. init_from_group0.
# ---------------------------------------------------------------------------

GOOGLE_LAYER_SUFFIXES = [
    "attention_1/self/query/kernel", "attention_1/output/dense/bias", "LayerNorm/gamma",
    "ffn_1/intermediate/dense/kernel", "ffn_1/intermediate/output/dense/kernel", "LayerNorm_1/beta"
]


@pytest.mark.parametrize("overrides,groups", [
    (dict(sharing_mode="none"), [0, 1, 2, 3]),
    (dict(num_hidden_groups=2), [0, 1]),
])
def test_google_init_from_group0(google_shared, overrides, groups):
    config = small_config(embedding_layout="google", **overrides)
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(google_shared.prefix, config, log=False)
    assert "group_1" in str(info.value)
    report, values = load(google_shared.prefix, config, init_from_group0=True)
    assert report.ok and report.unexpected == sorted(google_shared.heads)
    graph_groups = sorted(
        set(int(n.split("/group_")[1].split("/")[0]) for n in values if "/group_" in n))
    assert graph_groups == groups
    for g in groups:
        for suffix in GOOGLE_LAYER_SUFFIXES:
            graph_name = "bert/encoder/transformer/group_%d/inner_group_0/%s" % (g, suffix)
            ckpt_name = "bert/encoder/transformer/group_0/inner_group_0/%s" % suffix
            np.testing.assert_array_equal(values[graph_name], google_shared.arrays[ckpt_name])
            assert (graph_name, ckpt_name, list(google_shared.arrays[ckpt_name].shape)) in \
                report.loaded
    np.testing.assert_array_equal(values["bert/embeddings/word_embeddings"],
                                  google_shared.arrays["bert/embeddings/word_embeddings"])


def test_brightmart_init_from_group0(brightmart_small):
    config = small_config(embedding_layout="brightmart", sharing_mode="none")
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        load(brightmart_small.prefix, config, log=False)
    assert "bert/encoder/layer_0/" in str(info.value)
    report, values = load(brightmart_small.prefix, config, init_from_group0=True)
    assert report.ok
    assert report.unexpected == sorted(brightmart_small.heads)
    for layer in range(4):
        for suffix in [
                "attention/self/key/kernel", "attention/output/LayerNorm/gamma",
                "intermediate/dense/bias", "output/dense/kernel"
        ]:
            graph_name = "bert/encoder/layer_%d/%s" % (layer, suffix)
            ckpt_name = "bert/encoder/layer_shared/%s" % suffix
            np.testing.assert_array_equal(values[graph_name], brightmart_small.arrays[ckpt_name])
    assert not any("layer_shared" in n for n in values)


def test_init_from_group0_prefers_exact_names(google_multi):
    """A multi-group checkpoint into the same model: each group keeps its own weights."""
    config = small_config(num_hidden_groups=2, inner_group_num=2, embedding_layout="google")
    report, values = load(google_multi.prefix, config, init_from_group0=True)
    assert all(name == found for name, found, _ in report.loaded)
    name = "bert/encoder/transformer/group_1/inner_group_1/attention_1/self/query/kernel"
    np.testing.assert_array_equal(values[name], google_multi.arrays[name])


# ---------------------------------------------------------------------------
# 6. Dialect, implied config, config_for_checkpoint.
# ---------------------------------------------------------------------------


def test_is_ignored_variable():
    for name in [
            "global_step", "bert/pooler/dense/kernel/adam_m", "bert/pooler/dense/kernel/adam_v",
            "bert/embeddings/word_embeddings/lamb_m", "bert/embeddings/word_embeddings/lamb_v",
            "beta1_power", "beta2_power", "bert/pooler/dense/kernel/Adam",
            "bert/pooler/dense/kernel/Adam_1"
    ]:
        assert checkpoint_utils.is_ignored_variable(name), name
    for name in [
            "bert/embeddings/LayerNorm/beta", "bert/embeddings/LayerNorm/gamma", "output_weights",
            "cls/predictions/output_bias", "bert/encoder/layer_shared/attention/self/query/kernel"
    ]:
        assert not checkpoint_utils.is_ignored_variable(name), name


def test_detect_dialect(brightmart_tiny, google_small, google_multi):
    assert checkpoint_utils.detect_dialect(
        n for n, _ in checkpoint_utils.list_variables(brightmart_tiny.prefix)) == "brightmart"
    assert checkpoint_utils.detect_dialect(
        n for n, _ in checkpoint_utils.list_variables(google_small.prefix)) == "google"
    assert checkpoint_utils.detect_dialect(google_multi.model) == "google"
    # Google with E == H has no embedding_hidden_mapping_in; groups still tell.
    assert checkpoint_utils.detect_dialect(
        ["bert/encoder/transformer/group_0/inner_group_0/LayerNorm/beta"]) == "google"
    assert checkpoint_utils.detect_dialect(["bert/encoder/layer_3/attention/self/query/kernel"
                                           ]) == "brightmart"
    assert checkpoint_utils.detect_dialect(["output_weights", "global_step"]) is None
    assert checkpoint_utils.detect_dialect([]) is None


def test_implied_config_brightmart_tiny(brightmart_tiny):
    implied = checkpoint_utils.implied_config(
        checkpoint_utils.list_variables(brightmart_tiny.prefix))
    assert implied["embedding_layout"] == "brightmart"
    assert implied["vocab_size"] == 21128
    assert implied["embedding_size"] == 128
    assert implied["hidden_size"] == 312
    assert implied["intermediate_size"] == 1248
    assert implied["max_position_embeddings"] == 512
    assert implied["type_vocab_size"] == 2
    assert implied["num_hidden_groups"] == 1
    assert implied["shared_layers"] is True
    assert implied["num_layer_scopes"] == 1
    assert implied["has_final_layer_norm"] is False
    assert implied["has_pretraining_heads"] is True


def test_implied_config_google(google_small, google_multi):
    implied = checkpoint_utils.implied_config(checkpoint_utils.list_variables(google_small.prefix))
    assert implied["embedding_layout"] == "google"
    assert (implied["vocab_size"], implied["embedding_size"], implied["hidden_size"],
            implied["intermediate_size"]) == (21128, 128, 384, 1536)
    assert implied["num_hidden_groups"] == 1
    assert implied["inner_group_num"] == 1
    assert implied["shared_layers"] is True
    implied = checkpoint_utils.implied_config(checkpoint_utils.list_variables(google_multi.prefix))
    assert (implied["vocab_size"], implied["embedding_size"], implied["hidden_size"],
            implied["intermediate_size"]) == (50, 16, 32, 64)
    assert implied["num_hidden_groups"] == 2
    assert implied["inner_group_num"] == 2
    assert implied["shared_layers"] is False
    assert implied["has_pretraining_heads"] is True


def test_implied_config_without_heads(google_shared):
    variables = [(n, list(google_shared.arrays[n].shape)) for n in google_shared.model]
    implied = checkpoint_utils.implied_config(variables)
    assert implied["has_pretraining_heads"] is False
    assert implied["hidden_size"] == 32


def test_config_for_checkpoint_takes_the_checkpoint_layout(google_shared, brightmart_small):
    # ln_type without num_hidden_groups: inferred brightmart, but not stated.
    fields = dict(SMALL, ln_type="postln")
    config = modeling.AlbertConfig.from_dict(fields)
    assert config.embedding_layout is None
    assert config.resolved_embedding_layout == "brightmart"
    picked = checkpoint_utils.config_for_checkpoint(config, google_shared.prefix)
    assert picked.resolved_embedding_layout == "google"
    assert picked.hidden_size == 32 and picked.vocab_size == 50
    report, _ = load(google_shared.prefix, picked)
    assert report.ok
    # A plain config (inferred google) picks up a brightmart checkpoint.
    plain = modeling.AlbertConfig.from_dict(dict(SMALL))
    assert plain.resolved_embedding_layout == "google"
    picked = checkpoint_utils.config_for_checkpoint(plain, os.path.dirname(brightmart_small.prefix))
    assert picked.resolved_embedding_layout == "brightmart"
    report, _ = load(brightmart_small.prefix, picked)
    assert report.ok
    # Agreeing or no checkpoint: the config comes back unchanged.
    assert checkpoint_utils.config_for_checkpoint(plain, google_shared.prefix) is plain
    assert checkpoint_utils.config_for_checkpoint(plain, None) is plain


def test_config_for_checkpoint_rejects_a_contradicting_layout(google_shared):
    config = small_config(embedding_layout="brightmart")
    with pytest.raises(checkpoint_utils.CheckpointMismatchError) as info:
        checkpoint_utils.config_for_checkpoint(config, google_shared.prefix)
    message = str(info.value)
    assert "google" in message and "brightmart" in message
    assert google_shared.prefix in message


def test_check_config_against_checkpoint(brightmart_tiny, google_shared, google_multi):
    config = modeling.AlbertConfig.from_json_file(TINY_CONFIG)
    assert checkpoint_utils.check_config_against_checkpoint(config, brightmart_tiny.prefix) == []
    problems = checkpoint_utils.check_config_against_checkpoint(
        small_config(embedding_layout="brightmart", vocab_size=60), google_shared.prefix)
    assert "vocab_size: config has 60, checkpoint has 50" in problems
    assert any(p.startswith("embedding_layout:") for p in problems)
    # Structure: group counts must agree too.
    problems = checkpoint_utils.check_config_against_checkpoint(
        small_config(embedding_layout="google", num_hidden_groups=2), google_shared.prefix)
    assert any("num_hidden_groups" in p for p in problems)
    agreeing = small_config(embedding_layout="google", num_hidden_groups=2, inner_group_num=2)
    assert checkpoint_utils.check_config_against_checkpoint(agreeing, google_multi.prefix) == []
    problems = checkpoint_utils.check_config_against_checkpoint(
        small_config(embedding_layout="google", sharing_mode="none"), google_shared.prefix)
    assert any(p.startswith("sharing_mode:") for p in problems)
    # A Google pre-LN model ends with bert/encoder/LayerNorm; this checkpoint has none.
    problems = checkpoint_utils.check_config_against_checkpoint(
        small_config(embedding_layout="google", ln_type="preln"), google_shared.prefix)
    assert any("LayerNorm" in p for p in problems)


# ---------------------------------------------------------------------------
# 7. Command line.
# ---------------------------------------------------------------------------


def _run_cli_parallel(argument_lists):
    """Runs ``checkpoint_utils.py`` once per argument list, concurrently."""
    procs = []
    for args in argument_lists:
        procs.append(
            subprocess.Popen([sys.executable, "checkpoint_utils.py"] + list(args), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def cli_results(brightmart_small, google_shared, tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    disagreeing = directory / "disagreeing_config.json"
    disagreeing.write_text(json.dumps(dict(SMALL, vocab_size=60, embedding_layout="google")))
    missing = str(directory / "no_such_model.ckpt")
    runs = collections.OrderedDict([
        ("inspect", ["inspect", os.path.dirname(brightmart_small.prefix)]),
        ("missing", ["inspect", missing]),
        ("config", ["inspect", brightmart_small.prefix, "--config",
                    str(disagreeing)]),
        ("help", ["--help"]),
    ])
    results = _run_cli_parallel(list(runs.values()))
    out = dict(zip(runs.keys(), results))
    out["missing_path"] = missing
    return out


def test_cli_inspect(cli_results, brightmart_small):
    code, out, err = cli_results["inspect"]
    assert code == 0, err
    assert "checkpoint: %s" % brightmart_small.prefix in out
    assert "dialect: brightmart" in out
    for line in [
            "vocab_size: 50", "embedding_size: 16", "hidden_size: 32", "intermediate_size: 64",
            "shared_layers: True"
    ]:
        assert "  " + line in out.splitlines()
    assert "bert/embeddings/word_embeddings_2" in out
    assert "global_step" in out and "(ignored)" in out
    assert "Traceback" not in err


def test_cli_bad_path(cli_results):
    code, out, err = cli_results["missing"]
    assert code != 0
    assert "Traceback" not in err and "Traceback" not in out
    error_lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(error_lines) == 1
    assert cli_results["missing_path"] in error_lines[0]
    assert out == ""


def test_cli_config_disagreement(cli_results):
    code, out, err = cli_results["config"]
    assert "Traceback" not in err
    assert code == 0, err
    assert "DISAGREES" in out
    assert "vocab_size: config has 60, checkpoint has 50" in out
    assert "embedding_layout: config has google, checkpoint is brightmart layout" in out


def test_cli_help(cli_results):
    code, out, _ = cli_results["help"]
    assert code == 0
    assert "inspect" in out


def test_main_in_process(brightmart_small, tmp_path, capsys):
    agreeing = tmp_path / "agreeing.json"
    agreeing.write_text(json.dumps(dict(SMALL, embedding_layout="brightmart")))
    assert checkpoint_utils.main(["inspect", brightmart_small.prefix, "--config",
                                  str(agreeing)]) == 0
    out = capsys.readouterr().out
    assert "agrees with the checkpoint" in out
    assert "model: %d" % sum(brightmart_small.arrays[n].size
                             for n in brightmart_small.model + brightmart_small.heads) in out
    bad_config = tmp_path / "bad.json"
    bad_config.write_text(u"{not json")
    assert checkpoint_utils.main(["inspect", brightmart_small.prefix, "--config",
                                  str(bad_config)]) == 1
    err = capsys.readouterr().err
    assert str(bad_config) in err and err.startswith("error:")
    assert checkpoint_utils.main([]) == 2
    with pytest.raises(SystemExit) as info:
        checkpoint_utils.main(["inspect", brightmart_small.prefix, "--no-such-flag"])
    assert info.value.code != 0


def test_mirrored_replica_variables_map_to_checkpoint_names():

    class _Op(object):

        def __init__(self, name):
            self.name = name

    class _Var(object):

        def __init__(self, name):
            self.op = _Op(name)
            self.name = name + ":0"

    assert checkpoint_utils._graph_name(_Var("bert/pooler/dense/kernel/replica_1")) == \
        "bert/pooler/dense/kernel"
    assert checkpoint_utils._graph_name(_Var("bert/encoder/layer_11/output/dense/bias")) == \
        "bert/encoder/layer_11/output/dense/bias"


def test_step_checkpoints_copy_and_prune(tmp_path):
    directory = str(tmp_path / "run")
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        tf.Variable([1.0, 2.0], name="w")
        saver = tf.train.Saver(max_to_keep=0)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for value in (10, 20, 30):
                sess.run(step.assign(value))
                saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=value)
    found = checkpoint_utils.step_checkpoints(directory)
    assert [s for s, _ in found] == [10, 20, 30]
    assert checkpoint_utils.global_step_of(found[1][1]) == 20
    best = os.path.join(directory, "model.ckpt-best")
    checkpoint_utils.copy_checkpoint(found[0][1], best)
    assert checkpoint_utils.global_step_of(best) == 10
    checkpoint_utils.copy_checkpoint(found[2][1], best)  # replaces the old copy
    assert checkpoint_utils.global_step_of(best) == 30
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]
    checkpoint_utils.prune_checkpoints(directory, keep=1, protect=(found[0][1],))
    assert [s for s, _ in checkpoint_utils.step_checkpoints(directory)] == [10, 30]
    assert os.path.exists(best + ".index")  # not a step checkpoint: never pruned
    assert tf.train.latest_checkpoint(directory).endswith("model.ckpt-30")
    checkpoint_utils.prune_checkpoints(directory, keep=0)
    assert len(checkpoint_utils.step_checkpoints(directory)) == 2


def test_hub_fine_tuned_view_renames_the_module_variables(tmp_path):
    values = {
        "module/bert/embeddings/word_embeddings": np.arange(6, dtype=np.float32).reshape(3, 2),
        "module/cls/predictions/output_bias": np.full([3], 7.0, np.float32),
        # A name the fine-tuned model has itself wins over the module's copy.
        "module/cls/seq_relationship/output_bias": np.full([2], 1.0, np.float32),
        "cls/seq_relationship/output_bias": np.full([2], 2.0, np.float32),
        "output_bias": np.array([0.5, -0.5], np.float32),
    }
    prefix = str(tmp_path / "hub" / "model.ckpt-3")
    checkpoint_utils.write_checkpoint(values, prefix)
    assert checkpoint_utils.is_hub_fine_tuned(prefix)
    view = checkpoint_utils.hub_fine_tuned_view(str(tmp_path / "hub"))
    assert view != prefix and not view.startswith(str(tmp_path))
    assert checkpoint_utils.hub_fine_tuned_view(prefix) == view  # one copy per checkpoint
    reader = tf.train.load_checkpoint(view)
    assert sorted(reader.get_variable_to_shape_map()) == [
        "bert/embeddings/word_embeddings", "cls/predictions/output_bias",
        "cls/seq_relationship/output_bias", "output_bias"
    ]
    np.testing.assert_array_equal(reader.get_tensor("bert/embeddings/word_embeddings"),
                                  values["module/bert/embeddings/word_embeddings"])
    np.testing.assert_array_equal(reader.get_tensor("cls/seq_relationship/output_bias"), [2.0, 2.0])
    np.testing.assert_array_equal(reader.get_tensor("output_bias"), [0.5, -0.5])
    # Any other checkpoint is returned as it is.
    plain = str(tmp_path / "plain" / "model.ckpt")
    checkpoint_utils.write_checkpoint({"bert/x": np.ones([2], np.float32)}, plain)
    assert not checkpoint_utils.is_hub_fine_tuned(plain)
    assert checkpoint_utils.hub_fine_tuned_view(plain) == plain
