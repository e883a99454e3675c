# coding=utf-8
"""tflite_export.py: TFLite files of tiny trained models against independent TF references.

The references are computed here from the models' own code paths (einsum
attention, dynamic batch, ``tf.train.Saver`` restores) in fresh graphs, and the
written ``.tflite`` files are run here with ``tf.lite.Interpreter`` directly
(``export_tflite`` checks them with the fastest interpreter installed).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import importlib.util
import json
import os

import numpy as np
import pytest

import classifier_utils
import modeling
import pretraining_testlib as lib
import run_pretraining
import squad_utils
import tflite_export
from tf_compat import tf

import test_run_classifier as clf_lib
import test_run_squad as squad_lib

SEQ = 32
PREDICTIONS = 5
TOLERANCE = 1e-4

# ---------------------------------------------------------------------------
# Models.
# ---------------------------------------------------------------------------


def pretrain(root, layout):
    """run_pretraining.py for 2 steps: encoder and both heads in ``layout``."""
    os.makedirs(root)
    records = lib.make_records(os.path.join(root, "train.tfrecord"), 32, seq_length=SEQ,
                               max_predictions=PREDICTIONS, seed=1)
    config = lib.write_config(os.path.join(root, "config.json"), lib.tiny_config(layout))
    out = os.path.join(root, "model")
    result = lib.run_script([
        "--albert_config_file=%s" % config,
        "--input_file=%s" % records,
        "--output_dir=%s" % out, "--do_train",
        "--max_seq_length=%d" % SEQ,
        "--max_predictions_per_seq=%d" % PREDICTIONS, "--train_batch_size=8", "--num_train_steps=2",
        "--num_warmup_steps=0", "--save_checkpoints_steps=2", "--learning_rate=1e-2"
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    return {"config": config, "checkpoint": tf.train.latest_checkpoint(out), "layout": layout}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tflite"))


@pytest.fixture(scope="module")
def google(root):
    return pretrain(os.path.join(root, "google"), "google")


@pytest.fixture(scope="module")
def brightmart(root):
    return pretrain(os.path.join(root, "brightmart"), "brightmart")


def _rows_text(rows):
    return u"".join(u"%s\t%s\t%d\n" % row for row in rows)


@pytest.fixture(scope="module")
def classifier(root):
    """run_classifier.py, 6 steps on LCQMC-style pairs, from a random encoder."""
    base = os.path.join(root, "classifier")
    vocab = clf_lib.write(os.path.join(base, "vocab.txt"), u"\n".join(clf_lib.VOCAB) + u"\n")
    fields = clf_lib.tiny_config()
    config = clf_lib.write(os.path.join(base, "config.json"), json.dumps(fields))
    pretrained = clf_lib.save_pretrained(fields, os.path.join(base, "pretrained", "model.ckpt"))
    data = os.path.join(base, "lcqmc")
    clf_lib.write(os.path.join(data, "train.txt"),
                  u"text_a\ttext_b\tlabel\n" + _rows_text(clf_lib.synthetic_pairs(1, 96)))
    clf_lib.write(os.path.join(data, "dev.txt"), _rows_text(clf_lib.synthetic_pairs(2, 16)))
    out = os.path.join(base, "out")
    result = clf_lib.run_script("--task_name=lcqmc", "--data_dir=%s" % data,
                                "--bert_config_file=%s" % config, "--vocab_file=%s" % vocab,
                                "--output_dir=%s" % out, "--max_seq_length=%d" % SEQ,
                                "--init_checkpoint=%s" % pretrained, "--do_train",
                                "--train_batch_size=16", "--learning_rate=1e-3", "--train_step=6",
                                "--warmup_step=0", "--save_checkpoints_steps=6",
                                "--keep_checkpoint_max=1", "--random_seed=7")
    assert result.returncode == 0, result.stderr[-4000:]
    return {
        "config": config,
        "checkpoint": tf.train.latest_checkpoint(out),
        "vocab_size": fields["vocab_size"]
    }


@pytest.fixture(scope="module")
def squad(root):
    """run_squad.py v1, 4 steps on the synthetic span task, from a random encoder."""
    base = os.path.join(root, "squad")
    vocab = squad_lib.write(os.path.join(base, "vocab.txt"), u"\n".join(squad_lib.VOCAB) + u"\n")
    fields = squad_lib.tiny_config()
    config = squad_lib.write(os.path.join(base, "config.json"), json.dumps(fields))
    pretrained = squad_lib.save_pretrained(fields, os.path.join(base, "pretrained", "model.ckpt"))
    train = squad_lib.write(os.path.join(base, "train.json"), squad_lib.synthetic_squad(1, 40))
    out = os.path.join(base, "out")
    result = squad_lib.run_script("--bert_config_file=%s" % config, "--vocab_file=%s" % vocab,
                                  "--output_dir=%s" % out, "--max_seq_length=%d" % SEQ,
                                  "--doc_stride=8", "--max_query_length=8",
                                  "--init_checkpoint=%s" % pretrained, "--train_file=%s" % train,
                                  "--do_train", "--train_batch_size=16", "--learning_rate=2e-3",
                                  "--train_step=4", "--warmup_proportion=0.0",
                                  "--save_checkpoints_steps=4", "--keep_checkpoint_max=1",
                                  "--random_seed=7")
    assert result.returncode == 0, result.stderr[-4000:]
    return {"config": config, "checkpoint": tf.train.latest_checkpoint(out)}


# ---------------------------------------------------------------------------
# Inputs, references, TFLite runs.
# ---------------------------------------------------------------------------


def sample_inputs(vocab_size, count=5, seed=0, with_positions=False):
    """Valid padded examples of different lengths (the first one full)."""
    rng = np.random.RandomState(seed)
    ids = np.zeros((count, SEQ), np.int32)
    mask = np.zeros((count, SEQ), np.int32)
    segments = np.zeros((count, SEQ), np.int32)
    positions = np.zeros((count, PREDICTIONS), np.int32)
    for row in range(count):
        length = SEQ if row == 0 else int(rng.randint(PREDICTIONS + 2, SEQ))
        ids[row, :length] = rng.randint(5, vocab_size, size=length)
        ids[row, 0] = 1
        mask[row, :length] = 1
        segments[row, length // 2:length] = 1
        positions[row] = np.sort(rng.choice(np.arange(1, length), PREDICTIONS, replace=False))
    samples = {"input_ids": ids, "input_mask": mask, "segment_ids": segments}
    if with_positions:
        samples["masked_lm_positions"] = positions
    return samples


def reference(checkpoint, build, samples):
    """Runs ``build(placeholders) -> dict of tensors`` in a fresh graph with
    every variable restored from ``checkpoint`` by a Saver."""
    with tf.Graph().as_default():
        placeholders = {
            name: tf.placeholder(tf.int32, [None, value.shape[1]], name=name)
            for name, value in samples.items()
        }
        outputs = build(placeholders)
        with tf.Session() as session:
            tf.train.Saver(tf.global_variables()).restore(session, checkpoint)
            return session.run(outputs, {placeholders[n]: v for n, v in samples.items()})


def encoder_reference(config_path, checkpoint, samples):
    config = modeling.AlbertConfig.from_json_file(config_path)

    def build(p):
        model = modeling.AlbertModel(config, False, p["input_ids"], p["input_mask"],
                                     p["segment_ids"])
        return {
            "sequence_output": model.get_sequence_output(),
            "pooled_output": model.get_pooled_output()
        }

    return reference(checkpoint, build, samples)


def pretraining_reference(config_path, checkpoint, samples):
    """Log-probabilities of both heads from the full-sequence model."""
    config = modeling.AlbertConfig.from_json_file(config_path)

    def build(p):
        model = modeling.AlbertModel(config, False, p["input_ids"], p["input_mask"],
                                     p["segment_ids"])
        labels = tf.zeros_like(p["masked_lm_positions"])
        _, _, mlm = run_pretraining.get_masked_lm_output(config, model.get_sequence_output(),
                                                         model.get_embedding_table(),
                                                         model.get_embedding_projection(),
                                                         p["masked_lm_positions"], labels,
                                                         tf.ones_like(labels, tf.float32))
        _, _, sop = run_pretraining.get_sentence_order_output(config, model.get_pooled_output(),
                                                              tf.zeros_like(labels[:, 0]))
        return {"masked_lm_log_probs": mlm, "sentence_order_log_probs": sop}

    return reference(checkpoint, build, samples)


def run_tflite_file(path, samples):
    """Runs a .tflite file one example at a time; returns (outputs by name,
    input details, output details)."""
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    count = len(next(iter(samples.values())))
    results = {d["name"]: [] for d in outputs}
    for row in range(count):
        for detail in inputs:
            interpreter.set_tensor(detail["index"], samples[detail["name"]][row:row + 1])
        interpreter.invoke()
        for detail in outputs:
            results[detail["name"]].append(np.array(interpreter.get_tensor(detail["index"])))
    return ({name: np.concatenate(values) for name, values in results.items()}, inputs, outputs)


def log_softmax(x):
    x = x.astype(np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def assert_inputs(details, names, widths=None):
    widths = widths or {}
    assert [d["name"] for d in details] == list(names)
    for detail in details:
        assert list(detail["shape"]) == [1, widths.get(detail["name"], SEQ)]
        assert detail["dtype"] == np.int32


def assert_no_leftovers(directory, allowed=()):
    assert sorted(os.listdir(directory)) == sorted(allowed)


# ---------------------------------------------------------------------------
# Float exports against the references.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["google", "brightmart"])
def test_encoder_matches_the_tf_model(layout, request, tmp_path):
    model = request.getfixturevalue(layout)
    samples = sample_inputs(64, seed=1)
    path = str(tmp_path / "encoder.tflite")
    report = tflite_export.export_tflite("encoder", model["config"], model["checkpoint"], path,
                                         max_seq_length=SEQ, sample_inputs=samples)
    expected = encoder_reference(model["config"], model["checkpoint"], samples)
    got, inputs, outputs = run_tflite_file(path, samples)
    assert_inputs(inputs, ("input_ids", "input_mask", "segment_ids"))
    assert sorted(d["name"] for d in outputs) == ["pooled_output", "sequence_output"]
    assert got["sequence_output"].shape == (5, SEQ, 32)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(got[name], expected[name], atol=TOLERANCE, rtol=0)
        assert report["max_abs_diff"][name] <= TOLERANCE
    # The outputs depend on the inputs (a constant model would also "match").
    assert np.abs(got["sequence_output"][0] - got["sequence_output"][1]).max() > 0.1
    assert report["file_size"] == os.path.getsize(path)
    assert report["num_samples"] == 5 and report["agreement"] == {}
    assert report["checked"] == "refuse above tolerance"
    assert_no_leftovers(str(tmp_path), ["encoder.tflite"])


@pytest.mark.parametrize("layout", ["google", "brightmart"])
def test_pretraining_heads_match_the_tf_model(layout, request, tmp_path):
    model = request.getfixturevalue(layout)
    samples = sample_inputs(64, seed=2, with_positions=True)
    path = str(tmp_path / "pretraining.tflite")
    report = tflite_export.export_tflite("pretraining", model["config"], model["checkpoint"], path,
                                         max_seq_length=SEQ, num_predictions=PREDICTIONS,
                                         sample_inputs=samples)
    expected = pretraining_reference(model["config"], model["checkpoint"], samples)
    got, inputs, outputs = run_tflite_file(path, samples)
    assert_inputs(inputs, ("input_ids", "input_mask", "segment_ids", "masked_lm_positions"),
                  {"masked_lm_positions": PREDICTIONS})
    assert got["masked_lm_logits"].shape == (5, PREDICTIONS, 64)
    assert got["sentence_order_logits"].shape == (5, 2)
    mlm = log_softmax(got["masked_lm_logits"]).reshape(-1, 64)
    np.testing.assert_allclose(mlm, expected["masked_lm_log_probs"], atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(log_softmax(got["sentence_order_logits"]),
                               expected["sentence_order_log_probs"], atol=TOLERANCE, rtol=0)
    assert set(report["agreement"]) == {"masked_lm_logits", "sentence_order_logits"}
    assert report["min_agreement"] == 1.0


def test_classifier_float_dynamic_and_float16(classifier, tmp_path):
    samples = sample_inputs(classifier["vocab_size"], count=8, seed=3)
    config = modeling.AlbertConfig.from_json_file(classifier["config"])

    def build(p):
        return {
            "probabilities":
                classifier_utils.create_model(config, False, p["input_ids"], p["input_mask"],
                                              p["segment_ids"], None, 2).probabilities
        }

    expected = reference(classifier["checkpoint"], build, samples)["probabilities"]
    reports = {}
    for quantize in ("none", "dynamic", "float16"):
        path = str(tmp_path / ("classifier_%s.tflite" % quantize))
        reports[quantize] = tflite_export.export_tflite(
            "classifier",
            classifier["config"],
            classifier["checkpoint"],
            path,
            max_seq_length=SEQ,
            num_labels=2,
            quantize=quantize,
            sample_inputs=samples,
            # Quantized models are reported, not held to the tolerance.
            tolerance=TOLERANCE if quantize == "none" else 0.0)
        got, inputs, outputs = run_tflite_file(path, samples)
        assert_inputs(inputs, ("input_ids", "input_mask", "segment_ids"))
        assert [d["name"] for d in outputs] == ["probabilities"]
        probabilities = got["probabilities"]
        assert probabilities.shape == (8, 2)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
        diff = np.abs(probabilities - expected).max()
        # The report measures the file it wrote.
        assert abs(reports[quantize]["max_abs_diff"]["probabilities"] - diff) < 1e-6
        agreement = np.mean(probabilities.argmax(-1) == expected.argmax(-1))
        assert reports[quantize]["agreement"]["probabilities"] == pytest.approx(agreement)
        if quantize == "none":
            assert diff <= TOLERANCE
        else:
            assert reports[quantize]["checked"] == "report only"
            # Quantized weights change the numbers, a little.
            assert 0 < diff < 0.05
    assert len(set(r["file_size"] for r in reports.values())) == 3
    assert reports["float16"]["file_size"] < reports["none"]["file_size"]
    assert reports["dynamic"]["file_size"] < reports["none"]["file_size"]


def test_squad_v1_start_and_end_logits(squad, tmp_path):
    samples = sample_inputs(len(squad_lib.VOCAB), count=5, seed=4)
    config = modeling.AlbertConfig.from_json_file(squad["config"])
    expected = reference(squad["checkpoint"],
                         lambda p: squad_utils.create_model(config, False, dict(p))[1], samples)
    path = str(tmp_path / "squad.tflite")
    report = tflite_export.export_tflite("squad", squad["config"], squad["checkpoint"], path,
                                         max_seq_length=SEQ, sample_inputs=samples)
    got, inputs, outputs = run_tflite_file(path, samples)
    assert_inputs(inputs, ("input_ids", "input_mask", "segment_ids"))
    assert sorted(d["name"] for d in outputs) == ["end_logits", "start_logits"]
    for name in ("start_logits", "end_logits"):
        assert got[name].shape == (5, SEQ)
        np.testing.assert_allclose(got[name], expected[name], atol=TOLERANCE, rtol=0)
    assert report["agreement"] == {"start_logits": 1.0, "end_logits": 1.0}


def test_squad_v2_beam_outputs(tmp_path):
    """The SQuAD v2 head (p_mask input; start/end beams and the answerability
    logit) from a random checkpoint with v2 head variables: log probabilities
    within the tolerance, the same beam indexes."""
    fields = squad_lib.tiny_config()
    config_path = lib.write_config(str(tmp_path / "config.json"), fields)
    config = modeling.AlbertConfig.from_dict(fields)
    prefix = str(tmp_path / "v2" / "model.ckpt")
    top_n = tflite_export.SQUAD_V2_TOP_N
    with tf.Graph().as_default():
        tf.set_random_seed(9)
        features = {
            n: tf.zeros([1, SEQ], tf.int32)
            for n in ("input_ids", "input_mask", "segment_ids", "p_mask")
        }
        squad_utils.create_model(config, False, features, True)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    samples = sample_inputs(len(squad_lib.VOCAB), count=4, seed=6)
    p_mask = (samples["segment_ids"] == 0).astype(np.int32)  # the question side
    p_mask[:, 0] = 0  # [CLS] stands for "no answer"
    samples["p_mask"] = p_mask
    expected = reference(
        prefix, lambda p: squad_utils.create_model(config, False, dict(p), True, start_n_top=top_n,
                                                   end_n_top=top_n)[1], samples)
    path = str(tmp_path / "squad_v2.tflite")
    tflite_export.export_tflite("squad", config_path, prefix, path, max_seq_length=SEQ,
                                version_2_with_negative=True, sample_inputs=samples)
    got, inputs, outputs = run_tflite_file(path, samples)
    assert_inputs(inputs, ("input_ids", "input_mask", "segment_ids", "p_mask"))
    assert sorted(d["name"] for d in outputs) == sorted([
        "start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "cls_logits"
    ])
    for name in ("start_top_log_probs", "end_top_log_probs", "cls_logits"):
        np.testing.assert_allclose(got[name], expected[name], atol=TOLERANCE, rtol=0)
    for name in ("start_top_index", "end_top_index"):
        np.testing.assert_array_equal(got[name], expected[name])


# ---------------------------------------------------------------------------
# Quantized sizes on a model whose weights outweigh the file's overhead.
# ---------------------------------------------------------------------------


def save_random_encoder(directory, fields):
    config = modeling.AlbertConfig.from_dict(fields)
    prefix = os.path.join(directory, "model.ckpt")
    with tf.Graph().as_default():
        tf.set_random_seed(5)
        modeling.AlbertModel(config, False, tf.zeros([1, 4], tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    return lib.write_config(os.path.join(directory, "config.json"), fields), prefix


def test_quantized_sizes_on_a_wider_encoder(tmp_path):
    # ~1.5 M parameters: 6 MB of float32 weights.
    fields = lib.tiny_config("google", vocab_size=3000, embedding_size=128, hidden_size=256,
                             num_attention_heads=4, intermediate_size=1024)
    config, prefix = save_random_encoder(str(tmp_path), fields)
    sizes, reports = {}, {}
    for quantize in ("none", "dynamic"):
        path = str(tmp_path / ("%s.tflite" % quantize))
        reports[quantize] = tflite_export.export_tflite("encoder", config, prefix, path,
                                                        max_seq_length=SEQ, quantize=quantize,
                                                        sample_inputs=4)
        sizes[quantize] = os.path.getsize(path)
    parameters = reports["none"]["parameter_bytes"]
    assert sizes["none"] >= 0.95 * parameters
    assert sizes["dynamic"] <= 0.30 * sizes["none"], sizes
    assert 0 < reports["dynamic"]["max_abs_diff"]["pooled_output"] < 0.1


# ---------------------------------------------------------------------------
# Refusals: one clear error, nothing written.
# ---------------------------------------------------------------------------


def test_float_model_outside_tolerance_is_refused(google, tmp_path):
    existing = tmp_path / "kept.tflite"
    existing.write_bytes(b"old contents")
    with pytest.raises(tflite_export.ExportError) as error:
        tflite_export.export_tflite("encoder", google["config"], google["checkpoint"],
                                    str(existing), max_seq_length=SEQ, sample_inputs=2,
                                    tolerance=0.0)
    message = str(error.value)
    assert "\n" not in message
    assert "does not match the TF graph within tolerance 0" in message
    assert "sequence_output max |diff|" in message and "nothing written" in message
    # The file that was there is kept as it was; no temporary file is left.
    assert existing.read_bytes() == b"old contents"
    assert_no_leftovers(str(tmp_path), ["kept.tflite"])
    # Directories made for the file are removed again.
    with pytest.raises(tflite_export.ExportError, match="within tolerance"):
        tflite_export.export_tflite("encoder", google["config"], google["checkpoint"],
                                    str(tmp_path / "a" / "b" / "model.tflite"), max_seq_length=SEQ,
                                    sample_inputs=1, tolerance=0.0)
    assert_no_leftovers(str(tmp_path), ["kept.tflite"])


@pytest.mark.parametrize("kind, head", [("classifier", "output_weights"),
                                        ("squad", "cls/squad/output_weights")])
def test_missing_head_names_it(kind, head, google, tmp_path):
    with pytest.raises(tflite_export.ExportError) as error:
        tflite_export.export_tflite(kind, google["config"], google["checkpoint"],
                                    str(tmp_path / "x.tflite"), max_seq_length=SEQ, num_labels=2)
    message = str(error.value)
    assert "\n" not in message
    assert head in message and ("kind %r needs" % kind) in message
    assert_no_leftovers(str(tmp_path))


def test_pretraining_kind_of_a_fine_tuned_checkpoint_names_the_heads(classifier, tmp_path):
    with pytest.raises(tflite_export.ExportError) as error:
        tflite_export.export_tflite("pretraining", classifier["config"], classifier["checkpoint"],
                                    str(tmp_path / "x.tflite"), max_seq_length=SEQ,
                                    num_predictions=PREDICTIONS)
    message = str(error.value)
    assert "cls/" in message and "pretraining heads" in message
    assert_no_leftovers(str(tmp_path))


def test_wrong_num_labels(classifier, tmp_path):
    with pytest.raises(tflite_export.ExportError) as error:
        tflite_export.export_tflite("classifier", classifier["config"], classifier["checkpoint"],
                                    str(tmp_path / "x.tflite"), max_seq_length=SEQ, num_labels=3)
    message = str(error.value)
    assert "\n" not in message
    assert "num_labels=3 but the checkpoint's head has 2" in message
    with pytest.raises(tflite_export.ExportError, match="num_labels is required"):
        tflite_export.export_tflite("classifier", classifier["config"], classifier["checkpoint"],
                                    str(tmp_path / "x.tflite"), max_seq_length=SEQ)
    assert_no_leftovers(str(tmp_path))


def test_output_path_that_is_a_directory_or_cannot_be_made(google, tmp_path):
    directory = tmp_path / "out.tflite"
    directory.mkdir()
    with pytest.raises(tflite_export.ExportError, match="out.tflite: is a directory"):
        tflite_export.export_tflite("encoder", google["config"], google["checkpoint"],
                                    str(directory), max_seq_length=SEQ)
    assert_no_leftovers(str(directory))
    # A regular file where a directory of the path should be.
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(tflite_export.ExportError) as error:
        tflite_export.export_tflite("encoder", google["config"], google["checkpoint"],
                                    str(blocker / "sub" / "model.tflite"), max_seq_length=SEQ)
    assert "\n" not in str(error.value)
    assert "cannot create the directory: %s is not a directory" % blocker in str(error.value)
    assert_no_leftovers(str(tmp_path), ["blocker", "out.tflite"])
    if os.geteuid() != 0:  # root writes into read-only directories
        locked = tmp_path / "locked"
        locked.mkdir()
        os.chmod(str(locked), 0o500)
        try:
            with pytest.raises(tflite_export.ExportError, match="is not writable"):
                tflite_export.export_tflite("encoder", google["config"], google["checkpoint"],
                                            str(locked / "model.tflite"), max_seq_length=SEQ)
            assert_no_leftovers(str(locked))
        finally:
            os.chmod(str(locked), 0o700)


def test_bad_arguments_fail_before_any_work(google, tmp_path):
    path = str(tmp_path / "x.tflite")
    cases = [
        (dict(kind="decoder"), "unknown kind 'decoder'"),
        (dict(quantize="int4"), "unknown quantize 'int4'"),
        (dict(max_seq_length=65), "exceeds the config's max_position_embeddings 64"),
        (dict(kind="pretraining", num_predictions=0), "num_predictions must be"),
        (dict(checkpoint=str(tmp_path / "nothing")), "nothing"),
        (dict(tolerance="1e-4"), "tolerance must be a number >= 0"),
        (dict(tolerance=-1.0), "tolerance must be a number >= 0"),
    ]
    for overrides, expected in cases:
        arguments = dict(kind="encoder", albert_config=google["config"],
                         checkpoint=google["checkpoint"], output_path=path, max_seq_length=SEQ)
        arguments.update(overrides)
        with pytest.raises(tflite_export.ExportError) as error:
            tflite_export.export_tflite(**arguments)
        assert expected in str(error.value)
    assert_no_leftovers(str(tmp_path))


def test_batch_of_two_matches_single_examples(google, tmp_path):
    samples = sample_inputs(64, count=3, seed=6)
    # Missing directories of the output path are made.
    path = str(tmp_path / "a" / "b" / "batch2.tflite")
    report = tflite_export.export_tflite("encoder", google["config"], google["checkpoint"], path,
                                         max_seq_length=SEQ, batch_size=2, sample_inputs=samples)
    assert_no_leftovers(str(tmp_path / "a" / "b"), ["batch2.tflite"])
    assert report["inputs"][0]["shape"] == [2, SEQ]
    interpreter = tf.lite.Interpreter(model_path=path)
    interpreter.allocate_tensors()
    details = {d["name"]: d for d in interpreter.get_input_details()}
    for name, detail in details.items():
        interpreter.set_tensor(detail["index"], samples[name][:2])
    interpreter.invoke()
    output = [d for d in interpreter.get_output_details() if d["name"] == "sequence_output"][0]
    got = interpreter.get_tensor(output["index"])
    expected = encoder_reference(google["config"], google["checkpoint"], {
        k: v[:2] for k, v in samples.items()
    })["sequence_output"]
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("batch", [1, 2])
def test_constant_tensor_additions_survive_conversion(batch):
    """gather + reshape(matmul) + constant [1, L, W]: the pattern of the position
    embeddings, which TOCO folds into the matmul's bias unless rewritten."""
    rng = np.random.RandomState(0)
    table = rng.randn(64, 16).astype(np.float32)
    types = rng.randn(2, 16).astype(np.float32)
    positions = rng.randn(8, 16).astype(np.float32)
    ids = rng.randint(0, 64, (batch, 8)).astype(np.int32)
    segments = rng.randint(0, 2, (batch, 8)).astype(np.int32)
    graph = tf.Graph()
    with graph.as_default():
        id_input = tf.placeholder(tf.int32, [batch, 8], name="input_ids")
        segment_input = tf.placeholder(tf.int32, [batch, 8], name="segment_ids")
        word = tf.gather(tf.constant(table), id_input)
        token_type = tf.reshape(
            tf.matmul(tf.one_hot(tf.reshape(segment_input, [-1]), 2), tf.constant(types)),
            [batch, 8, 16])
        total = tf.identity(word + token_type + tf.reshape(tf.constant(positions), [1, 8, 16]),
                            name="total")
        with tf.Session() as session:
            expected = session.run(total, {id_input: ids, segment_input: segments})
    rewritten, count = tflite_export.replace_constant_tensor_adds(graph.as_graph_def())
    assert count == 1
    assert sorted(
        n.op for n in rewritten.node if n.op in ("AddN", "Tile")) == (["AddN"] if batch == 1 else
                                                                      ["AddN", "Tile"])
    with tf.Graph().as_default():
        tf.import_graph_def(rewritten, name="")
        with tf.Session() as session:
            again = session.run("total:0", {"input_ids:0": ids, "segment_ids:0": segments})
    np.testing.assert_allclose(again, expected, atol=1e-6, rtol=0)
    model = tflite_export.convert_graph_def(graph.as_graph_def(), ["input_ids", "segment_ids"],
                                            ["total"])
    interpreter = tflite_export.make_interpreter(model_content=model)
    got = tflite_export.run_tflite(interpreter, {
        "input_ids": ids,
        "segment_ids": segments
    }, batch, ["total"])["total"]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------
