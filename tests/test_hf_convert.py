# coding=utf-8
"""hf_convert.py: Google-layout checkpoints <-> Hugging Face ALBERT directories.

The numerical truth is an independent numpy forward pass written here over
the Hugging Face tensor names (embeddings, E->H mapping, shared post-LN
layers with Hugging Face's group rule, tanh pooler, MLM head through the tied
decoder, SOP head), compared with this project's TF graph. The real
``transformers`` is used only when it is importable (it is not a project
dependency).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import math
import os
import random

import numpy as np
import pytest

from tf_compat import tf

import checkpoint_utils
import hf_convert
import modeling
import run_pretraining
import tokenization

TOLERANCE = 1e-4

BASE = {
    "vocab_size": 40,
    "embedding_size": 8,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_hidden_groups": 1,
    "inner_group_num": 1,
    "num_attention_heads": 4,
    "intermediate_size": 24,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "embedding_layout": "google",
}

VARIANTS = {
    "shared": {},
    "groups2_inner2": {
        "num_hidden_layers": 4,
        "num_hidden_groups": 2,
        "inner_group_num": 2
    },
    "groups2_inner2_6layers": {
        "num_hidden_layers": 6,
        "num_hidden_groups": 2,
        "inner_group_num": 2,
        "type_vocab_size": 3
    },
    "e_equals_h": {
        "embedding_size": 16
    },
    "unshared": {
        "num_hidden_layers": 3,
        "sharing_mode": "none"
    },
    "relu": {
        "hidden_act": "relu"
    },
}

# Two sequences, the second padded; positions include [CLS] and padding.
INPUT_IDS = np.array([[2, 5, 7, 9, 11, 3, 13, 17, 19, 3], [2, 23, 29, 31, 3, 37, 3, 0, 0, 0]],
                     np.int32)
INPUT_MASK = np.array([[1] * 10, [1] * 7 + [0] * 3], np.int32)
SEGMENT_IDS = np.array([[0] * 6 + [1] * 4, [0] * 5 + [1] * 2 + [0] * 3], np.int32)
POSITIONS = np.array([[1, 4, 7], [0, 2, 5]], np.int32)


def make_config(**overrides):
    values = dict(BASE)
    values.update(overrides)
    return modeling.AlbertConfig.from_dict(values)


# ---------------------------------------------------------------------------
# The TF side: this project's model and run_pretraining's heads.
# ---------------------------------------------------------------------------


def build_graph(config, heads=True):
    """AlbertModel (+ MLM/SOP heads) on placeholders; returns (feeds, fetches)."""
    ids = tf.placeholder(tf.int32, [None, None], name="input_ids")
    mask = tf.placeholder(tf.int32, [None, None], name="input_mask")
    segments = tf.placeholder(tf.int32, [None, None], name="segment_ids")
    positions = tf.placeholder(tf.int32, [None, None], name="positions")
    model = modeling.AlbertModel(config, is_training=False, input_ids=ids, input_mask=mask,
                                 token_type_ids=segments)
    fetches = {
        "sequence": model.get_sequence_output(),
        "pooled": model.get_pooled_output(),
        "layers": model.get_all_encoder_layers()
    }
    if heads:
        _, _, mlm_log_probs = run_pretraining.get_masked_lm_output(
            config, model.get_sequence_output(), model.get_embedding_table(),
            model.get_embedding_projection(), positions, positions,
            tf.ones_like(positions, tf.float32))
        _, _, sop_log_probs = run_pretraining.get_sentence_order_output(
            config, model.get_pooled_output(), tf.zeros_like(positions[:, 0]))
        # The logits are the inputs of the LogSoftmax ops.
        assert mlm_log_probs.op.type == "LogSoftmax"
        assert sop_log_probs.op.type == "LogSoftmax"
        fetches["mlm_logits"] = mlm_log_probs.op.inputs[0]
        fetches["sop_logits"] = sop_log_probs.op.inputs[0]
    feeds = {ids: INPUT_IDS, mask: INPUT_MASK, segments: SEGMENT_IDS, positions: POSITIONS}
    return feeds, fetches


def random_value(name, shape, rng):
    """Random weights that exercise every tensor (biases and LayerNorms too)."""
    if name.endswith("/gamma"):
        return (1.0 + 0.2 * rng.standard_normal(shape)).astype(np.float32)
    return (0.3 * rng.standard_normal(shape)).astype(np.float32)


def write_model_checkpoint(config, prefix, heads=True, seed=0, extra_variables=None):
    """Writes a random checkpoint of ``config``; returns (values, outputs)."""
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        feeds, fetches = build_graph(config, heads)
        extra = []
        for name, shape in sorted((extra_variables or {}).items()):
            extra.append(tf.get_variable(name, shape))
        variables = tf.global_variables()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = {}
            for var in variables:
                value = random_value(var.op.name, var.shape.as_list(), rng)
                var.load(value, session)
                values[var.op.name] = value
            outputs = session.run(fetches, feeds)
            tf.train.Saver(variables).save(session, prefix, write_meta_graph=False)
    return values, outputs


def outputs_from_checkpoint(config, prefix, heads=True):
    """The TF outputs of a model initialised (strictly) from ``prefix``."""
    with tf.Graph().as_default():
        feeds, fetches = build_graph(config, heads)
        report = checkpoint_utils.init_from_checkpoint(prefix, log=False)
        assert not report.missing and not report.shape_mismatches
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(fetches, feeds), report


def checkpoint_values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return dict((name, reader.get_tensor(name)) for name in reader.get_variable_to_shape_map())


# ---------------------------------------------------------------------------
# The independent reference: numpy over the Hugging Face tensors.
# ---------------------------------------------------------------------------


def np_layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean)**2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def np_linear(x, t, name):
    """torch.nn.Linear: x @ weight.T + bias, weight [out, in]."""
    return x @ t[name + ".weight"].T + t[name + ".bias"]


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


NP_ACTIVATIONS = {"gelu_new": np_gelu_tanh, "relu": lambda x: np.maximum(x, 0.0)}


def np_softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def hf_forward(t, hf_config, input_ids, input_mask, segment_ids, positions):
    """Hugging Face's AlbertForPreTraining, written out in float64 numpy."""
    t = dict((k, v.astype(np.float64)) for k, v in t.items())
    act = NP_ACTIVATIONS[hf_config["hidden_act"]]
    batch, length = input_ids.shape
    emb = (t["albert.embeddings.word_embeddings.weight"][input_ids] +
           t["albert.embeddings.position_embeddings.weight"][np.arange(length)][None] +
           t["albert.embeddings.token_type_embeddings.weight"][segment_ids])
    emb = np_layer_norm(emb, t["albert.embeddings.LayerNorm.weight"],
                        t["albert.embeddings.LayerNorm.bias"], hf_config["layer_norm_eps"])
    hidden = np_linear(emb, t, "albert.encoder.embedding_hidden_mapping_in")
    heads = hf_config["num_attention_heads"]
    size = hf_config["hidden_size"] // heads
    bias = (1.0 - input_mask[:, None, None, :].astype(np.float64)) * -10000.0
    layers = hf_config["num_hidden_layers"]
    groups = hf_config["num_hidden_groups"]
    outputs = []
    for layer in range(layers):
        group = int(layer / (layers / groups))
        for inner in range(hf_config["inner_group_num"]):
            p = "albert.encoder.albert_layer_groups.%d.albert_layers.%d." % (group, inner)

            def split(x):
                return x.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            q = split(np_linear(hidden, t, p + "attention.query"))
            k = split(np_linear(hidden, t, p + "attention.key"))
            v = split(np_linear(hidden, t, p + "attention.value"))
            probs = np_softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            attention = np_layer_norm(hidden + np_linear(context, t, p + "attention.dense"),
                                      t[p + "attention.LayerNorm.weight"],
                                      t[p + "attention.LayerNorm.bias"],
                                      hf_config["layer_norm_eps"])
            ffn = np_linear(act(np_linear(attention, t, p + "ffn")), t, p + "ffn_output")
            hidden = np_layer_norm(ffn + attention, t[p + "full_layer_layer_norm.weight"],
                                   t[p + "full_layer_layer_norm.bias"], hf_config["layer_norm_eps"])
            outputs.append(hidden)
    pooled = np.tanh(np_linear(hidden[:, 0], t, "albert.pooler"))
    result = {"sequence": hidden, "pooled": pooled, "layers": outputs}
    if "predictions.bias" in t:
        at = hidden[np.arange(batch)[:, None], positions].reshape(-1, hidden.shape[-1])
        transformed = np_layer_norm(act(np_linear(at, t, "predictions.dense")),
                                    t["predictions.LayerNorm.weight"],
                                    t["predictions.LayerNorm.bias"], hf_config["layer_norm_eps"])
        result["mlm_logits"] = np_linear(transformed, t, "predictions.decoder")
        result["sop_logits"] = np_linear(pooled, t, "sop_classifier.classifier")
    return result


