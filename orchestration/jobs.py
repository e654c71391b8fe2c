"""Jobs: the daily build of the whole graph, and operations with typed config.

- `daily_warehouse_build`: every asset, partitioned by day; launched for one partition (the
  schedule, the lake sensor) or a range (a backfill, one run).
- `source_freshness`: dbt's source freshness, as checks on the raw assets.
- `full_refresh`: `dbt build --full-refresh` of a dbt selection (default: everything). The
  registry `ml_dataset_versions` has `full_refresh: false` and snapshots ignore the flag, so
  their history is kept.
- `dataset_rebuild`: rebuild a registered dataset version as of a date from history and
  compare its fingerprint with the registry (orchestration.datasets.rebuild).

Retention and erasure jobs belong to the issues that add those operations.
"""

import re
from datetime import date
from enum import Enum

from dagster import (
    AssetObservation,
    AssetSelection,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    define_asset_job,
    job,
    op,
)
from dagster_dbt.utils import select_unique_ids
from pydantic import Field, field_validator

from orchestration.assets import DBT_ASSETS, WarehouseTranslator, dataset_publication
from orchestration.datasets import DATASETS, dataset_model, rebuild
from orchestration.dbt_build import manifest, run_dbt
from orchestration.freshness import raw_source_freshness
from orchestration.monitoring import MONITORING_ASSETS
from orchestration.project import duckdb_path, warehouse_project
from orchestration.warehouse_lock import WAREHOUSE_POOL, is_lock_error, locked_failure

daily_warehouse_job = define_asset_job(
    name="daily_warehouse_build",
    selection=AssetSelection.assets(*DBT_ASSETS, dataset_publication, *MONITORING_ASSETS),
    description=(
        "The whole graph for a day (or a range of days, as one run): the incremental models "
        "for those ingest dates, then snapshots, dims, ML tables and the registry, with every "
        "dbt test as an asset check, then publication of the new dataset version."
    ),
)


# Freshness of the raw sources, on its own: it matters most when nothing has landed.
source_freshness_job = define_asset_job(
    name="source_freshness",
    selection=AssetSelection.checks(raw_source_freshness),
    description="`dbt source freshness` over the lake, as checks on the raw assets.",
)


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FullRefreshConfig(Config):
    select: str = Field(
        default="fqn:*",
        description="dbt selection to rebuild from scratch, e.g. 'fct_orders+' (default: all)",
    )
    exclude: str = Field(default="", description="dbt selection to leave out")

    @field_validator("select")
    @classmethod
    def _select_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("select must be a dbt selection, e.g. 'fct_orders+' or 'fqn:*'")
        return value


@op(pool=WAREHOUSE_POOL, required_resource_keys={"dbt"}, out={})
def dbt_full_refresh(context: OpExecutionContext, config: FullRefreshConfig):
    """`dbt build --full-refresh --select <select> --exclude <exclude>`."""
    selected = select_unique_ids(
        select=config.select,
        exclude=config.exclude,
        selector="",
        project=warehouse_project,
        manifest_json=manifest(),
    )
    buildable = {uid for uid in selected if uid.split(".")[0] in {"model", "seed", "snapshot"}}
    if not buildable:
        raise Failure(
            description=(
                f"Full refresh config selects no seed, model or snapshot: select "
                f"{config.select!r}, exclude {config.exclude!r}. Use dbt selection syntax, "
                "e.g. select 'fct_orders+' or 'fqn:*'."
            )
        )
    context.log.info(f"full refresh of {len(buildable)} dbt nodes")
    args = ["build", "--full-refresh", "--select", config.select]
    if config.exclude:
        args += ["--exclude", config.exclude]
    yield from run_dbt(
        context, context.resources.dbt, args, translator=WarehouseTranslator(code_references=False)
    )


@job(
    description=(
        "dbt build --full-refresh of a selection (default everything); the dataset registry "
        "keeps its history (full_refresh: false)."
    ),
)
def full_refresh():
    dbt_full_refresh()


DatasetName = Enum("DatasetName", {name: name for name in DATASETS})


class DatasetRebuildConfig(Config):
    dataset: DatasetName = Field(  # type: ignore[valid-type]
        default=DatasetName["training_set"], description="registered dataset to rebuild"
    )
    as_of: str = Field(description="as-of date of the registered version, YYYY-MM-DD")

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        try:
            if not ISO_DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"as_of must be a date written YYYY-MM-DD, got {value!r} "
                "(registered dates: python -m orchestration.datasets list)"
            ) from None
        return value


@op(pool=WAREHOUSE_POOL)
def rebuild_dataset_version(context: OpExecutionContext, config: DatasetRebuildConfig) -> None:
    """Rebuild the version from history (read-only) and compare it with the registry."""
    dataset = config.dataset.value
    as_of = date.fromisoformat(config.as_of)
    try:
        report = rebuild(dataset, as_of)
    except LookupError as error:
        raise Failure(description=str(error)) from error
    except Exception as error:
        if is_lock_error(str(error)):
            raise locked_failure(duckdb_path(), str(error)) from error
        raise
    metadata = {
        "dataset": dataset,
        "as_of": config.as_of,
        "version_id": report.version.version_id,
        "registered_fingerprint": report.version.fingerprint,
        "rebuilt_fingerprint": report.rebuilt_fingerprint,
        "registered_rows": MetadataValue.int(report.version.row_count),
        "rebuilt_rows": MetadataValue.int(report.rebuilt_rows),
        "matches": MetadataValue.bool(report.matches),
    }
    model_keys = [
        spec.key
        for assets_def in DBT_ASSETS
        for spec in assets_def.specs
        if spec.key.path[-1] == dataset_model(dataset)
    ]
    for key in model_keys:
        context.log_event(AssetObservation(asset_key=key, metadata=metadata))
    if not report.matches:
        raise Failure(
            description=(
                f"{dataset} as of {as_of} rebuilt to fingerprint {report.rebuilt_fingerprint} "
                f"({report.rebuilt_rows} rows), but registered version "
                f"{report.version.version_id} has {report.version.fingerprint} "
                f"({report.version.row_count} rows)"
            ),
            metadata=metadata,
        )
    context.log.info(
        f"{dataset} as of {as_of}: version {report.version.version_id} rebuilt bit for bit"
    )


@job(description="Rebuild a registered dataset version as of a date and compare fingerprints.")
def dataset_rebuild():
    rebuild_dataset_version()


JOBS = [daily_warehouse_job, source_freshness_job, full_refresh, dataset_rebuild]
