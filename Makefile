# Every target bootstraps .venv from requirements-dev.txt when it is missing
# or older than the requirements files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEEDS ?= seeds
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format seeds clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: serve the API on 127.0.0.1:$(PORT), loading $(SEEDS) into an empty database
run: $(STAMP)
	$(PY) -m tools.devserver --port $(PORT) --seeds $(SEEDS)

## test: run every test tier (unit, functional, integration, end-to-end)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## seeds: regenerate the repository's seed set (deterministic)
seeds: $(STAMP)
	$(PY) -m tools.generate_seeds seeds --seed 2026

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache out
