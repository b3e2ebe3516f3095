# Two commands for a newcomer: `make run` and `make test`. Both build .venv from the lock first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/spendmap run --offline --out outputs

# Two pytest workers (one per core), each test file kept on one worker so its module fixtures are made
# once; each worker makes the session's bundled run and Prefect server once (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests flows benchmarks

# Scale benchmark + every benchmarks/bench_*.py -> benchmarks/RESULTS.md (minutes, GBs at 1M awards).
# `make bench BENCH_ARGS=--quick` for a small run; see benchmarks/README.md for the options.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
	find outputs -mindepth 1 ! -name README.md ! -name .spendmap-output -exec rm -rf {} +
