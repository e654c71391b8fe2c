"""Run-order invariance: the ML tables for a date do not depend on how the warehouse was run.

One generated lake of DAYS days is built three ways, each into its own folder (warehouse
file, dbt target, exports):

A. backfill: all days landed, then what a Dagster backfill of the whole range runs (the
   `daily_build` selector with the range as its window), then the release;
B. daily runs: the first day lands, then each day lands and is built as the Dagster daily
   partition builds it (the `daily_build` selector, snapshots included, the day as the window
   in WAREHOUSE_WINDOW_MIN_DATE / _MAX_DATE, unit tests left out as orchestration/lib/dbt_build.py
   leaves them out), with the weekly release (`dataset_release`) after each Sunday's run, as
   the Monday schedule runs it, and once more after the last day;
C. a copy of B's warehouse after `dbt build --full-refresh` (snapshots keep their history,
   so C against B isolates what the incremental runs themselves depend on).

Every table and view of the ml schema (the exports' Parquet included: the export_ models are
views over those files) must have the same content in A, B and C, but for the run-time
columns listed in RUN_TIME_COLUMNS. Registered dataset versions of the same as-of date must
have the same fingerprint, and each version B registered must rebuild from A's and C's
history (`warehouse.datasets rebuild`'s SQL) to that fingerprint.

What it cannot see: the three builds run at the same wall-clock time, so what depends on
when a run happened (a snapshot's deletion version is valid from the clock of the run that
noticed it) is the same in all of them. And a Dagster daily run is several dbt steps, the
unpartitioned ones (seeds, base views, snapshots, dims, labels) without the window; here it
is one `dbt build --selector daily_build` with the window, as the benchmark runs it.

Slow (more than seventy dbt runs): marked `very_slow`, left out of `make test` and run by
`make test-slow`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import REPO_ROOT, run_dbt, run_generator, warehouse_env

from orchestration.partitions import WINDOW_VARIABLES, IngestWindow
from warehouse.fingerprint import fingerprint, relation_columns
from warehouse.lake_sources import project_lake_sources

pytestmark = pytest.mark.very_slow

SEED = 11
CUSTOMERS = 40
START = date(2026, 3, 1)  # a Sunday
DAYS = 70
LAST = START + timedelta(days=DAYS - 1)
# The release refuses a training set with an empty split (tests/generic/
# no_empty_training_splits.sql). With a train and a test split only (as the benchmark runs
# it: WAREHOUSE_SPLIT_VALIDATION_SHARE=0), the labelled as-of dates must span one 29-day
# embargo gap and at least 4 more days, so that 30% of them round to a test day. Labels need
# their 30-day window landed: the release of day n (counted from 0) labels n - 29 as-of
# dates, so the first that can be split is day 62.
SPLIT_SETTINGS = {"WAREHOUSE_SPLIT_VALIDATION_SHARE": "0"}
FIRST_SPLITTABLE_DAY = START + timedelta(days=62)
# Production's releases run on Mondays after the daily run of Sunday's partition
# (orchestration/schedules.py), and once more here after the last day.
RELEASE_DAYS = tuple(
    sorted(
        {
            day
            for day in (START + timedelta(days=n) for n in range(DAYS))
            if day.weekday() == 6 and day >= FIRST_SPLITTABLE_DAY
        }
        | {LAST}
    )
)

# What a Dagster step adds to every dbt command (orchestration/lib/dbt_build.py, run_dbt).
DAGSTER_DBT_ARGS = ("--exclude-resource-type", "unit_test")
DAILY = ("build", "--selector", "daily_build", *DAGSTER_DBT_ARGS)
RELEASE = ("build", "--selector", "dataset_release", *DAGSTER_DBT_ARGS)

# Columns that record the run, not the data: left out of every comparison. Nothing else is.
RUN_TIME_COLUMNS = {
    "ml_dataset_versions": ("dbt_invocation_id", "built_at"),
}
# The registry is append-only and holds one row per release: B released weekly, A once, so
# the table is compared by version (dataset and as-of date), not as a whole.
REGISTRY = "ml_dataset_versions"
REGISTRY_CONTENT = (
    "version_id",
    "row_count",
    "entity_count",
    "row_counts_by_split",
    "label_balance",
    "fingerprint",
    "git_commit",
)
# Rows are compared by these keys where a table has them, to name the columns that differ.
KEYS = ("customer_id", "as_of_date")


@dataclass(frozen=True)
class Build:
    name: str
    root: Path
    env: dict[str, str]

    @property
    def database(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def lake(self) -> Path:
        return Path(self.env["WAREHOUSE_LAKE_DIR"])

    def dbt(self, *args: str, window: IngestWindow | None = None) -> None:
        """`warehouse-dbt <args>`, with `window` as the environment gives it to a Dagster
        step (partitions.window_environment), or with none at all."""
        env = {name: value for name, value in self.env.items() if name not in WINDOW_VARIABLES}
        env.update(window.environment() if window else {})
        run_dbt(env, *args)


def new_build(name: str, root: Path, lake: Path) -> Build:
    root.mkdir(parents=True, exist_ok=True)
    (root / "exports").mkdir(exist_ok=True)
    env = warehouse_env(root)
    env["WAREHOUSE_LAKE_DIR"] = str(lake)
    env.update(SPLIT_SETTINGS)
    return Build(name, root, env)


def generate(lake: Path, days: int) -> None:
    run_generator(
        "generate",
        f"--seed={SEED}",
        f"--customers={CUSTOMERS}",
        f"--start-date={START.isoformat()}",
        f"--days={days}",
        f"--plan-days={DAYS}",
        f"--out={lake}",
    )


def build_backfill(root: Path) -> Build:
    """A: every day landed, one backfill run of the whole range, then the release."""
    build = new_build("A (backfill)", root, root / "lake")
    generate(build.lake, DAYS)
    build.dbt(*DAILY, window=IngestWindow(START, LAST))
    build.dbt(*RELEASE)
    return build


def build_daily(root: Path) -> Build:
    """B: a day lands, its daily run; the weekly release; day after day."""
    build = new_build("B (daily runs)", root, root / "lake")
    generate(build.lake, 1)
    for n in range(DAYS):
        day = START + timedelta(days=n)
        if n:
            run_generator("append", f"--out={build.lake}", "--days=1")
        build.dbt(*DAILY, window=IngestWindow(day, day))
        if day in RELEASE_DAYS:
            build.dbt(*RELEASE)
    return build


def copy_build(source: Build, name: str, root: Path) -> Build:
    """A copy of `source`'s warehouse in `root`, reading the same lake."""
    build = new_build(name, root, source.lake)
    shutil.copy(source.database, build.database)
    return build


