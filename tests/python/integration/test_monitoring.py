"""Elementary monitoring (the monitoring/ overlay): quiet on a clean sample, loud on incidents.

One lake, built the way a warehouse lives: it goes live (a plain build, no monitoring) once
its first days have landed; monitoring is switched on later; each later run goes through
`monitoring/monitor.py`, as `make monitor` does.

1. days 0-28 land; the warehouse goes live: `dbt build` of the root project;
2. days 29-53 land; a monitored run as of the morning after day 53: every monitor passes;
3. day 54 lands with `feature_nulls`, day 55 with `orders_drop` and `events_stop`; a
   monitored run as of the morning after day 55: exactly the matching monitors fail, the
   HTML report lists them, and `edr monitor` posts them to the offline webhook.

The builds leave out the warehouse's own tests (the other modules run them). Why go live
first: a snapshot knows history only from its first run, so customer attributes are null on
as-of dates before it (by design, see ml_customer_features), and the feature monitors need
28 snapshot-covered as-of dates to judge a null rate against.

Those tests need the overlay's packages (dbt Hub) and skip, saying why, when they are
absent; they take several minutes (Elementary renders its results through Jinja, which
dominates). The last tests, of `monitor.py`'s offline behaviour, always run.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import run_dbt, run_generator, warehouse_env

from monitoring import monitor

MISSING = monitor.missing_packages()
needs_elementary = pytest.mark.skipif(
    bool(MISSING),
    reason=f"Monitoring (Elementary) is off: {', '.join(MISSING)} missing (dbt Hub "
    f"packages; see {monitor.INSTALL_DOC})",
)

SEED = 7
CUSTOMERS = 4000  # the largest country then has ~30 orders a day: a 90 % drop is clear
START = dt.date(2026, 3, 1)
PLAN_DAYS = 56  # the schema drift day (plan // 2 = 28) falls in the go-live build
GO_LIVE_DAYS = 29  # days 0-28
CLEAN_DAYS = 54  # days 0-53; then the two incident days
FEATURE_NULLS_DAY = START + dt.timedelta(days=CLEAN_DAYS)
ORDERS_AND_EVENTS_DAY = START + dt.timedelta(days=CLEAN_DAYS + 1)
MONITOR_COUNT = 21  # elementary.* tests declared in models/**/*.yml
# The warehouse's own tests are the other modules' job; each is slower through the overlay
# (Elementary records every result), so these builds leave them out.
SKIP = "resource_type:test resource_type:unit_test"

#: (test, table, column) of every monitor the incidents must fail, and of no other.
EXPECTED_FAILURES = {
    ("all_columns_anomalies", "ml_customer_features", "segment"),  # feature_nulls, v1
    ("all_columns_anomalies", "ml_customer_features_v2", "segment"),  # feature_nulls, v2
    ("dimension_anomalies", "fct_orders", None),  # orders_drop
    ("volume_anomalies", "stg_shop__events", None),  # events_stop
    ("freshness_anomalies", "stg_shop__events", None),  # events_stop
}


@dataclass
class Monitored:
    paths: monitor.Paths
    clean: monitor.Run
    incidents: monitor.Run
    timings: dict[str, float]


def report_data(path: Path) -> dict:
    """The data edr embeds in its single-file HTML report (base64-encoded JSON)."""
    html = path.read_text(encoding="utf-8")
    match = re.search(r"window\.elementaryData = JSON\.parse\(atob\('([^']*)'\)\)", html)
    assert match, f"{path} does not embed Elementary's report data"
    return json.loads(base64.b64decode(match.group(1)))


def monitors_by_id(paths: monitor.Paths) -> dict[str, tuple[str, str]]:
    """Unique id of every Elementary test -> (test name, table it watches)."""
    manifest = json.loads((paths.dbt_target / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest["nodes"]
    return {
        unique_id: (node["test_metadata"]["name"], nodes[node["attached_node"]]["alias"])
        for unique_id, node in nodes.items()
        if (node.get("test_metadata") or {}).get("namespace") == "elementary"
    }


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    root = tmp_path_factory.mktemp("monitoring")
    (root / "exports").mkdir()
    root_env = warehouse_env(root)
    env = dict(
        root_env,
        DBT_TARGET_PATH=str(root / "overlay_target"),
        WAREHOUSE_MONITORING_DIR=str(root / "monitoring"),
    )
    paths = monitor.Paths.from_env(env)
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(label: str) -> None:
        nonlocal started
        timings[label] = round(time.monotonic() - started)
        started = time.monotonic()

    run_generator(
        "generate",
        f"--seed={SEED}",
        f"--customers={CUSTOMERS}",
        f"--start-date={START.isoformat()}",
        f"--days={GO_LIVE_DAYS}",
        f"--plan-days={PLAN_DAYS}",
        f"--out={paths.lake}",
    )
    # Going live without monitoring.
    run_dbt(root_env, "build", "--exclude", SKIP)
    lap("go-live build")

    run_generator("append", f"--out={paths.lake}", f"--days={CLEAN_DAYS - GO_LIVE_DAYS}")
    clean = monitor.run_overlay(paths, monitor.clock(paths.lake, "auto"), env, SKIP)
    lap("clean run")

    run_generator(
        "append",
        f"--out={paths.lake}",
        "--days=2",
        f"--incident=feature_nulls@{FEATURE_NULLS_DAY.isoformat()}",
        f"--incident=orders_drop@{ORDERS_AND_EVENTS_DAY.isoformat()}",
        f"--incident=events_stop@{ORDERS_AND_EVENTS_DAY.isoformat()}",
    )
    incidents = monitor.run_overlay(paths, monitor.clock(paths.lake, "auto"), env, SKIP)
    lap("incident run")

    written = monitor.report(paths, env)
    assert written.returncode == 0, written.stdout[-4000:] + written.stderr[-4000:]
    lap("edr report")
    sent = monitor.alerts(paths, env)
    assert sent.returncode == 0, sent.stdout[-4000:] + sent.stderr[-4000:]
    lap("edr monitor")
    print(f"\n[monitoring] seconds: {timings}")
    return Monitored(paths, clean, incidents, timings)


@pytest.mark.slow
@needs_elementary
def test_the_clean_sample_passes_every_monitor(monitored: Monitored) -> None:
    clean = monitored.clean
    assert monitor.failed(clean.build_results) == [], clean.build.stdout[-6000:]
    watched = monitors_by_id(monitored.paths)
    assert len(watched) == MONITOR_COUNT
    assert sorted(r["unique_id"] for r in clean.monitor_tests) == sorted(watched)
    assert {r["status"] for r in clean.monitor_tests} == {"pass"}, clean.monitors.stdout[-6000:]
    assert clean.monitors.returncode == 0


@pytest.mark.slow
@needs_elementary
def test_each_incident_fails_exactly_its_monitors(monitored: Monitored) -> None:
    run = monitored.incidents
    assert monitor.failed(run.build_results) == [], run.build.stdout[-6000:]
    watched = monitors_by_id(monitored.paths)
    failed = sorted(watched[unique_id] for unique_id in monitor.failed(run.monitor_results))
    assert failed == sorted((test, table) for test, table, _ in EXPECTED_FAILURES)
    others = [r for r in run.monitor_tests if r["status"] != "fail"]
    assert len(others) == MONITOR_COUNT - len(EXPECTED_FAILURES)
    assert {r["status"] for r in others} == {"pass"}
    assert run.monitors.returncode == 1  # and so does make monitor, after its report


@pytest.mark.slow
@needs_elementary
def test_the_failures_name_the_column_metric_and_value_that_moved(monitored: Monitored) -> None:
    with duckdb.connect(str(monitored.paths.database), read_only=True) as connection:
        rows = connection.execute(
            """
            select test_short_name, table_name, column_name, test_sub_type,
                lower(test_results_description)
            from elementary.elementary_test_results
            where invocation_id = ? and status = 'fail'
            """,
            [monitored.incidents.monitors_invocation_id],
        ).fetchall()
    assert {(test, table, column) for test, table, column, *_ in rows} == EXPECTED_FAILURES
    found = {(table, metric): text for _, table, _, metric, text in rows}
    assert found.keys() == {
        ("ml_customer_features", "null_percent"),  # of column segment
        ("ml_customer_features_v2", "null_percent"),
        ("fct_orders", "dimension"),
        ("stg_shop__events", "row_count"),
        ("stg_shop__events", "freshness"),
    }
    assert "shipping_country_code: de" in found["fct_orders", "dimension"]  # largest market
    assert "row_count value is 0.000" in found["stg_shop__events", "row_count"]  # none at all


@pytest.mark.slow
@needs_elementary
def test_the_report_lists_the_failed_monitors(monitored: Monitored) -> None:
    assert monitored.paths.report.name == monitor.REPORT_NAME
    data = report_data(monitored.paths.report)
    failing = {
        (meta["test_name"], meta["table_name"], meta["column_name"])
        for results in data["test_results"].values()
        for meta in (result["metadata"] for result in results)
        if meta["latest_run_status"] == "fail"
    }
    assert failing == EXPECTED_FAILURES


@pytest.mark.slow
@needs_elementary
def test_edr_monitor_posts_each_failure_to_the_offline_webhook(monitored: Monitored) -> None:
    messages = [p.read_text(encoding="utf-8") for p in sorted(monitored.paths.alerts.glob("*"))]
    assert len(messages) == len(EXPECTED_FAILURES), messages
    for _test, table, column in EXPECTED_FAILURES:
        assert any(f".{table}" in m and (column or "") in m for m in messages), table


# --- monitor.py without Elementary: always run -------------------------------------------


def test_make_monitor_says_once_that_monitoring_is_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(monitor, "missing_packages", lambda: ["monitoring/dbt_packages/x"])
    monkeypatch.setattr(monitor, "hub_reachable", lambda: False)
    assert monitor.main([]) == 0  # so that nothing calling it fails for want of dbt Hub
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Monitoring (Elementary) is off:"), out
    assert "monitoring/dbt_packages/x" in out[0] and "dbt Hub" in out[0]


def test_the_clock_is_the_morning_after_the_last_landed_day(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert monitor.clock(lake, "auto") is None  # not a generated lake: the real clock
    (lake / "_generator").mkdir(parents=True)
    (lake / "_generator" / "params.json").write_text('{"last_date": "2026-02-11"}')
    assert monitor.clock(lake, "auto") == "2026-02-12T00:00:00"
    assert monitor.clock(lake, "now") is None
    assert monitor.clock(lake, "2026-01-20") == "2026-01-20T00:00:00"


def test_the_offline_webhook_answers_like_slack_and_keeps_each_message(tmp_path: Path) -> None:
    with monitor.local_webhook(tmp_path / "alerts") as url:
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(url, data=b'{"text": "hello"}', method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200 and response.read() == b"ok"
    assert [p.read_text() for p in (tmp_path / "alerts").iterdir()] == ['{"text": "hello"}']


def test_edr_runs_with_tracking_version_check_and_deps_off(tmp_path: Path) -> None:
    paths = monitor.Paths.from_env({"WAREHOUSE_DATA_DIR": str(tmp_path)})
    env, config_dir = monitor.edr_env(paths, {})
    config = (config_dir / "config.yml").read_text()
    for setting in (
        "anonymous_usage_tracking: false",
        "disable_elementary_version_check: true",
        "run_dbt_deps_if_needed: false",
    ):
        assert setting in config
    # edr also reads ~/.edr/config.yml before its options: HOME points at the same file.
    assert Path(env["HOME"]) / ".edr" == config_dir
    assert env["DO_NOT_TRACK"] == "1" and env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert Path(env["WAREHOUSE_DUCKDB_PATH"]).is_absolute()  # edr runs from elsewhere


def test_the_overlay_has_the_warehouse_selectors() -> None:
    """dbt reads selectors.yml from the project it runs, and with monitoring on that is the
    overlay: without the warehouse's selectors there, Dagster's daily job cannot resolve
    `daily_build`. Checked here because the Elementary tests that would catch it skip in CI."""
    root = monitor.REPO_ROOT
    assert (root / "monitoring" / "selectors.yml").read_text() == (
        root / "selectors.yml"
    ).read_text()


# --- the Dagster code location with and without Elementary --------------------------------

LOAD_DEFINITIONS = """
import json
from orchestration.definitions import defs
from orchestration.assets import DBT_ASSETS
job = defs.resolve_job_def("daily_warehouse_build")
checks = [spec for a in DBT_ASSETS for spec in a.check_specs]
print(json.dumps({
    "elementary_checks": [spec.blocking for spec in checks if spec.name.startswith("elementary_")],
    "assets": sorted("/".join(key.path) for key in defs.resolve_asset_graph().get_all_asset_keys()),
    "in_daily_job": sorted(node.name for node in job.graph.nodes),
}))
"""


def load_definitions(monitoring: str) -> tuple[dict, str]:
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_DEFINITIONS],
        cwd=monitor.REPO_ROOT,
        env=dict(os.environ, WAREHOUSE_MONITORING=monitoring),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(loaded.stdout.splitlines()[-1]), loaded.stderr


@needs_elementary
def test_dagster_loads_the_overlay_monitors_as_non_blocking_checks_and_the_report() -> None:
    loaded, stderr = load_definitions("auto")
    assert len(loaded["elementary_checks"]) == MONITOR_COUNT
    assert not any(loaded["elementary_checks"])  # monitors observe, never block
    assert "monitoring/elementary_report" not in loaded["assets"]
    assert "elementary_report" in loaded["assets"] and "elementary_report" in loaded["in_daily_job"]
    # Elementary's own tables are not business assets
    assert not [key for key in loaded["assets"] if key.startswith("elementary/")]
    assert "is off" not in stderr


def test_dagster_without_monitoring_says_once_that_it_is_off() -> None:
    loaded, stderr = load_definitions("off")
    assert loaded["elementary_checks"] == []
    assert "elementary_report" not in loaded["assets"]
    assert stderr.count("Monitoring (Elementary) is off") == 1, stderr


def test_the_off_message_names_the_missing_packages_and_the_way_to_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestration import project

    monkeypatch.setenv("WAREHOUSE_MONITORING", "auto")
    monkeypatch.setattr(monitor, "missing_packages", lambda: ["monitoring/dbt_packages/x"])
    reason = project.monitoring_off_reason()
    assert reason is not None and reason.startswith("Monitoring (Elementary) is off:")
    assert "monitoring/dbt_packages/x" in reason and monitor.INSTALL_DOC in reason
