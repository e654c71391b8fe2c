"""What the asset definitions read from the dbt config, rather than keep in Python.

dbt_project.yml gives every seed, model, snapshot and source a `meta.dagster`: the asset
group and owners (dagster-dbt's own `group` and `owners`, which its translator reads), and on
a few models a `freshness_policy` or `partitioned: false`. The root of its `models:` section
holds the project's default, group `warehouse`. docs/dagster.md lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from dagster import FreshnessPolicy

from warehouse.settings import REPO_ROOT


def dagster_meta(dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The node's `meta.dagster`, where dagster-dbt reads a group and owners from."""
    return dbt_resource_props.get("meta", {}).get("dagster") or {}


def freshness_policy(dbt_resource_props: Mapping[str, Any]) -> FreshnessPolicy | None:
    """A cron freshness policy from `meta.dagster.freshness_policy`: `deadline_cron`,
    `lower_bound_delta` (timedelta's arguments, e.g. {days: 3, hours: 9}), `timezone`."""
    policy = dagster_meta(dbt_resource_props).get("freshness_policy")
    if not policy:
        return None
    return FreshnessPolicy.cron(
        deadline_cron=policy["deadline_cron"],
        lower_bound_delta=timedelta(**policy["lower_bound_delta"]),
        timezone=policy.get("timezone", "UTC"),
    )


def partitioned_models(manifest: Mapping[str, Any], package: str) -> list[Mapping[str, Any]]:
    """The package's models Dagster partitions by ingest date: the incremental ones, but those
    whose meta says `partitioned: false` (incremental, but not by ingest date), and the views
    that read only partitioned models (a view over them changes with their partitions)."""
    models = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == package
    }
    partitioned = {
        uid
        for uid, node in models.items()
        if node["config"].get("materialized") == "incremental"
        and dagster_meta(node).get("partitioned", True)
    }
    views = {uid for uid, node in models.items() if node["config"].get("materialized") == "view"}
    while True:  # views of views: until nothing more joins
        joining = {
            uid
            for uid in views - partitioned
            if all(parent in partitioned for parent in manifest["parent_map"][uid])
        }
        if not joining:
            return [models[uid] for uid in sorted(partitioned)]
        partitioned |= joining


def ancestors(manifest: Mapping[str, Any], unique_id: str | None) -> set[str]:
    parent_map = manifest["parent_map"]
    seen: set[str] = set()
    frontier = list(parent_map.get(unique_id or "", []))
    while frontier:
        node = frontier.pop()
        if node not in seen:
            seen.add(node)
            frontier.extend(parent_map.get(node, []))
    return seen


def project_default(package: str, project_file: Path = REPO_ROOT / "dbt_project.yml") -> dict:
    """The `meta.dagster` at the root of the project's `models:` config: what a model outside
    every layer folder gets. The manifest holds only each node's merged meta, so it is read
    from dbt_project.yml itself."""
    models = (yaml.safe_load(project_file.read_text()).get("models") or {}).get(package) or {}
    return dict((models.get("+meta") or {}).get("dagster") or {})


def group_owners(manifest: Mapping[str, Any], package: str, group: str) -> list[str]:
    """The owners the dbt config declares for an asset group (the project's default, and the
    `meta.dagster` of the package's seeds, models, snapshots and sources): what an asset
    defined outside dbt in that group takes. Exactly one list of owners, or ValueError."""
    nodes = [*manifest["nodes"].values(), *manifest["sources"].values()]
    metas = [project_default(package)]
    metas += [dagster_meta(node) for node in nodes if node["package_name"] == package]
    declared = {
        tuple(meta["owners"]) for meta in metas if meta.get("group") == group and meta.get("owners")
    }
    if len(declared) != 1:
        found = " and ".join(str(list(owners)) for owners in sorted(declared)) or "none"
        raise ValueError(
            f"The dbt config declares {found} as owners of the asset group {group!r}, which an "
            "asset outside dbt takes: declare one list in meta.dagster in dbt_project.yml"
        )
    return list(declared.pop())
