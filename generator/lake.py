"""Writing the lake: ``generate`` a fresh history, ``append`` the next days.

Both replay the simulation from day 0 and differ only in which days they write, so a lake
built in several calls is byte-identical to one built in one call with the same plan.
Existing partitions are never rewritten: the lake behaves like an append-only landing zone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from generator import incidents as inc
from generator import support as sup
from generator.manifest import MANIFEST_DIR, write_manifest
from generator.reference import DEFAULT_SEEDS_DIR, load_reference
from generator.simulation import Params, World
from generator.sources import SOURCES, build_day, on_disk

PARAMS_FILE = Path(MANIFEST_DIR) / "params.json"
FORMAT_VERSION = 1
EARLIEST_START = dt.date(2022, 1, 1)  # two years of customer history after 2020-01-01
MAX_DAYS = 3650
MAX_CUSTOMERS = 5_000_000
OWNED = (*SOURCES, sup.SYSTEM, MANIFEST_DIR)
SYSTEMS = (sup.SYSTEM,)  # source systems besides the shop, as params.json lists them

Progress = Callable[[str], None]


class LakeError(ValueError):
    """A problem with the arguments or the lake folder, worded for the command line."""


def validate(seed: int, customers: int, start_date: dt.date, days: int, plan_days: int) -> None:
    if seed < 0:
        raise LakeError(f"--seed must be 0 or more (got {seed})")
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise LakeError(f"--customers must be between 1 and {MAX_CUSTOMERS:,} (got {customers})")
    if start_date < EARLIEST_START:
        raise LakeError(
            f"--start-date must be {EARLIEST_START} or later, so that customer history starts "
            f"after the business start 2020-01-01 (got {start_date})"
        )
    if not 1 <= days <= MAX_DAYS:
        raise LakeError(f"--days must be between 1 and {MAX_DAYS} (got {days})")
    if not 1 <= plan_days <= MAX_DAYS:
        raise LakeError(f"--plan-days must be between 1 and {MAX_DAYS} (got {plan_days})")


def check_incidents(
    incidents: Iterable[inc.Incident], first: dt.date, start_date: dt.date
) -> tuple[inc.Incident, ...]:
    """Incidents to add to a lake whose next unwritten day is ``first``."""
    incidents = tuple(incidents)
    last = start_date + dt.timedelta(days=MAX_DAYS - 1)
    for incident in incidents:
        if incident.date < first:
            raise LakeError(
                f"--incident {incident}: {incident.date} is before {first}, the first day "
                "this call writes (days already written are never changed)"
            )
        if incident.date > last:
            raise LakeError(f"--incident {incident}: {incident.date} is after {last}")
    return incidents


def generate(
    out: Path,
    seed: int,
    customers: int,
    start_date: dt.date,
    days: int,
    plan_days: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    seeds_dir: Path = DEFAULT_SEEDS_DIR,
    incidents: Iterable[inc.Incident] = (),
    support: bool = True,
) -> Params:
    """Write days ``0 .. days-1`` into an empty folder.

    ``plan_days`` (default ``days``) fixes the drift day (``plan_days // 2``) and the pace of
    sign-ups; pass the final length when a history will be built in several calls.
    ``incidents`` (``incidents.py``) may also fall on later days, which ``append`` writes.
    ``support`` writes the support system's helpdesk feed too (``support.py``); ``append``
    continues the lake as it was started, with it or without it.
    """
    plan_days = days if plan_days is None else plan_days
    validate(seed, customers, start_date, days, plan_days)
    incidents = _normalised(check_incidents(incidents, start_date, start_date))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LakeError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise LakeError(
                f"--out {out} is not empty: pass --overwrite to replace the lake, "
                "or use `append` to continue it"
            )
        for name in OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
    params = Params(
        seed,
        customers,
        start_date,
        plan_days,
        drift_day=plan_days // 2,
        incidents=incidents,
        support=support,
    )
    _run(out, params, 0, days, progress, seeds_dir)
    return params


def append(
    out: Path,
    days: int = 1,
    progress: Progress | None = None,
    seeds_dir: Path = DEFAULT_SEEDS_DIR,
    incidents: Iterable[inc.Incident] = (),
) -> tuple[Params, int]:
    """Write the next ``days`` days after those already in the lake; returns the new total.

    ``incidents`` join those already recorded; they must fall on days not yet written.
    """
    if not 1 <= days <= MAX_DAYS:
        raise LakeError(f"--days must be between 1 and {MAX_DAYS} (got {days})")
    params, written = read_params(Path(out))
    if written + days > MAX_DAYS:
        raise LakeError(f"--days {days} would take the lake past {MAX_DAYS} days")
    added = check_incidents(incidents, params.date_of(written), params.start_date)
    if added:
        params = dataclasses.replace(params, incidents=_normalised((*params.incidents, *added)))
    _run(Path(out), params, written, written + days, progress, seeds_dir)
    return params, written + days


def _normalised(incidents: Iterable[inc.Incident]) -> tuple[inc.Incident, ...]:
    try:
        return inc.normalise(incidents)
    except ValueError as error:
        raise LakeError(f"--incident: {error}") from None


def read_params(out: Path) -> tuple[Params, int]:
    """The lake's parameters and how many days it holds."""
    path = Path(out) / PARAMS_FILE
    if not path.is_file():
        raise LakeError(f"--out {out} holds no lake ({PARAMS_FILE} is missing): run `generate`")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != FORMAT_VERSION:
            raise LakeError(f"{path} has format {body.get('format')}, expected {FORMAT_VERSION}")
        params = Params(
            seed=int(body["seed"]),
            customers=int(body["customers"]),
            start_date=dt.date.fromisoformat(body["start_date"]),
            plan_days=int(body["plan_days"]),
            drift_day=int(body["drift_day"]),
            incidents=inc.from_json(body.get("incidents", [])),
            support=sup.SYSTEM in _systems(body.get("systems", [])),
        )
        return params, int(body["days"])
    except (KeyError, ValueError, TypeError) as error:
        if isinstance(error, LakeError):
            raise
        raise LakeError(f"{path} is unreadable: {error!r}") from None


def _write_params(out: Path, params: Params, days: int) -> None:
    body = {
        "format": FORMAT_VERSION,
        "seed": params.seed,
        "customers": params.customers,
        "start_date": params.start_date.isoformat(),
        "plan_days": params.plan_days,
        "drift_day": params.drift_day,
        "drift_date": params.date_of(params.drift_day).isoformat(),
        "days": days,
        "last_date": params.date_of(days - 1).isoformat(),
    }
    if params.incidents:  # absent from a lake without incidents, as before they existed
        body["incidents"] = [incident.to_json() for incident in params.incidents]
    if params.support:  # absent from a lake of the shop alone, as before other systems existed
        body["systems"] = [sup.SYSTEM]
    path = out / PARAMS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _systems(names: object) -> tuple[str, ...]:
    """The ``systems`` of params.json, checked: a lake that names one this generator does not
    write cannot be continued by it."""
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"systems must be a list of names, got {names!r}")
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown source system(s) {', '.join(unknown)}")
    return tuple(names)


