"""Source freshness: `dbt source freshness` over the lake, read back as one result per source
that has thresholds, including the sources whose check could not run.

dbt leaves a source whose freshness query failed (a folder with no files, a file DuckDB
cannot read) out of sources.json: it only prints the error. Read alone, sources.json would
make such a source vanish from every report. Here each source with thresholds in the dbt
project is expected, and one missing from sources.json is reported with status
"runtime error", as dbt's own console output calls it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.dbt_runner import run_dbt
from warehouse.duckdb_lock import is_lock_error

RUNTIME_ERROR = "runtime error"
NOT_RUN = (
    "no freshness result: its freshness query failed (run `dbt source freshness` to see "
    "dbt's error)"
)


@dataclass(frozen=True)
class SourceFreshness:
    unique_id: str  # source.<package>.<system>.<table>
    status: str  # pass, warn, error or runtime error
    max_loaded_at: str | None
    age_hours: float | None
    error: str | None = None

    @property
    def name(self) -> str:
        """<system>.<table>"""
        return self.unique_id.split(".", 2)[-1]


def thresholds(freshness: Mapping[str, Any] | None) -> str:
    """dbt's freshness thresholds in words, e.g. 'warn after 2 days, error after 4 days'."""
    return ", ".join(
        f"{level} after {after['count']} {after['period']}{'s' if after['count'] != 1 else ''}"
        for level in ("warn", "error")
        if (after := (freshness or {}).get(f"{level}_after") or {}).get("count")
    )


def checked_sources(manifest: Mapping[str, Any]) -> set[str]:
    """Unique ids of the sources `dbt source freshness` checks: those with thresholds."""
    return {
        unique_id
        for unique_id, source in manifest["sources"].items()
        if thresholds(source.get("freshness"))
    }


def read_results(target: Path, expected: set[str], dbt_output: str = "") -> list[SourceFreshness]:
    """The results of a `dbt source freshness` that wrote to `target`, one per `expected`
    source (plus any other dbt reported), by unique id."""
    sources = target / "sources.json"
    if not sources.exists():
        raise RuntimeError(f"`dbt source freshness` did not run:\n{dbt_output}")
    reported = [
        SourceFreshness(
            unique_id=entry["unique_id"],
            status=entry["status"],
            max_loaded_at=entry.get("max_loaded_at"),
            age_hours=(
                round(entry["max_loaded_at_time_ago_in_s"] / 3600, 1)
                if entry.get("max_loaded_at_time_ago_in_s") is not None
                else None
            ),
            error=NOT_RUN if entry["status"] == RUNTIME_ERROR else None,
        )
        for entry in json.loads(sources.read_text())["results"]
    ]
    missing = expected - {result.unique_id for result in reported}
    errored = [SourceFreshness(uid, RUNTIME_ERROR, None, None, NOT_RUN) for uid in missing]
    return sorted(reported + errored, key=lambda result: result.unique_id)


def source_freshness() -> list[SourceFreshness]:
    """Run `dbt source freshness` and read its results."""
    with tempfile.TemporaryDirectory(prefix="source-freshness-") as folder:
        target = Path(folder)
        result = run_dbt(["source", "freshness", "--quiet", "--target-path", str(target)])
        manifest_file = target / "manifest.json"
        expected = (
            checked_sources(json.loads(manifest_file.read_text()))
            if manifest_file.exists()
            else set()
        )
        output = f"{result.stdout}{result.stderr}"
        if result.returncode != 0 and is_lock_error(output):
            # Not the sources' fault: the warehouse file was held by another writer.
            raise RuntimeError(f"`dbt source freshness` could not open the warehouse:\n{output}")
        return read_results(target, expected, output)


def summary_line(results: list[SourceFreshness]) -> str:
    """One line by status; a source whose check did not run is listed, and says so."""
    by_status: dict[str, list[str]] = {}
    for result in results:
        by_status.setdefault(result.status, []).append(result.name)
    parts = [
        f"{status} {', '.join(sorted(tables))}" for status, tables in sorted(by_status.items())
    ]
    if RUNTIME_ERROR in by_status:
        parts.append(f"{RUNTIME_ERROR}: {NOT_RUN}")
    return "Source freshness (dbt source freshness): " + "; ".join(parts)
