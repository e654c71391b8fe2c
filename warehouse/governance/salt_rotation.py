"""Rotate the pseudonymisation salt: re-key every stored pseudonym from the old salt to the new.

    WAREHOUSE_PII_SALT_PREVIOUS=<old> WAREHOUSE_PII_SALT=<new> \\
        python -m warehouse.governance.salt_rotation [--apply]

A keyed hash cannot be turned into another one, so each pseudonym is recomputed from the
value it hides: the raw lake still holds those values for the days it keeps. For every
pseudonymising column of the staging model of every lake-backed source table
(`{{ pseudonymise('email') }} as email_pseudonym` in its SQL; the tables and their staging
models from the manifest, warehouse.governance.sources), the distinct raw values of the
column it hides, in that table's lake files, give a map old pseudonym → new pseudonym;
every warehouse table with a column of that name (staging, snapshots, intermediate, marts)
is then updated through the map, in one transaction. The salts are passed to DuckDB as
parameters, never written into SQL or logs.

A pseudonym whose raw value has left the lake (retention) cannot be re-keyed: it is
counted, kept, and becomes unlinkable once the old salt is destroyed, which is what
rotation is for. Without --apply, it only counts. docs/governance.md has the whole
procedure (pause automation, back up, rotate, switch the secret, destroy the old one).
"""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.fingerprint import quote_identifier
from warehouse.governance.sources import LakeTable, lake_tables, load_manifest
from warehouse.settings import duckdb_path, lake_dir


@dataclass
class RotationReport:
    rekeyed: dict[str, int] = field(default_factory=dict)  # "schema.table.column" → rows
    not_rekeyable: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        done = ", ".join(f"{k}: {v}" for k, v in sorted(self.rekeyed.items()) if v) or "none"
        left = sum(self.not_rekeyable.values())
        return (
            f"re-keyed {sum(self.rekeyed.values())} pseudonyms ({done}); "
            f"{left} could not be re-keyed (their raw values are no longer in the lake)"
        )


def pseudonym_columns(tables: Sequence[LakeTable]) -> dict[str, list[tuple[LakeTable, str]]]:
    """Pseudonym column → the (lake table, raw column) pairs it is computed from, from the
    staging models' SQL (two systems may stage a pseudonym under the same name)."""
    found: dict[str, list[tuple[LakeTable, str]]] = {}
    for table in tables:
        if table.staging is None:
            continue
        for raw, pseudonym in sorted(table.staging.pseudonyms.items()):
            found.setdefault(pseudonym, []).append((table, raw))
    return found


def _landed_values(sources: Sequence[tuple[LakeTable, str]]) -> str:
    """SQL: the raw values, as text, of these columns of these tables' readable files."""
    selects = []
    for table, raw in sources:
        files = []
        for path in table.files():
            try:
                if raw in pq.read_schema(path).names:
                    files.append("'" + str(path).replace("'", "''") + "'")
            except (OSError, pa.ArrowException):
                continue  # unreadable: quarantined by the lake inventory, never read
        if files:
            selects.append(
                f"select cast({quote_identifier(raw)} as varchar) as value "
                f"from read_parquet([{', '.join(files)}], union_by_name = true)"
            )
    return " union all ".join(selects) or "select cast(null as varchar) as value"


def rotate(
    old_salt: str,
    new_salt: str,
    *,
    apply: bool,
    database: Path | None = None,
    lake: Path | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> RotationReport:
    if not old_salt or not new_salt or old_salt == new_salt:
        raise ValueError(
            "Set WAREHOUSE_PII_SALT_PREVIOUS to the salt in use and WAREHOUSE_PII_SALT to a "
            "new, different one."
        )
    if len(new_salt) < 16:
        raise ValueError("The new salt must be at least 16 characters long.")
    lake = lake or lake_dir()
    tables = lake_tables(manifest if manifest is not None else load_manifest(), lake)
    report = RotationReport()
    with duckdb.connect(str(database or duckdb_path()), read_only=not apply) as connection:
        connection.execute("begin transaction")
        columns = pseudonym_columns(tables)
        for pseudonym, sources in columns.items():
            connection.execute(
                f"""
                create or replace temp table {quote_identifier("rekey_" + pseudonym)} as
                select distinct
                    sha256($old || lower(trim(value))) as old_pseudonym,
                    sha256($new || lower(trim(value))) as new_pseudonym
                from ({_landed_values(sources)}) as landed
                where value is not null
                """,
                {"old": old_salt, "new": new_salt},
            )
        tables = connection.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t using (table_catalog, table_schema, table_name) "
            "where t.table_type = 'BASE TABLE' and c.table_schema <> 'temp' "
            "order by 1, 2, 3"
        ).fetchall()
        for schema, table, column in tables:
            if column not in columns:
                continue
            relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            name = f"{schema}.{table}.{column}"
            quoted = quote_identifier(column)
            rekey = quote_identifier("rekey_" + column)
            (mapped, unmapped) = connection.execute(
                f"select count(map.new_pseudonym), count(*) - count(map.new_pseudonym) "
                f"from {relation} as stored left join {rekey} as map "
                f"on stored.{quoted} = map.old_pseudonym where stored.{quoted} is not null"
            ).fetchone()
            report.rekeyed[name] = mapped
            if unmapped:
                report.not_rekeyable[name] = unmapped
            if apply and mapped:
                connection.execute(
                    f"update {relation} set {quoted} = map.new_pseudonym "
                    f"from {rekey} as map where {relation}.{quoted} = map.old_pseudonym"
                )
        connection.execute("commit" if apply else "rollback")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="re-key (default: only count)")
    args = parser.parse_args(argv)
    try:
        report = rotate(
            os.environ.get("WAREHOUSE_PII_SALT_PREVIOUS", ""),
            os.environ.get("WAREHOUSE_PII_SALT", ""),
            apply=args.apply,
        )
    except ValueError as error:
        print(f"salt rotation: {error}", file=sys.stderr)
        return 2
    print(("" if args.apply else "dry run: would have ") + str(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
