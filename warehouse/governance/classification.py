"""The PII policy's rules over what the project declares: each column's classification in
the YAML, and the columns the lake's files hold against the sources YAML.

These rules need no lineage, so this module imports nothing heavier than the plugin dbt
loads anyway (no sqlglot), and both checks run this one definition of each rule and its
message, so they can never disagree:

- the dbt hook `check_pii_policy` (macros/pii_policy.sql, on-run-start of every dbt
  command), through the DuckDB function `pii_policy_problems` that
  warehouse/duckdb_plugin.py registers with `problems_json`;
- `python -m warehouse.governance.policy` (`check`), which adds the lineage rules.

The rules read a manifest's shape: `sources` and `nodes` by unique id, each with
package_name, resource_type, name, original_file_path, patch_path, fqn, source_name (a
source's) and columns {name: {meta}}. The hook passes only these facts from dbt's graph,
plus `landed`: the columns the lake's files hold, by source (the hook reads them from the
warehouse's lake inventory, the Python check from the files: warehouse.governance.policy).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from warehouse.settings import WAREHOUSE_PACKAGE

LEVELS = ("direct", "quasi", "none")
PROTECTED_FOLDERS = ("marts", "ml")  # "a mart or ML model"; ml/exports included
EXPORT_FOLDER = "exports"


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


@dataclass(frozen=True)
class LandedColumns:
    """The columns a source's lake files hold, and the folder they were read from."""

    folder: str
    columns: frozenset[str]


def column_meta(column: Mapping[str, Any]) -> Mapping[str, Any]:
    return column.get("meta") or (column.get("config") or {}).get("meta") or {}


def yaml_file(node: Mapping[str, Any]) -> str:
    return (node.get("patch_path") or "").split("://")[-1] or node["original_file_path"]


def is_ours(node: Mapping[str, Any]) -> bool:
    return node["package_name"] == WAREHOUSE_PACKAGE


def _folder(node: Mapping[str, Any]) -> str:
    return node["fqn"][1] if len(node["fqn"]) > 2 else ""


def is_protected(node: Mapping[str, Any]) -> bool:
    return node["resource_type"] == "model" and _folder(node) in PROTECTED_FOLDERS


def is_export(node: Mapping[str, Any]) -> bool:
    return node["resource_type"] == "model" and EXPORT_FOLDER in node["fqn"][1:-1]


def where(node: Mapping[str, Any], column: str | None = None) -> str:
    """The YAML file and the node (a source with its source name), and the column if any."""
    name = (
        f"{node['source_name']}.{node['name']}"
        if node["resource_type"] == "source"
        else node["name"]
    )
    return f"{yaml_file(node)}: {name}" + (f".{column}" if column is not None else "")