# Interpreters.
# ---------------------------------------------------------------------------


def _installed(module_name):
    try:
        return importlib.util.find_spec(module_name) is not None
    except ImportError:  # the parent package is missing
        return False


def test_auto_interpreter_is_the_first_installed_and_all_agree(classifier, tmp_path):
    installed = [
        name for name, module in tflite_export.INTERPRETERS.items()
        if module is None or _installed(module)
    ]
    assert tflite_export.interpreter_class("auto")[0] == installed[0]
    samples = sample_inputs(classifier["vocab_size"], count=4, seed=5)
    path = str(tmp_path / "classifier.tflite")
    report = tflite_export.export_tflite("classifier", classifier["config"],
                                         classifier["checkpoint"], path, max_seq_length=SEQ,
                                         num_labels=2, sample_inputs=samples)
    assert report["interpreter"] == installed[0]
    # tf.lite.Interpreter, driven by hand, is the reference for the others.
    expected = run_tflite_file(path, samples)[0]["probabilities"]
    for name in installed:
        for threads in (None, 1, 2):
            interpreter = tflite_export.make_interpreter(model_path=path, num_threads=threads,
                                                         interpreter=name)
            got = tflite_export.run_tflite(interpreter, samples, 1, ["probabilities"])
            np.testing.assert_allclose(got["probabilities"], expected, atol=1e-5, rtol=0,
                                       err_msg="%s, %s threads" % (name, threads))


