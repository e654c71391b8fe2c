"""Residue scan: where, if anywhere, a data subject's identifiers still appear.

Every table of the warehouse and every Parquet file under the given folders is read in
full; every text-like column (text, JSON, and lists, structs and maps rendered as text) is
searched for the subject's ids (as whole words), identifiers (emails, phones) and pseudonyms
(anywhere in the text, case-insensitive). Every other file under the folders (one DuckDB
cannot read as Parquet, a CSV, a datasheet) is searched as bytes, and as what its gzip or
Parquet pages hold (warehouse.governance.lake_files). The answer names the place and the
column (`(bytes)` for a bytes scan), never the value found, so it can be logged.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.fingerprint import quote_identifier
from warehouse.governance.lake_files import (
    UnscannableFile,
    bytes_pattern,
    holds,
    is_duckdb_file,
    lake_files,
)

NUMERIC_OR_TIME = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
    r"FLOAT|DOUBLE|REAL|DECIMAL.*|DATE|TIME.*|TIMESTAMP.*|INTERVAL|UUID|BLOB)$"
)


@dataclass(frozen=True)
class Residue:
    location: str  # "schema.table" or a file path
    column: str


def re2_literal(text: str) -> str:
    """`text` as an RE2 pattern matching it literally (RE2 refuses some of Python's
    re.escape output, such as an escaped space)."""
    out = []
    for char in text:
        if char.isascii() and (char.isalnum() or char == "_"):
            out.append(char)
        elif char.isascii() and char.isprintable() and char != " ":
            out.append("\\" + char)
        else:
            out.append(f"\\x{{{ord(char):x}}}")
    return "".join(out)


def needle_pattern(needles: Iterable[str]) -> str:
    """One RE2 pattern matching any needle: ids as whole words, the rest anywhere."""
    parts = []
    for needle in sorted(set(needles)):
        escaped = re2_literal(needle)
        parts.append(rf"\b{escaped}\b" if re.fullmatch(r"\w+", needle) else escaped)
    return "(?i)(" + "|".join(parts) + ")"


def _searchable(columns: Sequence[tuple[str, str]]) -> list[str]:
    return [name for name, data_type in columns if not NUMERIC_OR_TIME.match(data_type.upper())]


def _scan_relation(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[tuple[str, str]],
    pattern: str,
) -> list[str]:
    names = _searchable(columns)
    if not names:
        return []
    counts = ", ".join(
        f"count(*) filter (where regexp_matches(cast({quote_identifier(n)} as varchar), $1))"
        for n in names
    )
    row = connection.execute(f"select {counts} from {relation}", [pattern]).fetchone()
    assert row is not None
    return [name for name, hits in zip(names, row, strict=True) if hits]


def scan_warehouse(
    database: Path, needles: Iterable[str], skip: Iterable[str] = ()
) -> list[Residue]:
    """Every (table, column) of the warehouse holding a needle; views are not read (they
    show what their tables and files hold, which are scanned themselves)."""
    pattern = needle_pattern(needles)
    skipped = set(skip)
    found: list[Residue] = []
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in skipped:
                continue
            columns = connection.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            relation = f"{quote_identifier(schema)}.{quote_identifier(table)}"
            found += [
                Residue(name, column)
                for column in _scan_relation(connection, relation, columns, pattern)
            ]
    return found


def parquet_files(roots: Iterable[Path]) -> list[Path]:
    return sorted(path for root in roots if root.exists() for path in root.rglob("*.parquet"))


def scan_files(roots: Iterable[Path], needles: Iterable[str]) -> list[Residue]:
    """Every (Parquet file, column) under the roots holding a needle, and every other file
    (or Parquet file DuckDB cannot read) whose bytes hold one, as (file, `(bytes)`); a file
    that cannot be read at all is residue too (`(cannot be read)`): nobody can tell."""
    needles = sorted(set(needles))
    pattern = needle_pattern(needles)
    raw = bytes_pattern(needles)
    found: list[Residue] = []
    with duckdb.connect(config={"python_enable_replacements": False}) as connection:
        for path in (file for root in roots for file in lake_files(root)):
            if path.suffix == ".parquet":
                literal = str(path).replace("'", "''")
                relation = f"read_parquet('{literal}', hive_partitioning = false)"
                try:
                    columns = connection.execute(f"describe select * from {relation}").fetchall()
                    found += [
                        Residue(str(path), column)
                        for column in _scan_relation(
                            connection, relation, [(c[0], c[1]) for c in columns], pattern
                        )
                    ]
                    continue
                except duckdb.Error:
                    pass  # not Parquet DuckDB reads: its bytes are scanned below
            if raw is None or is_duckdb_file(path):
                continue  # a database is scanned through DuckDB (scan_warehouse)
            try:
                if holds(path, raw):
                    found.append(Residue(str(path), "(bytes)"))
            except UnscannableFile:
                found.append(Residue(str(path), "(cannot be read)"))
    return found
