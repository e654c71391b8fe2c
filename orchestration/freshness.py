"""Source freshness: dbt's `source freshness` over the lake, as Dagster asset checks on the
raw assets and as the line `make run` ends with.

One check on each lake-backed source table that has freshness thresholds (dbt's
`freshness`: warn_after, error_after), of every system: the thresholds live with the sources
in their sources YAML, so dbt and Dagster agree by construction.
"""

import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from orchestration.lib.lake_sources import raw_asset_key
from orchestration.lib.warehouse_lock import WAREHOUSE_POOL
from orchestration.project import manifest, warehouse_lake_sources
from warehouse.dbt_runner import run_dbt


@dataclass(frozen=True)
class SourceFreshness:
    unique_id: str  # source.<package>.<system>.<table>
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
            unique_id=entry["unique_id"],
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
        by_status.setdefault(result.status, []).append(result.unique_id.split(".", 2)[-1])
    return "Source freshness (dbt source freshness): " + "; ".join(
        f"{status} {', '.join(sorted(tables))}" for status, tables in sorted(by_status.items())
    )


def thresholds(freshness: Mapping[str, Any] | None) -> str:
    """dbt's freshness thresholds in words, e.g. 'warn after 2 days, error after 4 days'."""
    return ", ".join(
        f"{level} after {after['count']} {after['period']}{'s' if after['count'] != 1 else ''}"
        for level in ("warn", "error")
        if (after := (freshness or {}).get(f"{level}_after") or {}).get("count")
    )


# The lake-backed sources dbt checks the freshness of, by unique id: a source without
# thresholds has no result from `dbt source freshness`, so no check.
CHECKED = {
    source.unique_id: source
    for source in warehouse_lake_sources()
    if thresholds(manifest()["sources"][source.unique_id]["freshness"])
}


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "source_freshness",
            asset=raw_asset_key(source),
            description=(
                "A partition landed within dbt's thresholds ("
                f"{thresholds(manifest()['sources'][unique_id]['freshness'])})."
            ),
        )
        for unique_id, source in CHECKED.items()
    ],
    can_subset=True,
    # dbt opens the warehouse file to run the freshness queries: one writer at a time
    pool=WAREHOUSE_POOL,
)
def raw_source_freshness(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    for result in source_freshness():
        source = CHECKED.get(result.unique_id)
        if source is None or raw_asset_key(source) not in selected:
            continue
        yield AssetCheckResult(
            asset_key=raw_asset_key(source),
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
