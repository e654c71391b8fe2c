"""Jobs: the daily build, the weekly dataset release, and operations with typed config.

- `daily_warehouse_build`: the dbt selector `daily_build` (selectors.yml), partitioned by
  day; launched for one partition (the schedule, the lake sensor) or a range (a backfill,
  one run).
- `dataset_release`: the dbt selector `dataset_release` (the training set from the whole
  history, its export, the registry) and the publication; weekly, or by hand.
- `source_freshness`: dbt's source freshness, as checks on the raw assets.
- `full_refresh`: `dbt build --full-refresh` of a dbt selection (default: everything). The
  registry `ml_dataset_versions` has `full_refresh: false` and snapshots ignore the flag, so
  their history is kept.
- `dataset_rebuild`: rebuild a registered dataset version as of a date from history and
  compare its fingerprint with the registry (warehouse.datasets.rebuild).
- `erase_customer`: erasure on request, one customer out of every layer
  (warehouse.governance.erasure), recorded in audit.erasure_log.
- `apply_retention`: the retention policies (warehouse.governance.retention), with a
  dry run that only lists what would go.

Transient failures (the warehouse lock held outside Dagster, I/O errors) are retried with
exponential backoff, permanent ones never (orchestration/lib/retries.py): the asset jobs
carry RETRY_POLICY; the ops with typed config ask for a retry themselves, since the policy
would also retry config that fails validation. `erase_customer` is not retried by itself:
a re-run with the same config finishes an erasure (docs/governance.md).
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
from dagster_dbt import build_dbt_asset_selection
from dagster_dbt.utils import select_unique_ids
from pydantic import Field, field_validator, model_validator

from orchestration.assets import (
    DBT_ASSETS,
    WarehouseTranslator,
    dataset_publication,
    warehouse_read_copy,
)
from orchestration.freshness import raw_source_freshness
from orchestration.lib.dbt_build import manifest, run_dbt
from orchestration.lib.retries import RETRY_POLICY, retried_if_transient
from orchestration.lib.warehouse_lock import (
    WAREHOUSE_POOL,
    ensure_writable,
    is_lock_error,
    locked_failure,
)
from orchestration.monitoring import MONITORING_ASSETS
from orchestration.project import warehouse_project
from warehouse.datasets import DATASETS, dataset_model, rebuild
from warehouse.governance.erasure import REBUILD_ARGS, Erasure, ErasureError, ErasureRequest
from warehouse.governance.retention import (
    RetentionPolicy,
    apply_retention,
    plan_retention,
    pruned_raw_partitions,
)
from warehouse.governance.subject import SubjectError
from warehouse.settings import duckdb_path

# The same dbt selectors as `dbt build --selector ...` from the CLI and the benchmark.
DAILY_SELECTOR = "daily_build"
RELEASE_SELECTOR = "dataset_release"
# At most one of these runs at a time (orchestration/dagster.yaml): a release reads what the
# whole daily run writes, and would otherwise take the pool between its steps.
BUILD_RUN_TAGS = {"warehouse/build": "true"}


def dbt_selector_assets(selector: str) -> AssetSelection:
    """The dbt assets, with their tests as checks, that a selector of selectors.yml names
    (dagster-dbt resolves a selector against one dbt asset set at a time)."""
    partitioned, unpartitioned = (
        build_dbt_asset_selection([assets_def], dbt_selector=selector) for assets_def in DBT_ASSETS
    )
    return partitioned | unpartitioned


daily_warehouse_job = define_asset_job(
    name="daily_warehouse_build",
    tags=BUILD_RUN_TAGS,
    op_retry_policy=RETRY_POLICY,
    selection=dbt_selector_assets(DAILY_SELECTOR)
    | AssetSelection.assets(*MONITORING_ASSETS, warehouse_read_copy),
    description=(
        "The graph for a day (or a range of days, as one run): the incremental models for "
        "those ingest dates, then snapshots, dims, features, labels and the serving export, "
        "with their dbt tests as asset checks; then the read copy. The training set and the "
        "registry are the weekly dataset_release job."
    ),
)

# Rebuilt from the whole history by definition (a new day moves rows between splits), so
# not daily: a week's training set is what a model is retrained on.
dataset_release_job = define_asset_job(
    name="dataset_release",
    tags=BUILD_RUN_TAGS,
    op_retry_policy=RETRY_POLICY,
    selection=dbt_selector_assets(RELEASE_SELECTOR)
    | AssetSelection.assets(dataset_publication, warehouse_read_copy),
    description=(
        "The dataset release: the training set from the whole history (splits, balance, "
        "k-anonymised export), the registry's new versions of both datasets, their "
        "publication to DuckLake and Parquet, then the read copy."
    ),
)


# Freshness of the raw sources, on its own: it matters most when nothing has landed.
source_freshness_job = define_asset_job(
    name="source_freshness",
    op_retry_policy=RETRY_POLICY,
    selection=AssetSelection.checks(raw_source_freshness),
    description="`dbt source freshness` over the lake, as checks on the raw assets.",
)


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: str, message: str) -> str:
    """`value` when it is a real calendar date written YYYY-MM-DD; else ValueError(message),
    which may name the value as {value!r}."""
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(message.format(value=value)) from None
    return value


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
            ),
            allow_retries=False,
        )
    with retried_if_transient(context):
        refuse_losing_pruned_days(buildable, config)
        context.log.info(f"full refresh of {len(buildable)} dbt nodes")
        args = ["build", "--full-refresh", "--select", config.select]
        if config.exclude:
            args += ["--exclude", config.exclude]
        yield from run_dbt(
            context,
            context.resources.dbt,
            args,
            translator=WarehouseTranslator(code_references=False),
        )


# Incremental models rebuilt from the raw lake by a full refresh (the others rebuild from
# staging, which keeps every day).
LAKE_FOLDERS = ("staging", "audit")


def refuse_losing_pruned_days(selected: set[str], config: FullRefreshConfig) -> None:
    """Once retention has removed raw partitions, staging and the audit tables are the only
    record of those days: a full refresh of them would rebuild them without those days."""
    nodes = manifest()["nodes"]
    from_lake = sorted(
        nodes[uid]["name"]
        for uid in selected
        if uid in nodes
        and nodes[uid]["config"].get("materialized") == "incremental"
        and len(nodes[uid]["fqn"]) > 2
        and nodes[uid]["fqn"][1] in LAKE_FOLDERS
    )
    pruned = pruned_raw_partitions(duckdb_path()) if from_lake else []
    if pruned:
        raise Failure(
            description=(
                f"Retention removed {len(pruned)} raw partitions (audit.retention_log, e.g. "
                f"{pruned[0]}), so a full refresh of {', '.join(from_lake)} would rebuild them "
                "from the lake without those days and lose them. Exclude them (exclude: "
                "'path:models/staging path:models/audit') or restore the raw files first; "
                f"select {config.select!r}, exclude {config.exclude!r}."
            ),
            allow_retries=False,
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
        return iso_date(
            value,
            "as_of must be a date written YYYY-MM-DD, got {value!r} "
            "(registered dates: python -m warehouse.datasets list)",
        )


@op(pool=WAREHOUSE_POOL)
def rebuild_dataset_version(context: OpExecutionContext, config: DatasetRebuildConfig) -> None:
    """Rebuild the version from history (read-only) and compare it with the registry."""
    dataset = config.dataset.value
    as_of = date.fromisoformat(config.as_of)
    with retried_if_transient(context):
        try:
            report = rebuild(dataset, as_of)
        except LookupError as error:
            raise Failure(description=str(error), allow_retries=False) from error
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
            allow_retries=False,
        )
    context.log.info(
        f"{dataset} as of {as_of}: version {report.version.version_id} rebuilt bit for bit"
    )


@job(description="Rebuild a registered dataset version as of a date and compare fingerprints.")
def dataset_rebuild():
    rebuild_dataset_version()


class EraseCustomerConfig(Config):
    """Who is to be erased and on whose request. The identifier is used, never recorded in
    the warehouse; Dagster keeps a run's config in its run storage (docs/governance.md)."""

    customer_id: str = Field(default="", description="the customer's id, C + 7 digits")
    email: str = Field(default="", description="or an email address of the customer")
    request_reference: str = Field(
        description="ticket id of the request, e.g. DSR-2026-0042 (recorded; no personal data)"
    )
    requested_by: str = Field(description="who asked or approved, a role or staff id (recorded)")

    @model_validator(mode="after")
    def _a_valid_request(self) -> "EraseCustomerConfig":
        try:
            self.request("check")
        except SubjectError as error:
            raise ValueError(str(error)) from None
        return self

    def request(self, executed_by: str) -> ErasureRequest:
        return ErasureRequest(
            request_reference=self.request_reference,
            requested_by=self.requested_by,
            customer_id=self.customer_id or None,
            email=self.email or None,
            executed_by=executed_by,
        )


