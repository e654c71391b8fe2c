"""Source freshness: dbt's `source freshness` over the lake, as Dagster asset checks on the
raw assets (warehouse/freshness.py runs it; `make run` ends with its summary line).

One check on each lake-backed source table that has freshness thresholds (dbt's
`freshness`: warn_after, error_after), of every system: the thresholds live with the sources
in their sources YAML, so dbt and Dagster agree by construction.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from orchestration.lib.lake_sources import raw_asset_key
from orchestration.lib.retries import failures_classified
from orchestration.lib.warehouse_lock import WAREHOUSE_POOL
from orchestration.project import manifest, warehouse_lake_sources
from warehouse.freshness import source_freshness, thresholds

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
    with failures_classified():
        results = source_freshness()
    for result in results:
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
                **({"error": result.error} if result.error else {}),
            },
        )
