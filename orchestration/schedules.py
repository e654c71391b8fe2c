"""When the warehouse runs by itself."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from orchestration.assets import dataset_publication, warehouse_dbt_assets

# The shop's export lands overnight; by 06:00 UTC the previous day's partition is complete.
daily_warehouse_job = define_asset_job(
    name="daily_warehouse_build",
    selection=AssetSelection.assets(warehouse_dbt_assets, dataset_publication),
    description=(
        "dbt build of every seed, model and snapshot, with all tests as asset checks, "
        "then publication of the new dataset version."
    ),
)

daily_warehouse_schedule = ScheduleDefinition(
    job=daily_warehouse_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
