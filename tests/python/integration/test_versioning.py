"""Versioned history: snapshots, time travel, incremental facts, dataset versions, DuckLake."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Warehouse, run_datasets, run_dbt, warehouse_env

from warehouse.lakehouse import fingerprint_at_version

# Tables that accumulate history incrementally, and every table a build writes.
INCREMENTAL_TABLES = (
    "staging.stg_shop__customers",
    "staging.stg_shop__products",
    "staging.stg_shop__orders",
    "staging.stg_shop__order_items",
    "staging.stg_shop__events",
    "intermediate.int_events_aggregated_to_session_parts",
    "audit.quarantined_rows",
    "audit.row_count_reconciliation",
    "marts.fct_orders",
)
SNAPSHOTS = ("snapshots.snap_customers", "snapshots.snap_products", "snapshots.snap_order_status")


def fingerprints(database: Path, tables: tuple[str, ...]) -> dict[str, str]:
    from warehouse.fingerprint import fingerprint

    with duckdb.connect(str(database), read_only=True) as connection:
        return {table: fingerprint(connection, table) for table in tables}


def copy_of(warehouse: Warehouse, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the warehouse file and an environment whose dbt runs write to the copy."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.database, database)
    env = warehouse_env(warehouse.root)
    env.update(WAREHOUSE_DUCKDB_PATH=str(database), DBT_TARGET_PATH=str(tmp_path / "target"))
    return database, env


def registry(
    warehouse: Warehouse, dataset: str = "customer_features"
) -> list[tuple[str, object, int, str]]:
    with warehouse.connect() as connection:
        return connection.execute(
            """
            select version_id, as_of_date, row_count, fingerprint
            from ml.ml_dataset_versions where dataset_name = ? order by as_of_date
            """,
            [dataset],
        ).fetchall()


@pytest.mark.parametrize("dataset", ["customer_features", "training_set"])
def test_each_build_registered_one_version_of_each_dataset(
    warehouse: Warehouse, dataset: str
) -> None:
    versions = registry(warehouse, dataset)
    assert len(versions) == 1 + warehouse.daily_runs
    assert len({v[3] for v in versions}) == len(versions)


def test_a_version_rebuilds_bit_for_bit_after_later_days_corrected_history(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """v1 is the dataset registered by the backfill build (as of day D). Three more days
    landed since, changing customers who existed before D; rebuilding v1 from history
    gives its exact fingerprint and rows, while the current version differs."""
    v1_id, v1_as_of, v1_rows, v1_fingerprint = registry(warehouse)[0]
    current_fingerprint = registry(warehouse)[-1][3]
    assert current_fingerprint != v1_fingerprint

    with warehouse.connect() as connection:
        (corrected_customers,) = connection.execute(
            """
            select count(distinct customer_id) from staging.stg_shop__customers
            where _ingest_date >= $v1_as_of and customer_id in (
                select customer_id from staging.stg_shop__customers where _ingest_date < $v1_as_of
            )
            """,
            {"v1_as_of": v1_as_of},
        ).fetchone()
    assert corrected_customers > 0, "no customer that existed at v1 changed later"

    rebuilt_path = tmp_path / "rebuilt.parquet"
    result = run_datasets(
        warehouse.env,
        "rebuild",
        "--dataset=customer_features",
        f"--as-of={v1_as_of.isoformat()}",
        f"--output={rebuilt_path}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout

    exported = next((warehouse.root / "exports").rglob(f"version={v1_id}/*.parquet"))
    original = pq.read_table(exported)
    rebuilt = pq.read_table(rebuilt_path)
    assert original.num_rows == rebuilt.num_rows == v1_rows
    keys = [("customer_id", "ascending"), ("as_of_date", "ascending")]
    assert original.sort_by(keys).equals(rebuilt.sort_by(keys))


def test_rebuilding_an_unregistered_date_names_the_registered_ones(warehouse: Warehouse) -> None:
    result = run_datasets(warehouse.env, "rebuild", "--as-of=2001-01-01")
    assert result.returncode == 2
    assert "No version of training_set as of 2001-01-01" in result.stderr


def test_published_versions_read_back_through_ducklake_time_travel(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        publications = connection.execute(
            """
            select publications.ducklake_snapshot_id, versions.dataset_name, versions.fingerprint
            from ml.dataset_publications as publications
            join ml.ml_dataset_versions as versions using (version_id)
            order by publications.ducklake_snapshot_id
            """
        ).fetchall()
    assert len(publications) == 2 * (1 + warehouse.daily_runs)
    tables = {"customer_features": "ml.ml_customer_features", "training_set": "ml.ml_training_set"}
    lakehouse = warehouse.root / "lakehouse"
    for snapshot_id, dataset, registered_fingerprint in publications:
        assert (
            fingerprint_at_version(
                lakehouse / "catalog.ducklake",
                lakehouse / "data",
                tables[dataset],
                snapshot_id,
            )
            == registered_fingerprint
        ), (dataset, snapshot_id)


def test_exports_are_written_once_per_version_under_a_versioned_path(warehouse: Warehouse) -> None:
    for dataset in ("customer_features", "training_set"):
        exports = sorted((warehouse.root / "exports" / dataset).glob("version=*/*.parquet"))
        assert len(exports) == len(registry(warehouse, dataset)), dataset
        # each version travels with its datasheet (models/ml/datasheets.md), naming it
        for export in exports:
            sheet = (export.parent / "datasheet.md").read_text()
            version_id = export.parent.name.removeprefix("version=")
            assert f"version {version_id} of {dataset}" in sheet
            for section in ("Purpose", "Composition", "Collection", "Intended uses", "Owner"):
                assert section in sheet, (dataset, section)
    assert not list((warehouse.root / "exports").rglob("*.partial"))


def test_snapshot_runs_without_new_data_add_no_versions(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    database, env = copy_of(warehouse, tmp_path)
    before = fingerprints(database, SNAPSHOTS)
    for _ in range(2):
        run_dbt(env, "snapshot")
    assert fingerprints(database, SNAPSHOTS) == before


def test_a_hard_deleted_customer_has_a_closed_last_version(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        closings = connection.execute(
            """
            select closing.customer_id, closing.dbt_valid_from, closing.dbt_valid_to,
                   previous.dbt_valid_to
            from snapshots.snap_customers as closing
            join snapshots.snap_customers as previous
                on previous.customer_id = closing.customer_id
                and previous.dbt_scd_id != closing.dbt_scd_id
                and previous.dbt_valid_to = closing.dbt_valid_from
            where closing.dbt_is_deleted = 'True'
            """
        ).fetchall()
        # Customers the first build's snapshot saw alive and a later daily run saw deleted.
        (deleted_after_first_build,) = connection.execute(
            """
            with first_build as (
                select min(_ingest_date) + $backfill_days as first_daily_run_date
                from staging.stg_shop__customers
            )
            select count(*)
            from intermediate.int_customers_lifespans, first_build
            where first_ingest_date < first_daily_run_date
              and deletion_ingest_date >= first_daily_run_date
            """,
            {"backfill_days": warehouse.backfill_days},
        ).fetchone()
    assert deleted_after_first_build > 0, "the sample deleted nobody after the first build"
    assert len(closings) == deleted_after_first_build
    for customer_id, valid_from, valid_to, previous_valid_to in closings:
        assert valid_to is None, customer_id
        assert previous_valid_to == valid_from, customer_id


def test_rerunning_the_same_day_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    database, env = copy_of(warehouse, tmp_path)
    tables = (*INCREMENTAL_TABLES, *SNAPSHOTS, "ml.ml_customer_features", "ml.ml_dataset_versions")
    before = fingerprints(database, tables)
    run_dbt(env, "build")
    assert fingerprints(database, tables) == before


def test_a_full_refresh_gives_the_same_rows_as_the_incremental_history(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    database, env = copy_of(warehouse, tmp_path)
    before = fingerprints(database, (*INCREMENTAL_TABLES, "ml.ml_customer_features"))
    run_dbt(env, "build", "--full-refresh", "--exclude", "resource_type:snapshot")
    after = fingerprints(database, (*INCREMENTAL_TABLES, "ml.ml_customer_features"))
    assert after == before
    with duckdb.connect(str(database), read_only=True) as connection:
        (versions,) = connection.execute("select count(*) from ml.ml_dataset_versions").fetchone()
    registered = len(registry(warehouse, "customer_features")) + len(
        registry(warehouse, "training_set")
    )
    assert versions == registered, "a full refresh must not rewrite the registry"


def fingerprints_without_paths(database: Path, tables: tuple[str, ...]) -> dict[str, str]:
    """fingerprints() of every column but those naming a lake file, whose paths a copied
    lake changes (older rows keep the original lake's)."""
    from warehouse.fingerprint import fingerprint, relation_columns

    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            table: fingerprint(
                connection,
                table,
                [
                    name
                    for name, _ in relation_columns(connection, table)
                    if name not in ("_source_file", "source_file", "raw_record")
                ],
            )
            for table in tables
        }


