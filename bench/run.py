"""The measured steps of one scale, each beside its plain-DuckDB baseline.

For a scale the benchmark generates its lake (fixed seed), then measures, `repeat` times
each and always from the same starting state (a copy of the database file, and of dbt's
partial-parse state after the full build, the daily run or the snapshot preparation):

1. full build: `dbt build` on an empty warehouse over 90 days of history;
2. daily incremental: the 91st day lands; `dbt build --selector daily_build` with that day
   as the window (WAREHOUSE_WINDOW_MIN_DATE / _MAX_DATE, as the Dagster daily job gives a
   partition's window to dbt). Full builds and daily runs take turns (full, daily, full,
   daily, ...), so the two figures the daily target divides are measured in the same
   minutes: this host's speed moves by a tenth or more within one bench run. The 91st
   day is generated once and its folders are moved out of the lake for each full build
   and back for each daily run (a rename: same paths, same files, same times);
3. dataset release: `dbt build --selector dataset_release` after that day, what the weekly
   Dagster release job runs (the training set from the whole history, the registry);
4. snapshot run: `dbt snapshot` once staging holds the 91st day;
5. training-set rebuild: `python -m warehouse.datasets rebuild` of the version the full
   build registered (compile with dbt, recompute from history, compare fingerprints);
6. a code location coming up: `dbt parse` and the Dagster definitions in one fresh process,
   as `dagster dev` loads them; and a cold `dbt parse` (no partial parsing) on its own.

Steps 1-5 each have a baseline (bench/baseline.py): the SQL dbt ran for that step, replayed
through the duckdb Python API on the same starting state.
"""

import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bench.measure import Measurement, StepFailed, measure, run_quietly
from bench.scales import SEED, SPLIT_VALIDATION_SHARE, START_DATE, Scale
from orchestration.partitions import IngestWindow
from warehouse.settings import DBT_EXECUTABLE

REPO_ROOT = Path(__file__).resolve().parents[1]
STEPS = (
    "full_build",
    "daily_incremental",
    "dataset_release",
    "snapshot_run",
    "training_set_rebuild",
    "parse_and_load",
)
PARTIAL_PARSE = "partial_parse.msgpack"
PYTHON = sys.executable
DBT = str(DBT_EXECUTABLE)


@dataclass
class StepResult:
    dbt: list[Measurement] = field(default_factory=list)
    baseline: list[Measurement] = field(default_factory=list)

    @property
    def dbt_seconds(self) -> float:
        return statistics.median(m.seconds for m in self.dbt)

    @property
    def baseline_seconds(self) -> float | None:
        if not self.baseline:
            return None
        return statistics.median(m.seconds for m in self.baseline)

    @property
    def ratio(self) -> float | None:
        baseline = self.baseline_seconds
        return None if baseline is None else self.dbt_seconds / baseline

    def summary(self) -> dict[str, Any]:
        return {
            "dbt_seconds_median": round(self.dbt_seconds, 2),
            "dbt_peak_rss_mib_max": round(max(m.peak_rss_mib for m in self.dbt), 1),
            "baseline_seconds_median": (
                None if self.baseline_seconds is None else round(self.baseline_seconds, 2)
            ),
            "baseline_peak_rss_mib_max": (
                round(max(m.peak_rss_mib for m in self.baseline), 1) if self.baseline else None
            ),
            "ratio_to_baseline": None if self.ratio is None else round(self.ratio, 2),
            "runs": {
                "dbt": [asdict(m) for m in self.dbt],
                "baseline": [asdict(m) for m in self.baseline],
            },
        }