def build_full_refresh(source: Build, root: Path) -> Build:
    """C: `source`'s warehouse after `dbt build --full-refresh`."""
    build = copy_build(source, "C (B + full refresh)", root)
    build.dbt("build", "--full-refresh")
    return build


@dataclass(frozen=True)
class Builds:
    backfill: Build
    daily: Build
    full_refresh: Build


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    root = tmp_path_factory.mktemp("run_order")
    # A runs beside B: two dbt processes on two cores, each its own warehouse and lake.
    with ThreadPoolExecutor(max_workers=1) as pool:
        backfill = pool.submit(build_backfill, root / "a")
        daily = build_daily(root / "b")
        yield Builds(backfill.result(), daily, build_full_refresh(daily, root / "c"))


# --- comparing warehouses --------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """A build's ml relations, copied into an in-memory database for comparison."""

    build: Build
    label: str
    columns: dict[str, list[str]]  # relation -> compared columns
    fingerprints: dict[str, str]

    def table(self, relation: str) -> str:
        return f'"{self.label}__{relation}"'


def compared_columns(connection: duckdb.DuckDBPyConnection, relation: str, name: str) -> list[str]:
    excluded = RUN_TIME_COLUMNS.get(name, ())
    return [
        column for column, _ in relation_columns(connection, relation) if column not in excluded
    ]


def load(connection: duckdb.DuckDBPyConnection, build: Build, label: str) -> Loaded:
    """Copy every ml relation of `build` (run-time columns left out) into `connection`.

    The warehouse is attached as "warehouse", the catalog name its views and dbt's compiled
    SQL use, so views (the exports' Parquet, v2 of the features) read as they do in dbt.
    """
    columns, fingerprints = {}, {}
    connection.execute(f"attach '{build.database}' as warehouse (read_only)")
    try:
        for name in ml_relations(connection):
            relation = f'warehouse.ml."{name}"'
            columns[name] = compared_columns(connection, relation, name)
            fingerprints[name] = fingerprint(connection, relation, columns[name])
            selected = ", ".join(f'"{column}"' for column in columns[name])
            connection.execute(
                f'create table "{label}__{name}" as select {selected} from {relation}'
            )
    finally:
        connection.execute("detach warehouse")
    return Loaded(build, label, columns, fingerprints)


def ml_relations(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = 'warehouse' and table_schema = 'ml' order by table_name"
    ).fetchall()
    return [name for (name,) in rows]


def symmetric_difference(
    connection: duckdb.DuckDBPyConnection, left: str, right: str, columns: Sequence[str]
) -> tuple[int, int]:
    """(rows only in `left`, rows only in `right`), as multisets."""
    selected = ", ".join(f'"{column}"' for column in columns)
    counts = []
    for first, second in ((left, right), (right, left)):
        (count,) = connection.execute(
            f"select count(*) from (select {selected} from {first} "
            f"except all select {selected} from {second})"
        ).fetchone()
        counts.append(count)
    return counts[0], counts[1]


