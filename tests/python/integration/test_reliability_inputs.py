"""Hostile inputs in the landing zone: every one is either read, row-quarantined or
file-quarantined with its error, the build ends with a summary, and nothing is lost:
rows landed = kept + duplicates + quarantined, files landed = read + quarantined."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

from warehouse.lake_inventory import QUARANTINED, READABLE, inventory_source
from warehouse.lake_sources import LakeSource, project_lake_sources

# Four days of a tiny lake; the drift day (plan_days // 2) is later, so no customers file has
# preferred_language: a declared column missing from a day's files must not fail the build.
LAKE = {"seed": 11, "customers": 40, "start_date": "2026-03-01", "days": 4, "plan_days": 10}
LAST_DAY = "2026-03-04"
SOURCES = ("customers", "products", "orders", "order_items", "events")

# file (relative to the lake) -> a fragment of the error it must be quarantined with
EXPECTED_FILE_ERRORS = {
    f"customers/ingest_date={LAST_DAY}/truncated.parquet": "not a whole Parquet file",
    f"orders/ingest_date={LAST_DAY}/empty.parquet": "empty file (0 bytes)",
    f"customers/ingest_date={LAST_DAY}/other_feed.parquet": "required column(s) updated_at",
    "events/ingest_date=2026-3-4/part-0.parquet": "partition folder 'ingest_date=2026-3-4'",
    "events/2026-03-04/part-0.parquet": "partition folder '2026-03-04'",
    f"products/ingest_date={LAST_DAY}/part-1.csv": "not a Parquet file",
    f"customers/ingest_date={LAST_DAY}/latin1.parquet": "not valid UTF-8",
}
REDELIVERED = f"orders/ingest_date={LAST_DAY}/redelivered.parquet"
HUGE = f"customers/ingest_date={LAST_DAY}/huge.parquet"
WITH_TIME_ZONE = f"orders/ingest_date={LAST_DAY}/with_time_zone.parquet"


def shop_source(table: str) -> LakeSource:
    """The shop table's contract, as the sources YAML declares it."""
    (found,) = (s for s in project_lake_sources() if (s.system, s.table) == ("shop", table))
    return found


def first_file(lake: Path, source: str, day: str) -> Path:
    return lake / source / f"ingest_date={day}" / "part-0.parquet"


