"""`make run`: generate the sample lake and replay it through the Dagster asset graph.

The first days land at once and are built as a backfill; then the remaining days land one
at a time, each followed by a daily build, so the snapshots record several versions of the
customers and products that changed. Then the dataset release (the training set and the
registry, weekly in production), and a summary of what was built.

    python -m orchestration.lib.replay --customers 2000 --backfill-days 119 --daily-runs 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta

import duckdb
from dagster import DagsterInstance, DagsterRunStatus, Definitions

from orchestration.lib.warehouse_lock import WAREHOUSE_POOL
from warehouse.datasets import lakehouse_dir
from warehouse.freshness import source_freshness, summary_line
from warehouse.settings import data_dir, duckdb_path, exports_dir, lake_dir
from warehouse.summary import print_summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument(
        "--start-date",
        type=date.fromisoformat,
        default=None,
        help="first day of the sample (default: so that the last day landed yesterday)",
    )
    # 120 days in all: enough labelled as-of dates for a time split into train, validation
    # and test with a 30-day embargo between each (models/ml/ml_training_set.sql); a daily
    # run after the backfill gives the snapshots history and the registry several versions.
    parser.add_argument(
        "--backfill-days", type=int, default=119, help="days landed before the first build"
    )
    parser.add_argument(
        "--daily-runs", type=int, default=1, help="days then landed and built one at a time"
    )
    args = parser.parse_args(argv)
    if args.start_date is None:
        # Ending yesterday keeps the sources fresh, so `dbt source freshness` means something.
        days = args.backfill_days + args.daily_runs
        args.start_date = date.today() - timedelta(days=days)
    # The daily partitions start at the first ingest date of the lake the replay generates
    # (orchestration/partitions.py), unless WAREHOUSE_FIRST_PARTITION sets the start.
    first_partition = os.environ.get("WAREHOUSE_FIRST_PARTITION")
    if first_partition and args.start_date < date.fromisoformat(first_partition):
        parser.error(
            f"--start-date {args.start_date} is before the first daily partition "
            f"{first_partition} (WAREHOUSE_FIRST_PARTITION); set it to an earlier date or unset it"
        )
    return args


def run_generator(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "generator", *args], check=True)


def release_abandoned_runs(instance: DagsterInstance) -> None:
    """Fail the replay runs an interrupted `make run` left started, and free the warehouse
    pool slots they hold (the replay runs in process: nothing else would ever free them)."""
    storage = instance.event_log_storage
    for run in instance.get_runs():
        if "warehouse/replay" in run.tags and run.status == DagsterRunStatus.STARTED:
            instance.report_run_failed(run, message="abandoned: the replay process ended")
    if storage.supports_global_concurrency_limits:
        for slot in storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots:
            run = instance.get_run_by_id(slot.run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(slot.run_id)


def build(
    defs: Definitions, instance: DagsterInstance, label: str, first: date, last: date
) -> None:
    """Run the daily job for the ingest dates first..last (one run, a backfill when it covers
    several days)."""
    partitions = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    run_job(defs, instance, "daily_warehouse_build", label, partitions)


def run_job(
    defs: Definitions, instance: DagsterInstance, job_name: str, label: str, tags: dict[str, str]
) -> None:
    """Run a job in process; dbt's own output goes to data/logs/<label>.log."""
    log_path = data_dir() / "logs" / (re.sub(r"[^a-z0-9]+", "-", label.lower()) + ".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            tags={"warehouse/replay": label, **tags},
            raise_on_error=False,
            # The step's dbt output is in the UI and the log file; here one line a build.
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    if not result.success:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-40:])
        raise SystemExit(f"{tail}\n[run] {label} FAILED; dbt's full output: {log_path}")
    checks = result.get_asset_check_evaluations()
    failed = [check for check in checks if not check.passed]
    print(
        f"[run] {label}: {len(result.get_asset_materialization_events())} assets materialised, "
        f"{len(checks) - len(failed)}/{len(checks)} checks passed "
        f"in {time.monotonic() - started:.0f}s (log: {log_path})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # `make run` always starts from a fresh sample, so it gives the same tables every time.
    for stale in (lake_dir(), duckdb_path(), lakehouse_dir(), exports_dir()):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    exports_dir().mkdir(parents=True, exist_ok=True)

    run_generator(
        "generate",
        f"--seed={args.seed}",
        f"--customers={args.customers}",
        f"--start-date={args.start_date.isoformat()}",
        f"--days={args.backfill_days}",
        # planned length of the whole replay, so the drift day and sign-ups fall the same
        # as in one `generate` of all the days
        f"--plan-days={args.backfill_days + args.daily_runs}",
        f"--out={lake_dir()}",
    )
    # Loaded once the lake is there: the daily partitions start at its first ingest date.
    from orchestration.definitions import defs

    instance = DagsterInstance.get()
    release_abandoned_runs(instance)
    last = args.start_date + timedelta(days=args.backfill_days - 1)
    build(defs, instance, f"backfill of {args.backfill_days} days", args.start_date, last)
    for day in range(1, args.daily_runs + 1):
        run_generator("append", f"--out={lake_dir()}", "--days=1")
        last += timedelta(days=1)
        build(defs, instance, f"daily run {day} of {args.daily_runs}", last, last)
    # What the weekly schedule runs: the training set from the whole history, the registry.
    run_job(defs, instance, "dataset_release", "dataset release", {})

    freshness = summary_line(source_freshness())
    with duckdb.connect(str(duckdb_path()), read_only=True) as connection:
        print_summary(connection, duckdb_path())
    print(freshness)


if __name__ == "__main__":
    main()
