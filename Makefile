# Every target sets up what it needs, from nothing: a fresh clone only needs Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: golden test lint bench clean
.DEFAULT_GOAL := test

# One stamp per extra, rebuilt when the project's requirements change.
$(VENV)/.stamp-base:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	touch $@

$(VENV)/.stamp-golden: $(VENV)/.stamp-base pyproject.toml constraints.txt
	$(PIP) -e '.[mathics]'
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.stamp-golden

## golden: regenerate the goldens of every case under golden/ (embedded engine unless a kernel is found);
## --compare-trees: the engine's reading of every rigorous case is compared with gradgold's parser
## (about 12 CPU s for the built-in suites, bench/RIGOROUS.md)
golden: $(VENV)/.stamp-golden
	$(VENV)/bin/gradgold generate --compare-trees $(GOLDEN_ARGS)

## test: the whole test suite, golden checks included (never needs a Wolfram kernel)
# Three workers on two cores: many end-to-end tests wait on subprocesses (kernels starting, CLI
# runs), and with two workers the suite kept only 1.2 cores busy (16.6 CPU min in 14.3 min).
test: $(VENV)/.stamp-dev
	$(PY) -m pytest -n 3 $(PYTEST_ARGS)

## lint: ruff and mypy --strict over the whole package (matplotlib comes with the dev extra, for report.py)
lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## bench: benchmarks; writes bench/results.json, bench/RESULTS.md and plots (BENCH_ARGS=--quick for a short run)
bench: $(VENV)/.stamp-dev
	$(PY) bench/run.py $(BENCH_ARGS)
