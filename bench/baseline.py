"""The baseline: the same transformations as plain DuckDB SQL, run through the duckdb API.

For every measured dbt step the benchmark replays, on a copy of the database as it was
before that step, the SQL dbt compiled for it (read from the step's run_results.json), in
the order dbt finished the nodes (a node only starts once its parents have finished, so
that order is a valid dependency order). What dbt adds on top is what the ratio measures:
process start-up and parsing, contracts, the hooks and the audit trail, stored test
failures, per-node metadata queries and Dagster-free bookkeeping.

Each node becomes the plain statement a hand-written script would use:

- seed: `create table ... as select ... from read_csv(...)` with the seed's column types;
- view, table: `create or replace view|table ... as <select>`;
- incremental: `create table ... as` on the first build; afterwards delete+insert by the
  unique key (through a temporary table) or a plain insert for `append`;
- external (the Parquet exports): `copy (<select>) to ... (format parquet, partition_by ...)`;
- snapshot: a hand-written SCD2 merge (timestamp or check strategy, hard deletes as new
  records), as one would write it without dbt;
- data test: `select count(*) from (<test query>)`; unit tests (fixtures, no data) and hooks
  are left out, and so are the tests of what hooks write: the row accounting each staging
  model's post-hook keeps (macros/lake_audit.sql) is on dbt's side of the ratio.

The statements are also written to a .sql file next to the results, to read or to run by
hand in the duckdb CLI.

    python -m bench.baseline replay --database DB --run-results RESULTS --manifest MANIFEST
    python -m bench.baseline compile-dataset --as-of YYYY-MM-DD --output rebuild.sql
    python -m bench.baseline rebuild --database DB --sql rebuild.sql
"""

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
# Generic tests that read tables a hook writes (the lake's row accounting), which the
# baseline does not keep.
TESTS_OF_HOOK_TABLES = frozenset({"lake_quarantine_rate"})


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _schema_of(relation: str) -> str:
    """`"db"."schema"."table"` → `"db"."schema"` (dbt's relation_name is always quoted)."""
    return relation.rsplit(".", 1)[0]


def _seed(node: Mapping[str, Any], relation: str) -> Iterator[str]:
    path = REPO_ROOT / node["original_file_path"]
    types = node["config"].get("column_types") or {}
    casts = ", ".join(f"cast({_quoted(c)} as {t}) as {_quoted(c)}" for c, t in types.items())
    replace = f" replace ({casts})" if casts else ""
    yield (
        f"create or replace table {relation} as select *{replace} "
        f"from read_csv({_literal(str(path))}, header = true, all_varchar = true)"
    )


def _incremental(node: Mapping[str, Any], relation: str, sql: str, existing: bool) -> Iterator[str]:
    if not existing:
        yield f"create table {relation} as (\n{sql}\n)"
        return
    config = node["config"]
    if config.get("incremental_strategy") == "append":
        yield f"insert into {relation} by name (\n{sql}\n)"
        return
    keys = config["unique_key"]
    keys = [keys] if isinstance(keys, str) else list(keys)
    yield f"create or replace temp table baseline_increment as (\n{sql}\n)"
    matched = " and ".join(f"{relation}.{k} = baseline_increment.{k}" for k in keys)
    yield f"delete from {relation} where exists (select 1 from baseline_increment where {matched})"
    yield f"insert into {relation} by name (select * from baseline_increment)"
    yield "drop table baseline_increment"


def _external(node: Mapping[str, Any], relation: str, sql: str) -> Iterator[str]:
    config = node["config"]
    options = dict(config.get("options") or {})
    partition_by = options.get("partition_by")
    clauses = [f"format {config.get('format', 'parquet')}"]
    if partition_by:
        clauses.append(f"partition_by ({partition_by})")
    if str(options.get("overwrite", "")).lower() == "true":
        clauses.append("overwrite true")
    location = config["location"]
    yield f"copy (\n{sql}\n) to {_literal(location)} ({', '.join(clauses)})"
    # the view dbt-duckdb puts over an export, which its tests read
    files = f"{location}/*/*.parquet" if partition_by else location
    yield f"create or replace view {relation} as select * from read_parquet({_literal(files)})"


