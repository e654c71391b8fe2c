"""Timestamps land at the instant they name, whatever their physical type (utc_timestamp,
macros/utc_timestamp.sql). A small lake gets one orders file whose times are text with
+05:30, -08:00, Z and no offset, one that is no time at all, and one events file with
nanosecond timestamps. The expected UTC instants are worked out by hand below, not by the
warehouse's code."""

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

DAY = "2026-03-02"  # the lake's last day: every time below is before the day after it
SELECTION = (
    "--select",
    "+stg_shop__orders",
    "+stg_shop__events",
    "--indirect-selection",
    "cautious",
)

# landed text -> the UTC instant it names
ORDER_TIMES = {
    "TZ-IST": ("2026-03-02T15:30:00+05:30", datetime(2026, 3, 2, 10, 0)),  # 15:30 - 5:30
    "TZ-PST": ("2026-03-02T02:15:00-08:00", datetime(2026, 3, 2, 10, 15)),  # 02:15 + 8:00
    "TZ-ZULU": ("2026-03-02T09:45:00Z", datetime(2026, 3, 2, 9, 45)),
    "TZ-NAIVE": ("2026-03-02T08:00:00", datetime(2026, 3, 2, 8, 0)),  # no offset: UTC
    # the day before, once the offset is applied the next day
    "TZ-EST-LATE": ("2026-03-01T23:00:00-05:00", datetime(2026, 3, 2, 4, 0)),
    "TZ-COMPACT": ("2026-03-02T12:00:00+0100", datetime(2026, 3, 2, 11, 0)),
    "TZ-SPACE-FRACTION": ("2026-03-02 06:30:00.25 +02:00", datetime(2026, 3, 2, 4, 30, 0, 250000)),
    "TZ-ZONE-NAME": ("2026-03-02T12:00:00 Europe/Paris", datetime(2026, 3, 2, 11, 0)),  # CET
}
# no time, and an offset DuckDB cannot read: quarantined, never read at a wrong instant
UNPARSEABLE = {"TZ-GARBAGE": "next tuesday", "TZ-ONE-DIGIT": "2026-03-02T12:00:00+1"}

# nanoseconds since the epoch -> the microsecond instant kept (cut, not rounded)
EVENT_NANOS = {
    "EV-NS-1": (1772445600_123456789, datetime(2026, 3, 2, 10, 0, 0, 123456)),
    "EV-NS-2": (1772445600_000000999, datetime(2026, 3, 2, 10, 0, 0, 0)),
}


def generate(lake: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", "--seed=5", "--customers=40",
         "--start-date=2026-03-01", "--days=2", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip


def land_text_times(lake: Path) -> None:
    """Copies of one generated order, each with another id and its times as text."""
    folder = lake / "orders" / f"ingest_date={DAY}"
    template = pq.read_table(folder / "part-0.parquet").slice(0, 1).to_pylist()[0]
    rows = [
        {**template, "order_id": order_id, "status": "placed", "placed_at": text, "status_at": text}
        for order_id, text in [
            *((order_id, text) for order_id, (text, _) in ORDER_TIMES.items()),
            *UNPARSEABLE.items(),
        ]
    ]
    schema = pq.read_schema(folder / "part-0.parquet")
    for name in ("placed_at", "status_at"):
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.string()))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "offsets.parquet")


def land_nanosecond_times(lake: Path) -> None:
    folder = lake / "events" / f"ingest_date={DAY}"
    template = pq.read_table(folder / "part-0.parquet").slice(0, 1).to_pylist()[0]
    schema = pq.read_schema(folder / "part-0.parquet")
    index = schema.get_field_index("event_at")
    schema = schema.set(index, pa.field("event_at", pa.timestamp("ns")))
    rows = [
        {**template, "event_id": event_id, "event_at": pa.scalar(nanos, pa.timestamp("ns"))}
        for event_id, (nanos, _) in EVENT_NANOS.items()
    ]
    table = pa.Table.from_pylist(
        [{**row, "event_at": None} for row in rows], schema=schema
    ).set_column(
        index,
        "event_at",
        pa.array([nanos for nanos, _ in EVENT_NANOS.values()], pa.timestamp("ns")),
    )
    pq.write_table(table, folder / "nanoseconds.parquet", coerce_timestamps=None)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("utc")
    generate(root / "lake")
    land_text_times(root / "lake")
    land_nanosecond_times(root / "lake")
    run_dbt(warehouse_env(root), "build", *SELECTION)
    return root / "warehouse.duckdb", root / "lake"


def test_text_with_an_offset_lands_at_the_instant_it_names(built) -> None:
    database, _ = built
    with duckdb.connect(str(database), read_only=True) as connection:
        staged = dict(
            connection.execute(
                "select order_id, placed_at from staging.stg_shop__orders"
                " where order_id like 'TZ-%' and placed_at = status_at"
            ).fetchall()
        )
    assert staged == {order_id: instant for order_id, (_, instant) in ORDER_TIMES.items()}


def test_text_that_is_no_time_is_quarantined_not_a_crash(built) -> None:
    database, _ = built
    with duckdb.connect(str(database), read_only=True) as connection:
        reasons = connection.execute(
            "select json_extract_string(raw_record, '$.order_id'), rejection_reason"
            " from audit.quarantined_rows where source_name = 'orders'"
            " and raw_record like '%TZ-%'"
        ).fetchall()
        unaccounted = connection.execute(
            "select coalesce(sum(abs(unaccounted_rows)), 0) from audit.row_count_reconciliation"
        ).fetchone()[0]
    assert sorted(reasons) == [(order_id, "unparseable_value") for order_id in sorted(UNPARSEABLE)]
    assert unaccounted == 0


def test_the_generators_naive_times_keep_their_instants(built) -> None:
    """Its timestamp[us] column read together with a text one is read as text: same instant."""
    database, lake = built
    landed = pq.read_table(lake / "orders" / f"ingest_date={DAY}" / "part-0.parquet")
    expected = dict(
        zip(landed["order_id"].to_pylist(), landed["placed_at"].to_pylist(), strict=True)
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        staged = dict(
            connection.execute(
                "select order_id, placed_at from staging.stg_shop__orders"
                f" where _ingest_date = date '{DAY}' and order_id not like 'TZ-%'"
            ).fetchall()
        )
    assert staged and all(staged[order_id] == expected[order_id] for order_id in staged)


def test_nanoseconds_are_cut_to_microseconds(built) -> None:
    database, _ = built
    with duckdb.connect(str(database), read_only=True) as connection:
        staged = dict(
            connection.execute(
                "select event_id, event_at from staging.stg_shop__events"
                " where event_id like 'EV-NS-%'"
            ).fetchall()
        )
    assert staged == {event_id: instant for event_id, (_, instant) in EVENT_NANOS.items()}
