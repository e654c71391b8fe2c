"""The training set's splits: the embargo of the time split, the split settings that must stop
compilation, the test that refuses an empty split, and the out-of-time-and-entity split.

One small lake (40 customers, 100 days from 2026-03-01, seed 7) is built once for the module;
each variation of the vars is built on a copy of its database. The expected dates are worked
out by hand below from the lake's labelled as-of range, never with the model's SQL.

The lake's labelled as-of dates run from 2026-03-02 to 2026-05-10 (every landed day opens an
as-of date; a label needs its 30-day window landed: the last ingest date is 2026-06-08, so the
knowledge date is 2026-06-09), 70 calendar days.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import run_dbt, run_generator, warehouse_env

EMBARGO_DAYS = 30
FIRST_LABELLED = date(2026, 3, 2)
LAST_LABELLED = date(2026, 5, 10)
EMPTY_SPLIT_TEST = "no_empty_training_splits"
PROJECT = "ml_warehouse"


@dataclass(frozen=True)
class SplitLake:
    root: Path
    database: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def split_lake(tmp_path_factory: pytest.TempPathFactory) -> SplitLake:
    root = tmp_path_factory.mktemp("splits")
    (root / "exports").mkdir()
    run_generator(
        "generate",
        "--seed=7",
        "--customers=40",
        "--start-date=2026-03-01",
        "--days=100",
        f"--out={root / 'lake'}",
    )
    env = warehouse_env(root)
    run_dbt(env, "build")
    return SplitLake(root=root, database=root / "warehouse.duckdb", env=env)


def copy_of(lake: SplitLake, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the lake's warehouse to build a variation in, with its own target."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(lake.database, database)
    (tmp_path / "exports").mkdir()
    env = dict(
        lake.env,
        WAREHOUSE_DUCKDB_PATH=str(database),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
        WAREHOUSE_EXPORTS_DIR=str(tmp_path / "exports"),
    )
    return database, env


def with_vars(env: dict[str, str], command: str, select: str, **variables: object):
    return run_dbt(env, command, "--select", select, "--vars", json.dumps(variables), check=False)


def empty_split_test_statuses(target: Path) -> list[str]:
    """The statuses of the empty-split test in the last dbt invocation's results."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return [
        r["status"]
        for r in results
        if r["unique_id"].startswith(f"test.{PROJECT}.{EMPTY_SPLIT_TEST}")
    ]


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def expected_time_split(
    train: tuple[date, date], validation: tuple[date, date] | None, test: tuple[date, date]
) -> dict[date, str]:
    """The split of every labelled as-of date, given each split's first and last day."""
    split_of = {day: "embargoed" for day in days(FIRST_LABELLED, LAST_LABELLED)}
    for name, bounds in (("train", train), ("validation", validation), ("test", test)):
        for day in days(*bounds) if bounds else ():
            split_of[day] = name
    return split_of


def time_split_by_date(database: Path) -> dict[date, str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select distinct as_of_date, time_split from ml.ml_training_set"
        ).fetchall()
    split_of = dict(rows)
    assert len(split_of) == len(rows), "an as-of date in two time splits"
    return split_of


def assert_embargo(split_of: dict[date, str], embargo: int = EMBARGO_DAYS) -> None:
    dates = {
        name: sorted(d for d, s in split_of.items() if s == name) for name in set(split_of.values())
    }
    assert dates["train"][-1] + timedelta(days=embargo) <= dates["validation"][0]
    assert dates["validation"][-1] + timedelta(days=embargo) <= dates["test"][0]


def test_the_lake_has_the_labelled_range_the_expectations_assume(split_lake: SplitLake) -> None:
    with duckdb.connect(str(split_lake.database), read_only=True) as connection:
        labelled = {
            row[0]
            for row in connection.execute(
                "select distinct as_of_date from ml.ml_customer_labels"
            ).fetchall()
        }
    assert labelled == days(FIRST_LABELLED, LAST_LABELLED)


def test_auto_time_split_leaves_an_embargo_between_splits(split_lake: SplitLake) -> None:
    """Shares 0.70 / 0.15 of the 70 days less two gaps of 29 (the dates D with
    D + 30 > the next split's first date): 12 days. Train ceil(0.70 * 12) = 9 days,
    03-02..03-10; validation ceil(0.85 * 12) - 9 = 2 days from 03-10 + 30 = 04-09:
    04-09..04-10; test from 04-10 + 30 = 05-10 to the end: 05-10."""
    split_of = time_split_by_date(split_lake.database)
    assert split_of == expected_time_split(
        train=(date(2026, 3, 2), date(2026, 3, 10)),
        validation=(date(2026, 4, 9), date(2026, 4, 10)),
        test=(date(2026, 5, 10), date(2026, 5, 10)),
    )
    assert_embargo(split_of)