def _snapshot(node: Mapping[str, Any], relation: str, sql: str, existing: bool) -> Iterator[str]:
    """SCD2 by hand: versions close when a newer one arrives or the key disappears."""
    config = node["config"]
    key = config["unique_key"]
    updated_at = config["updated_at"]
    if config["strategy"] == "check":
        check_cols = config["check_cols"]
        changed = " or ".join(
            f"current_rows.{c} is distinct from source_rows.{c}" for c in check_cols
        )
    else:
        changed = f"source_rows.{updated_at} > current_rows.{updated_at}"
    hard_deletes = config.get("hard_deletes") == "new_record"
    scd_id = (
        f"md5(coalesce(cast({key} as varchar), '') || '|' "
        f"|| coalesce(cast({updated_at} as varchar), ''))"
    )
    deleted_flag = ", 'False' as dbt_is_deleted" if hard_deletes else ""
    yield f"create or replace temp table baseline_source as (\n{sql}\n)"
    if not existing:
        yield (
            f"create table {relation} as select *, {scd_id} as dbt_scd_id, "
            f"{updated_at} as dbt_updated_at, {updated_at} as dbt_valid_from, "
            f"cast(null as timestamp) as dbt_valid_to{deleted_flag} from baseline_source"
        )
        yield "drop table baseline_source"
        return
    current = f"select * from {relation} where dbt_valid_to is null"
    yield (
        f"create or replace temp table baseline_changed as "
        f"select source_rows.* from baseline_source as source_rows "
        f"left join ({current}) as current_rows on source_rows.{key} = current_rows.{key} "
        f"where current_rows.{key} is null or {changed}"
        + (" or current_rows.dbt_is_deleted = 'True'" if hard_deletes else "")
    )
    yield (
        f"update {relation} set dbt_valid_to = baseline_changed.{updated_at} "
        f"from baseline_changed where {relation}.{key} = baseline_changed.{key} "
        f"and {relation}.dbt_valid_to is null"
    )
    yield (
        f"insert into {relation} by name select *, {scd_id} as dbt_scd_id, "
        f"{updated_at} as dbt_updated_at, {updated_at} as dbt_valid_from, "
        f"cast(null as timestamp) as dbt_valid_to{deleted_flag} from baseline_changed"
    )
    if hard_deletes:
        yield (
            f"create or replace temp table baseline_gone as select current_rows.* exclude "
            f"(dbt_scd_id, dbt_updated_at, dbt_valid_from, dbt_valid_to, dbt_is_deleted) "
            f"from ({current}) as current_rows where current_rows.dbt_is_deleted is distinct "
            f"from 'True' and not exists (select 1 from baseline_source as source_rows "
            f"where source_rows.{key} = current_rows.{key})"
        )
        yield (
            f"update {relation} set dbt_valid_to = current_localtimestamp() "
            f"from baseline_gone where {relation}.{key} = baseline_gone.{key} "
            f"and {relation}.dbt_valid_to is null"
        )
        yield (
            f"insert into {relation} by name select *, {scd_id} as dbt_scd_id, "
            f"current_localtimestamp() as dbt_updated_at, "
            f"current_localtimestamp() as dbt_valid_from, "
            f"cast(null as timestamp) as dbt_valid_to, 'True' as dbt_is_deleted from baseline_gone"
        )
        yield "drop table baseline_gone"
    yield "drop table baseline_changed"
    yield "drop table baseline_source"


def statements(
    run_results: Mapping[str, Any],
    manifest: Mapping[str, Any],
    existing: set[str],
) -> Iterator[str]:
    """The plain-SQL script of one dbt step, node by node in dbt's finishing order."""
    schemas: set[str] = set()
    for result in run_results["results"]:
        unique_id = result["unique_id"]
        resource_type = unique_id.split(".", 1)[0]
        if resource_type not in {"seed", "model", "snapshot", "test"}:
            continue
        node = manifest["nodes"][unique_id]
        sql = (result.get("compiled_code") or "").strip().rstrip(";")
        relation = result.get("relation_name") or node.get("relation_name")
        yield f"-- {unique_id}"
        if resource_type == "test":
            if (node.get("test_metadata") or {}).get("name") not in TESTS_OF_HOOK_TABLES:
                yield f"select count(*) from (\n{sql}\n)"
            continue
        materialized = node["config"]["materialized"]
        if relation and _schema_of(relation) not in schemas:
            schemas.add(_schema_of(relation))
            yield f"create schema if not exists {_schema_of(relation)}"
        if resource_type == "seed":
            yield from _seed(node, relation)
        elif resource_type == "snapshot":
            yield from _snapshot(node, relation, sql, relation in existing)
        elif materialized == "view":
            yield f"create or replace view {relation} as (\n{sql}\n)"
        elif materialized == "table":
            yield f"create or replace table {relation} as (\n{sql}\n)"
        elif materialized == "incremental":
            yield from _incremental(node, relation, sql, relation in existing)
        elif materialized == "external":
            yield from _external(node, relation, sql)
        else:
            raise ValueError(f"{unique_id}: materialisation {materialized!r} has no baseline")


