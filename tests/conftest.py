# coding=utf-8
"""Shared pytest set-up: the repository root is importable from every test,
and the end-to-end modules are marked ``slow``.

``make test`` runs everything; ``make test-fast`` (``-m "not slow"``) leaves
out the modules below, which train models or build environments in
subprocesses and take most of the suite's time.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Modules that run the real scripts end to end (training, export, set-up).
SLOW_MODULES = frozenset([
    "test_export",
    "test_hub_export",
    "test_run_classifier",
    "test_run_multiple_choice",
    "test_run_ner",
    "test_run_pretraining_distributed",
    "test_run_pretraining_e2e",
    "test_run_squad",
    "test_setup",
    "test_test_changes",
    "test_tflite_export",
])


def pytest_configure(config):
    config.addinivalue_line("markers",
                            "slow: runs a script end to end (left out by make test-fast)")


def pytest_collection_modifyitems(config, items):
    del config  # unused
    for item in items:
        module = os.path.splitext(os.path.basename(str(item.fspath)))[0]
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
