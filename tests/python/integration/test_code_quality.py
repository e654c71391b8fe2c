"""Static checks that CI must hold: lint clean and the Dagster code location loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)


def test_ruff_is_clean() -> None:
    lint = run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout
    formatting = run(str(BIN / "ruff"), "format", "--check", ".")
    assert formatting.returncode == 0, formatting.stdout


def test_sqlfluff_is_clean(tmp_path: Path) -> None:
    env = dict(os.environ)
    # The dbt templater compiles every model; point it at a scratch database and target.
    env.update(
        DBT_PROFILES_DIR=str(REPO_ROOT / "profiles"),
        WAREHOUSE_DUCKDB_PATH=str(tmp_path / "lint.duckdb"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    result = run(str(BIN / "sqlfluff"), "lint", "--disable-progress-bar", env=env)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    result = run(
        str(BIN / "dagster"), "definitions", "validate", "-m", "orchestration.definitions", env=env
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Validation successful" in result.stdout + result.stderr
