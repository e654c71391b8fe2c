"""Source freshness: dbt's `source freshness` over the lake, as Dagster asset checks on the
raw assets and as the line `make run` ends with.

The thresholds live with the sources in models/staging/shop/_shop__sources.yml (warn after
two days without a partition, error after four), so dbt and Dagster agree by construction.
"""

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from orchestration.lib.warehouse_lock import WAREHOUSE_POOL
from warehouse.dbt_runner import run_dbt

SOURCE_NAME = "shop"
TABLES = ("customers", "products", "orders", "order_items", "events")


@dataclass(frozen=True)
class SourceFreshness:
    table: str
    status: str  # pass, warn, error or runtime error
    max_loaded_at: str | None
    age_hours: float | None


def source_freshness() -> list[SourceFreshness]:
    """Run `dbt source freshness` and read its sources.json."""
    with tempfile.TemporaryDirectory(prefix="source-freshness-") as target:
        result = run_dbt(["source", "freshness", "--quiet", "--target-path", target])
        sources = Path(target) / "sources.json"
        if not sources.exists():
            raise RuntimeError(
                f"`dbt source freshness` did not run:\n{result.stdout}{result.stderr}"
            )
        results = json.loads(sources.read_text())["results"]
    return [
        SourceFreshness(
            table=entry["unique_id"].rsplit(".", 1)[-1],
            status=entry["status"],
            max_loaded_at=entry.get("max_loaded_at"),
            age_hours=(
                round(entry["max_loaded_at_time_ago_in_s"] / 3600, 1)
                if entry.get("max_loaded_at_time_ago_in_s") is not None
                else None
            ),
        )
        for entry in results
    ]


def summary_line(results: list[SourceFreshness]) -> str:
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result.status, []).append(result.table)
    return "Source freshness (dbt source freshness): " + "; ".join(
        f"{status} {', '.join(sorted(tables))}" for status, tables in sorted(by_status.items())
    )


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey(["raw", SOURCE_NAME, table])


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "source_freshness",
            asset=raw_asset_key(table),
            description="A partition landed within dbt's thresholds (warn 2, error 4 days).",
        )
        for table in TABLES
    ],
    can_subset=True,
    # dbt opens the warehouse file to run the freshness queries: one writer at a time
    pool=WAREHOUSE_POOL,
)
def raw_source_freshness(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    for result in source_freshness():
        key = raw_asset_key(result.table)
        if key not in selected:
            continue
        yield AssetCheckResult(
            asset_key=key,
            check_name="source_freshness",
            passed=result.status == "pass",
            severity=(
                AssetCheckSeverity.WARN if result.status == "warn" else AssetCheckSeverity.ERROR
            ),
            metadata={
                "status": result.status,
                "newest_partition": result.max_loaded_at or "none",
                "age_hours": result.age_hours if result.age_hours is not None else -1.0,
            },
        )
