"""Column-level lineage: which raw source columns (and seed columns) feed a model's column.

    python -m warehouse.column_lineage ml_training_set.spend_next_30d_eur
    make lineage COLUMN=ml_training_set.spend_next_30d_eur

It reads dbt's compiled SQL (`dbt compile` first, into target/lineage/, unless --manifest
points at a manifest that has it) and follows the column model by model with sqlglot's
lineage, which knows DuckDB's dialect: in each model's SQL the relations it reads are
replaced by placeholders whose columns come from the manifest (every column is documented,
tests/python/integration/test_docs.py), so `select *` expands as in the warehouse. The
answer is the columns whose values flow into the column; columns used only to filter or
join rows (an order's status, the as-of window) are not listed.
"""

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage

from warehouse.cli_args import model_column
from warehouse.dbt_runner import run_dbt
from warehouse.settings import REPO_ROOT, WAREHOUSE_PACKAGE

TRACED = ("model", "snapshot", "seed", "source")


class LineageError(Exception):
    pass


# The base_ models read a source's readable files, listed by macros/lake_files.sql, which
# marks the list with the source it belongs to.
LAKE_READ = re.compile(r"read_parquet\(\s*/\* lake source: (?P<source>[\w.]+) \*/.*?\)", re.S)


class ColumnLineage:
    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.nodes = {**manifest["nodes"], **manifest["sources"]}
        self.placeholder = {
            uid: "rel_" + re.sub(r"\W", "_", uid)
            for uid, node in self.nodes.items()
            if node["resource_type"] in TRACED and node.get("relation_name")
        }
        self.by_placeholder = {name: uid for uid, name in self.placeholder.items()}

    def model_id(self, name: str) -> str:
        for uid, node in self.nodes.items():
            if (
                node["resource_type"] == "model"
                and node["name"] == name
                and node["package_name"] == WAREHOUSE_PACKAGE
                and node.get("is_latest_version") is not False  # None: not versioned
            ):
                return uid
        raise LineageError(f"no model named {name!r} in the dbt project")

    def _sql_and_schema(self, uid: str) -> tuple[str, dict[str, dict[str, str]]]:
        node = self.nodes[uid]
        sql = node.get("compiled_code")
        if not sql:
            raise LineageError(f"{uid} has no compiled SQL: run `dbt compile` first")
        parents = [p for p in node["depends_on"]["nodes"] if p in self.placeholder]
        # longest first: one relation name can contain another
        for parent in sorted(parents, key=lambda p: -len(self.nodes[p]["relation_name"])):
            sql = sql.replace(self.nodes[parent]["relation_name"], self.placeholder[parent])
        sql = LAKE_READ.sub(lambda match: self._lake_placeholder(match, parents), sql)
        schema = {
            self.placeholder[p]: {column: "text" for column in self.nodes[p]["columns"]}
            for p in parents
        }
        return sql, schema

    def _lake_placeholder(self, match: re.Match[str], parents: list[str]) -> str:
        """The placeholder of the source whose readable files a read_parquet([...]) lists."""
        uid = f"source.{WAREHOUSE_PACKAGE}.{match.group('source')}"
        return self.placeholder[uid] if uid in parents else match.group(0)

    def sources_of(self, model: str, column: str) -> set[tuple[str, str]]:
        """{(relation, column)} of the raw source and seed columns that feed model.column;
        a relation is `source_name.table` for a source and `seed.name` for a seed."""
        uid = self.model_id(model)
        if column not in self.nodes[uid]["columns"]:
            known = ", ".join(self.nodes[uid]["columns"])
            raise LineageError(f"{model} has no column {column!r} (it has: {known})")
        return self._trace(uid, column)

    def _trace(self, uid: str, column: str) -> set[tuple[str, str]]:
        node = self.nodes[uid]
        if node["resource_type"] == "source":
            return {(f"{node['source_name']}.{node['name']}", column)}
        if node["resource_type"] == "seed":
            return {(f"seed.{node['name']}", column)}
        sql, schema = self._sql_and_schema(uid)
        try:
            graph = lineage(column, sql, schema=schema, dialect="duckdb")
        except SqlglotError as error:
            message = f"{node['name']}.{column}: sqlglot could not trace it ({error})"
            raise LineageError(message) from error
        found: set[tuple[str, str]] = set()
        for step in graph.walk():
            if step.downstream or not isinstance(step.source, exp.Table):
                continue
            parent = self.by_placeholder.get(step.source.name)
            if parent is not None:
                found |= self._trace(parent, step.name.split(".")[-1])
        return found


def compiled_manifest(target: Path) -> dict[str, Any]:
    result = run_dbt(["compile", "--quiet", "--target-path", str(target)])
    if result.returncode != 0:
        raise LineageError(f"`dbt compile` failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return json.loads((target / "manifest.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "column", type=model_column, help="model.column, e.g. ml_training_set.spend_next_30d_eur"
    )
    parser.add_argument(
        "--manifest", type=Path, help="a manifest.json with compiled SQL (default: compile now)"
    )
    args = parser.parse_args(argv)
    model, _, column = args.column.partition(".")
    if not column:
        parser.error("give the column as model.column")
    try:
        manifest = (
            json.loads(args.manifest.read_text())
            if args.manifest
            else compiled_manifest(REPO_ROOT / "target" / "lineage")
        )
        found = ColumnLineage(manifest).sources_of(model, column)
    except LineageError as error:
        print(f"column_lineage: {error}", file=sys.stderr)
        return 2
    print(f"{model}.{column} is computed from:")
    for relation, source_column in sorted(found):
        print(f"  {relation}.{source_column}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
