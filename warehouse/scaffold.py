"""Scaffold a new lake table in the project's conventions (docs/add-a-source.md).

    make source SYSTEM=crm TABLE=contacts FROM=data/lake/crm/contacts/ingest_date=.../part-0.parquet
    python -m warehouse.scaffold crm contacts --from <a landed Parquet file>

Writes, under models/staging/<system>/: the table's entry in _<system>__sources.yml (the
file and the system's source block created when absent), base/base_<system>__<table>.sql
with its entry in base/_<system>__base_models.yml, and stg_<system>__<table>.sql with its
entry in _<system>__models.yml, in the project's conventions. With --from, the columns and their
casts come from the file's Parquet schema; without, one placeholder column stands in.

What a person must decide is left for them to fill, never guessed silently: each column's
`pii` is blank (the PII policy refuses to build until it is filled), the natural key is
`TODO` (in SQL a column that does not exist, so the base model fails until it is written),
and so is the event time unless the file has one timestamp column only. It refuses a
table or model that already exists, and writes nothing when it refuses. Existing YAML
files are appended to as text, so their comments and layout are kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from warehouse.settings import REPO_ROOT

NAME = re.compile(r"[a-z][a-z0-9_]*")
TODO = "TODO"
TODO_KEY_SQL = "todo_natural_key"  # in SQL: an unknown column, so a run fails until replaced
PARTITION = "ingest_date"  # the Hive partition column read_parquet adds
FILENAME = "filename"  # the column read_parquet's filename = true adds
FILE_ROW_NUMBER = "file_row_number"  # the column read_parquet's file_row_number = true adds
BOOKKEEPING = (
    "_ingest_date",
    "_source_file",
    "_source_row",
    "_raw_record",
    "_rejection_reason",
    "_record_hash",
)
RAW_RECORD_EXCEPTION = "raw-lake view, not stored; the quarantine keeps it for rejected rows"


class ScaffoldError(Exception):
    """Why nothing was written."""


@dataclass(frozen=True)
class Column:
    """A landed column: its name in the files, its Parquet type, its name and SQL type
    (None: kept as landed) in the base and staging models, and its contract type (the
    sources YAML's data_type, a DuckDB type name; None for a nested type)."""

    landed: str
    parquet_type: str
    output: str
    sql_type: str | None
    is_timestamp: bool = False
    data_type: str | None = None


@dataclass(frozen=True)
class Contract:
    """What the scaffold can tell of meta.lake from the column names: the column a natural
    key most likely starts with (a hint in a comment, never the value) and the event time
    (None where a person must decide)."""

    key_hint: str | None  # a landed name
    event_time: str | None


@dataclass(frozen=True)
class Scaffolded:
    written: list[str]  # one line per file: what was done to it
    next_steps: list[str]  # one line per thing to fill in, each naming its file


# --- Parquet schema -> columns -------------------------------------------------------------


def sql_type(arrow_type: pa.DataType) -> str | None:
    """The type the base model casts a column of this Parquet type to (dbt's cross-database
    type macros where one fits; DuckDB's name otherwise, as the staging models do for date
    and decimal), or None for a nested type, kept as landed."""
    if pa.types.is_dictionary(arrow_type):
        return sql_type(arrow_type.value_type)
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return "{{ dbt.type_string() }}"
    if pa.types.is_boolean(arrow_type):
        return "{{ dbt.type_boolean() }}"
    if pa.types.is_uint64(arrow_type):
        return "ubigint"  # beyond bigint's range
    if pa.types.is_integer(arrow_type):
        return "{{ dbt.type_bigint() }}"
    # dbt.type_float() is DuckDB's 4-byte float and dbt.type_numeric() rounds to 6 decimals:
    # neither keeps a double as landed.
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        # With a time zone too: base_sql lands it through utc_timestamp, as an instant in UTC.
        return "{{ dbt.type_timestamp() }}"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_time(arrow_type):
        return "time"
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
    ):
        return "blob"
    return None


# The DuckDB name of each cross-database type macro sql_type writes, for data_type: the
# contract is read by the lake inventory in DuckDB (warehouse/lake_inventory.py).
DUCKDB_NAMES = {
    "{{ dbt.type_string() }}": "varchar",
    "{{ dbt.type_boolean() }}": "boolean",
    "{{ dbt.type_bigint() }}": "bigint",
    "{{ dbt.type_timestamp() }}": "timestamp",
}