def _ours(nodes: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [node for node in nodes.values() if is_ours(node)]


def _models_and_snapshots(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [n for n in _ours(manifest["nodes"]) if n["resource_type"] in ("model", "snapshot")]


def source_violations(manifest: Mapping[str, Any]) -> list[Violation]:
    """source-column-unclassified: every source column has a valid `pii`."""
    return [
        Violation(
            "source-column-unclassified",
            where(source, name),
            "classify it: config: {meta: {pii: direct|quasi|none}}",
        )
        for source in _ours(manifest["sources"])
        for name, column in source["columns"].items()
        if column_meta(column).get("pii") not in LEVELS
    ]


def undeclared_lake_columns(
    manifest: Mapping[str, Any], landed: Mapping[str, LandedColumns]
) -> list[Violation]:
    """lake-column-undeclared: every column the lake's files hold (`landed`, by the
    source's unique id) is declared, and so classified, in the sources YAML."""
    found = []
    for uid, source in manifest["sources"].items():
        if not is_ours(source) or uid not in landed:
            continue
        for name in sorted(landed[uid].columns - set(source["columns"])):
            found.append(
                Violation(
                    "lake-column-undeclared",
                    where(source),
                    f"the lake's files ({landed[uid].folder}) have a column {name!r} that is "
                    "not declared: add it with a description and config: {meta: {pii: "
                    "direct|quasi|none}} before it is used (a raw record in the quarantine "
                    "already carries it)",
                )
            )
    return found


def _invalid_combinations(meta: Mapping[str, Any]) -> list[str]:
    level = meta.get("pii")
    problems = []
    if level is not None and level not in LEVELS:
        problems.append(f"pii must be one of {', '.join(LEVELS)}, not {level!r}")
    if meta.get("pseudonymised") and level != "direct":
        problems.append("pseudonymised goes with pii: direct")
    if meta.get("pii_exception") and level != "direct":
        problems.append("pii_exception goes with pii: direct")
    if meta.get("subject_key") and level != "quasi":
        problems.append("subject_key goes with pii: quasi")
    # how a column links rows to a data subject (warehouse/governance/sources.py)
    pattern = meta.get("subject_id_pattern")
    if pattern is not None:
        if not meta.get("subject_key"):
            problems.append("subject_id_pattern goes with subject_key: true")
        try:
            re.compile(str(pattern))
        except re.error:
            problems.append("subject_id_pattern must be a regular expression")
    kind = meta.get("subject_identifier")
    if kind is not None:
        if level != "direct":
            problems.append("subject_identifier goes with pii: direct")
        if not (isinstance(kind, str) and re.fullmatch(r"[a-z][a-z0-9_]*", kind)):
            problems.append("subject_identifier names a kind of identifier, e.g. email or phone")
        if meta.get("pseudonymised"):
            problems.append("subject_identifier goes on the column in clear, not its pseudonym")
    if meta.get("subject_link") and (meta.get("subject_key") or kind is not None):
        problems.append("subject_link goes on neither a subject_key nor a subject_identifier")
    return problems


def declaration_violations(manifest: Mapping[str, Any]) -> list[Violation]:
    """classification-invalid, and what the declarations alone show of
    direct-pii-unpseudonymised: a mart or ML column declared direct in clear."""
    found = []
    for node in [*_models_and_snapshots(manifest), *_ours(manifest["sources"])]:
        for name, column in node["columns"].items():
            meta = column_meta(column)
            at = where(node, name)
            found += [
                Violation("classification-invalid", at, p) for p in _invalid_combinations(meta)
            ]
            if (
                meta.get("pii") != "direct"
                or meta.get("pseudonymised")
                or node["resource_type"] == "source"
            ):
                continue
            if is_protected(node):
                found.append(
                    Violation(
                        "direct-pii-unpseudonymised",
                        at,
                        "a mart or ML column may hold a direct identifier only as a keyed "
                        "pseudonym: use {{ pseudonymise(...) }} upstream and declare it "
                        "pseudonymised: true, or drop the column",
                    )
                )
            elif not meta.get("pii_exception"):
                found.append(
                    Violation(
                        "classification-invalid",
                        at,
                        "a direct identifier in clear needs pii_exception: <why it is kept>",
                    )
                )
    return found


def declared_violations(
    manifest: Mapping[str, Any], landed: Mapping[str, LandedColumns]
) -> list[Violation]:
    """Every violation of the rules that need no lineage, sorted."""
    found = (
        source_violations(manifest)
        + undeclared_lake_columns(manifest, landed)
        + declaration_violations(manifest)
    )
    return sorted(set(found))


def problems_json(facts: str) -> list[str]:
    """The body of the DuckDB function `pii_policy_problems`: the facts the dbt hook gathers
    (a manifest's shape, as JSON text, with `landed`: {source unique id: {folder,
    columns}}) in, each violation as text out."""
    manifest = json.loads(facts)
    landed = {
        uid: LandedColumns(entry["folder"], frozenset(entry["columns"]))
        for uid, entry in (manifest.get("landed") or {}).items()
    }
    return [str(violation) for violation in declared_violations(manifest, landed)]
