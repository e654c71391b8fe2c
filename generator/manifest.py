"""Per-day manifests: what the generator wrote, so the warehouse can be reconciled exactly.

For every source and day, ``rows - duplicates - sum(defects)`` is the number of new clean
natural keys the day contributes. Events also report ``late_arrivals`` (clean rows, not
duplicates, whose ``event_at`` falls 1-3 days before the partition's day). A day hit by an
incident (``incidents.py``) also lists it under ``incidents``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
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
) -> None:
    body: dict[str, object] = {
        "ingest_date": date.isoformat(),
        "sources": {source: delivery.counts() for source, delivery in deliveries.items()},
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
    "duplicates", "defects": {rule: n}, ...}}}``.
    """
    folder = Path(lake) / MANIFEST_DIR
    manifests = {}
    for path in sorted(folder.glob(f"{PREFIX}*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        manifests[body["ingest_date"]] = body
    return manifests


def expected_kept(counts: Mapping[str, object]) -> int:
    """New clean natural keys a source's day contributes: what the warehouse must keep."""
    defects = counts["defects"]
    assert isinstance(defects, Mapping)
    return int(counts["rows"]) - int(counts["duplicates"]) - sum(int(n) for n in defects.values())


def totals(lake: Path) -> dict[str, dict[str, int]]:
    """Per source, summed over all days: rows, duplicates, quarantined and kept."""
    out: dict[str, dict[str, int]] = {}
    for manifest in load_counts(lake).values():
        for source, counts in manifest["sources"].items():
            total = out.setdefault(
                source, {"rows": 0, "duplicates": 0, "quarantined": 0, "kept": 0}
            )
            total["rows"] += counts["rows"]
            total["duplicates"] += counts["duplicates"]
            total["quarantined"] += sum(counts["defects"].values())
            total["kept"] += expected_kept(counts)
    return out
