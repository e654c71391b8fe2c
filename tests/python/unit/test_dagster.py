"""The Dagster code location without running dbt: what it defines, and the parts that decide
by themselves (lake sensor, automation, config checks, the instance's writer pool).

The runs that build a warehouse are in test_dagster_runs.py.
"""

import os
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DagsterInvalidConfigError,
    Definitions,
    SensorResult,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
)
from dagster_dbt.utils import select_unique_ids

from orchestration.assets import (
    DBT_ASSETS,
    LAKE_READERS,
    PARTITIONED_FQNS,
    dataset_publication,
    partitioned_models,
    raw_source_specs,
    warehouse_models,
    warehouse_read_copy,
)
from orchestration.definitions import defs
from orchestration.freshness import raw_source_freshness
from orchestration.lib.dbt_build import manifest
from orchestration.lib.dbt_meta import group_owners
from orchestration.lib.lake_sources import (
    first_ingest_date,
    landed_dates,
    raw_asset_key,
    ready_days,
)
from orchestration.lib.warehouse_lock import WAREHOUSE_POOL, locked_failure
from orchestration.partitions import (
    IngestWindow,
    daily_partitions,
    first_partition,
    window_environment,
)
from orchestration.project import warehouse_lake_sources
from orchestration.schedules import lake_partition_sensor
from warehouse.lake_sources import lake_sources
from warehouse.settings import WAREHOUSE_PACKAGE

MANIFEST = manifest()
REGISTRY_MODEL = "ml_dataset_versions"
# The raw assets: every lake-backed source table of every system (meta.lake in its YAML).
LAKE_FEEDS = {
    AssetKey(["raw", source["source_name"], source["name"]])
    for source in MANIFEST["sources"].values()
    if "lake" in source["meta"]
}
BUILDABLE = {
    uid: node
    for uid, node in MANIFEST["nodes"].items()
    if node["resource_type"] in {"model", "seed", "snapshot"}
    and node["config"].get("materialized") != "ephemeral"
    and node["package_name"] == WAREHOUSE_PACKAGE  # not Elementary's (monitoring overlay)
}


def unique_ids(assets_def) -> set[str]:
    return {spec.metadata["dagster_dbt/unique_id"] for spec in assets_def.specs}


def test_definitions_load_and_name_the_automation():
    Definitions.validate_loadable(defs)
    assert {job.name for job in defs.jobs} >= {
        "daily_warehouse_build",
        "dataset_release",
        "source_freshness",
        "full_refresh",
        "dataset_rebuild",
        "erase_customer",
        "apply_retention",
    }
    assert {schedule.name for schedule in defs.schedules} == {
        "daily_warehouse_schedule",
        "dataset_release_schedule",
        "source_freshness_schedule",
    }
    assert {sensor.name for sensor in defs.sensors} == {
        "lake_partition_sensor",
        "ml_automation_sensor",
        "run_failure_alert",
    }
    graph = defs.resolve_asset_graph()
    names = {key.path[-1] for key in graph.get_all_asset_keys()}
    assert {"fct_orders", "ml_training_set", "orders", "dataset_publication"} <= names


def test_every_dbt_node_is_in_exactly_one_of_the_two_sets():
    sets = {name: unique_ids(a) for name, a in zip(("p", "u"), DBT_ASSETS, strict=True)}
    assert sets["p"] | sets["u"] == set(BUILDABLE)
    assert not (sets["p"] & sets["u"])
    incremental = {
        uid
        for uid, node in BUILDABLE.items()
        if node["config"].get("materialized") == "incremental"
        and node["meta"].get("dagster", {}).get("partitioned") is not False
    }
    assert incremental <= sets["p"]
    # the rest of the partitioned set: views that read only partitioned models
    for uid in sets["p"] - incremental:
        assert BUILDABLE[uid]["config"]["materialized"] == "view"
        assert set(MANIFEST["parent_map"][uid]) <= sets["p"]
    assert {".".join(BUILDABLE[uid]["fqn"]) for uid in sets["p"]} == set(PARTITIONED_FQNS)
    names = {BUILDABLE[uid]["name"] for uid in sets["p"]}
    assert {"stg_shop__orders", "stg_support__tickets", "fct_orders"} <= names
    assert "int_orders_pivoted_to_lifecycle" in names
    unpartitioned = {BUILDABLE[uid]["name"] for uid in sets["u"]}
    # incremental in dbt, not by ingest date: `partitioned: false` in dbt_project.yml
    assert {REGISTRY_MODEL, "ml_customer_labels", "snap_customers", "base_shop__orders"} <= (
        unpartitioned
    )


