# Set-up and everyday commands. Each target bootstraps .venv from pyproject.toml first, so a fresh
# machine with only Python 3.11 needs nothing else: `make demo` or `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers; 2 cores here, override with `make test WORKERS=4`
WORKERS ?= auto

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "healthsync needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/healthsync demo

lint: $(STAMP)
	$(BIN)/ruff check healthsync tests bench
	$(BIN)/ruff format --check healthsync tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) -q

test: lint typecheck unit

# Benchmarks print figures and assert nothing. The sync benchmark (issue #6) syncs 1k, 10k and 100k
# accounts against both CRMs, 1k and 10k also under realistic rate limits: about 22 minutes here.
# Narrow it with e.g. `make bench SYNC_BENCH="--sizes 1000,10000 --crm hubspot --markdown"`.
SYNC_BENCH ?= --markdown

bench: $(STAMP)
	@for b in bench/*.py; do [ "$$b" = bench/sync_bench.py ] || $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/sync_bench.py $(SYNC_BENCH)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
