# coding=utf-8
"""modeling.py against an independent numpy forward pass, plus config checks."""

import json
import math
import os

import numpy as np
import pytest

from tf_compat import tf
import tf_compat
import modeling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------
# Independent numpy reference.
# ---------------------------------------------------------------------------


def np_layer_norm(x, gamma, beta):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean)**2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def np_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_attention(x, w, prefix, mask, heads):
    """x [B,S,H]; returns context [B,S,H] before the output projection."""
    b, s, h = x.shape
    d = h // heads
    q = x @ w[prefix + "self/query/kernel"] + w[prefix + "self/query/bias"]
    k = x @ w[prefix + "self/key/kernel"] + w[prefix + "self/key/bias"]
    v = x @ w[prefix + "self/value/kernel"] + w[prefix + "self/value/bias"]
    q = q.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
    k = k.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
    v = v.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
    ctx = np_softmax(scores) @ v
    return ctx.transpose(0, 2, 1, 3).reshape(b, s, h)


def owners(cfg, i):
    """(attention owner, ffn owner) per the sharing mode, written independently."""
    g = (i * cfg["num_hidden_groups"]) // cfg["num_hidden_layers"]
    return {"all": (g, g), "none": (i, i), "attention": (g, i), "ffn": (i, g)}[cfg["sharing_mode"]]


def np_forward(w, cfg, ids, types, mask):
    """Returns (all layers list, pooled) from the weights dict ``w``."""
    layout = cfg["embedding_layout"]
    pre = cfg["ln_type"] == "preln"
    heads = cfg["num_attention_heads"]
    s = ids.shape[1]
    word = w["bert/embeddings/word_embeddings"][ids]
    if layout == "brightmart":
        word = word @ w["bert/embeddings/word_embeddings_2"]
    x = (word + w["bert/embeddings/token_type_embeddings"][types] +
         w["bert/embeddings/position_embeddings"][:s][None])
    x = np_layer_norm(x, w["bert/embeddings/LayerNorm/gamma"], w["bert/embeddings/LayerNorm/beta"])
    if layout == "google" and cfg["embedding_size"] != cfg["hidden_size"]:
        x = (x @ w["bert/encoder/embedding_hidden_mapping_in/kernel"] +
             w["bert/encoder/embedding_hidden_mapping_in/bias"])
    layers = []

    def ln(t, name):
        return np_layer_norm(t, w[name + "/gamma"], w[name + "/beta"])

    for i in range(cfg["num_hidden_layers"]):
        a_own, f_own = owners(cfg, i)
        if layout == "google":
            for k in range(cfg["inner_group_num"]):
                pa = "bert/encoder/transformer/group_%d/inner_group_%d/" % (a_own, k)
                pf = "bert/encoder/transformer/group_%d/inner_group_%d/" % (f_own, k)
                inp = ln(x, pa + "LayerNorm") if pre else x
                ctx = np_attention(inp, w, pa + "attention_1/", mask, heads)
                proj = ctx @ w[pa + "attention_1/output/dense/kernel"] + \
                    w[pa + "attention_1/output/dense/bias"]
                x = x + proj if pre else ln(proj + x, pa + "LayerNorm")
                inp = ln(x, pf + "LayerNorm_1") if pre else x
                hid = np_gelu(inp @ w[pf + "ffn_1/intermediate/dense/kernel"] +
                              w[pf + "ffn_1/intermediate/dense/bias"])
                out = hid @ w[pf + "ffn_1/intermediate/output/dense/kernel"] + \
                    w[pf + "ffn_1/intermediate/output/dense/bias"]
                x = x + out if pre else ln(out + x, pf + "LayerNorm_1")
                layers.append(x)
        else:

            def scope(owner, sub):
                shared = cfg["sharing_mode"] in ("all", sub)
                if shared and cfg["num_hidden_groups"] == 1:
                    return "bert/encoder/layer_shared/"
                return "bert/encoder/layer_%d/" % owner

            pa = scope(a_own, "attention")
            pf = scope(f_own, "ffn")
            inp = ln(x, pa + "attention/output/LayerNorm") if pre else x
            ctx = np_attention(inp, w, pa + "attention/", mask, heads)
            proj = ctx @ w[pa + "attention/output/dense/kernel"] + \
                w[pa + "attention/output/dense/bias"]
            x = x + proj if pre else ln(proj + x, pa + "attention/output/LayerNorm")
            inp = ln(x, pf + "output/LayerNorm") if pre else x
            hid = np_gelu(inp @ w[pf + "intermediate/dense/kernel"] +
                          w[pf + "intermediate/dense/bias"])
            out = hid @ w[pf + "output/dense/kernel"] + w[pf + "output/dense/bias"]
            x = x + out if pre else ln(out + x, pf + "output/LayerNorm")
            layers.append(x)
    if pre and layout == "google":
        layers[-1] = ln(layers[-1], "bert/encoder/LayerNorm")
    pooled = np.tanh(layers[-1][:, 0] @ w["bert/pooler/dense/kernel"] + w["bert/pooler/dense/bias"])
    return layers, pooled


