"""Every place where the warehouse reaches inside a library, gathered in one module.

Each is kept because a measurement at scale M pays at least a tenth of the daily run
(bench/RESULTS.md, "Library patches", with the figures and the commit measured). Each
names the library version it was written for and the test that fails when an upgrade
breaks it; after an upgrade, run that test before anything else.

1. **dbt-core 1.11.16 on Python 3.11: dbt without the cyclic garbage collector.**
   `dbt_main` is the `warehouse-dbt` command (pyproject.toml), which Dagster, the
   Makefile, the tests and the benchmark run (settings.DBT_EXECUTABLE): dbt's own command
   line with Python's cyclic collector off. A dbt command is one short process whose
   objects (the manifest, a Jinja context per node) mostly live until it exits, and the
   collector kept walking them, stopping every thread. Reference counting still frees
   everything outside a cycle; peak memory is DuckDB's buffer either way.
   Test: tests/python/unit/test_dbt_cli.py (the collector is off when dbt's `cli` runs, and
   arguments, output and exit codes are plain dbt's).

2. **dagster-dbt 0.29.27: `DbtCliResource` without two start-up costs per step.**
   Before each dbt command, `DbtCliResource.cli` runs `dbt --version` in a subprocess
   (`_cli_version`) and loads dbt's macros into an in-process adapter
   (`_initialize_dbt_core_adapter`), used only by `fetch_row_counts` and
   `fetch_column_metadata`, which this project does not call: it reads row counts after
   dbt exits (orchestration/lib/dbt_build.py), since DuckDB lets no other process open the
   warehouse while dbt writes it. `SkipDbtCliStartup` answers the version from the
   installed dbt-core (the venv's dbt is the one that runs) and builds no adapter.
   Test: tests/python/unit/test_library_patches.py (dagster-dbt still calls both, and the
   resource answers them without a subprocess or an adapter).

Not a patch, so not here: dagster-dbt's own copy of dbt's partial-parse state into each
step's target folder, which works because the manifest is parsed in the environment the
steps run with (warehouse/manifest.py, settings.pinned_environment).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from importlib.metadata import version

from packaging.version import Version


def dbt_main() -> None:
    """`warehouse-dbt`: dbt's command line, with the cyclic garbage collector off."""
    # Before dbt's imports, which are where the collector starts its work.
    gc.disable()
    from dbt.cli.main import cli

    sys.exit(cli())


class SkipDbtCliStartup:
    """Mixed into the project's `DbtCliResource` subclass (orchestration/resources.py)."""

    @property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
