"""The asset graph: raw lake folders, then every dbt seed, model and snapshot.

Raw sources are external assets (the lake is filled by the shop's export, not by us), so
lineage in the UI starts at the files. dbt tests become asset checks on their models.
"""

import json
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.datasets import publish_latest
from orchestration.project import lake_dir, warehouse_project

# dbt folders (the second element of a node's fqn) and the Dagster group each lands in.
LAYER_GROUPS = {
    "staging": "staging",
    "audit": "audit",
    "intermediate": "intermediate",
    "marts": "marts",
    "ml": "ml",
}


class WarehouseTranslator(DagsterDbtTranslator):
    """Groups assets by warehouse layer and keys raw sources under `raw/`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return "raw"
        if resource_type == "seed":
            return "reference"
        if resource_type == "snapshot":
            return "snapshots"
        folder = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else ""
        return LAYER_GROUPS.get(folder, "warehouse")


translator = WarehouseTranslator()


def raw_source_specs() -> list[AssetSpec]:
    """One external asset per lake folder, described from the dbt sources YAML."""
    manifest = json.loads(warehouse_project.manifest_path.read_text())
    return [
        AssetSpec(
            key=translator.get_asset_key(source),
            group_name="raw",
            description=source["description"],
            kinds={"parquet"},
            metadata={"lake_path": str(lake_dir() / source["name"])},
        )
        for source in manifest["sources"].values()
    ]


@dbt_assets(
    manifest=warehouse_project.manifest_path,
    project=warehouse_project,
    dagster_dbt_translator=translator,
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected seeds, models and snapshots, with their tests as checks."""
    yield from dbt.cli(["build"], context=context).stream()


@asset(
    deps=[AssetKey("ml_dataset_versions")],
    group_name="ml",
    kinds={"ducklake", "parquet"},
)
def dataset_publication() -> MaterializeResult:
    """The newest registered version of each dataset, published to the DuckLake catalog (a
    snapshot id to time-travel to) and exported as Parquet under a path named by its version."""
    metadata = {}
    for publication in publish_latest():
        # exports/<dataset>/version=<id>/<dataset>.parquet
        dataset = publication.export_path.parent.parent.name
        metadata[f"{dataset}/version_id"] = publication.version_id
        metadata[f"{dataset}/ducklake_snapshot_id"] = publication.ducklake_snapshot_id
        metadata[f"{dataset}/fingerprint"] = publication.fingerprint
        metadata[f"{dataset}/export_path"] = MetadataValue.path(str(publication.export_path))
    return MaterializeResult(metadata=metadata)
