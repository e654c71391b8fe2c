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

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "generic_tests"
OUR_GENERIC_TESTS = {path.stem for path in (REPO_ROOT / "tests" / "generic").glob("*.sql")}


def test_every_generic_test_passes_on_good_data_and_fails_on_bad(tmp_path: Path) -> None:
    project = tmp_path / "generic_tests"
    shutil.copytree(FIXTURE, project)
    (project / "packages.yml").write_text(f"packages:\n  - local: {REPO_ROOT}\n")
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(REPO_ROOT / "profiles"),
        WAREHOUSE_DUCKDB_PATH=str(tmp_path / "fixtures.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    dbt = str(Path(sys.executable).parent / "dbt")
    subprocess.run([dbt, "deps"], cwd=project, env=env, check=True, capture_output=True)
    build = subprocess.run(
        [dbt, "build", "--select", "package:generic_test_fixtures"],
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