def contract_type(arrow_type: pa.DataType) -> str | None:
    """The data_type the sources YAML declares for a column of this Parquet type: the type
    the base model casts it to, as DuckDB names it; None for a nested type."""
    cast = sql_type(arrow_type)
    return DUCKDB_NAMES.get(cast, cast) if cast is not None else None


def output_name(landed: str) -> str:
    """A landed column's name in the models: snake_case, a plain SQL identifier."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", landed)
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return name if name and not name[0].isdigit() else f"column_{name}"


def read_columns(path: Path) -> list[Column]:
    """The business columns of a landed Parquet file (without the partition and filename
    columns, which every source has)."""
    if not path.is_file():
        raise ScaffoldError(f"{path}: no such file (FROM must be a landed Parquet file)")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise ScaffoldError(f"{path}: not a readable Parquet file ({error})") from error
    columns = [
        Column(
            landed=field.name,
            parquet_type=str(field.type),
            output=output_name(field.name),
            sql_type=sql_type(field.type),
            is_timestamp=pa.types.is_timestamp(field.type),
            data_type=contract_type(field.type),
        )
        for field in schema
        if field.name not in (PARTITION, FILENAME, FILE_ROW_NUMBER)
    ]
    if not columns:
        raise ScaffoldError(f"{path}: the file has no columns besides {PARTITION} and {FILENAME}")
    outputs = [column.output for column in columns]
    clashes = sorted({name for name in outputs if outputs.count(name) > 1 or name in BOOKKEEPING})
    if clashes:
        raise ScaffoldError(
            f"{path}: columns {clashes} clash, once in snake_case, with each other or with "
            f"the bookkeeping columns {list(BOOKKEEPING)}: scaffold by hand"
        )
    return columns


PLACEHOLDER_COLUMN = Column(
    landed="todo_column",
    parquet_type="TODO: its Parquet type",
    output="todo_column",
    sql_type="{{ dbt.type_string() }}",
    data_type="varchar",
)


def singular(table: str) -> str:
    if table.endswith("ies"):
        return table[:-3] + "y"
    if table.endswith(("ses", "xes", "ches", "shes")):
        return table[:-2]
    return table.removesuffix("s")


def guess_contract(table: str, columns: Sequence[Column]) -> Contract:
    """The event time where the names leave no doubt (the only timestamp column), and a
    hint for the natural key (a column named after the table: `<table>_id`, its singular,
    or `id`). The key itself is never guessed: in a change feed it is the id and the change
    time (a customer feed, say), and a key too narrow would quarantine every update. A TODO
    that stops the build is better than a wrong guess."""
    names = [column.landed for column in columns]
    keys = [n for n in (f"{singular(table)}_id", f"{table}_id", "id") if n in names]
    timestamps = [column.landed for column in columns if column.is_timestamp]
    return Contract(
        key_hint=keys[0] if keys else None,
        event_time=timestamps[0] if len(timestamps) == 1 else None,
    )


# --- YAML text ------------------------------------------------------------------------------


def scalar(value: str) -> str:
    """A YAML scalar: plain when safe, else double-quoted (JSON's quoting is YAML's)."""
    return value if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) else json.dumps(value)


def flow_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def indent(block: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in block.splitlines(True))


# The Hive partition types, escaped for dbt's Jinja: read_parquet receives {'ingest_date': 'date'}.
HIVE_TYPES = "hive_types = {{ '{{' }}'ingest_date': 'date'{{ '}}' }}"


# The freshness filter's tolerance, escaped for the f-string below: dbt renders the var.
FRESHNESS_TOLERANCE = "{{ var('future_partition_tolerance_days') | int }}"


def source_block(system: str) -> str:
    """The system's source, at column 0 of the `sources:` list."""
    return f"""\
- name: {system}
  description: >
    TODO: the {system} system's feeds as they land in the lake: what the system is, who
    sends the files and how often. Hive-partitioned Parquet, one folder per table and one
    `ingest_date=YYYY-MM-DD` partition per delivery day, read by name (`union_by_name`).
  # dbt-duckdb reads external files through this template. On Spark or Trino the same
  # folders are registered as external tables instead and this meta is ignored.
  meta:
    # The system's folder under the lake root (WAREHOUSE_LAKE_DIR); lake_dir is the same
    # folder, for dbt-duckdb's external_location.
    lake_subdir: {system}
    lake_dir: "{{{{ env_var('WAREHOUSE_LAKE_DIR', 'data/lake') }}}}/{system}"
    external_location: >-
      read_parquet('{{lake_dir}}/{{name}}/*/*.parquet', hive_partitioning = true,
      {HIVE_TYPES}, union_by_name = true, filename = true,
      file_row_number = true)
    # The lake sensor waits for a table's partition of a day only if the table delivered
    # within this many days before it: a feed that has not started, or has stopped, does
    # not hold back the others (its freshness check says so instead).
    lake_active_within_days: 7
  config:
    # A partition lands every day; two days without one is worth a look, four is an outage.
    loaded_at_field: "cast(ingest_date as timestamp)"
    freshness:
      warn_after: {{count: 2, period: day}}
      error_after: {{count: 4, period: day}}
      # A partition dated after today (UTC) plus the tolerance is held by the lake
      # inventory, not read: it is not the newest delivery either.
      filter: "ingest_date <= current_date + {FRESHNESS_TOLERANCE}"
  tables:
"""


