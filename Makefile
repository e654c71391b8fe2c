# The two commands a newcomer needs are `make run` and `make test`; both create the
# virtual environment and install the pinned dependencies on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# The venv's dbt, dagster and sqlfluff come first, for tools that look commands up on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DBT_PROFILES_DIR := $(CURDIR)/profiles
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: help install run test lint format ui docs dataset clean

help:
	@echo "make run    generate the sample lake and replay it through Dagster + dbt (data/)"
	@echo "make test   the test suite (builds its own lake and warehouse in a temp dir)"
	@echo "make lint   ruff and sqlfluff"
	@echo "make ui     Dagster UI on http://127.0.0.1:3000"
	@echo "make docs    dbt docs on http://127.0.0.1:8080"
	@echo "make dataset AS_OF=YYYY-MM-DD   rebuild a registered dataset version, compare fingerprints"

$(INSTALLED): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

install: $(INSTALLED)

# Dagster's instance settings; its usage telemetry is off (nothing leaves this machine).
$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\n' > $@

run: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m orchestration.replay

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	@mkdir -p data/exports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix

ui: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -m orchestration.definitions --host 127.0.0.1 --port 3000

docs: $(INSTALLED)
	@mkdir -p data/exports
	$(BIN)/dbt docs generate
	$(BIN)/dbt docs serve --host 127.0.0.1 --port 8080 --no-browser

dataset: $(INSTALLED)
	@test -n "$(AS_OF)" || { echo "usage: make dataset AS_OF=YYYY-MM-DD [DATASET=training_set|customer_features] (versions: .venv/bin/python -m orchestration.datasets list)"; exit 2; }
	$(BIN)/python -m orchestration.datasets rebuild --dataset $(or $(DATASET),training_set) --as-of $(AS_OF)

clean:
	rm -rf data target logs .dagster_home .pytest_cache .ruff_cache
