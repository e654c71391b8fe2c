"""Hostile feeds (issue 33): for each class, several members planted in one small lake,
built by dbt. The day builds; each bad file is quarantined under its own name with its
rule; files landed = read + quarantined; rows landed = kept + duplicates + corrections +
quarantined; every good file's rows are read; no planted value reaches an error or the log.

Classes: partitions dated in the future (held until their day, never the newest day, not
fresh); files whose footer reads but whose data does not (a corrupt page header, a corrupt
compressed page, a codec that does not match the data, a bad dictionary page, a row group
shorter than its footer says, text that is not UTF-8); files that disagree with the
contract of the sources YAML (a key column of another type, a column twice or in another
case, a column named like one the reader adds, a value that does not cast).

The expected verdicts are written here from what each file was made to be; the rows of the
good files are counted from the files themselves, not by the code under test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

LAKE = {"seed": 5, "customers": 200, "start_date": "2026-03-01", "days": 4, "plan_days": 10}
LAST_DAY = "2026-03-04"
TODAY = datetime.now(UTC).date()  # the dbt run's UTC date (a run across midnight aside)
EDGE = (TODAY + timedelta(days=1)).isoformat()  # today plus the default tolerance: read
NEAR = (TODAY + timedelta(days=2)).isoformat()  # one day beyond it: held
FAR = (TODAY + timedelta(days=400)).isoformat()

# source -> (its folder in the lake, its base_ view)
SOURCES = {
    "customers": ("customers", "staging.base_shop__customers"),
    "products": ("products", "staging.base_shop__products"),
    "orders": ("orders", "staging.base_shop__orders"),
    "order_items": ("order_items", "staging.base_shop__order_items"),
    "events": ("events", "staging.base_shop__events"),
    "tickets": ("support/tickets", "staging.base_support__tickets"),
}

# file (relative to the lake) -> the rule it must be quarantined by
DAY = f"ingest_date={LAST_DAY}"
HELD = "partition_date_in_the_future"
DAMAGED = "unreadable_column_data"
TYPE = "column_type_differs_from_contract"
FUTURE = {
    f"orders/ingest_date={FAR}/x.parquet": HELD,
    "customers/ingest_date=2099-01-01/part-0.parquet": HELD,
    f"support/tickets/ingest_date={NEAR}/part-0.parquet": HELD,
}
UNREADABLE = {
    f"orders/{DAY}/corrupt_page_header.parquet": DAMAGED,
    f"customers/{DAY}/corrupt_gzip_page.parquet": DAMAGED,
    f"order_items/{DAY}/wrong_codec.parquet": DAMAGED,
    f"events/{DAY}/bad_dictionary_page.parquet": DAMAGED,
    f"products/{DAY}/short_row_group.parquet": DAMAGED,
    f"customers/{DAY}/latin1_email.parquet": "invalid_utf8",
    f"support/tickets/{DAY}/latin1_subject.parquet": "invalid_utf8",
}
CONTRACT = {
    f"orders/{DAY}/customer_id_int64.parquet": TYPE,
    f"order_items/{DAY}/line_number_text.parquet": TYPE,
    f"support/tickets/{DAY}/score_double.parquet": TYPE,
    f"customers/{DAY}/email_twice.parquet": "duplicate_column",
    f"customers/{DAY}/customer_id_in_two_cases.parquet": "duplicate_column",
    f"events/{DAY}/event_id_in_another_case.parquet": "column_name_case_differs_from_contract",
    f"orders/{DAY}/filename_column.parquet": "column_named_like_a_reader_column",
    f"products/{DAY}/price_not_a_number.parquet": "value_does_not_cast",
}
QUARANTINED = {**FUTURE, **UNREADABLE, **CONTRACT}
# The column each damaged file's error names, where one column alone was damaged.
DAMAGED_COLUMN = {
    f"orders/{DAY}/corrupt_page_header.parquet": "customer_id",
    f"customers/{DAY}/corrupt_gzip_page.parquet": "email",
    f"order_items/{DAY}/wrong_codec.parquet": "quantity",
    f"events/{DAY}/bad_dictionary_page.parquet": "page_url",
    f"customers/{DAY}/latin1_email.parquet": "email",
    f"support/tickets/{DAY}/latin1_subject.parquet": "subject",
    f"products/{DAY}/price_not_a_number.parquet": "list_price",
}
# Readable hostile files: a partition dated today plus the tolerance, and quantity as text
# (a safe_cast column: its unparseable value is row-quarantined, the other row staged).
EDGE_EVENTS = f"events/ingest_date={EDGE}/part-0.parquet"
QUANTITY_AS_TEXT = f"order_items/{DAY}/quantity_as_text.parquet"
# Personal values planted in bad files: none may reach an error or the log.
PLANTED = ["hostile@example.com", "hostile-subject", "N/A-hostile-price"]


def generated(lake: Path, folder: str, day: str) -> Path:
    return lake / folder / f"ingest_date={day}" / "part-0.parquet"


def chunk(path: Path, column: str, row_group: int = 0) -> pq.ColumnChunkMetaData:
    meta = pq.ParquetFile(path).metadata.row_group(row_group)
    columns = (meta.column(i) for i in range(meta.num_columns))
    return next(c for c in columns if c.path_in_schema == column)


def overwrite(path: Path, offset: int, payload: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(payload)] = payload
    path.write_bytes(bytes(data))


def write(table: pa.Table, lake: Path, relative: str, **options) -> Path:
    path = lake / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)
    return path


def replaced(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def footer_reads_but_data_does_not(path: Path) -> None:
    """What makes the file a member of its class: a reader that trusts the footer fails."""
    pq.read_schema(path)
    with pytest.raises(duckdb.Error):
        duckdb.connect().execute(f"select * from read_parquet('{path}')").fetchall()


def one_ticket(schema: pa.Schema, subject: pa.Array, score: pa.Array | None = None) -> pa.Table:
    at = pa.array([datetime(2026, 3, 4, 9)], pa.timestamp("us"))
    none = pa.array([None], pa.timestamp("us"))
    columns = {
        "ticket_id": pa.array(["T99999999"]),
        "customer_email": pa.array(["someone@example.com"]),
        "channel": pa.array(["email"]),
        "category": pa.array(["billing"]),
        "subject": subject,
        "created_at": at,
        "first_response_at": none,
        "resolved_at": none,
        "satisfaction_score": score if score is not None else pa.array([None], pa.int64()),
        "status": pa.array(["open"]),
        "updated_at": at,
    }
    return pa.table({field.name: columns[field.name] for field in schema})


def plant_future_partitions(lake: Path) -> None:
    for relative, (folder, day) in {
        f"orders/ingest_date={FAR}/x.parquet": ("orders", "2026-03-02"),
        "customers/ingest_date=2099-01-01/part-0.parquet": ("customers", "2026-03-01"),
        f"support/tickets/ingest_date={NEAR}/part-0.parquet": ("support/tickets", "2026-03-01"),
        EDGE_EVENTS: ("events", "2026-03-01"),
    }.items():
        (lake / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(generated(lake, folder, day), lake / relative)


def plant_unreadable_data(lake: Path) -> None:
    orders = pq.read_table(generated(lake, "orders", "2026-03-02"))
    customers = pq.read_table(generated(lake, "customers", "2026-03-01"))
    items = pq.read_table(generated(lake, "order_items", "2026-03-02"))
    events = pq.read_table(generated(lake, "events", "2026-03-01"))
    products = pq.read_table(generated(lake, "products", "2026-03-01"))
    tickets = pq.read_schema(generated(lake, "support/tickets", "2026-03-01"))
    planted = iter(UNREADABLE)

    # the example: a valid footer, a corrupt page header
    path = write(orders, lake, next(planted), compression="none", use_dictionary=False)
    overwrite(path, chunk(path, "customer_id").data_page_offset, b"\xff" * 12)
    footer_reads_but_data_does_not(path)

    # a gzip page whose compressed bytes are damaged
    path = write(customers, lake, next(planted), compression="gzip", use_dictionary=False)
    email = chunk(path, "email")
    overwrite(path, email.data_page_offset + email.total_compressed_size // 2, b"\x00" * 32)
    footer_reads_but_data_does_not(path)

    # gzip data under a footer that says snappy (codec 2 -> 1, zigzag 4 -> 2), one column
    path = write(items, lake, next(planted), compression="gzip")
    data = path.read_bytes()
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    name = b"quantity"
    gzip_codec = b"\x19\x18" + bytes([len(name)]) + name + b"\x15\x04"
    at = data.index(gzip_codec, footer_start)
    overwrite(path, at + len(gzip_codec) - 1, b"\x02")
    assert chunk(path, "quantity").compression == "SNAPPY"
    footer_reads_but_data_does_not(path)

    # a dictionary page whose header is damaged
    path = write(events, lake, next(planted), compression="none", use_dictionary=["page_url"])
    page_url = chunk(path, "page_url")
    assert page_url.has_dictionary_page
    overwrite(path, page_url.dictionary_page_offset, b"\xff" * 12)
    footer_reads_but_data_does_not(path)

    # a row group shorter than the footer says: bytes cut out of its middle
    path = write(products, lake, next(planted), compression="none", row_group_size=20)
    first = chunk(path, "product_name", 0)
    cut = first.data_page_offset + first.total_compressed_size // 2
    data = path.read_bytes()
    path.write_bytes(data[:cut] + data[cut + 40 :])
    footer_reads_but_data_does_not(path)

    # text that is not UTF-8 (Latin-1 bytes labelled as strings), a personal value
    latin1 = pa.array(["m\xfcller.hostile@example.com".encode("latin-1")]).view(pa.string())
    path = write(replaced(customers.slice(0, 1), "email", latin1), lake, next(planted))
    footer_reads_but_data_does_not(path)
    subject = pa.array(["Refund M\xfcller hostile-subject".encode("latin-1")]).view(pa.string())
    path = write(one_ticket(tickets, subject), lake, next(planted))
    footer_reads_but_data_does_not(path)


def plant_contract_breaches(lake: Path) -> None:
    orders = pq.read_table(generated(lake, "orders", "2026-03-02")).slice(0, 5)
    customers = pq.read_table(generated(lake, "customers", "2026-03-01")).slice(0, 3)
    items = pq.read_table(generated(lake, "order_items", "2026-03-02")).slice(0, 3)
    events = pq.read_table(generated(lake, "events", "2026-03-01")).slice(0, 3)
    products = pq.read_table(generated(lake, "products", "2026-03-01")).slice(0, 3)
    tickets = pq.read_schema(generated(lake, "support/tickets", "2026-03-01"))
    planted = iter(CONTRACT)

    # the example: orders.customer_id (a subject_key) as int64, read as '42'...
    ids = pa.array(range(42, 42 + len(orders)), pa.int64())
    write(replaced(orders, "customer_id", ids), lake, next(planted))
    # a natural-key column as text
    line_numbers = pa.array([str(n) for n in items["line_number"].to_pylist()])
    write(replaced(items, "line_number", line_numbers), lake, next(planted))
    # a non-key integer column as a double: never rounded silently
    write(one_ticket(tickets, pa.array(["late"]), pa.array([4.5])), lake, next(planted))
    # a column twice, exactly, and differing only in case
    names = customers.column_names
    twice = pa.Table.from_arrays([*customers.columns, customers["email"]], [*names, "email"])
    write(twice, lake, next(planted))
    cased = pa.Table.from_arrays(
        [*customers.columns, customers["customer_id"]], [*names, "Customer_ID"]
    )
    write(cased, lake, next(planted))
    # the key's name in another case
    write(events.rename_columns(["Event_ID", *events.column_names[1:]]), lake, next(planted))
    # a column named like one the reader adds
    elsewhere = pa.array(["elsewhere.csv"] * len(orders))
    write(orders.append_column("filename", elsewhere), lake, next(planted))
    # a non-key number as text, one value of which is no number
    prices = pa.array(["12.50", "N/A-hostile-price", "3"])
    write(replaced(products, "list_price", prices), lake, next(planted))

    # readable: a safe_cast column as text, two new lines of an order, one unparseable
    lines = pq.read_table(generated(lake, "order_items", "2026-03-02")).slice(0, 2)
    lines = replaced(lines, "order_id", pa.array([lines["order_id"][0].as_py()] * 2))
    lines = replaced(lines, "line_number", pa.array([90, 91], pa.int64()))
    lines = replaced(lines, "quantity", pa.array(["2", "two"]))
    write(lines, lake, QUANTITY_AS_TEXT)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("hostile_feeds")
    lake = root / "lake"
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", f"--seed={LAKE['seed']}",
         f"--customers={LAKE['customers']}", f"--start-date={LAKE['start_date']}",
         f"--days={LAKE['days']}", f"--plan-days={LAKE['plan_days']}", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    plant_future_partitions(lake)
    plant_unreadable_data(lake)
    plant_contract_breaches(lake)
    env = warehouse_env(root)
    selection = "+quarantined_files +file_reconciliation +path:models/staging"
    # The day builds: dbt fails the test if the build does.
    built = run_dbt(env, "build", "--select", selection, "--indirect-selection", "cautious")
    return lake, root / "warehouse.duckdb", built.stdout


def query(database: Path, sql: str, *parameters: object) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, list(parameters)).fetchall()


def files_on_disk(lake: Path, source: str) -> list[str]:
    folder = lake / SOURCES[source][0]
    return sorted(p.relative_to(lake).as_posix() for p in folder.rglob("*") if p.is_file())


def source_of(relative: str) -> str:
    return next(s for s, (folder, _) in SOURCES.items() if relative.startswith(folder + "/"))


def test_each_bad_file_is_quarantined_under_its_own_name_with_its_rule(hostile) -> None:
    lake, database, log = hostile
    rows = query(database, "select file_path, quarantine_rule, error from audit.quarantined_files")
    found = {str(Path(path).relative_to(lake)): (rule, error) for path, rule, error in rows}
    assert {path: rule for path, (rule, _) in found.items()} == QUARANTINED
    for path, column in DAMAGED_COLUMN.items():
        assert f"column {column}" in found[path][1], (path, found[path][1])
    for path in FUTURE:
        assert f"dated after {(TODAY + timedelta(days=1)).isoformat()}" in found[path][1]
    assert "key column customer_id is bigint" in found[next(iter(CONTRACT))][1]
    # the run's log lists them, each under its own path
    assert f"{len(QUARANTINED)} landed file(s) quarantined" in log
    assert all(str(lake / path) in log for path in QUARANTINED)


def test_files_landed_equal_read_plus_quarantined(hostile) -> None:
    lake, database, _ = hostile
    reconciliation = {
        name: counts
        for name, *counts in query(
            database,
            "select source_name, files_landed, files_read, files_quarantined, unaccounted_files "
            "from audit.file_reconciliation",
        )
    }
    for source in SOURCES:
        landed = files_on_disk(lake, source)
        bad = [path for path in QUARANTINED if source_of(path) == source]
        assert bad, source  # every source has members of the classes
        assert reconciliation[source] == [len(landed), len(landed) - len(bad), len(bad), 0]


def readable_rows(lake: Path, source: str) -> dict[str, int]:
    """Rows of each file that is not a planted bad one, counted from its footer."""
    return {
        str(lake / path): pq.ParquetFile(lake / path).metadata.num_rows
        for path in files_on_disk(lake, source)
        if path not in QUARANTINED
    }


def test_every_row_of_every_good_file_is_read(hostile) -> None:
    lake, database, _ = hostile
    for source, (_, view) in SOURCES.items():
        read = dict(query(database, f"select _source_file, count(*) from {view} group by all"))
        expected = {path: rows for path, rows in readable_rows(lake, source).items() if rows}
        assert read == expected, source


def test_rows_landed_equal_kept_duplicates_corrections_quarantined(hostile) -> None:
    lake, database, _ = hostile
    totals = {
        name: counts
        for name, *counts in query(
            database,
            "select source_name, sum(rows_landed), sum(rows_kept), sum(rows_duplicate), "
            "sum(rows_corrected), sum(rows_quarantined), sum(abs(unaccounted_rows)) "
            "from audit.row_count_reconciliation group by source_name",
        )
    }
    for source in SOURCES:
        landed, kept, duplicates, corrections, quarantined, unaccounted = totals[source]
        assert landed == sum(readable_rows(lake, source).values()), source
        assert kept + duplicates + corrections + quarantined == landed, source
        assert unaccounted == 0, source


def test_a_safe_cast_column_as_text_is_read_and_its_bad_value_row_quarantined(hostile) -> None:
    lake, database, _ = hostile
    path = str(lake / QUANTITY_AS_TEXT)
    rejected = query(
        database,
        "select rejection_reason, raw_record from audit.quarantined_rows where source_file = ?",
        path,
    )
    assert [reason for reason, _ in rejected] == ["unparseable_value"]
    staged = query(
        database,
        "select line_number, quantity from staging.stg_shop__order_items where _source_file = ?",
        path,
    )
    assert staged == [(90, 2)]


def test_a_future_partition_is_never_the_newest_day(hostile) -> None:
    _, database, _ = hostile
    newest = dict(
        query(
            database,
            "select source_name, max(ingest_date) from audit.row_count_reconciliation group by all",
        )
    )
    day = date.fromisoformat(LAST_DAY)
    assert newest["orders"] == newest["customers"] == day
    assert newest["tickets"] <= day
    assert newest["events"] == date.fromisoformat(EDGE)  # within the tolerance: read


def test_no_planted_value_reaches_an_error_or_the_log(hostile) -> None:
    _, database, log = hostile
    errors = [
        error
        for (error,) in query(
            database, "select error from audit.lake_file_inventory where error is not null"
        )
    ]
    errors += [e for (e,) in query(database, "select error from audit.quarantined_files")]
    for value in PLANTED:
        assert not any(value in error for error in errors), value
        assert value not in log, value


def test_a_held_partition_is_read_once_its_day_comes_and_is_never_fresh(tmp_path: Path) -> None:
    """The date rule is judged again by every run, though the file is unchanged; source
    freshness does not count the held partition (no negative age)."""
    lake = tmp_path / "lake"
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", "--seed=3", "--customers=10",
         "--start-date=2026-03-01", "--days=1", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    later = (TODAY + timedelta(days=3)).isoformat()
    held = lake / "customers" / f"ingest_date={later}" / "part-0.parquet"
    held.parent.mkdir(parents=True)
    shutil.copy(generated(lake, "customers", "2026-03-01"), held)
    env = warehouse_env(tmp_path)

    def verdict() -> tuple[str, str | None]:
        (row,) = query(
            tmp_path / "warehouse.duckdb",
            "select status, quarantine_rule from audit.lake_file_inventory where file_path = ?",
            str(held),
        )
        return row

    run_dbt(env, "run", "--select", "lake_file_inventory")
    assert verdict() == ("quarantined", "partition_date_in_the_future")

    # erroring (the lake's day is months old), but by the real newest day, not the held one
    run_dbt(env, "source", "freshness", "--select", "source:shop.customers", check=False)
    (result,) = json.loads((tmp_path / "target" / "sources.json").read_text())["results"]
    assert result["max_loaded_at"].startswith("2026-03-01")
    assert result["max_loaded_at_time_ago_in_s"] > 0

    # its day has come (as a tolerance of three days says): read, though unchanged
    tolerance = "{future_partition_tolerance_days: 3}"
    run_dbt(env, "run", "--select", "lake_file_inventory", "--vars", tolerance)
    assert verdict() == ("readable", None)
