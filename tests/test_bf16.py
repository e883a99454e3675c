# coding=utf-8
"""bfloat16 mixed precision: the --use_bf16 flag, the hardware check, the
bfloat16 graph against float32, float32 variables and checkpoints.

bfloat16 is emulated on CPUs without AMX / AVX512_BF16 (and by TF 1.15's CPU
kernels), so the shapes here stay tiny; the tests pass on any x86-64 CPU.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import json
import os

import numpy as np
import pytest
from absl import flags

from tf_compat import tf
import tf_compat
import modeling
import precision
import script_utils

import pretraining_testlib as lib

MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum")

# ---------------------------------------------------------------------------
# The flag and the hardware check.
# ---------------------------------------------------------------------------


def _define(values):
    """--use_bf16 defined in ``values`` (a FlagValues) the way the scripts
    define it in absl's global flags."""

    class Module(object):

        @staticmethod
        def DEFINE_flag(flag, module_name=None):  # pylint: disable=invalid-name
            flags.DEFINE_flag(flag, flag_values=values, module_name=module_name)

    precision.define_bf16_flag(Module)


@pytest.mark.parametrize("argv, want", [
    ([], "false"),
    (["--use_bf16"], "true"),
    (["--nouse_bf16"], "false"),
    (["--use_bf16=force"], "force"),
    (["--use_bf16=True"], "true"),
    (["--use_bf16=0"], "false"),
    (["--use_bf16", "--nouse_bf16"], "false"),
])
def test_flag_is_boolean_with_force(argv, want):
    values = flags.FlagValues()
    _define(values)
    values(["prog"] + argv)
    assert values.use_bf16 == want
    assert precision.requested_dtype(
        values.use_bf16) == (tf.float32 if want == "false" else tf.bfloat16)


def test_flag_rejects_other_values():
    values = flags.FlagValues()
    _define(values)
    with pytest.raises(flags.IllegalFlagValueError, match="true, false or force"):
        values(["prog", "--use_bf16=fast"])


def _cpuinfo(tmp_path, cpu_flags):
    path = tmp_path / "cpuinfo"
    path.write_text(u"processor\t: 0\nflags\t\t: fpu sse2 avx2 %s\n\n" % cpu_flags)
    return str(path)


