"""Content fingerprints of tables: the one definition, for Python and the dbt macro alike.

A fingerprint is `"<row count>:<32 hex digits>"`. It does not depend on row order, changes
when a row is duplicated or any value changes (null, '' and 'NULL' all differ), and is the
same in every DuckDB session and process: each row is rendered as JSON text (timestamptz
shifted to UTC first, since its text follows the session's TimeZone), hashed with MD5 (not
DuckDB's hash(), which is not promised stable), and the two 64-bit halves of the hashes are
summed over all rows; the count and both sums are hashed once more. The halves are cut
from md5_number's 128-bit integer with `&` and `>>`: the same values as DuckDB's
md5_number_upper and md5_number_lower (low and high 64 bits), which go through bit strings
and hash each row twice.

The query is rendered only here. The dbt macro `dataset_fingerprint` (macros/fingerprint.sql)
asks for it through the DuckDB function `dataset_fingerprint_query`, which the project's
dbt-duckdb plugin (warehouse/duckdb_plugin.py) registers on dbt's connection with
`dataset_fingerprint_query` below as its body: a fingerprint recorded from Python (at
DuckLake publication) and one computed in dbt (the dataset registry) are the same query
over the same columns, so each can be checked against the other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb

TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _canonical_value(name: str, data_type: str, relation: str) -> str:
    quoted = quote_identifier(name)
    if data_type.upper() == TIMESTAMPTZ:
        return f"timezone('UTC', {quoted})"
    if TIMESTAMPTZ in data_type.upper():
        raise ValueError(
            f"dataset_fingerprint: column {name} of {relation} nests a timestamptz "
            f"({data_type}), whose text depends on the session's TimeZone; fingerprint a "
            "projection with the timestamps converted to UTC instead"
        )
    return quoted


def fingerprint_sql(relation: str, columns: Sequence[tuple[str, str]]) -> str:
    """The fingerprint query over `relation` (SQL text) for (name, type) columns, in order."""
    fields = ", ".join(
        f"{quote_identifier(name)} := {_canonical_value(name, data_type, relation)}"
        for name, data_type in columns
    )
    return (
        "select cast(count(*) as varchar) || ':' || md5(cast(count(*) as varchar)"
        " || ':' || cast(coalesce(sum(cast(fingerprint_hash"
        " & cast(18446744073709551615 as uhugeint) as ubigint)), 0) as varchar)"
        " || ':' || cast(coalesce(sum(cast(fingerprint_hash >> 64 as ubigint)), 0) as varchar))"
        f" as fingerprint from (select md5_number(cast(to_json(struct_pack({fields}))"
        f" as varchar)) as fingerprint_hash from {relation}) as fingerprint_rows"
    )


def relation_columns(connection: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(name, type) of `relation`'s columns in table order, as dbt-duckdb describes them."""
    described = connection.execute(f"describe select * from {relation}").fetchall()
    return [(row[0], row[1]) for row in described]


def select_columns(
    described: Sequence[tuple[str, str]], columns: Sequence[str] | None, relation: str
) -> list[tuple[str, str]]:
    """All columns in table order, or the named ones sorted (their order does not count)."""
    if columns is None:
        return list(described)
    if isinstance(columns, str) or not columns:
        raise ValueError(
            f"dataset_fingerprint: columns must be a non-empty list of column names, got {columns}"
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"dataset_fingerprint: columns must be distinct, got {columns}")
    types = dict(described)
    missing = [name for name in columns if name not in types]
    if missing:
        names = ", ".join(name for name, _ in described)
        raise ValueError(
            f"dataset_fingerprint: column {missing[0]} is not in {relation} (columns: {names})"
        )
    return [(name, types[name]) for name in sorted(columns)]


def fingerprint_query(
    relation: str, described: Sequence[tuple[str, str]], columns: Sequence[str] | None = None
) -> str:
    """The fingerprint query of `relation`, whose (name, type) columns are `described`.

    `columns` as for `fingerprint`; a ValueError says why they cannot be fingerprinted.
    """
    return fingerprint_sql(relation, select_columns(described, columns, relation))


def dataset_fingerprint_query(
    relation: str, column_names: list[str], column_types: list[str], requested_columns: str
) -> dict[str, str | None]:
    """The body of the DuckDB function `dataset_fingerprint_query`, the dbt macro's source.

    `requested_columns` is the macro's `columns` argument as JSON (`null`: all columns), so
    that what the caller passed, a string by mistake included, is judged here. The result is
    `{query, error}`, one of them null: the macro raises `error` as a compiler error, which
    dbt shows as it is. A ValueError raised inside the function would reach the dbt user as
    DuckDB's "Invalid Input Error: Python exception occurred while executing the UDF", with
    a Python stack trace, and as a database error rather than one of compilation.
    """
    described = list(zip(column_names, column_types, strict=True))
    try:
        query = fingerprint_query(relation, described, json.loads(requested_columns))
    except ValueError as error:
        return {"query": None, "error": str(error)}
    return {"query": query, "error": None}


def fingerprint(
    connection: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str] | None = None
) -> str:
    """Fingerprint of `relation` (SQL text: a table name, or e.g. `lake.t AT (VERSION => 3)`).

    `columns` restricts it to those columns (taken in sorted order); by default all of them,
    in table order. Column names are part of the fingerprint, so a rename changes it.
    """
    query = fingerprint_query(relation, relation_columns(connection, relation), columns)
    row = connection.execute(query).fetchone()
    assert row is not None  # an aggregate without group by always returns one row
    return str(row[0])
