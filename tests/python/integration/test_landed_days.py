"""No run skips a landed day: partitions landed = processed.

A file that lands in a day already staged (late, or re-delivered), outside the lookback of
an incremental run, is staged by the next run without a window; a run whose window cannot
reach it fails, naming the day, instead of passing with the day's rows missing. The
expected rows are the ones this test lands, counted by hand."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

LAKE = {"seed": 5, "customers": 300, "start_date": "2026-03-01", "days": 6, "plan_days": 10}
FIRST_DAY, LAST_DAY = "2026-03-01", "2026-03-06"
SELECTION = ("--select", "+stg_shop__events", "--indirect-selection", "cautious")
LATE_ROWS = 5


def generate(lake: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "generator", "generate", f"--seed={LAKE['seed']}",
         f"--customers={LAKE['customers']}", f"--start-date={LAKE['start_date']}",
         f"--days={LAKE['days']}", f"--plan-days={LAKE['plan_days']}", f"--out={lake}"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip


def land_late_events(lake: Path, name: str, prefix: str) -> list[str]:
    """LATE_ROWS new events in a second file of the first day; returns their ids."""
    folder = lake / "events" / f"ingest_date={FIRST_DAY}"
    rows = pq.read_table(folder / "part-0.parquet").slice(0, LATE_ROWS)
    ids = [f"{prefix}-{n}" for n in range(LATE_ROWS)]
    index = rows.schema.get_field_index("event_id")
    rows = rows.set_column(index, "event_id", pa.array(ids, rows.schema.field("event_id").type))
    pq.write_table(rows, folder / name)
    return ids


def first_day_accounting(database: Path) -> tuple:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select rows_landed, rows_kept, unaccounted_rows, files_accounted"
            " from audit.row_count_reconciliation"
            f" where source_name = 'events' and ingest_date = date '{FIRST_DAY}'"
        ).fetchone()


def staged_ids(database: Path, ids: list[str]) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return sorted(
            row[0]
            for row in connection.execute(
                "select event_id from staging.stg_shop__events where event_id in ?", [ids]
            ).fetchall()
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("landed_days")
    generate(root / "lake")
    env = warehouse_env(root)
    run_dbt(env, "build", *SELECTION)
    return root, env


def test_a_late_file_in_an_old_day_is_staged_by_the_next_run(built) -> None:
    root, env = built
    database = root / "warehouse.duckdb"
    landed, kept, unaccounted, files = first_day_accounting(database)
    assert (unaccounted, files) == (0, 1)

    ids = land_late_events(root / "lake", "late.parquet", "LATE")
    # The newest day staged is LAST_DAY, so the lookback (2 days) does not reach FIRST_DAY.
    result = run_dbt(env, "build", *SELECTION)
    assert f"rewriting from {FIRST_DAY}" in result.stdout

    assert staged_ids(database, ids) == ids
    assert first_day_accounting(database) == (landed + LATE_ROWS, kept + LATE_ROWS, 0, 2)


def test_a_window_that_cannot_reach_a_landed_day_fails_naming_it(built) -> None:
    root, env = built
    database = root / "warehouse.duckdb"
    ids = land_late_events(root / "lake", "later.parquet", "LATER")
    window = {"WAREHOUSE_WINDOW_MIN_DATE": LAST_DAY, "WAREHOUSE_WINDOW_MAX_DATE": LAST_DAY}

    result = run_dbt({**env, **window}, "build", *SELECTION, check=False)
    assert result.returncode != 0
    assert (
        f"landed days of shop.events are not staged (partitions landed <> processed): {FIRST_DAY}"
        in (result.stdout)
    )
    assert staged_ids(database, ids) == []

    run_dbt(env, "build", *SELECTION)  # without a window, as the error says
    assert staged_ids(database, ids) == ids
    assert first_day_accounting(database)[2:] == (0, 3)
