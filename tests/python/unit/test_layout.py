"""The layout the README's map promises: the Dagster code location defines Dagster things,
the library imports nothing from Dagster, importing a module has no side effect, and `make
help` lists every target."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def is_dagster(module: str) -> bool:
    return module.split(".")[0].startswith("dagster")


def test_every_module_of_the_code_location_uses_dagster() -> None:
    without = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "orchestration").rglob("*.py"))
        if path.name != "__init__.py" and not any(map(is_dagster, imported_modules(path)))
    ]
    assert not without, f"not Dagster definitions, so they belong in warehouse/: {without}"


def test_the_library_imports_nothing_from_dagster() -> None:
    offending = {
        path.relative_to(REPO_ROOT).as_posix(): sorted(
            module
            for module in imported_modules(path)
            if is_dagster(module) or module.split(".")[0] == "orchestration"
        )
        for path in sorted((REPO_ROOT / "warehouse").rglob("*.py"))
    }
    assert not {path: modules for path, modules in offending.items() if modules}


def test_make_help_lists_every_target() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, re.MULTILINE))
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    described = {
        line.split()[1] for line in listed if line.startswith("make ") and len(line.split()) > 2
    }
    assert targets <= described, f"targets without a `## description` line: {targets - described}"


# Dagster itself starts a process when imported (its vendored croniter asks `file` for the
# interpreter's architecture): imported first, so that only this repository's modules count.
IMPORT_PROBE = """
import importlib, json, os, sys
import dagster, dagster_dbt
started = []
def audit(event, args):
    if event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork"):
        started.append(event)
sys.addaudithook(audit)
found = {}
for name in sys.argv[1:]:
    before, started[:] = dict(os.environ), []
    importlib.import_module(name)
    changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
    if changed or started:
        found[name] = {"environment": changed, "processes": sorted(set(started))}
print(json.dumps(found))
"""


def test_importing_a_module_sets_no_environment_variable_and_starts_no_process() -> None:
    packages = ("orchestration", "warehouse", "generator", "bench")
    names = sorted(
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in packages
        for path in (REPO_ROOT / package).rglob("*.py")
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_IS_DEV_CLI"}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *names],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {}
