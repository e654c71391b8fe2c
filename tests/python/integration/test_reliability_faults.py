"""Crash safety, idempotency, concurrency and recovery on a tiny lake (docs/reliability.md).

One reference: a warehouse built from 33 days, then the 34th day landed and built without
interruption. Every fault below starts from the same state, suffers its fault and ends with
the reference's fingerprints in every table (run clocks aside, see `stable_fingerprints`)
and in the exports, and with nothing lost: rows landed = kept + duplicates + quarantined,
files landed = read + quarantined.
"""

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, run_dbt, warehouse_env

from warehouse.backup import WarehouseBusy, backup, publish_read_copy, restore
from warehouse.fingerprint import fingerprint, quote_identifier
from warehouse.governance.access import analyst_connection
from warehouse.settings import DBT_EXECUTABLE

# Long enough for the training set's embargoed time split, which the release refuses to leave
# empty (models/ml/ml_training_set.sql).
LAKE = {"seed": 5, "customers": 40, "start_date": "2026-03-01", "days": 97, "plan_days": 98}
# Models, seeds and snapshots; the dbt tests are the other suites' business.
BUILD = ("build", "--exclude", "resource_type:test", "resource_type:unit_test")
# What a daily partition rewrites, and what is built from the lake alone (Dagster's
# partitioned set): cheaper than BUILD where the rest is not under test.
PARTITIONED = (
    "build",
    "--select",
    "+fct_orders +path:models/staging +file_reconciliation +int_events_aggregated_to_session_parts",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
)
NOT_KILLED = "finished before the kill point"
SEED = 20261122
EXPORTS = ("training_set_latest", "customer_features_latest")
RUN_LOG = "audit.dbt_run_results"  # each run appends a record of itself
# Values of a run rather than of the data: dbt's ids of the invocation, and the snapshot's
# version hash (md5 of key and valid-from, which is the run's clock for a hard delete).
RUN_VALUES = {"dbt_invocation_id", "dbt_scd_id"}
INCREMENTAL_TABLES = (
    "staging.stg_shop__customers",
    "staging.stg_shop__products",
    "staging.stg_shop__orders",
    "staging.stg_shop__order_items",
    "staging.stg_shop__events",
    "intermediate.int_events_aggregated_to_session_parts",
    "audit.quarantined_rows",
    "audit.row_count_reconciliation",
    "audit.file_reconciliation",
    "marts.fct_orders",
)


@dataclass(frozen=True)
class World:
    root: Path
    env: dict[str, str]
    database: Path
    exports: Path
    base: Path  # the state before the day under test: warehouse file and exports
    clock: datetime  # run clocks (snapshot times, built_at) are later than this
    tables: dict[str, str]
    exported: dict[str, str]

    def reset(self, state: Path) -> None:
        """Put the warehouse file and the exports back to a saved state."""
        shutil.copyfile(state / "warehouse.duckdb", self.database)
        self.database.with_name(self.database.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(self.exports)
        shutil.copytree(state / "exports", self.exports, symlinks=True)


def save_state(database: Path, exports: Path, state: Path) -> None:
    state.mkdir(parents=True)
    shutil.copyfile(database, state / "warehouse.duckdb")
    shutil.copytree(exports, state / "exports", symlinks=True)


def stable_fingerprints(database: Path, clock: datetime) -> dict[str, str]:
    """The fingerprint of every table but the run log, with run clocks (timestamps after
    `clock`: when a snapshot noticed a deletion, when a version was registered) and run ids
    left out: two builds of the same data at different times must agree on everything else."""
    since = clock.strftime("%Y-%m-%d %H:%M:%S")
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1"
        ).fetchall()
        result = {}
        for (table,) in tables:
            if table == RUN_LOG:
                continue
            columns = connection.execute(f"describe {table}").fetchall()
            projection = []
            for name, data_type, *_ in columns:
                if name in RUN_VALUES:
                    continue
                quoted = quote_identifier(name)
                if data_type.startswith("TIMESTAMP"):
                    quoted = (
                        f"case when {quoted} >= timestamp '{since}' then null else {quoted} end"
                        f" as {quote_identifier(name)}"
                    )
                projection.append(quoted)
            relation = f"(select {', '.join(projection)} from {table}) as stable"
            result[table] = fingerprint(connection, relation)
    return result


def export_fingerprints(exports: Path) -> dict[str, str]:
    """Fingerprint of each export's files as readers see them under the final path."""
    result = {}
    with duckdb.connect() as connection:
        for name in EXPORTS:
            files = sorted(str(path) for path in (exports / name).glob("*/*.parquet"))
            for file in files:
                pq.read_metadata(file)  # a partial file has no footer: this raises
            listed = ", ".join("'" + file.replace("'", "''") + "'" for file in files)
            relation = f"read_parquet([{listed}], hive_partitioning = true)"
            result[name] = fingerprint(connection, relation) if files else "absent"
    return result