def table_block(table: str, columns: Sequence[Column], contract: Contract) -> str:
    """The table's entry, at column 0 of its source's `tables:` list."""
    hint = f" ({contract.key_hint}, ...?)" if contract.key_hint else ""
    key = f"natural_key: [{TODO}]  # the columns that identify one record{hint}"
    required = f"required_columns: [{TODO}]  # usually the natural key's columns"
    if contract.event_time:
        event = f"event_time: {scalar(contract.event_time)}  # guessed: the only timestamp"
    else:
        event = f"event_time: {TODO}  # when the record happened, or null if it has no time"
    lines = [
        f"- name: {table}",
        f'  description: "TODO: what one row of {table} is."',
        "  config:",
        "    meta:",
        "      lake:",
        "        # TODO: fill in (docs/add-a-source.md says how each is used).",
        f"        {key}",
        f"        {event}",
        f"        {required}",
        f"        partition: {PARTITION}",
        "        delivery: change_feed",
        "        # A conflicting re-delivery (same natural key, other content) is quarantined",
        "        # until someone decides: latest or first instead only if that is its meaning.",
        "        on_conflict: quarantine",
        "  columns:",
    ]
    for column in columns:
        lines.append(f"    - name: {scalar(column.landed)}  # {column.parquet_type}")
        if column.data_type is not None:
            # the contract every landed file is checked against (docs/reliability.md)
            lines.append(f"      data_type: {scalar(column.data_type)}")
        lines += [
            "      config: {meta: {pii: }}",
            f'      description: "TODO: describe {column.landed}."',
        ]
    lines += [
        f"    - name: {PARTITION}  # date, from the Hive partition folder",
        "      data_type: date",
        "      config: {meta: {pii: none}}",
        "      description: The Hive partition (landing day) the row was delivered in.",
        f"    - name: {FILENAME}  # varchar, added by read_parquet's filename = true",
        "      data_type: varchar",
        "      config: {meta: {pii: none}}",
        "      description: The Parquet file the row was read from.",
        f"    - name: {FILE_ROW_NUMBER}  # bigint, added by read_parquet's file_row_number = true",
        "      data_type: bigint",
        "      config: {meta: {pii: none}}",
        "      description: The row's position in its file, from 0.",
    ]
    return "\n".join(lines) + "\n"


def base_model_block(system: str, table: str, columns: Sequence[Column]) -> str:
    lines = [
        f"- name: base_{system}__{table}",
        f'  description: "Every landed {table} row, typed, with its rejection reason. TODO: more."',
        "  # A view over the raw files, as every base_ model is: raw values and direct",
        "  # identifiers are not stored.",
        "  config: {materialized: view}",
        "  columns:",
    ]
    for column in columns:
        lines += [
            f"    - name: {column.output}",
            f'      description: "TODO: describe {column.output} (as in the sources YAML)."',
        ]
    lines += [
        "    - name: _ingest_date",
        "      description: The landing day (Hive partition) the row came from.",
        "    - name: _source_file",
        "      description: The Parquet file the row was read from.",
        "    - name: _source_row",
        "      description: The row's position in its file (from 0); with _source_file, the"
        " row's identity.",
        "    - name: _raw_record",
        f'      config: {{meta: {{pii: direct, pii_exception: "{RAW_RECORD_EXCEPTION}"}}}}',
        "      description: All raw values of the row as JSON text.",
        "    - name: _rejection_reason",
        "      description: The first hard rule the row breaks (see the quarantined_rows model),"
        " null when it passes.",
    ]
    return "\n".join(lines) + "\n"


