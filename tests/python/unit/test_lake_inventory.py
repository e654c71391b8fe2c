"""The lake inventory's rules (warehouse/lake_inventory.py) on small files written here: no
dbt, a few milliseconds each. The integration suite (test_hostile_feeds.py) plants the same
classes in a lake and builds it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO_ROOT

from warehouse.lake_inventory import (
    FUTURE_PARTITION_TOLERANCE_DAYS,
    QUARANTINED,
    READABLE,
    inspect_file,
    kind_fits,
    latest_partition_date,
)
from warehouse.lake_sources import LakeContractError, LakeSource, lake_source_of_node

SOURCE = LakeSource(
    system="crm",
    table="contacts",
    subdir="crm",
    natural_key=("contact_id",),
    required_columns=("contact_id",),
    active_within_days=7,
    unique_id="source.ml_warehouse.crm.contacts",
    column_types=(
        ("contact_id", "varchar"),
        ("account_id", "varchar"),
        ("email", "varchar"),
        ("visits", "bigint"),
        ("score", "decimal(12, 2)"),
        ("seen_at", "timestamp"),
        ("ingest_date", "date"),
    ),
    key_columns=("contact_id", "account_id"),
    safe_cast_columns=("visits",),
)
DAY = "2026-03-04"
PERSONAL = "m\xfcller.unit@example.com"


def good_columns() -> dict[str, pa.Array]:
    return {
        "contact_id": pa.array(["K1", "K2", "K3"]),
        "account_id": pa.array(["A1", "A2", "A3"]),
        "email": pa.array(["a@example.com", "b@example.com", "c@example.com"]),
        "visits": pa.array([1, 2, 3], pa.int64()),
        "score": pa.array([0.5, 1.25, 2.0]),
        "seen_at": pa.array([dt.datetime(2026, 3, 4, 8)] * 3, pa.timestamp("us")),
    }


def land(root: Path, table: pa.Table, name: str = "part-0.parquet", day: str = DAY) -> Path:
    path = root / "crm" / "contacts" / f"ingest_date={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def inspect(path: Path, root: Path, **options):
    options.setdefault("source", SOURCE)
    options.setdefault("latest_date", dt.date(2026, 12, 8))
    return inspect_file(path, root / "crm" / "contacts", **options)


def with_column(name: str, values: pa.Array) -> pa.Table:
    columns = good_columns()
    columns[name] = values
    return pa.table(columns)


def test_a_file_as_its_contract_says_is_readable(tmp_path: Path) -> None:
    found = inspect(land(tmp_path, pa.table(good_columns())), tmp_path)
    assert (found.status, found.rule, found.error) == (READABLE, None, None)
    assert found.columns == [*good_columns(), "ingest_date"]


@pytest.mark.parametrize(
    ("column", "values", "rule", "fragment"),
    [
        # a key column of another type: read as '42' before, silently
        ("account_id", pa.array([42, 43, 44], pa.int64()), "column_type_differs_from_contract",
         "key column account_id is bigint in the file, declared varchar"),
        # a key column as text where the contract says text is fine; as a number it is not
        ("contact_id", pa.array([1, 2, 3], pa.int32()), "column_type_differs_from_contract",
         "key column contact_id"),
        # a non-key column of another kind that is not text: never cast
        ("seen_at", pa.array([1, 2, 3], pa.int64()), "column_type_differs_from_contract",
         "column seen_at is bigint in the file, declared timestamp"),
        ("visits", pa.array([1.5, 2.0, 3.0]), "column_type_differs_from_contract",
         "column visits is double"),
        # a non-key column as text: every value must cast, and the error names the row
        ("score", pa.array(["1.5", "N/A-unit", "2"]), "value_does_not_cast",
         "column score, row 1 (from 0)"),
        # in range for the file's type, not for the contract's
        ("score", pa.array([1.5, 1e20, 2.0]), "value_does_not_cast", "column score, row 1"),
    ],
)  # fmt: skip
def test_a_column_that_disagrees_with_its_contract_quarantines_the_file(
    tmp_path: Path, column: str, values: pa.Array, rule: str, fragment: str
) -> None:
    found = inspect(land(tmp_path, with_column(column, values)), tmp_path)
    assert (found.status, found.rule) == (QUARANTINED, rule)
    assert fragment in found.error
    assert "N/A-unit" not in found.error and "1e+20" not in found.error


def test_a_safe_cast_column_as_text_is_read_and_left_to_the_base_model(tmp_path: Path) -> None:
    found = inspect(land(tmp_path, with_column("visits", pa.array(["1", "two", "3"]))), tmp_path)
    assert found.status == READABLE


def test_a_whole_number_where_a_number_is_declared_is_no_disagreement() -> None:
    assert kind_fits("INTEGER", "decimal(12, 2)") and kind_fits("BIGINT", "double")
    assert kind_fits("TIMESTAMP WITH TIME ZONE", "timestamp") and kind_fits("INTEGER", "bigint")
    assert not kind_fits("DOUBLE", "bigint") and not kind_fits("BIGINT", "varchar")


@pytest.mark.parametrize(
    ("names", "rule", "fragment"),
    [
        (["contact_id", "email", "email"], "duplicate_column", "column email appears twice"),
        (["contact_id", "Contact_ID"], "duplicate_column", "as contact_id and Contact_ID"),
        (["contact_id", "Email"], "column_name_case_differs_from_contract",
         "column Email is declared as email"),
        (["contact_id", "filename"], "column_named_like_a_reader_column", "a column filename"),
        (["contact_id", "Ingest_Date"], "column_named_like_a_reader_column", "Ingest_Date"),
    ],
)  # fmt: skip
def test_a_column_twice_or_named_in_another_case_quarantines_the_file(
    tmp_path: Path, names: list[str], rule: str, fragment: str
) -> None:
    arrays = [pa.array(["x1", "x2"]) for _ in names]
    found = inspect(land(tmp_path, pa.Table.from_arrays(arrays, names=names)), tmp_path)
    assert (found.status, found.rule) == (QUARANTINED, rule)
    assert fragment in found.error


def test_text_that_is_not_utf8_names_column_and_row_never_the_value(tmp_path: Path) -> None:
    email = pa.array([b"a@example.com", b"b@example.com", PERSONAL.encode("latin-1")])
    found = inspect(land(tmp_path, with_column("email", email.view(pa.string()))), tmp_path)
    assert (found.status, found.rule) == (QUARANTINED, "invalid_utf8")
    assert "column email, row 2 (from 0)" in found.error
    assert "unit@example" not in found.error and "ller" not in found.error


def test_a_corrupt_page_header_behind_a_valid_footer_is_quarantined(tmp_path: Path) -> None:
    path = land(tmp_path, pa.table(good_columns()))
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(2)  # email
    data = bytearray(path.read_bytes())
    offset = chunk.dictionary_page_offset or chunk.data_page_offset
    data[offset : offset + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    pq.read_schema(path)  # the footer still reads
    found = inspect(path, tmp_path)
    assert (found.status, found.rule) == (QUARANTINED, "unreadable_column_data")
    assert "DuckDB cannot read column email" in found.error
    assert "TProtocol" not in found.error


def test_a_future_partition_is_held_and_judged_again_every_run(tmp_path: Path) -> None:
    path = land(tmp_path, pa.table(good_columns()), day="2026-12-10")
    held = inspect(path, tmp_path, latest_date=dt.date(2026, 12, 9))
    assert (held.status, held.rule) == (QUARANTINED, "partition_date_in_the_future")
    assert held.ingest_date == "2026-12-10"
    # its day has come: the file is inspected, not its earlier verdict reused
    now = inspect(path, tmp_path, latest_date=dt.date(2026, 12, 10), known=held)
    assert (now.status, now.rule) == (READABLE, None)
    # a readable verdict is not reused for a partition now after the latest date either
    assert inspect(path, tmp_path, latest_date="2026-12-09", known=now).status == QUARANTINED


def test_the_latest_partition_date_is_today_plus_the_tolerance_of_dbt_project() -> None:
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    assert project["vars"]["future_partition_tolerance_days"] == FUTURE_PARTITION_TOLERANCE_DAYS
    assert latest_partition_date(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 1)


def test_an_unchanged_file_keeps_its_inspection_until_the_contract_changes(
    tmp_path: Path,
) -> None:
    path = land(tmp_path, with_column("account_id", pa.array([42, 43, 44], pa.int64())))
    first = inspect(path, tmp_path)
    assert first.rule == "column_type_differs_from_contract"
    faked = dataclasses.replace(first, status=READABLE, error=None, rule=None)
    assert inspect(path, tmp_path, known=faked) == faked  # reused: same file, same checks
    types = tuple((n, "bigint" if n == "account_id" else t) for n, t in SOURCE.column_types)
    changed = dataclasses.replace(SOURCE, column_types=types)
    assert inspect(path, tmp_path, known=faked, source=changed).status == READABLE
    again = inspect(path, tmp_path, known=first, source=changed)
    assert (again.status, again.checks != first.checks) == (READABLE, True)


def test_no_exception_text_reaches_an_error(tmp_path: Path) -> None:
    """The footer's and the reader's exceptions quote what they read: none is passed on."""
    path = land(tmp_path, pa.table(good_columns()))
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[-8:-4], "little")
    payload = PERSONAL.encode("latin-1")
    start = len(data) - 8 - size  # the footer's first bytes, overwritten by a value
    data[start : start + len(payload)] = payload
    path.write_bytes(bytes(data))
    found = inspect(path, tmp_path)
    assert found.status == QUARANTINED and found.rule == "unreadable_footer"
    assert "ller" not in found.error
    with pytest.raises(duckdb.Error):
        duckdb.sql(f"select * from read_parquet('{path}')").fetchall()


def _node(lake: dict, columns: dict) -> dict:
    return {
        "unique_id": "source.ml_warehouse.crm.contacts",
        "source_name": "crm",
        "name": "contacts",
        "original_file_path": "models/staging/crm/_crm__sources.yml",
        "meta": {"lake_subdir": "crm", "lake": lake},
        "columns": columns,
    }


def test_the_contract_is_read_from_the_sources_yaml_node() -> None:
    columns = {
        "contact_id": {"data_type": "varchar", "meta": {"pii": "none"}},
        "account_id": {"data_type": "VARCHAR", "meta": {"pii": "quasi", "subject_key": True}},
        "visits": {"data_type": "bigint", "meta": {"pii": "none"}},
        "note": {"meta": {"pii": "none"}},  # no data_type: not checked
    }
    source = lake_source_of_node(
        _node({"natural_key": ["contact_id"], "safe_cast_columns": ["visits"]}, columns)
    )
    assert source.column_types == (
        ("contact_id", "varchar"),
        ("account_id", "varchar"),
        ("visits", "bigint"),
    )
    assert source.key_columns == ("contact_id", "account_id")
    assert source.safe_cast_columns == ("visits",)
    with pytest.raises(LakeContractError, match="account_id is a key column"):
        contract = {"natural_key": ["contact_id"], "safe_cast_columns": ["account_id"]}
        lake_source_of_node(_node(contract, columns))
    with pytest.raises(LakeContractError, match="column visits: data_type must be"):
        lake_source_of_node(
            _node({"natural_key": ["contact_id"]}, {"visits": {"data_type": "int; drop"}})
        )