def test_partitioned_set_runs_a_backfill_as_one_run():
    assert partitioned_models.partitions_def == daily_partitions
    assert partitioned_models.backfill_policy.max_partitions_per_run is None  # single run
    for unpartitioned in (warehouse_models, dataset_publication):
        assert unpartitioned.partitions_def is None
    graph = defs.resolve_asset_graph()
    raw = {key for key in graph.get_all_asset_keys() if key.path[0] == "raw"}
    assert len(LAKE_FEEDS) >= 6 and raw == LAKE_FEEDS  # the shop's five, support's tickets
    assert all(graph.get(key).partitions_def == daily_partitions for key in raw)
    window = IngestWindow.from_keys("2026-03-02", "2026-03-04")
    assert window.dbt_vars == {"min_date": "2026-03-02", "max_date": "2026-03-04"}
    with pytest.raises(ValueError, match="ends before it starts"):
        IngestWindow.from_keys("2026-03-04", "2026-03-02")


def test_a_daily_run_is_five_dbt_steps_and_a_release_one():
    """Dagster splits a set into one step per stretch of the graph between the other set's
    assets; each step is a dbt process. Seeds and base views, then staging to fct_orders,
    then snapshots and dims, then features, then labels and the serving export: five. The
    release: one, plus the publication. A model moved between sets can add steps (and a
    minute to every run)."""
    not_dbt = {"dataset_publication", "warehouse_read_copy", "elementary_report"}
    for job_name, dbt_steps in (("daily_warehouse_build", 5), ("dataset_release", 1)):
        steps = sorted(node.name for node in defs.resolve_job_def(job_name).graph.nodes)
        assert len([name for name in steps if name not in not_dbt]) == dbt_steps, steps
    release = {node.name for node in defs.resolve_job_def("dataset_release").graph.nodes}
    assert {"dataset_publication", "warehouse_read_copy"} <= release


def test_snapshots_depend_on_staging_and_ml_on_the_lake_history_not_snapshots():
    graph = defs.resolve_asset_graph()

    def key(name: str) -> AssetKey:
        return next(k for k in graph.get_all_asset_keys() if k.path[-1] == name)

    def upstream(name: str) -> set[AssetKey]:
        return graph.get_ancestor_asset_keys(key(name))

    assert key("stg_shop__customers") in upstream("snap_customers")
    assert key("orders") in upstream("stg_shop__orders")  # raw/shop/orders
    # the ML tables read the bitemporal history rebuilt from the lake, never what a
    # snapshot recorded when it happened to run
    assert key("int_customers_known_by_as_of_date") in upstream("ml_customer_features")
    ml_tables = [k for k in graph.get_all_asset_keys() if k.path[-1].startswith("ml_")]
    snapshots = {k for k in graph.get_all_asset_keys() if k.path[-1].startswith("snap_")}
    assert ml_tables
    assert not {k.path[-1] for k in ml_tables if upstream(k.path[-1]) & snapshots}
    assert key("ml_training_set") in upstream(REGISTRY_MODEL)
    assert key(REGISTRY_MODEL) in upstream("dataset_publication")


def test_every_dbt_test_is_an_asset_check_on_its_model():
    checks = {key for assets_def in DBT_ASSETS for key in assets_def.check_keys}
    by_model = {
        spec.metadata["dagster_dbt/unique_id"]: spec.key
        for assets_def in DBT_ASSETS
        for spec in assets_def.specs
    }
    expected = set()
    for node in MANIFEST["nodes"].values():
        if node["resource_type"] != "test" or not node["config"].get("enabled", True):
            continue
        parents = node["depends_on"]["nodes"]
        attached = node.get("attached_node") or (parents[0] if len(parents) == 1 else None)
        if attached in by_model:
            expected.add((by_model[attached], node["name"]))
    assert expected, "the project has dbt tests"
    assert {(check.asset_key, check.name) for check in checks} >= expected


