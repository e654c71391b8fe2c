"""Quality gates: hand-made bad files are quarantined with the right reason and nothing is
lost; contracts stop a breaking change; feature v1 consumers survive v2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import REPO_ROOT, Warehouse, project_copy, run_dbt, warehouse_env

from generator.sources import (
    CUSTOMERS_SCHEMA,
    EVENTS_SCHEMA,
    ORDER_ITEMS_SCHEMA,
    ORDERS_SCHEMA,
    PRODUCTS_SCHEMA,
)

DAY = "2026-05-01"
AT = datetime(2026, 5, 1, 12, 0)
FUTURE = datetime(2027, 5, 1, 12, 0)
EPOCH = datetime(1970, 1, 1, 0, 0)


def write(lake: Path, source: str, rows: list[dict], schema: pa.Schema) -> None:
    folder = lake / source / f"ingest_date={DAY}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-0.parquet")


def customer(customer_id: str | None, updated_at: datetime = AT) -> dict:
    return {
        "customer_id": customer_id,
        "email": "a@example.com",
        "first_name": "A",
        "last_name": "B",
        "phone": "+1",
        "birth_date": date(1990, 1, 1),
        "country_code": "DE",
        "city": "Berlin",
        "postal_code": "10115",
        "segment": "consumer",
        "marketing_opt_in": True,
        "created_at": AT,
        "updated_at": updated_at,
        "is_deleted": False,
    }


def order(order_id: str | None, currency: str = "EUR", status_at: datetime = AT) -> dict:
    return {
        "order_id": order_id,
        "customer_id": "C1",
        "status": "placed",
        "placed_at": AT,
        "status_at": status_at,
        "channel": "web",
        "currency": currency,
        "shipping_country_code": "DE",
    }


def item(order_id: str | None, line_number: int, quantity: str) -> dict:
    return {
        "order_id": order_id,
        "line_number": line_number,
        "product_id": "P1",
        "quantity": quantity,
        "unit_price": 9.99,
    }


def event(event_id: str | None, event_at: datetime = AT) -> dict:
    return {
        "event_id": event_id,
        "session_id": "S1",
        "customer_id": "C1",
        "anonymous_id": "A1",
        "event_type": "page_view",
        "event_at": event_at,
        "page_url": "/",
        "search_query": None,
        "product_id": None,
        "device": "mobile",
        "ip_address": "10.0.0.1",
    }


CUSTOMERS = [
    customer("C1"),
    customer(None),
    customer("C2", updated_at=FUTURE),
    customer("C1"),
]
PRODUCTS = [
    {
        "product_id": "P1",
        "product_name": "x",
        "category": "books",
        "list_price": 5.0,
        "is_active": True,
        "updated_at": AT,
    },
    {
        "product_id": None,
        "product_name": "y",
        "category": "books",
        "list_price": 5.0,
        "is_active": True,
        "updated_at": AT,
    },
    {
        "product_id": "P2",
        "product_name": "z",
        "category": "books",
        "list_price": -1.0,
        "is_active": True,
        "updated_at": AT,
    },
]
ORDERS = [
    order("O1"),
    order(None),
    order("O2", currency="XXX"),
    order("O3", status_at=FUTURE),
    order("O1"),
]
# quantity delivered as text, as in a file whose column type drifted
ITEMS = [
    item("O1", 1, "2"),
    item(None, 1, "1"),
    item("O1", 2, "-3"),
    item("O1", 3, "two"),
    item("O1", 4, ""),
]
EVENTS = [
    event("E1"),
    event(None),
    event("E2", FUTURE),
    event("E3", EPOCH),
    event("E1"),
]
EXPECTED_QUARANTINE = {
    ("customers", "null_key"): 1,
    ("customers", "future_timestamp"): 1,
    ("products", "null_key"): 1,
    ("products", "negative_price"): 1,
    ("orders", "null_key"): 1,
    ("orders", "unknown_currency"): 1,
    ("orders", "future_timestamp"): 1,
    ("order_items", "null_key"): 1,
    ("order_items", "negative_quantity"): 1,
    ("order_items", "unparseable_value"): 2,
    ("events", "null_key"): 1,
    ("events", "future_timestamp"): 1,
    ("events", "timestamp_before_business_start"): 1,
}
EXPECTED_DUPLICATES = {"customers": 1, "orders": 1, "events": 1}


def test_every_defect_class_in_a_hand_made_file_is_quarantined_with_its_reason(
    tmp_path: Path,
) -> None:
    """One hand-written file per source with a row for every defect class the base_ models
    check, plus clean rows and exact re-deliveries: each defective row is quarantined with
    its reason and raw values, and rows landed = kept + duplicates + quarantined."""
    lake = tmp_path / "lake"
    # The lake contract's own schemas; quantity arrives as text, as in the drift day's file.
    items_schema = ORDER_ITEMS_SCHEMA.set(
        ORDER_ITEMS_SCHEMA.get_field_index("quantity"), pa.field("quantity", pa.string())
    )
    customers = [dict(row, preferred_language="de") for row in CUSTOMERS]
    write(lake, "customers", customers, CUSTOMERS_SCHEMA)
    write(lake, "products", PRODUCTS, PRODUCTS_SCHEMA)
    write(lake, "orders", ORDERS, ORDERS_SCHEMA)
    write(lake, "order_items", ITEMS, items_schema)
    write(lake, "events", EVENTS, EVENTS_SCHEMA)
    env = warehouse_env(tmp_path)
    # cautious: only tests whose every parent is selected (not the tests joining to other seeds)
    run_dbt(env, "build", "--select", "+path:models/staging", "--indirect-selection", "cautious")

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        quarantined = Counter(
            {
                (source, reason): count
                for source, reason, count in connection.execute(
                    "select source_name, rejection_reason, count(*) from audit.quarantined_rows "
                    "group by all"
                ).fetchall()
            }
        )
        reconciliation = {
            source: (landed, kept, duplicates, quarantined_rows, unaccounted)
            for source, landed, kept, duplicates, quarantined_rows, unaccounted in (
                connection.execute(
                    "select source_name, rows_landed, rows_kept, rows_duplicate, "
                    "rows_quarantined, unaccounted_rows from audit.row_count_reconciliation"
                ).fetchall()
            )
        }
        raw_values = connection.execute(
            "select raw_record from audit.quarantined_rows where rejection_reason = "
            "'unparseable_value' order by raw_record"
        ).fetchall()
    assert quarantined == Counter(EXPECTED_QUARANTINE)
    landed = {
        "customers": CUSTOMERS,
        "products": PRODUCTS,
        "orders": ORDERS,
        "order_items": ITEMS,
        "events": EVENTS,
    }
    for source, rows in landed.items():
        rejected = sum(n for (s, _), n in EXPECTED_QUARANTINE.items() if s == source)
        duplicates = EXPECTED_DUPLICATES.get(source, 0)
        assert reconciliation[source] == (
            len(rows),
            len(rows) - rejected - duplicates,
            duplicates,
            rejected,
            0,
        ), source
    assert [r[0] for r in raw_values] and all('"quantity"' in r[0] for r in raw_values)


def test_a_breaking_change_to_a_contracted_model_fails_the_build(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    project = project_copy(tmp_path)
    model = project / "models" / "marts" / "dim_products.sql"
    model.write_text(
        model.read_text().replace(
            "current_versions.product_name,", "current_versions.product_name as display_name,"
        )
    )
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.database, database)
    env = warehouse_env(warehouse.root)
    env.update(WAREHOUSE_DUCKDB_PATH=str(database), DBT_TARGET_PATH=str(tmp_path / "target"))
    result = run_dbt(
        env, "run", "--project-dir", str(project), "--select", "dim_products", check=False
    )
    assert result.returncode != 0
    assert "contract" in result.stdout.lower()
    assert "display_name" in result.stdout


def test_feature_v1_consumers_keep_their_columns_while_v2_renames_and_adds(
    warehouse: Warehouse,
) -> None:
    with warehouse.connect() as connection:

        def columns(table: str) -> list[str]:
            return [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = 'ml' "
                    "and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            ]

        v1 = columns("ml_customer_features")
        v2 = columns("ml_customer_features_v2")
        (training_rows,) = connection.execute("select count(*) from ml.ml_training_set").fetchone()
    assert "is_marketing_opt_in" in v1 and "has_marketing_consent" not in v1
    assert "has_marketing_consent" in v2 and "is_marketing_opt_in" not in v2
    assert "orders_per_session_30d" in v2 and "orders_per_session_30d" not in v1
    assert set(v2) == set(v1) - {"is_marketing_opt_in"} | {
        "has_marketing_consent",
        "orders_per_session_30d",
    }
    assert training_rows > 0, "the v1 consumer ml_training_set built"


def freshness_statuses(env: dict[str, str], target: Path) -> dict[str, str]:
    run_dbt(env, "source", "freshness", "--target-path", str(target), check=False)
    results = json.loads((target / "sources.json").read_text())["results"]
    return {result["unique_id"].rsplit(".", 1)[-1]: result["status"] for result in results}


def test_source_freshness_passes_on_a_current_lake_and_errors_on_a_stale_one(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    fresh_lake = tmp_path / "lake"
    start = (date.today() - timedelta(days=2)).isoformat()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generator",
            "generate",
            "--seed=1",
            # enough customers that the helpdesk feed has tickets on both days
            "--customers=2000",
            f"--start-date={start}",
            "--days=2",
            f"--out={fresh_lake}",
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    fresh = freshness_statuses(warehouse_env(tmp_path), tmp_path / "fresh")
    stale = freshness_statuses(warehouse.env, tmp_path / "stale")
    sources = {"customers", "products", "orders", "order_items", "events", "tickets"}
    assert fresh == dict.fromkeys(sources, "pass")
    # the shared sample ends in spring 2026: long past the four-day error threshold
    assert stale == dict.fromkeys(sources, "error")
