"""dbt parses the project the same through Jinja's bytecode cache in `warehouse-dbt`
(warehouse/jinja_bytecode_cache.py), cold and warm: two whole parses of the project, so
here and not with the cache's own tests in unit/test_jinja_bytecode_cache.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from conftest import REPO_ROOT

from warehouse import jinja_bytecode_cache
from warehouse.settings import DBT_EXECUTABLE


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cache"))


def without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timestamps(v) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


def parse(cache: Path, target: Path) -> dict[str, Any]:
    """`warehouse-dbt parse` from scratch; the manifest without what differs on every run."""
    env = {
        **os.environ,
        jinja_bytecode_cache.SETTING: str(cache),
        "DBT_PROFILES_DIR": str(REPO_ROOT / "profiles"),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "WAREHOUSE_DUCKDB_PATH": str(target / "unused.duckdb"),
    }
    subprocess.run(
        [str(DBT_EXECUTABLE), "parse", "--no-partial-parse", "--quiet"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.pop("metadata")  # invocation id, generation time
    return without_timestamps(manifest)


def test_dbt_parses_the_project_the_same_from_a_cold_and_a_warm_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = parse(cache, tmp_path / "cold")
    written = entries(cache)
    assert len(written) > 300  # dbt's, the adapter's and this project's templates
    warm = parse(cache, tmp_path / "warm")
    assert entries(cache) == written  # everything the second parse compiled was read back
    assert warm == cold
