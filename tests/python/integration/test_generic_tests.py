"""Each generic test of our own (tests/generic/) passes on good data and fails on bad.

The fixture project in fixtures/generic_tests applies every test to a good and a bad seed;
it installs the warehouse as a local package, which needs no dbt Hub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "generic_tests"
# lake_quarantine_rate reads the row accounting a staging model's post-hook keeps, which a
# seed has none of: test_third_source_system.py shows it passing and warning instead.
NEEDS_A_LAKE_SOURCE = {"lake_quarantine_rate"}
OUR_GENERIC_TESTS = {
    path.stem for path in (REPO_ROOT / "tests" / "generic").glob("*.sql")
} - NEEDS_A_LAKE_SOURCE


DBT = str(Path(sys.executable).parent / "dbt")


def fixture_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The fixture project, with the warehouse installed as its local package, and the
    environment its dbt commands run in."""
    project = tmp_path / "generic_tests"
    shutil.copytree(FIXTURE, project)
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO_ROOT}\n")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("WAREHOUSE_WINDOW_")
    }
    env.update(
        DBT_PROFILES_DIR=str(REPO_ROOT / "profiles"),
        WAREHOUSE_DUCKDB_PATH=str(tmp_path / "fixtures.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    subprocess.run([DBT, "deps"], cwd=project, env=env, check=True, capture_output=True)
    return project, env


def test_every_generic_test_passes_on_good_data_and_fails_on_bad(tmp_path: Path) -> None:
    project, env = fixture_project(tmp_path)
    build = subprocess.run(
        [DBT, "build", "--select", "ranges_good", "ranges_bad"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode != 0, "the tests on the bad seed should have failed the build"

    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    outcomes: dict[str, dict[str, str]] = {}
    for result in results:
        unique_id = result["unique_id"]
        if not unique_id.startswith("test."):
            continue
        test_name = next(
            name for name in OUR_GENERIC_TESTS if f".ml_warehouse_{name}_" in unique_id
        )
        seed = "good" if "ranges_good" in unique_id else "bad"
        outcomes.setdefault(test_name, {})[seed] = result["status"]
    assert set(outcomes) == OUR_GENERIC_TESTS
    for test_name, by_seed in outcomes.items():
        assert by_seed == {"good": "pass", "bad": "fail"}, (test_name, by_seed)


def test_a_daily_run_checks_the_keys_of_the_partitions_it_rewrote(tmp_path: Path) -> None:
    """unique_combination_of_columns with partition_column: every duplicate in a run without
    a window; in a daily run (window 2026-01-11, lookback 2 days: partitions from
    2026-01-09), the duplicates that have a row in those partitions, wherever the other
    copy lies, and not those wholly in older partitions, which earlier runs checked."""
    project, env = fixture_project(tmp_path)
    subprocess.run(
        [DBT, "seed", "--select", "keys_by_partition"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )

    def failures(window: str | None) -> dict[tuple[str, ...], int]:
        run_env = dict(env)
        if window is not None:
            run_env.update(WAREHOUSE_WINDOW_MIN_DATE=window, WAREHOUSE_WINDOW_MAX_DATE=window)
        subprocess.run(
            [DBT, "test", "--select", "keys_by_partition"],
            cwd=project,
            env=run_env,
            capture_output=True,
        )
        results = json.loads((project / "target" / "run_results.json").read_text())["results"]
        manifest = json.loads((project / "target" / "manifest.json").read_text())
        by_key = {}
        for result in results:
            if not result["unique_id"].startswith("test."):
                continue  # the warehouse package's hooks
            arguments = manifest["nodes"][result["unique_id"]]["test_metadata"]["kwargs"]
            by_key[tuple(arguments["combination_of_columns"])] = result["failures"]
        return by_key

    # [key]: x, y, z and w repeat; [key, partition_date]: z and w repeat within a partition
    assert failures(None) == {("key",): 4, ("key", "partition_date"): 2}
    # x (one copy in the window), z (both); not y and w (older partitions only)
    assert failures("2026-01-11") == {("key",): 2, ("key", "partition_date"): 1}
