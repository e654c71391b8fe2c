# The two commands a newcomer needs are `make run` and `make test`; both create the
# virtual environment and install the pinned dependencies on first use.

ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 || command -v python3)
endif
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# The venv's dbt, dagster and sqlfluff come first, for tools that look commands up on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DBT_PROFILES_DIR := $(CURDIR)/profiles
export DAGSTER_HOME := $(CURDIR)/.dagster_home

# What a recipe is given (make X=...) reaches its program as one argument, never as shell
# text: every such variable is taken literally (`$(value)`: make expands nothing in it,
# not even $(shell ...)), exported, and quoted in the recipe ("$$AS_OF"), so quotes,
# semicolons, backticks, $(...) and newlines are data. The program validates it and names
# the argument and the rule it breaks.
DATASET ?= training_set
FORMAT ?= file
BENCH_SCALES ?= S,M
BENCH_REPEAT ?= 3
DOCS_PORT ?= 8080
DOCS_DIR ?= target/docs
ARGUMENTS := PYTHON VENV BIN INSTALLED DAGSTER_HOME AS_OF DATASET COLUMN SYSTEM TABLE FROM \
	FORMAT BENCH_SCALES BENCH_REPEAT DOCS_PORT DOCS_DIR
$(foreach name,$(ARGUMENTS),$(eval override $(name) := $$(value $(name))))
export $(ARGUMENTS)

.PHONY: help install manifest run test test-unit test-slow bench lint format ui docs dataset lineage \
	clean browser screenshot backup restore read-copy source

help:  ## list the targets with one line each (this list)
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
		awk -F '\t' '{ printf "make %-11s %s\n", $$1, $$2 }'

$(INSTALLED): requirements.lock pyproject.toml
	"$$PYTHON" -m venv -- "$$VENV"
	@# The lock is the whole resolved set (no resolver needed: --no-deps). uv, pinned in the
	@# lock, installs it in seconds where pip takes two minutes; pip is the fallback.
	@# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, as on this
	@# project's CI machines, nothing is cached on import, and every dbt process (one per
	@# Dagster step) would compile dbt and its libraries again.
	"$$BIN/pip" install --quiet --disable-pip-version-check --no-deps "$$(grep '^uv==' requirements.lock)"
	"$$BIN/uv" pip install --quiet --no-deps --compile-bytecode --python "$$BIN/python" -r requirements.lock || \
		"$$BIN/pip" install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	@# The project itself, editable, for its command `warehouse-dbt`: dbt with Python's garbage
	@# collector off (warehouse/library_patches.py), which Dagster, the tests and the bench run.
	"$$BIN/uv" pip install --quiet --no-deps --python "$$BIN/python" -e . || \
		"$$BIN/pip" install --quiet --disable-pip-version-check --no-deps -e .
	"$$BIN/pip" check
	touch -- "$$INSTALLED"

# The dbt manifest Dagster's asset definitions are read from, parsed when older than the
# project's files (warehouse/manifest.py). make run does it first, the test suite when
# pytest starts (tests/python/conftest.py); the UI's development server (make ui) parses on
# every load.
manifest: $(INSTALLED)  ## parse the dbt project Dagster loads, when its manifest is stale
	"$$BIN/python" -m warehouse.manifest

install: $(INSTALLED)  ## create .venv and install the pinned dependencies (the other targets do it on first use)

# The instance settings (a concurrency pool of one for warehouse writers) are versioned in
# orchestration/dagster.yaml and copied into DAGSTER_HOME.
$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	@mkdir -p -- "$$DAGSTER_HOME"
	cp orchestration/dagster.yaml "$$DAGSTER_HOME/dagster.yaml"

# Headless Chromium and its WebDriver for the browser test
# (tests/python/integration/test_ui_browser.py).
# Installed from Debian's packages where apt works; never fails the test run: without them
# the browser test skips and says why.
browser:  ## install headless Chromium for the browser test, where apt works
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver) >/dev/null 2>&1; } || \
		echo "Chromium could not be installed here: the browser test will skip."

run: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml manifest  ## generate the sample lake and replay it day by day through Dagster + dbt (data/)
	"$$BIN/python" -m orchestration.lib.replay

# The tests marked very_slow (more than about four minutes each) are left out, to keep
# `make test` under a quarter of an hour; `make test-slow` runs them (CI runs both).
test: $(INSTALLED) browser  ## the test suite: builds its own lake and warehouse in a temporary folder
	"$$BIN/python" -m pytest -m "not very_slow"

# The loop while editing: the unit tests build no lake or warehouse through dbt. make test
# runs them too, with the integration tests (tests/python/integration).
test-unit: $(INSTALLED)  ## the unit tests only (tests/python/unit): no dbt build, the fast loop
	"$$BIN/python" -m pytest tests/python/unit

test-slow: $(INSTALLED)  ## the tests too long for make test (the run-order invariance test; CI runs both)
	"$$BIN/python" -m pytest -m very_slow

# Speed and memory against plain DuckDB on the same files (bench/RESULTS.md). Long: S and M
# take about forty-five minutes on two cores with three runs a step; L (50M events at a
# 2 GiB memory limit) is `make bench BENCH_SCALES=L BENCH_REPEAT=1`.
bench: $(INSTALLED)  ## speed and memory against plain DuckDB (BENCH_SCALES=S,M BENCH_REPEAT=3)
	"$$BIN/python" -m bench --scales="$$BENCH_SCALES" --repeat="$$BENCH_REPEAT"

