"""The asset graph: raw lake partitions, two sets of dbt assets, and the publication.

- Raw sources are external assets partitioned by ingest date, one per lake-backed table of
  every source system the dbt sources YAML declares: the lake is filled by the systems'
  exports, not by us (the lake sensor records each new day).
- `partitioned_models`: the models dbt builds incrementally by ingest date (staging, audit,
  the session parts, fct_orders, ml_customer_features) and the views that only read them
  (int_), partitioned by day. A run of a partition or of a range of them (one run per
  backfill) passes the range to dbt as its window (partitions.py).
- `warehouse_models`: everything else (seeds, snapshots, dims, labels, training set,
  exports and the append-only dataset registry), unpartitioned, once per run.

Why two sets and not three (snapshots on their own): Dagster runs a set once per stretch of
the graph between the other set's assets, and each of those steps is a dbt process, with
its own start-up and parsing. The views go with the partitioned models they sit between, and
snapshots with the dims that read them, so a whole-graph run is five dbt steps, not eight.
(The base_ views stay with the seeds they join: in the partitioned set they would need a
step of their own after the seeds'.)
- `dataset_publication`: the newest registered dataset version in DuckLake and Parquet.
- `warehouse_read_copy`: the copy readers use during a build, refreshed at the end of a run.

Which of them run when is the jobs' business (orchestration/jobs.py): the daily build, and
the weekly dataset release (dbt tag `dataset_release`: the training set, its export and the
registry, then the publication).

Every dbt test is an asset check on its model; tests of severity error are blocking, so a
failure stops the assets downstream of it. Each step's failures leave it classified as
transient or not (orchestration/lib/retries.py): the jobs retry only the transient ones.
Every step that writes the warehouse is in the pool `warehouse` (limit 1): DuckDB has one
writer per file.

Groups, owners, freshness policies and which incremental models are not partitioned are dbt
config (`meta.dagster` in dbt_project.yml, orchestration/lib/dbt_meta.py); the assets
defined here outside dbt take their group's owners from there too.
"""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.lib.dbt_build import run_dbt, target_root
from orchestration.lib.dbt_meta import (
    ancestors,
    freshness_policy,
    group_owners,
    partitioned_models,
)
from orchestration.lib.lake_sources import raw_asset_key
from orchestration.lib.retries import failures_classified
from orchestration.lib.warehouse_lock import WAREHOUSE_POOL, ensure_writable
from orchestration.partitions import daily_partitions, run_window, window_environment
from orchestration.project import manifest, warehouse_lake_sources, warehouse_project
from warehouse.backup import publish_read_copy
from warehouse.datasets import REGISTRY_TABLE, publish_latest
from warehouse.lake_inventory import unlisted_files
from warehouse.settings import WAREHOUSE_PACKAGE, duckdb_path, lake_dir

MANIFEST_PATH = warehouse_project.manifest_path

# The ML layer refreshes by itself when something upstream changes. Not `eager()` as is:
# its "no dependency missing" clause counts every daily partition of the partitioned
# upstream models, and days before the lake starts or after a replayed sample ends are
# never materialised. Not the dataset release: it runs on its own schedule, not on every
# upstream change.
RELEASE_TAG = "dataset_release"
ML_AUTOMATION = (
    AutomationCondition.eager()
    .without(~AutomationCondition.any_deps_missing())
    .with_label("eager (ML layer)")
)

# The partitioned models by fully qualified name (which tells versions apart).
PARTITIONED_FQNS = sorted(
    ".".join(node["fqn"]) for node in partitioned_models(manifest(), WAREHOUSE_PACKAGE)
)

