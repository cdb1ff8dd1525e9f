# 减负通 Jianfu. `make run` and `make test` need only python3: they create .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONFIG ?= config.toml

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/jianfu db upgrade --config $(CONFIG)
	$(BIN)/jianfu serve --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check bot intake classifiers tests bench
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
