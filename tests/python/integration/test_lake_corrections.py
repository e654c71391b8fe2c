"""Corrections are never silent: a re-delivery with other values under the same natural key
is a correction, counted apart from exact duplicates, and its source's on_conflict
(models/staging/shop/_shop__sources.yml) decides what happens to it. Landed = kept +
duplicates + corrections + quarantined, per source and day, the same whether the day was
run on its own or the lake was built in one go.

The expected numbers are worked out by hand from the rows this test lands, not computed
by the warehouse's code."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

LAKE = {"seed": 11, "customers": 400, "start_date": "2026-03-01", "days": 4, "plan_days": 10}
CORRECTION_DAY = "2026-03-05"
SELECTION = (
    "--select", "+fct_orders", "+dim_customers", "+stg_shop__events", "+file_reconciliation",
    "--indirect-selection", "cautious",
)  # fmt: skip

# source -> (landed, kept, duplicates, corrections, quarantined) on CORRECTION_DAY
EXPECTED = {
    "orders": (13, 0, 3, 10, 0),  # 10 re-sent with another channel and country, 3 copies
    "customers": (2, 0, 0, 2, 0),  # 2 re-sent with another city
    "events": (6, 0, 2, 0, 4),  # 4 re-sent with another page, 2 copies
    "order_items": (2, 0, 0, 0, 2),  # one new line in two versions in one file
}


def generate(lake: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", f"--seed={LAKE['seed']}",
         f"--customers={LAKE['customers']}", f"--start-date={LAKE['start_date']}",
         f"--days={LAKE['days']}", f"--plan-days={LAKE['plan_days']}", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip


def staged_keys(database: Path, model: str, columns: str) -> set[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return set(connection.execute(f"select {columns} from staging.{model}").fetchall())


def rows_with_keys(table: pa.Table, columns: list[str], keys: set[tuple], count: int) -> pa.Table:
    """The first `count` rows of `table` whose key (columns) is in `keys`, in file order."""
    picked = [
        index
        for index, key in enumerate(
            zip(*(table.column(c).to_pylist() for c in columns), strict=True)
        )
        if key in keys
    ][:count]
    assert len(picked) == count, f"the sample lake has fewer than {count} staged rows here"
    return table.take(picked)


def replace(table: pa.Table, column: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


def land_corrections(lake: Path, database: Path) -> None:
    """The re-deliveries of EXPECTED, in one file per source on CORRECTION_DAY."""

    def day_file(source: str, day: str) -> pa.Table:
        """The generator's file of the day, as it wrote it (its own schema)."""
        return pq.read_table(lake / source / f"ingest_date={day}" / "part-0.parquet")

    def land(source: str, table: pa.Table) -> None:
        folder = lake / source / f"ingest_date={CORRECTION_DAY}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "redelivery.parquet")

    orders = pa.concat_tables(day_file("orders", day) for day in ("2026-03-03", "2026-03-04"))
    staged = staged_keys(database, "stg_shop__orders", "order_id, status")
    chosen = rows_with_keys(orders, ["order_id", "status"], staged, 13)
    corrected = chosen.slice(0, 10)
    corrected = replace(
        corrected,
        "channel",
        ["marketplace" if c != "marketplace" else "web" for c in corrected["channel"].to_pylist()],
    )
    corrected = replace(
        corrected,
        "shipping_country_code",
        ["FR" if c != "FR" else "DE" for c in corrected["shipping_country_code"].to_pylist()],
    )
    land("orders", pa.concat_tables([corrected, chosen.slice(10, 3)]))

    customers = day_file("customers", "2026-03-01")
    # each customer's current version, so the correction is what dim_customers shows
    with duckdb.connect(str(database), read_only=True) as connection:
        staged = set(
            connection.execute(
                "select customer_id, max(updated_at) from staging.stg_shop__customers"
                " group by customer_id"
            ).fetchall()
        )
    chosen = rows_with_keys(customers, ["customer_id", "updated_at"], staged, 2)
    land("customers", replace(chosen, "city", ["Corrected City A", "Corrected City B"]))

    events = day_file("events", "2026-03-03")
    staged = staged_keys(database, "stg_shop__events", "event_id")
    chosen = rows_with_keys(events, ["event_id"], staged, 6)
    changed = replace(chosen.slice(0, 4), "page_url", ["/corrected"] * 4)
    land("events", pa.concat_tables([changed, chosen.slice(4, 2)]))

    items = day_file("order_items", "2026-03-02")
    items = items.filter(pc.greater(items["quantity"], 0)).slice(0, 1)
    items = replace(items, "order_id", ["AMBIGUOUS-1"])
    versions = pa.concat_tables([items, items])
    quantity = versions["quantity"].to_pylist()
    land("order_items", replace(versions, "quantity", [quantity[0], quantity[0] + 1]))


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same lake twice: run day by day (four days, then the correction day on its own),
    and built in one go; returns both warehouses."""
    daily_root = tmp_path_factory.mktemp("daily")
    generate(daily_root / "lake")
    daily_env = warehouse_env(daily_root)
    run_dbt(daily_env, "build", *SELECTION)
    land_corrections(daily_root / "lake", daily_root / "warehouse.duckdb")
    window = {
        "WAREHOUSE_WINDOW_MIN_DATE": CORRECTION_DAY,
        "WAREHOUSE_WINDOW_MAX_DATE": CORRECTION_DAY,
    }
    run_dbt({**daily_env, **window}, "build", *SELECTION)

    full_root = tmp_path_factory.mktemp("full")
    full_lake = full_root / "lake"
    subprocess.run(["cp", "-r", str(daily_root / "lake"), str(full_lake)], check=True)
    run_dbt(warehouse_env(full_root), "build", *SELECTION)
    return daily_root / "warehouse.duckdb", full_root / "warehouse.duckdb"


def reconciliation(database: Path) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select source_name, rows_landed, rows_kept, rows_duplicate, rows_corrected,"
            " rows_quarantined from audit.row_count_reconciliation"
            f" where ingest_date = date '{CORRECTION_DAY}'"
        ).fetchall()
    return {name: tuple(counts) for name, *counts in rows}


def test_each_kind_of_redelivery_is_counted_on_its_own(corrected) -> None:
    daily, _ = corrected
    assert reconciliation(daily) == EXPECTED


def test_every_source_day_reconciles(corrected) -> None:
    for database in corrected:
        with duckdb.connect(str(database), read_only=True) as connection:
            gaps = connection.execute(
                "select count(*), sum(abs(unaccounted_rows)) from audit.row_count_reconciliation"
                " where unaccounted_rows <> 0"
            ).fetchone()
            days = connection.execute(
                "select count(*) from audit.row_count_reconciliation"
            ).fetchone()
        assert gaps == (0, None)
        assert days[0] >= 5 * LAKE["days"]


def test_latest_corrections_reach_the_facts_and_keep_the_history(corrected) -> None:
    daily, _ = corrected
    with duckdb.connect(str(daily), read_only=True) as connection:
        versions = connection.execute(
            "select count(*) from (select order_id, status from staging.stg_shop__orders"
            " group by all having count(*) = 2)"
        ).fetchone()[0]
        corrected_orders = connection.execute(
            "select count(*) from marts.fct_orders where order_id in ("
            " select order_id from staging.stg_shop__orders"
            f" where _ingest_date = date '{CORRECTION_DAY}')"
            " and shipping_country_code in ('FR', 'DE')"
        ).fetchone()[0]
        resolutions = connection.execute(
            "select source_name, resolution, count(*) from audit.corrected_rows group by all"
        ).fetchall()
        cities = connection.execute(
            "select city from marts.dim_customers where city like 'Corrected City %'"
        ).fetchall()
    assert versions == 10  # both versions kept, each from the day it landed
    assert corrected_orders >= 1
    assert sorted(resolutions) == [
        ("customers", "staged_as_new_version", 2),
        ("orders", "staged_as_new_version", 10),
    ]
    assert sorted(cities) == [("Corrected City A",), ("Corrected City B",)]


def test_quarantine_policy_and_ambiguous_files_keep_the_first_version(corrected) -> None:
    daily, _ = corrected
    with duckdb.connect(str(daily), read_only=True) as connection:
        reasons = connection.execute(
            "select source_name, rejection_reason, count(*) from audit.quarantined_rows"
            f" where ingest_date = date '{CORRECTION_DAY}' group by all"
        ).fetchall()
        pages = connection.execute(
            "select count(*) from staging.stg_shop__events where page_url = '/corrected'"
        ).fetchone()[0]
        ambiguous = connection.execute(
            "select count(*) from staging.stg_shop__order_items where order_id = 'AMBIGUOUS-1'"
        ).fetchone()[0]
    assert sorted(reasons) == [
        ("events", "conflicting_redelivery", 4),
        ("order_items", "ambiguous_versions_in_one_file", 2),
    ]
    assert pages == 0
    assert ambiguous == 0


def test_a_day_run_alone_stages_what_a_full_build_stages(corrected) -> None:
    daily, full = corrected
    assert reconciliation(daily) == reconciliation(full)
    for model, columns in (
        ("stg_shop__orders", "order_id, status, channel, shipping_country_code, _ingest_date"),
        ("stg_shop__customers", "customer_id, updated_at, city, _ingest_date"),
        ("stg_shop__events", "event_id, page_url, _ingest_date"),
    ):
        assert staged_keys(daily, model, columns) == staged_keys(full, model, columns), model
    with (
        duckdb.connect(str(daily), read_only=True) as a,
        duckdb.connect(str(full), read_only=True) as b,
    ):
        query = "select source_name, ingest_date, {} from audit.{} order by all"
        for table, outcome in (
            ("quarantined_rows", "rejection_reason"),
            ("corrected_rows", "resolution"),
        ):
            statement = query.format(outcome, table)
            assert a.execute(statement).fetchall() == b.execute(statement).fetchall()
