"""Resources shared by the warehouse's assets and jobs."""

from dagster import InitResourceContext
from dagster_dbt import DbtCliResource

from orchestration.project import warehouse_project
from warehouse.library_patches import SkipDbtCliStartup
from warehouse.settings import DBT_EXECUTABLE, export_environment


class WarehouseDbtCliResource(SkipDbtCliStartup, DbtCliResource):
    """The dbt CLI resource, without dagster-dbt's two start-up costs per step
    (warehouse/library_patches.py says which and why).

    dbt inherits the run's environment, so when a run starts the data paths are pinned
    there (absolute: dbt runs in the warehouse or the monitoring overlay) with the code
    version the dataset registry records (warehouse/settings.py, export_environment).
    """

    def setup_for_execution(self, context: InitResourceContext) -> None:
        super().setup_for_execution(context)
        export_environment()


dbt_resource = WarehouseDbtCliResource(
    project_dir=warehouse_project, dbt_executable=str(DBT_EXECUTABLE)
)
