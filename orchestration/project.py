"""Where the dbt project, its profiles and its data live, for Dagster and the run scripts.

Every path can be moved with an environment variable, which is also what dbt's
profiles.yml and the lake source read, so Dagster and the dbt CLI always agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster_dbt import DbtProject

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "profiles"


def data_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def lake_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_LAKE_DIR", data_dir() / "lake")).resolve()


def duckdb_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_DUCKDB_PATH", data_dir() / "warehouse.duckdb")).resolve()


def export_environment() -> None:
    """Pin the absolute data paths in the environment, for dbt subprocesses started anywhere."""
    os.environ.setdefault("WAREHOUSE_LAKE_DIR", str(lake_dir()))
    os.environ.setdefault("WAREHOUSE_DUCKDB_PATH", str(duckdb_path()))
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROFILES_DIR))


export_environment()

warehouse_project = DbtProject(project_dir=REPO_ROOT, profiles_dir=PROFILES_DIR)

# `dagster dev` re-parses on every reload; elsewhere (validate, tests, the run script) the
# manifest is parsed once if it is missing, so that a fresh checkout loads without a step.
warehouse_project.prepare_if_dev()
if not warehouse_project.manifest_path.exists():
    warehouse_project.preparer.prepare(warehouse_project)