# dbt selections of the two sets; together they hold every seed, model and snapshot of the
# warehouse once. (Through the monitoring overlay the manifest also has Elementary's own
# result tables: they are not business assets, see orchestration/monitoring.py.)
PARTITIONED_SELECT = " ".join(f"fqn:{fqn}" for fqn in PARTITIONED_FQNS)
UNPARTITIONED_SELECT = f"package:{WAREHOUSE_PACKAGE}"
UNPARTITIONED_EXCLUDE = PARTITIONED_SELECT


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys assets by warehouse relation (`<schema>/<table>`, raw sources
    `raw/<system>/<table>`), sets freshness policies from dbt meta and the ML layer's
    automation. Groups and owners: dagster-dbt's own, from `meta.dagster`."""

    def __init__(self, code_references: bool = True) -> None:
        # Code references (a link to the model's file) need the DbtProject, which dbt
        # commands run from plain ops (the full refresh job) do not pass.
        super().__init__(
            DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_code_references=code_references
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"]])

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> AutomationCondition | None:
        if (
            self.get_group_name(dbt_resource_props) == "ml"
            and ".".join(dbt_resource_props["fqn"]) not in PARTITIONED_FQNS
            and RELEASE_TAG not in dbt_resource_props["config"].get("tags", [])
        ):
            return ML_AUTOMATION
        return None

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        """dagster-dbt makes tests of severity error blocking. A test that also reads a model
        that is not upstream of the tested one (a relationships test from fct_orders to
        dim_customers) can only run after that model, so it cannot gate what comes after
        the tested model; it stays a check, reported but not blocking. Elementary's monitors
        (monitoring overlay) observe and never block: an anomaly is a question for a person,
        and stopping the ML layer would hide how far it reaches."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or not spec.blocking:
            return spec
        test_metadata = manifest["nodes"][unique_id].get("test_metadata") or {}
        if test_metadata.get("namespace") == "elementary":
            return spec._replace(blocking=False)
        tested = asset_spec.metadata.get("dagster_dbt/unique_id")
        upstream = ancestors(manifest, tested) | {tested}
        if set(manifest["parent_map"].get(unique_id, [])) - upstream:
            return spec._replace(blocking=False)
        return spec

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        policy = freshness_policy(self.get_resource_props(manifest, unique_id))
        return spec.replace_attributes(freshness_policy=policy) if policy else spec


translator = WarehouseTranslator()


def raw_source_specs() -> list[AssetSpec]:
    """One external asset per lake-backed source table, partitioned by ingest date, described
    from the dbt sources YAML (group and owners from its meta, as for the dbt assets)."""
    sources = manifest()["sources"]
    return [
        AssetSpec(
            key=raw_asset_key(source),
            group_name=translator.get_group_name(sources[source.unique_id]),
            description=sources[source.unique_id]["description"],
            kinds={"parquet"},
            owners=translator.get_owners(sources[source.unique_id]),
            partitions_def=daily_partitions,
            metadata={
                "lake_path": MetadataValue.path(str(source.folder(lake_dir()))),
                "partition_folder": "ingest_date=YYYY-MM-DD/part-0.parquet",
            },
        )
        for source in warehouse_lake_sources()
    ]


# The base_ views read the files listed by the lake inventory when they were built
# (macros/lake_files.sql): the views that read both the inventory and a source. A
# whole-graph run rebuilds them first; a run of this set alone refreshes them when files
# landed since, so it never misses a new day.
LAKE_READERS = "lake_file_inventory lake_file_inventory+1,source:*+1,config.materialized:view"


def refresh_lake_reads(context: AssetExecutionContext, dbt: DbtCliResource) -> None:
    ensure_writable(duckdb_path())  # a writer outside Dagster: the step's clear failure
    unlisted = unlisted_files(duckdb_path(), lake_dir(), warehouse_lake_sources())
    if not unlisted:
        return
    context.log.info(
        f"{len(unlisted)} landed file(s) are not in the base views' file lists yet (first: "
        f"{unlisted[0]}): rebuilding lake_file_inventory and the base_ views first"
    )
    with window_environment(None):  # every landed file: the views list them all
        dbt.cli(
            ["run", "--select", LAKE_READERS],
            raise_on_error=True,
            target_path=target_root() / "steps" / f"lake-readers-{context.run.run_id[:7]}",
        ).wait()


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=warehouse_project,
    select=PARTITIONED_SELECT,
    name="partitioned_models",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def partitioned_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Models by ingest date: the run's partition range is the dbt window."""
    window = run_window(context)
    context.log.info(f"dbt window: ingest dates {window} ({window.environment()})")
    with failures_classified():
        refresh_lake_reads(context, dbt)
        yield from run_dbt(
            context,
            dbt,
            ["build"],
            window=window,
            metadata={"ingest_window": MetadataValue.json(window.dbt_vars)},
        )


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=warehouse_project,
    select=UNPARTITIONED_SELECT,
    exclude=UNPARTITIONED_EXCLUDE,
    name="warehouse_models",
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def warehouse_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Seeds, snapshots, the models rebuilt whole each run, and the dataset registry."""
    with failures_classified():
        yield from run_dbt(context, dbt, ["build"], indirect_selection="buildable")


DBT_ASSETS = [partitioned_models, warehouse_models]


def registry_key() -> AssetKey:
    """The dataset registry's model (warehouse/datasets.py names its relation)."""
    node = next(
        node
        for node in manifest()["nodes"].values()
        if node["resource_type"] == "model"
        and f"{node['schema']}.{node['alias']}" == REGISTRY_TABLE
        and node["package_name"] == WAREHOUSE_PACKAGE
    )
    return translator.get_asset_key(node)


@asset(
    deps=[registry_key()],
    group_name="ml",
    kinds={"ducklake", "parquet"},
    owners=group_owners(manifest(), WAREHOUSE_PACKAGE, "ml"),
    pool=WAREHOUSE_POOL,
)
def dataset_publication() -> MaterializeResult:
    """The newest registered version of each dataset, published to the DuckLake catalog (a
    snapshot id to time-travel to) and exported as Parquet under a path named by its version."""
    database = duckdb_path()
    with failures_classified():
        ensure_writable(database)
        publications = publish_latest(database)
    metadata: dict[str, Any] = {}
    for publication in publications:
        # exports/<dataset>/version=<id>/<dataset>.parquet
        dataset = publication.export_path.parent.parent.name
        metadata[f"{dataset}/version_id"] = publication.version_id
        metadata[f"{dataset}/fingerprint"] = publication.fingerprint
        metadata[f"{dataset}/export_path"] = MetadataValue.path(str(publication.export_path))
    if publications:
        metadata["ducklake_snapshot_id"] = max(p.ducklake_snapshot_id for p in publications)
    return MaterializeResult(metadata=metadata)


def last_written_keys() -> list[AssetKey]:
    """The warehouse's dbt assets that no other dbt asset reads: every other one is upstream
    of one of them, so an asset depending on these comes after all of a run's dbt steps."""
    nodes, child_map = manifest()["nodes"], manifest()["child_map"]
    buildable = {
        uid
        for uid, node in nodes.items()
        if node["resource_type"] in {"model", "seed", "snapshot"}
        and node["package_name"] == WAREHOUSE_PACKAGE
    }
    return sorted(
        translator.get_asset_key(nodes[uid])
        for uid in buildable
        if not set(child_map.get(uid, [])) & buildable
    )


@asset(
    deps=[*last_written_keys(), dataset_publication],
    group_name="warehouse",
    kinds={"duckdb"},
    owners=group_owners(manifest(), WAREHOUSE_PACKAGE, "warehouse"),
    pool=WAREHOUSE_POOL,
)
def warehouse_read_copy() -> MaterializeResult:
    """The copy of the whole warehouse that readers open while the next build writes
    (warehouse/backup.py): published last in every daily run and every release."""
    database = duckdb_path()
    with failures_classified():
        ensure_writable(database)
        published = publish_read_copy(database)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(published))})
