# coding=utf-8
"""driver_utils and the checkpoint checks the drivers run before training."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import logging
import os

import numpy as np
import pytest

import checkpoint_utils
import driver_utils
import script_utils
from tf_compat import tf

# ---------------------------------------------------------------------------
# TFRecord framing.
# ---------------------------------------------------------------------------


def test_crc32c_known_values():
    # The CRC-32C check value (RFC 3720, appendix B.4) and two more.
    assert driver_utils.crc32c(b"123456789") == 0xE3069283
    assert driver_utils.crc32c(b"") == 0
    assert driver_utils.crc32c(b"\x00" * 32) == 0x8A9136AA


def _write_records(path, payloads):
    with tf.io.TFRecordWriter(path) as writer:
        for payload in payloads:
            writer.write(payload)
    return path


def test_framing_check_counts_records_tensorflow_writes(tmp_path):
    payloads = [b"", b"x" * 3, os.urandom(1000), b"y" * 70000]
    path = _write_records(str(tmp_path / "a.tfrecord"), payloads)
    assert driver_utils.check_tfrecord_file(path) == 4
    empty = _write_records(str(tmp_path / "empty.tfrecord"), [])
    assert driver_utils.check_tfrecord_file(empty) == 0
    assert driver_utils.check_tfrecord_files([path, empty, path]) == 8


def test_framing_check_names_text_truncated_and_damaged_files(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text(u"今天天气很好。\n这是一个句子，不是记录。\n" * 20)
    with pytest.raises(
            driver_utils.RecordFileError,
            match=r"corpus.txt: record 1 at byte 0: bad length checksum "
            r"\(this is not a TFRecord file"):
        driver_utils.check_tfrecord_file(str(text))

    path = _write_records(str(tmp_path / "b.tfrecord"), [b"a" * 100] * 3)
    data = open(path, "rb").read()
    assert len(data) == 3 * 116
    cut = str(tmp_path / "cut.tfrecord")
    open(cut, "wb").write(data[:2 * 116 + 50])
    with pytest.raises(
            driver_utils.RecordFileError,
            match=r"cut.tfrecord: record 3 at byte 232: the record needs 116 "
            r"bytes but the file ends after 50"):
        driver_utils.check_tfrecord_file(cut)
    short = str(tmp_path / "short.tfrecord")
    open(short, "wb").write(data[:116 + 5])
    with pytest.raises(driver_utils.RecordFileError, match=r"record 2 at byte 116: the file "
                       r"ends inside the record's header"):
        driver_utils.check_tfrecord_file(short)
    damaged = bytearray(data)
    damaged[116 + 3] ^= 0x40  # a bit of the second record's length
    bad = str(tmp_path / "bad.tfrecord")
    open(bad, "wb").write(bytes(damaged))
    with pytest.raises(driver_utils.RecordFileError,
                       match=r"record 2 at byte 116: bad length checksum \(the file is damaged"):
        driver_utils.check_tfrecord_file(bad)
    # A directory given where files are expected.
    with pytest.raises(driver_utils.RecordFileError, match=r"is a directory"):
        driver_utils.check_tfrecord_files([str(tmp_path)])


def test_describe_data_loss_names_file_and_record(tmp_path):
    good = _write_records(str(tmp_path / "good.tfrecord"), [b"a" * 50] * 4)
    data = bytearray(open(good, "rb").read())
    data[2 * 66 + 12 + 10] ^= 0x01  # a payload byte of record 3
    bad = str(tmp_path / "bad.tfrecord")
    open(bad, "wb").write(bytes(data))
    # The framing is intact: only TensorFlow's payload checksum sees it.
    assert driver_utils.check_tfrecord_file(bad) == 4
    error = tf.errors.DataLossError(None, None, "corrupted record at 144")
    message = driver_utils.describe_data_loss(error, [good, bad])
    assert message.startswith("%s: record 3 is damaged" % bad)


# ---------------------------------------------------------------------------
# Output paths.
# ---------------------------------------------------------------------------


def test_export_dir_checks(tmp_path):
    out = str(tmp_path / "out")
    driver_utils.check_export_dir(None, out)
    driver_utils.check_export_dir(str(tmp_path / "export"), out)
    with pytest.raises(script_utils.UserError, match="would replace --output_dir"):
        driver_utils.check_export_dir(out, out)
    with pytest.raises(script_utils.UserError, match="would replace --output_dir"):
        driver_utils.check_export_dir(str(tmp_path), out)
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(script_utils.UserError, match="would replace --data_dir"):
        driver_utils.check_export_dir(str(data), out, [("--data_dir", str(data))])
    existing_file = tmp_path / "model.pb"
    existing_file.write_text(u"x")
    with pytest.raises(script_utils.UserError, match="is an existing file"):
        driver_utils.check_export_dir(str(existing_file), out)
    with pytest.raises(script_utils.UserError, match="is a file, not a directory"):
        driver_utils.check_export_dir(str(existing_file / "export"), out)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text(u"keep me")
    with pytest.raises(script_utils.UserError, match="exists and is not a SavedModel"):
        driver_utils.check_export_dir(str(other), out)


def test_prepare_output_dir(tmp_path):
    target = tmp_path / "a" / "b"
    driver_utils.prepare_output_dir(str(target))
    assert target.is_dir()
    existing_file = tmp_path / "file"
    existing_file.write_text(u"x")
    with pytest.raises(script_utils.UserError, match="is a file, not a directory"):
        driver_utils.prepare_output_dir(str(existing_file))
    with pytest.raises(script_utils.UserError, match="cannot create it"):
        driver_utils.prepare_output_dir(str(existing_file / "sub"))


# ---------------------------------------------------------------------------
# Checkpoints.
# ---------------------------------------------------------------------------


def _save(prefix, step=7):
    with tf.Graph().as_default():
        tf.Variable(np.arange(300, dtype=np.float32).reshape([30, 10]), name="w")
        tf.Variable(np.arange(5, dtype=np.int64), name="ids")
        tf.Variable(np.ones([4], np.float16), name="half")
        tf.train.get_or_create_global_step()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return tf.train.Saver().save(session, prefix, global_step=step)


def test_check_checkpoint_complete(tmp_path):
    prefix = _save(str(tmp_path / "model.ckpt"))
    assert checkpoint_utils.check_checkpoint_complete(prefix) == prefix
    assert checkpoint_utils.check_checkpoint_complete(str(tmp_path)) == prefix
    data = prefix + ".data-00000-of-00001"
    size = os.path.getsize(data)
    assert size == 300 * 4 + 5 * 8 + 4 * 2 + 8
    with open(data, "rb") as reader:
        content = reader.read()
    with open(data, "wb") as writer:
        writer.write(content[:size - 1])
    with pytest.raises(
            checkpoint_utils.CheckpointError,
            match=r"data-00000-of-00001 is truncated: it holds %d bytes, its index "
            r"needs %d" % (size - 1, size)):
        checkpoint_utils.check_checkpoint_complete(prefix)
    os.remove(data)
    with pytest.raises(checkpoint_utils.CheckpointError, match=r"the .data-\* file is missing"):
        checkpoint_utils.check_checkpoint_complete(prefix)
    with open(prefix + ".index", "wb") as writer:
        writer.write(b"not an index")
    with pytest.raises(checkpoint_utils.CheckpointError, match=r"cannot read the checkpoint "
                       r"index"):
        checkpoint_utils.check_checkpoint_complete(prefix)


def test_remove_stale_temporaries(tmp_path):
    prefix = _save(str(tmp_path / "model.ckpt"))
    hexid = "0123456789abcdef0123456789abcdef"
    stale = [
        "checkpoint.tmp" + hexid, "model.ckpt-9.meta.tmp" + hexid, "model.ckpt-best.index.tmp",
        "graph.pbtxt.tmp" + hexid
    ]
    for name in stale:
        (tmp_path / name).write_text(u"partial")
    for name in ("model.ckpt-9_temp_" + hexid, "model.ckpt-10_temp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-00000-of-00001.index").write_text(u"partial")
    keep = ["notes.tmp", "train.tf_record", "model.ckpt-best.index.txt"]
    for name in keep:
        (tmp_path / name).write_text(u"keep")
    before = set(os.listdir(str(tmp_path)))
    removed = checkpoint_utils.remove_stale_temporaries(str(tmp_path))
    assert sorted(removed) == sorted(stale +
                                     ["model.ckpt-9_temp_%s/" % hexid, "model.ckpt-10_temp/"])
    after = set(os.listdir(str(tmp_path)))
    assert before - after == set(n.rstrip("/") for n in removed)
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    assert checkpoint_utils.remove_stale_temporaries(str(tmp_path)) == []


# ---------------------------------------------------------------------------
# Logs.
# ---------------------------------------------------------------------------


def _record(pathname, level, message):
    return logging.LogRecord("tensorflow", level, pathname, 1, message, None, None)


def test_tensorflow_noise_filter():
    noise = script_utils.TensorFlowNoiseFilter()
    tf_file = ("/x/venv/lib/python3.7/site-packages/tensorflow_estimator/python/"
               "estimator/estimator.py")
    core = "/x/venv/lib/python3.7/site-packages/tensorflow_core/python/util/deprecation.py"
    ours = "/home/me/albert_zh/run_classifier.py"
    assert not noise.filter(_record(tf_file, logging.INFO, "Using config: {'_model_dir': 1}"))
    assert not noise.filter(_record(tf_file, logging.INFO, "Calling model_fn."))
    assert not noise.filter(
        _record(core, logging.WARNING, "From x.py:3: dense (from "
                "tensorflow.python.layers.core) is deprecated"))
    assert not noise.filter(
        _record(tf_file, logging.WARNING, "Estimator's model_fn (f) "
                "includes params argument, but params are not passed"))
    # Kept: TensorFlow's checkpoint saves, its other warnings and its errors,
    # and everything this project logs.
    assert noise.filter(_record(tf_file, logging.INFO, "Saving checkpoints for 5 into m"))
    # ... once: a resumed round saves the checkpoint it restored again.
    assert not noise.filter(_record(tf_file, logging.INFO, "Saving checkpoints for 5 into m"))
    assert noise.filter(_record(tf_file, logging.INFO, "Saving checkpoints for 6 into m"))
    assert noise.filter(_record(tf_file, logging.WARNING, "Out of range: End of sequence"))
    assert noise.filter(_record(tf_file, logging.ERROR, "Calling model_fn."))
    assert noise.filter(_record(ours, logging.INFO, "Using config: mine"))
    assert noise.filter(_record(ours, logging.WARNING, "x is deprecated"))


def test_training_log_line():
    now = [100.0]
    lines = []
    hook = driver_utils.TrainingLogHook(examples_per_step=32, num_train_steps=1000, every_secs=5,
                                        log_fn=lines.append, clock=lambda: now[0])

    class Values(object):

        def __init__(self, step):
            self.results = {"step": step, "loss": 0.5, "lr": 1e-4}

    hook._runs = 0  # pylint: disable=protected-access
    for step in (1, 2):  # untimed: graph and first summaries
        now[0] += 50.0
        hook.after_run(None, Values(step))
    assert lines == []
    now[0] += 4.0  # sooner than every_secs: no line
    hook.after_run(None, Values(42))
    assert lines == []
    now[0] += 6.0
    hook.after_run(None, Values(102))
    # 100 steps x 32 examples in 10 s; 898 steps left at 10 steps/s: 89.8 s.
    assert lines == [
        "step 102/1000, loss 0.5000, learning_rate 0.0001, 320.0 examples/sec, ETA 1m30s"
    ]
    now[0] += 1.0
    hook.after_run(None, Values(500))  # sooner than every_secs again
    now[0] += 5.0
    hook.after_run(None, Values(1000))  # the last step: no ETA
    # 898 steps x 32 examples in the 6 s since the last line.
    assert lines[1:] == ["step 1000/1000, loss 0.5000, learning_rate 0.0001, 4789.3 examples/sec"]


# ---------------------------------------------------------------------------
# What the fine-tuning libraries share.
# ---------------------------------------------------------------------------


def _signature():
    x = tf.placeholder(tf.float32, [None, 10], name="x")
    w = tf.get_variable("w", [30, 10])
    return {"x": x}, {"y": tf.identity(tf.matmul(x, w, transpose_b=True), name="y")}


def test_write_saved_model_replaces_only_when_complete(tmp_path):
    prefix = _save(str(tmp_path / "model.ckpt"))
    export_dir = str(tmp_path / "export")
    assets = {"a.txt": u"caf\u00e9\n", "b.bin": b"\x00\xff"}
    driver_utils.write_saved_model(export_dir, _signature, prefix, assets)
    assert os.path.isfile(os.path.join(export_dir, "saved_model.pb"))
    with open(os.path.join(export_dir, "assets.extra", "a.txt"), "rb") as reader:
        assert reader.read() == u"caf\u00e9\n".encode("utf-8")
    with open(os.path.join(export_dir, "assets.extra", "b.bin"), "rb") as reader:
        assert reader.read() == b"\x00\xff"
    # A second export replaces the first; no temporary directory is left.
    driver_utils.write_saved_model(export_dir, _signature, prefix)
    assert not os.path.isdir(os.path.join(export_dir, "assets.extra"))
    assert not [n for n in os.listdir(str(tmp_path)) if ".tmp-" in n or ".old-" in n]
    with tf.Graph().as_default(), tf.Session() as session:
        meta = tf.saved_model.loader.load(session, ["serve"], export_dir)
        signature = meta.signature_def["serving_default"]
        assert set(signature.inputs) == {"x"} and set(signature.outputs) == {"y"}
        assert set(meta.signature_def) >= {"serving_default", "predict"}
        y = session.run(signature.outputs["y"].name,
                        {signature.inputs["x"].name: np.ones([1, 10], np.float32)})
    expected = np.arange(300, dtype=np.float32).reshape([30, 10]).sum(axis=1)
    np.testing.assert_allclose(y[0], expected)
    other = tmp_path / "other"
    other.mkdir()
    (other / "file.txt").write_text(u"x")
    with pytest.raises(
            ValueError, match="export directory exists and is not a SavedModel; "
            "remove it or choose another --export_dir"):
        driver_utils.write_saved_model(str(other), _signature, prefix)


def test_fine_tuning_model_fn_specs():

    def build(features, is_training):
        w = tf.get_variable("w", [1], initializer=tf.ones_initializer())
        out = features["x"] * w
        return (tf.reduce_mean(out) if is_training else None), {"out": out}

    model_fn = driver_utils.fine_tuning_model_fn(
        build, lambda features, outputs: {
            "out": outputs["out"],
            "id": features["id"]
        }, num_train_steps=10)
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        features = {"x": tf.ones([2]), "id": tf.zeros([2], tf.int32)}
        spec = model_fn(features, None, tf.estimator.ModeKeys.TRAIN, {})
        assert spec.train_op is not None
        tf.get_default_graph().get_tensor_by_name("total_loss:0")
    with tf.Graph().as_default():
        features = {"x": tf.ones([2]), "id": tf.zeros([2], tf.int32)}
        spec = model_fn(features, None, tf.estimator.ModeKeys.PREDICT, {})
        assert sorted(spec.predictions) == ["id", "out"]
    with tf.Graph().as_default():
        features = {"x": tf.ones([2]), "id": tf.zeros([2], tf.int32)}
        with pytest.raises(ValueError, match="only TRAIN and PREDICT are used"):
            model_fn(features, None, tf.estimator.ModeKeys.EVAL, {})


def test_check_best_and_export_from_flags():

    class History(object):
        best = None

    with pytest.raises(script_utils.UserError, match="out: no checkpoint to evaluate"):
        driver_utils.check_best(History(), "out")

    def fail():
        raise ValueError("not a SavedModel")

    with pytest.raises(script_utils.UserError, match="not a SavedModel"):
        driver_utils.export_from_flags(fail, "ckpt", "export")


def test_train_and_select_from_flags_without_training(tmp_path):
    """No --do_train: nothing is trained; --do_eval with nothing to score is a
    one-line error; --do_predict / --export_dir need a checkpoint, and none
    is asked for without them."""
    import types  # pylint: disable=g-import-not-at-top

    def flags(**kw):
        values = dict(do_train=False, do_eval=False, do_predict=False, export_dir=None,
                      output_dir=str(tmp_path), keep_checkpoint_max=0)
        values.update(kw)
        return types.SimpleNamespace(**values)

    class History(object):
        best = None

    def never(*args, **kwargs):
        raise AssertionError("not expected to run")

    assert driver_utils.train_and_select_from_flags(None, flags(), 1, 0, never) is None
    with pytest.raises(script_utils.UserError, match="no checkpoint to evaluate"):
        driver_utils.train_and_select_from_flags(None, flags(do_eval=True), 1, 0, never, History(),
                                                 never)
    with pytest.raises(script_utils.UserError, match="no fine-tuned checkpoint"):
        driver_utils.train_and_select_from_flags(None, flags(do_predict=True), 1, 0, never)