@op(pool=WAREHOUSE_POOL, required_resource_keys={"dbt"}, out={})
def erase_customer_everywhere(context: OpExecutionContext, config: EraseCustomerConfig):
    """Raw files, warehouse tables, snapshots, facts, features, exports and DuckLake
    snapshots lose the customer; derived tables are rebuilt by dbt; the result is verified
    and recorded in audit.erasure_log."""
    database = duckdb_path()
    request = config.request(executed_by=f"dagster run {context.run.run_id[:8]}")
    try:
        erasure = Erasure(request, progress=context.log.info)
    except (SubjectError, ErasureError) as error:
        # the message names files, tables and rules, never a value
        if is_lock_error(str(error)):
            raise locked_failure(database, str(error)) from None
        raise Failure(description=str(error)) from None
    try:
        if erasure.to_erase:
            erasure.remove_records()
            erasure.set_step("rebuild")
            yield from run_dbt(
                context,
                context.resources.dbt,
                REBUILD_ARGS,
                translator=WarehouseTranslator(code_references=False),
            )
        report = erasure.finish()
    except Exception as error:
        erasure.fail(error)
        if is_lock_error(str(error)):
            raise locked_failure(database, str(error)) from None
        # from None: the original exception may quote the data; the description does not
        raise Failure(
            description=(
                f"Erasure {erasure.report.erasure_id} failed at step '{erasure.step}' "
                f"({erasure.describe(error)}). What was removed stays removed; re-run the "
                "job with the same config to finish: it continues with the same people "
                "(audit.erasure_log has the record)."
            )
        ) from None
    context.log.info(
        f"erasure {report.erasure_id}: {report.status}; {report.customers_erased} customer(s), "
        f"{sum(report.rows_removed.values())} rows removed ({len(report.rows_removed)} places), "
        f"{report.files_rewritten} files rewritten, DuckLake snapshots expired "
        f"{report.ducklake_snapshots_expired}, {len(report.versions_not_reproducible)} dataset "
        f"versions no longer exactly reproducible; verified {report.places_verified} places"
    )


