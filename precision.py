# coding=utf-8
"""bfloat16 mixed precision for the scripts: the ``--use_bf16`` flag.

``--use_bf16`` makes the encoder compute its matrix products in bfloat16 on
bfloat16 copies of its float32 variables (``modeling.AlbertModel`` with
``compute_dtype=tf.bfloat16``): variables, gradients, optimizer slots and
checkpoints stay float32, so checkpoints written with and without it are
interchangeable. No loss scaling is needed (bfloat16 has float32's exponent
range).

bfloat16 only pays where the hardware computes it natively: TPUs, CPUs with
AMX or AVX512_BF16 under TensorFlow 2 (oneDNN), GPUs of compute capability
8.0 and later under TensorFlow 2. Elsewhere TensorFlow emulates it and it is
slower than float32, so the flag's values are:

* ``false`` (default, also ``--nouse_bf16``): float32.
* ``true`` (also plain ``--use_bf16``): bfloat16 where native; elsewhere the
  script stops at start with a one-line error saying why.
* ``force``: bfloat16 anyway, with a one-line warning where it is emulated.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import os
import sys

from absl import flags

from tf_compat import tf
import modeling
import script_utils
import tf_compat

FLAG = "use_bf16"
_SPELLINGS = {
    "false": "false",
    "0": "false",
    "no": "false",
    "off": "false",
    "true": "true",
    "1": "true",
    "yes": "true",
    "on": "true",
    "force": "force"
}
CPU_FLAGS = frozenset(("amx_bf16", "avx512_bf16"))


class _Parser(flags.ArgumentParser):
    """true / false / force (booleans and their usual spellings accepted)."""

    def parse(self, argument):
        if isinstance(argument, bool):
            return "true" if argument else "false"
        value = _SPELLINGS.get(str(argument).strip().lower())
        if value is None:
            raise ValueError("expected true, false or force, got %r" % argument)
        return value

    def flag_type(self):
        return "true|false|force"


def define_bf16_flag(flags_module=flags, what="the encoder", default="false"):
    """Defines --use_bf16: a boolean flag (``--use_bf16``, ``--nouse_bf16``)
    that also takes ``--use_bf16=force``."""
    help_text = ("bfloat16 mixed precision: %s computes its matrix products in bfloat16 on "
                 "float32 variables (checkpoints stay float32 and interchangeable). true: where "
                 "the hardware computes bfloat16 natively (TPU; CPU with AMX or AVX512_BF16 on "
                 "TensorFlow 2; GPU of compute capability >= 8.0 on TensorFlow 2), else stop "
                 "with the reason; force: also where it is emulated (slower than float32); "
                 "false: float32." % what)
    # Registered as the caller's flag (absl would name this module), so that
    # the scripts' --help lists it with the caller's other flags.
    caller = sys._getframe(1).f_globals.get("__name__")  # pylint: disable=protected-access
    flags_module.DEFINE_flag(
        flags.Flag(_Parser(), flags.ArgumentSerializer(), FLAG, default, help_text, boolean=True),
        module_name=sys.argv[0] if caller == "__main__" else caller)


def requested_dtype(value):
    """tf.bfloat16 for "true" / "force", tf.float32 for "false"."""
    return tf.bfloat16 if value in ("true", "force") else tf.float32


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU feature flags of ``cpuinfo`` (an empty set when unreadable)."""
    try:
        with io.open(cpuinfo, encoding="utf-8", errors="replace") as reader:
            for line in reader:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except (IOError, OSError):
        pass
    return set()


def _gpu_compute_capabilities():
    """(major, minor) of every visible GPU (TensorFlow 2; [] on TF 1.x or
    without GPUs)."""
    if not tf_compat.IS_TF2:
        return []
    capabilities = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


def native_bfloat16(use_tpu=False, cpuinfo="/proc/cpuinfo", gpus=None):
    """Whether this machine computes bfloat16 natively, and a reason.

    Args:
        use_tpu: the run is on a TPU.
        cpuinfo: the file listing the CPU's flags.
        gpus: (major, minor) compute capabilities of the GPUs (default: the
            visible ones).

    Returns:
        (native, reason): ``reason`` names the hardware that does or the
        reason it does not.
    """
    if use_tpu:
        return True, "TPU"
    gpus = _gpu_compute_capabilities() if gpus is None else list(gpus)
    if gpus:
        if not tf_compat.IS_TF2:
            return False, "TensorFlow 1.15 has no bfloat16 GPU matrix kernels"
        if min(gpus) >= (8, 0):
            return True, "GPU of compute capability %d.%d" % min(gpus)
        return False, ("the GPU (compute capability %d.%d) has no bfloat16 tensor cores "
                       "(8.0 and later do)" % min(gpus))
    if not tf_compat.IS_TF2:
        return False, "TensorFlow 1.15's CPU kernels emulate bfloat16"
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        return False, "TF_ENABLE_ONEDNN_OPTS=0 turns off TensorFlow's oneDNN bfloat16 kernels"
    have = sorted(CPU_FLAGS & cpu_flags(cpuinfo))
    if have:
        return True, "CPU with %s" % ", ".join(have)
    return False, "this CPU has neither AMX nor AVX512_BF16, so bfloat16 is emulated"


def compute_dtype(value, use_tpu=False, cpuinfo="/proc/cpuinfo", gpus=None):
    """The compute dtype for a --use_bf16 value, checked against the hardware.

    Logs one line when bfloat16 is used (a warning when it is forced onto
    hardware that emulates it).

    Raises:
        script_utils.UserError: for "true" where bfloat16 is not native.
    """
    if value not in ("true", "force"):
        return tf.float32
    native, reason = native_bfloat16(use_tpu, cpuinfo, gpus)
    if native:
        tf.logging.info("--%s: bfloat16 matrix products (native: %s)", FLAG, reason)
    elif value == "true":
        raise script_utils.UserError(
            "--%s: %s, so bfloat16 would be slower than float32 here; --%s=force runs it "
            "anyway" % (FLAG, reason, FLAG))
    else:
        tf.logging.warning("--%s=force: %s; bfloat16 runs slower than float32 here", FLAG, reason)
    return tf.bfloat16


def wrap_model_fn(model_fn, dtype):
    """An Estimator model_fn that builds ``model_fn``'s model in ``dtype``
    (``modeling.compute_dtype_scope``); ``model_fn`` itself for float32."""
    if dtype == tf.float32:
        return model_fn

    def wrapped(features, labels, mode, params, config=None):
        with modeling.compute_dtype_scope(dtype):
            return model_fn(features, labels, mode, params, config)

    return wrapped
