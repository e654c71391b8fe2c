"""The dbt manifest Dagster's asset definitions are read from: parsed when it is missing or
older than a file of the dbt project, before the definitions load.

    python -m warehouse.manifest      # `make manifest`; `make run` does it first

The test suite does the same when pytest starts (tests/python/conftest.py); `dagster dev`
parses on every load instead (orchestration/project.py), so edits show up there without
this step. dbt writes into a fresh folder and the manifest is then moved into place in one
step, so processes loading the definitions at the same time never read half a file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from warehouse.dbt_runner import run_dbt
from warehouse.settings import REPO_ROOT, dagster_dbt_project_dir, monitoring_off_reason

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


class ManifestError(RuntimeError):
    pass


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def manifest_is_stale(project_dir: Path) -> bool:
    """True when the project's target/manifest.json is missing or older than a file of the
    dbt project."""
    manifest = manifest_path(project_dir)
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


def parse(project_dir: Path) -> None:
    """`dbt parse` of the project, its manifest and partial-parse state moved into place."""
    target = manifest_path(project_dir).parent
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parse-", dir=target) as scratch:
        partial = target / "partial_parse.msgpack"
        if partial.exists():
            shutil.copy2(partial, scratch)
        result = run_dbt(
            ["parse", "--quiet", "--target-path", scratch],
            project_dir=project_dir,
            environment={"DBT_LOG_PATH": scratch},
        )
        if result.returncode != 0:
            raise ManifestError(
                f"`dbt parse` of {project_dir} failed, so Dagster cannot load the dbt assets; "
                f"fix the project and run `make manifest` again:\n{result.stdout}{result.stderr}"
            )
        for artifact in ("partial_parse.msgpack", "manifest.json"):
            if (Path(scratch) / artifact).exists():
                os.replace(Path(scratch) / artifact, target / artifact)


def prepare(project_dir: Path | None = None) -> bool:
    """Parse the project Dagster loads when its manifest is stale; True when it parsed."""
    project_dir = project_dir or dagster_dbt_project_dir(monitoring_off_reason())
    if not manifest_is_stale(project_dir):
        return False
    parse(project_dir)
    return True


def main() -> int:
    project_dir = dagster_dbt_project_dir(monitoring_off_reason())
    try:
        parsed = prepare(project_dir)
    except ManifestError as error:
        print(error, file=sys.stderr)
        return 1
    state = "parsed" if parsed else "up to date"
    print(f"dbt manifest {state}: {manifest_path(project_dir).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