# Refresh the docs' screenshots (docs/images/) with the browser test.
screenshot: $(INSTALLED) browser  ## refresh the docs' screenshots of the Dagster UI (docs/images/)
	UI_SCREENSHOT_DIR="$$(pwd)/docs/images" "$$BIN/python" -m pytest -q \
		tests/python/integration/test_ui_browser.py

lint: $(INSTALLED)  ## ruff and sqlfluff
	@mkdir -p data/exports
	"$$BIN/ruff" check .
	"$$BIN/ruff" format --check .
	"$$BIN/sqlfluff" lint

format: $(INSTALLED)  ## ruff and sqlfluff, fixing what they can
	"$$BIN/ruff" check --fix .
	"$$BIN/ruff" format .
	"$$BIN/sqlfluff" fix

# Bound to 127.0.0.1: the UI has no login of its own (docs/governance.md: behind a proxy).
ui: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml  ## the Dagster UI on http://127.0.0.1:3000
	"$$BIN/dagster" dev -m orchestration.definitions --host 127.0.0.1 --port 3000

# dbt docs as one static page, built from the parsed project: compiled SQL (which shows the
# pseudonymisation salt) and the rest of target/ are never served. Bound to 127.0.0.1; to
# share it, put it behind an authenticating proxy (docs/governance.md).
docs: $(INSTALLED)  ## the dbt docs on http://127.0.0.1:8080
	@mkdir -p -- data/exports "$$DOCS_DIR/site"
	"$$BIN/warehouse-dbt" parse --quiet --target-path="$$DOCS_DIR"
	"$$BIN/warehouse-dbt" docs generate --no-compile --static --target-path="$$DOCS_DIR"
	cp -- "$$DOCS_DIR/static_index.html" "$$DOCS_DIR/site/index.html"
	@echo "dbt docs on http://127.0.0.1:$$DOCS_PORT (Ctrl-C to stop)"
	"$$BIN/python" -m http.server --bind 127.0.0.1 --directory="$$DOCS_DIR/site" -- "$$DOCS_PORT"

dataset: $(INSTALLED)  ## rebuild a registered dataset version and compare fingerprints (AS_OF=YYYY-MM-DD [DATASET=...])
	@test -n "$$AS_OF" || { echo "usage: make dataset AS_OF=YYYY-MM-DD [DATASET=training_set|customer_features] (versions: .venv/bin/python -m warehouse.datasets list)"; exit 2; }
	"$$BIN/python" -m warehouse.datasets rebuild --dataset="$$DATASET" --as-of="$$AS_OF"

# Which raw source columns feed a column: make lineage COLUMN=ml_training_set.spend_next_30d_eur
lineage: $(INSTALLED)  ## which raw source columns feed a column (COLUMN=model.column)
	@test -n "$$COLUMN" || { echo "usage: make lineage COLUMN=model.column (e.g. ml_training_set.spend_next_30d_eur)"; exit 2; }
	"$$BIN/python" -m warehouse.column_lineage -- "$$COLUMN"

# A new lake table in the project's conventions (docs/add-a-source.md): its sources YAML entry,
# base and staging models, with what a person must decide (PII, natural key) left to fill in.
# make source SYSTEM=crm TABLE=contacts FROM=data/lake/crm/contacts/ingest_date=2026-01-01/part-0.parquet
source: $(INSTALLED)  ## scaffold a lake table's sources YAML, base and staging models (SYSTEM= TABLE= [FROM=])
	@test -n "$$SYSTEM" && test -n "$$TABLE" || { echo "usage: make source SYSTEM=<system> TABLE=<table> [FROM=<a landed Parquet file>] (docs/add-a-source.md)"; exit 2; }
	if [ -n "$$FROM" ]; then set -- --from="$$FROM"; else set --; fi; \
		"$$BIN/python" -m warehouse.scaffold "$$@" -- "$$SYSTEM" "$$TABLE"

# Backup and restore (docs/reliability.md); each refuses while a build writes the warehouse.
# make backup [FORMAT=file|export]; make restore FROM=data/backups/warehouse-....duckdb
backup: $(INSTALLED)  ## back up the warehouse to data/backups/ ([FORMAT=file|export])
	"$$BIN/python" -m warehouse.backup backup --format="$$FORMAT"

restore: $(INSTALLED)  ## restore the warehouse from a backup (FROM=...)
	@test -n "$$FROM" || { echo "usage: make restore FROM=<backup file or EXPORT DATABASE folder> (backups: data/backups/)"; exit 2; }
	"$$BIN/python" -m warehouse.backup restore --from="$$FROM"

# The copy readers use while a build writes (Dagster refreshes it after each successful build).
read-copy: $(INSTALLED)  ## publish the read copy that readers use while a build writes
	"$$BIN/python" -m warehouse.backup read-copy

clean:  ## remove data/, target/, logs/ and the caches
	rm -rf data target logs .dagster_home .pytest_cache .ruff_cache

# Elementary monitoring through the monitoring/ overlay (docs/monitoring.md): the build,
# then the monitors, the HTML report in data/monitoring/ and alerts to an offline webhook.
# Without the overlay's packages and without dbt Hub it says that monitoring is off, exit 0.
.PHONY: monitor
monitor: $(INSTALLED)  ## Elementary: build, monitors, report in data/monitoring/, alerts (the monitoring/ overlay)
	"$$BIN/python" monitoring/monitor.py