def test_explicit_cut_offs_keep_the_embargo(split_lake: SplitLake, tmp_path: Path) -> None:
    """Validation from 04-05, test from 05-06: train is D + 30 <= 04-05 (to 03-06),
    validation 04-05 <= D and D + 30 <= 05-06 (04-05, 04-06), test D >= 05-06."""
    database, env = copy_of(split_lake, tmp_path)
    result = with_vars(
        env,
        "build",
        "ml_training_set+",
        split_validation_start="2026-04-05",
        split_test_start="2026-05-06",
    )
    assert result.returncode == 0, result.stdout[-4000:]
    split_of = time_split_by_date(database)
    assert split_of == expected_time_split(
        train=(date(2026, 3, 2), date(2026, 3, 6)),
        validation=(date(2026, 4, 5), date(2026, 4, 6)),
        test=(date(2026, 5, 6), date(2026, 5, 10)),
    )
    assert_embargo(split_of)


def test_a_longer_embargo_widens_the_gaps(split_lake: SplitLake, tmp_path: Path) -> None:
    """Embargo 31: 70 - 2 * 30 = 10 days left. Train ceil(0.70 * 10) = 7 days, 03-02..03-08;
    validation ceil(0.85 * 10) - 7 = 2 days from 03-08 + 31 = 04-08: 04-08..04-09; test
    from 04-09 + 31 = 05-10."""
    database, env = copy_of(split_lake, tmp_path)
    result = with_vars(env, "build", "ml_training_set+", split_embargo_days=31)
    assert result.returncode == 0, result.stdout[-4000:]
    split_of = time_split_by_date(database)
    assert split_of == expected_time_split(
        train=(date(2026, 3, 2), date(2026, 3, 8)),
        validation=(date(2026, 4, 8), date(2026, 4, 9)),
        test=(date(2026, 5, 10), date(2026, 5, 10)),
    )
    assert_embargo(split_of, embargo=31)


def test_a_validation_share_of_0_leaves_one_gap_and_passes(
    split_lake: SplitLake, tmp_path: Path
) -> None:
    """No validation split: one gap of 29 days, 41 days left. Train ceil(0.70 * 41) = 29
    days, 03-02..03-30; test from 03-30 + 30 = 04-29. The empty validation splits are
    meant to be empty, so the build (and its empty-split test) passes."""
    database, env = copy_of(split_lake, tmp_path)
    result = with_vars(env, "build", "ml_training_set+", split_validation_share=0)
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"PASS {EMPTY_SPLIT_TEST}" in result.stdout
    assert time_split_by_date(database) == expected_time_split(
        train=(date(2026, 3, 2), date(2026, 3, 30)),
        validation=None,
        test=(date(2026, 4, 29), date(2026, 5, 10)),
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        (validation_rows,) = connection.execute(
            "select count(*) from ml.ml_training_set where 'validation' in "
            "(time_split, entity_split, time_entity_split)"
        ).fetchone()
    assert validation_rows == 0


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"split_test_start": "2026-05-01"},
            "vars split_validation_start and split_test_start go together",
        ),
        (
            {"split_validation_start": "2026-04-01"},
            "vars split_validation_start and split_test_start go together",
        ),
        (
            {"split_validation_start": "2026-05-01", "split_test_start": "2026-05-01"},
            "var split_validation_start (2026-05-01) must be before var split_test_start",
        ),
        (
            {"split_validation_start": "2026-05-01", "split_test_start": "2026-04-01"},
            "var split_validation_start (2026-05-01) must be before var split_test_start",
        ),
        (
            {"split_validation_start": "2026-04-01", "split_test_start": "2026-04-30"},
            "leave no validation as-of date",
        ),
        (
            {
                "split_validation_start": "2026-04-01",
                "split_test_start": "2026-05-01",
                "split_embargo_days": 31,
            },
            "leave no validation as-of date",
        ),
        ({"split_embargo_days": 29}, "var split_embargo_days must be at least the label horizon"),
        ({"split_embargo_days": "thirty"}, "var 'split_embargo_days' must be a whole number"),
    ],
)
def test_split_settings_that_cannot_work_stop_compilation(
    split_lake: SplitLake, tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    env = dict(split_lake.env, DBT_TARGET_PATH=str(tmp_path / "target"))
    result = with_vars(env, "compile", "ml_training_set", **variables)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]


