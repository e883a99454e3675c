# coding=utf-8
"""Helpers shared by the tests that run the repository's scripts end to end.

``run_script`` runs a script with the interpreter of the tests, in the
repository root and on the CPU; ``one_line_error`` checks that a run failed
cleanly: exit status 1, no traceback, and exactly one ``error: `` line;
``write`` writes a UTF-8 text file (creating its directory) for a test's input.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(script, args=(), env=None, unset=(), timeout=600):
    """Runs a script of the repository in a subprocess; returns CompletedProcess.

    Args:
        script: path of the script, relative to the repository root or absolute.
        args: command-line arguments.
        env: variables to set over the current environment (applied last).
        unset: names of variables to remove from the current environment.
        timeout: seconds before the run is ended (subprocess.TimeoutExpired).

    Returns:
        The CompletedProcess, with stdout and stderr as text. The run's
        working directory is the repository root; CUDA_VISIBLE_DEVICES is ""
        unless the environment or `env` set it.
    """
    full_env = dict(os.environ)
    for name in unset:
        full_env.pop(name, None)
    full_env.setdefault("CUDA_VISIBLE_DEVICES", "")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, os.path.join(ROOT, script)] + list(args), cwd=ROOT,
                          env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def one_line_error(result):
    """The error line of a failed run, asserting that the run failed cleanly.

    A clean failure exits with status 1, prints no traceback and exactly one
    line that starts with ``error: `` on stderr; that line is returned.
    """
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def write(path, text):
    """Writes ``text`` to ``path`` as UTF-8, creating its directory; returns
    the path as a string."""
    directory = os.path.dirname(str(path))
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    with io.open(str(path), "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)
