"""`warehouse-dbt` (warehouse/library_patches.py): dbt's command line, collector off."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import dbt.cli.main
import pytest

from warehouse.library_patches import dbt_main
from warehouse.settings import DBT_EXECUTABLE

PLAIN_DBT = Path(sys.executable).parent / "dbt"


def test_dagster_and_the_tests_run_dbt_through_warehouse_dbt() -> None:
    """`make install` installs the project, so the command exists; without it the
    project would fall back to plain dbt and lose the collector's second unnoticed."""
    assert DBT_EXECUTABLE.name == "warehouse-dbt"
    assert DBT_EXECUTABLE.exists()


def test_dbt_runs_with_the_collector_off_and_its_exit_code_is_dbts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []

    def fake_cli() -> int:
        seen.append(gc.isenabled())
        return 1

    monkeypatch.setattr(dbt.cli.main, "cli", fake_cli)
    try:
        with pytest.raises(SystemExit) as exit_:
            dbt_main()
    finally:
        gc.enable()
    assert seen == [False]
    assert exit_.value.code == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--help"], 0), (["no-such-command"], 2), (["parse", "--no-such-option"], 2)],
)
def test_arguments_output_and_exit_codes_are_plain_dbts(args: list[str], code: int) -> None:
    ours = subprocess.run(
        [str(DBT_EXECUTABLE), *args], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    plain = subprocess.run(
        [str(PLAIN_DBT), *args], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert ours.returncode == plain.returncode == code
    assert ours.stdout.replace("warehouse-dbt", "dbt") == plain.stdout
    assert ours.stderr.replace("warehouse-dbt", "dbt") == plain.stderr
