"""Every feature as known at its date, on lakes that change what the sample never does.

The same generated lake is built as generated and after a hostile edit of its files: a
product relabelled in the later catalogue dumps, and a day whose order status records are all
quarantined. The rule under test: an input is known at as-of date D when it was valid before
00:00 of D and landed in a partition before D (macros/point_in_time.sql), and every landed
day opens an as-of date.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_dbt, run_generator, warehouse_env

from warehouse.fingerprint import fingerprint


@dataclass(frozen=True)
class LakeBuild:
    root: Path
    lake: Path
    database: Path

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.database), read_only=True)


HOSTILE = {"start": date(2026, 3, 1), "days": 45, "relabel_from": date(2026, 3, 31)}
# Every order status record of this landed day is quarantined (null key).
ALL_ORDERS_QUARANTINED_DAY = date(2026, 4, 3)


def build(root: Path, lake: Path) -> LakeBuild:
    env = warehouse_env(root)
    env.update(WAREHOUSE_LAKE_DIR=str(lake))
    (root / "exports").mkdir(parents=True, exist_ok=True)
    # the release (training set and splits) needs months of labels; the features do not
    run_dbt(env, "build", "--exclude", "tag:dataset_release")
    return LakeBuild(root=root, lake=lake, database=root / "warehouse.duckdb")


def most_ordered_product(lake: Path) -> str:
    with duckdb.connect() as connection:
        (product,) = connection.execute(
            # the drift day stores quantity as text, some of it unparseable
            "select product_id from read_parquet($files, union_by_name = true) "
            "group by 1 order by sum(try_cast(quantity as bigint)) desc, 1 limit 1",
            {"files": str(lake / "order_items" / "*/*.parquet")},
        ).fetchone()
    return product


def rewrite_partitions(
    lake: Path, source: str, days: list[date], change: Callable[[list[dict]], None]
) -> None:
    """Rewrite the source's files of those days, changing their rows in place."""
    for day in days:
        path = lake / source / f"ingest_date={day}" / "part-0.parquet"
        table = pq.read_table(path)
        rows = table.to_pylist()
        change(rows)
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


@pytest.fixture(scope="module")
def clean_and_hostile(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LakeBuild, LakeBuild]]:
    """The same generated lake built twice: as generated, and with (a) the most ordered
    product relabelled in every catalogue dump from relabel_from on, and (b) every order
    status record of one later day sent with a null order id (all quarantined)."""
    root = tmp_path_factory.mktemp("point_in_time")
    clean_lake = root / "clean" / "lake"
    run_generator(
        "generate",
        "--seed=5",
        "--customers=60",
        f"--start-date={HOSTILE['start']}",
        f"--days={HOSTILE['days']}",
        f"--out={clean_lake}",
    )
    hostile_lake = root / "hostile" / "lake"
    shutil.copytree(clean_lake, hostile_lake)
    product = most_ordered_product(clean_lake)
    last_day = HOSTILE["start"] + timedelta(days=HOSTILE["days"] - 1)
    relabelled_days = [
        HOSTILE["relabel_from"] + timedelta(days=n)
        for n in range((last_day - HOSTILE["relabel_from"]).days + 1)
    ]

    def relabel(rows: list[dict]) -> None:
        for row in rows:
            if row["product_id"] == product:
                row["category"] = "Books" if row["category"].lower() != "books" else "Grocery"

    def null_order_ids(rows: list[dict]) -> None:
        for row in rows:
            row["order_id"] = None

    rewrite_partitions(hostile_lake, "products", relabelled_days, relabel)
    rewrite_partitions(hostile_lake, "orders", [ALL_ORDERS_QUARANTINED_DAY], null_order_ids)
    yield build(root / "clean", clean_lake), build(root / "hostile", hostile_lake)


def feature_fingerprint(build: LakeBuild, where: str) -> str:
    with build.connect() as connection:
        return fingerprint(connection, f"(from ml.ml_customer_features where {where})")


def test_relabelling_a_product_changes_no_past_feature_row(
    clean_and_hostile: tuple[LakeBuild, LakeBuild],
) -> None:
    clean, hostile = clean_and_hostile
    # the dump of relabel_from is known from the next morning on
    known_from = HOSTILE["relabel_from"] + timedelta(days=1)
    before = f"as_of_date < '{known_from}'"
    assert feature_fingerprint(hostile, before) == feature_fingerprint(clean, before)
    with clean.connect() as connection:
        connection.execute(f"attach '{hostile.database}' as hostile (read_only)")
        (changed,) = connection.execute(
            """
            select count(*) from ml.ml_customer_features as clean
            join hostile.ml.ml_customer_features as relabelled using (customer_id, as_of_date)
            where clean.as_of_date >= $known_from and clean.as_of_date < $quarantined_day
                and clean.favourite_category_90d is distinct from relabelled.favourite_category_90d
            """,
            {"known_from": known_from, "quarantined_day": ALL_ORDERS_QUARANTINED_DAY},
        ).fetchone()
    assert changed > 0, "the relabelled product changed no row after it was known"


def test_a_day_whose_orders_were_all_quarantined_still_opens_its_as_of_date(
    clean_and_hostile: tuple[LakeBuild, LakeBuild],
) -> None:
    _, hostile = clean_and_hostile
    landed = {
        date.fromisoformat(folder.name.removeprefix("ingest_date="))
        for folder in (hostile.lake / "customers").iterdir()
    }
    with hostile.connect() as connection:
        (kept,) = connection.execute(
            "select count(*) from staging.stg_shop__orders where _ingest_date = ?",
            [ALL_ORDERS_QUARANTINED_DAY],
        ).fetchone()
        as_of_dates = {
            row[0]
            for row in connection.execute(
                "select distinct as_of_date from ml.ml_customer_features"
            ).fetchall()
        }
    assert kept == 0, "the day was meant to have no clean order rows"
    assert as_of_dates == {day + timedelta(days=1) for day in landed}
