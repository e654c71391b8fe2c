"""OpenLineage events for every dbt invocation Dagster runs (openlineage-dbt).

After each dbt step, openlineage-dbt's artifact processor (what its `dbt-ol` wrapper runs
once dbt has exited) reads the step's manifest.json and run_results.json and makes

- a START and a COMPLETE (or FAIL) event for the dbt invocation, whose parent run is the
  Dagster run (job name and run id), so a lineage backend nests dbt under Dagster;
- a START and a COMPLETE (or FAIL) event for each model and snapshot, naming its input
  and output datasets with their schema facets (from the YAML column docs), its SQL and,
  where openlineage-sql can parse the compiled SQL, column lineage;
- data-quality assertion facets for the tests that ran.

Where they go is OpenLineage's own configuration: OPENLINEAGE_URL (Marquez, DataHub, ...),
OPENLINEAGE_CONFIG or an openlineage.yml, OPENLINEAGE__TRANSPORT__* variables, or
OPENLINEAGE_DISABLED=true. With none of it they are appended, one JSON event a line, to
data/lineage/openlineage_events.jsonl (WAREHOUSE_LINEAGE_EVENTS moves the file).
"""

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openlineage.client.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.common.provider.dbt import DbtLocalArtifactProcessor, ParentRunMetadata
from openlineage.common.provider.dbt.processor import ModelNode
from openlineage.common.provider.dbt.utils import PRODUCER
from openlineage.dbt import dbt_run_event_end, dbt_run_event_failed, dbt_run_event_start

from warehouse.settings import data_dir

LOGGER = logging.getLogger("warehouse.openlineage_events")


class _QuietTestsOnSnapshots(logging.Filter):
    """openlineage-dbt 1.54 attaches test results to models, sources and seeds only, and
    for each test of a snapshot warns with the whole manifest node (kilobytes of JSON a
    test, every run). Those tests are Dagster asset checks and rows of the audit trail;
    their absence from the data-quality facets is documented, not repeated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Model node connected to test")


LOGGER.addFilter(_QuietTestsOnSnapshots())
# Jobs of this warehouse's dbt runs and of the Dagster runs that start them.
DBT_NAMESPACE = os.environ.get("OPENLINEAGE_NAMESPACE", "ml_warehouse")
DAGSTER_NAMESPACE = "dagster"


def events_file() -> Path:
    default = data_dir() / "lineage" / "openlineage_events.jsonl"
    return Path(os.environ.get("WAREHOUSE_LINEAGE_EVENTS", default)).resolve()


def configured_by_user() -> bool:
    """True when any of OpenLineage's own settings is present (its client reads them)."""
    config_files = (Path("openlineage.yml"), Path.home() / ".openlineage" / "openlineage.yml")
    return any(
        name in {"OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"}
        or name.startswith("OPENLINEAGE__")
        for name in os.environ
    ) or any(path.is_file() for path in config_files)


def lineage_client() -> OpenLineageClient:
    if configured_by_user():
        return OpenLineageClient()
    events_file().parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(events_file()), append=True))
    )


def _add_missing_inputs(processor: DbtLocalArtifactProcessor, events: list[RunEvent]) -> None:
    """Name seeds and snapshots among a model's inputs.

    openlineage-dbt 1.54 takes a node's inputs from models and sources only, so a model
    reading a seed or a snapshot would lose that input; it is added here the way the
    processor describes any other input dataset."""
    manifest = processor.manifest
    for event in events:
        node_facet = event.job.facets.get("dbt_node") if event.job.facets else None
        unique_id = getattr(node_facet, "unique_id", None)
        node = manifest["nodes"].get(unique_id or "")
        if node is None or not event.outputs:
            continue
        named = {(dataset.namespace, dataset.name) for dataset in event.inputs or []}
        added = []
        for parent_id in node["depends_on"]["nodes"]:
            if not parent_id.startswith(("seed.", "snapshot.")):
                continue
            dataset = processor.node_to_dataset(
                ModelNode(type=parent_id.split(".")[0], metadata_node=manifest["nodes"][parent_id]),
                has_facets=True,
            )
            if (dataset.namespace, dataset.name) not in named:
                added.append(dataset)
        if added:
            event.inputs = [*(event.inputs or []), *added]


def dbt_lineage_events(
    project_dir: Path,
    target_path: Path,
    *,
    succeeded: bool,
    parent: ParentRunMetadata | None = None,
    job_name: str | None = None,
) -> list[RunEvent]:
    """The OpenLineage events of the dbt invocation whose artifacts are in target_path."""
    processor = DbtLocalArtifactProcessor(
        producer=PRODUCER,
        project_dir=str(project_dir),
        target_path=str(target_path),
        job_namespace=DBT_NAMESPACE,
        logger=LOGGER,
        openlineage_job_name=job_name,
    )
    start = dbt_run_event_start(
        job_name=processor.job_name, job_namespace=DBT_NAMESPACE, parent_run_metadata=parent
    )
    root = parent or ParentRunMetadata(
        run_id=start.run.runId, job_name=start.job.name, job_namespace=start.job.namespace
    )
    # the dbt invocation is the parent of each node's run; the Dagster run is their root
    processor.dbt_run_metadata = ParentRunMetadata(
        run_id=start.run.runId,
        job_name=start.job.name,
        job_namespace=start.job.namespace,
        root_parent_run_id=root.run_id,
        root_parent_job_name=root.job_name,
        root_parent_job_namespace=root.job_namespace,
    )
    node_events = list(processor.parse().events())
    _add_missing_inputs(processor, node_events)
    end = dbt_run_event_end if succeeded else dbt_run_event_failed
    terminal = end(
        run_id=start.run.runId,
        job_namespace=start.job.namespace,
        job_name=start.job.name,
        parent_run_metadata=parent,
    )
    return [start, *node_events, terminal]


def emit_dbt_lineage(
    project_dir: Path,
    target_path: Path,
    *,
    succeeded: bool,
    parent_run_id: str,
    parent_job_name: str,
    job_name: str,
    log: logging.Logger | Any = LOGGER,
) -> Mapping[str, str]:
    """Emit a dbt step's OpenLineage events, the Dagster run as their parent; returns the
    dbt run's OpenLineage run id and job.

    Lineage is a record of the build, not part of it: a failure here is logged as a
    warning and never fails the step."""
    parent = ParentRunMetadata(
        run_id=parent_run_id, job_name=parent_job_name, job_namespace=DAGSTER_NAMESPACE
    )
    try:
        events = dbt_lineage_events(
            project_dir, target_path, succeeded=succeeded, parent=parent, job_name=job_name
        )
        client = lineage_client()
        for event in events:
            client.emit(event)
        client.close(timeout=30)
    except Exception as error:  # see the docstring: lineage never fails a build
        log.warning(f"OpenLineage events for {target_path} were not emitted: {error!r}")
        return {}
    return {
        "openlineage_run_id": events[0].run.runId,
        "openlineage_job": f"{events[0].job.namespace}/{events[0].job.name}",
    }
