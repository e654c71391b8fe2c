"""What has landed of the lake's feeds, for the lake sensor and the first daily partition.

The feeds are the lake-backed source tables of the dbt manifest, of every system
(warehouse/lake_sources.py reads them from the sources YAML's meta.lake); each lands
`ingest_date=YYYY-MM-DD` partition folders under its folder of the lake.

The sensor's rule (`ready_days`): a day is ready when every lake-backed source that
delivered a partition in the `lake_active_within_days` days before it has landed that day
too. A source with no delivery yet never holds a day back, and joins from its first
delivery; one that stopped holds back the days within that many days of its last delivery,
then no longer (its freshness check says it stopped).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

from dagster import AssetKey

from warehouse.lake_inventory import latest_partition_date, partition_date
from warehouse.lake_sources import LakeSource


def raw_asset_key(source: LakeSource) -> AssetKey:
    """The feed's raw asset, `raw/<system>/<table>`: the translator's key for a dbt source."""
    return AssetKey(["raw", source.system, source.table])


def landed_dates(folder: Path) -> set[date]:
    """Ingest dates with a partition folder (a real date, not after the latest partition date
    a run reads) holding at least one Parquet file."""
    if not folder.is_dir():
        return set()
    latest = latest_partition_date()
    # a folder not named for a day is not a partition, and one dated in the future is held:
    # the inventory quarantines their files
    return {
        landed
        for path in folder.iterdir()
        if (day := partition_date(path.name)) is not None
        and (landed := date.fromisoformat(day)) <= latest
        and any(path.glob("*.parquet"))
    }


def ready_days(landed: Mapping[LakeSource, set[date]]) -> list[date]:
    """The days, oldest first, that some source landed and every source expected that day
    landed too: expected when it delivered in the `active_within_days` days before it."""
    delivered = {source: sorted(days) for source, days in landed.items()}

    def expected(source: LakeSource, day: date) -> bool:
        days = delivered[source]
        before = bisect_left(days, day)  # days[before - 1]: its last delivery before `day`
        return before > 0 and days[before - 1] >= day - timedelta(source.active_within_days)

    return [
        day
        for day in sorted(set().union(*landed.values()))
        if all(day in landed[source] for source in landed if expected(source, day))
    ]


def first_ingest_date(sources: Iterable[LakeSource], lake_root: Path) -> date | None:
    """The earliest day any lake-backed source landed, or None when nothing has."""
    return min(
        (day for source in sources for day in landed_dates(source.folder(lake_root))),
        default=None,
    )
