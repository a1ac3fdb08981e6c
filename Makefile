# One task runner: the targets the README names are the ones CI runs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PY_DIRS := $(wildcard src tests benchmarks)
DEMO_DIR ?= demo
SEED ?= 7
SCALE ?= medium

.PHONY: demo test lint typecheck pytest bench bench-large docs clean

$(BIN)/cueva: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/cueva

demo: $(BIN)/cueva
	$(BIN)/cueva demo $(DEMO_DIR) --seed $(SEED) --scale $(SCALE) --force
	$(BIN)/cueva funnel $(DEMO_DIR) --period 2026-Q2 --by channel
	$(BIN)/cueva report $(DEMO_DIR) --period 2026-Q2 --vs 2026-Q1 --out $(DEMO_DIR)/pack.html --pdf

lint: $(BIN)/cueva
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy

pytest: $(BIN)/cueva
	$(BIN)/pytest -q

test: lint pytest

docs: $(BIN)/cueva
	$(BIN)/python -m cueva.docs_gen

bench: $(BIN)/cueva
	$(BIN)/python benchmarks/bench_foundation.py --scale medium

bench-large: $(BIN)/cueva
	$(BIN)/python benchmarks/bench_foundation.py --scale large

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo
