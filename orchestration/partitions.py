"""Daily partitions: one per lake ingest date, and how a run's partitions become dbt vars.

A partition key is an ingest date (`YYYY-MM-DD`, the `ingest_date=` folder of the lake).
A run of one partition, or of a range of them (a backfill runs as one run: the partitioned
dbt assets have `BackfillPolicy.single_run()`), passes its first and last day to dbt as
the vars `min_date` and `max_date`; the incremental models then rewrite exactly those ingest
dates, plus `lookback_days` before them (macros/ingest_window.sql).

The first partition is WAREHOUSE_FIRST_PARTITION (default 2026-01-01, the sample lake's
default start); partitions end with the last complete day (yesterday, UTC).
"""

import json
import os
from dataclasses import dataclass
from datetime import date

from dagster import AssetExecutionContext, DailyPartitionsDefinition

FIRST_PARTITION = os.environ.get("WAREHOUSE_FIRST_PARTITION", "2026-01-01")

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
        return {"min_date": self.min_date.isoformat(), "max_date": self.max_date.isoformat()}

    def dbt_args(self) -> list[str]:
        return ["--vars", json.dumps(self.dbt_vars)]

    def __str__(self) -> str:
        if self.min_date == self.max_date:
            return self.min_date.isoformat()
        return f"{self.min_date.isoformat()}..{self.max_date.isoformat()}"


def run_window(context: AssetExecutionContext) -> IngestWindow:
    """The ingest window of the partition or partition range this step materialises."""
    key_range = context.partition_key_range
    return IngestWindow.from_keys(key_range.start, key_range.end)
