# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := config connectors mappings sync sandboxes

.PHONY: demo test lint typecheck unit install clean bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sandbox]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/revbridge demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy $(PACKAGES)

unit: $(BIN)/.installed
	$(BIN)/pytest -n auto

test: lint typecheck unit

# Every benchmark once (~15 min on a 2-core machine; needs PostgreSQL on 127.0.0.1:5432) and
# docs/performance.md's generated section rewritten. Not part of `test`: CI never runs it.
bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) revbridge-demo.db* .mypy_cache .ruff_cache .pytest_cache