def read_hf(directory):
    import safetensors.numpy  # pylint: disable=g-import-not-at-top
    with io.open(os.path.join(directory, "config.json"), encoding="utf-8") as reader:
        config = json.load(reader)
    return config, safetensors.numpy.load_file(os.path.join(directory, "model.safetensors"))


def assert_close(actual, expected, what):
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, what
    delta = np.max(np.abs(actual - expected))
    assert delta < TOLERANCE, "%s: max |delta| %g" % (what, delta)
    return delta


def write_vocab(path, tokens):
    with io.open(path, "w", encoding="utf-8", newline="") as writer:
        writer.write(u"".join(token + u"\n" for token in tokens))
    return path


def small_vocab(size):
    """A WordPiece vocab of ``size`` entries with the BERT special tokens."""
    tokens = [u"[PAD]", u"[unused1]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]", u"\u2028"]
    chars = u"的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年"
    tokens += list(chars) + [u"##" + c for c in chars]
    tokens += [u"hello", u"world", u"##s"]
    assert len(tokens) >= size
    return tokens[:size]


# ---------------------------------------------------------------------------
# The name map against the real graph.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_name_map_is_exactly_the_graph_variables(variant):
    config = make_config(**VARIANTS[variant])
    with tf.Graph().as_default():
        build_graph(config, heads=True)
        graph = dict((v.op.name, v.shape.as_list()) for v in tf.global_variables())
    mapped = dict((e.tf_name, e.tf_shape) for e in hf_convert.tensor_name_map(config))
    assert mapped == graph
    hf_names = [e.hf_name for e in hf_convert.tensor_name_map(config)]
    assert len(set(hf_names)) == len(hf_names)


