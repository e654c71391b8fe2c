"""The dbt project as Dagster loads it: the warehouse, or the monitoring overlay around it,
its manifest (prepared by warehouse/manifest.py), and the lake feeds its sources declare.
Paths: warehouse/settings.py."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from warehouse.lake_sources import LakeSource, lake_sources
from warehouse.manifest import manifest_path, parse
from warehouse.settings import (
    PROFILES_DIR,
    dagster_dbt_project_dir,
    monitoring_off_reason,
)

MONITORING_OFF_REASON = monitoring_off_reason()
MONITORING_ON = MONITORING_OFF_REASON is None

# With monitoring on, Dagster runs the warehouse through the overlay: the same models and
# tests (the warehouse is its local package) plus Elementary's monitors, as asset checks,
# and Elementary's hooks that record every result for its report.
DBT_PROJECT_DIR = dagster_dbt_project_dir(MONITORING_OFF_REASON)
# dbt package name of the warehouse's own nodes (the overlay's manifest has Elementary's too)

warehouse_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=PROFILES_DIR)
# `dagster dev` parses on every load, so edits show up: what DbtProject.prepare_if_dev does,
# whose preparer would first run `dbt deps`, which the overlay's packages, placed by hand
# where dbt Hub is out of reach, cannot take. Everywhere else the manifest is prepared
# before the definitions load (`make manifest`, warehouse/manifest.py).
if os.environ.get("DAGSTER_IS_DEV_CLI"):
    parse(DBT_PROJECT_DIR)
if not manifest_path(DBT_PROJECT_DIR).exists():
    raise FileNotFoundError(
        f"{manifest_path(DBT_PROJECT_DIR)} is missing, so Dagster cannot load the dbt assets: "
        "run `make manifest` (python -m warehouse.manifest) first"
    )


@functools.cache  # read once a process, when the definitions load
def manifest() -> dict[str, Any]:
    return json.loads(Path(warehouse_project.manifest_path).read_text())


@functools.cache
def warehouse_lake_sources() -> list[LakeSource]:
    """The lake-backed source tables of every system (warehouse/lake_sources.py)."""
    return lake_sources(manifest())