def partition_dir(out: Path, source: str | Path, date: dt.date) -> Path:
    return Path(out) / source / f"ingest_date={date.isoformat()}"


def write_parquet(table: pa.Table, path: Path) -> None:
    """Fixed writer options and no wall-clock metadata, so equal tables give equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(
        table,
        tmp,
        compression="snappy",
        version="2.6",
        use_dictionary=True,
        write_statistics=True,
        row_group_size=1 << 20,
    )
    os.replace(tmp, path)


def _run(
    out: Path,
    params: Params,
    first: int,
    stop: int,
    progress: Progress | None,
    seeds_dir: Path,
) -> None:
    folders: list[str | Path] = [*SOURCES, sup.FOLDER] if params.support else [*SOURCES]
    for day in range(first, stop):
        for source in folders:
            if partition_dir(out, source, params.date_of(day)).exists():
                raise LakeError(
                    f"{partition_dir(out, source, params.date_of(day))} already exists: "
                    "the lake is ahead of its params.json; remove that day's partitions first"
                )
    reference = load_reference(seeds_dir)
    world = World(params, reference, last_day=stop - 1)
    helpdesk = sup.Helpdesk(params) if params.support else None
    previous = None
    for index in range(stop):
        began = time.perf_counter()
        day = world.advance()
        # The helpdesk is small: it runs every day, as its state includes what it delivered.
        tickets = helpdesk.advance(day) if helpdesk is not None else None
        if index < first - 1:
            continue  # replay entity state only; yesterday's rows are needed for re-deliveries
        deliveries = build_day(day, params, reference, previous)
        previous = {source: delivery.clean for source, delivery in deliveries.items()}
        if index < first:
            continue
        for source, delivery in deliveries.items():
            table = on_disk(source, delivery, params, index)
            write_parquet(table, partition_dir(out, source, day.date) / "part-0.parquet")
        systems = {}
        if tickets is not None:
            write_parquet(
                tickets.table, partition_dir(out, sup.FOLDER, day.date) / "part-0.parquet"
            )
            systems = {sup.SYSTEM: {sup.TABLE: tickets}}
        write_manifest(out, day.date, deliveries, params.incidents_on(index), systems)
        _write_params(out, params, index + 1)
        if progress is not None:
            rows = " ".join(f"{s}={d.table.num_rows}" for s, d in deliveries.items())
            if tickets is not None:
                rows += f" {sup.NAME}={tickets.table.num_rows}"
            progress(f"{day.date} {rows} ({time.perf_counter() - began:.2f}s)")