def test_name_map_without_heads_is_the_encoder():
    config = make_config()
    with tf.Graph().as_default():
        build_graph(config, heads=False)
        graph = set(v.op.name for v in tf.global_variables())
    names = set(e.tf_name for e in hf_convert.tensor_name_map(config, False, False))
    assert names == graph


# ---------------------------------------------------------------------------
# Checkpoint -> Hugging Face: parity with the numpy reference.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_exported_tensors_compute_what_the_tf_graph_computes(tmp_path, variant):
    config = make_config(**VARIANTS[variant])
    prefix = str(tmp_path / "ckpt" / "model.ckpt")
    _, tf_out = write_model_checkpoint(config, prefix, seed=len(variant))
    out_dir = str(tmp_path / "hf")
    report = hf_convert.checkpoint_to_hf(prefix, config, out_dir)
    assert report.heads_written == ["MLM", "SOP"] and report.heads_absent == []
    hf_config, tensors = read_hf(out_dir)
    # The decoder is the word table; its bias the MLM bias (HF ties them).
    np.testing.assert_array_equal(tensors["predictions.decoder.weight"],
                                  tensors["albert.embeddings.word_embeddings.weight"])
    np.testing.assert_array_equal(tensors["predictions.decoder.bias"], tensors["predictions.bias"])
    ref = hf_forward(tensors, hf_config, INPUT_IDS, INPUT_MASK, SEGMENT_IDS, POSITIONS)
    assert_close(tf_out["sequence"], ref["sequence"], "sequence output")
    assert_close(tf_out["pooled"], ref["pooled"], "pooled output")
    assert len(tf_out["layers"]) == len(ref["layers"])
    for index, (ours, theirs) in enumerate(zip(tf_out["layers"], ref["layers"])):
        assert_close(ours, theirs, "layer %d" % index)
    assert_close(tf_out["mlm_logits"], ref["mlm_logits"], "MLM logits")
    assert_close(tf_out["sop_logits"], ref["sop_logits"], "SOP logits")
    # The reference would not notice a wrong tensor if the logits were flat.
    assert np.std(ref["mlm_logits"]) > 0.1 and np.std(ref["sop_logits"]) > 0.1


def test_hf_config_fields(tmp_path):
    config = make_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2)
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))
    hf_config, tensors = read_hf(str(tmp_path / "hf"))
    expected = {
        "model_type": "albert",
        "architectures": ["AlbertForPreTraining"],
        "vocab_size": 40,
        "embedding_size": 8,
        "hidden_size": 16,
        "num_hidden_layers": 4,
        "num_hidden_groups": 2,
        "num_attention_heads": 4,
        "intermediate_size": 24,
        "inner_group_num": 2,
        "hidden_act": "gelu_new",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 16,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "pad_token_id": 0,
        "bos_token_id": 2,
        "eos_token_id": 3,
    }
    for key, value in expected.items():
        assert hf_config[key] == value, key
    assert "tokenizer_class" not in hf_config
    # Torch Linear layout: [out, in].
    assert list(tensors["albert.encoder.embedding_hidden_mapping_in.weight"].shape) == [16, 8]
    assert list(
        tensors["albert.encoder.albert_layer_groups.1.albert_layers.1.ffn.weight"].shape) == [
            24, 16
        ]
    assert list(tensors["predictions.dense.weight"].shape) == [8, 16]
    assert list(tensors["sop_classifier.classifier.weight"].shape) == [2, 16]
    assert not any("position_ids" in name for name in tensors)


def test_safetensors_metadata_says_pt(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))
    _, metadata = hf_convert.read_safetensors_header(str(tmp_path / "hf" / "model.safetensors"))
    assert metadata == {"format": "pt"}


def test_config_from_json_and_layout_from_checkpoint(tmp_path):
    values = dict(BASE)
    del values["embedding_layout"]
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(json.dumps(values))
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(make_config(), prefix)
    # A directory is accepted as the checkpoint too.
    report = hf_convert.checkpoint_to_hf(str(tmp_path), str(config_file), str(tmp_path / "hf"))
    assert report.source == prefix
    assert os.path.isfile(str(tmp_path / "hf" / "model.safetensors"))


