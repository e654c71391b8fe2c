"""The dagster-dbt patch (warehouse/library_patches.py, SkipDbtCliStartup): it must still
replace what `DbtCliResource.cli` calls, or it silently stops saving anything."""

from __future__ import annotations

import inspect
import subprocess
from importlib.metadata import version

import pytest
from dagster_dbt import DbtCliResource

from orchestration.resources import WarehouseDbtCliResource, dbt_resource


def test_dagster_dbt_still_calls_what_the_resource_replaces() -> None:
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source
    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), f"dagster-dbt no longer defines {name}"
        assert getattr(WarehouseDbtCliResource, name) is not getattr(DbtCliResource, name)


def test_the_resource_needs_no_subprocess_and_no_adapter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_subprocess(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("`dbt --version` was run")

    monkeypatch.setattr(subprocess, "check_output", no_subprocess)
    assert str(dbt_resource._cli_version) == version("dbt-core")
    assert dbt_resource._initialize_dbt_core_adapter(["build"]) is None
