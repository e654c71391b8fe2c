"""Retention: how long raw partitions, closed snapshot versions and dataset exports are kept.

    python -m warehouse.governance.retention                # dry run: list what would go
    python -m warehouse.governance.retention --apply        # remove it
    python -m warehouse.governance.retention --raw-days 365 --snapshot-days 730 \\
        --export-versions 10 --as-of 2026-06-30
    (in Dagster: the job `apply_retention`, config `dry_run`, default true)

Policies (docs/governance.md):

- raw: a partition of a lake-backed source table (`<lake_dir>/<table>/<partition>=D/`, as
  the sources YAML declares it: warehouse.governance.sources) goes once D is more than
  `raw_days` before the as-of date (today by default). Folders no source declares are
  never touched. Staging keeps its rows: from then on staging is
  the record of those days, so a full refresh of staging would lose them (the `full_refresh`
  job refuses it; see docs/governance.md).
- snapshots: a closed version (dbt_valid_to set) goes once it closed more than
  `snapshot_days` before the as-of date, unless a registered dataset version reads it:
  `snap_customers` is read point in time by the ML datasets (dim_customers_history, the
  version valid just before each as-of date), so a closed version that was valid on some
  as-of date between the first one in the feature table and a registered version's as-of
  date is pinned. Current versions never go. The other snapshots are read only as they are
  now, so nothing pins their closed versions.
- exports: the `export_versions` newest version folders of each dataset
  (`exports/<dataset>/version=<id>/`, newest by registration) stay; older ones go. Their
  registry rows stay (the registry is append-only) and they can still be rebuilt from
  history with `make dataset`.

What goes is listed first (the dry run stops there); a real run removes it and appends one
row per removed item to `audit.retention_log`.
"""

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from warehouse.datasets import DATASETS
from warehouse.governance.erasure import RETENTION_LOG
from warehouse.governance.sources import LakeTable, lake_tables, load_manifest
from warehouse.settings import duckdb_path, exports_dir, lake_dir

# Snapshots read point in time by the registered datasets, and the relation that reads them.
PINNED_BY_DATASETS = {"snapshots.snap_customers": "marts.dim_customers_history"}
FEATURES_TABLE = "ml.ml_customer_features"
REGISTRY = "ml.ml_dataset_versions"

RETENTION_LOG_DDL = f"""
create table if not exists {RETENTION_LOG} (
    applied_at timestamp not null,
    as_of date not null,
    policy varchar not null,
    kind varchar not null,
    item varchar not null,
    detail varchar
)
"""


@dataclass(frozen=True)
class RetentionPolicy:
    raw_days: int = 365
    snapshot_days: int = 730
    export_versions: int = 10

    def __post_init__(self) -> None:
        for name in ("raw_days", "snapshot_days", "export_versions"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"retention {name} must be a whole number of at least 1")

    def describe(self) -> str:
        return (
            f"raw {self.raw_days} days, snapshots {self.snapshot_days} days, "
            f"exports {self.export_versions} versions"
        )


@dataclass(frozen=True)
class RawPartition:
    source: str  # the table's folder, relative to the lake root (customers, support/tickets)
    ingest_date: date
    path: Path
    files: int

    def __str__(self) -> str:
        return f"raw partition {self.source}/{self.path.name} ({self.files} file(s))"


@dataclass(frozen=True)
class SnapshotVersion:
    table: str
    scd_id: str
    valid_from: datetime
    valid_to: datetime

    def __str__(self) -> str:
        return (
            f"snapshot version {self.table} {self.scd_id} "
            f"(valid {self.valid_from:%Y-%m-%d %H:%M} to {self.valid_to:%Y-%m-%d %H:%M})"
        )


@dataclass(frozen=True)
class ExportVersion:
    dataset: str
    version_id: str
    path: Path

    def __str__(self) -> str:
        return f"export {self.dataset}/version={self.version_id}"


