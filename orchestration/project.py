"""The dbt project as Dagster loads it: which project (the warehouse, or the monitoring
overlay around it), and its manifest, parsed when stale. Paths: warehouse/settings.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from warehouse.settings import (
    DBT_EXECUTABLE,
    OVERLAY_DIR,
    PROFILES_DIR,
    REPO_ROOT,
    export_environment,
    monitoring_off_reason,
)

export_environment()

MONITORING_OFF_REASON = monitoring_off_reason()
MONITORING_ON = MONITORING_OFF_REASON is None

# With monitoring on, Dagster runs the warehouse through the overlay: the same models and
# tests (the warehouse is its local package) plus Elementary's monitors, as asset checks,
# and Elementary's hooks that record every result for its report.
DBT_PROJECT_DIR = OVERLAY_DIR if MONITORING_ON else REPO_ROOT
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# dbt package name of the warehouse's own nodes (the overlay's manifest has Elementary's too)
WAREHOUSE_PACKAGE = "ml_warehouse"


# What `dbt parse` reads: the manifest is stale when any of these is newer than it.
DBT_PROJECT_INPUTS = (
    "dbt_project.yml",
    "selectors.yml",
    ".dbtignore",
    "models",
    "macros",
    "snapshots",
    "seeds",
    "tests",
    "analyses",
    # the overlay's own files, when Dagster loads its manifest
    "monitoring/dbt_project.yml",
    "monitoring/selectors.yml",
    "monitoring/packages.yml",
    "monitoring/macros",
)
DBT_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md", ".py"}


def manifest_is_stale() -> bool:
    """True when target/manifest.json is missing or older than a file of the dbt project."""
    manifest = MANIFEST_PATH
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in DBT_PROJECT_INPUTS:
        path = REPO_ROOT / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in files:
            relevant = file == path or file.suffix in DBT_SOURCE_SUFFIXES
            # tests/python is the pytest suite, not dbt tests (.dbtignore)
            pytest_suite = file.relative_to(REPO_ROOT).parts[:2] == ("tests", "python")
            if relevant and not pytest_suite and file.stat().st_mtime > built:
                return True
    return False


class ManifestParse:
    """`dbt parse` writing target/manifest.json, as the asset definitions need it.

    It runs in its own process, started before this module imports Dagster: on two cores the
    parse (about 4 s) and the import of Dagster and dagster-dbt (about 3 s) overlap, which is
    what keeps a `dagster dev` load within its 10 s (bench/RESULTS.md). dbt writes into a
    fresh folder and the manifest is then moved into place in one step, so processes that
    load the definitions at the same time never read half a file."""

    def __init__(self) -> None:
        self.target = MANIFEST_PATH.parent
        self.target.mkdir(parents=True, exist_ok=True)
        self.scratch = tempfile.TemporaryDirectory(prefix="parse-", dir=self.target)
        partial = self.target / "partial_parse.msgpack"
        if partial.exists():
            shutil.copy2(partial, self.scratch.name)
        self.process = subprocess.Popen(
            [str(DBT_EXECUTABLE), "parse", "--quiet", "--target-path", self.scratch.name],
            cwd=DBT_PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "DBT_LOG_PATH": self.scratch.name},
        )

    def wait(self) -> None:
        with self.scratch:
            output, _ = self.process.communicate()
            if self.process.returncode != 0:
                raise RuntimeError(
                    f"`dbt parse` of {DBT_PROJECT_DIR} failed, so Dagster cannot load the dbt "
                    f"assets:\n{output}"
                )
            for artifact in ("partial_parse.msgpack", "manifest.json"):
                if (Path(self.scratch.name) / artifact).exists():
                    os.replace(Path(self.scratch.name) / artifact, self.target / artifact)


# `dagster dev` re-parses on every load so edits show up; elsewhere (validate, tests, the
# run script) the manifest is parsed when missing or older than the dbt project's files, so
# a fresh checkout loads without a separate step and an edited model is never missed.
_parse = ManifestParse() if os.environ.get("DAGSTER_IS_DEV_CLI") or manifest_is_stale() else None

# Imported only now, while dbt parses (above).
from dagster_dbt import DbtProject  # noqa: E402

warehouse_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=PROFILES_DIR)
assert warehouse_project.manifest_path == MANIFEST_PATH, warehouse_project.manifest_path
if _parse is not None:
    _parse.wait()