def assert_nothing_lost(database: Path, lake: Path) -> None:
    """Rows landed = kept + duplicates + corrections + quarantined; files landed = read +
    quarantined, every lake table's files counted on disk here."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows_off = connection.execute(
            "select coalesce(sum(abs(unaccounted_rows)), 0), count(*) "
            "from audit.row_count_reconciliation"
        ).fetchone()
        files = connection.execute(
            "select sum(files_landed), sum(files_read + files_quarantined), "
            "sum(abs(unaccounted_files)) from audit.file_reconciliation"
        ).fetchone()
    on_disk = sum(
        1
        for folder in (
            "customers",
            "products",
            "orders",
            "order_items",
            "events",
            "support/tickets",
        )
        for path in (lake / folder).rglob("*")
        if path.is_file()
    )
    assert rows_off[0] == 0 and rows_off[1] > 0
    assert files == (on_disk, on_disk, 0)


def generator(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=REPO_ROOT, check=True, capture_output=True
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("faults")
    clock = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    env = warehouse_env(root)
    lake, database, exports = root / "lake", root / "warehouse.duckdb", root / "exports"
    exports.mkdir()
    generator(
        "generate",
        *(f"--{key.replace('_', '-')}={value}" for key, value in LAKE.items()),
        f"--out={lake}",
    )
    run_dbt(env, *BUILD)
    save_state(database, exports, root / "base")
    generator("append", f"--out={lake}", "--days=1")
    run_dbt(env, *BUILD)
    save_state(database, exports, root / "reference")
    return World(
        root=root,
        env=env,
        database=database,
        exports=exports,
        base=root / "base",
        clock=clock,
        tables=stable_fingerprints(database, clock),
        exported=export_fingerprints(exports),
    )


@dataclass(frozen=True)
class KillPoint:
    """Where a build is killed: after the n-th node starts, or when a named node starts."""

    label: str
    matches: Callable[[str, int], bool]
    wait: Callable[[World], None]


def after_delay(seconds: float) -> Callable[[World], None]:
    return lambda _world: time.sleep(seconds)


def while_export_is_written(world: World) -> None:
    """Until the export's hidden staging folder exists: the COPY is under way."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not list(world.exports.glob(".*.writing-*")):
        time.sleep(0.005)


def kill_points(seed: int) -> list[KillPoint]:
    rng = random.Random(seed)
    nth = rng.randint(3, 30)
    return [
        KillPoint(f"after node {nth} starts", lambda _, n: n == nth, after_delay(rng.random() / 3)),
        KillPoint(
            "mid-snapshot",
            lambda uid, _: uid.startswith("snapshot."),
            after_delay(0.05 + rng.random() / 5),
        ),
        KillPoint(
            "mid-export", lambda uid, _: uid == "model.ml_warehouse.export_training_set",
            while_export_is_written,
        ),
    ]  # fmt: skip