def differing_columns(
    connection: duckdb.DuckDBPyConnection, left: str, right: str, columns: Sequence[str]
) -> str:
    """Where both tables are keyed by customer and as-of date: how many keys each side lacks
    and, among the keys both have, how many rows differ in each column."""
    if not set(KEYS) <= set(columns):
        return ""
    for table in (left, right):
        (duplicated,) = connection.execute(
            f"select count(*) - count(distinct ({', '.join(KEYS)})) from {table}"
        ).fetchone()
        if duplicated:
            return ""
    join = " and ".join(f"l.{key} = r.{key}" for key in KEYS)
    (only_left,) = connection.execute(
        f"select count(*) from {left} as l anti join {right} as r on {join}"
    ).fetchone()
    (only_right,) = connection.execute(
        f"select count(*) from {right} as r anti join {left} as l on {join}"
    ).fetchone()
    others = [column for column in columns if column not in KEYS]
    counts = connection.execute(
        "select "
        + ", ".join(f'count(*) filter (where l."{c}" is distinct from r."{c}")' for c in others)
        + f" from {left} as l join {right} as r on {join}"
    ).fetchone()
    differing = {column: count for column, count in zip(others, counts, strict=True) if count}
    (first_date,) = connection.execute(
        f"select min(l.as_of_date) from {left} as l join {right} as r on {join} where "
        + " or ".join(f'l."{c}" is distinct from r."{c}"' for c in differing or others)
    ).fetchone()
    return (
        f"; keys only in one side: {only_left} / {only_right}; rows differing by column "
        f"among shared keys: {differing or 'none'}"
        + (f", first as-of date differing {first_date}" if differing else "")
    )


def table_differences(
    connection: duckdb.DuckDBPyConnection, left: Loaded, right: Loaded
) -> list[str]:
    """One line per ml relation whose content differs between two loaded builds."""
    messages = []
    for name in sorted(set(left.columns) ^ set(right.columns)):
        where = left.build.name if name in left.columns else right.build.name
        messages.append(f"ml.{name}: only in {where}")
    for name in sorted(set(left.columns) & set(right.columns)):
        if name == REGISTRY:
            continue  # compared by version: test_registered_versions_agree
        if left.columns[name] != right.columns[name]:
            messages.append(
                f"ml.{name}: columns differ: {left.columns[name]} != {right.columns[name]}"
            )
            continue
        if left.fingerprints[name] == right.fingerprints[name]:
            continue
        only_left, only_right = symmetric_difference(
            connection, left.table(name), right.table(name), left.columns[name]
        )
        messages.append(
            f"ml.{name}: {left.fingerprints[name]} in {left.build.name}, "
            f"{right.fingerprints[name]} in {right.build.name}; symmetric difference "
            f"{only_left + only_right} rows ({only_left} only in {left.label}, "
            f"{only_right} only in {right.label})"
            + differing_columns(connection, left.table(name), right.table(name), left.columns[name])
        )
    return messages


@pytest.fixture(scope="module")
def loaded(builds: Builds) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, Loaded]]]:
    with duckdb.connect() as connection:
        yield (
            connection,
            {
                label: load(connection, build, label)
                for label, build in (
                    ("A", builds.backfill),
                    ("B", builds.daily),
                    ("C", builds.full_refresh),
                )
            },
        )


def test_the_builds_read_the_same_lake(builds: Builds) -> None:
    """A's lake (generated at once) and B's (a day at a time) hold the same bytes, so any
    difference below comes from how the warehouse was run."""

    def files(lake: Path) -> dict[str, bytes]:
        return {
            str(path.relative_to(lake)): path.read_bytes()
            for path in sorted(lake.rglob("*.parquet"))
        }

    backfill, daily = files(builds.backfill.lake), files(builds.daily.lake)
    days_per_table = Counter(str(Path(name).parent.parent) for name in backfill)
    declared_tables = {source.folder_in_lake for source in project_lake_sources()}
    assert days_per_table == dict.fromkeys(declared_tables, DAYS)
    assert sorted(backfill) == sorted(daily)
    assert [name for name in backfill if backfill[name] != daily[name]] == []


@pytest.mark.parametrize("other", ["A", "C"])
def test_ml_tables_do_not_depend_on_the_run_order(
    loaded: tuple[duckdb.DuckDBPyConnection, dict[str, Loaded]], other: str
) -> None:
    """Every ml relation (exports included) has the same rows as after the daily runs."""
    connection, builds = loaded
    differences = table_differences(connection, builds[other], builds["B"])
    assert not differences, (
        f"{builds[other].build.name} and {builds['B'].build.name} differ "
        f"({len(differences)} ml relations; run-time columns left out: {RUN_TIME_COLUMNS}):\n"
        + "\n".join(differences)
    )


