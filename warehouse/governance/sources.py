"""The lake's feeds as the sources YAML declares them, read from the dbt manifest.

Governance names no system, table or model: erasure, retention, salt rotation and the PII
policy ask this module which source tables are backed by the lake, where their files are,
which warehouse table stages each, and how their columns identify a data subject. All of
it is declared in the sources YAML (models/staging/<system>/_<system>__sources.yml), so a
system onboarded with YAML and SQL only is governed from its first run.

A source table is lake-backed when its meta (the source's keys merged with the table's, as
the manifest holds them) has a `lake` contract; its files are under
`<lake root>/<lake_subdir>/<table>/` (warehouse/lake_sources.py), one
`<partition>=YYYY-MM-DD` folder per landing day (`meta.lake.partition`). Its base model is
the model that selects from the source; its staging model is the model that selects from
the base model and from no other lake table's base model, found through `depends_on`.

Column meta that links rows to a data subject (docs/governance.md):

- `subject_key: true`: the subject's id (a customer id). A row whose key is the subject's
  is the subject's. `subject_id_pattern: <regex>` beside it is the format an id named in
  an erasure request must have.
- `subject_identifier: <kind>` (email, phone, ...): a direct identifier of the row's
  subject. Compared after lower(trim()), in clear in the lake and through its keyed
  pseudonym in staging. A row holding one of the subject's identifiers of that kind is the
  subject's, and so are the ids of such rows: accounts sharing an email are one person.
- `subject_link: true`: a value the subject owns when the row is the subject's (an order
  id, a session id); rows anywhere holding it are erased with the subject.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from warehouse.governance.classification import column_meta, is_ours
from warehouse.lake_inventory import partition_date
from warehouse.lake_sources import lake_sources
from warehouse.settings import lake_dir

SUBJECT_KEY = "subject_key"
SUBJECT_ID_PATTERN = "subject_id_pattern"
SUBJECT_IDENTIFIER = "subject_identifier"
SUBJECT_LINK = "subject_link"
# `{{ pseudonymise('email') }} as email_pseudonym` in a staging model's SQL
PSEUDONYMISED = re.compile(r"pseudonymise\(\s*'(\w+)'\s*\)\s*}}\s*as\s+(\w+)")
NAME = re.compile(r"\w+")


class LakeSourceError(RuntimeError):
    """The manifest's lake sources cannot be read as governance needs them."""


@dataclass(frozen=True)
class StagingModel:
    """The warehouse table a lake table is staged into."""

    unique_id: str
    schema: str
    name: str
    # source column → the staging column holding its keyed pseudonym
    pseudonyms: Mapping[str, str] = field(default_factory=dict)

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class LakeTable:
    """One lake-backed source table: where its files are, how it identifies a subject."""

    unique_id: str
    system: str  # the source's name in the YAML
    name: str  # the table's name, also its folder's
    lake_dir: Path
    partition: str | None
    columns: Mapping[str, Mapping[str, Any]]  # column → its meta
    staging: StagingModel | None = None

    @property
    def folder(self) -> Path:
        return self.lake_dir / self.name

    @property
    def subject_keys(self) -> tuple[str, ...]:
        return tuple(c for c, meta in self.columns.items() if meta.get(SUBJECT_KEY))

    @property
    def identifiers(self) -> dict[str, str]:
        """Identifier column → its kind."""
        return {
            c: str(meta[SUBJECT_IDENTIFIER])
            for c, meta in self.columns.items()
            if meta.get(SUBJECT_IDENTIFIER)
        }

    @property
    def links(self) -> tuple[str, ...]:
        return tuple(c for c, meta in self.columns.items() if meta.get(SUBJECT_LINK))

    @property
    def id_patterns(self) -> tuple[str, ...]:
        return tuple(
            str(meta[SUBJECT_ID_PATTERN])
            for meta in self.columns.values()
            if meta.get(SUBJECT_KEY) and meta.get(SUBJECT_ID_PATTERN)
        )

    @property
    def identifies_subjects(self) -> bool:
        return bool(self.subject_keys or self.identifiers)

    def files(self) -> list[Path]:
        """The Parquet files under the table's folder, at any depth, sorted."""
        folder = self.folder
        return sorted(folder.rglob("*.parquet")) if folder.is_dir() else []

    def partitions(self) -> list[tuple[date, Path]]:
        """The table's landing-day folders (`<partition>=YYYY-MM-DD`), by day."""
        if not self.partition or not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob(f"{self.partition}=*")):
            day = self.day_of(path.name)
            if day is not None and path.is_dir():
                found.append((day, path))
        return found

    def day_of(self, folder_name: str) -> date | None:
        day = partition_date(folder_name, self.partition) if self.partition else None
        return date.fromisoformat(day) if day else None

    def landing_day(self, path: Path) -> date | None:
        """The landing day of a file of this table (from its partition folder), if any."""
        for part in path.relative_to(self.folder).parts[:-1]:
            day = self.day_of(part)
            if day is not None:
                return day
        return None


