"""The PII policy, checked over the dbt manifest (and the lake's files).

    python -m warehouse.governance.policy     # compile, check; exit 1 on a violation
    python -m warehouse.governance.policy --manifest target/manifest.json

Classification lives in the YAML beside each source and model, on the column:
`config: {meta: {pii: direct|quasi|none}}`, with

- `pseudonymised: true` on a `direct` column that holds a keyed pseudonym (macro
  `pseudonymise`), not the value;
- `subject_key: true` on the customer id (quasi: meaningless outside the source systems,
  but it links every row of a person; erasure keys on it), with, on a source column,
  `subject_id_pattern: <regex>` the format of an id an erasure request names;
- on source columns, what else links rows to a person (warehouse.governance.sources):
  `subject_identifier: <kind>` on a direct identifier in clear (email, phone), and
  `subject_link: true` on a value the person's rows own (an order id);
- `pii_exception: <why>` on a `direct` column deliberately kept in clear outside the marts
  and ML layers (the base views over the raw lake; the quarantine's raw records).

Rules (each violation names the YAML file, the model and column, the rule, and what to do):

- source-column-unclassified: every source column has a valid `pii`.
- lake-column-undeclared: every column in the lake's Parquet files is declared (and so
  classified) in the sources YAML: a new column in a feed fails until someone classifies it.
- classification-invalid: `pii` is direct, quasi or none; `pseudonymised` and
  `pii_exception` go with direct, `subject_key` with quasi; `subject_id_pattern` goes with
  `subject_key` and is a regular expression, `subject_identifier` with direct (in clear)
  and names a kind, `subject_link` with neither; a direct identifier declared in clear
  outside the marts and ML layers has a `pii_exception`.
- direct-pii-unpseudonymised: no column of a mart or ML model (exports included) carries a
  direct identifier except through a keyed pseudonym: neither as declared nor as found by
  column lineage over the compiled SQL (sqlglot, warehouse.column_lineage), where a value
  hashed with SHA-2 or MD5 in a column declared `pseudonymised: true` counts as
  pseudonymised from there on.
- direct-pii-without-exception: elsewhere, a column carrying a direct identifier in clear is
  declared `pii: direct` with a `pii_exception`.
- personal-column-unclassified: every model or snapshot column computed from a direct or
  quasi column is classified at least as such (lineage, plus the declared classification of
  each column on the way, so a raw record rendered as JSON still counts).
- export-quasi-identifier-unprotected: a quasi-identifier in an export is either the subject
  key or one of the quasi-identifiers its `k_anonymous` test generalises.

The rules that read only the declarations (the first three, and direct-pii-unpseudonymised
as declared) are defined once, in warehouse.governance.classification: the dbt hook
`check_pii_policy` (macros/pii_policy.sql, on-run-start) runs them on every dbt command
through the project's DuckDB plugin, and `check` here runs the same functions and adds the
lineage rules (make test runs it, tests/python/integration/test_policy.py).
"""

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from warehouse.column_lineage import ColumnLineage, LineageError, compiled_manifest
from warehouse.governance.classification import (
    LandedColumns,
    Violation,
    column_meta,
    declared_violations,
    is_export,
    is_ours,
    is_protected,
    where,
)
from warehouse.governance.sources import lake_tables
from warehouse.settings import REPO_ROOT, lake_dir

HASHES = (exp.SHA2, exp.SHA, exp.MD5)
K_ANONYMITY_TEST = "k_anonymous"


@dataclass(frozen=True)
class Flow:
    """Personal data reaching a column: from where, how sensitive, and whether hashed."""

    origin: str
    level: str
    hashed: bool
    key: bool = False  # the subject key itself: personal only where the key is passed on


def landed_columns(manifest: Mapping[str, Any], lake: Path) -> dict[str, LandedColumns]:
    """The columns the Parquet files under each lake-backed source table's folder hold
    (its folder under `lake`: warehouse.governance.sources), by the source's unique id (the
    dbt hook reads them from the warehouse's lake inventory). Readable files only: an
    unreadable one is quarantined by the run, not a new column."""
    landed = {}
    for table in lake_tables(manifest, lake):
        columns: set[str] = set()
        for path in table.files():
            try:
                columns |= set(pq.read_schema(path).names)
            except (OSError, pa.ArrowException):
                continue
        landed[table.unique_id] = LandedColumns(str(table.folder), frozenset(columns))
    return landed


