"""Daily partitions: one per lake ingest date, and how a run's partitions reach dbt.

A partition key is an ingest date (`YYYY-MM-DD`, the `ingest_date=` folder of the lake).
A run of one partition, or of a range of them (a backfill runs as one run: the partitioned
dbt assets have `BackfillPolicy.single_run()`), passes its first and last day to dbt as
its window (the environment variables WAREHOUSE_WINDOW_MIN_DATE and _MAX_DATE, which dbt
reads as the vars `min_date` and `max_date`); the incremental models then rewrite exactly
those ingest dates, plus `lookback_days` before them (macros/ingest_window.sql). Not as
`--vars`: dbt re-parses the whole project whenever its vars change, and each day's window
is new.

Partitions start at the lake's first ingest date and end with the last complete day
(yesterday, UTC); `first_partition` says how the start is found.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from dagster import AssetExecutionContext, DailyPartitionsDefinition

from orchestration.lib.lake_sources import first_ingest_date
from orchestration.project import warehouse_lake_sources
from warehouse.settings import lake_dir

FIRST_PARTITION_VARIABLE = "WAREHOUSE_FIRST_PARTITION"
# When neither the variable nor the lake gives one (the sample lake's default start).
DEFAULT_FIRST_PARTITION = "2026-01-01"


def first_partition(env: Mapping[str, str] = os.environ) -> str:
    """The first daily partition: WAREHOUSE_FIRST_PARTITION when set; otherwise the lake's
    first ingest date, the earliest `ingest_date=` folder holding a Parquet file of any
    lake-backed source, read when the definitions load; otherwise, when the lake is empty or
    does not exist yet (a fresh checkout), DEFAULT_FIRST_PARTITION: the definitions load
    before anything has landed, and load again with the lake's start once something has."""
    if env.get(FIRST_PARTITION_VARIABLE):
        return env[FIRST_PARTITION_VARIABLE]
    first = first_ingest_date(warehouse_lake_sources(), lake_dir(env))
    return first.isoformat() if first else DEFAULT_FIRST_PARTITION


FIRST_PARTITION = first_partition()

daily_partitions = DailyPartitionsDefinition(
    start_date=FIRST_PARTITION, timezone="UTC", fmt="%Y-%m-%d", end_offset=0
)


@dataclass(frozen=True)
class IngestWindow:
    """The ingest dates a run covers, first and last inclusive."""

    min_date: date
    max_date: date

    @classmethod
    def from_keys(cls, first: str, last: str) -> "IngestWindow":
        window = cls(date.fromisoformat(first), date.fromisoformat(last))
        if window.min_date > window.max_date:
            raise ValueError(f"partition range {first}..{last} ends before it starts")
        return window

    @property
    def dbt_vars(self) -> dict[str, str]:
        """The window as the dbt vars it stands for (recorded with each materialisation)."""
        return {"min_date": self.min_date.isoformat(), "max_date": self.max_date.isoformat()}

    def environment(self) -> dict[str, str]:
        return {f"WAREHOUSE_WINDOW_{name.upper()}": day for name, day in self.dbt_vars.items()}

    def __str__(self) -> str:
        if self.min_date == self.max_date:
            return self.min_date.isoformat()
        return f"{self.min_date.isoformat()}..{self.max_date.isoformat()}"


WINDOW_VARIABLES = ("WAREHOUSE_WINDOW_MIN_DATE", "WAREHOUSE_WINDOW_MAX_DATE")


@contextmanager
def window_environment(window: IngestWindow | None) -> Iterator[None]:
    """The dbt processes started inside get `window` (None: no window, a build of
    everything), whatever this process's environment held: a variable left in the shell
    that started Dagster must not narrow an unpartitioned step."""
    saved = {name: os.environ.pop(name, None) for name in WINDOW_VARIABLES}
    os.environ.update(window.environment() if window else {})
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def run_window(context: AssetExecutionContext) -> IngestWindow:
    """The ingest window of the partition or partition range this step materialises."""
    key_range = context.partition_key_range
    return IngestWindow.from_keys(key_range.start, key_range.end)