# --- the registry -----------------------------------------------------------------------


def registered(build: Build) -> dict[tuple[str, date], dict[str, object]]:
    """(dataset, as-of date) -> the content of the version registered last for it."""
    with duckdb.connect(str(build.database), read_only=True) as connection:
        cursor = connection.execute(
            f"select dataset_name, as_of_date, {', '.join(REGISTRY_CONTENT)} "
            f"from ml.{REGISTRY} order by built_at"
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(row.pop("dataset_name"), row.pop("as_of_date")): row for row in rows}


# `warehouse.datasets rebuild`'s own compilation (the dataset's model with dataset_as_of,
# --full-refresh), in a process of its own with the test's environment.
COMPILE = (
    "import sys; from datetime import date; "
    "from warehouse.datasets import compiled_dataset_sql, dataset_model; "
    "sys.stdout.write(compiled_dataset_sql(dataset_model(sys.argv[1]), "
    "date.fromisoformat(sys.argv[2])))"
)


def compiled_dataset(scratch: Path, dataset: str, as_of: date) -> str:
    """The SQL `datasets rebuild` runs for `dataset` as of `as_of`. Compiled against an empty
    warehouse of its own (the SQL does not depend on the data), so compilations can run at
    once; its file is named warehouse.duckdb, the catalog name the SQL then uses."""
    root = scratch / f"{dataset}-{as_of.isoformat()}"
    env = new_build("compile", root, root / "lake").env
    result = subprocess.run(
        [sys.executable, "-c", COMPILE, dataset, as_of.isoformat()],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def rebuilt_fingerprint(build: Build, sql: str) -> str:
    """`datasets rebuild`: the compiled SQL over a read-only attach of the warehouse."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{build.database}' as warehouse (read_only)")
        connection.execute("use warehouse")
        connection.execute(f"create temp table rebuilt_dataset as {sql}")
        return fingerprint(connection, "temp.rebuilt_dataset")


def test_registered_versions_agree(builds: Builds, tmp_path: Path) -> None:
    """A version registered for the same dataset and as-of date has the same content in
    every build; and every version B's weekly releases registered rebuilds, from A's and
    from C's history as from B's own, to the fingerprint B registered."""
    every = [builds.backfill, builds.daily, builds.full_refresh]
    registries = {build.name: registered(build) for build in every}
    daily = registries[builds.daily.name]

    differences = []
    for build in (builds.backfill, builds.full_refresh):
        for key in sorted(registries[build.name]):
            theirs, ours = registries[build.name][key], daily.get(key)
            if ours is None:
                differences.append(
                    f"{key[0]} as of {key[1]}: registered by {build.name}, not by "
                    f"{builds.daily.name} (its as-of dates: {sorted({d for _, d in daily})})"
                )
                continue
            changed = {c: (theirs[c], ours[c]) for c in REGISTRY_CONTENT if theirs[c] != ours[c]}
            if changed:
                differences.append(
                    f"{key[0]} as of {key[1]}: registered by {build.name} and "
                    f"{builds.daily.name} with different content (theirs, B's): {changed}"
                )

    keys = sorted(daily)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sqls = list(pool.map(lambda key: compiled_dataset(tmp_path, *key), keys))
    for (dataset, as_of), sql in zip(keys, sqls, strict=True):
        for build in every:
            rebuilt = rebuilt_fingerprint(build, sql)
            if rebuilt != daily[dataset, as_of]["fingerprint"]:
                differences.append(
                    f"{dataset} as of {as_of}: registered by {builds.daily.name} as "
                    f"{daily[dataset, as_of]['fingerprint']}, rebuilt from {build.name}'s "
                    f"history as {rebuilt}"
                )
    assert not differences, "\n".join(differences)


# --- re-running a day --------------------------------------------------------------------


def test_rerunning_the_last_daily_run_changes_no_ml_relation(
    builds: Builds, tmp_path: Path
) -> None:
    """The daily run of the last day, run again on a copy of B, changes no ml relation."""
    again = copy_build(builds.daily, "B, last day run again", tmp_path / "again")
    with duckdb.connect() as connection:
        before = load(connection, again, "before")
        again.dbt(*DAILY, window=IngestWindow(LAST, LAST))
        after = load(connection, again, "after")
        differences = table_differences(connection, before, after)
        differences += [
            f"ml.{REGISTRY}: {before.fingerprints[REGISTRY]} -> {after.fingerprints[REGISTRY]}"
        ] * (before.fingerprints[REGISTRY] != after.fingerprints[REGISTRY])
    assert not differences, "\n".join(differences)