def test_error_tests_are_blocking_checks():
    specs = {
        (spec.asset_key.path[-1], spec.name): spec
        for assets_def in DBT_ASSETS
        for spec in assets_def.check_specs
    }
    assert specs[("fct_orders", "not_null_fct_orders_customer_id")].blocking
    assert specs[("stg_shop__orders", "not_null_stg_shop__orders_order_id")].blocking
    # reads dim_customers, which is built after fct_orders: reported, cannot gate
    relationship = next(
        spec
        for (model, name), spec in specs.items()
        if model == "fct_orders" and name.startswith("relationships_")
    )
    assert not relationship.blocking
    for (_, name), spec in specs.items():
        node = next(n for n in MANIFEST["nodes"].values() if n["name"] == name)
        if node["config"].get("severity", "error").lower() == "warn":
            assert not spec.blocking, name


def test_writers_share_one_pool_and_metadata_describes_the_assets():
    for assets_def in [*DBT_ASSETS, dataset_publication, warehouse_read_copy, raw_source_freshness]:
        assert assets_def.op.pool == WAREHOUSE_POOL
    for job_name, op_name in (
        ("full_refresh", "dbt_full_refresh"),
        ("dataset_rebuild", "rebuild_dataset_version"),
        ("erase_customer", "erase_customer_everywhere"),
        ("apply_retention", "apply_retention_policies"),
    ):
        assert defs.resolve_job_def(job_name).graph.node_named(op_name).definition.pool == (
            WAREHOUSE_POOL
        )
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {"raw", "staging", "marts", "ml", "monitoring", "snapshots"} <= groups
    specs = {spec.key.path[-1]: spec for a in DBT_ASSETS for spec in a.specs}
    fct_orders = specs["fct_orders"]
    assert fct_orders.owners == ["team:analytics-engineering"]
    assert specs["ml_training_set"].owners == ["team:ml"]
    assert all(spec.code_version for spec in specs.values())
    columns = {
        column.name: column for column in fct_orders.metadata["dagster/column_schema"].columns
    }
    assert columns["order_id"].description
    assert columns["order_id"].type == "varchar"
    assert fct_orders.freshness_policy is not None
    assert specs["ml_training_set"].freshness_policy is not None
    assert specs["ml_customer_labels"].automation_condition is not None
    # the release runs on its schedule, not on every upstream change
    assert specs["ml_training_set"].automation_condition is None
    publication = dataset_publication.specs_by_key[AssetKey("dataset_publication")]
    assert publication.automation_condition is None
    assert specs["fct_orders"].automation_condition is None


def test_ml_layer_refreshes_when_upstream_changes():
    instance = DagsterInstance.ephemeral()
    graph = defs.resolve_asset_graph()
    ml = AssetSelection.groups("ml")

    def land(*keys: AssetKey) -> None:
        for key in keys:
            partition = "2026-04-03" if graph.get(key).is_partitioned else None
            instance.report_runless_asset_event(AssetMaterialization(key, partition=partition))

    result = evaluate_automation_conditions(defs, instance, asset_selection=ml)
    land(*graph.materializable_asset_keys)  # a whole run: nothing left to do
    result = evaluate_automation_conditions(defs, instance, ml, cursor=result.cursor)
    assert result.total_requested == 0

    def named(name: str) -> AssetKey:
        return next(k for k in graph.get_all_asset_keys() if k.path[-1] == name)

    # the labels read the status records (and the features) directly
    land(named("stg_shop__orders"))
    result = evaluate_automation_conditions(defs, instance, ml, cursor=result.cursor)
    requested = {r.key.path[-1] for r in result.results if r.true_subset.size}
    assert "ml_customer_labels" in requested
    # not the dataset release: its weekly schedule
    assert not {"ml_training_set", REGISTRY_MODEL, "dataset_publication"} & requested
    result = evaluate_automation_conditions(defs, instance, ml, cursor=result.cursor)
    assert result.total_requested == 0
    # the serving features are the training features' newest as-of date
    land(named("ml_customer_features"))
    result = evaluate_automation_conditions(defs, instance, ml, cursor=result.cursor)
    requested = {r.key.path[-1] for r in result.results if r.true_subset.size}
    assert "ml_customer_features_latest" in requested


def generate_lake(lake: Path, days: int, start: str = "2026-03-01") -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generator",
            "generate",
            "--seed=3",
            "--customers=20",
            f"--start-date={start}",
            f"--days={days}",
            f"--plan-days={days + 1}",
            f"--out={lake}",
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )


def test_lake_sensor_requests_each_new_ingest_date(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    monkeypatch.setenv("WAREHOUSE_LAKE_DIR", str(lake))
    generate_lake(lake, days=3)
    instance = DagsterInstance.ephemeral()

    first = lake_partition_sensor(build_sensor_context(instance=instance))
    assert isinstance(first, SensorResult)
    # no cursor yet: the newest day only; every landed partition recorded on the raw assets
    assert [r.partition_key for r in first.run_requests] == ["2026-03-03"]
    assert len(first.asset_events) == 3 * len(LAKE_FEEDS)
    assert {e.partition for e in first.asset_events} == {"2026-03-01", "2026-03-02", "2026-03-03"}
    assert first.cursor == "2026-03-03"

    again = lake_partition_sensor(build_sensor_context(instance=instance, cursor=first.cursor))
    assert isinstance(again, SkipReason)

    subprocess.run(
        [sys.executable, "-m", "generator", "append", f"--out={lake}", "--days=1"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    # a day that has landed for one source only, when the others delivered the day before,
    # is not ready yet
    shutil.copytree(
        lake / "orders" / "ingest_date=2026-03-04", lake / "orders/ingest_date=2026-03-05"
    )
    new = lake_partition_sensor(build_sensor_context(instance=instance, cursor=first.cursor))
    assert isinstance(new, SensorResult)
    assert [(r.partition_key, r.run_key) for r in new.run_requests] == [
        ("2026-03-04", "lake-2026-03-04")
    ]
    assert new.cursor == "2026-03-04"
    rows = {e.asset_key: e.metadata["dagster/row_count"].value for e in new.asset_events}
    assert set(rows) == LAKE_FEEDS


def test_jobs_refuse_bad_config_clearly():
    rebuild_job = defs.resolve_job_def("dataset_rebuild")
    bad_date = rebuild_job.execute_in_process(
        run_config={"ops": {"rebuild_dataset_version": {"config": {"as_of": "2026-13-01"}}}},
        raise_on_error=False,
        instance=DagsterInstance.ephemeral(),
    )
    assert not bad_date.success
    failure = next(e for e in bad_date.all_events if e.is_step_failure)
    assert "as_of must be a date written YYYY-MM-DD, got '2026-13-01'" in str(
        failure.step_failure_data.error
    )
    with pytest.raises(DagsterInvalidConfigError, match="no_such_dataset"):
        rebuild_job.execute_in_process(
            run_config={
                "ops": {
                    "rebuild_dataset_version": {
                        "config": {"dataset": "no_such_dataset", "as_of": "2026-03-01"}
                    }
                }
            },
            instance=DagsterInstance.ephemeral(),
        )

    refresh = defs.resolve_job_def("full_refresh").execute_in_process(
        run_config={"ops": {"dbt_full_refresh": {"config": {"select": "no_such_model"}}}},
        raise_on_error=False,
        instance=DagsterInstance.ephemeral(),
    )
    assert not refresh.success
    failure = next(e for e in refresh.all_events if e.is_step_failure)
    assert "selects no seed, model or snapshot" in str(failure.step_failure_data.error)


def test_instance_config_makes_warehouse_writers_take_turns(tmp_path):
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        assert pools.pool_granularity.value == "op"
        assert instance.event_log_storage.supports_global_concurrency_limits
    finally:
        instance.dispose()


def test_lock_error_names_the_file_and_what_to_do(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    failure = locked_failure(
        database,
        "Runtime Error\n  IO Error: Could not set lock on file "
        f'"{database}": Conflicting lock is held in /usr/bin/python3 (PID 42)',
    )
    assert str(database) in failure.description
    assert "Could not set lock" in failure.description
    assert "PID 42" in failure.description
    assert f"pool '{WAREHOUSE_POOL}'" in failure.description


def test_a_window_left_in_the_environment_never_reaches_an_unpartitioned_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAREHOUSE_WINDOW_MIN_DATE", "2026-01-01")  # e.g. left in a shell
    window = IngestWindow.from_keys("2026-03-02", "2026-03-04")
    with window_environment(window):
        assert os.environ["WAREHOUSE_WINDOW_MIN_DATE"] == "2026-03-02"
        assert os.environ["WAREHOUSE_WINDOW_MAX_DATE"] == "2026-03-04"
    with window_environment(None):
        assert not {"WAREHOUSE_WINDOW_MIN_DATE", "WAREHOUSE_WINDOW_MAX_DATE"} & set(os.environ)
    assert os.environ["WAREHOUSE_WINDOW_MIN_DATE"] == "2026-01-01"
    assert "WAREHOUSE_WINDOW_MAX_DATE" not in os.environ


# --- what the definitions read from the dbt config and the sources YAML --------------------


def test_groups_owners_and_freshness_policies_are_the_dbt_meta():
    graph = defs.resolve_asset_graph()
    nodes = {**MANIFEST["nodes"], **MANIFEST["sources"]}
    specs = {spec.key: spec for a in DBT_ASSETS for spec in a.specs}
    specs |= {spec.key: spec for spec in raw_source_specs()}
    for key, spec in specs.items():
        unique_id = spec.metadata.get("dagster_dbt/unique_id") or next(
            s.unique_id for s in warehouse_lake_sources() if raw_asset_key(s) == key
        )
        declared = nodes[unique_id]["meta"]["dagster"]
        assert graph.get(key).group_name == declared["group"], key
        assert list(graph.get(key).owners) == declared["owners"], key
    # as dbt_project.yml declares them
    assert specs[AssetKey(["marts", "fct_orders"])].owners == ["team:analytics-engineering"]
    assert {graph.get(key).group_name for key in specs if key.path[0] == "raw"} == {"raw"}
    policy = specs[AssetKey(["ml", "ml_training_set"])].freshness_policy
    assert policy.deadline_cron == "0 9 * * 1"
    assert policy.lower_bound_delta == timedelta(days=3, hours=9)
    with_policy = {key.path[-1] for key, spec in specs.items() if spec.freshness_policy}
    assert with_policy == {"fct_orders", "ml_training_set"}
    # the assets outside dbt: their group's owners as the dbt config declares them
    assert graph.get(AssetKey("dataset_publication")).owners == ["team:ml"]
    assert graph.get(AssetKey("warehouse_read_copy")).group_name == "warehouse"
    assert graph.get(AssetKey("warehouse_read_copy")).owners == ["team:data-platform"]


def test_a_group_whose_owners_disagree_gives_an_asset_outside_dbt_none():
    nodes = {
        f"model.{WAREHOUSE_PACKAGE}.{name}": {
            "package_name": WAREHOUSE_PACKAGE,
            "meta": {"dagster": {"group": "ml", "owners": owners}},
        }
        for name, owners in (("a", ["team:ml"]), ("b", ["team:other"]))
    }
    with pytest.raises(ValueError, match=r"\['team:ml'\] and \['team:other'\].*'ml'"):
        group_owners({"nodes": nodes, "sources": {}}, WAREHOUSE_PACKAGE, "ml")
    with pytest.raises(ValueError, match="declares none as owners of the asset group 'nope'"):
        group_owners({"nodes": nodes, "sources": {}}, WAREHOUSE_PACKAGE, "nope")


def test_a_run_of_the_partitioned_set_alone_refreshes_the_inventory_and_the_views_reading_it():
    selected = select_unique_ids(
        select=LAKE_READERS, exclude="", selector="", project=None, manifest_json=MANIFEST
    )
    models = {uid for uid in selected if uid.startswith("model.")}
    inventory = f"model.{WAREHOUSE_PACKAGE}.lake_file_inventory"
    # the views whose file list is fixed when they are built: they read a source through it
    readers = {
        uid
        for uid, node in BUILDABLE.items()
        if node["config"]["materialized"] == "view"
        and inventory in MANIFEST["parent_map"][uid]
        and any(parent.startswith("source.") for parent in MANIFEST["parent_map"][uid])
    }
    assert len(readers) >= 5
    assert models == readers | {inventory}


def test_no_source_system_is_named_in_the_code_location():
    """The sources YAML is the one registry of feeds: a new system needs no Python."""
    systems = {source["source_name"] for source in MANIFEST["sources"].values()}
    assert systems
    # a whole word or identifier part: `shop` in stg_shop__orders, not `supports` for support
    named = re.compile(
        "|".join(rf"(?<![a-z0-9]){re.escape(system)}(?![a-z0-9])" for system in systems),
        re.IGNORECASE,
    )
    for path in sorted((REPO_ROOT / "orchestration").rglob("*.py")):
        assert not named.findall(path.read_text()), path


def hand_made_manifest() -> dict:
    """Two source systems as dbt would render them: the shop at the lake's root, waited for
    a week; support in its own folder, three days; and a source that is not in the lake."""

    def source(system: str, table: str, meta: dict) -> tuple[str, dict]:
        unique_id = f"source.{WAREHOUSE_PACKAGE}.{system}.{table}"
        return unique_id, {
            "unique_id": unique_id,
            "source_name": system,
            "name": table,
            "package_name": WAREHOUSE_PACKAGE,
            "original_file_path": f"models/staging/{system}/_{system}__sources.yml",
            "meta": meta,
        }

    shop = {"lake_subdir": "", "lake_active_within_days": 7}
    support = {"lake_subdir": "support", "lake_active_within_days": 3}
    return {
        "metadata": {"project_name": WAREHOUSE_PACKAGE},
        "sources": dict(
            [
                source("shop", "orders", {**shop, "lake": {"natural_key": ["order_id"]}}),
                source("shop", "customers", {**shop, "lake": {"natural_key": ["customer_id"]}}),
                source("support", "tickets", {**support, "lake": {"natural_key": ["ticket_id"]}}),
                source("support", "csat", {**support, "lake": {"natural_key": ["ticket_id"]}}),
                source("crm", "accounts", {"lake_subdir": ""}),  # not lake-backed
            ]
        ),
    }


def land(folder: Path, first: str, last: str, skip: tuple[str, ...] = ()) -> None:
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        if day.isoformat() not in skip:
            partition = folder / f"ingest_date={day.isoformat()}"
            partition.mkdir(parents=True)
            (partition / "part-0.parquet").write_bytes(b"PAR1")
        day += timedelta(days=1)


def test_a_day_is_ready_when_every_source_active_before_it_has_landed_it(tmp_path):
    lake = tmp_path / "lake"
    land(lake / "orders", "2026-03-01", "2026-03-20", skip=("2026-03-05",))  # a missing day
    land(lake / "customers", "2026-03-01", "2026-03-10")  # stopped ten days before the 20th
    land(lake / "support" / "tickets", "2026-03-18", "2026-03-19")  # new: joins on the 18th
    # support.csat has no folder at all: a source with no history
    land(lake / "accounts", "2026-03-11", "2026-03-17")  # not lake-backed: never counts
    (lake / "orders" / "ingest_date=2026-03-21").mkdir()  # no Parquet file: nothing landed
    (lake / "orders" / "ingest_date=2026-03-21" / "part-0.csv").write_text("order_id\n")
    (lake / "orders" / "ingest_date=2026-13-01").mkdir()  # not a date
    (lake / "orders" / "ingest_date=2026-13-01" / "part-0.parquet").write_bytes(b"PAR1")

    sources = lake_sources(hand_made_manifest())
    by_name = {f"{s.system}.{s.table}": s for s in sources}
    assert set(by_name) == {"shop.orders", "shop.customers", "support.tickets", "support.csat"}
    assert by_name["support.tickets"].folder(lake) == lake / "support" / "tickets"
    assert raw_asset_key(by_name["support.tickets"]) == AssetKey(["raw", "support", "tickets"])

    landed = {source: landed_dates(source.folder(lake)) for source in sources}
    # Worked by hand, a week's window for the shop and three days for support:
    # 03-01..04  ready: on the 1st nothing was expected yet; then both shop tables landed
    # 03-05      orders delivered the day before and did not land: not ready
    # 03-06..10  ready
    # 03-11..17  customers delivered on the 10th, within seven days before: not ready
    # 03-18      customers last delivered eight days before: no longer waited for; tickets
    #            had never delivered, so were not waited for, and landed: ready
    # 03-19      tickets delivered the day before and landed: ready
    # 03-20      tickets delivered the day before and did not land: not ready
    # csat never delivered and never holds a day back
    expected = [f"2026-03-0{d}" for d in (1, 2, 3, 4, 6, 7, 8, 9)]
    expected += ["2026-03-10", "2026-03-18", "2026-03-19"]
    assert [day.isoformat() for day in ready_days(landed)] == expected
    assert first_ingest_date(sources, lake) == date(2026, 3, 1)
    assert first_ingest_date(sources, tmp_path / "no-lake-yet") is None


def test_partitions_start_at_the_lakes_first_ingest_date(tmp_path):
    lake = tmp_path / "lake"
    env = {"WAREHOUSE_LAKE_DIR": str(lake)}
    # no lake yet (a fresh checkout), or nothing landed: the fixed default
    assert first_partition(env) == "2026-01-01"
    first, second = warehouse_lake_sources()[:2]
    land(first.folder(lake), "2026-02-05", "2026-02-06")
    land(second.folder(lake), "2026-02-03", "2026-02-04")
    assert first_partition(env) == "2026-02-03"
    assert first_partition({**env, "WAREHOUSE_FIRST_PARTITION": "2026-02-10"}) == "2026-02-10"