# ---------------------------------------------------------------------------
# Round trip: checkpoint -> HF -> checkpoint.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["shared", "groups2_inner2", "e_equals_h", "unshared"])
def test_round_trip_gives_identical_tensors_and_outputs(tmp_path, variant):
    config = make_config(**VARIANTS[variant])
    prefix = str(tmp_path / "a" / "model.ckpt")
    values, tf_out = write_model_checkpoint(config, prefix, seed=7)
    hf_dir = str(tmp_path / "hf")
    hf_convert.checkpoint_to_hf(prefix, config, hf_dir)
    back = str(tmp_path / "b" / "albert_model.ckpt")
    report = hf_convert.hf_to_checkpoint(hf_dir, back)
    assert report.heads_written == ["MLM", "SOP"] and report.ignored == []
    restored = checkpoint_values(back)
    assert sorted(restored) == sorted(values)
    for name, value in values.items():
        assert restored[name].dtype == np.float32, name
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
    # The config written beside it describes the same model.
    new_config = modeling.AlbertConfig.from_json_file(str(tmp_path / "b" / "albert_config.json"))
    assert new_config.resolved_embedding_layout == "google"
    assert new_config.resolved_ln_type == "postln"
    for field in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                  "num_attention_heads", "intermediate_size", "inner_group_num",
                  "max_position_embeddings", "type_vocab_size", "hidden_act"):
        assert getattr(new_config, field) == getattr(config, field), field
    # The directory resolves to the new checkpoint and every variable loads.
    assert checkpoint_utils.resolve_checkpoint(str(tmp_path / "b")) == back
    again, load_report = outputs_from_checkpoint(new_config, str(tmp_path / "b"))
    assert not load_report.unexpected
    for key in ("sequence", "pooled", "mlm_logits", "sop_logits"):
        np.testing.assert_array_equal(again[key], tf_out[key], err_msg=key)


def test_round_trip_loads_in_run_pretraining_with_every_variable(tmp_path):
    """run_pretraining's model_fn loads what hf_to_checkpoint writes: every
    variable, heads included (none newly initialised, none unused)."""
    config = make_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2)
    prefix = str(tmp_path / "a" / "model.ckpt")
    write_model_checkpoint(config, prefix)
    hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))
    back = str(tmp_path / "b" / "model.ckpt")
    hf_convert.hf_to_checkpoint(str(tmp_path / "hf"), back)
    report_file = str(tmp_path / "load_report.txt")
    model_fn = run_pretraining.model_fn_builder(config, init_checkpoint=back,
                                                init_report_file=report_file)
    with tf.Graph().as_default():
        features = {
            "input_ids": INPUT_IDS,
            "input_mask": INPUT_MASK,
            "segment_ids": SEGMENT_IDS,
            "masked_lm_positions": POSITIONS,
            "masked_lm_ids": POSITIONS,
            "masked_lm_weights": np.ones(POSITIONS.shape, np.float32),
            "next_sentence_labels": np.zeros([2, 1], np.int32)
        }
        features = dict((k, tf.constant(v)) for k, v in features.items())
        spec = model_fn(features, None, tf.estimator.ModeKeys.TRAIN, {})
        num_variables = len(tf.trainable_variables())
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            assert np.isfinite(session.run(spec.loss))
    with io.open(report_file, encoding="utf-8") as reader:
        lines = reader.read().splitlines()
    assert ("%d loaded, 0 newly initialised, 0 missing, 0 shape mismatches, 0 unused" %
            num_variables) in lines[0]


# ---------------------------------------------------------------------------
# Missing heads, extra variables.
# ---------------------------------------------------------------------------


def test_encoder_only_checkpoint_writes_the_encoder_and_says_which_heads_are_absent(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    # A fine-tuned classifier: encoder + output_weights/output_bias, no heads.
    values, tf_out = write_model_checkpoint(
        config, prefix, heads=False, extra_variables={
            "output_weights": [3, 16],
            "output_bias": [3]
        })
    out_dir = str(tmp_path / "hf")
    report = hf_convert.checkpoint_to_hf(prefix, config, out_dir)
    assert report.heads_written == []
    assert report.heads_absent == ["MLM", "SOP"]
    assert report.ignored == ["output_bias", "output_weights"]
    assert "MLM head" in report.summary() and "SOP head" in report.summary()
    hf_config, tensors = read_hf(out_dir)
    assert hf_config["architectures"] == ["AlbertModel"]
    assert not any(n.startswith(("predictions.", "sop_classifier.")) for n in tensors)
    ref = hf_forward(tensors, hf_config, INPUT_IDS, INPUT_MASK, SEGMENT_IDS, POSITIONS)
    assert_close(tf_out["sequence"], ref["sequence"], "sequence output")
    assert_close(tf_out["pooled"], ref["pooled"], "pooled output")
    # And back: the encoder alone, loadable with nothing missing.
    back = str(tmp_path / "b" / "model.ckpt")
    back_report = hf_convert.hf_to_checkpoint(out_dir, back)
    assert back_report.heads_absent == ["MLM", "SOP"]
    restored = checkpoint_values(back)
    assert sorted(restored) == sorted(n for n in values if not n.startswith("output_"))
    again, _ = outputs_from_checkpoint(config, back, heads=False)
    np.testing.assert_array_equal(again["sequence"], tf_out["sequence"])


def test_optimizer_slots_and_global_step_are_not_reported(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default():
        build_graph(config)
        for var in list(tf.global_variables()):
            tf.get_variable(var.op.name + "/adam_m", var.shape)
        tf.train.get_or_create_global_step()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    report = hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))
    assert report.ignored == []
    assert report.heads_written == ["MLM", "SOP"]