def land_hostile_files(lake: Path) -> None:
    """Every hostile input of the issue, next to the generator's clean files."""
    customers = first_file(lake, "customers", "2026-03-01")
    orders = first_file(lake, "orders", "2026-03-02")
    data = customers.read_bytes()
    (lake / f"customers/ingest_date={LAST_DAY}/truncated.parquet").write_bytes(
        data[: len(data) // 2]
    )
    (lake / f"orders/ingest_date={LAST_DAY}/empty.parquet").write_bytes(b"")
    shutil.copy(orders, lake / f"customers/ingest_date={LAST_DAY}/other_feed.parquet")
    for folder in ("events/ingest_date=2026-3-4", "events/2026-03-04"):
        (lake / folder).mkdir(parents=True)
        shutil.copy(first_file(lake, "events", "2026-03-01"), lake / folder / "part-0.parquet")
    pacsv.write_csv(
        pq.read_table(first_file(lake, "products", "2026-03-01")),
        lake / f"products/ingest_date={LAST_DAY}/part-1.csv",
    )
    # Text that is not UTF-8 (Latin-1 bytes labelled as strings): DuckDB cannot read the file.
    one_customer = pq.read_table(customers).slice(0, 1)
    latin1 = pa.array([b"M\xfcller@example.com"]).view(pa.string())
    pq.write_table(
        one_customer.set_column(one_customer.schema.get_field_index("email"), "email", latin1),
        lake / f"customers/ingest_date={LAST_DAY}/latin1.parquet",
    )
    # The same file delivered twice: readable, its rows are duplicates (or re-quarantined).
    shutil.copy(orders, lake / REDELIVERED)
    # An enormous string value: readable, the row is quarantined as oversized_record.
    city = pa.array(["x" * 200_000])
    pq.write_table(
        one_customer.set_column(one_customer.schema.get_field_index("city"), "city", city),
        lake / HUGE,
    )
    # Timestamps with a time zone in one file, without in the others: read as the same instant.
    one_order = pq.read_table(orders).slice(0, 1)
    one_order = one_order.set_column(
        one_order.schema.get_field_index("order_id"), "order_id", pa.array(["TZ-0000001"])
    )
    for index, column in enumerate(one_order.schema):
        if pa.types.is_timestamp(column.type):
            zoned = pc.cast(one_order.column(index), pa.timestamp("us", tz="Europe/Berlin"))
            one_order = one_order.set_column(index, column.name, zoned)
    pq.write_table(one_order, lake / WITH_TIME_ZONE)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("hostile")
    lake = root / "lake"
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", f"--seed={LAKE['seed']}",
         f"--customers={LAKE['customers']}", f"--start-date={LAKE['start_date']}",
         f"--days={LAKE['days']}", f"--plan-days={LAKE['plan_days']}", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    land_hostile_files(lake)
    env = warehouse_env(root)
    selection = "+quarantined_files +file_reconciliation +path:models/staging"
    built = run_dbt(env, "build", "--select", selection, "--indirect-selection", "cautious")
    return lake, root / "warehouse.duckdb", built.stdout


def test_every_unreadable_file_is_quarantined_with_its_error(hostile) -> None:
    lake, database, log = hostile
    with duckdb.connect(str(database), read_only=True) as connection:
        quarantined = dict(
            connection.execute("select file_path, error from audit.quarantined_files").fetchall()
        )
    relative = {str(Path(path).relative_to(lake)): error for path, error in quarantined.items()}
    assert set(relative) == set(EXPECTED_FILE_ERRORS)
    for path, fragment in EXPECTED_FILE_ERRORS.items():
        assert fragment in relative[path], (path, relative[path])
    # The run ends saying so, file by file.
    assert f"{len(EXPECTED_FILE_ERRORS)} landed file(s) quarantined" in log
    assert all(path in log for path in quarantined)


def test_files_landed_equal_read_plus_quarantined(hostile) -> None:
    lake, database, _ = hostile
    with duckdb.connect(str(database), read_only=True) as connection:
        reconciliation = {
            source: (landed, read, quarantined, unaccounted)
            for source, landed, read, quarantined, unaccounted in connection.execute(
                "select source_name, files_landed, files_read, files_quarantined, "
                "unaccounted_files from audit.file_reconciliation"
            ).fetchall()
        }
    for source in SOURCES:
        on_disk = [path for path in (lake / source).rglob("*") if path.is_file()]
        # The plain function the benchmark calls decides exactly as the model did.
        inspections = inventory_source(lake, shop_source(source))
        read = sum(1 for item in inspections if item.status == READABLE)
        quarantined = sum(1 for item in inspections if item.status == QUARANTINED)
        assert reconciliation[source] == (len(on_disk), read, quarantined, 0), source
        assert len(on_disk) == read + quarantined


def test_rows_landed_equal_kept_plus_duplicates_plus_quarantined(hostile) -> None:
    lake, database, _ = hostile
    with duckdb.connect(str(database), read_only=True) as connection:
        totals = dict(
            (row[0], row[1:])
            for row in connection.execute(
                "select source_name, sum(rows_landed), sum(rows_kept), sum(rows_duplicate), "
                "sum(rows_quarantined), sum(abs(unaccounted_rows)) "
                "from audit.row_count_reconciliation group by source_name"
            ).fetchall()
        )
        redelivered_quarantined = connection.execute(
            "select count(*) from audit.quarantined_rows where source_file = ?",
            [str(lake / REDELIVERED)],
        ).fetchone()[0]
        orders_duplicates = connection.execute(
            "select rows_duplicate from audit.row_count_reconciliation "
            "where source_name = 'orders' and ingest_date = ?",
            [LAST_DAY],
        ).fetchone()[0]
    for source in SOURCES:
        # Landed, counted here from the readable files themselves.
        landed = sum(
            pq.ParquetFile(item.path).metadata.num_rows
            for item in inventory_source(lake, shop_source(source))
            if item.status == READABLE
        )
        rows_landed, kept, duplicates, quarantined, unaccounted = totals[source]
        assert rows_landed == landed, source
        assert kept + duplicates + quarantined == landed and unaccounted == 0, source
    # The file delivered twice adds duplicates (or re-quarantined rows), never new rows.
    copied = pq.ParquetFile(lake / REDELIVERED).metadata.num_rows
    assert orders_duplicates >= copied - redelivered_quarantined > 0


def test_readable_but_wrong_rows_are_row_quarantined(hostile) -> None:
    lake, database, _ = hostile
    with duckdb.connect(str(database), read_only=True) as connection:
        huge = connection.execute(
            "select rejection_reason, length(raw_record) from audit.quarantined_rows "
            "where source_file = ?",
            [str(lake / HUGE)],
        ).fetchall()
    assert len(huge) == 1 and huge[0][0] == "oversized_record" and huge[0][1] > 200_000


def test_timestamps_with_and_without_time_zone_read_as_the_same_instant(hostile) -> None:
    lake, database, _ = hostile
    original = pq.read_table(lake / REDELIVERED).slice(0, 1).to_pylist()[0]
    with duckdb.connect(str(database), read_only=True) as connection:
        placed_at, source_file = connection.execute(
            "select placed_at, _source_file from staging.stg_shop__orders "
            "where order_id = 'TZ-0000001'"
        ).fetchone()
    assert source_file == str(lake / WITH_TIME_ZONE)
    assert placed_at == original["placed_at"]


def test_a_lake_without_the_mid_history_column_builds(hostile) -> None:
    lake, database, _ = hostile
    readable = [i for i in inventory_source(lake, shop_source("customers")) if i.status == READABLE]
    assert readable and all("preferred_language" not in item.columns for item in readable)
    with duckdb.connect(str(database), read_only=True) as connection:
        kept, languages = connection.execute(
            "select count(*), count(preferred_language) from staging.stg_shop__customers"
        ).fetchone()
    assert kept > 0 and languages == 0


def test_an_unchanged_file_keeps_its_inspection_until_it_changes_or_a_full_refresh(
    tmp_path: Path,
) -> None:
    """The inventory decodes only new or changed files (path, size and modification time):
    a file whose bytes were swapped in place under the same size and time keeps its
    readable verdict; touching it, or a --full-refresh, inspects it again."""
    lake = tmp_path / "lake"
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", "--seed=3", "--customers=10",
         "--start-date=2026-03-01", "--days=1", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    env = warehouse_env(tmp_path)
    inventory = ("run", "--select", "lake_file_inventory")

    def status(path: Path) -> str:
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
            (value,) = connection.execute(
                "select status from audit.lake_file_inventory where file_path = ?", [str(path)]
            ).fetchone()
        return value

    run_dbt(env, *inventory)
    swapped, touched = (first_file(lake, source, "2026-03-01") for source in ("orders", "events"))
    assert status(swapped) == status(touched) == READABLE
    for path in (swapped, touched):
        before = path.stat()
        path.write_bytes(b"X" * before.st_size)  # same size, not Parquet any more
        if path == swapped:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    run_dbt(env, *inventory)
    assert status(swapped) == READABLE  # unchanged to the inventory: not inspected again
    assert status(touched) == QUARANTINED

    run_dbt(env, *inventory, "--full-refresh")
    assert status(swapped) == QUARANTINED