def _models(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and is_ours(node)
    }


def _depends_on(node: Mapping[str, Any]) -> set[str]:
    return set((node.get("depends_on") or {}).get("nodes") or [])


def _under(path: str, folder: str) -> bool:
    return bool(folder) and (path == folder or path.startswith(folder.rstrip("/") + "/"))


def _staging_models(
    manifest: Mapping[str, Any], sources: Mapping[str, Mapping[str, Any]]
) -> dict[str, StagingModel | None]:
    """Source unique id → its staging model (None when it has none)."""
    models = _models(manifest)
    bases = {
        uid: sorted(m for m, node in models.items() if uid in _depends_on(node)) for uid in sources
    }
    every_base = {base for found in bases.values() for base in found}
    staged: dict[str, StagingModel | None] = {}
    for uid, source in sources.items():
        candidates = sorted(
            m
            for m, node in models.items()
            if _depends_on(node) & set(bases[uid])
            and not _depends_on(node) & (every_base - set(bases[uid]))
            and m not in every_base
        )
        if len(candidates) > 1:  # the one beside the sources YAML, should several qualify
            folder = os.path.dirname(source.get("original_file_path") or "")
            beside = [m for m in candidates if _under(models[m]["original_file_path"], folder)]
            candidates = beside or candidates
        if len(candidates) > 1:
            raise LakeSourceError(
                f"{source['source_name']}.{source['name']} has {len(candidates)} models that "
                f"read only its base model ({', '.join(candidates)}): governance cannot tell "
                "which is its staging model; keep one staging model per lake table."
            )
        if not candidates:
            staged[uid] = None
            continue
        node = models[candidates[0]]
        pseudonyms = {raw: pseudonym for raw, pseudonym in PSEUDONYMISED.findall(node["raw_code"])}
        staged[uid] = StagingModel(
            node["unique_id"], node["schema"], node.get("alias") or node["name"], pseudonyms
        )
    return staged


def lake_tables(manifest: Mapping[str, Any], lake: Path | None = None) -> list[LakeTable]:
    """Every lake-backed source table of the manifest, by system and name, under the lake
    root `lake` (default WAREHOUSE_LAKE_DIR): each system's folder is its `lake_subdir`
    there (warehouse/lake_sources.py)."""
    root = (lake or lake_dir()).resolve()
    subdirs = {source.unique_id: source.subdir for source in lake_sources(manifest)}
    sources = {uid: manifest["sources"][uid] for uid in subdirs}
    staged = _staging_models(manifest, sources)
    tables = []
    for uid, source in sources.items():
        tables.append(
            LakeTable(
                unique_id=uid,
                system=source["source_name"],
                name=source["name"],
                lake_dir=root / subdirs[uid] if subdirs[uid] else root,
                partition=source["meta"]["lake"].get("partition"),
                columns={name: dict(column_meta(c)) for name, c in source["columns"].items()},
                staging=staged[uid],
            )
        )
    return sorted(tables, key=lambda t: (t.system, t.name))


def table_of(tables: Iterable[LakeTable], path: Path) -> LakeTable | None:
    """The lake table a file belongs to (the deepest folder holding it), if any."""
    holding = [t for t in tables if path.is_relative_to(t.folder)]
    return max(holding, key=lambda t: len(t.folder.parts)) if holding else None


def subject_key_columns(manifest: Mapping[str, Any]) -> set[str]:
    """The names of the columns declared `subject_key: true` anywhere (sources, models)."""
    return {
        name
        for node in [*manifest["sources"].values(), *manifest["nodes"].values()]
        if is_ours(node)
        for name, column in (node.get("columns") or {}).items()
        if column_meta(column).get(SUBJECT_KEY)
    }


def id_patterns(tables: Sequence[LakeTable]) -> list[str]:
    return sorted({pattern for t in tables for pattern in t.id_patterns})


def load_manifest() -> dict[str, Any]:
    """The dbt manifest Dagster loads, parsed first when older than the project's files
    (warehouse.manifest): the sources YAML as it is now."""
    from warehouse.manifest import manifest_path, prepare
    from warehouse.settings import dagster_dbt_project_dir, monitoring_off_reason

    project_dir = dagster_dbt_project_dir(monitoring_off_reason())
    prepare(project_dir)
    return json.loads(manifest_path(project_dir).read_text())
