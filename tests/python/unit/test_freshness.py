"""The freshness summary lists every source with thresholds, a source whose check errored
too: dbt leaves such a source out of sources.json (it only prints the error)."""

import json
from pathlib import Path

from warehouse.freshness import RUNTIME_ERROR, checked_sources, read_results, summary_line

WARN_AND_ERROR = {
    "warn_after": {"count": 2, "period": "day"},
    "error_after": {"count": 4, "period": "day"},
}
MANIFEST = {
    "sources": {
        "source.ml_warehouse.shop.orders": {"freshness": WARN_AND_ERROR},
        "source.ml_warehouse.shop.events": {"freshness": WARN_AND_ERROR},
        "source.ml_warehouse.support.tickets": {"freshness": WARN_AND_ERROR},
        # no thresholds: dbt does not check it, so it is not expected
        "source.ml_warehouse.audit.erasure_log": {"freshness": {"warn_after": {}}},
    }
}


def land_sources_json(target: Path, results: list[dict]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / "sources.json").write_text(json.dumps({"results": results}))


def test_a_source_missing_from_sources_json_is_a_runtime_error(tmp_path: Path) -> None:
    land_sources_json(
        tmp_path,
        [
            {
                "unique_id": "source.ml_warehouse.shop.orders",
                "status": "pass",
                "max_loaded_at": "2026-12-07T00:00:00",
                "max_loaded_at_time_ago_in_s": 90000,
            },
            {
                "unique_id": "source.ml_warehouse.support.tickets",
                "status": "error",
                "max_loaded_at": "2026-12-01T00:00:00",
                "max_loaded_at_time_ago_in_s": 7 * 86400,
            },
        ],
    )
    expected = checked_sources(MANIFEST)
    assert expected == {
        "source.ml_warehouse.shop.orders",
        "source.ml_warehouse.shop.events",
        "source.ml_warehouse.support.tickets",
    }
    results = read_results(tmp_path, expected)
    assert [(r.name, r.status, r.age_hours) for r in results] == [
        ("shop.events", RUNTIME_ERROR, None),
        ("shop.orders", "pass", 25.0),
        ("support.tickets", "error", 168.0),
    ]
    assert results[0].error and "freshness query failed" in results[0].error
    line = summary_line(results)
    assert "runtime error shop.events" in line
    assert "pass shop.orders" in line
    assert "error support.tickets" in line
    assert "freshness query failed" in line


def test_every_source_failing_is_reported_not_an_empty_line(tmp_path: Path) -> None:
    land_sources_json(tmp_path, [])
    results = read_results(tmp_path, checked_sources(MANIFEST))
    assert {r.status for r in results} == {RUNTIME_ERROR}
    assert "runtime error shop.events, shop.orders, support.tickets" in summary_line(results)
