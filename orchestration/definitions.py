"""The warehouse's single Dagster code location."""

from dagster import Definitions

from orchestration.assets import DBT_ASSETS, dataset_publication, raw_source_specs
from orchestration.freshness import raw_source_freshness
from orchestration.jobs import JOBS
from orchestration.resources import dbt_resource
from orchestration.schedules import SCHEDULES, SENSORS

defs = Definitions(
    assets=[*raw_source_specs(), *DBT_ASSETS, dataset_publication],
    asset_checks=[raw_source_freshness],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"dbt": dbt_resource},
)
