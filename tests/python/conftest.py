"""Shared by both folders of the suite: unit/ (seconds a test, no dbt build: `make
test-unit`) and integration/ (lakes and warehouses built through dbt). Fixtures: a lake and
warehouse built from generated data in a temporary folder.

Nothing here touches data/ or target/ of the checkout, so the suite can run beside
`make run` and never depends on what an earlier run left behind.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from warehouse import manifest
from warehouse.settings import DBT_EXECUTABLE

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT_TESTS = Path(__file__).parent / "unit"


def pytest_configure(config: pytest.Config) -> None:
    # The suite tests the warehouse and its Dagster code location on their own, the same on
    # every machine; test_monitoring.py tests Elementary (overlay and Dagster) where installed.
    os.environ.setdefault("WAREHOUSE_MONITORING", "off")
    # The suite builds target ci, which refuses the development salt (macros/guard_salt.sql).
    os.environ.setdefault("WAREHOUSE_PII_SALT", "test-suite-salt-not-a-secret")
    # The daily partitions start at the first ingest date of the lake the definitions find
    # when they load, the checkout's data/lake after a `make run`: the suite's days (from
    # 2026-03) must be partitions whatever that holds.
    os.environ.setdefault("WAREHOUSE_FIRST_PARTITION", "2026-01-01")
    # The Dagster definitions read the dbt manifest: parsed here when stale (a check of file
    # times otherwise), once, by the controller before any worker starts (`make manifest`).
    if not hasattr(config, "workerinput"):
        manifest.prepare()


# Small but complete: every defect rule fires, the drift day falls inside the backfill,
# 100 days hold enough labelled as-of dates for a time split with its two 30-day embargoes,
# and three daily runs after it give the snapshots a history (changes and deletions of
# customers who existed at the first build) and the registry three more versions of each
# dataset.
SAMPLE = {"seed": 7, "customers": 400, "start_date": "2026-03-01", "backfill_days": 97}
DAILY_RUNS = 3


@dataclass(frozen=True)
class Warehouse:
    root: Path
    lake: Path
    database: Path
    env: dict[str, str]
    backfill_days: int
    daily_runs: int

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)

    def manifest(self) -> dict[str, Any]:
        """The manifest of the suite's last dbt invocation on this warehouse."""
        return json.loads((self.root / "target" / "manifest.json").read_text())

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_dbt(self.env, *args, check=check)


def warehouse_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WAREHOUSE_TARGET="ci",
        WAREHOUSE_LAKE_DIR=str(root / "lake"),
        WAREHOUSE_DUCKDB_PATH=str(root / "warehouse.duckdb"),
        DBT_PROFILES_DIR=str(REPO_ROOT / "profiles"),
        DBT_TARGET_PATH=str(root / "target"),
        DBT_LOG_PATH=str(root / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        # Every path explicitly: a Dagster run in this process pins defaults in os.environ
        # that point at the checkout's data/ (orchestration/resources.py).
        WAREHOUSE_DATA_DIR=str(root),
        WAREHOUSE_EXPORTS_DIR=str(root / "exports"),
        WAREHOUSE_LAKEHOUSE_DIR=str(root / "lakehouse"),
        WAREHOUSE_GIT_COMMIT="test-suite",
    )
    return env


def project_copy(tmp_path: Path) -> Path:
    """The dbt project and its Python, copied without data, caches or the monitoring overlay."""
    project = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT,
        project,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "data",
            "target",
            "logs",
            "dbt_packages",
            ".dagster_home",
            "__pycache__",
            ".pytest_cache",
            ".ruff_cache",
            "monitoring",
        ),
    )
    return project


def run_dbt(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(DBT_EXECUTABLE), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def run_generator(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "generator", *args], cwd=REPO_ROOT, check=True)


def run_datasets(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m warehouse.datasets ...` against the warehouse `env` points at."""
    return subprocess.run(
        [sys.executable, "-m", "warehouse.datasets", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def build_and_publish(warehouse: Warehouse) -> None:
    """A daily run and a release at once, as from the command line: `dbt build` of
    everything, then publish the new dataset version."""
    warehouse.dbt("build")
    published = run_datasets(warehouse.env, "publish")
    if published.returncode != 0:
        pytest.fail(f"publishing failed:\n{published.stdout}\n{published.stderr}")


def build_sample_warehouse(
    root: Path, backfill_days: int, daily_runs: int, customers: int = SAMPLE["customers"]
) -> Warehouse:
    env = warehouse_env(root)
    (root / "exports").mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(
        root=root,
        lake=root / "lake",
        database=root / "warehouse.duckdb",
        env=env,
        backfill_days=backfill_days,
        daily_runs=daily_runs,
    )
    run_generator(
        "generate",
        f"--seed={SAMPLE['seed']}",
        f"--customers={customers}",
        f"--start-date={SAMPLE['start_date']}",
        f"--days={backfill_days}",
        f"--plan-days={backfill_days + daily_runs}",
        f"--out={warehouse.lake}",
    )
    build_and_publish(warehouse)
    for _ in range(daily_runs):
        run_generator("append", f"--out={warehouse.lake}", "--days=1")
        build_and_publish(warehouse)
    return warehouse


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The sample warehouse after a backfill and three daily runs, each build published."""
    root = tmp_path_factory.mktemp("warehouse")
    yield build_sample_warehouse(root, SAMPLE["backfill_days"], DAILY_RUNS)


def uses_session_warehouse(item: pytest.Item) -> bool:
    """Whether the test needs this file's `warehouse` (a module may define its own)."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the item's fixtures
    fixturedefs = info.name2fixturedefs.get("warehouse", ()) if info else ()
    return bool(fixturedefs) and inspect.getsourcefile(fixturedefs[-1].func) == __file__


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warn when a unit module uses the session warehouse: its folder is the loop that
    builds no warehouse."""
    using = {item.path for item in items if uses_session_warehouse(item)}
    misplaced = {path.name for path in using if path.is_relative_to(UNIT_TESTS)}
    if misplaced:
        warnings.warn(
            f"{', '.join(sorted(misplaced))} builds the session warehouse: move it to integration/",
            stacklevel=1,
        )