def staging_model_block(system: str, table: str, columns: Sequence[Column]) -> str:
    lines = [
        f"- name: stg_{system}__{table}",
        "  description: >",
        f"    TODO: what one row is. The clean {table} rows its on_conflict policy stages. Direct",
        "    identifiers are still selected in clear: once the sources YAML classifies them",
        "    (pii: direct), select each through the pseudonymise macro as <column>_pseudonym,",
        "    as the staging models do, or drop it (docs/add-a-source.md).",
        "  columns:",
    ]
    for column in columns:
        lines += [
            f"    - name: {column.output}",
            f'      description: "TODO: describe {column.output} (as in the sources YAML)."',
        ]
    lines += [
        "    - name: _ingest_date",
        "      description: The landing day of the record.",
        "    - name: _source_file",
        "      description: The Parquet file the record was read from.",
        "    - name: _record_hash",
        '      config: {meta: {pii: direct, pii_exception: "a fingerprint of the raw record, '
        "direct identifiers included, to tell corrections from duplicates; staging only, never "
        'selected downstream; erasure deletes it with its row"}}',
        "      description: Hash of the record's content, which tells a conflicting re-delivery"
        " (same natural key, other content) from a repeat.",
        "  data_tests:",
        "    # Tolerated: a few bad rows in a day's file. More than 5 rows and 5 % of a day's",
        "    # rows warns; more than three such days is a broken feed and fails the build.",
        "    - lake_quarantine_rate:",
        "        config:",
        "          severity: error",
        "          warn_if: '>0'",
        "          error_if: '>3'",
        "          store_failures: true",
    ]
    return "\n".join(lines) + "\n"


MODELS_HEADER = {
    "base": (
        "# The base_ models share a shape: the source's columns renamed and typed (described as\n"
        "# in staging, which keeps them), plus the bookkeeping columns (the last four). They are\n"
        "# views, read by staging (clean deliveries) and by the audit layer (rejected rows).\n"
    ),
    "staging": (
        "# The staging tables are incremental by ingest date; each keeps the clean rows of its\n"
        "# base_ model that the source's on_conflict policy stages (macro staged_deliveries).\n"
    ),
}


def new_models_file(kind: str) -> str:
    return f"version: 2\n\n{MODELS_HEADER[kind]}models:\n"


# --- SQL text -------------------------------------------------------------------------------


def quoted(name: str) -> str:
    return name if NAME.fullmatch(name) else json.dumps(name)


