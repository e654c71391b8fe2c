"""Where the dbt project, its profiles and its data live, for Dagster and the run scripts.

Every path can be moved with an environment variable, which is also what dbt's
profiles.yml and the lake source read, so Dagster and the dbt CLI always agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "profiles"
# The dbt installed beside this Python: a fresh machine has no dbt on PATH, and another dbt
# on PATH must never be picked up by accident.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def data_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def lake_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_LAKE_DIR", data_dir() / "lake")).resolve()


def duckdb_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_DUCKDB_PATH", data_dir() / "warehouse.duckdb")).resolve()


def git_commit() -> str:
    """The checkout's commit, marked -dirty when it has uncommitted changes, or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def exports_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_EXPORTS_DIR", data_dir() / "exports")).resolve()


def export_environment() -> None:
    """Pin the absolute data paths in the environment, for dbt subprocesses started anywhere,
    and the code version the dataset registry records."""
    os.environ.setdefault("WAREHOUSE_GIT_COMMIT", git_commit())
    os.environ.setdefault("WAREHOUSE_LAKE_DIR", str(lake_dir()))
    os.environ.setdefault("WAREHOUSE_DUCKDB_PATH", str(duckdb_path()))
    os.environ.setdefault("WAREHOUSE_EXPORTS_DIR", str(exports_dir()))
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROFILES_DIR))
    # dbt's Parquet exports write into this folder, and DuckDB creates only their last level.
    exports_dir().mkdir(parents=True, exist_ok=True)


export_environment()

warehouse_project = DbtProject(project_dir=REPO_ROOT, profiles_dir=PROFILES_DIR)


def parse_manifest() -> None:
    """Write target/manifest.json with `dbt parse`, as the asset definitions need it."""
    result = subprocess.run(
        [str(DBT_EXECUTABLE), "parse", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`dbt parse` of {REPO_ROOT} failed, so Dagster cannot load the dbt assets:\n"
            f"{result.stdout}{result.stderr}"
        )


# `dagster dev` re-parses on every load so edits show up; elsewhere (validate, tests, the
# run script) the manifest is parsed once if missing, so a fresh checkout loads without a
# separate step.
if os.environ.get("DAGSTER_IS_DEV_CLI") or not warehouse_project.manifest_path.exists():
    parse_manifest()
