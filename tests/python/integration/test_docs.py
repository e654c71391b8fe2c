"""The data dictionary: every source, seed, model, snapshot and column described, checked
against the columns the built warehouse really has (a column added to a model's SQL and
not to its YAML is caught even when the YAML never listed it). Exposures name the
consumers of the ML tables and their owners."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

DOCUMENTED = ("model", "seed", "snapshot")


def relation_columns(warehouse) -> dict[tuple[str, str], list[str]]:
    with warehouse.connect() as connection:
        rows = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
        ).fetchall()
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        columns.setdefault((schema, table), []).append(column)
    return columns


def undocumented(
    manifest: Mapping[str, Any], columns: Mapping[tuple[str, str], list[str]]
) -> list[str]:
    """Every node, source and column without a description, as readable lines naming the
    YAML to fix. A node whose relation is missing from `columns` is reported too."""
    gaps = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in DOCUMENTED or node["package_name"] != "ml_warehouse":
            continue
        yaml = node.get("patch_path") or node["original_file_path"]
        where = f"{node['resource_type']} {node['name']} ({yaml})"
        if not node["description"].strip():
            gaps.append(f"{where}: no description")
        documented = {
            name.lower()
            for name, column in node["columns"].items()
            if column["description"].strip()
        }
        actual = columns.get((node["schema"], node["alias"]))
        if actual is None:
            gaps.append(f"{where}: relation {node['schema']}.{node['alias']} not built")
            continue
        gaps += [
            f"{where}: column {c} has no description" for c in actual if c.lower() not in documented
        ]
    for source in manifest["sources"].values():
        where = f"source {source['source_name']}.{source['name']} ({source['original_file_path']})"
        if not source["description"].strip():
            gaps.append(f"{where}: no description")
        gaps += [
            f"{where}: column {name} has no description"
            for name, column in source["columns"].items()
            if not column["description"].strip()
        ]
    return gaps


@pytest.fixture(scope="module")
def catalog(warehouse) -> tuple[dict[str, Any], dict[tuple[str, str], list[str]]]:
    return warehouse.manifest(), relation_columns(warehouse)


def node(manifest: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return next(
        n for n in manifest["nodes"].values() if n["name"] == name and n["resource_type"] == "model"
    )


def test_every_node_and_column_is_described(catalog) -> None:
    manifest, columns = catalog
    assert undocumented(manifest, columns) == []


def test_the_check_catches_an_undocumented_column(catalog) -> None:
    manifest, columns = catalog
    broken = copy.deepcopy(manifest)
    fct_orders = node(broken, "fct_orders")
    fct_orders["columns"]["gross_amount"]["description"] = ""
    grown = {key: list(value) for key, value in columns.items()}
    grown[("marts", "fct_orders")].append("added_in_sql_only")
    gaps = undocumented(broken, grown)
    assert len(gaps) == 2, gaps
    assert all("fct_orders" in gap and "_marts__models.yml" in gap for gap in gaps)
    assert any("gross_amount" in gap for gap in gaps)
    assert any("added_in_sql_only" in gap for gap in gaps)


@pytest.mark.parametrize(
    ("export", "model"),
    [
        ("export_training_set", "ml_training_set"),
        ("export_customer_features_latest", "ml_customer_features_latest"),
    ],
)
def test_exports_describe_their_columns_as_the_model_they_write(catalog, export, model) -> None:
    """Every column but the generalised quasi-identifiers (the export's own, checked by its
    k_anonymous test) is the model's, described alike."""
    manifest, _ = catalog
    written, source = node(manifest, export), node(manifest, model)
    generalised = {
        name
        for test in manifest["nodes"].values()
        if (test.get("test_metadata") or {}).get("name") == "k_anonymous"
        and test.get("attached_node") == written["unique_id"]
        for name in test["test_metadata"]["kwargs"]["quasi_identifiers"]
    }
    assert generalised == {"age_band", "country_area", "postal_prefix"}, export
    assert written["columns"], export
    for name, column in written["columns"].items():
        if name not in generalised:
            assert column["description"] == source["columns"][name]["description"], name
    assert "country_code" not in written["columns"], "the exact country stays in the warehouse"


def test_exposures_name_the_consumers_of_the_ml_tables_and_their_owners(catalog) -> None:
    manifest, _ = catalog
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {
        "churn_model_training",
        "customer_features_serving",
        "elementary_monitoring_report",
    }
    for exposure in exposures.values():
        assert exposure["owner"]["email"] and exposure["description"].strip()
    depends = {
        name: {manifest["nodes"][uid]["name"] for uid in e["depends_on"]["nodes"]}
        for name, e in exposures.items()
    }
    assert "export_training_set" in depends["churn_model_training"]
    assert depends["customer_features_serving"] == {"export_customer_features_latest"}
    assert {"fct_orders", "ml_training_set"} <= depends["elementary_monitoring_report"]
