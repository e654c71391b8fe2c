"""When the warehouse runs by itself: a daily schedule, a weekly dataset release, a lake
sensor, and automation."""

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from dagster import (
    AssetMaterialization,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    build_schedule_from_partitioned_job,
    sensor,
)

from orchestration.jobs import daily_warehouse_job, dataset_release_job, source_freshness_job
from orchestration.lib.lake_sources import (
    landed_dates,
    raw_asset_key,
    ready_days,
)
from orchestration.partitions import daily_partitions
from orchestration.project import warehouse_lake_sources
from warehouse.lake_inventory import (
    READABLE,
    inspect_file,
    latest_partition_date,
    partition_folder,
)
from warehouse.lake_sources import LakeSource
from warehouse.settings import lake_dir

# The systems' exports land overnight; by 06:00 UTC the previous day's partition is complete.
# The schedule runs the whole graph for that day (the last complete partition).
daily_warehouse_schedule = build_schedule_from_partitioned_job(
    daily_warehouse_job,
    name="daily_warehouse_schedule",
    hour_of_day=6,
    minute_of_hour=0,
    default_status=DefaultScheduleStatus.STOPPED,
)

# Mondays after the daily run: the week's training set and the registry's new versions.
# (The two runs queue one after the other: tag warehouse/build, orchestration/dagster.yaml.)
dataset_release_schedule = ScheduleDefinition(
    name="dataset_release_schedule",
    job=dataset_release_job,
    cron_schedule="0 7 * * 1",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)

# Every six hours: `dbt source freshness`, with the thresholds of the sources YAML.
source_freshness_schedule = ScheduleDefinition(
    name="source_freshness_schedule",
    job=source_freshness_job,
    cron_schedule="0 */6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)


def _landing_event(lake: Path, source: LakeSource, day: date) -> AssetMaterialization:
    folder = source.folder(lake) / partition_folder(day)
    files = sorted(path for path in folder.iterdir() if path.is_file())
    # Rows of the readable files only: an empty or truncated file has no footer to count
    # (the build quarantines it; docs/reliability.md).
    readable = [
        Path(item.path)
        for item in (
            inspect_file(
                path,
                source.folder(lake),
                source.required_columns,
                decode=False,
                source=source,
                latest_date=latest_partition_date(),
            )
            for path in files
        )
        if item.status == READABLE
    ]
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in readable)
    return AssetMaterialization(
        asset_key=raw_asset_key(source),
        partition=day.isoformat(),
        description="landed in the lake",
        metadata={
            "path": MetadataValue.path(str(folder)),
            "files": len(files),
            "quarantined_files": len(files) - len(readable),
            "dagster/row_count": MetadataValue.int(rows),
        },
    )


@sensor(
    job=daily_warehouse_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Starts the daily build for each new ingest date that is ready: landed for every "
        "lake-backed source that delivered in its lake_active_within_days days before it "
        "(sources YAML). Cursor: the newest date handled. With no cursor yet, only the newest "
        "ready day is built (older days are a backfill). Records each landed partition of "
        "those days on the raw assets."
    ),
)
def lake_partition_sensor(context: SensorEvaluationContext):
    lake = lake_dir()
    landed = {source: landed_dates(source.folder(lake)) for source in warehouse_lake_sources()}
    ready = [day.isoformat() for day in ready_days(landed)]
    if not ready:
        return SkipReason(f"no ingest_date= partition is ready in {lake}")

    cursor = context.cursor
    new = [day for day in ready if cursor is None or day > cursor]
    if not new:
        return SkipReason(f"no ingest date after {cursor} in {lake}")
    # Only days that are partitions yet (complete days since the first partition).
    known = [day for day in new if daily_partitions.has_partition_key(day)]
    if not known:
        return SkipReason(f"ingest dates {new[0]}..{new[-1]} are not daily partitions yet")
    to_build = known if cursor is not None else known[-1:]
    events = [
        _landing_event(lake, source, day)
        for day in map(date.fromisoformat, known)
        for source, days in landed.items()
        if day in days
    ]
    return SensorResult(
        run_requests=[RunRequest(partition_key=day, run_key=f"lake-{day}") for day in to_build],
        asset_events=events,
        cursor=known[-1],
    )


# Declarative automation: the ML layer refreshes when something upstream of it changes
# (a backfill of the partitioned models, a snapshot run, a hand-launched materialisation).
ml_automation_sensor = AutomationConditionSensorDefinition(
    "ml_automation_sensor",
    target=AssetSelection.groups("ml"),
    default_status=DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Evaluates the ML layer's automation conditions (eager on upstream updates).",
)

SCHEDULES = [daily_warehouse_schedule, dataset_release_schedule, source_freshness_schedule]
SENSORS = [lake_partition_sensor, ml_automation_sensor]
