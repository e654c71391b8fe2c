"""The walking skeleton, end to end: generated lake → dbt on DuckDB → ML feature table."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest
from conftest import Warehouse

from generator.manifest import load_counts

SOURCES = ("customers", "products", "orders", "order_items", "events")
LAYER_TABLES = {
    "staging": ["stg_shop__customers", "stg_shop__orders", "stg_shop__events"],
    "marts": ["dim_customers", "dim_products", "fct_orders"],
    "ml": ["ml_customer_features"],
}


def test_every_layer_has_rows(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        for schema, tables in LAYER_TABLES.items():
            for table in tables:
                (rows,) = connection.execute(f"select count(*) from {schema}.{table}").fetchone()
                assert rows > 0, f"{schema}.{table} is empty"


def test_rows_reconcile_with_the_generators_own_counts(warehouse: Warehouse) -> None:
    """For every source and day: landed = kept + duplicates + quarantined, each term equal
    to what the generator says it wrote, and each quarantine rule to the defects it injected."""
    expected = load_counts(warehouse.lake)
    with warehouse.connect() as connection:
        reconciliation = {
            (source, str(day)): (landed, kept, duplicates, quarantined)
            for source, day, landed, kept, duplicates, quarantined in connection.execute(
                """
                select source_name, ingest_date, rows_landed, rows_kept, rows_duplicate,
                       rows_quarantined
                from audit.row_count_reconciliation
                """
            ).fetchall()
        }
        quarantined_by_rule: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for source, day, rule, rows in connection.execute(
            """
            select source_name, ingest_date, rejection_reason, count(*)
            from audit.quarantined_rows group by all
            """
        ).fetchall():
            quarantined_by_rule[(source, str(day))][rule] = rows

    days = sorted(expected)
    assert len(days) == warehouse.backfill_days + warehouse.daily_runs
    for day in days:
        for source in SOURCES:
            counts = expected[day]["sources"][source]
            defects = {rule: n for rule, n in counts["defects"].items() if n}
            landed, kept, duplicates, quarantined = reconciliation[(source, day)]
            where = f"{source} on {day}"
            assert landed == counts["rows"], where
            assert duplicates == counts["duplicates"], where
            assert quarantined_by_rule[(source, day)] == Counter(defects), where
            assert quarantined == sum(defects.values()), where
            assert kept == landed - duplicates - quarantined, where


def test_every_defect_rule_is_exercised(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        rules = {
            row[0]
            for row in connection.execute(
                "select distinct rejection_reason from audit.quarantined_rows"
            ).fetchall()
        }
        (duplicates,) = connection.execute(
            "select sum(rows_duplicate) from audit.row_count_reconciliation"
        ).fetchone()
    assert {
        "null_key",
        "unknown_currency",
        "negative_quantity",
        "unparseable_value",
        "future_timestamp",
    } <= rules
    assert duplicates > 0


def test_snapshots_hold_several_versions_of_changed_customers(warehouse: Warehouse) -> None:
    """Customers who existed at the first build and changed in a later daily run must have
    one snapshot version per build that saw them change."""
    with warehouse.connect() as connection:
        first_build_last_day = connection.execute(
            f"""
            select min(_ingest_date) + interval {warehouse.backfill_days - 1} day
            from staging.stg_shop__customers
            """
        ).fetchone()[0]
        rows = connection.execute(
            """
            with changed_later as (
                select customer_id
                from staging.stg_shop__customers
                group by customer_id
                having min(_ingest_date) <= $last_backfill_day
                   and max(_ingest_date) > $last_backfill_day
            )
            select changed_later.customer_id, count(snap.customer_id) as versions
            from changed_later
            join snapshots.snap_customers as snap using (customer_id)
            group by changed_later.customer_id
            """,
            {"last_backfill_day": first_build_last_day},
        ).fetchall()
    assert rows, "no customer changed after the backfill: the sample is too small"
    assert all(versions > 1 for _, versions in rows), rows[:5]


def test_no_feature_row_uses_data_at_or_after_its_as_of_date(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        (leaks,) = connection.execute(
            """
            select count(*) from ml.ml_customer_features
            where last_order_placed_at >= as_of_date or last_event_at >= as_of_date
            """
        ).fetchone()
    assert leaks == 0


def test_order_counts_match_an_independent_count_from_the_raw_files(warehouse: Warehouse) -> None:
    """Recount, straight from the raw Parquet, the orders each customer had placed before
    each as-of date; the feature table must agree exactly, so nothing at or after the as-of
    date can have been counted."""
    placed = (
        ds.dataset(warehouse.lake / "orders", format="parquet", partitioning="hive")
        .to_table(columns=["order_id", "customer_id", "status", "placed_at"])
        .to_pylist()
    )
    first_placement: dict[str, tuple[str, object]] = {}
    for row in placed:
        if row["status"] == "placed" and row["order_id"] and row["customer_id"]:
            first_placement[row["order_id"]] = (row["customer_id"], row["placed_at"])

    with warehouse.connect() as connection:
        features = connection.execute(
            "select customer_id, as_of_date, orders_lifetime from ml.ml_customer_features"
        ).fetchall()
    assert features
    by_customer: dict[str, list[object]] = defaultdict(list)
    for customer_id, placed_at in first_placement.values():
        by_customer[customer_id].append(placed_at)
    for customer_id, as_of_date, orders_lifetime in features:
        as_of = as_of_date.isoformat()
        expected = sum(1 for at in by_customer[customer_id] if at.isoformat() < as_of)
        assert orders_lifetime == expected, (customer_id, as_of_date)


@pytest.mark.parametrize("var_value", ["2026-13-45x", "'; drop table x; --"])
def test_a_malformed_date_var_is_refused_before_any_sql_runs(
    warehouse: Warehouse, var_value: str
) -> None:
    result = warehouse.dbt(
        "compile",
        "--select",
        "base_shop__orders",
        "--vars",
        f'{{min_date: "{var_value}"}}',
        check=False,
    )
    assert result.returncode != 0
    assert "must be a date written YYYY-MM-DD" in result.stdout


def test_only_tolerated_tests_keep_their_failing_rows(warehouse: Warehouse) -> None:
    """A test the run goes on past (severity warn, or an error_if threshold that lets a few
    failures through) keeps its failing rows in the audit_test_failures schema; any other
    test stops the run when it fails and stores nothing, so a passing run creates no table
    per test."""
    manifest = warehouse.manifest()
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    tolerated = {
        node["alias"]
        for node in tests
        if node["config"]["severity"].lower() == "warn"
        or node["config"]["error_if"].replace(" ", "") != "!=0"
    }
    storing = {node["alias"] for node in tests if node["config"]["store_failures"]}
    assert len(tolerated) >= 4
    assert storing == tolerated
    with warehouse.connect() as connection:
        stored = {
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables"
                " where table_schema like '%audit_test_failures'"
            ).fetchall()
        }
    assert stored == storing


def test_no_table_stores_duckdbs_128_bit_integer(warehouse: Warehouse) -> None:
    """DuckDB sums integers into a 128-bit integer (HUGEINT) unless the SQL casts the sum.
    Stored, that type reads back slowly (a quarter of a daily feature run at M once) and is
    DuckDB's own: Spark and Trino have no such type, so counts are typed as bigint."""
    with warehouse.connect() as connection:
        wide = connection.execute(
            "select columns.table_schema || '.' || columns.table_name || '.' || column_name"
            " from information_schema.columns"
            " inner join information_schema.tables using (table_catalog, table_schema, table_name)"
            " where table_type = 'BASE TABLE' and data_type in ('HUGEINT', 'UHUGEINT')"
        ).fetchall()
        tables = connection.execute(
            "select count(*) from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchone()
    assert tables is not None and tables[0] > 20
    assert wide == []


def enforced_keys(manifest: dict) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(schema, table, NOT NULL or PRIMARY KEY, columns) of every key constraint of an
    enforced contract on a table, as the manifest declares them."""
    keys = set()
    kinds = {"not_null": "NOT NULL", "primary_key": "PRIMARY KEY"}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] not in {
            "table",
            "incremental",
        }:
            continue
        if not node["config"].get("contract", {}).get("enforced"):
            continue
        relation = (node["schema"], node["alias"])
        for name, column in node["columns"].items():
            for constraint in column.get("constraints", []):
                if constraint["type"] in kinds:
                    keys.add((*relation, kinds[constraint["type"]], (name,)))
        for constraint in node.get("constraints", []):
            if constraint["type"] in kinds:
                keys.add((*relation, kinds[constraint["type"]], tuple(constraint["columns"])))
    return keys


def test_keys_without_a_data_test_are_enforced_by_duckdb(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Keys with an enforced contract constraint have no unique or not_null data test (the
    models' YAML says why). So the constraints must be in the warehouse, and refuse a
    duplicate and a null key: otherwise nothing would check those keys."""
    declared = enforced_keys(warehouse.manifest())
    with warehouse.connect() as connection:
        built = {
            (schema, table)
            for schema, table in connection.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_type = 'BASE TABLE'"
            ).fetchall()
        }
        in_warehouse = {
            (schema, table, kind, tuple(columns))
            for schema, table, kind, columns in connection.execute(
                "select schema_name, table_name, constraint_type, constraint_column_names"
                " from duckdb_constraints()"
                " where constraint_type in ('NOT NULL', 'PRIMARY KEY')"
            ).fetchall()
        }
    expected = {key for key in declared if key[:2] in built}
    tables = {key[1] for key in expected}
    assert {"dim_customers", "dim_products", "fct_orders", "ml_customer_labels"} <= tables
    assert expected - in_warehouse == set()

    copy = tmp_path / warehouse.database.name
    shutil.copy(warehouse.database, copy)
    with duckdb.connect(str(copy)) as connection:
        with pytest.raises(duckdb.ConstraintException, match="order_id"):
            connection.execute(
                "insert into marts.fct_orders select * from marts.fct_orders limit 1"
            )
        with pytest.raises(duckdb.ConstraintException, match="customer_id"):
            connection.execute(
                "insert into ml.ml_customer_labels"
                " select * replace (null as customer_id) from ml.ml_customer_labels limit 1"
            )