def test_explicit_dates_exactly_one_embargo_apart_compile(
    split_lake: SplitLake, tmp_path: Path
) -> None:
    """04-01 and 05-01 are 30 days apart: 04-01 is a validation date (04-01 + 30 <= 05-01)."""
    env = dict(split_lake.env, DBT_TARGET_PATH=str(tmp_path / "target"))
    result = with_vars(
        env,
        "compile",
        "ml_training_set",
        split_validation_start="2026-04-01",
        split_test_start="2026-05-01",
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_empty_split_test_passes_on_the_normal_build(split_lake: SplitLake) -> None:
    assert empty_split_test_statuses(split_lake.root / "target") == ["pass"]


def test_the_empty_split_test_fails_on_a_population_too_small_for_the_shares(
    split_lake: SplitLake, tmp_path: Path
) -> None:
    """Shares 0.98 / 0.01: of the 12 days of the time split, train takes ceil(0.98 * 12) = 12
    and validation ceil(0.99 * 12) - 12 = 0, leaving test none either; of each stratum of
    fewer than 40 customers, validation and test need a rank share of at least 0.98, which
    only a stratum over 50 customers has. So validation and test are empty in all three
    schemes: six failing rows, which the build must stop on."""
    database, env = copy_of(split_lake, tmp_path)
    result = run_dbt(
        env,
        "build",
        "--select",
        "ml_training_set+",
        "--store-failures",
        "--vars",
        json.dumps({"split_train_share": 0.98, "split_validation_share": 0.01}),
        check=False,
    )
    assert result.returncode != 0
    assert f"FAIL 6 {EMPTY_SPLIT_TEST}" in result.stdout, result.stdout[-4000:]
    with duckdb.connect(str(database), read_only=True) as connection:
        (table,) = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_name like '{EMPTY_SPLIT_TEST}%'"
        ).fetchone()
        failing = connection.execute(f"select split_column, split from {table}").fetchall()
        (rows,) = connection.execute("select count(*) from ml.ml_training_set").fetchone()
    assert rows > 0
    assert sorted(failing) == sorted(
        (column, split)
        for column in ("time_split", "entity_split", "time_entity_split")
        for split in ("validation", "test")
    )


def test_the_empty_split_test_passes_on_an_empty_training_set(
    split_lake: SplitLake, tmp_path: Path
) -> None:
    """As known on 2026-03-31, no label window had passed (the first as-of date, 03-02,
    closes on 04-01): no rows, nothing to split."""
    database, env = copy_of(split_lake, tmp_path)
    variables = json.dumps({"dataset_as_of": "2026-03-31"})
    run_dbt(env, "run", "--select", "ml_training_set", "--vars", variables)
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select count(*) from ml.ml_training_set").fetchone() == (0,)
    run_dbt(env, "test", "--select", f"test_name:{EMPTY_SPLIT_TEST}", "--vars", variables)
    assert empty_split_test_statuses(tmp_path / "target") == ["pass"]


def test_time_entity_split_is_a_split_only_where_time_and_entity_agree(
    split_lake: SplitLake,
) -> None:
    with duckdb.connect(str(split_lake.database), read_only=True) as connection:
        rows = connection.execute(
            "select time_split, entity_split, time_entity_split from ml.ml_training_set"
        ).fetchall()
        balance = dict(
            connection.execute(
                "select split, row_count from ml.ml_training_set_balance "
                "where split_scheme = 'time_entity'"
            ).fetchall()
        )
    expected = Counter()
    for time_split, entity_split, time_entity_split in rows:
        agreed = time_split if time_split == entity_split else "excluded"
        assert time_entity_split == agreed, (time_split, entity_split, time_entity_split)
        expected[agreed] += 1
    assert set(expected) == {"train", "validation", "test", "excluded"}
    assert balance == dict(expected)


def test_the_balance_counts_the_embargoed_rows(split_lake: SplitLake) -> None:
    """The gaps of the auto split (test_auto_time_split_leaves_an_embargo_between_splits)."""
    embargoed = days(date(2026, 3, 11), date(2026, 4, 8)) | days(
        date(2026, 4, 11), date(2026, 5, 9)
    )
    with duckdb.connect(str(split_lake.database), read_only=True) as connection:
        (rows_in_gaps,) = connection.execute(
            "select count(*) from ml.ml_training_set where as_of_date in "
            "(select unnest($dates::date[]))",
            {"dates": sorted(embargoed)},
        ).fetchone()
        (counted,) = connection.execute(
            "select row_count from ml.ml_training_set_balance "
            "where split_scheme = 'time' and split = 'embargoed'"
        ).fetchone()
    assert rows_in_gaps > 0
    assert counted == rows_in_gaps


def test_the_export_carries_the_time_entity_split(split_lake: SplitLake) -> None:
    with duckdb.connect() as connection:
        columns = [
            row[0]
            for row in connection.execute(
                "describe select * from read_parquet(?, hive_partitioning = true)",
                [str(split_lake.root / "exports" / "training_set_latest" / "**" / "*.parquet")],
            ).fetchall()
        ]
    assert {"time_split", "entity_split", "time_entity_split"} <= set(columns)