def test_bare_albert_model_names_without_prefix(tmp_path):
    """A directory saved from AlbertModel has no "albert." prefix and no heads."""
    import safetensors.numpy  # pylint: disable=g-import-not-at-top
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    values, _ = write_model_checkpoint(config, prefix, heads=False)
    hf_dir = tmp_path / "hf"
    hf_convert.checkpoint_to_hf(prefix, config, str(hf_dir))
    _, tensors = read_hf(str(hf_dir))
    bare = dict((n[len("albert."):], v) for n, v in tensors.items())
    bare["embeddings.position_ids"] = np.arange(16, dtype=np.int64)[None]
    safetensors.numpy.save_file(bare, str(hf_dir / "model.safetensors"))
    back = str(tmp_path / "b" / "model.ckpt")
    report = hf_convert.hf_to_checkpoint(str(hf_dir), back)
    assert report.ignored == []
    restored = checkpoint_values(back)
    for name, value in values.items():
        np.testing.assert_array_equal(restored[name], value)


# ---------------------------------------------------------------------------
# Tokenizer files.
# ---------------------------------------------------------------------------


def test_wordpiece_vocab_is_copied_byte_for_byte_with_bert_tokenizer(tmp_path):
    config = make_config()
    vocab = write_vocab(str(tmp_path / "vocab.txt"), small_vocab(40))
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    out_dir = tmp_path / "hf"
    report = hf_convert.checkpoint_to_hf(prefix, config, str(out_dir), vocab_file=vocab)
    assert report.tokenizer == "wordpiece" and report.do_lower_case is True
    with open(vocab, "rb") as a, open(str(out_dir / "vocab.txt"), "rb") as b:
        assert a.read() == b.read()
    hf_config, _ = read_hf(str(out_dir))
    assert hf_config["tokenizer_class"] == "BertTokenizer"
    # Token ids from the vocabulary itself: [PAD]=0, [CLS]=3, [SEP]=4.
    assert (hf_config["pad_token_id"], hf_config["bos_token_id"],
            hf_config["eos_token_id"]) == (0, 3, 4)
    tok_config = json.loads((out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["tokenizer_class"] == "BertTokenizer"
    assert tok_config["do_lower_case"] is True
    assert tok_config["tokenize_chinese_chars"] is True
    assert tok_config["mask_token"] == "[MASK]" and tok_config["unk_token"] == "[UNK]"
    special = json.loads((out_dir / "special_tokens_map.json").read_text(encoding="utf-8"))
    assert special == {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]"
    }
    # And back: vocab.txt beside the checkpoint, same bytes.
    back_dir = tmp_path / "b"
    back = hf_convert.hf_to_checkpoint(str(out_dir), str(back_dir / "model.ckpt"))
    assert back.tokenizer == "wordpiece" and back.do_lower_case is True
    assert back.notes == []
    with open(vocab, "rb") as a, open(str(back_dir / "vocab.txt"), "rb") as b:
        assert a.read() == b.read()


def test_vocab_that_does_not_fit_the_config_is_refused(tmp_path):
    config = make_config()
    vocab = write_vocab(str(tmp_path / "vocab.txt"), small_vocab(39))
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    with pytest.raises(hf_convert.ConversionError) as error:
        hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"), vocab_file=vocab)
    assert "39" in str(error.value) and "40" in str(error.value)
    assert not os.path.exists(str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def sp_model_file(tmp_path_factory):
    spm = pytest.importorskip("sentencepiece")
    directory = tmp_path_factory.mktemp("spm")
    rng = random.Random(5)
    words = "the cat sat on a mat dog ran in park big small red blue house tree".split()
    corpus = directory / "corpus.txt"
    corpus.write_text(
        u"\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(300)) + u"\n",
        encoding="utf-8")
    prefix = str(directory / "sp")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=prefix, vocab_size=60,
                                   model_type="bpe", pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
                                   control_symbols=["[CLS]", "[SEP]",
                                                    "[MASK]"], hard_vocab_limit=False)
    return prefix + ".model"


def test_sentencepiece_model_becomes_spiece_model_with_albert_tokenizer(tmp_path, sp_model_file):
    size = tokenization.FullTokenizer(spm_model_file=sp_model_file).vocab_size
    config = make_config(vocab_size=size)
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    out_dir = tmp_path / "hf"
    # A .model passed as vocab_file is recognised as SentencePiece too.
    report = hf_convert.checkpoint_to_hf(prefix, config, str(out_dir), vocab_file=sp_model_file,
                                         do_lower_case=False)
    assert report.tokenizer == "sentencepiece"
    with open(sp_model_file, "rb") as a, open(str(out_dir / "spiece.model"), "rb") as b:
        assert a.read() == b.read()
    assert not (out_dir / "vocab.txt").exists()
    hf_config, _ = read_hf(str(out_dir))
    assert hf_config["tokenizer_class"] == "AlbertTokenizer"
    assert (hf_config["pad_token_id"], hf_config["bos_token_id"],
            hf_config["eos_token_id"]) == (0, 2, 3)
    tok_config = json.loads((out_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["tokenizer_class"] == "AlbertTokenizer"
    assert tok_config["do_lower_case"] is False
    assert tok_config["mask_token"]["content"] == "[MASK]"
    back_dir = tmp_path / "b"
    back = hf_convert.hf_to_checkpoint(str(out_dir), str(back_dir / "model.ckpt"))
    assert back.tokenizer == "sentencepiece" and back.do_lower_case is False
    assert (back_dir / "spiece.model").is_file()


def test_a_later_export_removes_the_other_tokenizer_files(tmp_path, sp_model_file):
    size = tokenization.FullTokenizer(spm_model_file=sp_model_file).vocab_size
    config = make_config(vocab_size=size)
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    out_dir = tmp_path / "hf"
    hf_convert.checkpoint_to_hf(prefix, config, str(out_dir), spm_model_file=sp_model_file)
    vocab = write_vocab(str(tmp_path / "vocab.txt"), small_vocab(size))
    hf_convert.checkpoint_to_hf(prefix, config, str(out_dir), vocab_file=vocab)
    assert (out_dir / "vocab.txt").is_file() and not (out_dir / "spiece.model").exists()
    hf_convert.checkpoint_to_hf(prefix, config, str(out_dir))
    assert sorted(os.listdir(str(out_dir))) == ["config.json", "model.safetensors"]


# ---------------------------------------------------------------------------
# Refusals: layouts and configs Hugging Face cannot express.
# ---------------------------------------------------------------------------


def test_brightmart_checkpoint_is_refused_with_its_reason(tmp_path):
    config = make_config(embedding_layout="brightmart", ln_type="postln")
    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default():
        modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    out_dir = str(tmp_path / "hf")
    for given in (config, make_config()):  # whatever the config says
        with pytest.raises(hf_convert.ConversionError) as error:
            hf_convert.checkpoint_to_hf(prefix, given, out_dir)
        message = str(error.value)
        assert "\n" not in message
        assert "brightmart" in message and "word_embeddings_2" in message
        assert "not converted" in message
        assert isinstance(error.value, ValueError)
    assert not os.path.exists(out_dir)


def test_brightmart_config_is_refused_by_the_name_map():
    config = make_config(embedding_layout="brightmart", ln_type="postln")
    with pytest.raises(hf_convert.ConversionError, match="brightmart"):
        hf_convert.tensor_name_map(config)


@pytest.mark.parametrize("overrides,words", [
    ({
        "ln_type": "preln"
    }, "pre-LN"),
    ({
        "sharing_mode": "attention"
    }, "sharing_mode=attention"),
    ({
        "sharing_mode": "ffn"
    }, "sharing_mode=ffn"),
])
def test_configs_without_hf_equivalent_are_refused(tmp_path, overrides, words):
    config = make_config(**overrides)
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix, heads=False)
    with pytest.raises(hf_convert.ConversionError) as error:
        hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))
    assert words in str(error.value) and "\n" not in str(error.value)
    assert not os.path.exists(str(tmp_path / "hf"))


