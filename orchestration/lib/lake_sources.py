"""What has landed of the lake's feeds, for the raw assets and the lake sensor.

The feeds are the lake-backed source tables of the dbt manifest, of every system
(warehouse/lake_sources.py reads them from the sources YAML's meta.lake); each lands
`ingest_date=YYYY-MM-DD` partition folders under its folder of the lake.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import AssetKey

from warehouse.lake_sources import LakeSource

PARTITION_PREFIX = "ingest_date="


def raw_asset_key(source: LakeSource) -> AssetKey:
    """The feed's raw asset, `raw/<system>/<table>`: the translator's key for a dbt source."""
    return AssetKey(["raw", source.system, source.table])


def landed_dates(folder: Path) -> set[date]:
    """Ingest dates with a partition folder (a real date) holding at least one Parquet file."""
    if not folder.is_dir():
        return set()
    landed = set()
    for path in folder.iterdir():
        if not path.name.startswith(PARTITION_PREFIX) or not any(path.glob("*.parquet")):
            continue
        try:
            landed.add(date.fromisoformat(path.name.removeprefix(PARTITION_PREFIX)))
        except ValueError:
            continue  # not a partition: the inventory quarantines what is in it
    return landed
