"""Running `dbt build` inside a Dagster step: lock errors, row counts, fast parsing.

Every Dagster step that runs dbt goes through `run_dbt`, which

- fails fast, with an error naming the file and the lock, when a process outside Dagster
  holds the warehouse's write lock (DuckDB allows one writer per file);
- holds dbt's events until dbt has exited, then attaches each model's row count, read over a
  read-only connection (no other process may open the file while dbt writes it, so counts
  cannot be fetched during the run);
- emits the invocation's OpenLineage events, the Dagster run as their parent
  (openlineage_events.py), and links each materialisation to its dbt run there and in the
  audit trail;
- parses little: dagster-dbt copies the partial-parse state it finds in the project's
  target folder into each step's own, and dbt re-parses only what changed since. The
  manifest is parsed in the environment the steps run with (warehouse/manifest.py), and
  each step leaves its state there for the next: the steps of one run share vars the
  prepared state lacks (Elementary's clock, the monitoring overlay's dbt_project.yml). A
  partitioned step's window goes to dbt through the environment, not as vars
  (partitions.py), so a new day does not re-parse;
- fails, when dbt does, with a Failure naming the nodes that failed and why (values
  masked), retried by the job's policy only when every failure is transient, an I/O error
  or the lock (orchestration/lib/retries.py);
- leaves unit tests out (`--exclude-resource-type unit_test`): they test SQL logic on
  fixtures, not the day's data, so they belong to CI (`make test` runs `dbt build`), not to
  every scheduled run.
"""

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource

from orchestration.lib.warehouse_lock import (
    ensure_writable,
    is_lock_error,
    locked_failure,
    read_only,
)
from orchestration.partitions import IngestWindow, window_environment
from orchestration.project import DBT_PROJECT_DIR, MONITORING_ON, manifest, warehouse_project
from warehouse import dbt_runner
from warehouse.failures import is_transient_message, without_values
from warehouse.openlineage_events import emit_dbt_lineage
from warehouse.settings import OVERLAY_DIR, REPO_ROOT, duckdb_path

# Each step's dbt artifacts (manifest, run results, compiled SQL: ~8 MB) stay under
# target/steps/ for inspection; the newest are kept, six runs' worth, not a year's.
STEP_TARGETS_KEPT = 30
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


ELEMENTARY_PACKAGE = "elementary"


def elementary_relations(dbt_manifest: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(schema, name) of every relation Elementary's own models create."""
    return {
        (node["schema"], node["alias"])
        for node in dbt_manifest["nodes"].values()
        if node["package_name"] == ELEMENTARY_PACKAGE
        and node["resource_type"] == "model"
        and node["config"].get("materialized") != "ephemeral"
    }


def missing_elementary_relations(database: Path) -> set[tuple[str, str]]:
    expected = elementary_relations(manifest())
    with read_only(database) as connection:
        if connection is None:  # a writer outside Dagster: the step's own check reports it
            return set()
        present = set(
            connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        )
    return expected - present


def ensure_elementary_tables(database: Path) -> None:
    """Build Elementary's models once, before the first monitored dbt step of a warehouse."""
    if not MONITORING_ON or not missing_elementary_relations(database):
        return
    result = dbt_runner.run_dbt(
        [
            "run",
            "--select",
            f"package:{ELEMENTARY_PACKAGE}",
            "--target-path",
            str(target_root() / "elementary-setup"),
        ],
        project_dir=OVERLAY_DIR,
    )
    if result.returncode != 0:
        raise Failure(
            description=(
                "Elementary's tables could not be created (`dbt run --select "
                f"package:{ELEMENTARY_PACKAGE}` in {OVERLAY_DIR} failed). Its output is "
                "attached; set WAREHOUSE_MONITORING=off to run the warehouse without it."
            ),
            metadata={"dbt_output": MetadataValue.text((result.stdout + result.stderr)[-4000:])},
            allow_retries=False,
        )


def target_root() -> Path:
    """Where dbt's per-invocation target folders go (DBT_TARGET_PATH, default target/)."""
    root = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return root if root.is_absolute() else REPO_ROOT / root


def _leave_parse_state(step_target: Path) -> None:
    """This step's partial-parse state, where dagster-dbt copies it from into the next
    step's target folder (DBT_TARGET_PATH, relative to the dbt project)."""
    produced = step_target / PARTIAL_PARSE_FILE
    if not produced.exists():
        return
    shared = Path(warehouse_project.project_dir) / os.environ.get("DBT_TARGET_PATH", "target")
    staged = shared / f".{PARTIAL_PARSE_FILE}.{uuid.uuid4().hex}"
    shutil.copy2(produced, staged)
    os.replace(staged, shared / PARTIAL_PARSE_FILE)  # steps running at once never mix files


def _keep_newest(folder: Path, count: int) -> None:
    """Remove all but the `count` most recently modified entries of `folder`."""
    if not folder.is_dir():
        return
    entries = sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime)
    for stale in entries[:-count]:
        shutil.rmtree(stale, ignore_errors=True)