@dataclass
class ScaleRun:
    scale: Scale
    work: Path
    repeat: int
    progress: Callable[[str], None]
    # False for a run that only shows a scale completes (the memory ceiling at L)
    with_baseline: bool = True
    lake_rows: dict[str, int] = field(default_factory=dict)
    steps: dict[str, StepResult] = field(default_factory=dict)
    baseline_mismatches: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    # -- places ---------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.work / self.scale.name

    @property
    def database(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def baseline_database(self) -> Path:
        # same file name, so the relation names dbt compiled ("warehouse"."ml"...) resolve
        return self.root / "baseline" / "warehouse.duckdb"

    @property
    def states(self) -> Path:
        return self.root / "states"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in [n for n in env if n.startswith(("WAREHOUSE_", "DBT_", "OPENLINEAGE"))]:
            del env[name]
        env.update(
            WAREHOUSE_TARGET="dev",
            WAREHOUSE_DATA_DIR=str(self.root),
            WAREHOUSE_LAKE_DIR=str(self.root / "lake"),
            WAREHOUSE_DUCKDB_PATH=str(self.database),
            WAREHOUSE_EXPORTS_DIR=str(self.root / "exports"),
            WAREHOUSE_LAKEHOUSE_DIR=str(self.root / "lakehouse"),
            WAREHOUSE_GIT_COMMIT="benchmark",
            WAREHOUSE_MONITORING="off",
            # train/test time split: 90 days are too short for a validation split between
            # two embargo gaps (bench/scales.py)
            WAREHOUSE_SPLIT_VALIDATION_SHARE=SPLIT_VALIDATION_SHARE,
            DBT_PROFILES_DIR=str(REPO_ROOT / "profiles"),
            DBT_TARGET_PATH=str(self.root / "target"),
            DBT_LOG_PATH=str(self.root / "dbt-logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            PYTHONPATH=str(REPO_ROOT),
        )
        if self.scale.memory_limit:
            env["WAREHOUSE_DUCKDB_MEMORY_LIMIT"] = self.scale.memory_limit
            env["WAREHOUSE_DBT_THREADS"] = "1"
        return env

    # -- helpers --------------------------------------------------------------------------
    def _quiet(self, *command: str, log: str, environment: Mapping[str, str] = {}) -> None:
        run_quietly(command, {**self.env(), **environment}, REPO_ROOT, self.logs / log)

    def _measure(self, *command: str, log: str, environment: Mapping[str, str] = {}) -> Measurement:
        return measure(command, {**self.env(), **environment}, REPO_ROOT, self.logs / log)

    def _save(self, name: str) -> None:
        """Keep the warehouse and dbt's artifacts of the step just run, as a named state."""
        self.states.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.database, self.states / f"{name}.duckdb")
        for artifact in ("run_results.json", "manifest.json", PARTIAL_PARSE):
            shutil.copyfile(self.root / "target" / artifact, self.states / f"{name}.{artifact}")

    def _restore_parse_state(self, name: str) -> None:
        """dbt's partial-parse state as the step `name` left it. A step that changes the vars
        (the daily window) then re-parses in every attempt, as it does in production, where
        each day's window is new: not only in the first attempt."""
        shutil.copyfile(
            self.states / f"{name}.{PARTIAL_PARSE}", self.root / "target" / PARTIAL_PARSE
        )

    def _restore(self, name: str | None, database: Path) -> None:
        database.parent.mkdir(parents=True, exist_ok=True)
        for stale in (database, database.with_name(database.name + ".wal")):
            stale.unlink(missing_ok=True)
        if name is not None:
            shutil.copyfile(self.states / f"{name}.duckdb", database)

    def _baseline(self, step: str, artifacts: str, start: str | None) -> None:
        result = self.steps[step]
        if not self.with_baseline:
            self.progress(self._line(step))
            return
        for attempt in range(self.repeat):
            self._restore(start, self.baseline_database)
            result.baseline.append(
                self._measure(
                    PYTHON,
                    "-m",
                    "bench.baseline",
                    "replay",
                    "--database",
                    str(self.baseline_database),
                    "--run-results",
                    str(self.states / f"{artifacts}.run_results.json"),
                    "--manifest",
                    str(self.states / f"{artifacts}.manifest.json"),
                    "--script",
                    str(self.root / f"baseline_{step}.sql"),
                    *self._memory_limit_option(),
                    log=f"{step}.baseline.{attempt}.log",
                )
            )
        self._check_baseline(step)
        self.progress(self._line(step))

    def _memory_limit_option(self) -> list[str]:
        return ["--memory-limit", self.scale.memory_limit] if self.scale.memory_limit else []

    def _check_baseline(self, step: str) -> None:
        """The baseline must build what dbt built: the same tables with the same row counts."""
        mismatches = row_count_mismatches(
            self.states / f"{step}.duckdb",
            self.baseline_database,
            self.states / f"{step}.run_results.json",
        )
        self.baseline_mismatches[step] = mismatches
        if mismatches:
            self.progress(f"  {self.scale.name} {step}: baseline differs from dbt: {mismatches}")

    def _line(self, step: str) -> str:
        result = self.steps[step]
        text = f"  {self.scale.name} {step}: dbt {result.dbt_seconds:.1f} s"
        if result.ratio is not None:
            text += f", baseline {result.baseline_seconds:.1f} s, ratio {result.ratio:.2f}"
        return text

    # -- the steps ------------------------------------------------------------------------
    @property
    def new_day(self) -> str:
        start = date.fromisoformat(START_DATE)
        return (start + timedelta(days=self.scale.history_days)).isoformat()

    def window_environment(self) -> dict[str, str]:
        return IngestWindow.from_keys(self.new_day, self.new_day).environment()

    def generate(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "exports").mkdir(parents=True)
        self.logs.mkdir(parents=True)
        self.progress(
            f"{self.scale.name}: generating {self.scale.customers:,} customers over "
            f"{self.scale.history_days} days (log: {self.logs / 'generate.log'})"
        )
        self._quiet(
            PYTHON,
            "-m",
            "generator",
            "generate",
            f"--seed={SEED}",
            f"--customers={self.scale.customers}",
            f"--start-date={START_DATE}",
            f"--days={self.scale.history_days}",
            f"--plan-days={self.scale.history_days + 1}",
            f"--out={self.root / 'lake'}",
            log="generate.log",
        )
        self.lake_rows = count_lake_rows(self.root / "lake")
        self.progress(
            f"{self.scale.name}: lake of "
            + ", ".join(f"{rows:,} {table}" for table, rows in self.lake_rows.items())
        )

    @property
    def held_day(self) -> Path:
        """Where the 91st day's folders wait while a full build runs."""
        return self.root / "held_day"

    def _day_folders(self, lake: Path) -> list[Path]:
        return sorted(lake.glob(f"*/ingest_date={self.new_day}"))

    def _move_day_folders(self, source: Path, target: Path) -> None:
        for folder in self._day_folders(source):
            destination = target / folder.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(destination)
        if self._day_folders(source):
            raise StepFailed(f"the day {self.new_day}'s folders did not all leave {source}")

    def _land_new_day(self) -> None:
        """The 91st day's folders into the lake, for a daily run."""
        self._move_day_folders(self.held_day, self.root / "lake")

    def _hold_new_day(self) -> None:
        """The 91st day's folders out of the lake, for a full build."""
        self._move_day_folders(self.root / "lake", self.held_day)

    def append_new_day(self) -> None:
        """Generate the 91st day once, and hold it back until a daily run."""
        lake = f"--out={self.root / 'lake'}"
        self._quiet(PYTHON, "-m", "generator", "append", lake, "--days=1", log="generate.log")
        self._hold_new_day()

    def _full_build_attempt(self, attempt: int) -> None:
        self._hold_new_day()
        self._restore(None, self.database)
        if attempt > 0:
            # as the first attempt left it: not re-parsed for the daily run's window
            self._restore_parse_state("full_build")
        shutil.rmtree(self.root / "exports", ignore_errors=True)
        (self.root / "exports").mkdir()
        result = self.steps["full_build"]
        result.dbt.append(self._measure(DBT, "build", log=f"full_build.dbt.{attempt}.log"))
        if attempt == 0:
            self._save("full_build")

    def _daily_attempt(self, attempt: int) -> None:
        self._land_new_day()
        self._dbt_attempt(
            "daily_incremental",
            "full_build",
            "build",
            "--selector",
            "daily_build",
            log=f"daily.dbt.{attempt}.log",
            environment=self.window_environment(),
        )

    def full_build_and_daily(self, with_daily: bool) -> None:
        """The full build and, when asked, the daily run, in turns; then their baselines
        (each replayed with the lake as its dbt run saw it)."""
        self.steps["full_build"] = StepResult()
        if with_daily:
            self.steps["daily_incremental"] = StepResult()
            self.append_new_day()
        for attempt in range(self.repeat):
            self._full_build_attempt(attempt)
            if with_daily:
                self._daily_attempt(attempt)
        if with_daily:
            self._save("daily_incremental")
            self._hold_new_day()
        self._baseline("full_build", "full_build", start=None)
        if with_daily:
            self._land_new_day()
            self._baseline("daily_incremental", "daily_incremental", start="full_build")

    def _dbt_step(
        self,
        step: str,
        start: str,
        *dbt_args: str,
        log: str,
        environment: Mapping[str, str] = {},
    ) -> None:
        """`dbt <dbt_args>` (with `environment` added), `repeat` times, each from the saved
        state `start`; the result is saved as state `step`, and the baseline replays it from
        the same start."""
        self.steps[step] = StepResult()
        for attempt in range(self.repeat):
            self._dbt_attempt(
                step, start, *dbt_args, log=f"{log}.dbt.{attempt}.log", environment=environment
            )
        self._save(step)
        self._baseline(step, step, start=start)

    def _dbt_attempt(
        self,
        step: str,
        start: str,
        *dbt_args: str,
        log: str,
        environment: Mapping[str, str] = {},
    ) -> None:
        """One measured `dbt <dbt_args>` of `step`, from the saved state `start` (database
        and partial-parse state)."""
        self._restore(start, self.database)
        self._restore_parse_state(start)
        self.steps[step].dbt.append(self._measure(DBT, *dbt_args, log=log, environment=environment))

    def dataset_release(self) -> None:
        self._dbt_step(
            "dataset_release",
            "daily_incremental",
            "build",
            "--selector",
            "dataset_release",
            log="release",
        )

    def snapshot_run(self) -> None:
        # staging (and the views over it) with the new day, as before a daily run's snapshots
        self._restore("full_build", self.database)
        self._quiet(
            DBT,
            "run",
            "--select",
            "staging",
            "intermediate",
            log="snapshot.prepare.log",
            environment=self.window_environment(),
        )
        self._save("before_snapshot")
        self._dbt_step("snapshot_run", "before_snapshot", "snapshot", log="snapshot")

    def training_set_rebuild(self) -> None:
        self._restore("daily_incremental", self.database)
        as_of = first_training_set_version(self.database)
        result = self.steps["training_set_rebuild"] = StepResult()
        for attempt in range(self.repeat):
            result.dbt.append(
                self._measure(
                    PYTHON,
                    "-m",
                    "warehouse.datasets",
                    "rebuild",
                    "--dataset",
                    "training_set",
                    "--as-of",
                    as_of,
                    log=f"rebuild.dbt.{attempt}.log",
                )
            )
        if not self.with_baseline:
            self.progress(self._line("training_set_rebuild"))
            return
        sql = self.root / "rebuild_training_set.sql"
        self._quiet(
            PYTHON,
            "-m",
            "bench.baseline",
            "compile-dataset",
            "--as-of",
            as_of,
            "--output",
            str(sql),
            log="rebuild.compile.log",
        )
        for attempt in range(self.repeat):
            result.baseline.append(
                self._measure(
                    PYTHON,
                    "-m",
                    "bench.baseline",
                    "rebuild",
                    "--database",
                    str(self.database),
                    "--sql",
                    str(sql),
                    log=f"rebuild.baseline.{attempt}.log",
                )
            )
        self.progress(self._line("training_set_rebuild"))

    def parse_and_load(self) -> None:
        """How long a code location takes to come up: what `dagster dev` does on every load
        (`dbt parse`, partial parsing on, then the definitions), and a cold `dbt parse`
        (no saved parse state: a fresh checkout, or after a dbt upgrade)."""
        cold = self.steps["dbt_parse_cold"] = StepResult()
        load = self.steps["dagster_dev_load"] = StepResult()
        count_assets = (
            "from orchestration.definitions import defs; "
            "print(len(list(defs.resolve_all_asset_keys())), 'assets')"
        )
        for attempt in range(self.repeat):
            cold.dbt.append(
                self._measure(DBT, "parse", "--no-partial-parse", log=f"parse.{attempt}.log")
            )
            load.dbt.append(
                measure(
                    (PYTHON, "-c", count_assets),
                    {**self.env(), "DAGSTER_IS_DEV_CLI": "1"},
                    REPO_ROOT,
                    self.logs / f"definitions.{attempt}.log",
                )
            )
        self.progress(
            f"  {self.scale.name} dbt parse + Dagster definitions (as dagster dev loads them) "
            f"{load.dbt_seconds:.1f} s; cold dbt parse {cold.dbt_seconds:.1f} s"
        )

    def run(self, steps: Sequence[str] = STEPS) -> None:
        """Generate the lake, then the steps asked for, in their fixed order (each of the
        later ones starts from a state the full build saved)."""
        self.generate()
        self.full_build_and_daily(
            with_daily=bool(
                {"daily_incremental", "dataset_release", "training_set_rebuild"} & set(steps)
            )
        )
        if "dataset_release" in steps:
            self.dataset_release()
        if "snapshot_run" in steps:
            self.snapshot_run()
        if "training_set_rebuild" in steps:
            self.training_set_rebuild()
        if "parse_and_load" in steps:
            self.parse_and_load()

    def summary(self) -> dict[str, Any]:
        steps = {name: result.summary() for name, result in self.steps.items()}
        full = self.steps["full_build"].dbt_seconds
        daily = (
            self.steps["daily_incremental"].dbt_seconds if "daily_incremental" in steps else None
        )
        load = self.steps.get("dagster_dev_load")
        return {
            "customers": self.scale.customers,
            "history_days": self.scale.history_days,
            "memory_limit": self.scale.memory_limit,
            "lake_rows": self.lake_rows,
            "steps": steps,
            # relation → (dbt rows, baseline rows), for every relation where they differ
            "baseline_row_count_mismatches": {
                step: {relation: list(counts) for relation, counts in mismatches.items()}
                for step, mismatches in self.baseline_mismatches.items()
            },
            "daily_over_full": None if daily is None else round(daily / full, 4),
            # each turn's daily run over the full build just before it (the target divides
            # the medians; these show how far the share moves from turn to turn)
            "daily_over_full_by_turn": (
                None
                if daily is None
                else [
                    round(day.seconds / build.seconds, 4)
                    for build, day in zip(
                        self.steps["full_build"].dbt,
                        self.steps["daily_incremental"].dbt,
                        strict=True,
                    )
                ]
            ),
            "parse_plus_load_seconds": None if load is None else round(load.dbt_seconds, 2),
        }


def count_lake_rows(lake: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    with duckdb.connect() as connection:
        for table in ("events", "orders", "order_items", "customers", "products"):
            (count,) = connection.execute(
                f"select count(*) from read_parquet('{lake / table}/*/*.parquet')"
            ).fetchone()
            rows[table] = count
    return rows


def row_count_mismatches(
    dbt_database: Path, baseline_database: Path, run_results: Path
) -> dict[str, tuple[int, int]]:
    """Relations of the step's models and snapshots whose row counts differ between the two."""
    relations = [
        result["relation_name"]
        for result in json.loads(run_results.read_text())["results"]
        if result["unique_id"].split(".")[0] in {"model", "snapshot", "seed"}
        and result.get("relation_name")
    ]
    counts: list[dict[str, int]] = []
    for database in (dbt_database, baseline_database):
        # under the name dbt gave the warehouse: its views name that catalog
        with duckdb.connect() as connection:
            connection.execute(f"attach '{database}' as warehouse (read_only)")
            counts.append(
                {
                    relation: connection.execute(f"select count(*) from {relation}").fetchone()[0]
                    for relation in relations
                }
            )
    dbt_counts, baseline_counts = counts
    return {
        relation: (dbt_counts[relation], baseline_counts[relation])
        for relation in relations
        if dbt_counts[relation] != baseline_counts[relation]
    }


def first_training_set_version(database: Path) -> str:
    with duckdb.connect(str(database), read_only=True) as connection:
        (as_of,) = connection.execute(
            "select min(as_of_date) from ml.ml_dataset_versions where dataset_name = 'training_set'"
        ).fetchone()
    return as_of.isoformat()


def git_commit() -> str:
    """The commit measured, short, marked -dirty with uncommitted changes."""
    import subprocess

    result = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def machine() -> dict[str, Any]:
    import platform

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory_gib = round(kib / 1024 / 1024, 1)
    versions: Mapping[str, str] = {}
    try:
        from importlib.metadata import version

        packages = ("dbt-core", "dbt-duckdb", "duckdb", "dagster", "dagster-dbt")
        versions = {package: version(package) for package in packages}
    except Exception:  # a description, never a reason to fail
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        # warehouse-dbt (dbt with the garbage collector off), or plain dbt where the
        # project is not installed in the environment (warehouse/settings.py).
        "dbt_command": Path(DBT).name,
        **versions,
    }
