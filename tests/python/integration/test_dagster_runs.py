"""Dagster runs against a real warehouse: daily partitions and the weekly release, a backfill
as one run, blocking checks, and a second writer refused.

One small lake of 36 days is built by dbt up to day 33 (the fixture); each test works on its
own copy of that warehouse and runs Dagster in process on the last three days.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import run_dbt, run_generator, warehouse_env
from dagster import AssetKey, DagsterInstance, materialize
from dagster_dbt.utils import select_unique_ids
from openlineage_validation import run_event

from orchestration.assets import DBT_ASSETS, partitioned_models
from orchestration.definitions import defs
from orchestration.jobs import DAILY_SELECTOR, RELEASE_SELECTOR
from orchestration.lib import dbt_build
from orchestration.resources import dbt_resource
from warehouse import openlineage_events
from warehouse.fingerprint import fingerprint
from warehouse.settings import WAREHOUSE_PACKAGE

START = "2026-03-01"
# 2026-03-01 .. 2026-06-05, built by dbt in the fixture: long enough for the training set's
# embargoed time split (models/ml/ml_training_set.sql), which the release refuses to leave empty
BUILT_DAYS = 97
DAYS = ["2026-06-06", "2026-06-07", "2026-06-08"]  # landed, left to Dagster
SOURCES = ("customers", "products", "orders", "order_items", "events")
MANIFEST = dbt_build.manifest()
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class Base:
    root: Path
    lake: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """A warehouse built by dbt from the first 33 days; the lake holds 3 more."""
    root = tmp_path_factory.mktemp("dagster_base")
    lake = root / "lake"
    (root / "exports").mkdir()
    run_generator(
        "generate",
        "--seed=11",
        "--customers=150",
        f"--start-date={START}",
        f"--days={BUILT_DAYS}",
        f"--plan-days={BUILT_DAYS + len(DAYS)}",
        f"--out={lake}",
    )
    run_dbt(warehouse_env(root), "build", "--exclude-resource-type", "unit_test")
    run_generator("append", f"--out={lake}", f"--days={len(DAYS)}")
    return Base(root=root, lake=lake)


@pytest.fixture
def warehouse(base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the base warehouse, with this process's environment pointing at it (the
    dbt processes Dagster starts inherit it)."""
    root = tmp_path / "copy"
    (root / "exports").mkdir(parents=True)
    shutil.copy(base.root / "warehouse.duckdb", root / "warehouse.duckdb")
    env = warehouse_env(root)
    env["WAREHOUSE_LAKE_DIR"] = str(base.lake)
    for name, value in env.items():
        if name.startswith(("WAREHOUSE_", "DBT_")):
            monkeypatch.setenv(name, value)
    yield root / "warehouse.duckdb"


def key(name: str) -> AssetKey:
    return next(
        spec.key
        for assets_def in DBT_ASSETS
        for spec in assets_def.specs
        if spec.key.path[-1] == name
    )


def partitioned_tables() -> list[str]:
    nodes = MANIFEST["nodes"]
    return sorted(
        f'"{nodes[spec.metadata["dagster_dbt/unique_id"]]["schema"]}".'
        f'"{nodes[spec.metadata["dagster_dbt/unique_id"]]["alias"]}"'
        for spec in partitioned_models.specs
    )


