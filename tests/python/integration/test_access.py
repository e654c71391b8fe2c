"""Access boundaries: vars that reach SQL are validated, the development salt is refused
outside dev, and the analysts' read-only profile cannot write."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import REPO_ROOT, Warehouse, run_dbt

from warehouse.governance.access import analyst_connection


@pytest.mark.parametrize(
    ("var", "value", "model", "expected"),
    [
        ("max_date", "2026-01-01' or 1=1 --", "base_shop__orders", "must be a date written"),
        ("dataset_as_of", "2026-02-30", "ml_customer_labels", "(no such day)"),
        ("lookback_days", "1; drop table marts.fct_orders", "base_shop__orders", "whole number"),
        (
            "git_commit",
            "x'; drop table ml.ml_dataset_versions; --",
            "ml_dataset_versions",
            "must be a plain token",
        ),
    ],
)
def test_crafted_var_values_are_refused_with_a_clear_message(
    warehouse: Warehouse, var: str, value: str, model: str, expected: str
) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    result = warehouse.dbt(
        "run", "--select", model, "--vars", f'{{{var}: "{escaped}"}}', check=False
    )
    assert result.returncode != 0
    assert f"var '{var}'" in result.stdout and expected in result.stdout, result.stdout[-3000:]
    assert value in result.stdout  # the message shows what was refused
    with warehouse.connect() as connection:
        for table in ("marts.fct_orders", "ml.ml_dataset_versions"):
            connection.execute(f"select count(*) from {table}").fetchone()


def test_a_crafted_or_conflicting_window_from_the_environment_is_refused(
    warehouse: Warehouse,
) -> None:
    """Dagster gives a partition's window through the environment (orchestration/partitions.py):
    checked like the vars, and never silently beside a different var."""
    crafted = "2026-01-01' or 1=1 --"
    env = {**warehouse.env, "WAREHOUSE_WINDOW_MAX_DATE": crafted}
    result = run_dbt(env, "run", "--select", "base_shop__orders", check=False)
    assert result.returncode != 0
    assert "environment variable WAREHOUSE_WINDOW_MAX_DATE must be a date written" in result.stdout
    assert crafted in result.stdout

    env = {**warehouse.env, "WAREHOUSE_WINDOW_MIN_DATE": "2026-03-05"}
    vars_ = '{min_date: "2026-03-04"}'
    result = run_dbt(env, "run", "--select", "base_shop__orders", "--vars", vars_, check=False)
    assert result.returncode != 0
    assert "the run's window is given twice" in result.stdout, result.stdout[-3000:]


def test_the_development_salt_is_refused_outside_dev(warehouse: Warehouse, tmp_path: Path) -> None:
    env = {key: value for key, value in warehouse.env.items() if key != "WAREHOUSE_PII_SALT"}
    env.update(WAREHOUSE_DUCKDB_PATH=str(tmp_path / "refused.duckdb"))
    refused = run_dbt(env, "seed", "--select", "countries", check=False)
    assert refused.returncode != 0
    assert "Refusing to build target 'ci' with the default development salt" in refused.stdout
    assert "WAREHOUSE_PII_SALT" in refused.stdout
    with duckdb.connect(str(tmp_path / "refused.duckdb"), read_only=True) as connection:
        tables = connection.execute("select count(*) from information_schema.tables").fetchone()
    assert tables == (0,), "nothing may be written before the guard refuses"

    short = run_dbt(
        {**env, "WAREHOUSE_PII_SALT": "too-short"}, "seed", "-s", "countries", check=False
    )
    assert short.returncode != 0 and "at least 16 characters" in short.stdout

    dev = {**env, "WAREHOUSE_TARGET": "dev", "WAREHOUSE_DUCKDB_PATH": str(tmp_path / "dev.duckdb")}
    run_dbt(dev, "compile", "--select", "stg_shop__customers")  # dev may use the default


def test_the_analyst_profile_reads_but_cannot_write(warehouse: Warehouse) -> None:
    shown = warehouse.dbt(
        "show", "--target", "analyst", "--inline", "select count(*) as orders from marts.fct_orders"
    )
    with warehouse.connect() as connection:
        (orders,) = connection.execute("select count(*) from marts.fct_orders").fetchone()
    assert f"| {orders} |".replace(" ", "") in shown.stdout.replace(" ", "")

    refused = warehouse.dbt("run", "--target", "analyst", "--select", "dim_products", check=False)
    assert refused.returncode != 0
    assert "read-only mode" in refused.stdout, refused.stdout[-3000:]

    with analyst_connection(warehouse.database) as connection:
        assert connection.execute("select count(*) from marts.dim_customers").fetchone()[0] > 0
        for statement in (
            "delete from marts.dim_customers",
            "create table marts.copied as select 1 as x",
            "drop table marts.fct_orders",
        ):
            with pytest.raises(duckdb.InvalidInputException, match="read-only mode"):
                connection.execute(statement)
        # no file system: neither writing files nor reading raw PII through the lake views
        with pytest.raises(duckdb.PermissionException):
            connection.execute(f"copy marts.dim_customers to '{warehouse.root}/leak.parquet'")
        with pytest.raises(duckdb.PermissionException):
            connection.execute("select email from staging.base_shop__customers limit 1")
    assert not (warehouse.root / "leak.parquet").exists()


def test_the_uis_bind_to_localhost_and_credentials_come_from_the_environment() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    servers = [
        line.strip()
        for line in makefile.splitlines()
        if re.search(r'dagster"? dev', line) or "http.server" in line or "docs serve" in line
    ]
    assert len(servers) == 2 and all(
        "--bind 127.0.0.1" in line or "--host 127.0.0.1" in line for line in servers
    ), servers
    assert "docs serve" not in makefile, "target/ (compiled SQL with the salt) is never served"

    profiles = yaml.safe_load((REPO_ROOT / "profiles" / "profiles.yml").read_text())
    outputs = {
        f"{profile}.{name}": output
        for profile, body in profiles.items()
        for name, output in body["outputs"].items()
    }
    assert outputs["ml_warehouse.analyst"]["config_options"] == {
        "access_mode": "READ_ONLY",
        "enable_external_access": False,
    }
    for where, output in outputs.items():
        assert "env_var('WAREHOUSE_DUCKDB_PATH'" in output["path"], where
        secrets = {k for k in output if re.search("password|token|secret|key|salt", k)}
        assert not secrets, f"{where}: credentials belong in environment variables"
    text = "\n".join(
        path.read_text()
        for path in (REPO_ROOT / "profiles" / "profiles.yml", REPO_ROOT / "dbt_project.yml")
    )
    assert "development-salt-not-secret" not in text