def rewritten_from(env: dict[str, str], model_path: str) -> str:
    """The first ingest date the last run's compiled incremental model rewrote."""
    compiled = Path(env["DBT_TARGET_PATH"]) / "compiled" / "ml_warehouse" / "models" / model_path
    return re.findall(r"between cast\('(\d{4}-\d\d-\d\d)' as date\)", compiled.read_text())[0]


def test_a_daily_run_rewrites_a_lookback_day_only_when_a_file_there_landed_late_or_changed(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Day L's run rewrites L, and an earlier day of its lookback only when a file there was
    inspected after the model's last successful build: a late file, a re-delivered one. A
    model that did not run since (a failed or partial run) still catches up. Every run's
    reconciliation tests pass (rows landed = kept + duplicates + quarantined), and the
    result is the full rebuild's, row for row."""
    database, env = copy_of(warehouse, tmp_path)
    lake = tmp_path / "lake"
    shutil.copytree(warehouse.lake, lake)
    last = max(date.fromisoformat(p.name.split("=")[1]) for p in (lake / "orders").iterdir())
    two_before, day_before = last - timedelta(days=2), last - timedelta(days=1)
    env.update(
        WAREHOUSE_LAKE_DIR=str(lake),
        WAREHOUSE_WINDOW_MIN_DATE=last.isoformat(),
        WAREHOUSE_WINDOW_MAX_DATE=last.isoformat(),
    )
    daily = ("build", "--selector", "daily_build")
    # the copy's files are new paths to the warehouse: this run rewrites the whole lookback
    run_dbt(env, *daily)

    with duckdb.connect(str(database), read_only=True) as connection:
        # a delivered order of L-2, never returned: its return lands late, in L-2's folder
        order_id, customer_id, placed_at, channel, currency, country = connection.execute(
            """
            select order_id, customer_id, placed_at, channel, currency_code, shipping_country_code
            from staging.stg_shop__orders
            where status = 'delivered' and _ingest_date = $day and order_id not in (
                select order_id from staging.stg_shop__orders where status = 'returned'
            )
            order by order_id limit 1
            """,
            {"day": two_before},
        ).fetchone()
    orders = pq.read_table(next((lake / "orders" / f"ingest_date={two_before}").glob("*.parquet")))
    late_return = {
        "order_id": order_id,
        "customer_id": customer_id,
        "status": "returned",
        "placed_at": placed_at,
        "status_at": datetime.combine(two_before, datetime.min.time()) + timedelta(minutes=5),
        "channel": channel,
        "currency": currency,
        "shipping_country_code": country,
    }
    pq.write_table(
        pa.Table.from_pylist([late_return], schema=orders.schema),
        lake / "orders" / f"ingest_date={two_before}" / "late-return.parquet",
    )
    # L-1's events file is delivered again, without its last row
    events_file = next((lake / "events" / f"ingest_date={day_before}").glob("*.parquet"))
    events = pq.read_table(events_file)
    dropped_event = events.column("event_id")[events.num_rows - 1].as_py()
    pq.write_table(events.slice(0, events.num_rows - 1), events_file)

    def returned(connection: duckdb.DuckDBPyConnection) -> object:
        return connection.execute(
            "select returned_at from marts.fct_orders where order_id = ?", [order_id]
        ).fetchone()[0]

    # a partial run: staging and the audit models see the files, fct_orders does not run
    run_dbt(env, "build", "--select", "staging", "audit")
    assert rewritten_from(env, "staging/shop/stg_shop__orders.sql") == two_before.isoformat()
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute(
            "select count(*) from staging.stg_shop__orders where order_id = ? and status = ?",
            [order_id, "returned"],
        ).fetchone() == (1,)
        assert connection.execute(
            "select count(*) from staging.stg_shop__events where event_id = ?", [dropped_event]
        ).fetchone() == (0,)
        assert returned(connection) is None

    # the next daily run: staging has read those files, fct_orders and the features catch up
    result = run_dbt(env, *daily)
    assert rewritten_from(env, "staging/shop/stg_shop__orders.sql") == last.isoformat()
    assert rewritten_from(env, "marts/fct_orders.sql") == two_before.isoformat()
    assert f"fct_orders: a lake file of {two_before} was inspected" in result.stdout
    with duckdb.connect(str(database), read_only=True) as connection:
        assert returned(connection) == late_return["status_at"]

    # nothing landed since: every model rewrites day L only
    run_dbt(env, *daily)
    for model in ("staging/shop/stg_shop__orders.sql", "marts/fct_orders.sql"):
        assert rewritten_from(env, model) == last.isoformat(), model

    tables = (*INCREMENTAL_TABLES, "ml.ml_customer_features")
    incremental = fingerprints_without_paths(database, tables)
    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(database, rebuilt)
    full_env = {key: value for key, value in env.items() if not key.startswith("WAREHOUSE_WINDOW_")}
    full_env.update(WAREHOUSE_DUCKDB_PATH=str(rebuilt), DBT_TARGET_PATH=str(tmp_path / "full"))
    run_dbt(full_env, "build", "--full-refresh", "--exclude", "resource_type:snapshot")
    assert fingerprints_without_paths(rebuilt, tables) == incremental


def test_as_of_returns_one_version_per_customer(warehouse: Warehouse) -> None:
    result = warehouse.dbt(
        "show",
        "--inline",
        "select count(*) as versions, count(distinct customer_id) as customers "
        "from {{ as_of(ref('snap_customers'), \"timestamp '2026-03-12 12:00:00'\") }}",
        "--output",
        "json",
    )
    # the JSON document is the last thing printed, on lines of its own
    payload = result.stdout[result.stdout.rindex("\n{\n") + 1 : result.stdout.rindex("}") + 1]
    row = json.loads(payload)["show"][0]
    assert row["versions"] == row["customers"] > 0


@pytest.mark.parametrize("var_name", ["dataset_as_of", "max_date"])
def test_date_vars_are_validated(warehouse: Warehouse, var_name: str) -> None:
    result = warehouse.dbt(
        "compile", "--select", "ml_customer_features", "--vars", f"{{{var_name}: 'x'}}", check=False
    )
    assert result.returncode != 0
    assert f"var '{var_name}' must be a date written YYYY-MM-DD" in result.stdout
