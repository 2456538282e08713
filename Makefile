# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := config connectors mappings sync sandboxes

.PHONY: demo test lint typecheck unit install clean

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

clean:
	rm -rf $(VENV) revbridge-demo.db* .mypy_cache .ruff_cache .pytest_cache
