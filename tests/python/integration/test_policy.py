"""The PII policy: the project complies, and each kind of breach is caught, by the Python
check over the manifest (lineage included) and by the dbt hook that stops every build."""

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Warehouse, run_dbt

from warehouse.governance.policy import check, report


@pytest.fixture(scope="module")
def manifest(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole project compiled against the session warehouse, in a target of its own
    (other tests' dbt commands rewrite the shared one with fewer nodes compiled)."""
    target = tmp_path_factory.mktemp("policy_target")
    run_dbt({**warehouse.env, "DBT_TARGET_PATH": str(target)}, "compile", "--quiet")
    return json.loads((target / "manifest.json").read_text())


def node(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        n
        for n in manifest["nodes"].values()
        if n["name"] == name and n["resource_type"] in ("model", "snapshot")
    )


def rules(violations, rule: str) -> list[str]:
    return [v.where for v in violations if v.rule == rule]


def test_the_project_complies_with_its_pii_policy(manifest, warehouse: Warehouse) -> None:
    assert check(manifest, warehouse.lake) == [], report(check(manifest, warehouse.lake))
    # the deliberate exceptions are declared, with their reasons
    for table in ("quarantined_rows", "corrected_rows"):
        audit = manifest["sources"][f"source.ml_warehouse.lake_audit.{table}"]
        raw_record = audit["columns"]["raw_record"]["meta"]
        assert raw_record["pii"] == "direct" and "erasure" in raw_record["pii_exception"]
    email = node(manifest, "dim_customers")["columns"]["email_pseudonym"]["meta"]
    assert email == {"pii": "direct", "pseudonymised": True}


def test_a_direct_identifier_reaching_a_mart_unpseudonymised_fails(manifest) -> None:
    """Staging stops hashing the email: lineage finds it in clear in the marts (although
    their YAML still says pseudonym), and a mart column declared direct in clear fails."""
    broken = copy.deepcopy(manifest)
    staging = node(broken, "stg_shop__customers")
    assert "sha256(" in staging["compiled_code"]
    staging["compiled_code"] = staging["compiled_code"].replace("sha256(", "concat(")
    channel = node(broken, "fct_orders")["columns"]["channel"]
    channel["meta"] = channel["config"]["meta"] = {"pii": "direct"}
    violations = check(broken)
    leaks = rules(violations, "direct-pii-unpseudonymised")
    assert any(where.endswith("dim_customers.email_pseudonym") for where in leaks), leaks
    assert any(where.endswith("dim_customers_history.email_pseudonym") for where in leaks)
    assert any("_marts__models.yml: fct_orders.channel" in where for where in leaks)
    assert not any("phone_pseudonym" in where for where in leaks), "phone is still hashed"


def test_an_unclassified_or_new_source_column_fails(
    manifest, warehouse: Warehouse, tmp_path: Path
) -> None:
    broken = copy.deepcopy(manifest)
    source = next(s for s in broken["sources"].values() if s["name"] == "customers")
    source["columns"]["city"]["meta"] = source["columns"]["city"]["config"]["meta"] = {}
    assert rules(check(broken, with_lineage=False), "source-column-unclassified") == [
        "models/staging/shop/_shop__sources.yml: shop.customers.city"
    ]

    # A feed starts sending a column nobody has classified: both checks refuse it, and the
    # dbt hook stops the build before anything runs.
    lake = tmp_path / "lake"
    shutil.copytree(warehouse.lake, lake)
    newest = sorted((lake / "customers").glob("ingest_date=*"))[-1] / "part-0.parquet"
    table = pq.read_table(newest)
    table = table.append_column("loyalty_tier", pa.array(["gold"] * table.num_rows))
    pq.write_table(table, newest)
    found = check(manifest, lake, with_lineage=False)
    assert [v.rule for v in found] == ["lake-column-undeclared"]
    assert "a column 'loyalty_tier' that is not declared" in found[0].message
    with warehouse.connect() as connection:
        (before,) = connection.execute("select count(*) from audit.dbt_run_results").fetchone()
    env = {**warehouse.env, "WAREHOUSE_LAKE_DIR": str(lake)}
    refused = run_dbt(env, "run", "--select", "dim_products", check=False)
    assert refused.returncode != 0
    assert "PII policy: 1 problem(s); nothing was run" in refused.stdout
    assert "have a column 'loyalty_tier' that is not declared" in refused.stdout
    assert str(found[0]) in refused.stdout, "the hook and check() word it the same"
    with duckdb.connect(str(warehouse.database), read_only=True) as connection:
        (after,) = connection.execute("select count(*) from audit.dbt_run_results").fetchone()
    assert after == before, "the hook stops the run before any node"


def test_quasi_identifiers_must_be_classified_and_generalised_in_exports(manifest) -> None:
    broken = copy.deepcopy(manifest)
    postal_code = node(broken, "dim_customers")["columns"]["postal_code"]
    postal_code["meta"] = postal_code["config"]["meta"] = {}
    export = node(broken, "export_training_set")
    for test in broken["nodes"].values():
        if (test.get("test_metadata") or {}).get("name") == "k_anonymous" and test.get(
            "attached_node"
        ) == export["unique_id"]:
            test["test_metadata"]["kwargs"]["quasi_identifiers"].remove("postal_prefix")
    violations = check(broken)
    assert rules(violations, "export-quasi-identifier-unprotected") == [
        "models/ml/exports/_exports__models.yml: export_training_set.postal_prefix"
    ]
    assert rules(violations, "personal-column-unclassified") == [
        "models/marts/_marts__models.yml: dim_customers.postal_code"
    ]
