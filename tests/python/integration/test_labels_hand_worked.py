"""ml_customer_labels against labels worked out by hand, on a lake made by hand.

The lake follows docs/sample_lake.md: five sources, one `part-0.parquet` per source and
ingest day (possibly with no rows), 35 days from 2026-03-01 to 2026-04-04. Nothing comes
from the generator, so the expected labels below are an oracle independent of the
warehouse's SQL and of the generator's simulation.

The rules (models/ml/_ml__models.yml, models/ml/datasheets.md), for as-of date D, with the
window [D, D+30) in valid time and "known" meaning landed in a partition before D+30:
- churned_30d: no order of the customer has a known `delivered` record with status_at in
  the window. A delivered order later returned still counts as delivered; a delivery after
  the customer's deletion still counts.
- spend_next_30d_eur: over the customer's orders placed in the window and known, the EUR
  value of their known lines, at the order currency's rate (seeds/currencies.csv), less
  every order whose `cancelled` record is known and has status_at in the window. Returned
  orders still count.

The knowledge date is the morning after the last landed day, 2026-04-05: the last day,
2026-04-04, landed an orders file whose only row is quarantined (null order_id on a status
record after `placed`), which must not hold the labels back. So the labelled as-of dates
are those D with D + 30 <= 2026-04-05: 2026-03-02 (the first as-of date) to 2026-03-06,
with windows closing on 2026-04-01, 04-02, 04-03, 04-04 and 04-05.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import run_dbt, warehouse_env

FIRST_DAY = date(2026, 3, 1)
LAST_DAY = date(2026, 4, 4)
TS = pa.timestamp("us")
SCHEMAS = {
    # preferred_language is left out: it appears mid-history in the real feed, and a file
    # without it is within the contract (the column reads as null)
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("email", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("phone", pa.string()),
            ("birth_date", pa.date32()),
            ("country_code", pa.string()),
            ("city", pa.string()),
            ("postal_code", pa.string()),
            ("segment", pa.string()),
            ("marketing_opt_in", pa.bool_()),
            ("created_at", TS),
            ("updated_at", TS),
            ("is_deleted", pa.bool_()),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("category", pa.string()),
            ("list_price", pa.float64()),
            ("is_active", pa.bool_()),
            ("updated_at", TS),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("status", pa.string()),
            ("placed_at", TS),
            ("status_at", TS),
            ("channel", pa.string()),
            ("currency", pa.string()),
            ("shipping_country_code", pa.string()),
        ]
    ),
    "order_items": pa.schema(
        [
            ("order_id", pa.string()),
            ("line_number", pa.int64()),
            ("product_id", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price", pa.float64()),
        ]
    ),
    "events": pa.schema(
        [
            ("event_id", pa.string()),
            ("session_id", pa.string()),
            ("customer_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("event_type", pa.string()),
            ("event_at", TS),
            ("page_url", pa.string()),
            ("search_query", pa.string()),
            ("product_id", pa.string()),
            ("device", pa.string()),
            ("ip_address", pa.string()),
        ]
    ),
}

# customer -> (country, currency); C2 pays in GBP (1.17 EUR per GBP in seeds/currencies.csv)
CUSTOMERS = {
    "C0000001": ("DE", "EUR"),
    "C0000002": ("GB", "GBP"),
    "C0000003": ("FR", "EUR"),
    "C0000004": ("DE", "EUR"),
    "C0000005": ("DE", "EUR"),
}

# order -> customer, placed_at
ORDERS = {
    "O000000001": ("C0000001", "2026-03-01 10:00:00"),
    "O000000002": ("C0000001", "2026-03-05 09:00:00"),
    "O000000003": ("C0000002", "2026-03-02 08:00:00"),
    "O000000004": ("C0000002", "2026-03-20 14:00:00"),
    "O000000005": ("C0000002", "2026-03-10 11:00:00"),
    "O000000006": ("C0000003", "2026-03-15 16:00:00"),
    "O000000007": ("C0000004", "2026-03-20 12:00:00"),
    "O000000008": ("C0000005", "2026-03-25 10:00:00"),
}

# Status records after `placed` (every order also has its `placed` record, landed the day it
# was placed): (order, status, status_at, landed on; None = the day of status_at).
STATUS_CHANGES = [
    ("O000000001", "shipped", "2026-03-02 09:00:00", None),
    ("O000000001", "delivered", "2026-03-04 12:00:00", None),
    ("O000000001", "returned", "2026-03-10 15:00:00", None),
    ("O000000002", "delivered", "2026-03-08 13:00:00", None),
    ("O000000002", "returned", "2026-03-15 10:00:00", None),
    ("O000000003", "cancelled", "2026-03-03 09:00:00", None),
    # a cancellation that happened in every window but landed three days late
    ("O000000004", "cancelled", "2026-03-31 10:00:00", "2026-04-03"),
    # a delivery that happened in every window but landed two days late
    ("O000000005", "delivered", "2026-03-31 18:00:00", "2026-04-02"),
    ("O000000006", "shipped", "2026-03-18 08:00:00", None),
    ("O000000006", "delivered", "2026-03-25 11:00:00", None),
    # delivered at exactly 00:00 of 04-03, landed (a carrier's clock a little ahead) in the
    # partition of 04-02, which the hard rules allow (status_at up to a day after landing)
    ("O000000007", "delivered", "2026-04-03 00:00:00", "2026-04-02"),
]

# The last day's only orders row: O8's delivery with its order_id lost (rule null_key), so
# the whole orders file of 2026-04-04 is quarantined.
QUARANTINED_DELIVERY = ("C0000005", "delivered", "2026-04-04 09:00:00")

# (order, line_number, product, quantity, unit_price in the order's currency, landed on;
# None = the day the order was placed)
LINES = [
    ("O000000001", 1, "P00001", 2, 10.00, None),
    ("O000000002", 1, "P00002", 1, 50.00, None),
    # a line of O2 that landed on 2026-04-03, four weeks after its order
    ("O000000002", 2, "P00001", 3, 10.00, "2026-04-03"),
    ("O000000003", 1, "P00001", 2, 10.00, None),
    ("O000000004", 1, "P00002", 1, 100.00, None),
    ("O000000005", 1, "P00001", 2, 10.00, None),
    ("O000000006", 1, "P00001", 3, 5.00, None),
    ("O000000007", 1, "P00002", 1, 40.00, None),
    ("O000000008", 1, "P00001", 1, 12.50, None),
]

# Worked out by hand from the records above. Windows (D -> closes, exclusive): 03-02 -> 04-01,
# 03-03 -> 04-02, 03-04 -> 04-03, 03-05 -> 04-04, 03-06 -> 04-05.
#
# C1 (EUR). Deliveries: O1 03-04 12:00 (in the windows of 03-02..03-04; returned 03-10, still
# a delivery), O2 03-08 (every window; returned 03-15, still a delivery): never churned.
# Spend: O1 was placed 03-01, before every window. O2 (placed 03-05 09:00: windows 03-02
# to 03-05; returned, still spend) is 50.00 from line 1, plus 30.00 from line 2 only where
# line 2 (landed 04-03) landed before the window closed: 03-05 (closes 04-04), not 03-04
# (closes 04-03: landed on the closing day is too late). 03-06: nothing placed -> 0.
#
# C2 (GBP at 1.17). Deliveries: O5's only, at 03-31 18:00 (in every window) but landed
# 04-02: unknown when the windows of 03-02 (04-01) and 03-03 (04-02) closed -> churned;
# known for 03-04 on -> not churned. Spend: O3 (placed 03-02, window of 03-02 only) was
# cancelled on 03-03, landed 03-03 -> 0. O4 (placed 03-20, every window), 100 GBP = 117.00,
# cancelled 03-31 but landed 04-03: the cancellation is known only for 03-05 and 03-06, so
# O4 counts 117.00 for 03-02..03-04. O5 (placed 03-10, every window), 20 GBP = 23.40.
# So 117.00 + 23.40 = 140.40 for 03-02..03-04, then 23.40.
#
# C3 (EUR), deleted 03-20 (alive on every labelled date). O6 delivered 03-25, after the
# deletion, in every window -> never churned. Spend: O6, 15.00, every window.
#
# C4 (EUR). O7 delivered at 04-03 00:00:00, landed 04-02. Windows closing 04-01 and 04-02
# end before it; the window of 03-04 ends at exactly 04-03 00:00, excluded -> churned. For
# 03-05 and 03-06 it is inside and landed in time -> not churned. Spend: O7, 40.00,
# placed 03-20, every window.
#
# C5 (EUR). O8's delivery (04-04) was quarantined: no delivery is known -> always churned.
# Spend: O8, 12.50, placed 03-25, every window.
EXPECTED = [
    # customer, as-of date, churned_30d, spend_next_30d_eur
    ("C0000001", "2026-03-02", False, "50.00"),
    ("C0000001", "2026-03-03", False, "50.00"),
    ("C0000001", "2026-03-04", False, "50.00"),
    ("C0000001", "2026-03-05", False, "80.00"),
    ("C0000001", "2026-03-06", False, "0.00"),
    ("C0000002", "2026-03-02", True, "140.40"),
    ("C0000002", "2026-03-03", True, "140.40"),
    ("C0000002", "2026-03-04", False, "140.40"),
    ("C0000002", "2026-03-05", False, "23.40"),
    ("C0000002", "2026-03-06", False, "23.40"),
    ("C0000003", "2026-03-02", False, "15.00"),
    ("C0000003", "2026-03-03", False, "15.00"),
    ("C0000003", "2026-03-04", False, "15.00"),
    ("C0000003", "2026-03-05", False, "15.00"),
    ("C0000003", "2026-03-06", False, "15.00"),
    ("C0000004", "2026-03-02", True, "40.00"),
    ("C0000004", "2026-03-03", True, "40.00"),
    ("C0000004", "2026-03-04", True, "40.00"),
    ("C0000004", "2026-03-05", False, "40.00"),
    ("C0000004", "2026-03-06", False, "40.00"),
    ("C0000005", "2026-03-02", True, "12.50"),
    ("C0000005", "2026-03-03", True, "12.50"),
    ("C0000005", "2026-03-04", True, "12.50"),
    ("C0000005", "2026-03-05", True, "12.50"),
    ("C0000005", "2026-03-06", True, "12.50"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def landing_day(landed: str | None, when: str) -> date:
    return date.fromisoformat(landed) if landed else at(when).date()


def customer_record(customer_id: str, updated_at: str, deleted: bool) -> dict[str, object]:
    country, _ = CUSTOMERS[customer_id]
    number = int(customer_id[1:])
    return {
        "customer_id": customer_id,
        "email": f"customer{number}@example.com",
        "first_name": "Hand",
        "last_name": f"Worked{number}",
        "phone": f"+4930000000{number}",
        "birth_date": date(1980 + number, 1, 1),
        "country_code": country,
        "city": "Somewhere",
        "postal_code": f"1011{number}",
        "segment": "consumer",
        "marketing_opt_in": False,
        "created_at": at("2026-01-10 08:00:00"),
        "updated_at": at(updated_at),
        "is_deleted": deleted,
    }


def status_record(
    order_id: str | None, customer_id: str, status: str, status_at: str, placed_at: str
) -> dict[str, object]:
    country, currency = CUSTOMERS[customer_id]
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "status": status,
        "placed_at": at(placed_at),
        "status_at": at(status_at),
        "channel": "web",
        "currency": currency,
        "shipping_country_code": country,
    }


def hand_made_rows() -> dict[str, dict[date, list[dict[str, object]]]]:
    """Every row of the lake, by source and landing day."""
    days = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    rows: dict[str, dict[date, list[dict[str, object]]]] = {
        source: {day: [] for day in days} for source in SCHEMAS
    }
    # day 0: the full load of every customer; C3 is deleted on 03-20
    for customer_id in CUSTOMERS:
        rows["customers"][FIRST_DAY].append(
            customer_record(customer_id, "2026-01-10 08:00:00", deleted=False)
        )
    rows["customers"][date(2026, 3, 20)].append(
        customer_record("C0000003", "2026-03-20 09:00:00", deleted=True)
    )
    # the full catalogue every day
    for day in days:
        for product_id, name, price in (("P00001", "Mug", 10.0), ("P00002", "Lamp", 50.0)):
            rows["products"][day].append(
                {
                    "product_id": product_id,
                    "product_name": name,
                    "category": "home & garden",
                    "list_price": price,
                    "is_active": True,
                    "updated_at": datetime.combine(day, datetime.min.time()) + timedelta(hours=2),
                }
            )
    for order_id, (customer_id, placed_at) in ORDERS.items():
        rows["orders"][at(placed_at).date()].append(
            status_record(order_id, customer_id, "placed", placed_at, placed_at)
        )
    for order_id, status, status_at, landed in STATUS_CHANGES:
        customer_id, placed_at = ORDERS[order_id]
        rows["orders"][landing_day(landed, status_at)].append(
            status_record(order_id, customer_id, status, status_at, placed_at)
        )
    customer_id, status, status_at = QUARANTINED_DELIVERY
    rows["orders"][LAST_DAY].append(
        status_record(None, customer_id, status, status_at, ORDERS["O000000008"][1])
    )
    for order_id, line_number, product_id, quantity, unit_price, landed in LINES:
        rows["order_items"][landing_day(landed, ORDERS[order_id][1])].append(
            {
                "order_id": order_id,
                "line_number": line_number,
                "product_id": product_id,
                "quantity": quantity,
                "unit_price": unit_price,
            }
        )
    return rows


def write_lake(lake: Path) -> None:
    for source, by_day in hand_made_rows().items():
        for day, day_rows in by_day.items():
            folder = lake / source / f"ingest_date={day.isoformat()}"
            folder.mkdir(parents=True)
            table = pa.Table.from_pylist(day_rows, schema=SCHEMAS[source])
            pq.write_table(table, folder / "part-0.parquet", compression="snappy")


def labels_of(connection: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return connection.execute(
        """
        select customer_id, cast(as_of_date as varchar), churned_30d,
               cast(spend_next_30d_eur as varchar)
        from ml.ml_customer_labels
        order by customer_id, as_of_date
        """
    ).fetchall()


def test_labels_match_the_hand_worked_oracle(tmp_path: Path) -> None:
    write_lake(tmp_path / "lake")
    env = warehouse_env(tmp_path)
    # The labels, everything they read, and the tests of those (unit tests included). Not
    # the whole project: five customers cannot be k-anonymous in the exports. Cautious:
    # not the tests that also read a model outside the selection (dim_customers, countries).
    build = ("build", "--select", "+ml_customer_labels", "--indirect-selection", "cautious")
    # First as a run whose window ends the day before (what a daily run of 2026-04-03 saw):
    # the windows closing by 04-04 are labelled, and never change afterwards.
    run_dbt(env, *build, "--vars", "{max_date: 2026-04-03}")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        assert labels_of(connection) == [row for row in EXPECTED if row[1] <= "2026-03-05"]
    # Then the last day, incrementally: the as-of date 2026-03-06 closes on 04-05.
    run_dbt(env, *build)

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        # the scenario is real: the last day's only orders row was quarantined, so staging
        # knows no order record of that day
        quarantined = connection.execute(
            """
            select order_id, status, _ingest_date, _rejection_reason
            from staging.base_shop__orders where _rejection_reason is not null
            """
        ).fetchall()
        (last_clean_orders_day,) = connection.execute(
            "select max(_ingest_date) from staging.stg_shop__orders"
        ).fetchone()
        labels = labels_of(connection)
    assert quarantined == [(None, "delivered", LAST_DAY, "null_key")]
    assert last_clean_orders_day == LAST_DAY - timedelta(days=1)
    assert labels == EXPECTED