class PiiTracer:
    """Column lineage with the classification of every column on the way."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.columns = ColumnLineage(manifest)
        self.nodes = self.columns.nodes
        self._prepared: dict[str, tuple[exp.Expression, Scope, dict] | None] = {}
        self._flows: dict[tuple[str, str], frozenset[Flow]] = {}

    def _prepare(self, uid: str) -> tuple[exp.Expression, Scope, dict] | None:
        if uid not in self._prepared:
            try:
                sql, schema = self.columns._sql_and_schema(uid)
                tree = qualify(
                    parse_one(sql, dialect="duckdb"),
                    schema=schema,
                    dialect="duckdb",
                    validate_qualify_columns=False,
                )
                scope = build_scope(tree)
                self._prepared[uid] = None if scope is None else (tree, scope, schema)
            except (SqlglotError, LineageError):
                self._prepared[uid] = None
        return self._prepared[uid]

    def flows(self, uid: str, column: str) -> frozenset[Flow]:
        key = (uid, column)
        if key in self._flows:
            return self._flows[key]
        self._flows[key] = frozenset()  # a cycle (none expected) ends here
        node = self.nodes[uid]
        meta = column_meta(node["columns"].get(column, {}))
        found: set[Flow] = set()
        level = meta.get("pii")
        if level in ("direct", "quasi"):
            origin = f"{node['resource_type']} {node['name']}.{column}"
            found.add(
                Flow(origin, level, bool(meta.get("pseudonymised")), bool(meta.get("subject_key")))
            )
        if node["resource_type"] in ("model", "snapshot"):
            found |= self._upstream(uid, column)
        self._flows[key] = frozenset(found)
        return self._flows[key]

    def _upstream(self, uid: str, column: str) -> set[Flow]:
        prepared = self._prepare(uid)
        if prepared is None:
            return set()
        tree, scope, schema = prepared
        try:
            graph = lineage(column, tree, schema=schema, dialect="duckdb", scope=scope)
        except SqlglotError:
            return set()  # a column sqlglot cannot follow (snapshot bookkeeping, to_json)
        meta = column_meta(self.nodes[uid]["columns"].get(column, {}))
        pseudonymised = bool(meta.get("pseudonymised"))
        return self._walk(graph, passing=True, hashed=False, pseudonymised=pseudonymised)

    def _walk(self, node: Node, *, passing: bool, hashed: bool, pseudonymised: bool) -> set[Flow]:
        """Follow one column through a model's SQL to the relations it reads, keeping only
        what carries values: columns used only to decide (CASE conditions, window
        partitions and orders) carry nothing, a hash carries no quasi-identifier, and only a
        column passed on as it is carries the subject key."""
        if not node.downstream:
            if not isinstance(node.source, exp.Table):
                return set()
            parent = self.columns.by_placeholder.get(node.source.name)
            if parent is None:
                return set()
            found = set(self.flows(parent, node.name.split(".")[-1].strip('"')))
            if not passing:
                found = {f for f in found if not f.key}
            if hashed:
                found = {
                    Flow(f.origin, f.level, pseudonymised, f.key)
                    for f in found
                    if f.level == "direct"
                }
            return found
        expression = node.expression
        carried = _carried_columns(expression)
        passing = passing and _passes_on(expression)
        hashed = hashed or any(expression.find_all(*HASHES))
        found: set[Flow] = set()
        for child in node.downstream:
            if child.name.split(".")[-1].strip('"') not in carried:
                continue
            found |= self._walk(child, passing=passing, hashed=hashed, pseudonymised=pseudonymised)
        return found


def _carried_columns(expression: exp.Expression) -> set[str]:
    """Names of the columns whose values an expression passes on (perhaps transformed):
    every column it reads but those only in CASE conditions and window specifications."""
    deciding: set[int] = set()
    for branch in expression.find_all(exp.If):
        deciding |= {id(c) for c in branch.this.find_all(exp.Column)}
    for window in expression.find_all(exp.Window):
        for part in (*(window.args.get("partition_by") or []), window.args.get("order")):
            if part is not None:
                deciding |= {id(c) for c in part.find_all(exp.Column)}
    return {c.name for c in expression.find_all(exp.Column) if id(c) not in deciding}


# Functions that return one of their input values as it is.
VALUE_PICKERS = (exp.Max, exp.Min, exp.AnyValue, exp.First, exp.Last, exp.Coalesce)


def _passes_on(expression: exp.Expression) -> bool:
    """True when a select expression passes a column on as it is: the column itself, cast,
    or picked by min, max, any_value or coalesce."""
    if isinstance(expression, exp.Alias):
        expression = expression.this
    while isinstance(expression, (exp.Cast, exp.Paren, *VALUE_PICKERS)):
        expression = expression.this
    return isinstance(expression, exp.Column | exp.Table)


def _k_anonymous_identifiers(manifest: Mapping[str, Any], uid: str) -> set[str]:
    found: set[str] = set()
    for node in manifest["nodes"].values():
        test = node.get("test_metadata") or {}
        if test.get("name") == K_ANONYMITY_TEST and node.get("attached_node") == uid:
            found |= set(test.get("kwargs", {}).get("quasi_identifiers", []))
    return found


def lineage_violations(manifest: Mapping[str, Any]) -> list[Violation]:
    tracer = PiiTracer(manifest)
    found = []
    for uid, node in manifest["nodes"].items():
        if not is_ours(node) or node["resource_type"] not in ("model", "snapshot"):
            continue
        protected_identifiers = (
            _k_anonymous_identifiers(manifest, uid) if is_export(node) else set()
        )
        for name, column in node["columns"].items():
            meta = column_meta(column)
            at = where(node, name)
            flows = tracer.flows(uid, name) - {
                f for f in tracer.flows(uid, name) if f.origin.endswith(f" {node['name']}.{name}")
            }
            clear = sorted(f.origin for f in flows if f.level == "direct" and not f.hashed)
            hashed = [f for f in flows if f.level == "direct" and f.hashed]
            quasi = [f for f in flows if f.level == "quasi"]
            if clear and is_protected(node):
                found.append(
                    Violation(
                        "direct-pii-unpseudonymised",
                        at,
                        f"carries {', '.join(clear)} in clear into a mart or ML model: "
                        "pseudonymise it in staging ({{ pseudonymise(...) }}, declared "
                        "pseudonymised: true) or drop it",
                    )
                )
            elif clear and not (meta.get("pii") == "direct" and meta.get("pii_exception")):
                found.append(
                    Violation(
                        "direct-pii-without-exception",
                        at,
                        f"carries {', '.join(clear)} in clear: declare pii: direct with a "
                        "pii_exception saying why, or pseudonymise it",
                    )
                )
            elif hashed and not (meta.get("pii") == "direct" and meta.get("pseudonymised")):
                found.append(
                    Violation(
                        "personal-column-unclassified",
                        at,
                        f"holds a pseudonym of {hashed[0].origin}: declare pii: direct, "
                        "pseudonymised: true",
                    )
                )
            elif quasi and meta.get("pii") not in ("quasi", "direct"):
                found.append(
                    Violation(
                        "personal-column-unclassified",
                        at,
                        f"is computed from {sorted(f.origin for f in quasi)[0]}: declare "
                        "pii: quasi (or generalise it away)",
                    )
                )
            if (
                is_export(node)
                and (quasi or meta.get("pii") == "quasi")
                and not meta.get("subject_key")
                and name not in protected_identifiers
            ):
                found.append(
                    Violation(
                        "export-quasi-identifier-unprotected",
                        at,
                        "a quasi-identifier leaves the warehouse here: add it to the "
                        "quasi_identifiers of the export's k_anonymous test (generalised), "
                        "or drop it",
                    )
                )
    return found


def check(
    manifest: Mapping[str, Any], lake: Path | None = None, *, with_lineage: bool = True
) -> list[Violation]:
    """Every violation of the policy, sorted; empty when the project complies. Without
    `lake`, the lake's columns are not compared."""
    landed = landed_columns(manifest, lake) if lake is not None else {}
    found = declared_violations(manifest, landed)
    if with_lineage:
        found += lineage_violations(manifest)
    return sorted(set(found))


def report(violations: Iterable[Violation]) -> str:
    lines = [str(v) for v in violations]
    if not lines:
        return "PII policy: no violations."
    return f"PII policy: {len(lines)} violation(s):\n" + "\n".join(f"  {line}" for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, help="a manifest.json with compiled SQL")
    parser.add_argument(
        "--lake", type=Path, default=None, help="lake to compare (default: the lake)"
    )
    args = parser.parse_args(argv)
    try:
        manifest = (
            json.loads(args.manifest.read_text())
            if args.manifest
            else compiled_manifest(REPO_ROOT / "target" / "policy")
        )
    except LineageError as error:
        print(f"policy: {error}", file=sys.stderr)
        return 2
    lake = args.lake or lake_dir()
    violations = check(manifest, lake if lake.is_dir() else None)
    print(report(violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
