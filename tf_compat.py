# coding=utf-8
"""The one place that hides the differences between TensorFlow 1.15 and 2.x.

Every module of this project imports TensorFlow as::

    from tf_compat import tf

which is ``tensorflow.compat.v1`` on both runtimes, with v2 behaviour (eager
execution, resource variables, v2 control flow) disabled on TensorFlow 2 so
that graphs, variable names and checkpoints are identical to TensorFlow 1.15.

Importing it has these effects on the process, each only when the variable
is not already set (export your own value to override it):

* ``TF_CPU_ALLOCATOR_USE_BFC=true``: TensorFlow's BFC allocator for host
  memory (faster training on CPU).
* ``TF_ENABLE_ONEDNN_OPTS=1`` on x86-64: TensorFlow 2's oneDNN kernels.
* ``TF_CPP_MIN_LOG_LEVEL=3``, only when the program is one of this
  project's scripts run without ``--verbose``: it hides the cuDNN / cuFFT /
  cuBLAS registration errors TensorFlow 2.15 prints at import on machines
  without CUDA. Imported as a library (tests, notebooks, your own code), the
  C++ log level is left alone, so TensorFlow's own errors stay visible.
* TensorFlow 2: v2 behaviour disabled (``tf.disable_v2_behavior()``).

Nothing else is changed; the scripts' Python log filter lives in
``script_utils``.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import platform
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))


def _is_project_script():
    """True when __main__ is a script of this repository (top level,
    scripts/ or benchmarks/)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main:
        return False
    directory = os.path.dirname(os.path.realpath(os.path.abspath(main)))
    root = os.path.realpath(_ROOT)
    return directory in (root, os.path.join(root, "scripts"), os.path.join(root, "benchmarks"))


# TensorFlow 2.15's CPU wheels print cuDNN/cuFFT/cuBLAS "factory" errors at
# import on machines without CUDA. The scripts hide them (unless --verbose);
# a library import leaves the level alone so real errors are not hidden.
if _is_project_script() and "--verbose" not in sys.argv[1:]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow's best-fit-with-coalescing allocator for host memory instead of
# malloc: large tensors are then not mapped and page-faulted in afresh on every
# step (training on CPU is ~5-10 % faster with TensorFlow 1.15). Read when
# TensorFlow creates its CPU allocator; set it to "false" to keep malloc.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
# TensorFlow 2.x's oneDNN kernels and graph rewrites (fused MatMul + BiasAdd,
# layout-aware elementwise ops). TensorFlow turns them on by itself only on
# x86 CPUs with AVX-512 VNNI/BF16 or AMX; on an AVX2 machine they made
# pretraining 6-19 % faster. TensorFlow 1.15's wheel has no oneDNN and ignores
# the variable; set it to "0" to keep Eigen's kernels.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import tensorflow as _tf_root  # pylint: disable=g-import-not-at-top
import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top

TF_VERSION = tuple(int(p) for p in _tf_root.__version__.split(".")[:2])
IS_TF2 = TF_VERSION[0] >= 2

if IS_TF2:
    _verbosity = tf.logging.get_verbosity()
    tf.logging.set_verbosity(tf.logging.ERROR)  # hide the deprecation notices
    tf.disable_v2_behavior()
    tf.logging.set_verbosity(_verbosity)

__all__ = ["tf", "TF_VERSION", "IS_TF2"]