@job(
    description=(
        "Erasure on request: one customer (by id or email) out of the raw lake, staging, "
        "snapshots, facts, features, exports and published DuckLake versions; recorded in "
        "audit.erasure_log, with the dataset versions that can no longer be rebuilt exactly."
    ),
)
def erase_customer():
    erase_customer_everywhere()


_RETENTION_DEFAULTS = RetentionPolicy()


class RetentionConfig(Config):
    dry_run: bool = Field(default=True, description="only list what would go (default)")
    raw_days: int = Field(
        default=_RETENTION_DEFAULTS.raw_days, ge=1, description="keep raw partitions this many days"
    )
    snapshot_days: int = Field(
        default=_RETENTION_DEFAULTS.snapshot_days,
        ge=1,
        description="keep closed snapshot versions this many days after closing, unless pinned",
    )
    export_versions: int = Field(
        default=_RETENTION_DEFAULTS.export_versions,
        ge=1,
        description="keep this many newest exported versions of each dataset",
    )
    as_of: str = Field(default="", description="reference date YYYY-MM-DD (default today, UTC)")

    @field_validator("as_of")
    @classmethod
    def _iso_date_or_empty(cls, value: str) -> str:
        if value == "":
            return value
        return iso_date(
            value, "as_of must be a date written YYYY-MM-DD (or empty for today), got {value!r}"
        )


@op(pool=WAREHOUSE_POOL)
def apply_retention_policies(context: OpExecutionContext, config: RetentionConfig) -> list[str]:
    """List what the retention policies remove; unless dry_run, remove it and record it in
    audit.retention_log."""
    policy = RetentionPolicy(config.raw_days, config.snapshot_days, config.export_versions)
    as_of = date.fromisoformat(config.as_of) if config.as_of else None
    database = duckdb_path()
    with retried_if_transient(context):
        try:
            plan = plan_retention(policy, as_of)
            if not config.dry_run and plan.items():
                ensure_writable(database)
                apply_retention(plan)
        except Exception as error:
            if is_lock_error(str(error)):
                raise locked_failure(database, str(error)) from error
            raise
    items = [str(item) for item in plan.items()]
    verb = "would remove" if config.dry_run else "removed"
    for item in items:
        context.log.info(f"{verb} {item}")
    summary = plan.summary() + (" (dry run: nothing removed)" if config.dry_run else "")
    context.log.info(summary)
    context.add_output_metadata(
        {
            "summary": summary,
            "dry_run": MetadataValue.bool(config.dry_run),
            "items": MetadataValue.md("\n".join(f"- {verb} {item}" for item in items) or "nothing"),
        }
    )
    return items


@job(
    name="apply_retention",
    description=(
        "Retention: raw partitions, closed snapshot versions (except those registered dataset "
        "versions read) and dataset exports past their policy; dry_run (default) only lists."
    ),
)
def apply_retention_job():
    apply_retention_policies()


JOBS = [
    daily_warehouse_job,
    dataset_release_job,
    source_freshness_job,
    full_refresh,
    dataset_rebuild,
    erase_customer,
    apply_retention_job,
]
