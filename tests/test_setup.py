# coding=utf-8
"""scripts/setup.sh: interpreter discovery, idempotence and the no-Python error."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, "scripts", "setup.sh")


def _setup(python, **env):
    full_env = dict(os.environ, PYTHON=python)
    full_env.update(env)
    return subprocess.run(["bash", SETUP], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=full_env, timeout=600)


def test_unusable_python_gives_one_paragraph_of_help():
    result = _setup("python9.9")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no usable Python for PYTHON=python9.9" in result.stderr
    assert "pyenv install 3.7" in result.stderr
    assert "Traceback" not in result.stderr


def test_current_environment_is_reported_up_to_date():
    # The suite runs inside a venv that setup.sh built: asking for this very
    # interpreter's version again must not reinstall anything.
    venv = os.path.dirname(os.path.dirname(sys.executable))
    if not os.path.exists(os.path.join(venv, ".albert_zh_stamp")):
        import pytest
        pytest.skip("not running inside a venv built by scripts/setup.sh")
    version = "%d.%d" % sys.version_info[:2]
    result = _setup(version, VENV=venv)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == venv


_FAKE_PYTHON = r"""#!/usr/bin/env bash
# Stands in for the venv's interpreter: pip succeeds, the import check prints
# what TensorFlow 2.15 prints on a machine without CUDA.
if [[ "$1" == "-m" ]]; then exit 0; fi
echo "E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to register cuDNN \
factory" >&2
echo "W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find \
TensorRT" >&2
exit %d
"""


def _fake_venv(tmp_path, status):
    venv = tmp_path / ("venv%d" % status)
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(_FAKE_PYTHON % status)
    python.chmod(0o755)
    return str(venv)


def test_import_check_output_shown_only_when_it_fails(tmp_path):
    version = "%d.%d" % sys.version_info[:2]
    ok = _setup(version, VENV=_fake_venv(tmp_path, 0))
    assert ok.returncode == 0, ok.stderr
    assert "cuDNN" not in ok.stderr and "TensorRT" not in ok.stderr
    assert "ready" in ok.stderr
    failed = _setup(version, VENV=_fake_venv(tmp_path, 1))
    assert failed.returncode == 1
    assert "Unable to register cuDNN factory" in failed.stderr
    assert "cannot import its packages" in failed.stderr
