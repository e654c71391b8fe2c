"""Per-day manifests: what the generator wrote, so the warehouse can be reconciled exactly.

For every source and day, ``rows - duplicates - corrections - sum(defects)`` is the number of
new clean natural keys the day contributes (only the support feed has ``corrections``).
Events also report ``late_arrivals`` (clean rows, not duplicates, whose ``event_at`` falls 1-3
days before the partition's day), as do tickets. A day hit by an incident (``incidents.py``)
also lists it under ``incidents``.

The shop's five tables sit under ``sources`` (as before other systems existed); each other
source system has a section under ``systems``, by system then table:
``{"systems": {"support": {"tickets": {...}}}}``. :func:`tables` walks both, naming a system's
table ``system.table`` (``support.tickets``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from generator.defects import Delivery

MANIFEST_DIR = "_generator"
PREFIX = "ingest_date="


def manifest_path(lake: Path, date: dt.date) -> Path:
    return Path(lake) / MANIFEST_DIR / f"{PREFIX}{date.isoformat()}.json"


def write_manifest(
    lake: Path,
    date: dt.date,
    deliveries: Mapping[str, Delivery],
    incidents: Sequence[str] = (),
    systems: Mapping[str, Mapping[str, Delivery]] | None = None,
) -> None:
    body: dict[str, object] = {
        "ingest_date": date.isoformat(),
        "sources": {source: delivery.counts() for source, delivery in deliveries.items()},
    }
    if systems:  # absent from a lake without other systems, as before they existed
        body["systems"] = {
            system: {table: delivery.counts() for table, delivery in tables.items()}
            for system, tables in systems.items()
        }
    if incidents:  # only on an incident's day, so an ordinary day's file is unchanged
        body["incidents"] = list(incidents)
    path = manifest_path(lake, date)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_counts(lake: Path) -> dict[str, dict]:
    """Every manifest of a lake, keyed by ingest date (``YYYY-MM-DD``), in date order.

    Each value is the file's body: ``{"ingest_date": ..., "sources": {source: {"rows",
    "duplicates", "defects": {rule: n}, ...}}, "systems": {system: {table: {...}}}}``
    (``systems`` only in a lake with other source systems than the shop).
    """
    folder = Path(lake) / MANIFEST_DIR
    manifests = {}
    for path in sorted(folder.glob(f"{PREFIX}*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        manifests[body["ingest_date"]] = body
    return manifests


def tables(manifest: Mapping[str, object]) -> Iterator[tuple[str, Mapping[str, object]]]:
    """``(name, counts)`` of every table in one day's manifest: the shop's sources by their
    name, then each other system's tables as ``system.table``."""
    sources = manifest["sources"]
    assert isinstance(sources, Mapping)
    yield from sources.items()
    systems = manifest.get("systems", {})
    assert isinstance(systems, Mapping)
    for system, system_tables in systems.items():
        for table, counts in system_tables.items():
            yield f"{system}.{table}", counts


def expected_kept(counts: Mapping[str, object]) -> int:
    """New clean natural keys a source's day contributes: what the warehouse must keep.

    A correction re-sends a key already delivered, with changed values: it replaces that
    key's row rather than adding one.
    """
    defects = counts["defects"]
    assert isinstance(defects, Mapping)
    dropped = int(counts["duplicates"]) + int(counts.get("corrections", 0))
    return int(counts["rows"]) - dropped - sum(int(n) for n in defects.values())


def totals(lake: Path) -> dict[str, dict[str, int]]:
    """Per table, summed over all days: rows, duplicates, quarantined and kept (and
    corrections, for a table that has them). The shop's sources keep their bare names;
    other systems' tables are named ``system.table``."""
    out: dict[str, dict[str, int]] = {}
    for manifest in load_counts(lake).values():
        for source, counts in tables(manifest):
            total = out.setdefault(
                source, {"rows": 0, "duplicates": 0, "quarantined": 0, "kept": 0}
            )
            total["rows"] += counts["rows"]
            total["duplicates"] += counts["duplicates"]
            total["quarantined"] += sum(counts["defects"].values())
            total["kept"] += expected_kept(counts)
            if "corrections" in counts:
                total["corrections"] = total.get("corrections", 0) + counts["corrections"]
    return out
