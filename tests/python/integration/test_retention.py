"""Retention: the dry run lists, and the real run removes, exactly the raw partitions,
closed snapshot versions and dataset exports past their policy; snapshot versions that
registered dataset versions read survive.

Works on a copy of the session warehouse (lake, warehouse file, exports) through the
Dagster job `apply_retention`, run in this process.
"""

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import Warehouse
from dagster import DagsterInstance, Failure

from orchestration.definitions import defs
from orchestration.jobs import FullRefreshConfig, refuse_losing_pruned_days
from orchestration.lib.dbt_build import manifest
from warehouse.datasets import DATASETS

# The sample lands 2026-03-01 to 06-08 and its snapshots start at the first build (06-06):
# the versions the three daily runs closed are past SNAPSHOT_DAYS, the first ten days past
# RAW_DAYS.
AS_OF = date(2026, 6, 22)
RAW_DAYS, SNAPSHOT_DAYS, EXPORT_VERSIONS = 103, 13, 2


@pytest.fixture
def copy(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("lake", "exports"):
        shutil.copytree(warehouse.root / folder, tmp_path / folder)
    shutil.copy(warehouse.database, tmp_path / "warehouse.duckdb")
    for name, value in warehouse.env.items():
        if name.startswith(("WAREHOUSE_", "DBT_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_LAKE_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("WAREHOUSE_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("WAREHOUSE_EXPORTS_DIR", str(tmp_path / "exports"))
    return tmp_path


def retention(dry_run: bool) -> list[str]:
    config = {
        "dry_run": dry_run,
        "raw_days": RAW_DAYS,
        "snapshot_days": SNAPSHOT_DAYS,
        "export_versions": EXPORT_VERSIONS,
        "as_of": AS_OF.isoformat(),
    }
    result = defs.resolve_job_def("apply_retention").execute_in_process(
        run_config={"ops": {"apply_retention_policies": {"config": config}}},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    return result.output_for_node("apply_retention_policies")


def partitions(lake: Path) -> set[str]:
    """Every landing-day folder, at the lake's root (the shop's tables) or under a system's
    folder (support/tickets)."""
    return {
        p.relative_to(lake).as_posix()
        for p in [*lake.glob("*/ingest_date=*"), *lake.glob("*/*/ingest_date=*")]
        if not p.relative_to(lake).parts[0].startswith("_")
    }


def expected(root: Path) -> dict[str, set[str]]:
    """The policy, worked out here on its own terms."""
    raw_cutoff = (AS_OF - timedelta(days=RAW_DAYS)).isoformat()
    snapshot_cutoff = datetime.combine(AS_OF - timedelta(days=SNAPSHOT_DAYS), datetime.min.time())
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        (first_as_of,) = connection.execute(
            "select min(as_of_date) from ml.ml_customer_features"
        ).fetchone()
        (last_registered,) = connection.execute(
            "select max(as_of_date) from ml.ml_dataset_versions"
        ).fetchone()
        closed = {
            (table, scd_id, valid_from, valid_to)
            for table in ("snap_customers", "snap_products", "snap_order_status")
            for scd_id, valid_from, valid_to in connection.execute(
                f"select dbt_scd_id, dbt_valid_from, dbt_valid_to from snapshots.{table} "
                "where dbt_valid_to < ?",
                [snapshot_cutoff],
            ).fetchall()
        }
        newest = {
            dataset: [
                row[0]
                for row in connection.execute(
                    "select version_id from ml.ml_dataset_versions where dataset_name = ? "
                    "order by built_at desc",
                    [dataset],
                ).fetchall()
            ]
            for dataset in DATASETS
        }
    start = datetime.combine(first_as_of, datetime.min.time())
    end = datetime.combine(last_registered, datetime.min.time())
    pinned = {
        scd_id
        for table, scd_id, valid_from, valid_to in closed
        if table == "snap_customers" and valid_from < end and valid_to >= start
    }
    return {
        "partitions": {p for p in partitions(root / "lake") if p.split("=")[1] < raw_cutoff},
        "versions": {scd_id for _, scd_id, _, _ in closed} - pinned,
        "pinned": pinned,
        "exports": {
            f"{dataset}/version={version_id}"
            for dataset, ids in newest.items()
            for version_id in ids[EXPORT_VERSIONS:]
        },
    }


def snapshot_ids(root: Path) -> set[str]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        return {
            row[0]
            for table in ("snap_customers", "snap_products", "snap_order_status")
            for row in connection.execute(f"select dbt_scd_id from snapshots.{table}").fetchall()
        }


def exported(root: Path) -> set[str]:
    return {f"{p.parent.name}/{p.name}" for p in (root / "exports").glob("*/version=*")}


def listed(items: list[str], kind: str) -> set[str]:
    """The names in the job's list of one kind of item."""
    chosen = [item.removeprefix(kind).strip() for item in items if item.startswith(kind)]
    return {item.split(" ")[0 if kind != "snapshot version" else 1] for item in chosen}


def test_dry_run_lists_and_the_real_run_removes_exactly_what_the_policy_says(copy: Path) -> None:
    want = expected(copy)
    assert len(want["partitions"]) == 10 * 6, "ten days of six tables are past RAW_DAYS"
    assert want["versions"] and want["pinned"], "the sample has both kinds of closed versions"
    assert len(want["exports"]) == 2 * (len(exported(copy)) // 2 - EXPORT_VERSIONS)
    before = (partitions(copy / "lake"), snapshot_ids(copy), exported(copy))

    planned = retention(dry_run=True)
    assert listed(planned, "raw partition") == want["partitions"]
    assert listed(planned, "snapshot version") == want["versions"]
    assert listed(planned, "export") == want["exports"]
    assert len(planned) == sum(len(want[k]) for k in ("partitions", "versions", "exports"))
    assert (partitions(copy / "lake"), snapshot_ids(copy), exported(copy)) == before

    removed = retention(dry_run=False)
    assert removed == planned
    assert partitions(copy / "lake") == before[0] - want["partitions"]
    assert snapshot_ids(copy) == before[1] - want["versions"]
    assert want["pinned"] <= snapshot_ids(copy), "versions read by registered datasets stay"
    assert exported(copy) == before[2] - want["exports"]
    with duckdb.connect(str(copy / "warehouse.duckdb"), read_only=True) as connection:
        logged = connection.execute(
            "select kind, count(*) from audit.retention_log group by kind"
        ).fetchall()
    assert dict(logged) == {
        "RawPartition": len(want["partitions"]),
        "SnapshotVersion": len(want["versions"]),
        "ExportVersion": len(want["exports"]),
    }

    assert retention(dry_run=True) == [], "a second run finds nothing more to remove"

    # Staging is now the only record of the pruned days: a full refresh of it is refused,
    # one of the marts (rebuilt from staging) is not.
    models = {node["name"]: uid for uid, node in manifest()["nodes"].items()}
    with pytest.raises(Failure, match="would rebuild them from the lake without those days"):
        refuse_losing_pruned_days({models["stg_shop__orders"]}, FullRefreshConfig())
    refuse_losing_pruned_days({models["fct_orders"]}, FullRefreshConfig())


def test_bad_retention_config_is_refused() -> None:
    job = defs.resolve_job_def("apply_retention")
    for config, message in (
        ({"as_of": "2026-04-20'; drop table x"}, "must be a date written YYYY-MM-DD"),
        ({"raw_days": 0}, "greater than or equal to 1"),
    ):
        with pytest.raises(Exception, match=message):
            job.execute_in_process(
                run_config={"ops": {"apply_retention_policies": {"config": config}}},
                instance=DagsterInstance.ephemeral(),
            )
