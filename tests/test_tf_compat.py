# coding=utf-8
"""tf_compat: the host-memory allocator and the oneDNN setting it selects, and
the user's overrides."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs a small graph in a fresh process and reports which allocators served
# its tensors (the names TensorFlow records in a full trace).
PROBE = """
import json, os, sys
sys.path.insert(0, %r)
from tf_compat import tf
with tf.Graph().as_default():
    x = tf.random.uniform([512, 512])
    y = tf.matmul(x, x)
    meta = tf.RunMetadata()
    with tf.Session() as sess:
        sess.run(y, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                 run_metadata=meta)
names = sorted(set(m.allocator_name for d in meta.step_stats.dev_stats
                   for n in d.node_stats for m in n.memory))
print(json.dumps([os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), names]))
""" % ROOT


def _probe(script, variable, setting):
    """Runs ``script`` in a fresh process with ``variable`` unset (None) or set
    to ``setting``; returns the JSON it printed last."""
    env = dict(os.environ)
    env.pop(variable, None)
    if setting is not None:
        env[variable] = setting
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("setting,bfc", [(None, True), ("false", False), ("true", True)])
def test_bfc_allocator_by_default_and_user_setting_respected(setting, bfc):
    value, allocators = _probe(PROBE, "TF_CPU_ALLOCATOR_USE_BFC", setting)
    assert value == (setting or "true")
    assert allocators, "the trace recorded no allocations"
    assert any("bfc" in name for name in allocators) == bfc, allocators


# Reports the oneDNN setting tf_compat leaves in the environment and, on
# TensorFlow 2, whether TensorFlow enabled its oneDNN kernels.
ONEDNN_PROBE = """
import json, os, platform, sys
sys.path.insert(0, %r)
import tf_compat
enabled = None
if tf_compat.IS_TF2:
    from tensorflow.python.util import _pywrap_util_port
    enabled = bool(_pywrap_util_port.IsMklEnabled())
print(json.dumps([os.environ.get("TF_ENABLE_ONEDNN_OPTS"), enabled,
                  platform.machine().lower(), tf_compat.IS_TF2]))
""" % ROOT


@pytest.mark.parametrize("setting", [None, "0", "1"])
def test_onednn_on_by_default_on_x86_and_user_setting_respected(setting):
    value, enabled, machine, is_tf2 = _probe(ONEDNN_PROBE, "TF_ENABLE_ONEDNN_OPTS", setting)
    x86 = machine in ("x86_64", "amd64")
    expected = setting if setting is not None else ("1" if x86 else None)
    assert value == expected
    if is_tf2 and expected is not None:
        assert enabled == (expected == "1")


# Reports TF_CPP_MIN_LOG_LEVEL after importing tf_compat as if __main__ were
# the given file, with the given command-line arguments.
LOG_LEVEL_PROBE = """
import json, os, sys
sys.path.insert(0, %r)
main_file, argv = json.loads(sys.argv[1])
if main_file:
    sys.modules["__main__"].__file__ = main_file
sys.argv[1:] = argv
import tf_compat
print(json.dumps(os.environ.get("TF_CPP_MIN_LOG_LEVEL")))
""" % ROOT


@pytest.mark.parametrize("main_file,argv,expected", [
    (os.path.join(ROOT, "run_classifier.py"), ["--do_train"], "3"),
    (os.path.join(ROOT, "benchmarks", "bench_tasks.py"), [], "3"),
    (os.path.join(ROOT, "run_classifier.py"), ["--do_train", "--verbose"], None),
    ("/tmp/my_notebook_code.py", [], None),
    (None, [], None),
])
def test_cpp_log_level_hidden_only_for_the_project_scripts(main_file, argv, expected):
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    out = subprocess.run([sys.executable, "-c", LOG_LEVEL_PROBE,
                          json.dumps([main_file, argv])], env=env, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         timeout=300).stdout
    assert json.loads(out.strip().splitlines()[-1]) == expected


def test_users_own_cpp_log_level_is_kept():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1")
    out = subprocess.run(
        [sys.executable, "-c", LOG_LEVEL_PROBE,
         json.dumps([os.path.join(ROOT, "export.py"), []])], env=env, check=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300).stdout
    assert json.loads(out.strip().splitlines()[-1]) == "1"
