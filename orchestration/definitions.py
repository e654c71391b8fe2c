"""The warehouse's single Dagster code location."""

import logging

from dagster import Definitions

from orchestration.alerts import ALERT_SENSORS
from orchestration.assets import (
    DBT_ASSETS,
    dataset_publication,
    raw_source_specs,
    warehouse_read_copy,
)
from orchestration.freshness import raw_source_freshness
from orchestration.jobs import JOBS
from orchestration.monitoring import MONITORING_ASSETS
from orchestration.project import MONITORING_OFF_REASON
from orchestration.resources import dbt_resource
from orchestration.schedules import SCHEDULES, SENSORS

defs = Definitions(
    assets=[
        *raw_source_specs(),
        *DBT_ASSETS,
        dataset_publication,
        warehouse_read_copy,
        *MONITORING_ASSETS,
    ],
    asset_checks=[raw_source_freshness],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=[*SENSORS, *ALERT_SENSORS],
    resources={"dbt": dbt_resource},
)

if MONITORING_OFF_REASON:
    logging.getLogger(__name__).warning(MONITORING_OFF_REASON)
