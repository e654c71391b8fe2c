"""Jinja's bytecode cache in `warehouse-dbt` (warehouse/jinja_bytecode_cache.py).

Every dbt command of this suite runs through `warehouse-dbt` with the cache on, so the
warehouse the other tests check was built from cached templates after the first command;
these tests check the cache itself. That dbt parses the project the same with it is in
integration/test_jinja_bytecode_cache_parse.py (two whole parses of the project).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dbt.cli.main
import jinja2
import pytest
from dbt_common.clients.jinja import get_template
from dbt_common.exceptions import CompilationError

from warehouse import dbt_cli, jinja_bytecode_cache


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """The sources Jinja really compiles (cache misses), with the cache installed in
    tmp_path/cache; the class's own method is put back afterwards."""
    sources: list[str] = []
    compile_source = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, *args: Any, **kwargs: Any) -> Any:
        sources.append(source)
        return compile_source(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    (tmp_path / "cache").mkdir()
    jinja_bytecode_cache.install(tmp_path / "cache")
    yield sources


def render(source: str, context: dict[str, Any] | None = None, native: bool = False) -> Any:
    """What dbt does with a template: a new environment, then the rendering."""
    return get_template(source, context or {}, native=native).render(context or {})


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cache"))


def test_a_template_compiled_once_is_read_back_by_later_environments(
    compiled: list[str], tmp_path: Path
) -> None:
    source = "{% for i in range(n) %}{{ i * 2 }},{% endfor %}"
    assert render(source, {"n": 3}) == "0,2,4,"
    assert compiled == [source]
    assert len(entries(tmp_path / "cache")) == 1

    # dbt makes a new environment for every template; the second one reads the entry.
    assert render(source, {"n": 4}) == "0,2,4,6,"
    assert compiled == [source]


def test_sources_and_environments_have_entries_of_their_own(
    compiled: list[str], tmp_path: Path
) -> None:
    assert render("{{ 1 + 1 }}") == "2"
    assert render("{{ 1 + 2 }}") == "3"
    # dbt's native environment (for typed config values) is another class: its own entry.
    assert render("{{ 1 + 1 }}", native=True) == "2"
    assert compiled == ["{{ 1 + 1 }}", "{{ 1 + 2 }}", "{{ 1 + 1 }}"]
    assert len(entries(tmp_path / "cache")) == 3


def test_a_syntax_error_is_dbts_error_as_before_and_nothing_is_cached(
    compiled: list[str], tmp_path: Path
) -> None:
    with pytest.raises(CompilationError, match="Unexpected end of template"):
        render("{% if x %}never closed")
    assert entries(tmp_path / "cache") == []


def test_an_unreadable_entry_is_compiled_again_and_replaced(
    compiled: list[str], tmp_path: Path
) -> None:
    render("{{ 6 * 7 }}")
    [entry] = entries(tmp_path / "cache")
    entry.write_bytes(entry.read_bytes()[:20])  # cut short, as by a full disk
    assert render("{{ 6 * 7 }}") == "42"
    assert len(compiled) == 2
    assert render("{{ 6 * 7 }}") == "42"
    assert len(compiled) == 2  # the rewritten entry is whole again


def test_the_setting_names_the_directory_or_turns_the_cache_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setting = jinja_bytecode_cache.SETTING
    default = jinja_bytecode_cache.default_directory()
    assert default.is_relative_to(sys.prefix)  # with the virtual environment's libraries
    assert jinja_bytecode_cache.cache_directory({}) == default
    assert jinja_bytecode_cache.cache_directory({setting: str(tmp_path / "c")}) == tmp_path / "c"
    assert jinja_bytecode_cache.cache_directory({setting: "off"}) is None
    assert jinja_bytecode_cache.cache_directory({"DBT_MACRO_DEBUGGING": "1"}) is None
    assert capsys.readouterr().err == ""

    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    assert jinja_bytecode_cache.cache_directory({setting: str(not_a_directory)}) is None
    assert f"{setting}={not_a_directory} is not a writable directory" in capsys.readouterr().err


def test_warehouse_dbt_compiles_through_the_cache_unless_it_is_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(jinja2.Environment, "compile", jinja2.Environment.compile)
    compile_methods: list[str] = []
    monkeypatch.setattr(
        dbt.cli.main, "cli", lambda: compile_methods.append(jinja2.Environment.compile.__name__)
    )
    for setting in ("off", str(tmp_path)):
        monkeypatch.setenv(jinja_bytecode_cache.SETTING, setting)
        try:
            with pytest.raises(SystemExit):
                dbt_cli.main()
        finally:
            gc.enable()
    assert compile_methods == ["compile", "compile_through_cache"]