@dataclass
class RetentionPlan:
    policy: RetentionPolicy
    as_of: date
    partitions: list[RawPartition] = field(default_factory=list)
    snapshot_versions: list[SnapshotVersion] = field(default_factory=list)
    pinned: list[SnapshotVersion] = field(default_factory=list)
    exports: list[ExportVersion] = field(default_factory=list)

    def items(self) -> list[RawPartition | SnapshotVersion | ExportVersion]:
        return [*self.partitions, *self.snapshot_versions, *self.exports]

    def summary(self) -> str:
        return (
            f"retention as of {self.as_of} ({self.policy.describe()}): "
            f"{len(self.partitions)} raw partitions, {len(self.snapshot_versions)} closed "
            f"snapshot versions ({len(self.pinned)} more kept: pinned by registered dataset "
            f"versions), {len(self.exports)} dataset exports"
        )


def _cutoff(as_of: date, days: int) -> date:
    return as_of - timedelta(days=days)


def expired_partitions(
    lake: Path, as_of: date, raw_days: int, tables: list[LakeTable] | None = None
) -> list[RawPartition]:
    """The partitions of the lake-backed source tables (`tables`, by default the
    manifest's) past the policy."""
    cutoff = _cutoff(as_of, raw_days)
    if tables is None:
        tables = lake_tables(load_manifest(), lake)
    found = []
    for table in tables:
        folder = table.folder
        name = folder.relative_to(lake).as_posix() if folder.is_relative_to(lake) else str(folder)
        for day, partition in table.partitions():
            if day < cutoff:
                files = len(list(partition.rglob("*.parquet")))
                found.append(RawPartition(name, day, partition, files))
    return sorted(found, key=lambda p: (p.source, p.ingest_date))


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    (count,) = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(count)