def test_config_that_disagrees_with_the_checkpoint_is_refused(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(make_config(), prefix)
    with pytest.raises(hf_convert.ConversionError, match="intermediate_size"):
        hf_convert.checkpoint_to_hf(prefix, make_config(intermediate_size=32), str(tmp_path / "hf"))
    with pytest.raises(hf_convert.ConversionError, match="num_hidden_groups"):
        hf_convert.checkpoint_to_hf(prefix, make_config(num_hidden_groups=2), str(tmp_path / "hf"))


def test_partial_head_is_refused(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default():
        build_graph(config, heads=True)
        keep = [v for v in tf.global_variables() if v.op.name != "cls/predictions/output_bias"]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver(keep).save(session, prefix)
    with pytest.raises(hf_convert.ConversionError, match="cls/predictions/output_bias"):
        hf_convert.checkpoint_to_hf(prefix, config, str(tmp_path / "hf"))


def test_missing_checkpoint_is_a_conversion_error(tmp_path):
    with pytest.raises(hf_convert.ConversionError, match="no such checkpoint"):
        hf_convert.checkpoint_to_hf(str(tmp_path / "nothing.ckpt"), make_config(),
                                    str(tmp_path / "hf"))


# ---------------------------------------------------------------------------
# Hugging Face -> checkpoint: bad directories.
# ---------------------------------------------------------------------------


@pytest.fixture
def hf_dir(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "src" / "model.ckpt")
    write_model_checkpoint(config, prefix)
    directory = str(tmp_path / "hf")
    hf_convert.checkpoint_to_hf(prefix, config, directory)
    return directory


def _edit_tensors(directory, edit):
    import safetensors.numpy  # pylint: disable=g-import-not-at-top
    path = os.path.join(directory, "model.safetensors")
    tensors = safetensors.numpy.load_file(path)
    edit(tensors)
    safetensors.numpy.save_file(tensors, path, metadata={"format": "pt"})


def _edit_config(directory, edit):
    path = os.path.join(directory, "config.json")
    with io.open(path, encoding="utf-8") as reader:
        data = json.load(reader)
    edit(data)
    with io.open(path, "w", encoding="utf-8") as writer:
        writer.write(json.dumps(data))


def _refused(directory, tmp_path, *words):
    output = str(tmp_path / "out" / "model.ckpt")
    with pytest.raises(hf_convert.ConversionError) as error:
        hf_convert.hf_to_checkpoint(directory, output)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    assert not os.path.exists(output + ".index")
    return message


def test_hf_not_a_directory(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text(u"x")
    _refused(str(path), tmp_path, "not a directory")
    _refused(str(tmp_path / "missing"), tmp_path, "not a directory")


def test_hf_without_config_json(hf_dir, tmp_path):
    os.remove(os.path.join(hf_dir, "config.json"))
    _refused(hf_dir, tmp_path, "no config.json")


def test_hf_model_type_not_albert(hf_dir, tmp_path):
    _edit_config(hf_dir, lambda c: c.update(model_type="bert"))
    _refused(hf_dir, tmp_path, "model_type", "'bert'", "albert")


def test_hf_only_pytorch_bin_is_refused_saying_only_safetensors_is_read(hf_dir, tmp_path):
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    with open(os.path.join(hf_dir, "pytorch_model.bin"), "wb") as writer:
        writer.write(b"PK")
    _refused(hf_dir, tmp_path, "only safetensors", "pytorch_model.bin")


def test_hf_missing_tensor_is_named(hf_dir, tmp_path):
    name = "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn_output.bias"
    _edit_tensors(hf_dir, lambda t: t.pop(name))
    _refused(hf_dir, tmp_path, "missing", name)


def test_hf_shape_mismatch_is_named(hf_dir, tmp_path):
    name = "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight"
    _edit_tensors(hf_dir, lambda t: t.update({name: np.zeros([16, 12], np.float32)}))
    _refused(hf_dir, tmp_path, name, "[16, 12]", "[16, 16]")


def test_hf_config_and_tensors_disagree(hf_dir, tmp_path):
    _edit_config(hf_dir, lambda c: c.update(intermediate_size=32))
    _refused(hf_dir, tmp_path, "ffn.weight", "[32, 16]")


def test_hf_partial_head_is_named(hf_dir, tmp_path):
    _edit_tensors(hf_dir, lambda t: t.pop("sop_classifier.classifier.bias"))
    _refused(hf_dir, tmp_path, "SOP", "sop_classifier.classifier.bias")


def test_hf_untied_decoder_is_refused(hf_dir, tmp_path):

    def untie(tensors):
        tensors["predictions.decoder.weight"] = tensors["predictions.decoder.weight"] + 1.0

    _edit_tensors(hf_dir, untie)
    _refused(hf_dir, tmp_path, "predictions.decoder.weight", "tie")


def test_hf_unknown_activation_and_positions_are_refused(hf_dir, tmp_path):
    _edit_config(hf_dir, lambda c: c.update(hidden_act="quick_gelu"))
    _refused(hf_dir, tmp_path, "hidden_act", "quick_gelu")
    _edit_config(hf_dir,
                 lambda c: c.update(hidden_act="gelu_new", position_embedding_type="relative_key"))
    _refused(hf_dir, tmp_path, "relative_key")


def test_hf_erf_gelu_converts_with_a_note(hf_dir, tmp_path):
    _edit_config(hf_dir, lambda c: c.update(hidden_act="gelu"))
    report = hf_convert.hf_to_checkpoint(hf_dir, str(tmp_path / "out" / "model.ckpt"))
    assert any("erf" in note for note in report.notes)


def test_hf_bfloat16_is_refused_naming_the_tensor(hf_dir, tmp_path):
    path = os.path.join(hf_dir, "model.safetensors")
    header, _ = hf_convert.read_safetensors_header(path)
    with open(path, "rb") as reader:
        data = reader.read()
    size = int(np.frombuffer(data[:8], "<u8")[0])
    raw = json.loads(data[8:8 + size].decode("utf-8"))
    raw["albert.pooler.bias"]["dtype"] = "BF16"
    begin, end = raw["albert.pooler.bias"]["data_offsets"]
    raw["albert.pooler.bias"]["data_offsets"] = [begin, begin + (end - begin) // 2]
    text = json.dumps(raw).encode("utf-8")
    with open(path, "wb") as writer:
        writer.write(np.array([len(text)], "<u8").tobytes() + text + data[8 + size:])
    assert "albert.pooler.bias" in header
    _refused(hf_dir, tmp_path, "albert.pooler.bias", "BF16")


def test_hf_float16_weights_are_read_as_float32(hf_dir, tmp_path):

    def half(tensors):
        for name in list(tensors):
            tensors[name] = tensors[name].astype(np.float16)

    _edit_tensors(hf_dir, half)
    back = str(tmp_path / "out" / "model.ckpt")
    hf_convert.hf_to_checkpoint(hf_dir, back)
    assert checkpoint_utils.float_dtypes(back) == {"float32"}


def test_hf_identity_mapping_required_when_e_equals_h(tmp_path):
    config = make_config(embedding_size=16)
    prefix = str(tmp_path / "src" / "model.ckpt")
    write_model_checkpoint(config, prefix)
    directory = str(tmp_path / "hf")
    report = hf_convert.checkpoint_to_hf(prefix, config, directory)
    assert any("identity" in note for note in report.notes)
    _, tensors = read_hf(directory)
    np.testing.assert_array_equal(tensors["albert.encoder.embedding_hidden_mapping_in.weight"],
                                  np.eye(16))

    def perturb(t):
        t["albert.encoder.embedding_hidden_mapping_in.bias"] = np.full([16], 0.5, np.float32)

    _edit_tensors(directory, perturb)
    _refused(directory, tmp_path, "embedding_hidden_mapping_in", "identity")


def test_hf_sharded_safetensors(hf_dir, tmp_path):
    import safetensors.numpy  # pylint: disable=g-import-not-at-top
    path = os.path.join(hf_dir, "model.safetensors")
    tensors = safetensors.numpy.load_file(path)
    os.remove(path)
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[::2],
        "model-00002-of-00002.safetensors": names[1::2]
    }
    weight_map = {}
    for shard, shard_names in shards.items():
        safetensors.numpy.save_file(dict((n, tensors[n]) for n in shard_names),
                                    os.path.join(hf_dir, shard), metadata={"format": "pt"})
        weight_map.update((n, shard) for n in shard_names)
    with open(os.path.join(hf_dir, "model.safetensors.index.json"), "w") as writer:
        json.dump({"metadata": {}, "weight_map": weight_map}, writer)
    back = str(tmp_path / "out" / "model.ckpt")
    report = hf_convert.hf_to_checkpoint(hf_dir, back)
    assert report.heads_written == ["MLM", "SOP"]
    restored = checkpoint_values(back)
    np.testing.assert_array_equal(restored["bert/pooler/dense/kernel"],
                                  tensors["albert.pooler.weight"].T)


def test_output_directory_that_is_a_file_is_refused(tmp_path):
    config = make_config()
    prefix = str(tmp_path / "model.ckpt")
    write_model_checkpoint(config, prefix)
    target = tmp_path / "hf"
    target.write_text(u"x")
    with pytest.raises(hf_convert.ConversionError, match="not a directory"):
        hf_convert.checkpoint_to_hf(prefix, config, str(target))


# ---------------------------------------------------------------------------
# The real transformers, when it is installed (it is not a project dependency).
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["shared", "groups2_inner2"])
def test_real_transformers_loads_the_export(tmp_path, variant):
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch  # pylint: disable=g-import-not-at-top
    config = make_config(**VARIANTS[variant])
    vocab = write_vocab(str(tmp_path / "vocab.txt"), small_vocab(40))
    prefix = str(tmp_path / "model.ckpt")
    _, tf_out = write_model_checkpoint(config, prefix, seed=3)
    out_dir = str(tmp_path / "hf")
    hf_convert.checkpoint_to_hf(prefix, config, out_dir, vocab_file=vocab)
    model, info = transformers.AlbertForPreTraining.from_pretrained(out_dir,
                                                                    output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    model.eval()
    with torch.no_grad():
        result = model(input_ids=torch.tensor(INPUT_IDS, dtype=torch.long),
                       attention_mask=torch.tensor(INPUT_MASK, dtype=torch.long),
                       token_type_ids=torch.tensor(SEGMENT_IDS,
                                                   dtype=torch.long), output_hidden_states=True)
    logits = result.prediction_logits.numpy()
    at = logits[np.arange(2)[:, None], POSITIONS].reshape(-1, logits.shape[-1])
    assert_close(result.hidden_states[-1].numpy(), tf_out["sequence"], "sequence output")
    assert_close(at, tf_out["mlm_logits"], "MLM logits")
    assert_close(result.sop_logits.numpy(), tf_out["sop_logits"], "SOP logits")
    tokenizer = transformers.AutoTokenizer.from_pretrained(out_dir)
    ours = tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)
    text = u"他说我们的国 Hello worlds"
    assert tokenizer.tokenize(text) == ours.tokenize(text)
