"""Where the dbt project, its profiles and its data live, and which dbt runs them.

Every path can be moved with an environment variable, which is also what dbt's
profiles.yml and the lake source read, so Dagster, the tools and the dbt CLI always agree.
docs/configuration.md lists the variables.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from warehouse.code_version import git_commit

# The dbt package of this project (dbt_project.yml `name`): its nodes are the warehouse's,
# also in the monitoring overlay's manifest, whose project is the overlay.
WAREHOUSE_PACKAGE = "ml_warehouse"
REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = REPO_ROOT / "profiles"
OVERLAY_DIR = REPO_ROOT / "monitoring"
# The dbt installed beside this Python: a fresh machine has no dbt on PATH, and another dbt
# on PATH must never be picked up by accident. `warehouse-dbt` is dbt with Python's garbage
# collector off (warehouse/library_patches.py), installed with the project by `make install`;
# in an environment where only the requirements were installed, plain dbt does the same.
_VENV_BIN = Path(sys.executable).parent
DBT_EXECUTABLE = (
    _VENV_BIN / "warehouse-dbt" if (_VENV_BIN / "warehouse-dbt").exists() else _VENV_BIN / "dbt"
)


# Each path from `env` (this process's environment unless given), else its default.
def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("WAREHOUSE_DATA_DIR", REPO_ROOT / "data")).resolve()


def lake_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("WAREHOUSE_LAKE_DIR", data_dir(env) / "lake")).resolve()


def duckdb_path(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("WAREHOUSE_DUCKDB_PATH", data_dir(env) / "warehouse.duckdb")).resolve()


def exports_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("WAREHOUSE_EXPORTS_DIR", data_dir(env) / "exports")).resolve()


def pinned_environment(base: Mapping[str, str]) -> dict[str, str]:
    """`base` with what every dbt process needs filled in where unset: the data paths made
    absolute (dbt runs in the warehouse or in the monitoring overlay, whose relative paths
    differ), the profiles folder, and the code version the dataset registry records."""
    env = dict(base)
    env.setdefault("WAREHOUSE_LAKE_DIR", str(lake_dir(base)))
    env.setdefault("WAREHOUSE_DUCKDB_PATH", str(duckdb_path(base)))
    env.setdefault("WAREHOUSE_EXPORTS_DIR", str(exports_dir(base)))
    env.setdefault("DBT_PROFILES_DIR", str(PROFILES_DIR))
    if "WAREHOUSE_GIT_COMMIT" not in env:
        env["WAREHOUSE_GIT_COMMIT"] = git_commit()
    return env


def export_environment() -> None:
    """Pin pinned_environment() in this process's environment, for the dbt processes Dagster
    starts, and create the exports folder (DuckDB creates only the last level of a path)."""
    for name, value in pinned_environment(os.environ).items():
        os.environ.setdefault(name, value)
    exports_dir().mkdir(parents=True, exist_ok=True)


def monitoring_off_reason() -> str | None:
    """Why Elementary monitoring is off, or None when it is on.

    On when the monitoring/ overlay's packages are installed (dbt Hub, or placed by hand:
    monitoring/install_packages_offline.md), unless WAREHOUSE_MONITORING=off."""
    if os.environ.get("WAREHOUSE_MONITORING", "auto").lower() == "off":
        return "Monitoring (Elementary) is off: WAREHOUSE_MONITORING=off."
    from monitoring.monitor import INSTALL_DOC, missing_packages

    missing = missing_packages()
    if not missing:
        return None
    return (
        f"Monitoring (Elementary) is off: {', '.join(missing)} not installed (dbt Hub "
        f"packages: `make monitor` installs them where dbt Hub is reachable; otherwise see "
        f"{INSTALL_DOC}). Dagster loads the warehouse without its monitors."
    )


def dagster_dbt_project_dir(monitoring_off: str | None) -> Path:
    """The dbt project Dagster loads, given monitoring_off_reason(): the monitoring overlay
    (the warehouse as its local package, plus Elementary's monitors and hooks) when
    monitoring is on, else the warehouse itself."""
    return REPO_ROOT if monitoring_off else OVERLAY_DIR
