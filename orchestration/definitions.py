"""The warehouse's single Dagster code location."""

from __future__ import annotations

from dagster import Definitions

from orchestration.assets import dataset_publication, raw_source_specs, warehouse_dbt_assets
from orchestration.freshness import raw_source_freshness
from orchestration.resources import dbt_resource
from orchestration.schedules import daily_warehouse_job, daily_warehouse_schedule

defs = Definitions(
    assets=[*raw_source_specs(), warehouse_dbt_assets, dataset_publication],
    asset_checks=[raw_source_freshness],
    jobs=[daily_warehouse_job],
    schedules=[daily_warehouse_schedule],
    resources={"dbt": dbt_resource},
)
