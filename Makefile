# sfsync — the commands CI and people run. Each target builds its own virtualenv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test lint format bench clean

help:
	@echo "make demo   run the main job on the embedded default (local org, demo ledger)"
	@echo "make test   run the test suite (starts its own PostgreSQL, Redis and local org)"
	@echo "make lint   ruff, ruff format --check, mypy --strict, import-linter"
	@echo "make bench  benchmarks: planning, local org, gateway, sync cycle, distributed workers"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sfsync demo

test: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=0 -p no:cacheprovider
	$(BIN)/coverage report --fail-under=100 --include='sfsync/domain.py,sfsync/cases.py,sfsync/policy.py,sfsync/aging.py,sfsync/escalation.py,sfsync/templates.py'

lint: $(STAMP)
	$(BIN)/ruff check sfsync tests bench
	$(BIN)/ruff format --check sfsync tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix sfsync tests bench
	$(BIN)/ruff format sfsync tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/ .coverage htmlcov .mypy_cache .ruff_cache