@pytest.mark.parametrize("cpu_flags", ["amx_bf16 amx_tile", "avx512f avx512_bf16"])
def test_native_on_bf16_cpus_under_tensorflow_2_only(tmp_path, cpu_flags, monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    native, reason = precision.native_bfloat16(cpuinfo=_cpuinfo(tmp_path, cpu_flags), gpus=[])
    if tf_compat.IS_TF2:
        assert native and "CPU with" in reason
    else:
        assert not native and "1.15" in reason
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    native, reason = precision.native_bfloat16(cpuinfo=_cpuinfo(tmp_path, cpu_flags), gpus=[])
    assert not native


def test_emulated_cpu_tpu_and_gpus(tmp_path):
    avx2 = _cpuinfo(tmp_path, "avx512f")
    native, reason = precision.native_bfloat16(cpuinfo=avx2, gpus=[])
    assert not native and reason
    assert precision.native_bfloat16(use_tpu=True, cpuinfo=avx2) == (True, "TPU")
    assert precision.native_bfloat16(cpuinfo=avx2, gpus=[(8, 0)])[0] == tf_compat.IS_TF2
    assert not precision.native_bfloat16(cpuinfo=avx2, gpus=[(7, 5)])[0]
    assert not precision.native_bfloat16(cpuinfo=str(tmp_path / "missing"), gpus=[])[0]


def test_true_stops_where_emulated_and_force_runs(tmp_path):
    avx2 = _cpuinfo(tmp_path, "avx512f")
    assert precision.compute_dtype("false", cpuinfo=avx2, gpus=[]) == tf.float32
    with pytest.raises(script_utils.UserError) as error:
        precision.compute_dtype("true", cpuinfo=avx2, gpus=[])
    message = str(error.value)
    assert "\n" not in message and "--use_bf16=force" in message and "slower" in message
    assert precision.compute_dtype("force", cpuinfo=avx2, gpus=[]) == tf.bfloat16
    assert precision.compute_dtype("true", use_tpu=True, cpuinfo=avx2) == tf.bfloat16


# ---------------------------------------------------------------------------
# The bfloat16 graph against float32.
# ---------------------------------------------------------------------------


def _model_outputs(layout, is_training, seed=0):
    """Sequence, pooled and all-layer outputs and gradients of the same tiny
    model (shared variables) built in float32 and in bfloat16."""
    config = modeling.AlbertConfig.from_dict(
        lib.tiny_config(layout, vocab_size=50, num_hidden_layers=3))
    rng = np.random.RandomState(seed)
    ids = rng.randint(0, 50, (2, 10))
    mask = np.ones((2, 10), np.int32)
    mask[1, 7:] = 0
    weights = rng.randn(2, 10, 32).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        fetches = {}
        for dtype in (tf.float32, tf.bfloat16):
            with tf.variable_scope("m", reuse=tf.AUTO_REUSE):
                model = modeling.AlbertModel(config, is_training, tf.constant(ids, tf.int32),
                                             tf.constant(mask), compute_dtype=dtype, scope="bert")
            loss = (tf.reduce_sum(model.get_sequence_output() * weights) +
                    3.0 * tf.reduce_sum(model.get_pooled_output()))
            variables = tf.trainable_variables()
            grads = [tf.convert_to_tensor(g) for g in tf.gradients(loss, variables)]
            fetches[dtype.name] = {
                "outputs": [model.get_sequence_output(),
                            model.get_pooled_output()] + model.get_all_encoder_layers(),
                "grads":
                    dict(zip([v.op.name for v in variables], grads))
            }
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run(fetches)
    return graph, values


def _relative(have, want):
    return np.linalg.norm(have - want) / np.linalg.norm(want)


@pytest.mark.parametrize("layout", ["google", "brightmart"])
@pytest.mark.parametrize("is_training", [False, True])
def test_bf16_model_follows_float32(layout, is_training):
    """Outputs within bfloat16 tolerance of float32 (relative error of the
    tensor 1e-2; measured 2e-4 .. 5e-3), gradients within 3e-2 (measured
    <= 1.9e-2); every output float32, every variable float32."""
    graph, values = _model_outputs(layout, is_training)
    f32, b16 = values["float32"], values["bfloat16"]
    for want, have in zip(f32["outputs"], b16["outputs"]):
        assert have.dtype == np.float32
        assert _relative(have, want) < 1e-2
        assert np.abs(have - want).max() < 2e-2 * np.abs(want).max()
    for name, want in f32["grads"].items():
        if name.endswith("key/bias"):
            # Its true gradient is 0 (a key bias shifts every score of a
            # query alike; the softmax ignores it): both are rounding noise.
            assert np.abs(want).max() < 1e-4 and np.abs(b16["grads"][name]).max() < 1e-2
            continue
        assert _relative(b16["grads"][name], want) < 3e-2, name
    assert {v.dtype.base_dtype for v in graph.get_collection("variables")} == {tf.float32}


def test_bf16_graph_multiplies_in_bfloat16():
    """In the bfloat16 model every encoder matrix product takes bfloat16
    inputs; the attention softmax and LayerNorm statistics stay float32."""
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("google"))
    for is_training in (False, True):
        with tf.Graph().as_default() as graph:
            model = modeling.AlbertModel(config, is_training, tf.zeros([2, 8], tf.int32),
                                         compute_dtype=tf.bfloat16)
            tf.gradients(model.get_pooled_output(), tf.trainable_variables())
        encoder = [
            op for op in graph.get_operations()
            if op.name.startswith(("bert/encoder",
                                   "bert/pooler")) and not op.name.startswith("gradients")
        ]
        products = [op for op in encoder if op.type in MATMUL_OPS]
        # 4 projections + 2 attention products + 2 FFN per layer, the
        # embedding mapping and the pooler.
        assert len(products) == 8 * config.num_hidden_layers + 2
        assert {t.dtype for op in products for t in op.inputs} == {tf.bfloat16}
        softmaxes = [op for op in encoder if op.type == "Softmax"]
        assert softmaxes and {op.inputs[0].dtype for op in softmaxes} == {tf.float32}
        rsqrts = [op for op in encoder if op.type == "Rsqrt"]
        assert rsqrts and {op.inputs[0].dtype for op in rsqrts} == {tf.float32}
        assert model.get_sequence_output().dtype == tf.float32
        with tf.Graph().as_default() as graph:  # the float32 model has none
            modeling.AlbertModel(config, is_training, tf.zeros([2, 8], tf.int32))
        assert not [
            op for op in graph.get_operations()
            if op.type == "Cast" and op.outputs[0].dtype == tf.bfloat16
        ]


