# coding=utf-8
"""run_pretraining with tf.distribute: mirrored (2 CPU devices), multi-worker."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tf_compat import tf

import modeling
import run_pretraining as rp
import pretraining_testlib as lib

SEQ = 16
PRED = 4

CONFIG = lib.tiny_config("google")


def _initial_checkpoint(tmp_path):
    """Saves freshly initialised model variables; returns the prefix."""
    config = modeling.AlbertConfig.from_dict(CONFIG)
    prefix = str(tmp_path / "init" / "model.ckpt")
    with tf.Graph().as_default():
        features = {
            "input_ids": tf.zeros([1, SEQ], tf.int32),
            "input_mask": tf.ones([1, SEQ], tf.int32),
            "segment_ids": tf.zeros([1, SEQ], tf.int32),
            "masked_lm_positions": tf.zeros([1, PRED], tf.int32),
            "masked_lm_ids": tf.zeros([1, PRED], tf.int32),
            "masked_lm_weights": tf.ones([1, PRED], tf.float32),
            "next_sentence_labels": tf.zeros([1, 1], tf.int32)
        }
        rp.model_fn_builder(config)(features, None, tf.estimator.ModeKeys.EVAL, {})
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix)
    return prefix


TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)


def _train(tmp_path, name, records, strategy_name, steps, batch, accumulation_steps=1,
           loss_scale=None):
    """Trains `steps` updates with the Estimator in a fresh process; returns
    the final values.

    A process of its own keeps TensorFlow's process-wide state left by other
    tests (thread pools, devices, loaded libraries) away from the replicas,
    and a run that hangs ends at the timeout instead of stalling the suite.
    """
    out = str(tmp_path / (name + ".npz"))
    arguments = json.dumps([
        str(tmp_path), name, records, strategy_name, steps, batch, accumulation_steps, loss_scale,
        out
    ])
    code = ("import json, sys; sys.path[:0] = [%r, %r]; "
            "import test_run_pretraining_distributed as t; "
            "t.train_here(*json.loads(sys.argv[1]))" % (ROOT, TESTS))
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-c", code, arguments], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    with np.load(out) as data:
        return {key.replace("|", "/"): data[key] for key in data.files}


def train_here(tmp_path, name, records, strategy_name, steps, batch, accumulation_steps, loss_scale,
               out):
    """The body of `_train`, run in its own process; writes the values to `out`."""
    import pathlib  # pylint: disable=g-import-not-at-top
    values = _train_in_process(pathlib.Path(tmp_path), name, records, strategy_name, steps, batch,
                               accumulation_steps, loss_scale)
    np.savez(out, **{key.replace("/", "|"): value for key, value in values.items()})


def _train_in_process(tmp_path, name, records, strategy_name, steps, batch, accumulation_steps=1,
                      loss_scale=None):
    """Trains `steps` updates with the Estimator; returns the final values.

    Every run starts from the same checkpoint (the graphs of one device and
    of two replicas draw different initial values).
    """
    config = modeling.AlbertConfig.from_dict(CONFIG)
    init = str(tmp_path / "init" / "model.ckpt")
    if not os.path.exists(init + ".index"):
        _initial_checkpoint(tmp_path)
    output_dir = str(tmp_path / name)
    num_devices = 2 if strategy_name == "mirrored" else None
    strategy = rp.build_strategy(strategy_name, num_cpu_devices=num_devices)
    run_config = rp.build_run_config(
        output_dir, save_checkpoints_steps=steps, train_distribute=strategy,
        session_config_proto=rp.session_config(num_cpu_devices=num_devices))
    estimator = tf.estimator.Estimator(
        rp.model_fn_builder(config, init_checkpoint=init, learning_rate=1e-3, num_train_steps=100,
                            num_warmup_steps=0, optimizer="lamb",
                            gradient_accumulation_steps=accumulation_steps, loss_scale=loss_scale),
        config=run_config)
    input_fn = rp.input_fn_builder([records], SEQ, PRED, is_training=True, batch_size=batch,
                                   shuffle=False)
    estimator.train(input_fn, max_steps=steps)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(output_dir))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith("gradient_accumulation")
    }


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """Records, the initial checkpoint and 2 updates of batch 8 on one device."""
    tmp_path = tmp_path_factory.mktemp("mirrored")
    records = lib.make_records(str(tmp_path / "t.tfrecord"), 64, seq_length=SEQ,
                               max_predictions=PRED, seed=4)
    values = _train(tmp_path, "one", records, "none", steps=2, batch=8)
    return tmp_path, records, values


def test_mirrored_two_cpus_equals_one_device(one_device):
    """Two replicas of 4 examples == one device with the global batch of 8."""
    tmp_path, records, one = one_device
    two = _train(tmp_path, "two", records, "mirrored", steps=2, batch=8)
    assert sorted(one) == sorted(two)
    assert int(two["global_step"]) == 2
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_mirrored_with_gradient_accumulation(one_device):
    """mirrored x accumulation: 2 replicas x 2 micro-batches of 2 == batch 8."""
    tmp_path, records, one = one_device
    two = _train(tmp_path, "accumulated", records, "mirrored", steps=2, batch=4,
                 accumulation_steps=2)
    assert int(two["global_step"]) == 2
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_mirrored_with_dynamic_loss_scaling(one_device):
    """The --use_fp16 loss scaling under mirrored: same variables as unscaled
    training on one device (scaling by a power of two is exact), and the
    scale is saved with the checkpoint."""
    tmp_path, records, one = one_device
    two = _train(tmp_path, "scaled", records, "mirrored", steps=2, batch=8, loss_scale="dynamic")
    assert int(two["global_step"]) == 2
    assert float(two["loss_scale"]) == 2.0**15
    assert int(two["loss_scale_good_steps"]) == 2
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-5, err_msg=name)


def _free_ports(count):
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_multi_worker_two_processes_write_one_checkpoint(tmp_path):
    """Two workers on 127.0.0.1 train together (MultiWorkerMirroredStrategy)."""
    records = lib.make_records(str(tmp_path / "t.tfrecord"), 64, seq_length=SEQ,
                               max_predictions=PRED, seed=4)
    config_file = lib.write_config(str(tmp_path / "config.json"), lib.tiny_config("google"))
    output_dir = str(tmp_path / "out")
    workers = ["127.0.0.1:%d" % port for port in _free_ports(2)]
    procs = []
    logs = []
    try:
        for index in range(2):
            env = dict(os.environ)
            env["CUDA_VISIBLE_DEVICES"] = ""
            env["TF_CONFIG"] = json.dumps({
                "cluster": {
                    "worker": workers
                },
                "task": {
                    "type": "worker",
                    "index": index
                }
            })
            log = open(str(tmp_path / ("worker%d.log" % index)), "w+")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        lib.SCRIPT,
                        "--albert_config_file=%s" % config_file,
                        "--input_file=%s" % records,
                        "--output_dir=%s" % output_dir,
                        "--do_train",
                        "--max_seq_length=%d" % SEQ,
                        "--max_predictions_per_seq=%d" % PRED,
                        "--train_batch_size=8",
                        "--num_train_steps=4",
                        "--num_warmup_steps=0",
                        "--learning_rate=1e-3",
                        "--save_checkpoints_steps=4",
                        "--distribution_strategy=multi_worker",
                        # TensorFlow's own lines show the collective ops.
                        "--verbose"
                    ],
                    cwd=lib.ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True))
        deadline = time.time() + 600
        while time.time() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.5)
        codes = [p.poll() for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    assert codes == [0, 0], "\n\n".join(o[-3000:] for o in outputs)
    latest = tf.train.latest_checkpoint(output_dir)
    assert latest is not None and latest.endswith("model.ckpt-4")
    reader = tf.train.load_checkpoint(latest)
    assert int(reader.get_tensor("global_step")) == 4
    names = reader.get_variable_to_shape_map()
    assert "cls/predictions/output_bias" in names
    assert "bert/encoder/embedding_hidden_mapping_in/kernel" in names
    # Both workers took part: the collective all-reduce ran in each.
    for output in outputs:
        assert re.search(r"Distribution: multi_worker \(\w+\), 2 replicas in sync", output)
        assert "Collective" in output
