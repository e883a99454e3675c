# coding=utf-8
"""export.py: the command line, inputs and outputs, and the minimal checkpoint."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import importlib.util
import json
import os
import re

import numpy as np
import pytest

import checkpoint_utils
import pretraining_testlib as lib
import tflite_export
import script_testlib
from script_testlib import one_line_error
from tf_compat import tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "export.py")


def run_export(*args):
    return script_testlib.run_script(SCRIPT, args, env={"CUDA_VISIBLE_DEVICES": ""})


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A pretraining checkpoint of run_pretraining.py (3 steps, AdamW slots)."""
    root = tmp_path_factory.mktemp("export")
    records = lib.make_records(str(root / "train.tfrecord"), 64, seq_length=32, max_predictions=5,
                               seed=1)
    config = lib.write_config(str(root / "albert_config.json"), lib.tiny_config("google"))
    vocab = root / "vocab.txt"
    vocab.write_text(u"\n".join([u"[PAD]", u"[CLS]", u"[SEP]", u"[MASK]", u"[UNK]"] +
                                [u"tok%d" % i for i in range(59)]) + u"\n")
    out = str(root / "pretrain")
    result = lib.run_script([
        "--albert_config_file=%s" % config,
        "--input_file=%s" % records,
        "--output_dir=%s" % out, "--do_train", "--max_seq_length=32", "--max_predictions_per_seq=5",
        "--train_batch_size=8", "--num_train_steps=3", "--num_warmup_steps=0", "--optimizer=adamw",
        "--save_checkpoints_steps=3"
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    # The config and vocab sit beside the checkpoint, as in a released zip.
    for path in (config, str(vocab)):
        with open(path, "rb") as src, open(os.path.join(out, os.path.basename(path)), "wb") as dst:
            dst.write(src.read())
    return {"root": root, "out": out, "records": records, "config": config, "vocab": str(vocab)}


def test_minimal_checkpoint_float32_and_float16(pretrained, tmp_path):
    source = tf.train.load_checkpoint(tf.train.latest_checkpoint(pretrained["out"]))
    names = source.get_variable_to_shape_map()
    slots = [n for n in names if re.search(r"/adam_[mv]$", n)]
    assert slots and "global_step" in names
    model_names = set(n for n in names if n not in slots and n != "global_step")
    for dtype in ("float32", "float16"):
        output = str(tmp_path / ("min_" + dtype))
        result = run_export("--format=checkpoint", "--checkpoint=%s" % pretrained["out"],
                            "--output=%s" % output, "--dtype=%s" % dtype)
        assert result.returncode == 0, result.stderr[-3000:]
        assert sorted(os.listdir(output)) == [
            "albert_config.json", "albert_model.ckpt.data-00000-of-00001",
            "albert_model.ckpt.index", "vocab.txt"
        ]
        written = tf.train.load_checkpoint(os.path.join(output, "albert_model.ckpt"))
        assert set(written.get_variable_to_shape_map()) == model_names
        for name in model_names:
            value = written.get_tensor(name)
            assert value.dtype == np.dtype(dtype)
            np.testing.assert_allclose(value.astype(np.float32), source.get_tensor(name),
                                       rtol=1e-3 if dtype == "float16" else 0,
                                       atol=1e-4 if dtype == "float16" else 0)
        size = re.search(r"([\d.]+) MB -> ([\d.]+) MB; left out (\d+)", result.stderr)
        assert size, result.stderr[-2000:]
        assert float(size.group(2)) < float(size.group(1))
        assert int(size.group(3)) == len(slots) + 1
        config = json.load(open(os.path.join(output, "albert_config.json")))
        assert config["embedding_layout"] == "google"
    # The float16 checkpoint initialises training like a released one.
    train_out = str(tmp_path / "continued")
    result = lib.run_script([
        "--albert_config_file=%s" % pretrained["config"],
        "--input_file=%s" % pretrained["records"],
        "--output_dir=%s" % train_out, "--do_train", "--max_seq_length=32",
        "--max_predictions_per_seq=5", "--train_batch_size=8", "--num_train_steps=1",
        "--init_checkpoint=%s" % (tmp_path / "min_float16")
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"%d loaded, 0 newly initialised, 0 missing" % len(model_names),
                     result.stderr), result.stderr[-3000:]
    assert "holds float16 tensors: loading them as float32" in result.stderr


def test_keep_global_step(pretrained, tmp_path):
    output = str(tmp_path / "with_step")
    result = run_export("--format=checkpoint", "--checkpoint=%s" % pretrained["out"],
                        "--output=%s" % output, "--keep_global_step")
    assert result.returncode == 0, result.stderr[-3000:]
    reader = tf.train.load_checkpoint(os.path.join(output, "albert_model.ckpt"))
    assert int(reader.get_tensor("global_step")) == 3


def test_bad_inputs_are_one_line_and_write_nothing(pretrained, tmp_path):
    base = ["--format=checkpoint", "--checkpoint=%s" % pretrained["out"]]
    existing = tmp_path / "exists"
    existing.mkdir()
    line = one_line_error(run_export(*(base + ["--output=%s" % existing])))
    assert "exists; choose a new path" in line
    line = one_line_error(run_export(*(base + ["--output=%s" % pretrained["out"]])))
    assert "is one of the inputs" in line
    line = one_line_error(
        run_export("--format=checkpoint", "--checkpoint=%s" % (tmp_path / "nothing"),
                   "--output=%s" % (tmp_path / "o")))
    assert "no such checkpoint" in line
    other = lib.write_config(str(tmp_path / "other.json"),
                             lib.tiny_config("google", intermediate_size=48))
    line = one_line_error(
        run_export(*(base + ["--output=%s" % (tmp_path / "o2"),
                             "--albert_config_file=%s" % other])))
    assert "does not match" in line and "intermediate" in line
    line = one_line_error(
        run_export("--format=tflite", "--from_hf=%s" % tmp_path, "--output=%s" % (tmp_path / "o3")))
    assert "--from_hf writes a checkpoint" in line
    line = one_line_error(
        run_export("--format=tflite", "--checkpoint=%s" % pretrained["out"], "--quantize=bfloat16",
                   "--output=%s" % (tmp_path / "o5")))
    assert "no bfloat16" in line and "--quantize=float16" in line
    result = run_export(*(base + ["--output=%s" % (tmp_path / "o4"), "--format=onnx"]))
    assert result.returncode != 0 and "onnx" in result.stderr
    assert sorted(os.listdir(str(tmp_path))) == ["exists", "other.json"]


def test_help_lists_the_flags():
    result = run_export("--help")
    assert result.returncode == 0
    for flag in ("--format", "--output", "--checkpoint", "--from_hf", "--dtype", "--quantize",
                 "--kind", "--keep_global_step", "--tflite_interpreter"):
        assert flag in result.stdout
    assert "<auto|%s>" % "|".join(tflite_export.INTERPRETERS) in result.stdout


def _encoder_outputs(prefix, config_file, ids):
    """sequence_output of the checkpoint's encoder on ``ids`` (a fresh graph)."""
    import modeling  # pylint: disable=g-import-not-at-top
    config = checkpoint_utils.config_for_checkpoint(
        modeling.AlbertConfig.from_json_file(config_file), prefix)
    with tf.Graph().as_default():
        ids_t = tf.constant(ids, tf.int32)
        model = modeling.AlbertModel(config, False, ids_t, tf.ones_like(ids_t),
                                     tf.zeros_like(ids_t))
        checkpoint_utils.init_from_checkpoint(prefix, variables=tf.global_variables())
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(model.get_sequence_output())


def test_hf_round_trip_through_the_command_line(pretrained, tmp_path):
    hf_dir = str(tmp_path / "hf")
    result = run_export("--format=hf", "--checkpoint=%s" % pretrained["out"],
                        "--output=%s" % hf_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {"config.json", "model.safetensors", "vocab.txt"} <= set(os.listdir(hf_dir))
    hf_config = json.load(open(os.path.join(hf_dir, "config.json")))
    assert hf_config["model_type"] == "albert"
    assert hf_config["tokenizer_class"] == "BertTokenizer"
    back = str(tmp_path / "back")
    result = run_export("--from_hf=%s" % hf_dir, "--format=checkpoint", "--output=%s" % back)
    assert result.returncode == 0, result.stderr[-3000:]
    source = tf.train.load_checkpoint(tf.train.latest_checkpoint(pretrained["out"]))
    written = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(back) or os.path.join(back, "albert_model.ckpt"))
    model_names = [
        n for n in source.get_variable_to_shape_map()
        if not checkpoint_utils.is_ignored_variable(n) and n != "global_step"
    ]
    assert set(model_names) <= set(written.get_variable_to_shape_map())
    for name in model_names:
        np.testing.assert_array_equal(written.get_tensor(name), source.get_tensor(name))
    # Nothing else was left beside the outputs.
    assert sorted(os.listdir(str(tmp_path))) == ["back", "hf"]


def test_brightmart_checkpoint_to_hf_is_refused_in_one_line(tmp_path):
    import modeling  # pylint: disable=g-import-not-at-top
    config = lib.write_config(str(tmp_path / "albert_config.json"), lib.tiny_config("brightmart"))
    prefix = str(tmp_path / "ckpt" / "model.ckpt")
    with tf.Graph().as_default():
        ids = tf.zeros([1, 8], tf.int32)
        modeling.AlbertModel(modeling.AlbertConfig.from_json_file(config), False, ids)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    line = one_line_error(
        run_export("--format=hf", "--checkpoint=%s" % prefix, "--albert_config_file=%s" % config,
                   "--output=%s" % (tmp_path / "hf")))
    assert "brightmart" in line
    assert not os.path.exists(str(tmp_path / "hf"))
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith(".")]


def test_tflite_detects_the_pretraining_heads_and_matches_the_graph(pretrained, tmp_path):
    output = str(tmp_path / "albert.tflite")
    result = run_export("--format=tflite", "--checkpoint=%s" % pretrained["out"],
                        "--output=%s" % output, "--max_seq_length=16", "--num_predictions=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "as a TFLite pretraining model (detected)" in result.stderr
    # Checked with the interpreter "auto" resolves to here (the order is tested in
    # test_tflite_export).
    assert "checked with the %s interpreter" % tflite_export.interpreter_class()[0] in result.stderr
    assert sorted(os.listdir(str(tmp_path))) == ["albert.tflite"]
    interpreter = tf.lite.Interpreter(model_path=output)
    interpreter.allocate_tensors()
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    assert sorted(inputs) == ["input_ids", "input_mask", "masked_lm_positions", "segment_ids"]
    assert list(inputs["input_ids"]["shape"]) == [1, 16]
    assert list(inputs["masked_lm_positions"]["shape"]) == [1, 3]
    # The encoder kind on the same checkpoint: sequence output equals the graph's.
    output = str(tmp_path / "encoder.tflite")
    result = run_export("--format=tflite", "--kind=encoder", "--checkpoint=%s" % pretrained["out"],
                        "--output=%s" % output, "--max_seq_length=16",
                        "--tflite_interpreter=tensorflow")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checked with the tensorflow interpreter" in result.stderr
    interpreter = tf.lite.Interpreter(model_path=output)
    interpreter.allocate_tensors()
    ids = np.random.RandomState(3).randint(5, 64, size=[1, 16]).astype(np.int32)
    feeds = {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], feeds[detail["name"]])
    interpreter.invoke()
    outputs = {
        d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()
    }
    expected = _encoder_outputs(tf.train.latest_checkpoint(pretrained["out"]), pretrained["config"],
                                ids)
    np.testing.assert_allclose(outputs["sequence_output"], expected, atol=1e-4, rtol=0)


def test_tflite_interpreter_not_installed_is_one_line(pretrained, tmp_path):
    absent = [(name, package)
              for name, module, package in (("litert", "ai_edge_litert", "ai-edge-litert"),
                                            ("tflite_runtime", "tflite_runtime", "tflite-runtime"))
              if importlib.util.find_spec(module) is None]
    if not absent:
        pytest.skip("every TFLite interpreter is installed here")
    name, package = absent[0]
    output = str(tmp_path / "albert.tflite")
    line = one_line_error(
        run_export("--format=tflite", "--checkpoint=%s" % pretrained["out"], "--output=%s" % output,
                   "--max_seq_length=16", "--num_predictions=3", "--tflite_interpreter=%s" % name))
    assert "TFLite interpreter %s" % name in line and "install %s" % package in line
    assert os.listdir(str(tmp_path)) == []


def test_tflite_kind_without_its_head_is_one_line(pretrained, tmp_path):
    for kind in ("classifier", "squad"):
        line = one_line_error(
            run_export("--format=tflite", "--kind=%s" % kind, "--checkpoint=%s" % pretrained["out"],
                       "--output=%s" % (tmp_path / "x.tflite")))
        assert "has no %s head" % kind in line and "pretraining model" in line
    assert os.listdir(str(tmp_path)) == []


def test_hub_module_through_the_command_line(pretrained, tmp_path):
    import hub_export  # pylint: disable=g-import-not-at-top
    try:
        hub_export.tf1_hub()
    except hub_export.HubUnsupportedError as e:
        pytest.skip(str(e))
    output = str(tmp_path / "hub")
    result = run_export("--format=hub", "--checkpoint=%s" % pretrained["out"],
                        "--output=%s" % output)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "signatures tokens, sop, mlm, tokenization_info" in result.stderr
    assert sorted(
        os.listdir(output)) == ["assets", "saved_model.pb", "tfhub_module.pb", "variables"]
    assert sorted(os.listdir(os.path.join(output, "assets"))) == ["albert_config.json", "vocab.txt"]
    ids = np.random.RandomState(5).randint(5, 64, size=[1, 16]).astype(np.int32)
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    with tf.Graph().as_default():
        module = hub.Module(output)
        outputs = module(
            dict(input_ids=ids, input_mask=np.ones_like(ids), segment_ids=np.zeros_like(ids)),
            signature="tokens", as_dict=True)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            sequence = session.run(outputs["sequence_output"])
    expected = _encoder_outputs(tf.train.latest_checkpoint(pretrained["out"]), pretrained["config"],
                                ids)
    np.testing.assert_allclose(sequence, expected, atol=1e-5, rtol=0)
    line = one_line_error(
        run_export("--format=hub", "--checkpoint=%s" % pretrained["out"], "--output=%s" % output))
    assert "exists" in line
    assert sorted(os.listdir(str(tmp_path))) == ["hub"]