def _pinning_window(connection: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """The as-of dates the registered dataset versions read: from the first as-of date of
    the feature table to the newest registered as-of date (None: nothing registered)."""
    if not (_exists(connection, REGISTRY) and _exists(connection, FEATURES_TABLE)):
        return None
    (last,) = connection.execute(f"select max(as_of_date) from {REGISTRY}").fetchone()
    (first,) = connection.execute(f"select min(as_of_date) from {FEATURES_TABLE}").fetchone()
    if last is None or first is None:
        return None
    return first, last


def expired_snapshot_versions(
    connection: duckdb.DuckDBPyConnection, as_of: date, snapshot_days: int
) -> tuple[list[SnapshotVersion], list[SnapshotVersion]]:
    """(versions to prune, versions kept because registered dataset versions read them)."""
    cutoff = datetime.combine(_cutoff(as_of, snapshot_days), datetime.min.time())
    tables = [
        f"snapshots.{name}"
        for (name,) in connection.execute(
            "select table_name from information_schema.columns where table_schema = 'snapshots' "
            "and column_name = 'dbt_valid_to' order by 1"
        ).fetchall()
    ]
    window = _pinning_window(connection)
    prune: list[SnapshotVersion] = []
    pinned: list[SnapshotVersion] = []
    for table in tables:
        rows = connection.execute(
            f"select dbt_scd_id, dbt_valid_from, dbt_valid_to from {table} "
            "where dbt_valid_to is not null and dbt_valid_to < ? order by dbt_valid_to, dbt_scd_id",
            [cutoff],
        ).fetchall()
        for scd_id, valid_from, valid_to in rows:
            version = SnapshotVersion(table, scd_id, valid_from, valid_to)
            # read by as-of date d when valid_from < d <= valid_to (the state just before d)
            read = (
                table in PINNED_BY_DATASETS
                and window is not None
                and valid_from < datetime.combine(window[1], datetime.min.time())
                and valid_to >= datetime.combine(window[0], datetime.min.time())
            )
            (pinned if read else prune).append(version)
    return prune, pinned


def expired_exports(
    connection: duckdb.DuckDBPyConnection, exports: Path, export_versions: int
) -> list[ExportVersion]:
    order: dict[str, int] = {}
    if _exists(connection, REGISTRY):
        for position, (version_id,) in enumerate(
            connection.execute(f"select version_id from {REGISTRY} order by built_at").fetchall()
        ):
            order[version_id] = position
    found = []
    for dataset in DATASETS:
        folders = [p for p in (exports / dataset).glob("version=*") if p.is_dir()]
        # registered versions by registration; anything unregistered counts as oldest
        folders.sort(key=lambda p: (order.get(p.name.removeprefix("version="), -1), p.name))
        for folder in folders[: max(0, len(folders) - export_versions)]:
            found.append(ExportVersion(dataset, folder.name.removeprefix("version="), folder))
    return found


def plan_retention(
    policy: RetentionPolicy,
    as_of: date | None = None,
    *,
    database: Path | None = None,
    lake: Path | None = None,
    exports: Path | None = None,
    tables: list[LakeTable] | None = None,
) -> RetentionPlan:
    """What the policy removes as of `as_of` (today, UTC, by default); changes nothing.
    `tables`: the lake-backed source tables (default: the manifest's)."""
    as_of = as_of or datetime.now(UTC).date()
    plan = RetentionPlan(policy, as_of)
    lake = (lake or lake_dir()).resolve()
    plan.partitions = expired_partitions(lake, as_of, policy.raw_days, tables)
    with duckdb.connect(str(database or duckdb_path()), read_only=True) as connection:
        plan.snapshot_versions, plan.pinned = expired_snapshot_versions(
            connection, as_of, policy.snapshot_days
        )
        plan.exports = expired_exports(connection, exports or exports_dir(), policy.export_versions)
    return plan


def apply_retention(plan: RetentionPlan, database: Path | None = None) -> None:
    """Remove what the plan lists and record it; warehouse first, in one transaction."""
    applied_at = datetime.now(UTC).replace(tzinfo=None)
    policy = plan.policy.describe()
    with duckdb.connect(str(database or duckdb_path())) as connection:
        connection.execute("begin transaction")
        connection.execute("create schema if not exists audit")
        connection.execute(RETENTION_LOG_DDL)
        by_table: dict[str, list[str]] = {}
        for version in plan.snapshot_versions:
            by_table.setdefault(version.table, []).append(version.scd_id)
        for table, ids in by_table.items():
            connection.execute(f"delete from {table} where list_contains(?, dbt_scd_id)", [ids])
        for item in plan.items():
            kind = type(item).__name__
            connection.execute(
                f"insert into {RETENTION_LOG} values (?, ?, ?, ?, ?, ?)",
                [applied_at, plan.as_of, policy, kind, str(item), None],
            )
        connection.execute("commit")
    for partition in plan.partitions:
        shutil.rmtree(partition.path)
    for export in plan.exports:
        shutil.rmtree(export.path)


def pruned_raw_partitions(database: Path | None = None) -> list[str]:
    """The raw partitions retention has removed, as recorded in audit.retention_log."""
    database = database or duckdb_path()
    if not database.exists():
        return []
    with duckdb.connect(str(database), read_only=True) as connection:
        if not _exists(connection, RETENTION_LOG):
            return []
        rows = connection.execute(
            f"select item from {RETENTION_LOG} where kind = 'RawPartition' order by item"
        ).fetchall()
    return [row[0] for row in rows]


def main(argv: list[str] | None = None) -> int:
    defaults = RetentionPolicy()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-days", type=int, default=defaults.raw_days)
    parser.add_argument("--snapshot-days", type=int, default=defaults.snapshot_days)
    parser.add_argument("--export-versions", type=int, default=defaults.export_versions)
    parser.add_argument("--as-of", type=date.fromisoformat, help="reference date (default today)")
    parser.add_argument("--apply", action="store_true", help="remove (default: only list)")
    args = parser.parse_args(argv)
    try:
        policy = RetentionPolicy(args.raw_days, args.snapshot_days, args.export_versions)
    except ValueError as error:
        parser.error(str(error))
    plan = plan_retention(policy, args.as_of)
    for item in plan.items():
        print(("removing " if args.apply else "would remove ") + str(item))
    if args.apply:
        apply_retention(plan)
    print(plan.summary() + ("" if args.apply else " (dry run: nothing removed)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