def base_sql(system: str, table: str, columns: Sequence[Column], contract: Contract) -> str:
    """base_<system>__<table>.sql, in the base_ models' shape. The null_key rule checks
    a placeholder column, so a run fails until someone writes the natural key there."""
    casts = []
    for column in columns:
        if column.sql_type is None:
            ref = quoted(column.landed)
            casts.append(f"{ref} as {column.output}" if ref != column.output else ref)
        elif column.is_timestamp:
            casts.append(f"{{{{ utc_timestamp('{column.landed}') }}}} as {column.output}")
        else:
            casts.append(f"cast({quoted(column.landed)} as {column.sql_type}) as {column.output}")
    typed = "".join(f"        {line},\n" for line in casts)
    # A timestamp the reader cannot place (text in an unknown format or zone) lands as null:
    # the row is quarantined as unparseable_value, never stored at a wrong instant.
    timestamps = "".join(
        f"                ('{column.landed}', 'typed.{column.output}'),\n"
        for column in columns
        if column.is_timestamp
    )
    timestamp_rule = (
        f"            ('unparseable_value', unparseable_timestamps([\n{timestamps}"
        "            ], 'typed._raw_record')),\n"
        if timestamps
        else ""
    )
    notes = [
        f"Every landed {table} row, typed and checked against the hard rules.",
        "TODO: the rules a row must pass besides its key, added to the checked CTE, and what",
        "they mean (docs/add-a-source.md). The null_key rule checks todo_natural_key, which",
        "fails the run: write the natural key's columns of meta.lake in the sources YAML.",
    ]
    if contract.key_hint:
        notes.append(f"The key probably starts with {contract.key_hint}.")
    kept = [column.landed for column in columns if column.sql_type is None]
    if kept:
        notes.append(f"TODO: {', '.join(kept)} kept as landed (a nested Parquet type).")
    header = "".join(f"    {line}\n" for line in notes)
    jinja = "{{ %s }}"
    return f"""\
{{#-
{header}-#}}
with

landed as (
    select * from {jinja % f"readable_lake_files(source('{system}', '{table}'))"}
    where {jinja % f"ingest_window('{PARTITION}')"}
),

typed as (
    select
{typed}        {PARTITION} as _ingest_date,
        {FILENAME} as _source_file,
        {FILE_ROW_NUMBER} as _source_row,
        {jinja % "record_to_json('landed')"} as _raw_record
    from landed
),

checked as (
    select
        typed.*,
        {{{{ first_failed_rule([
{timestamp_rule}            ('null_key', 'typed.{TODO_KEY_SQL} is null'),
            ('oversized_record', oversized_record('typed._raw_record')),
        ]) }}}} as _rejection_reason
    from typed
)

select * from checked
"""


INCREMENTAL = (
    "{{ config(materialized='incremental', incremental_strategy='delete+insert', "
    "unique_key='_ingest_date') }}"
)


def staging_sql(system: str, table: str, columns: Sequence[Column]) -> str:
    """stg_<system>__<table>.sql: every column of the base model, from the deliveries its
    source's on_conflict policy stages (macro staged_deliveries)."""
    selected = "".join(f"    {column.output},\n" for column in columns)
    return f"""\
-- TODO: one line on what a row of stg_{system}__{table} is.
{INCREMENTAL}

with

deliveries as (
    select * from {{{{ staged_deliveries(ref('base_{system}__{table}')) }}}}
)

select
{selected}    _ingest_date,
    _source_file,
    _record_hash
from deliveries
"""


# --- Appending to an existing YAML file, as text ----------------------------------------------


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_item(line: str) -> bool:
    stripped = line.strip()
    return stripped == "-" or stripped.startswith("- ")


def _is_noise(line: str) -> bool:
    return not line.strip() or line.strip().startswith("#")


def append_to_list(text: str, key: re.Pattern[str], block: str, where: str) -> str:
    """`text` with `block` (an item at column 0) added as the last item of the block
    sequence under the first line matching `key` (a whole `name:` line), indented as its
    items are; every other line is kept as it was."""
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if key.fullmatch(line.rstrip("\n"))), None)
    if start is None:
        raise ScaffoldError(f"{where}: no `{key.pattern}` line to append to: add it by hand")
    key_indent, item_indent, end = _indent_of(lines[start]), None, len(lines)
    items: list[int] = []
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if _is_noise(line):
            continue
        if item_indent is None and _is_item(line) and _indent_of(line) >= key_indent:
            item_indent = _indent_of(line)
        if item_indent is None or _indent_of(line) < item_indent:
            end = i
            break
        if _indent_of(line) == item_indent:
            if not _is_item(line):
                end = i
                break
            items.append(i)
    if item_indent is None:
        raise ScaffoldError(f"{where}: the list under `{key.pattern}` is empty or not a block list")
    # Blank lines and comments just before what follows the list introduce it.
    limit = _indent_of(lines[end]) if end < len(lines) else -1
    while end > start + 1 and (
        not lines[end - 1].strip()
        or (lines[end - 1].strip().startswith("#") and _indent_of(lines[end - 1]) <= limit)
    ):
        end -= 1
    # Items separated by a blank line get one before the new item.
    spaced = any(not lines[i - 1].strip() for i in items[1:])
    insert = ("\n" if spaced else "") + indent(block, item_indent)
    return "".join([*lines[:end], insert, *lines[end:]])


