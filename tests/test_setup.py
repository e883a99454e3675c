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