def existing_relations(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "select database_name, schema_name, table_name from duckdb_tables() "
        "union all select database_name, schema_name, view_name from duckdb_views() "
        "where not internal"
    ).fetchall()
    return {".".join(_quoted(part) for part in row) for row in rows}


def replay(
    database: Path,
    run_results: Path,
    manifest: Path,
    script: Path | None = None,
    memory_limit: str | None = None,
) -> int:
    """Execute the baseline of one dbt step against `database`; returns the statements run."""
    results = json.loads(run_results.read_text())
    nodes = json.loads(manifest.read_text())
    executed = 0
    with duckdb.connect(str(database)) as connection:
        apply_settings(connection, memory_limit)
        lines = list(statements(results, nodes, existing_relations(connection)))
        if script is not None:
            script.write_text(";\n\n".join(lines) + ";\n")
        for statement in lines:
            if statement.startswith("-- "):
                continue
            try:
                connection.execute(statement).fetchall()
            except duckdb.Error as error:
                message = f"baseline statement failed: {error}\n{statement[:2000]}"
                raise SystemExit(message) from None
            executed += 1
    return executed


def apply_settings(connection: duckdb.DuckDBPyConnection, memory_limit: str | None) -> None:
    """What the dbt profile gives DuckDB (settings and the plugin's lake_file_inspection
    function, which the lake inventory calls), so both sides run under the same rules."""
    from warehouse.duckdb_plugin import register_inspection

    connection.execute("set preserve_insertion_order = false")
    connection.execute("set TimeZone = 'UTC'")
    register_inspection(connection)
    if memory_limit:
        connection.execute(f"set memory_limit = {_literal(memory_limit)}")


def rebuild(database: Path, sql: Path) -> str:
    """What `warehouse.datasets rebuild` does once dbt has compiled the dataset's SQL."""
    from warehouse.fingerprint import fingerprint

    with duckdb.connect() as connection:
        apply_settings(connection, None)
        alias = _quoted(database.stem)
        connection.execute(f"attach {_literal(str(database))} as {alias} (read_only)")
        connection.execute(f"use {_quoted(database.stem)}")
        connection.execute(f"create temp table rebuilt_dataset as {sql.read_text()}")
        return fingerprint(connection, "temp.rebuilt_dataset")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    replay_parser = commands.add_parser("replay", help="replay the SQL of one dbt step")
    replay_parser.add_argument("--database", type=Path, required=True)
    replay_parser.add_argument("--run-results", type=Path, required=True)
    replay_parser.add_argument("--manifest", type=Path, required=True)
    replay_parser.add_argument("--script", type=Path, help="also write the statements here")
    replay_parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 2GiB")
    compile_parser = commands.add_parser("compile-dataset", help="the training set's SQL, as of")
    compile_parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    compile_parser.add_argument("--output", type=Path, required=True)
    rebuild_parser = commands.add_parser("rebuild", help="run compiled dataset SQL, fingerprint it")
    rebuild_parser.add_argument("--database", type=Path, required=True)
    rebuild_parser.add_argument("--sql", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "replay":
        replay(args.database, args.run_results, args.manifest, args.script, args.memory_limit)
    elif args.command == "compile-dataset":
        from warehouse.datasets import compiled_dataset_sql, dataset_model

        args.output.write_text(compiled_dataset_sql(dataset_model("training_set"), args.as_of))
    else:
        print(rebuild(args.database, args.sql))
    return 0


if __name__ == "__main__":
    sys.exit(main())
