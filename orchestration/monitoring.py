"""Elementary in Dagster, when the monitoring/ overlay's packages are installed.

- The dbt assets then come from the overlay's manifest (orchestration/project.py), so each
  Elementary monitor declared beside a model is an asset check on it, never blocking.
- Elementary's own models (its result and artifact tables in the `elementary` schema) are
  not business assets and are not in the graph. Its hooks need them to exist before the
  first monitored step writes into them, so every dbt step builds them first when any is
  missing (`ensure_elementary_tables` in dbt_build.py).
- `elementary_report` runs `edr report` after the models it watches and attaches where the
  HTML is and how many monitors fail.

Without the packages none of this is loaded and the code location says once why
(definitions.py).
"""

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, Failure, MaterializeResult, MetadataValue, asset

from monitoring import monitor
from orchestration.assets import translator
from orchestration.lib.dbt_build import ELEMENTARY_PACKAGE, manifest
from orchestration.lib.dbt_meta import group_owners
from orchestration.lib.retries import failures_classified
from orchestration.lib.warehouse_lock import WAREHOUSE_POOL, ensure_writable, read_only
from orchestration.project import MONITORING_ON
from warehouse.settings import WAREHOUSE_PACKAGE


def watched_models(dbt_manifest: Mapping[str, Any]) -> list[AssetKey]:
    """Asset keys of the models that carry at least one Elementary monitor."""
    nodes = dbt_manifest["nodes"]
    attached = {
        node["attached_node"]
        for node in nodes.values()
        if (node.get("test_metadata") or {}).get("namespace") == ELEMENTARY_PACKAGE
        and node.get("attached_node") in nodes
    }
    return sorted((translator.get_asset_key(nodes[uid]) for uid in attached), key=str)


LATEST_MONITOR_RESULTS = """
    select test_unique_id, status
    from elementary.elementary_test_results
    where test_type in ('anomaly_detection', 'schema_change')
    qualify row_number() over (partition by test_unique_id order by detected_at desc) = 1
"""


@asset(
    deps=watched_models(manifest()) if MONITORING_ON else [],
    # with the audit tables, whose owners dbt_project.yml declares
    group_name="monitoring",
    kinds={"elementary", "html"},
    owners=group_owners(manifest(), WAREHOUSE_PACKAGE, "monitoring"),
    pool=WAREHOUSE_POOL,
)
def elementary_report() -> MaterializeResult:
    """Elementary's HTML report (`edr report`) of the monitors' latest results: anomalies,
    schema changes and every dbt test, with charts and lineage. `make monitor` also sends
    alerts (`edr monitor`)."""
    paths = monitor.Paths.from_env()
    with failures_classified():
        ensure_writable(paths.database)  # edr's own dbt project opens the file for writing
        written = monitor.report(paths)
    if written.returncode != 0 or not paths.report.is_file():
        raise Failure(
            description=f"`edr report` did not write {paths.report}; its output is attached.",
            metadata={"edr_output": MetadataValue.text((written.stdout + written.stderr)[-4000:])},
            allow_retries=False,
        )
    with read_only(paths.database) as connection:
        latest = connection.execute(LATEST_MONITOR_RESULTS).fetchall() if connection else []
    failing = sorted(test_id.split(".")[2] for test_id, status in latest if status != "pass")
    return MaterializeResult(
        metadata={
            "report_path": MetadataValue.path(str(paths.report)),
            "monitors": len(latest),
            "failing_monitors": len(failing),
            "failing": MetadataValue.json(failing),
        }
    )


MONITORING_ASSETS = [elementary_report] if MONITORING_ON else []