def test_compute_dtype_scope_sets_the_default():
    config = modeling.AlbertConfig.from_dict(lib.tiny_config("brightmart"))
    with tf.Graph().as_default():
        with modeling.compute_dtype_scope(tf.bfloat16):
            inner = modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32), scope="a")
            explicit = modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32), scope="b",
                                            compute_dtype=tf.float32)
        outer = modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32), scope="c")
    assert (inner.compute_dtype, explicit.compute_dtype,
            outer.compute_dtype) == (tf.bfloat16, tf.float32, tf.float32)
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        with modeling.compute_dtype_scope(tf.float16):
            pass


def test_wrapped_model_fn_builds_in_bfloat16():
    seen = []

    def model_fn(features, labels, mode, params, config=None):
        seen.append(modeling.default_compute_dtype())
        return "spec"

    wrapped = precision.wrap_model_fn(model_fn, tf.bfloat16)
    assert wrapped({}, None, "train", {}, None) == "spec"
    assert precision.wrap_model_fn(model_fn, tf.float32) is model_fn
    model_fn({}, None, "train", {})
    assert seen == [tf.bfloat16, tf.float32]


# ---------------------------------------------------------------------------
# Fine-tuning with --use_bf16 (run_classifier.py; the other fine-tuning
# scripts share its flag and estimator code in driver_utils).
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier_workspace(tmp_path_factory):
    import test_run_classifier as rc  # pylint: disable=g-import-not-at-top
    root = tmp_path_factory.mktemp("bf16_classifier")
    ws = {"root": str(root), "rc": rc}
    ws["vocab"] = rc.write(root / "vocab.txt", u"\n".join(rc.VOCAB) + u"\n")
    fields = rc.tiny_config()
    ws["config"] = rc.write(root / "config.json", json.dumps(fields))
    ws["pretrained"] = rc.save_pretrained(fields, str(root / "pretrained" / "model.ckpt"))
    data = root / "lcqmc"
    for split, seed, count in (("train", 1, 600), ("dev", 2, 100), ("test", 3, 80)):
        rc.write(data / ("%s.txt" % split),
                 u"".join(u"%s\t%s\t%d\n" % row for row in rc.synthetic_pairs(seed, count)))
    ws["data"] = str(data)
    return ws


@pytest.fixture(scope="module")
def bf16_classifier(classifier_workspace):
    """run_classifier.py --use_bf16=force on the synthetic pair task."""
    ws = classifier_workspace
    rc = ws["rc"]
    out = os.path.join(ws["root"], "out")
    export = os.path.join(ws["root"], "export")
    result = rc.run_script(*(rc.base_flags(ws, out) + [
        "--init_checkpoint=%s" %
        os.path.dirname(ws["pretrained"]), "--do_train", "--do_eval", "--do_predict",
        "--export_dir=%s" % export, "--train_batch_size=32", "--eval_batch_size=16",
        "--predict_batch_size=16", "--learning_rate=1e-3", "--train_step=200", "--warmup_step=30",
        "--save_checkpoints_steps=100", "--keep_checkpoint_max=1", "--random_seed=7",
        "--use_bf16=force"
    ]))
    assert result.returncode == 0, result.stderr[-5000:]
    return {"out": out, "export": export, "log": result.stderr}


