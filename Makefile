# Two commands do everything on a fresh machine (Python >= 3.11 and make):
#   make up    create .venv, install, run the whole platform
#   make test  create .venv, install with test extras, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test bench lint-imports clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

up: $(VENV)/.installed
	$(BIN)/oup up

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python -m bench.ppi
	$(BIN)/python -m bench.context
	$(BIN)/python -m bench.identity
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.marketplace
	$(BIN)/python -m bench.permit
	$(BIN)/python -m bench.conformance

lint-imports: $(VENV)/.installed-test
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
