"""A make variable is data, never shell: each reaches its program as one argument, which
refuses it with a message naming the argument and its rule. Every case runs the real
target (`make -n` would prove nothing) and checks that the payload's file never appears."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO_ROOT

# Shell (and make) syntax that would create the file if anything evaluated it.
PAYLOADS = {
    "semicolon": "2026-01-01; touch {marker}",
    "and": "2026-01-01 && touch {marker}",
    "backticks": "`touch {marker}`",
    "command substitution": "$(touch {marker})",
    "make function": "$(shell touch {marker})",
    "single quotes": "x'; touch {marker}; echo '",
    "double quotes": 'x"; touch {marker}; echo "',
    "newline": "2026-01-01\ntouch {marker}",
    "option": "--help; touch {marker}",
}


def make(tmp_path: Path, target: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WAREHOUSE_DATA_DIR": str(tmp_path / "data"),
        "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "data" / "warehouse.duckdb"),
    }
    return subprocess.run(
        ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_as_of_carrying_shell_syntax_runs_nothing(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    result = make(tmp_path, "dataset", AS_OF=payload.format(marker=marker))
    assert result.returncode != 0
    assert not marker.exists()
    assert "argument --as-of: must be a calendar date written YYYY-MM-DD" in result.stderr


@pytest.mark.parametrize(
    ("target", "variables", "message"),
    [
        (
            "dataset",
            {"AS_OF": "2026-01-01", "DATASET": "x; touch {marker}"},
            "argument --dataset: must be one of customer_features, training_set",
        ),
        ("lineage", {"COLUMN": "a.b$(touch {marker})"}, "argument column: must be model.column"),
        ("backup", {"FORMAT": "file`touch {marker}`"}, "argument --format: must be one of"),
        ("restore", {"FROM": "nowhere'; touch {marker}; '"}, "No backup at"),
        ("source", {"SYSTEM": "crm; touch {marker}", "TABLE": "t"}, "SYSTEM="),
        ("source", {"SYSTEM": "crm", "TABLE": "$(touch {marker})"}, "TABLE="),
        ("bench", {"BENCH_SCALES": "S; touch {marker}"}, "--scales: unknown"),
        ("bench", {"BENCH_REPEAT": "1; touch {marker}"}, "argument --repeat"),
    ],
)
def test_every_variable_reaches_its_program_as_one_argument(
    tmp_path: Path, target: str, variables: dict[str, str], message: str
) -> None:
    marker = tmp_path / "pwned"
    given = {name: value.format(marker=marker) for name, value in variables.items()}
    result = make(tmp_path, target, **given)
    assert result.returncode != 0
    assert not marker.exists()
    assert message in result.stderr