def test_bf16_fine_tuning_learns_and_writes_float32(classifier_workspace, bf16_classifier):
    """run_classifier.py --use_bf16=force learns the synthetic pair task as
    float32 does (the same bar over chance; bfloat16 measured 1.0 dev accuracy
    over 3 seeds on both runtimes), its checkpoints hold float32 tensors only
    and its SavedModel computes in float32."""
    ws = classifier_workspace
    rc = ws["rc"]
    out = bf16_classifier["out"]
    assert "--use_bf16" in bf16_classifier["log"]
    metrics = rc.read_metrics(os.path.join(out, "eval_results.txt"))
    chance = rc.majority_class_accuracy(os.path.join(ws["data"], "dev.txt"))
    assert metrics["model.ckpt-best"]["eval_accuracy"] >= chance + rc.LEARNED_MARGIN, metrics
    dtypes = tf.train.load_checkpoint(os.path.join(out,
                                                   "model.ckpt-best")).get_variable_to_dtype_map()
    assert set(d for n, d in dtypes.items() if n != "global_step") == {tf.float32}
    assert os.path.exists(os.path.join(out, "test_results.tsv"))
    with tf.Graph().as_default() as graph, tf.Session() as sess:
        tf.saved_model.loader.load(sess, ["serve"], bf16_classifier["export"])
    assert not [
        op for op in graph.get_operations() if "bfloat16" in str(op.node_def.attr.get("DstT", ""))
    ]


def test_similarity_predictor_in_bfloat16(classifier_workspace, bf16_classifier):
    """SimilarityPredictor(use_bf16=True) multiplies in bfloat16 and answers
    within bfloat16 rounding of float32; a SavedModel refuses it."""
    import similarity  # pylint: disable=g-import-not-at-top
    ws = classifier_workspace
    rows = ws["rc"].synthetic_pairs(5, 40)
    pairs = [(a, b) for a, b, _ in rows]
    kwargs = dict(model_dir=bf16_classifier["out"], config_name=ws["config"],
                  vocab_file=ws["vocab"], max_seq_len=24, freeze_graph=False)
    with similarity.SimilarityPredictor(**kwargs) as predictor:
        want = np.array(predictor.predict_sentences(pairs))
    with similarity.SimilarityPredictor(use_bf16=True, **kwargs) as predictor:
        have = np.array(predictor.predict_sentences(pairs))
        graph = predictor._session.graph  # pylint: disable=protected-access
    products = [
        op for op in graph.get_operations()
        if op.type in MATMUL_OPS and op.name.startswith("bert/encoder")
    ]
    assert products and {op.inputs[0].dtype for op in products} == {tf.bfloat16}
    # Measured max |difference| of the probabilities: 6e-5 (TF 1.15), 6.5e-4 (TF 2.15).
    assert np.abs(have - want).max() < 5e-3, (have, want)
    assert ((have > 0.5) == (want > 0.5)).mean() >= 0.95
    with pytest.raises(similarity.SimilarityError, match="SavedModel.*float32"):
        similarity.SimilarityPredictor(model_dir=bf16_classifier["export"],
                                       use_bf16=True).start_model()


def test_bf16_with_a_hub_module_is_refused(classifier_workspace, tmp_path):
    ws = classifier_workspace
    rc = ws["rc"]
    result = rc.run_script(
        *(rc.base_flags(ws, str(tmp_path / "out")) +
          ["--albert_hub_module_handle=%s" % tmp_path, "--do_train", "--use_bf16=force"]))
    line = rc.one_line_error(result)
    assert "Hub module" in line and "--init_checkpoint" in line