def fingerprints(database: Path) -> dict[str, str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {table: fingerprint(connection, table) for table in partitioned_tables()}


def daily_job():
    return defs.resolve_job_def("daily_warehouse_build")


def failure_messages(result) -> str:
    return "\n".join(
        str(event.step_failure_data.error) for event in result.all_events if event.is_step_failure
    )


def run_partitioned_models(instance: DagsterInstance, first: str, last: str):
    """The partitioned set alone, for one day or a range of days (one run)."""
    tags = {RANGE_START: first, RANGE_END: last} if first != last else {}
    return materialize(
        [partitioned_models],
        partition_key=first if first == last else None,
        tags=tags,
        resources={"dbt": dbt_resource},
        instance=instance,
        raise_on_error=False,
    )


def built_models(unique_ids: set[str]) -> set[str]:
    """The models and snapshots among `unique_ids`: what OpenLineage reports as built."""
    return {
        uid
        for uid in unique_ids
        if MANIFEST["nodes"][uid]["resource_type"] in {"model", "snapshot"}
        and MANIFEST["nodes"][uid]["config"]["materialized"] != "ephemeral"
    }


def selected_by(selector: str) -> set[str]:
    """Unique ids of the warehouse's seeds, models and snapshots a dbt selector names."""
    return {
        uid
        for uid in select_unique_ids(
            select="", exclude="", selector=selector, project=None, manifest_json=MANIFEST
        )
        if uid.split(".")[0] in {"model", "seed", "snapshot"}
        and MANIFEST["nodes"][uid]["package_name"] == WAREHOUSE_PACKAGE
    }


@pytest.mark.slow
def test_two_daily_partitions_then_a_release_build_everything_and_pass_every_check(warehouse, base):
    instance = DagsterInstance.ephemeral()
    job = daily_job()
    every_check = {
        (check.asset_key, check.name)
        for assets_def in DBT_ASSETS
        for check in assets_def.check_keys
    }
    daily_checks = {
        (check.asset_key, check.name) for check in job.asset_layer.asset_graph.asset_check_keys
    }
    release_models = selected_by(RELEASE_SELECTOR)
    assert release_models and release_models.isdisjoint(selected_by(DAILY_SELECTOR))
    run_ids = []
    for day in DAYS[:2]:
        result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
        assert result.success, failure_messages(result)
        run_ids.append(result.run_id)
        evaluations = result.get_asset_check_evaluations()
        failed = [(e.asset_key.path[-1], e.check_name) for e in evaluations if not e.passed]
        assert not failed
        # every dbt test of the daily selection ran, as a check of its model, including tests
        # that read another set's models (relationships to a seed, fct_orders to dim_customers)
        assert {(e.asset_key, e.check_name) for e in evaluations} == daily_checks
        built = {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}
        assert "ml_customer_features" in built and "ml_training_set" not in built
        assert "dataset_publication" not in built

    # the weekly release: the training set from the whole history, the registry, and the
    # publication; with the daily runs, every dbt test ran
    released = defs.resolve_job_def("dataset_release").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert released.success, failure_messages(released)
    evaluations = released.get_asset_check_evaluations()
    assert all(e.passed for e in evaluations)
    assert {(e.asset_key, e.check_name) for e in evaluations} | daily_checks == every_check
    run_ids.append(released.run_id)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        staged_days = {
            str(row[0])
            for row in connection.execute(
                "select distinct _ingest_date from staging.stg_shop__orders"
            ).fetchall()
        }
        assert {DAYS[0], DAYS[1]} <= staged_days and DAYS[2] not in staged_days
        landed = dict(
            (((source, str(day)), rows))
            for source, day, rows in connection.execute(
                """
                select source_name, ingest_date, rows_landed from audit.row_count_reconciliation
                """
            ).fetchall()
        )
        (unaccounted,) = connection.execute(
            "select sum(abs(unaccounted_rows)) from audit.row_count_reconciliation"
        ).fetchone()
        (stg_rows,) = connection.execute("select count(*) from staging.stg_shop__orders").fetchone()
    assert unaccounted == 0
    for source in SOURCES:
        for day in DAYS[:2]:
            files = (base.lake / source / f"ingest_date={day}").glob("*.parquet")
            assert landed[(source, day)] == sum(pq.ParquetFile(f).metadata.num_rows for f in files)

    # the last run's materialisations: its partition, the dbt window, the table's rows
    stg_orders = [
        event
        for event in result.get_asset_materialization_events()
        if event.asset_key == key("stg_shop__orders")
    ]
    assert [event.partition for event in stg_orders] == [DAYS[1]]
    metadata = stg_orders[0].materialization.metadata
    assert metadata["ingest_window"].value == {"min_date": DAYS[1], "max_date": DAYS[1]}
    assert metadata["dagster/row_count"].value == stg_rows
    # ... and the dbt invocation, whose nodes the audit trail records with this run's id
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        audited = connection.execute(
            """
            select distinct dagster_run_id from audit.dbt_run_results
            where invocation_id = ? and unique_id = 'model.ml_warehouse.stg_shop__orders'
            """,
            [metadata["dbt_invocation_id"].value],
        ).fetchall()
    assert audited == [(result.run_id,)]
    publication = next(
        event
        for event in released.get_asset_materialization_events()
        if event.asset_key == AssetKey("dataset_publication")
    )
    assert publication.materialization.metadata["training_set/fingerprint"].value

    # the dataset registered by this run rebuilds bit for bit through the rebuild job
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (as_of,) = connection.execute(
            "select max(as_of_date) from ml.ml_dataset_versions where dataset_name = 'training_set'"
        ).fetchone()
    rebuilt = defs.resolve_job_def("dataset_rebuild").execute_in_process(
        run_config={"ops": {"rebuild_dataset_version": {"config": {"as_of": as_of.isoformat()}}}},
        instance=instance,
        raise_on_error=False,
    )
    assert rebuilt.success, failure_messages(rebuilt)

    # OpenLineage: every dbt step of the three runs emitted valid events, under its Dagster
    # run: five steps a daily run, one for the release
    daily_models = built_models(selected_by(DAILY_SELECTOR))
    assert_openlineage_events_name_every_model(
        openlineage_events.events_file(),
        {
            run_ids[0]: (5, daily_models),
            run_ids[1]: (5, daily_models),
            run_ids[2]: (1, built_models(release_models)),
        },
    )
    assert metadata["openlineage_run_id"].value
    # Each dbt step starts from the parse state the step before it left (dbt_build.py):
    # only the first, with nothing to start from, parses the whole project.
    step_logs = sorted((warehouse.parent / "target" / "steps").glob("*/dbt.log"))
    full_parses = [
        log.parent.name for log in step_logs if "Unable to do partial" in log.read_text()
    ]
    assert len(step_logs) > 5 and len(full_parses) <= 1, full_parses


def dataset_name(node: dict) -> str:
    """How openlineage-dbt names a relation: database.schema.table."""
    table = node["name"] if node["resource_type"] == "source" else node["alias"]
    return f"{node['database']}.{node['schema']}.{table}"


def assert_openlineage_events_name_every_model(
    events_file: Path, runs: dict[str, tuple[int, set[str]]]
):
    """`runs`: Dagster run id → (its dbt steps, the models and snapshots it built)."""
    lines = events_file.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        run_event(event)  # raises InvalidEvent, naming the field, if not valid
    # the dbt invocations: their parent run is the Dagster run, one per dbt step
    invocations = [
        e
        for e in events
        if e["eventType"] == "START"
        and e["job"]["facets"].get("jobType", {}).get("jobType") == "JOB"
    ]
    parents = [e["run"]["facets"]["parent"]["run"]["runId"] for e in invocations]
    assert sorted(parents) == sorted(
        run_id for run_id, (steps, _) in runs.items() for _ in range(steps)
    )
    invocation_ids = {e["run"]["runId"] for e in invocations}

    nodes = {**MANIFEST["nodes"], **MANIFEST["sources"]}
    expected = {
        unique_id: (
            {dataset_name(nodes[parent]) for parent in node["depends_on"]["nodes"]},
            dataset_name(node),
        )
        for unique_id, node in MANIFEST["nodes"].items()
        if node["resource_type"] in {"model", "snapshot"}
        and node["package_name"] == WAREHOUSE_PACKAGE
        and node["config"]["materialized"] != "ephemeral"
    }
    every_model = set()
    for run_id, (_, models) in runs.items():
        every_model |= models
        completed = {}
        for event in events:
            facets = event["run"]["facets"]
            dbt_node = event["job"]["facets"].get("dbt_node")
            job_type = event["job"]["facets"]["jobType"]["jobType"]
            if (
                event["eventType"] == "COMPLETE"
                and job_type in {"MODEL", "SNAPSHOT"}
                and facets["parent"]["root"]["run"]["runId"] == run_id
            ):
                assert facets["parent"]["run"]["runId"] in invocation_ids
                assert event["outputs"], event["job"]["name"]
                assert "schema" in event["outputs"][0]["facets"]
                completed[dbt_node["unique_id"]] = (
                    {dataset["name"] for dataset in event["inputs"]},
                    event["outputs"][0]["name"],
                )
        assert completed == {uid: expected[uid] for uid in models}
    assert every_model == set(expected)
    training_set = next(
        e["outputs"][0]["facets"]
        for e in events
        if e["eventType"] == "COMPLETE"
        and e["outputs"]
        and e["outputs"][0]["name"].endswith(".ml.ml_training_set")
    )
    # column lineage, where openlineage-sql could parse the compiled SQL
    lineage = training_set["columnLineage"]["fields"]
    sources = {(f["name"], f["field"]) for f in lineage["churned_30d"]["inputFields"]}
    assert sources == {("warehouse.ml.ml_customer_labels", "churned_30d")}


@pytest.mark.slow
def test_backfill_of_three_days_equals_three_daily_runs(warehouse, tmp_path):
    copy = tmp_path / "backfill" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copy(warehouse, copy)
    before = fingerprints(warehouse)

    daily = DagsterInstance.ephemeral()
    for day in DAYS:
        result = run_partitioned_models(daily, day, day)
        assert result.success, failure_messages(result)

    os.environ["WAREHOUSE_DUCKDB_PATH"] = str(copy)  # restored by the fixture's monkeypatch
    backfill = run_partitioned_models(DagsterInstance.ephemeral(), DAYS[0], DAYS[-1])
    assert backfill.success, failure_messages(backfill)
    # one run, one dbt invocation with the range as its window, every day materialised
    stg = [
        event.materialization
        for event in backfill.get_asset_materialization_events()
        if event.asset_key == key("stg_shop__orders")
    ]
    assert sorted(m.partition for m in stg) == DAYS
    assert stg[0].metadata["ingest_window"].value == {"min_date": DAYS[0], "max_date": DAYS[-1]}

    after_daily, after_backfill = fingerprints(warehouse), fingerprints(copy)
    assert after_daily != before  # the three days did land
    assert after_backfill == after_daily

    # the full refresh job rebuilds a staging table from the whole lake: the same rows
    # (not fct_orders: its relationship test reads dim_customers, which runs of the
    # partitioned set alone leave as they were, without the newest customers)
    refreshed = defs.resolve_job_def("full_refresh").execute_in_process(
        run_config={"ops": {"dbt_full_refresh": {"config": {"select": "stg_shop__orders"}}}},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert refreshed.success, failure_messages(refreshed)
    assert fingerprints(copy) == after_backfill


def hold_write_lock(database: Path) -> subprocess.Popen:
    """Another process with the warehouse open for writing, as `dbt build` by hand would."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"connection = duckdb.connect({str(database)!r})\n"
            "print('locked', flush=True)\n"
            "time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.slow
def test_second_writer_is_refused_cleanly(warehouse, monkeypatch):
    before = fingerprints(warehouse)
    holder = hold_write_lock(warehouse)
    try:
        # Dagster notices before starting dbt...
        refused = run_partitioned_models(DagsterInstance.ephemeral(), DAYS[0], DAYS[0])
        assert not refused.success
        message = failure_messages(refused)
        assert f"The warehouse {warehouse} is locked by another process" in message
        assert "Could not set lock on file" in message
        assert f"(PID {holder.pid})" in message

        # ...and when the lock is taken after that check, dbt's failure says the same
        monkeypatch.setattr(dbt_build, "ensure_writable", lambda database: None)
        refused = run_partitioned_models(DagsterInstance.ephemeral(), DAYS[0], DAYS[0])
        assert not refused.success
        message = failure_messages(refused)
        assert f"The warehouse {warehouse} is locked by another process" in message
        assert "DagsterDbtCliRuntimeError" not in message
    finally:
        holder.kill()
        holder.wait()
    assert fingerprints(warehouse) == before
    with duckdb.connect(str(warehouse)) as connection:  # opens for writing again: intact
        assert connection.execute("select count(*) from marts.fct_orders").fetchone()[0] > 0


@pytest.mark.slow
def test_failed_blocking_check_stops_the_ml_assets(warehouse):
    # Bad reference data behind dbt's back: negative exchange rates make every order value
    # that a run recomputes negative, which a test of fct_orders (severity error) rejects.
    # The run loads the day's orders (not the seed, which would restore the rates), so
    # fct_orders recomputes the orders they touch.
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("update reference.currencies set eur_per_unit = -eur_per_unit")
    loading = ("lake_file_inventory", "base_shop__orders", "base_shop__order_items")
    loading += ("stg_shop__orders", "stg_shop__order_items")
    selection = [key(name) for name in loading]
    # the features read fct_orders through their orders and categories groups
    features = ("ml_customer_population", "ml_customer_features__orders")
    features += ("ml_customer_features__categories", "ml_customer_features")
    selection += [key("fct_orders"), *(key(name) for name in features), key("ml_customer_labels")]
    result = daily_job().execute_in_process(
        instance=DagsterInstance.ephemeral(),
        partition_key=DAYS[0],
        asset_selection=selection,
        raise_on_error=False,
    )
    assert not result.success
    failed = [
        e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.asset_key == key("fct_orders")
    ]
    assert failed and all(e.blocking for e in failed)
    assert "blocking asset check" in failure_messages(result)
    materialised = {event.asset_key for event in result.get_asset_materialization_events()}
    assert key("fct_orders") in materialised
    assert key("ml_customer_features__orders") not in materialised
    assert key("ml_customer_features") not in materialised
    assert key("ml_customer_labels") not in materialised