def tiny_config(**overrides):
    cfg = dict(vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=3,
               num_hidden_groups=1, num_attention_heads=4, intermediate_size=24, inner_group_num=1,
               hidden_act="gelu", max_position_embeddings=16, type_vocab_size=2,
               initializer_range=0.2, ln_type="postln", embedding_layout="google",
               sharing_mode="all")
    cfg.update(overrides)
    return cfg


def run_model(cfg, ids, types, mask, use_einsum=True, randomize_ln=True, seed=0):
    """Builds the TF model, randomises every variable, returns outputs and weights."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        config = modeling.AlbertConfig.from_dict(cfg)
        t_ids = tf.constant(ids, tf.int32)
        t_types = tf.constant(types, tf.int32)
        t_mask = tf.constant(mask, tf.int32)
        model = modeling.AlbertModel(config, False, t_ids, t_mask, t_types, use_einsum=use_einsum)
        variables = tf.global_variables()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(seed)
            if randomize_ln:
                # LayerNorm/biases start at 1/0: give them random values so the
                # comparison exercises them.
                for var in variables:
                    shape = var.shape.as_list()
                    var.load((rng.randn(*shape) * 0.3 +
                              (1.0 if "gamma" in var.name else 0.0)).astype(np.float32), sess)
            layers, pooled, emb = sess.run([
                model.get_all_encoder_layers(),
                model.get_pooled_output(),
                model.get_embedding_output()
            ])
            weights = dict((v.op.name, sess.run(v)) for v in variables)
    return layers, pooled, emb, weights


def make_inputs(batch=2, seq=7, vocab=40, seed=1):
    rng = np.random.RandomState(seed)
    ids = rng.randint(0, vocab, size=(batch, seq))
    types = (np.arange(seq)[None, :] >= seq // 2).astype(np.int64).repeat(batch, 0)
    mask = np.ones((batch, seq), np.int64)
    mask[1, seq - 2:] = 0
    return ids, types, mask


CASES = [
    dict(embedding_layout="google"),
    dict(embedding_layout="google", ln_type="preln"),
    dict(embedding_layout="google", num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2),
    dict(embedding_layout="google", embedding_size=16),
    dict(embedding_layout="google", sharing_mode="none"),
    dict(embedding_layout="google", sharing_mode="attention"),
    dict(embedding_layout="google", sharing_mode="ffn", num_hidden_layers=4, num_hidden_groups=2),
    dict(embedding_layout="brightmart"),
    dict(embedding_layout="brightmart", ln_type="preln"),
    dict(embedding_layout="brightmart", sharing_mode="none"),
    dict(embedding_layout="brightmart", sharing_mode="attention", ln_type="preln"),
    dict(embedding_layout="brightmart", sharing_mode="ffn"),
]


@pytest.mark.parametrize("overrides", CASES,
                         ids=lambda c: "-".join("%s=%s" % (k, v) for k, v in sorted(c.items())))
def test_forward_matches_numpy(overrides):
    cfg = tiny_config(**overrides)
    ids, types, mask = make_inputs()
    layers, pooled, _, weights = run_model(cfg, ids, types, mask)
    ref_layers, ref_pooled = np_forward(weights, cfg, ids, types, mask.astype(np.float64))
    assert len(layers) == len(ref_layers)
    for got, want in zip(layers, ref_layers):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(pooled, ref_pooled, atol=1e-5, rtol=1e-4)


def test_einsum_free_path_matches_default():
    for layout in ("google", "brightmart"):
        cfg = tiny_config(embedding_layout=layout)
        ids, types, mask = make_inputs()
        a, pa, _, _ = run_model(cfg, ids, types, mask, use_einsum=True)
        b, pb, _, _ = run_model(cfg, ids, types, mask, use_einsum=False)
        # Different kernels (oneDNN picks them per instruction set): float32
        # rounding apart, nothing more.
        np.testing.assert_allclose(a[-1], b[-1], atol=1e-5)
        np.testing.assert_allclose(pa, pb, atol=1e-5)


def test_einsum_free_graph_has_no_einsum_op():
    graph = tf.Graph()
    with graph.as_default():
        config = modeling.AlbertConfig.from_dict(tiny_config())
        modeling.AlbertModel(config, False, tf.zeros([1, 5], tf.int32), use_einsum=False)
        op_types = set(op.type for op in graph.get_operations())
    assert "Einsum" not in op_types
    assert "Shape" not in op_types  # static shapes only: TFLite friendly


def test_padding_does_not_leak_into_real_positions():
    cfg = tiny_config()
    ids, types, mask = make_inputs()
    layers_a, _, _, _ = run_model(cfg, ids, types, mask)
    ids2 = ids.copy()
    ids2[1, -2:] = (ids2[1, -2:] + 5) % 40
    layers_b, _, _, _ = run_model(cfg, ids2, types, mask)
    np.testing.assert_allclose(layers_a[-1][1, :-2], layers_b[-1][1, :-2], atol=1e-5)
    assert not np.allclose(layers_a[-1][1, -2:], layers_b[-1][1, -2:])


def test_embedding_widths_per_layout():
    ids, types, mask = make_inputs()
    _, _, emb_g, _ = run_model(tiny_config(embedding_layout="google"), ids, types, mask)
    _, _, emb_b, _ = run_model(tiny_config(embedding_layout="brightmart"), ids, types, mask)
    assert emb_g.shape == (2, 7, 8)  # E wide
    assert emb_b.shape == (2, 7, 16)  # H wide


def test_dropout_only_when_training():
    cfg = modeling.AlbertConfig.from_dict(
        tiny_config(hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5))
    ids, _, _ = make_inputs()
    results = {}
    for training in (True, False):
        graph = tf.Graph()
        with graph.as_default():
            tf.set_random_seed(3)
            model = modeling.AlbertModel(cfg, training, tf.constant(ids, tf.int32))
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                out = model.get_sequence_output()
                results[training] = (sess.run(out), sess.run(out))
    assert np.allclose(*results[False])
    assert not np.allclose(*results[True])
    # The caller's config is not modified.
    assert cfg.hidden_dropout_prob == 0.5


def test_one_hot_embeddings_match_gather():
    cfg = tiny_config(embedding_layout="brightmart")
    ids, types, mask = make_inputs()
    outs = []
    for one_hot in (False, True):
        graph = tf.Graph()
        with graph.as_default():
            model = modeling.AlbertModel(modeling.AlbertConfig.from_dict(cfg), False,
                                         tf.constant(ids, tf.int32), tf.constant(mask, tf.int32),
                                         tf.constant(types, tf.int32),
                                         use_one_hot_embeddings=one_hot)
            with tf.Session() as sess:
                rng = np.random.RandomState(7)
                for var in sorted(tf.global_variables(), key=lambda v: v.op.name):
                    var.load(rng.randn(*var.shape.as_list()).astype(np.float32), sess)
                outs.append(sess.run(model.get_pooled_output()))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_dynamic_shapes_and_too_long_sequence():
    cfg = modeling.AlbertConfig.from_dict(tiny_config())
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.placeholder(tf.int32, [None, None])
        model = modeling.AlbertModel(cfg, False, ids)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(model.get_sequence_output(), {ids: np.ones((3, 5))})
            assert out.shape == (3, 5, 16)
            with pytest.raises(tf.errors.InvalidArgumentError):
                sess.run(model.get_sequence_output(), {ids: np.ones((1, 17))})
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="max_position_embeddings"):
            modeling.AlbertModel(cfg, False, tf.zeros([1, 17], tf.int32))


# ---------------------------------------------------------------------------
# Variable names and shapes of the released layouts.
# ---------------------------------------------------------------------------


def _variables_of(config_file, **overrides):
    config = modeling.AlbertConfig.from_json_file(os.path.join(ROOT, "albert_config", config_file))
    if overrides:
        config = config.copy(**overrides)
    with tf.Graph().as_default():
        modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
        return dict((v.op.name, v.shape.as_list()) for v in tf.global_variables())


def test_brightmart_tiny_names_and_shapes():
    got = _variables_of("albert_config_tiny.json")
    v, e, h, i, p, t = 21128, 128, 312, 1248, 512, 2
    layer = "bert/encoder/layer_shared/"
    want = {
        "bert/embeddings/word_embeddings": [v, e],
        "bert/embeddings/word_embeddings_2": [e, h],
        "bert/embeddings/token_type_embeddings": [t, h],
        "bert/embeddings/position_embeddings": [p, h],
        "bert/embeddings/LayerNorm/beta": [h],
        "bert/embeddings/LayerNorm/gamma": [h],
        "bert/pooler/dense/kernel": [h, h],
        "bert/pooler/dense/bias": [h],
        layer + "attention/output/dense/kernel": [h, h],
        layer + "attention/output/dense/bias": [h],
        layer + "attention/output/LayerNorm/beta": [h],
        layer + "attention/output/LayerNorm/gamma": [h],
        layer + "intermediate/dense/kernel": [h, i],
        layer + "intermediate/dense/bias": [i],
        layer + "output/dense/kernel": [i, h],
        layer + "output/dense/bias": [h],
        layer + "output/LayerNorm/beta": [h],
        layer + "output/LayerNorm/gamma": [h],
    }
    for name in ("query", "key", "value"):
        want[layer + "attention/self/%s/kernel" % name] = [h, h]
        want[layer + "attention/self/%s/bias" % name] = [h]
    assert got == want


def test_google_small_names_and_shapes():
    got = _variables_of("albert_config_small_google.json")
    v, e, h, i, p, t = 21128, 128, 384, 1536, 512, 2
    g = "bert/encoder/transformer/group_0/inner_group_0/"
    want = {
        "bert/embeddings/word_embeddings": [v, e],
        "bert/embeddings/token_type_embeddings": [t, e],
        "bert/embeddings/position_embeddings": [p, e],
        "bert/embeddings/LayerNorm/beta": [e],
        "bert/embeddings/LayerNorm/gamma": [e],
        "bert/encoder/embedding_hidden_mapping_in/kernel": [e, h],
        "bert/encoder/embedding_hidden_mapping_in/bias": [h],
        g + "attention_1/output/dense/kernel": [h, h],
        g + "attention_1/output/dense/bias": [h],
        g + "LayerNorm/beta": [h],
        g + "LayerNorm/gamma": [h],
        g + "ffn_1/intermediate/dense/kernel": [h, i],
        g + "ffn_1/intermediate/dense/bias": [i],
        g + "ffn_1/intermediate/output/dense/kernel": [i, h],
        g + "ffn_1/intermediate/output/dense/bias": [h],
        g + "LayerNorm_1/beta": [h],
        g + "LayerNorm_1/gamma": [h],
        "bert/pooler/dense/kernel": [h, h],
        "bert/pooler/dense/bias": [h],
    }
    for name in ("query", "key", "value"):
        want[g + "attention_1/self/%s/kernel" % name] = [h, h]
        want[g + "attention_1/self/%s/bias" % name] = [h]
    assert got == want


def test_google_group_rule_uses_non_contiguous_groups():
    # L=4 with 4 groups: one group per layer; L=6 with 3 groups: layers 0-1 -> 0 ...
    got = _variables_of("albert_config_small_google.json", num_hidden_groups=3)
    groups = sorted(set(n.split("/")[3] for n in got if "/transformer/" in n))
    assert groups == ["group_0", "group_1", "group_2"]
    assert [modeling.layer_group_index(i, 6, 3) for i in range(6)] == [0, 0, 1, 1, 2, 2]


# ---------------------------------------------------------------------------
# AlbertConfig.
# ---------------------------------------------------------------------------


def test_every_shipped_config_loads_and_counts_match_references():
    # Parameter counts (encoder + embeddings + pooler) from reference-facts §2.
    expected = {
        "albert_config_tiny.json": 4.18e6,
        "albert_config_base.json": 10.88e6,
        "albert_config_tiny_google.json": 4.08e6,
        "albert_config_small_google.json": 4.74e6,
    }
    names = sorted(os.listdir(os.path.join(ROOT, "albert_config")))
    configs = [n for n in names if n.endswith(".json")]
    assert len(configs) >= 15
    for name in configs:
        config = modeling.AlbertConfig.from_json_file(os.path.join(ROOT, "albert_config", name))
        assert config.resolved_embedding_layout == ("google"
                                                    if "google" in name else "brightmart"), name
    for name, count in expected.items():
        variables = _variables_of(name)
        total = sum(int(np.prod(s)) for s in variables.values())
        assert abs(total - count) / count < 0.005, (name, total)


def test_config_round_trip_keeps_unknown_keys(tmp_path):
    data = {
        "vocab_size": 100,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "embedding_size": 8,
        "directionality": "bidi",
        "pooler_fc_size": 768,
        "layers_to_keep": [],
        "net_structure_type": 0
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    config = modeling.AlbertConfig.from_json_file(str(path))
    assert config.directionality == "bidi"
    out = json.loads(config.to_json_string())
    for key, value in data.items():
        assert out[key] == value
    assert out["embedding_layout"] == "google"
    config.to_json_file(str(tmp_path / "d.json"))
    again = modeling.AlbertConfig.from_json_file(str(tmp_path / "d.json"))
    assert json.loads(again.to_json_string()) == out


def test_layout_inference_and_defaults():
    brightmart = modeling.AlbertConfig.from_dict({
        "vocab_size": 10,
        "hidden_size": 8,
        "num_attention_heads": 2,
        "ln_type": "postln"
    })
    assert brightmart.resolved_embedding_layout == "brightmart"
    google = modeling.AlbertConfig.from_dict({
        "vocab_size": 10,
        "hidden_size": 8,
        "num_attention_heads": 2,
        "num_hidden_groups": 1
    })
    assert google.resolved_embedding_layout == "google"
    missing_ln = modeling.AlbertConfig.from_dict({
        "vocab_size": 10,
        "hidden_size": 8,
        "num_attention_heads": 2
    })
    assert missing_ln.resolved_ln_type == "postln"
    assert not missing_ln.has_final_layer_norm
    null_ln = modeling.AlbertConfig.from_dict({
        "vocab_size": 10,
        "hidden_size": 8,
        "num_attention_heads": 2,
        "ln_type": None
    })
    assert null_ln.resolved_ln_type == "postln"
    default = modeling.AlbertConfig()
    assert (default.hidden_size, default.num_attention_heads, default.embedding_size) == (4096, 64,
                                                                                          128)


@pytest.mark.parametrize("overrides,message", [
    ({
        "hidden_size": 30,
        "num_attention_heads": 4
    }, "not a multiple of num_attention_heads"),
    ({
        "num_hidden_layers": 5,
        "num_hidden_groups": 2
    }, "not divisible by num_hidden_groups"),
    ({
        "ln_type": "pre_ln"
    }, "unknown ln_type"),
    ({
        "hidden_act": "gelu_fast"
    }, "unknown hidden_act"),
    ({
        "embedding_layout": "bert"
    }, "unknown embedding_layout"),
    ({
        "sharing_mode": "some"
    }, "unknown sharing_mode"),
    ({
        "hidden_size": "768"
    }, "hidden_size must be an integer"),
    ({
        "vocab_size": 0
    }, "vocab_size must be >= 1"),
    ({
        "hidden_dropout_prob": 1.5
    }, "hidden_dropout_prob"),
    ({
        "embedding_layout": "brightmart",
        "inner_group_num": 2
    }, "no inner groups"),
])
def test_config_errors(tmp_path, overrides, message):
    data = {"vocab_size": 10, "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 4}
    data.update(overrides)
    path = tmp_path / "bad_config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(modeling.ConfigError) as info:
        modeling.AlbertConfig.from_json_file(str(path))
    assert message in str(info.value)
    assert "bad_config.json" in str(info.value)


def test_config_file_errors(tmp_path):
    with pytest.raises(modeling.ConfigError, match="nope.json: cannot read"):
        modeling.AlbertConfig.from_json_file(str(tmp_path / "nope.json"))
    bad = tmp_path / "broken.json"
    bad.write_text("{\"vocab_size\": 10,")
    with pytest.raises(modeling.ConfigError, match="broken.json: not valid JSON"):
        modeling.AlbertConfig.from_json_file(str(bad))
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(modeling.ConfigError, match="JSON object"):
        modeling.AlbertConfig.from_json_file(str(listing))


def test_activations():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        t = tf.constant(x)
        np.testing.assert_allclose(sess.run(modeling.get_activation("gelu")(t)), np_gelu(x),
                                   atol=1e-6)
        np.testing.assert_allclose(sess.run(modeling.get_activation("relu")(t)), np.maximum(x, 0))
        np.testing.assert_allclose(sess.run(modeling.get_activation("swish")(t)),
                                   x / (1 + np.exp(-x)), atol=1e-6)
    assert modeling.get_activation("linear") is None
    with pytest.raises(ValueError):
        modeling.get_activation("elu2")


def _positions_graph(cfg, ids, types, mask, positions, use_einsum):
    """Full model and an ``output_positions`` model over the same variables;
    returns (values, gradients) of both for one loss."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        config = modeling.AlbertConfig.from_dict(cfg)
        args = [
            tf.constant(ids, tf.int32),
            tf.constant(mask, tf.int32),
            tf.constant(types, tf.int32)
        ]
        full = modeling.AlbertModel(config, False, *args, use_einsum=use_einsum, scope="bert")
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            part = modeling.AlbertModel(config, False, *args, use_einsum=use_einsum, scope="bert",
                                        output_positions=tf.constant(positions, tf.int32))
        variables = tf.trainable_variables()
        gathered = tf.gather(full.get_sequence_output(), positions, batch_dims=1)
        target = np.random.RandomState(5).randn(*gathered.shape.as_list()).astype(np.float32)

        def loss(rows, pooled):
            return tf.reduce_sum(tf.sin(rows) * target) + tf.reduce_sum(tf.square(pooled))

        grads = []
        for rows, pooled in ((gathered, full.get_pooled_output()), (part.get_output_at_positions(),
                                                                    part.get_pooled_output())):
            grads.append(
                [tf.convert_to_tensor(g) for g in tf.gradients(loss(rows, pooled), variables)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(2)
            for var in variables:
                var.load((rng.randn(*var.shape.as_list()) * 0.3 +
                          (1.0 if "gamma" in var.name else 0.0)).astype(np.float32), sess)
            return sess.run({
                "full": (gathered, full.get_pooled_output(), grads[0]),
                "part": (part.get_output_at_positions(), part.get_pooled_output(), grads[1])
            })


POSITION_CASES = [CASES[i] for i in (0, 1, 2, 4, 7, 8, 10)]


@pytest.mark.parametrize("overrides", POSITION_CASES,
                         ids=lambda c: "-".join("%s=%s" % (k, v) for k, v in sorted(c.items())))
def test_output_positions_equal_full_model_values_and_gradients(overrides):
    """The last block computed only at some positions gives what the full
    model gives there (pooled output too), and the same gradients."""
    cfg = tiny_config(**overrides)
    ids, types, mask = make_inputs(batch=3, seq=9)
    # [CLS] first, then positions in any order, repeats allowed (padding).
    positions = np.array([[0, 3, 1, 8], [0, 5, 5, 0], [0, 2, 7, 4]])
    got = _positions_graph(cfg, ids, types, mask, positions, use_einsum=True)
    full_rows, full_pooled, full_grads = got["full"]
    rows, pooled, grads = got["part"]
    assert rows.shape == (3, 4, 16)
    np.testing.assert_allclose(rows, full_rows, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(pooled, full_pooled, atol=1e-5, rtol=1e-5)
    assert len(grads) == len(full_grads)
    for g, want in zip(grads, full_grads):
        np.testing.assert_allclose(g, want, atol=1e-4 * max(1.0, np.abs(want).max()), rtol=1e-4)


def test_output_positions_einsum_free_and_errors():
    cfg = tiny_config(embedding_layout="brightmart", num_hidden_layers=2)
    ids, types, mask = make_inputs(batch=2, seq=6)
    positions = np.array([[0, 4], [0, 1]])
    got = _positions_graph(cfg, ids, types, mask, positions, use_einsum=False)
    np.testing.assert_allclose(got["part"][0], got["full"][0], atol=1e-5, rtol=1e-5)
    with tf.Graph().as_default():
        config = modeling.AlbertConfig.from_dict(cfg)
        model = modeling.AlbertModel(config, False, tf.constant(ids, tf.int32),
                                     output_positions=tf.constant(positions, tf.int32))
        with pytest.raises(ValueError, match="get_output_at_positions"):
            model.get_sequence_output()
        # Only the last layer is computed at the positions.
        shapes = [
            op.outputs[0].shape.as_list()
            for op in tf.get_default_graph().get_operations()
            if op.type == "MatMul" and "intermediate" in op.name
        ]
        assert shapes == [[12, 24], [4, 24]]
    with tf.Graph().as_default():
        model = modeling.AlbertModel(config, False, tf.constant(ids, tf.int32))
        with pytest.raises(ValueError, match="without output_positions"):
            model.get_output_at_positions()


def test_training_graph_gradients_match_inference_graph():
    """is_training=True (fused GELU/LayerNorm/attention gradients, heads moved
    without transposes on TF 1.x; no dropout in the config) gives the same
    values and gradients as the plain-op graph, with and without
    output_positions."""
    positions = np.array([[0, 2, 5], [0, 1, 3]], np.int32)
    for overrides, at in ((dict(embedding_layout="brightmart"),
                           None), (dict(embedding_layout="google", ln_type="preln"), None),
                          (dict(embedding_layout="brightmart"), positions)):
        cfg = modeling.AlbertConfig.from_dict(
            tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **overrides))
        ids, types, mask = make_inputs()
        results = []
        for training in (False, True):
            with tf.Graph().as_default():
                tf.set_random_seed(4)
                model = modeling.AlbertModel(
                    cfg, training, tf.constant(ids, tf.int32), tf.constant(mask, tf.int32),
                    tf.constant(types, tf.int32),
                    output_positions=None if at is None else tf.constant(at))
                ops = [op.type for op in tf.get_default_graph().get_operations()]
                assert ("IdentityN" in ops) == training
                attention_ops = [
                    op.type
                    for op in tf.get_default_graph().get_operations()
                    if "/attention" in op.name and "gradients" not in op.name
                ]
                if training and not tf_compat.IS_TF2:
                    assert "Transpose" not in attention_ops and "Pack" in attention_ops
                else:
                    assert "Pack" not in attention_ops
                out = (model.get_sequence_output()
                       if at is None else model.get_output_at_positions())
                loss = tf.reduce_sum(tf.sin(out)) + tf.reduce_sum(model.get_pooled_output())
                grads = [
                    tf.convert_to_tensor(g) for g in tf.gradients(loss, tf.trainable_variables())
                ]
                with tf.Session() as sess:
                    sess.run(tf.global_variables_initializer())
                    # Initial values depend on op ids: load the same ones by name.
                    for var in tf.global_variables():
                        seed = sum(ord(ch) for ch in var.op.name)
                        var.load((np.random.RandomState(seed).randn(*var.shape.as_list()) *
                                  0.3).astype(np.float32), sess)
                    results.append(sess.run([out, grads]))
        np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-5)
        for g_t, g_i in zip(results[1][1], results[0][1]):
            np.testing.assert_allclose(g_t, g_i, atol=1e-4 * max(1.0, np.abs(g_i).max()), rtol=1e-4)
