# albert_zh: every target sets up its own environment first (scripts/setup.sh).
#   make test                    Python 3.7 + TensorFlow 1.15.5 (.venv/)
#   make test PYTHON=python3.11  Python 3.11 + TensorFlow 2.15.1 (.venv-py3.11/)
#   make setup                   only build / refresh the environment
#   make test-all                both runtimes, one after the other
#   make test-fast               without the end-to-end modules (marked slow), for the edit loop
#   make lint                    formatting (yapf) and lint (flake8) checks, settings in setup.cfg
#                                (in the Python 3.11 environment: LINT_PYTHON=python3.x to choose)
#   make format                  reformat the code with yapf
#   make demo                    the whole pipeline on the sample data, offline (about 3 minutes)

PYTHON ?= python3.7
export PYTHON
PYTEST_ARGS ?= -q
LINT_PYTHON ?= python3.11

.PHONY: setup test test-fast test-all lint format changes demo clean

setup:
	@scripts/setup.sh >/dev/null

test:
	@scripts/test.sh $(PYTEST_ARGS)

test-fast:
	@scripts/test.sh $(PYTEST_ARGS) -m "not slow"

lint:
	@PYTHON=$(LINT_PYTHON) scripts/lint.sh

format:
	@PYTHON=$(LINT_PYTHON) scripts/lint.sh --fix

test-all:
	@PYTHON=python3.7 scripts/test.sh $(PYTEST_ARGS)
	@PYTHON=python3.11 scripts/test.sh $(PYTEST_ARGS)

changes: setup
	@$$(scripts/setup.sh 2>/dev/null | tail -n 1)/bin/python test_changes.py

demo:
	@scripts/demo.sh

clean:
	rm -rf .venv .venv-py* .pytest_cache demo_output pretrain_data
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
