"""Resources shared by the warehouse's assets and jobs."""

from typing import Any

from dagster import InitResourceContext
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION

from orchestration.project import warehouse_project
from warehouse.settings import DBT_EXECUTABLE, export_environment


class WarehouseDbtCliResource(DbtCliResource):
    """The dbt CLI resource, without two costs paid on every step.

    Before starting dbt, dagster-dbt runs `dbt --version` in a subprocess and loads dbt's
    macros into an in-process adapter (used only by `fetch_row_counts` and
    `fetch_column_metadata`): several seconds per step, and a step runs one dbt command. The
    version is the installed dbt-core's (the venv's dbt is DBT_EXECUTABLE), and no adapter is
    needed: row counts are read after dbt exits (orchestration/dbt_build.py), since DuckDB
    lets no other process open the warehouse while dbt writes it.

    dbt inherits the run's environment, so when a run starts the data paths are pinned
    there (absolute: dbt runs in the warehouse or the monitoring overlay) with the code
    version the dataset registry records (warehouse/settings.py, export_environment).
    """

    def setup_for_execution(self, context: InitResourceContext) -> None:
        super().setup_for_execution(context)
        export_environment()

    @property
    def _cli_version(self) -> Any:
        assert DBT_PYTHON_VERSION is not None, "dbt-core is not installed"
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        return None


dbt_resource = WarehouseDbtCliResource(
    project_dir=warehouse_project, dbt_executable=str(DBT_EXECUTABLE)
)