def test_missing_interpreters_are_skipped_by_auto_and_named_when_asked(
        monkeypatch, google, tmp_path):
    missing = collections.OrderedDict([("litert", "no_such_package_litert.interpreter"),
                                       ("tflite_runtime", "no_such_package_tflite.interpreter"),
                                       ("tensorflow", None)])
    monkeypatch.setattr(tflite_export, "INTERPRETERS", missing)
    name, cls = tflite_export.interpreter_class("auto")
    assert (name, cls) == ("tensorflow", tf.lite.Interpreter)
    for name, package in (("litert", "ai-edge-litert"), ("tflite_runtime", "tflite-runtime")):
        with pytest.raises(tflite_export.ExportError) as info:
            tflite_export.interpreter_class(name)
        message = str(info.value)
        assert "\n" not in message
        assert name in message and "install %s" % package in message
    with pytest.raises(tflite_export.ExportError, match="unknown TFLite interpreter 'tflite'"):
        tflite_export.interpreter_class("tflite")
    # An export asked for a missing interpreter stops before converting anything.
    output = str(tmp_path / "encoder.tflite")
    with pytest.raises(tflite_export.ExportError, match="no_such_package_litert"):
        tflite_export.export_tflite("encoder", google["config"], google["checkpoint"], output,
                                    max_seq_length=SEQ, interpreter="litert")
    assert_no_leftovers(str(tmp_path))


def test_tensors_are_matched_by_name_only():
    details = [{"name": "input_ids", "index": 0}, {"name": "serving_mask", "index": 1}]
    assert tflite_export._details_by_name(details, ["input_ids"]) == [details[0]]
    # Same count, other names: an error naming both, not a guess by position.
    with pytest.raises(tflite_export.ExportError) as info:
        tflite_export._details_by_name(details, ["input_ids", "input_mask"])
    assert "serving_mask" in str(info.value) and "input_mask" in str(info.value)
