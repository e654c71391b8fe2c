"""The library's one way to run dbt: `warehouse-dbt` (settings.DBT_EXECUTABLE) in its own
process, in the warehouse's dbt project or the monitoring overlay, with the environment of
settings.pinned_environment. Dagster runs dbt through dagster-dbt's DbtCliResource
(orchestration/resources.py) with the same executable."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from warehouse.settings import DBT_EXECUTABLE, REPO_ROOT, pinned_environment


def run_dbt(
    args: Sequence[str],
    *,
    project_dir: Path = REPO_ROOT,
    environment: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """dbt `args`, its output captured; the caller reads returncode and says what failed.
    `environment` adds to (or overrides) this process's environment."""
    env = pinned_environment({**os.environ, **(environment or {})})
    Path(env["WAREHOUSE_EXPORTS_DIR"]).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(DBT_EXECUTABLE), *args],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
    )