def build_until(world: World, point: KillPoint) -> str:
    """Start a build and SIGKILL it at `point`; the unique id of the node it was in."""
    process = subprocess.Popen(
        [str(DBT_EXECUTABLE), *BUILD, "--log-format", "json"],
        cwd=REPO_ROOT,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    started, killed_in = 0, NOT_KILLED
    for line in process.stdout:
        try:
            node = json.loads(line).get("data", {}).get("node_info") or {}
        except json.JSONDecodeError:
            continue
        uid = node.get("unique_id", "")
        if node.get("node_status") != "started" or uid.startswith("operation."):
            continue
        started += 1
        if point.matches(uid, started):
            point.wait(world)
            process.send_signal(signal.SIGKILL)
            killed_in = uid
            break
    process.stdout.close()
    process.wait()
    return killed_in


def test_a_build_killed_anywhere_and_rerun_equals_an_uninterrupted_one(world: World) -> None:
    base_exports = export_fingerprints(world.base / "exports")
    for point in kill_points(SEED):
        world.reset(world.base)
        killed_in = build_until(world, point)
        assert killed_in != NOT_KILLED, point.label
        # Under the final paths: the old complete export or the new one, never a part.
        visible = export_fingerprints(world.exports)
        for name in EXPORTS:
            assert visible[name] in (base_exports[name], world.exported[name], "absent"), (
                point.label,
                killed_in,
                name,
            )
        run_dbt(world.env, *BUILD)
        assert stable_fingerprints(world.database, world.clock) == world.tables, (
            point.label,
            killed_in,
        )
        assert export_fingerprints(world.exports) == world.exported, (point.label, killed_in)
        assert not list(world.exports.glob(".*")), "staging leftovers after a successful build"
        assert_nothing_lost(world.database, world.root / "lake")


def test_rebuild_from_raw_reproduces_the_incremental_history(world: World) -> None:
    """A new warehouse built from the lake in one backfill equals the day-by-day one in every
    table built from the lake alone. (Snapshots record what each run saw: their history is
    kept by backups, not rebuildable from raw.)"""
    world.database.unlink()
    world.database.with_name(world.database.name + ".wal").unlink(missing_ok=True)
    run_dbt(world.env, *PARTITIONED)
    rebuilt = stable_fingerprints(world.database, world.clock)
    assert {table: rebuilt[table] for table in INCREMENTAL_TABLES} == {
        table: world.tables[table] for table in INCREMENTAL_TABLES
    }
    assert_nothing_lost(world.database, world.root / "lake")


def test_same_partition_again_changes_nothing_while_a_second_writer_is_refused(
    world: World,
) -> None:
    """Idempotency and concurrency in one build (the suite's time budget): the reference's
    last day is run again (as Dagster runs a partition) while a second dbt writer tries to
    start and readers read; the second writer is refused, the readers are served, and the
    warehouse ends exactly as before."""
    world.reset(world.root / "reference")
    last_day = datetime.fromisoformat(LAKE["start_date"]) + timedelta(days=LAKE["plan_days"] - 1)
    same_partition = json.dumps(
        {"min_date": str(last_day.date()), "max_date": str(last_day.date())}
    )
    read_copy = publish_read_copy(world.database, world.root / "warehouse.read.duckdb")
    with analyst_connection(read_copy) as connection:
        (orders,) = connection.execute("select count(*) from marts.fct_orders").fetchone()
    build = subprocess.Popen(
        [str(DBT_EXECUTABLE), *PARTITIONED, "--vars", same_partition, "--log-format", "json"],
        cwd=REPO_ROOT,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert build.stdout is not None
    for line in build.stdout:  # on-run-start: the build has opened the warehouse
        if "LogHookStartLine" in line:
            break
    # Frozen mid-run (SIGSTOP), the build holds the warehouse however fast or slow it is.
    build.send_signal(signal.SIGSTOP)
    try:
        second = run_dbt(world.env, "run", "--select", "lake_file_inventory", check=False)
        # Readers meanwhile: the read copy (analyst settings) and the exports' final paths.
        with analyst_connection(read_copy) as connection:
            assert connection.execute("select count(*) from marts.fct_orders").fetchone() == (
                orders,
            )
        assert export_fingerprints(world.exports) == world.exported
        with pytest.raises(WarehouseBusy, match="being written by another process"):
            publish_read_copy(world.database, world.root / "warehouse.read.duckdb")
        assert build.poll() is None
    finally:
        build.send_signal(signal.SIGCONT)
    output = build.communicate()[0]
    assert build.returncode == 0, output[-3000:]
    assert second.returncode != 0
    assert "is being written by another process, so this dbt run was refused" in second.stdout
    assert str(world.database) in second.stdout and f"(PID {build.pid})" in second.stdout
    assert stable_fingerprints(world.database, world.clock) == world.tables
    assert export_fingerprints(world.exports) == world.exported
    assert_nothing_lost(world.database, world.root / "lake")


def test_backup_and_restore_give_back_the_same_warehouse(world: World) -> None:
    world.reset(world.root / "reference")
    backups = world.root / "backups"
    copied = backup(world.database, backups, kind="file")
    exported = backup(world.database, backups, kind="export")
    with duckdb.connect(str(world.database)) as connection:  # an accident
        connection.execute("drop table marts.fct_orders cascade")
        connection.execute("delete from staging.stg_shop__orders")
    for source in (copied, exported):
        restore(source, world.database)
        assert stable_fingerprints(world.database, world.clock) == world.tables, source
    assert_nothing_lost(world.database, world.root / "lake")
    assert not list(backups.glob(".*")) and not list(world.root.glob(".warehouse*"))


def test_an_export_folder_is_swapped_in_whole(tmp_path: Path) -> None:
    """The plugin's publication: the final path holds the old folder until the new one,
    complete, replaces it; leftovers of killed writers are removed, the old folder goes."""
    from warehouse import duckdb_plugin

    final = tmp_path / "training_set_latest"
    (final / "entity_split=train").mkdir(parents=True)
    (final / "entity_split=train" / "old.parquet").write_text("old")
    killed = duckdb_plugin.staging_folder(final, "killed-run")
    killed.mkdir()
    (killed / "half.parquet").write_text("ha")
    staged = duckdb_plugin.staging_folder(final, "this-run")
    (staged / "entity_split=test").mkdir(parents=True)
    (staged / "entity_split=test" / "new.parquet").write_text("new")
    duckdb_plugin.publish_folder(staged, final)
    duckdb_plugin.remove_stale_staging(final)
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*.parquet")) == [
        "entity_split=test/new.parquet"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training_set_latest"]
