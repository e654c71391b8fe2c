"""Column-level lineage from dbt's compiled SQL (warehouse/column_lineage.py), on three
columns of the training set whose sources are known from their definitions."""

from __future__ import annotations

import json

import pytest

from warehouse.column_lineage import ColumnLineage, LineageError, main


@pytest.fixture(scope="module")
def lineage(warehouse) -> ColumnLineage:
    target = warehouse.root / "lineage_target"
    warehouse.dbt("compile", "--quiet", "--target-path", str(target))
    return ColumnLineage(json.loads((target / "manifest.json").read_text()))


def test_an_attribute_comes_from_the_customer_feed(lineage) -> None:
    # the snapshot version's segment: raw customers.segment through staging and snap_customers
    assert lineage.sources_of("ml_training_set", "segment") == {("shop.customers", "segment")}


def test_the_spend_label_is_quantity_times_price_converted_to_eur(lineage) -> None:
    assert lineage.sources_of("ml_training_set", "spend_next_30d_eur") == {
        ("shop.order_items", "quantity"),
        ("shop.order_items", "unit_price"),
        ("seed.currencies", "eur_per_unit"),
    }


def test_tenure_is_sign_up_time_against_the_as_of_date(lineage) -> None:
    # as_of_date is the morning after a landed day (int_days_landed), which the file
    # inventory reads from the lake's folder names, not from a source column
    assert lineage.sources_of("ml_training_set", "tenure_days") == {
        ("shop.customers", "created_at"),
    }


def test_an_unknown_column_is_a_clear_error(lineage, warehouse, capsys) -> None:
    with pytest.raises(LineageError, match="ml_training_set has no column 'nope'"):
        lineage.sources_of("ml_training_set", "nope")
    manifest = warehouse.root / "lineage_target" / "manifest.json"
    assert main(["ml_training_set.segment", "--manifest", str(manifest)]) == 0
    assert "shop.customers.segment" in capsys.readouterr().out
