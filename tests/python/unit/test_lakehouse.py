"""Dataset fingerprints (Python and the dbt macro) and publication to DuckLake.

Works on a small DuckDB file made here, not on the full dbt build, so it runs in seconds
(each of the three macro tests runs `dbt compile`, about ten).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

from warehouse import lakehouse
from warehouse.duckdb_plugin import register_fingerprint_query
from warehouse.fingerprint import fingerprint, fingerprint_query, fingerprint_sql, relation_columns

FORMAT = re.compile(r"^\d+:[0-9a-f]{32}$")

FEATURES = pa.table(
    {
        "customer_id": pa.array([1, 2, 3, 4], pa.int64()),
        "score": pa.array([0.1, None, float("nan"), -2.5e-300], pa.float64()),
        "weight": pa.array([1.1, 2.0, None, 0.0], pa.float32()),
        "amount": pa.array([Decimal("1.50"), None, Decimal("0.00"), Decimal("-3.25")]),
        "note": pa.array(["", None, "NULL", "a, b"], pa.string()),
        "as_of": pa.array(
            [
                datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
                None,
                datetime(2026, 3, 2, tzinfo=UTC),
                datetime(2026, 3, 2, 0, 0, 0, 1, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        "seen_at": pa.array([datetime(2026, 3, 1, 8), None, None, None], pa.timestamp("us")),
        "tags": pa.array([["a"], [], None, ["b", None]], pa.list_(pa.string())),
    }
)


def make_warehouse(path: Path) -> Path:
    """A warehouse file with ml.features (nulls, floats, timestamps) and marts.orders."""
    with duckdb.connect(str(path)) as connection:
        connection.register("features", FEATURES)
        connection.execute("create schema ml")
        connection.execute("create schema marts")
        connection.execute(
            "create table ml.features as"
            " select * replace (cast(amount as decimal(12, 2)) as amount) from features"
        )
        connection.execute(
            "create table marts.orders as select range as order_id, range * 1.25 as total"
            " from range(50)"
        )
    return path


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def connection(warehouse_file: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(warehouse_file)) as connection:
        connection.execute("set TimeZone = 'America/New_York'")
        yield connection


def test_fingerprint_format(connection: duckdb.DuckDBPyConnection) -> None:
    value = fingerprint(connection, "ml.features")
    assert FORMAT.match(value), value
    assert value.startswith("4:")
    connection.execute("create table empty_table as select * from ml.features limit 0")
    assert FORMAT.match(fingerprint(connection, "empty_table"))
    assert fingerprint(connection, "empty_table").startswith("0:")


def test_fingerprint_ignores_row_order(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("create table forward as select * from ml.features order by customer_id")
    connection.execute(
        "create table backward as select * from ml.features order by customer_id desc"
    )
    assert connection.execute("select customer_id from backward limit 1").fetchone() == (4,)
    assert fingerprint(connection, "forward") == fingerprint(connection, "backward")


def test_fingerprint_sees_duplicates(connection: duckdb.DuckDBPyConnection) -> None:
    original = fingerprint(connection, "ml.features")
    connection.execute("create table once as select * from ml.features")
    connection.execute("insert into once select * from ml.features where customer_id = 1")
    connection.execute("create table twice as select * from once")
    connection.execute("insert into twice select * from ml.features where customer_id = 1")
    # XOR would give `twice` the original's value back; a sum does not.
    values = {original, fingerprint(connection, "once"), fingerprint(connection, "twice")}
    assert len(values) == 3


def test_fingerprint_tells_null_from_empty_and_text_null(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    values = {
        fingerprint(connection, f"(select {literal} as note)")
        for literal in ("cast(null as varchar)", "''", "'NULL'", "'null'")
    }
    assert len(values) == 4


def test_fingerprint_sees_one_changed_value(connection: duckdb.DuckDBPyConnection) -> None:
    before = fingerprint(connection, "ml.features")
    connection.execute("update ml.features set as_of = as_of + interval 1 microsecond")
    assert fingerprint(connection, "ml.features") != before


def test_fingerprint_columns_are_sorted_and_checked(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    assert fingerprint(connection, "ml.features", ["note", "customer_id"]) == fingerprint(
        connection, "ml.features", ["customer_id", "note"]
    )
    assert fingerprint(connection, "ml.features", ["note"]) != fingerprint(
        connection, "ml.features"
    )
    with pytest.raises(ValueError, match=r"not in ml\.features"):
        fingerprint(connection, "ml.features", ["no_such_column"])
    with pytest.raises(ValueError, match="nests a timestamptz"):
        fingerprint(connection, "(select [now()] as moments)")


def test_fingerprint_is_the_same_in_another_process_and_time_zone(
    warehouse_file: Path,
) -> None:
    with duckdb.connect(str(warehouse_file)) as connection:
        connection.execute("set TimeZone = 'America/New_York'")
        here = fingerprint(connection, "ml.features")
    script = (
        "import sys, duckdb\n"
        "from warehouse.fingerprint import fingerprint\n"
        "connection = duckdb.connect(sys.argv[1], read_only=True)\n"
        "connection.execute(\"set TimeZone = 'Asia/Tokyo'\")\n"
        "print(fingerprint(connection, 'ml.features'))\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", script, str(warehouse_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert there == here


def test_dbt_macro_renders_the_same_sql_and_value(tmp_path: Path) -> None:
    database = make_warehouse(tmp_path / "warehouse.duckdb")  # the file warehouse_env names
    relation = "api.Relation.create(database='warehouse', schema='ml', identifier='features')"
    compiled = run_dbt(
        warehouse_env(tmp_path),
        "compile",
        "--quiet",
        "--inline",
        f"select ({{{{ dataset_fingerprint({relation}) }}}}) as all_columns,"
        f" ({{{{ dataset_fingerprint({relation}, columns=['note', 'as_of']) }}}}) as two",
    ).stdout.strip()

    with duckdb.connect(str(database), read_only=True) as connection:
        columns = relation_columns(connection, "ml.features")
        chosen = sorted(column for column in columns if column[0] in ("as_of", "note"))
        quoted = '"warehouse"."ml"."features"'
        assert compiled == (
            f"select ({fingerprint_sql(quoted, columns)}) as all_columns,"
            f" ({fingerprint_sql(quoted, chosen)}) as two"
        )
        from_dbt = connection.execute(compiled).fetchone()
        assert from_dbt == (
            fingerprint(connection, "ml.features"),
            fingerprint(connection, "ml.features", ["note", "as_of"]),
        )


def test_the_sql_function_renders_the_python_query(connection: duckdb.DuckDBPyConnection) -> None:
    register_fingerprint_query(connection)
    register_fingerprint_query(connection.cursor())  # its cursors have it already: no error
    described = relation_columns(connection, "ml.features")

    def rendered(
        requested: str, columns: list[tuple[str, str]] = described
    ) -> tuple[str | None, str | None]:
        names, kinds = [name for name, _ in columns], [kind for _, kind in columns]
        row = connection.execute(
            "select unnest(dataset_fingerprint_query(?, ?, ?, ?))",
            ["ml.features", names, kinds, requested],
        ).fetchone()
        assert row is not None
        return row[0], row[1]

    assert rendered("null") == (fingerprint_query("ml.features", described), None)
    assert rendered('["note", "as_of"]') == (
        fingerprint_query("ml.features", described, ["note", "as_of"]),
        None,
    )
    refusals = {
        '"note"': "columns must be a non-empty list of column names, got note",
        "[]": "columns must be a non-empty list of column names, got []",
        '["note", "note"]': "columns must be distinct, got ['note', 'note']",
        '["no_such"]': "column no_such is not in ml.features (columns: customer_id, score,",
    }
    for requested, message in refusals.items():
        query, error = rendered(requested)
        assert query is None
        assert error is not None and error.startswith(f"dataset_fingerprint: {message}"), error
    query, error = rendered("null", [("moments", "TIMESTAMP WITH TIME ZONE[]")])
    assert query is None
    assert error is not None and error.startswith(
        "dataset_fingerprint: column moments of ml.features nests a timestamptz"
    ), error


def compile_fingerprint(env: dict[str, str], call: str) -> subprocess.CompletedProcess[str]:
    """`dbt compile` of one dataset_fingerprint call (`call`: its arguments), which may fail."""
    inline = f"select ({{{{ dataset_fingerprint({call}) }}}})"
    return run_dbt(env, "compile", "--quiet", "--inline", inline, check=False)


def test_dbt_macro_refuses_a_missing_column_naming_it(tmp_path: Path) -> None:
    make_warehouse(tmp_path / "warehouse.duckdb")
    relation = "api.Relation.create(database='warehouse', schema='ml', identifier='features')"
    result = compile_fingerprint(warehouse_env(tmp_path), f"{relation}, columns=['no_such']")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Compilation Error" in output, output
    assert (
        'dataset_fingerprint: column no_such is not in "warehouse"."ml"."features"'
        " (columns: customer_id, score, weight, amount, note, as_of, seen_at, tags)"
    ) in output, output
    assert "Python exception" not in output, output


def test_dbt_macro_without_the_plugin_says_what_to_do(tmp_path: Path) -> None:
    database = make_warehouse(tmp_path / "warehouse.duckdb")
    env = warehouse_env(tmp_path)
    env.update(WAREHOUSE_TARGET="analyst", WAREHOUSE_ANALYST_PATH=str(database))
    relation = "api.Relation.create(database='warehouse', schema='ml', identifier='features')"
    result = compile_fingerprint(env, relation)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "target 'analyst' does not load the project's dbt-duckdb plugin" in output, output
    assert "- module: warehouse.duckdb_plugin" in output, output
    assert "warehouse.fingerprint.fingerprint(connection, relation)" in output, output


def rows(table: pa.Table) -> str:
    """The rows by customer, as text, so that NaN equals NaN."""
    return repr(table.sort_by("customer_id").to_pylist())


def catalog(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "lake" / "catalog.ducklake", tmp_path / "lake" / "data"


def test_publish_and_time_travel(warehouse_file: Path, tmp_path: Path) -> None:
    catalog_path, data_path = catalog(tmp_path)
    tables = ["ml.features", "marts.orders"]

    first = lakehouse.publish(warehouse_file, catalog_path, data_path, tables)
    with duckdb.connect(str(warehouse_file), read_only=True) as connection:
        in_warehouse = {table: fingerprint(connection, table) for table in tables}
        first_rows = connection.execute("select * from ml.features").to_arrow_table()
    assert first.fingerprints == in_warehouse  # the lake holds exactly the warehouse's rows
    assert list(data_path.glob("ml/features/*.parquet"))  # Parquet, not inlined in metadata

    with duckdb.connect(str(warehouse_file)) as connection:
        connection.execute("update ml.features set note = 'changed' where customer_id = 2")
    second = lakehouse.publish(warehouse_file, catalog_path, data_path, tables)
    assert second.snapshot_id > first.snapshot_id
    assert second.fingerprints["ml.features"] != first.fingerprints["ml.features"]
    assert second.fingerprints["marts.orders"] == first.fingerprints["marts.orders"]
    assert lakehouse.current_snapshot_id(catalog_path, data_path) == second.snapshot_id

    for version in (first, second):
        for table in tables:
            assert (
                lakehouse.fingerprint_at_version(
                    catalog_path, data_path, table, version.snapshot_id
                )
                == version.fingerprints[table]
            )
    old = lakehouse.read_at_version(catalog_path, data_path, "ml.features", first.snapshot_id)
    assert old.schema == first_rows.schema
    assert rows(old) == rows(first_rows)
    new = lakehouse.read_at_version(catalog_path, data_path, "ml.features", second.snapshot_id)
    assert new.sort_by("customer_id")["note"].to_pylist() == ["", "changed", "NULL", "a, b"]


def test_publishing_unchanged_data_makes_a_new_snapshot(
    warehouse_file: Path, tmp_path: Path
) -> None:
    catalog_path, data_path = catalog(tmp_path)
    first = lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])
    again = lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])
    assert again.snapshot_id == first.snapshot_id + 1
    assert again.fingerprints == first.fingerprints


def test_reading_a_table_before_it_was_published_fails(
    warehouse_file: Path, tmp_path: Path
) -> None:
    catalog_path, data_path = catalog(tmp_path)
    first = lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])
    second = lakehouse.publish(warehouse_file, catalog_path, data_path, ["ml.features"])
    with pytest.raises(duckdb.CatalogException):
        lakehouse.read_at_version(catalog_path, data_path, "ml.features", first.snapshot_id)
    with pytest.raises(duckdb.InvalidInputException, match="No snapshot"):
        lakehouse.read_at_version(catalog_path, data_path, "ml.features", second.snapshot_id + 5)


def test_publish_refuses_a_locked_catalog(warehouse_file: Path, tmp_path: Path) -> None:
    catalog_path, data_path = catalog(tmp_path)
    lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from pathlib import Path\n"
            "from warehouse.lakehouse import open_lake\n"
            "with open_lake(Path(sys.argv[1]), Path(sys.argv[2]), read_only=False):\n"
            "    print('open', flush=True)\n"
            "    sys.stdin.read()\n",
            str(catalog_path),
            str(data_path),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(lakehouse.CatalogLockedError, match="another process"):
            lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])
    finally:
        holder.communicate(timeout=30)  # closing stdin lets it exit
    assert lakehouse.publish(warehouse_file, catalog_path, data_path, ["marts.orders"])


def test_missing_extension_names_the_package(
    monkeypatch: pytest.MonkeyPatch, warehouse_file: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr(lakehouse, "_ducklake_package_dir", lambda: None)
    with pytest.raises(lakehouse.DuckLakeExtensionMissingError, match="duckdb-extension-ducklake"):
        lakehouse.ducklake_extension_path()
    monkeypatch.setattr(lakehouse, "_ducklake_package_dir", lambda: tmp_path)
    with pytest.raises(lakehouse.DuckLakeExtensionMissingError, match="duckdb-extension-ducklake"):
        lakehouse.publish(warehouse_file, *catalog(tmp_path), ["marts.orders"])


def test_extension_is_found_in_the_installed_package() -> None:
    path = lakehouse.ducklake_extension_path()
    assert path.is_file()
    assert "duckdb_extension_ducklake" in path.parts
