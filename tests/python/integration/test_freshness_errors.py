"""`dbt source freshness` on a lake where one source's check cannot run (its folder holds no
file): the summary `make run` ends with and the Dagster check both report it as an error."""

from pathlib import Path

import pytest
from conftest import run_generator, warehouse_env

from warehouse.freshness import RUNTIME_ERROR, source_freshness, summary_line


def test_a_source_whose_freshness_query_fails_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    run_generator(
        "generate", "--seed=3", "--customers=30", "--start-date=2026-03-01", "--days=2",
        f"--out={lake}",
    )  # fmt: skip
    for landed in (lake / "events").rglob("*.parquet"):
        landed.unlink()
    for name, value in warehouse_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    results = {result.name: result for result in source_freshness()}
    assert results["shop.events"].status == RUNTIME_ERROR
    assert {"shop.orders", "shop.customers"} <= results.keys()
    assert results["shop.orders"].status in {"pass", "warn", "error"}
    assert f"{RUNTIME_ERROR} shop.events" in summary_line(list(results.values()))
