# Two commands do everything on a fresh machine (Python >= 3.11 and make; `make test` also npm):
#   make up    create .venv, install, run the whole platform
#   make test  create .venv, install with test extras, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: up test bench lint-imports vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# axe-core for the portal's accessibility audits, exactly as pinned in the lock (needs npm).
tests/portal/node_modules/axe-core/axe.min.js: tests/portal/package-lock.json
	npm ci --prefix tests/portal --no-audit --no-fund
	touch $@

# The map library the portal serves from package data, refreshed from npm exactly as pinned in
# gateway/portal/package-lock.json (the copies are committed: running needs no npm).
LEAFLET := gateway/portal/node_modules/leaflet
vendor:
	npm ci --prefix gateway/portal --no-audit --no-fund
	mkdir -p gateway/portal/static/vendor/leaflet/images
	cp $(LEAFLET)/dist/leaflet.js $(LEAFLET)/dist/leaflet.css $(LEAFLET)/LICENSE gateway/portal/static/vendor/leaflet/
	cp $(LEAFLET)/dist/images/*.png gateway/portal/static/vendor/leaflet/images/

up: $(VENV)/.installed
	$(BIN)/oup up

# One worker per CPU, each taking whole test files (module fixtures start their services once).
test: $(VENV)/.installed-test tests/portal/node_modules/axe-core/axe.min.js
	$(BIN)/python -m pytest -n auto --dist loadfile

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
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/portal/node_modules test-artifacts