def monitoring_clock(context: AssetExecutionContext | OpExecutionContext) -> str | None:
    """Elementary's "now" for this run: the morning after the last ingest date the run
    covers, so a backfill of past days is judged as those days' own runs would have been
    (`make monitor` does the same, monitoring/monitor.py). None, the real clock, for runs
    without partitions or without monitoring."""
    tags = context.run.tags
    last = tags.get("dagster/asset_partition_range_end") or tags.get("dagster/partition")
    if not MONITORING_ON or not last:
        return None
    return (date.fromisoformat(last) + timedelta(days=1)).isoformat() + "T00:00:00"


@contextmanager
def _environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """Set these variables for the dbt process started inside, unless the user set them."""
    added = [name for name, value in variables.items() if value and name not in os.environ]
    for name in added:
        os.environ[name] = str(variables[name])
    try:
        yield
    finally:
        for name in added:
            del os.environ[name]


def _relations(
    context: AssetExecutionContext | OpExecutionContext, keys: set[AssetKey]
) -> dict[AssetKey, str]:
    """The warehouse relation (`"schema"."table"`) behind each asset key."""
    nodes = manifest()["nodes"]
    relations = {}
    for key in keys:
        unique_id = context.assets_def.get_asset_spec(key).metadata.get("dagster_dbt/unique_id")
        node = nodes.get(unique_id or "")
        if node is not None:
            relations[key] = f'"{node["schema"]}"."{node["alias"]}"'
    return relations


def row_counts(database: Path, relations: Mapping[AssetKey, str]) -> dict[AssetKey, int]:
    """Rows of each relation; read once dbt has exited and released the write lock."""
    counts: dict[AssetKey, int] = {}
    with read_only(database) as connection:
        if connection is None:
            return counts
        for key, relation in relations.items():
            try:
                (rows,) = connection.execute(f"select count(*) from {relation}").fetchone()
            except Exception:  # a skipped model, a view over files that are gone, ...
                continue
            counts[key] = int(rows)
    return counts