def _load(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ScaffoldError(f"{where}: not valid YAML ({error})") from error


def _named(items: Any, name: str) -> dict[str, Any] | None:
    return next((i for i in items or [] if isinstance(i, dict) and i.get("name") == name), None)


def add_table(text: str, system: str, table: str, block: str, where: str) -> str:
    """The sources file's text with `table` appended to source `system`; refuses when the
    table is declared already, and checks that nothing else changed."""
    before = _load(text, where) or {}
    source = _named(before.get("sources"), system)
    if source is None:
        raise ScaffoldError(f"{where}: has no source named {system!r}: add its block by hand")
    if _named(source.get("tables"), table) is not None:
        raise ScaffoldError(f"{system}.{table} is already declared in {where}: nothing written")
    lines = text.splitlines(True)
    # The source's own line: the least indented `- name: <system>` (a table or column may
    # share the name, deeper).
    named = [
        i
        for i, line in enumerate(lines)
        if re.fullmatch(rf"\s*- name: ['\"]?{re.escape(system)}['\"]?\s*(#.*)?", line.rstrip("\n"))
    ]
    if not named:
        raise ScaffoldError(f"{where}: source {system!r} is not written as `- name: {system}`")
    start = min(named, key=lambda i: _indent_of(lines[i]))
    tables = re.compile(r"\s*tables:\s*(#.*)?")
    after = "".join(lines[:start]) + append_to_list("".join(lines[start:]), tables, block, where)
    _check_only_added(before, _load(after, where), ["sources", system, "tables"], table, where)
    return after


def add_model(text: str, name: str, block: str, where: str) -> str:
    before = _load(text, where) or {}
    if _named(before.get("models"), name) is not None:
        raise ScaffoldError(f"{name} is already declared in {where}: nothing written")
    after = append_to_list(text, re.compile(r"models:\s*(#.*)?"), block, where)
    _check_only_added(before, _load(after, where), ["models"], name, where)
    return after


def _check_only_added(before: Any, after: Any, path: list[str], name: str, where: str) -> None:
    """The appended text parses as one more item, named `name`, at the end of the list at
    `path` (keys, or names of list items), and as nothing else."""
    node = after
    for step in path:
        node = _named(node, step) if isinstance(node, list) else (node or {}).get(step)
    added = node.pop() if isinstance(node, list) and node else None
    if not isinstance(added, dict) or added.get("name") != name or after != before:
        raise ScaffoldError(
            f"{where}: could not append {name} without changing the rest: add by hand"
        )


# --- The scaffold ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """The files of a table's scaffold, relative to the dbt project."""

    sources: Path
    base_yml: Path
    staging_yml: Path
    base: Path
    staging: Path

    @classmethod
    def of(cls, system: str, table: str) -> Paths:
        folder = Path("models") / "staging" / system
        return cls(
            sources=folder / f"_{system}__sources.yml",
            base_yml=folder / "base" / f"_{system}__base_models.yml",
            staging_yml=folder / f"_{system}__models.yml",
            base=folder / "base" / f"base_{system}__{table}.sql",
            staging=folder / f"stg_{system}__{table}.sql",
        )


def sources_text(root: Path, path: Path, system: str, table: str, block: str) -> tuple[str, str]:
    """The sources file with the table added, and what was done to it."""
    if (root / path).exists():
        text = add_table((root / path).read_text(), system, table, block, str(path))
        return text, f"table {system}.{table} appended"
    text = "version: 2\n\nsources:\n" + indent(source_block(system), 2) + indent(block, 6)
    _load(text, str(path))
    return text, f"created, with source {system} and table {table}"


def models_text(root: Path, path: Path, kind: str, name: str, block: str) -> tuple[str, str]:
    """A models YAML file with the model added, and what was done to it."""
    if (root / path).exists():
        return add_model((root / path).read_text(), name, block, str(path)), f"{name} appended"
    text = new_models_file(kind) + indent(block, 2)
    _load(text, str(path))
    return text, f"created, with {name}"


def scaffold(root: Path, system: str, table: str, from_file: Path | None = None) -> Scaffolded:
    """Write the table's sources entry, base model and staging model under `root` (the dbt
    project); nothing is written if any of it is refused."""
    for kind, name in (("SYSTEM", system), ("TABLE", table)):
        if not NAME.fullmatch(name):
            raise ScaffoldError(
                f"{kind}={name!r}: use lower case letters, digits and underscores, "
                "starting with a letter (it names folders, files and dbt models)"
            )
    columns = read_columns(from_file) if from_file is not None else [PLACEHOLDER_COLUMN]
    contract = guess_contract(table, columns) if from_file is not None else Contract(None, None)
    paths = Paths.of(system, table)
    sources, sources_done = sources_text(
        root, paths.sources, system, table, table_block(table, columns, contract)
    )
    for model in (paths.base, paths.staging):
        existing = sorted((root / "models").rglob(model.name))
        if existing:
            raise ScaffoldError(
                f"{existing[0].relative_to(root)} exists already: nothing written "
                "(a dbt model name is unique in the project)"
            )
    base_yml, base_yml_done = models_text(
        root, paths.base_yml, "base", paths.base.stem, base_model_block(system, table, columns)
    )
    staging_yml, staging_yml_done = models_text(
        root,
        paths.staging_yml,
        "staging",
        paths.staging.stem,
        staging_model_block(system, table, columns),
    )
    origin = f"{len(columns)} columns from {from_file}" if from_file else "a placeholder column"
    plan = [
        (paths.sources, sources, f"{sources_done} ({origin})"),
        (paths.base, base_sql(system, table, columns, contract), "created"),
        (paths.base_yml, base_yml, base_yml_done),
        (paths.staging, staging_sql(system, table, columns), "created"),
        (paths.staging_yml, staging_yml, staging_yml_done),
    ]
    for path, text, _ in plan:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return Scaffolded(
        written=[f"{path}: {done}" for path, _, done in plan],
        next_steps=next_steps(system, table, from_file is None, contract, paths),
    )


def next_steps(
    system: str, table: str, placeholder: bool, contract: Contract, paths: Paths
) -> list[str]:
    """What a person fills in next, in order, each step naming its file."""
    models = f"{paths.base}, {paths.base_yml}, {paths.staging} and {paths.staging_yml}"
    steps = []
    if placeholder:
        steps.append(
            f"{paths.sources}: replace todo_column with the table's columns, and in {models} "
            "likewise (or delete what this run wrote and run it again with FROM=<a landed file>)"
        )
    event = "confirm" if contract.event_time else "fill in"
    steps += [
        f"{paths.sources}: fill in pii (direct, quasi or none) of every column of "
        f"{system}.{table}; the PII policy refuses every dbt run until each is classified",
        f"{paths.sources}: fill in natural_key and required_columns, {event} event_time, "
        "choose on_conflict (quarantine, latest or first) and delivery, and check each "
        "column's data_type: every landed file is checked against it (docs/reliability.md)",
        f"{paths.base}: replace todo_natural_key in the null_key rule with the natural key's "
        "columns, add the table's other hard rules to the checked CTE, and check each cast",
        f"{paths.staging}: select each pii: direct column as "
        "{{ pseudonymise('<column>') }} as <column>_pseudonym, or drop it; declare it "
        f"pii: direct, pseudonymised: true in {paths.staging_yml}",
        f"{paths.sources}, {paths.base_yml} and {paths.staging_yml}: replace every TODO "
        "description, and copy each quasi or direct column's pii to the models' YAML as the "
        "existing base_ models do (a direct column in clear in a base model needs a pii_exception)",
        f"{paths.base} and {paths.staging}: replace the TODO comment at the top",
        f"data/lake/{system}/{table}/ingest_date=YYYY-MM-DD/: land the files there, then "
        "make run and make test (docs/add-a-source.md)",
    ]
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse.scaffold", description=__doc__.splitlines()[0]
    )
    parser.add_argument("system", help="the source system, e.g. crm (models/staging/<system>/)")
    parser.add_argument("table", help="the table, as its lake folder is named, e.g. contacts")
    parser.add_argument(
        "--from", dest="from_file", type=Path, help="a landed Parquet file to read columns from"
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the dbt project folder")
    args = parser.parse_args(argv)
    try:
        done = scaffold(args.root, args.system, args.table, args.from_file)
    except ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("Written:")
    print("\n".join(f"  {line}" for line in done.written))
    print("Next, fill in (docs/add-a-source.md):")
    print("\n".join(f"  {n}. {step}" for n, step in enumerate(done.next_steps, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
