# coding=utf-8
"""What the benchmarks put beside every figure: the CPU model and the commit."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model():
    """The "model name" of /proc/cpuinfo (else platform's processor name)."""
    try:
        with io.open("/proc/cpuinfo", encoding="utf-8", errors="replace") as reader:
            for line in reader:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except (IOError, OSError):
        pass
    return platform.processor() or "unknown"


def git_commit(dirty_paths=()):
    """The short commit of the repository, with "-dirty" when any of
    ``dirty_paths`` (repository-relative) has local changes; "unknown"
    outside a git checkout."""
    try:
        commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                         stderr=subprocess.DEVNULL,
                                         universal_newlines=True).strip()
        if not commit:
            return "unknown"
        if dirty_paths:
            status = subprocess.check_output(["git", "status", "--porcelain", "--"] +
                                             list(dirty_paths), cwd=ROOT,
                                             stderr=subprocess.DEVNULL).strip()
            if status:
                commit += "-dirty"
        return commit
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
