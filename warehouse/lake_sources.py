"""The lake's feeds, as the sources YAML declares them, read from the dbt manifest.

A source table is lake-backed when its `meta` has a `lake` block (its contract: natural
key, required columns, delivery, on_conflict; docs/add-a-source.md). The contract's column
types are the columns' dbt `data_type` (DuckDB type names): the lake inventory quarantines a
file whose columns disagree with them (warehouse/lake_inventory.py). Its files land under
`<lake root>/<lake_subdir>/<table>/ingest_date=YYYY-MM-DD/`, where `lake_subdir` is the
system's folder in the lake (empty for a system at the root). dbt reads the same facts
through macros/lake_sources.sql; Python code that needs the list of feeds (the inventory
outside dbt, Dagster, governance) takes it from here, so a feed declared in YAML is
known everywhere and named nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.manifest import manifest_path, prepare
from warehouse.settings import WAREHOUSE_PACKAGE, dagster_dbt_project_dir, monitoring_off_reason

# How long a table may stay silent before the lake sensor stops waiting for it, when its
# system's YAML does not say (meta.lake_active_within_days).
DEFAULT_ACTIVE_WITHIN_DAYS = 7


class LakeContractError(ValueError):
    """A source's meta.lake cannot be honoured; the message names the file and the key."""


@dataclass(frozen=True)
class LakeSource:
    system: str
    table: str
    subdir: str
    natural_key: tuple[str, ...]
    required_columns: tuple[str, ...]
    active_within_days: int
    unique_id: str
    # (column, DuckDB type) of every declared column with a data_type, in YAML order
    column_types: tuple[tuple[str, str], ...] = ()
    # the natural key, the required columns, and the columns naming whose record a row is
    # or linking it to another (subject_key, subject_link): never read as another type
    key_columns: tuple[str, ...] = ()
    # columns the base model casts with safe_cast, quarantining what does not cast as
    # unparseable_value: a file holding them as text is read even where a value does not parse
    safe_cast_columns: tuple[str, ...] = ()

    @property
    def folder_in_lake(self) -> str:
        """The table's folder relative to the lake root, e.g. `orders` or `support/tickets`."""
        return f"{self.subdir}/{self.table}" if self.subdir else self.table

    def folder(self, lake_root: str | Path) -> Path:
        return Path(lake_root) / self.folder_in_lake

    @property
    def label(self) -> str:
        return f"{self.system}.{self.table}"


# A declared type is written into SQL (a cast): a DuckDB type name, nothing else.
DATA_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*(\([0-9, ]+\))?")
KEY_FLAGS = ("subject_key", "subject_link")


def _column_meta(column: Mapping[str, Any]) -> Mapping[str, Any]:
    return column.get("meta") or (column.get("config") or {}).get("meta") or {}


def _column_types(node: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    found = []
    for name, column in (node.get("columns") or {}).items():
        data_type = column.get("data_type")
        if data_type is None:
            continue
        if not isinstance(data_type, str) or not DATA_TYPE.fullmatch(data_type.strip()):
            raise LakeContractError(
                f"{where}: column {name}: data_type must be a DuckDB type name such as varchar, "
                "bigint, decimal(12, 2) or timestamp"
            )
        found.append((str(name), data_type.strip().lower()))
    return tuple(found)


def _lake_source(node: Mapping[str, Any]) -> LakeSource:
    meta = node["meta"]
    contract = meta["lake"]
    where = f"{node['original_file_path']}: source {node['source_name']}.{node['name']}, meta.lake"
    if not isinstance(contract, Mapping):
        raise LakeContractError(f"{where} must be a mapping (docs/add-a-source.md)")
    natural_key = contract.get("natural_key")
    if not isinstance(natural_key, list) or not natural_key or None in natural_key:
        raise LakeContractError(f"{where}.natural_key must list the columns that identify a record")
    required = contract.get("required_columns") or natural_key
    safe_cast = contract.get("safe_cast_columns") or []
    if not isinstance(safe_cast, list) or not all(isinstance(c, str) for c in safe_cast):
        raise LakeContractError(f"{where}.safe_cast_columns must list column names")
    columns = node.get("columns") or {}
    flagged = [
        str(name)
        for name, column in columns.items()
        if any(_column_meta(column).get(flag) for flag in KEY_FLAGS)
    ]
    keys = tuple(dict.fromkeys([*natural_key, *required, *flagged]))
    keyed = sorted(set(safe_cast) & set(keys))
    if keyed:
        raise LakeContractError(
            f"{where}.safe_cast_columns: {', '.join(keyed)} is a key column, which is never "
            "read as another type: take it off the list"
        )
    return LakeSource(
        system=node["source_name"],
        table=node["name"],
        subdir=str(meta.get("lake_subdir") or "").strip("/"),
        natural_key=tuple(natural_key),
        required_columns=tuple(required),
        active_within_days=int(meta.get("lake_active_within_days", DEFAULT_ACTIVE_WITHIN_DAYS)),
        unique_id=node["unique_id"],
        column_types=_column_types(node, where.removesuffix(", meta.lake")),
        key_columns=keys,
        safe_cast_columns=tuple(safe_cast),
    )


def lake_source_of_node(node: Mapping[str, Any]) -> LakeSource:
    """The contract of one source node (a manifest's, or the part of dbt's graph node the
    macro lake_file_inspections passes to the inventory), read by the same rules."""
    return _lake_source(node)


def lake_sources(manifest: Mapping[str, Any]) -> list[LakeSource]:
    """Every lake-backed source table of the warehouse's package (also in the monitoring
    overlay's manifest), sorted by system and table."""
    found = [
        _lake_source(node)
        for node in manifest["sources"].values()
        if "lake" in node.get("meta", {}) and node.get("package_name") == WAREHOUSE_PACKAGE
    ]
    return sorted(found, key=lambda source: (source.system, source.table))


def load_lake_sources(manifest_file: str | Path) -> list[LakeSource]:
    """`lake_sources` of a manifest.json (dbt's target/manifest.json)."""
    return lake_sources(json.loads(Path(manifest_file).read_text()))


def project_lake_sources(project_dir: Path | None = None) -> list[LakeSource]:
    """The lake sources of this dbt project, from its manifest (parsed first when stale,
    `make manifest`)."""
    project_dir = project_dir or dagster_dbt_project_dir(monitoring_off_reason())
    prepare(project_dir)
    return load_lake_sources(manifest_path(project_dir))