def run_dbt(
    context: AssetExecutionContext | OpExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    *,
    indirect_selection: str | None = None,
    translator: DagsterDbtTranslator | None = None,
    metadata: Mapping[str, Any] | None = None,
    window: IngestWindow | None = None,
) -> Iterator[Any]:
    """Run a dbt command for this step and yield its Dagster events (see the module doc).

    `window` is the ingest window of a partitioned step; without one, dbt builds everything.

    `indirect_selection` "buildable" keeps dbt from running, in this step, tests that also
    read models of a later step (dbt's default, eager, runs every test that touches a
    selected node: the seeds' step would run staging's relationship tests before staging
    exists).
    """
    database = duckdb_path()
    ensure_writable(database)
    ensure_elementary_tables(database)
    args = [*args, "--exclude-resource-type", "unit_test"]
    _keep_newest(target_root() / "steps", STEP_TARGETS_KEPT)
    target_path = (
        target_root()
        / "steps"
        / f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    )
    extra: dict[str, Any] = {}
    if translator is not None:
        extra = {"manifest": warehouse_project.manifest_path, "dagster_dbt_translator": translator}
    step_environment = {
        "DBT_INDIRECT_SELECTION": indirect_selection,
        "WAREHOUSE_MONITORING_CLOCK": monitoring_clock(context),
        # recorded with each node in the audit trail (macros/record_run_results.sql)
        "DAGSTER_RUN_ID": context.run.run_id,
        "WAREHOUSE_RUN_BY": f"dagster job {context.run.job_name}",
    }
    with _environment(step_environment), window_environment(window):
        invocation = dbt.cli(
            args, context=context, raise_on_error=False, target_path=target_path, **extra
        )
    events = list(invocation.stream())
    error = invocation.get_error()
    _leave_parse_state(target_path)
    if error is not None and is_lock_error(str(error)):
        raise locked_failure(database, str(error))
    lineage = emit_dbt_lineage(
        DBT_PROJECT_DIR,
        invocation.target_path,
        succeeded=error is None,
        parent_run_id=context.run.run_id,
        parent_job_name=context.run.job_name,
        job_name=f"{context.run.job_name}.{context.op_execution_context.op.name}",
        log=context.log,
    )

    outputs = [event for event in events if isinstance(event, Output)]
    counts: dict[AssetKey, int] = {}
    if outputs:
        keys = {context.asset_key_for_output(event.output_name) for event in outputs}
        counts = row_counts(database, _relations(context, keys))
    audit = {**audit_trail_metadata(invocation.target_path), **lineage}
    for event in events:
        if isinstance(event, Output):
            key = context.asset_key_for_output(event.output_name)
            added = {**audit, **(metadata or {})}
            if key in counts:
                added["dagster/row_count"] = MetadataValue.int(counts[key])
            yield event.with_metadata({**event.metadata, **added})
        else:
            yield event
    if error is not None and not _only_checks_failed(context, invocation.target_path):
        raise dbt_failure(invocation.target_path, error)
    if error is not None:
        # Only tests that are this step's asset checks failed: Dagster fails the step for
        # the blocking ones (severity error), naming them, and skips what depends on them;
        # dbt has already skipped the models downstream of them in this step.
        context.log.warning("dbt build: tests failed (see this step's asset checks)")


FAILED_STATUSES = {"error", "fail", "runtime error"}


def failed_nodes(target_path: Path) -> list[tuple[str, str]]:
    """(name, message) of each node that errored or failed in the invocation's
    run_results.json; none when dbt stopped before running any (a parse error)."""
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, KeyError, ValueError):
        return []
    return [
        (result["unique_id"].split(".")[2], " ".join(str(result.get("message") or "").split()))
        for result in results
        if result["status"] in FAILED_STATUSES
    ]


def dbt_failure(target_path: Path, error: Exception) -> Failure:
    """A failed dbt invocation as a Failure naming the nodes that failed and why (values
    masked): transient, so retried, only when every failure is (warehouse/failures.py)."""
    failed = failed_nodes(target_path)
    messages = [message for _, message in failed] or [str(error)]
    transient = all(is_transient_message(message) for message in messages)
    verdict = (
        "transient: retried with backoff"
        if transient
        else "not transient: not retried; fix the cause and re-execute the run"
    )
    lines = [f"- {name}: {without_values(message, 500)}" for name, message in failed] or [
        without_values(str(error))
    ]
    return Failure(
        description=f"dbt failed ({verdict}):\n" + "\n".join(lines),
        metadata={
            "models": MetadataValue.json([name for name, _ in failed]),
            "transient": MetadataValue.bool(transient),
            "dbt_target": MetadataValue.path(str(target_path)),
        },
        allow_retries=transient,
    )


def audit_trail_metadata(target_path: Path) -> dict[str, Any]:
    """The dbt invocation behind a materialisation, and how to find it in the audit trail."""
    try:
        results = json.loads((target_path / "run_results.json").read_text())
        invocation_id = results["metadata"]["invocation_id"]
    except (OSError, KeyError, ValueError):
        return {}
    return {
        "dbt_invocation_id": invocation_id,
        "audit_trail": MetadataValue.md(
            f"`select * from audit.dbt_run_results where invocation_id = '{invocation_id}'`"
        ),
    }


def _only_checks_failed(
    context: AssetExecutionContext | OpExecutionContext, target_path: Path
) -> bool:
    """True when every failure in dbt's run_results.json is a test that ran and failed and
    is an asset check of this step (not a model error, nor a test that could not run)."""
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
        checks = {
            spec.metadata.get("dagster_dbt/unique_id") for spec in context.assets_def.check_specs
        }
    except Exception:  # no results, or a plain op without assets
        return False
    failures = [r for r in results if r["status"] not in {"success", "pass", "warn", "skipped"}]
    return bool(failures) and all(
        r["status"] == "fail" and r["unique_id"] in checks for r in failures
    )
