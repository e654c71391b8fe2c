"""`make source` (warehouse/scaffold.py): a new lake table's sources entry, base and staging
models from a landed Parquet file, in copies of the project's files (no dbt build)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO_ROOT

from warehouse.scaffold import ScaffoldError, main, scaffold

SHOP = Path("models/staging/shop")
CRM = Path("models/staging/crm")
PII_BLANK = {"meta": {"pii": None}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The dbt project's staging folder of the shop, the only one the scaffold reads."""
    shutil.copytree(REPO_ROOT / SHOP, tmp_path / SHOP)
    return tmp_path


def landed_file(folder: Path, columns: dict[str, pa.Array]) -> Path:
    path = folder / "lake" / "ingest_date=2026-01-01" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    return landed_file(
        tmp_path,
        {
            "contact_id": pa.array(["K1"], pa.string()),
            "visits": pa.array([3], pa.int64()),
            "score": pa.array([0.5], pa.float64()),
            "updated_at": pa.array([dt.datetime(2026, 1, 1, 8)], pa.timestamp("us")),
            "is_active": pa.array([True], pa.bool_()),
        },
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def column(name: str, data_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "data_type": data_type,
        "config": PII_BLANK,
        "description": f"TODO: describe {name}.",
    }


EXPECTED_CONTACTS = {
    "name": "contacts",
    "description": "TODO: what one row of contacts is.",
    "config": {
        "meta": {
            "lake": {
                "natural_key": ["TODO"],
                "event_time": "updated_at",  # the only timestamp column
                "required_columns": ["TODO"],
                "partition": "ingest_date",
                "delivery": "change_feed",
                "on_conflict": "quarantine",
            }
        }
    },
    "columns": [
        # data_type: the contract, the type the base model casts to, as DuckDB names it
        column("contact_id", "varchar"),
        column("visits", "bigint"),
        column("score", "double"),
        column("updated_at", "timestamp"),
        column("is_active", "boolean"),
        {
            "name": "ingest_date",
            "data_type": "date",
            "config": {"meta": {"pii": "none"}},
            "description": "The Hive partition (landing day) the row was delivered in.",
        },
        {
            "name": "filename",
            "data_type": "varchar",
            "config": {"meta": {"pii": "none"}},
            "description": "The Parquet file the row was read from.",
        },
        {
            "name": "file_row_number",
            "data_type": "bigint",
            "config": {"meta": {"pii": "none"}},
            "description": "The row's position in its file, from 0.",
        },
    ],
}


def test_a_new_system_gets_a_source_block_like_the_shops(project: Path, contacts: Path) -> None:
    scaffold(project, "crm", "contacts", contacts)

    sources = load(project / CRM / "_crm__sources.yml")
    shop = load(project / SHOP / "_shop__sources.yml")["sources"][0]
    assert sources["version"] == 2
    [crm] = sources["sources"]
    assert crm["name"] == "crm"
    assert crm["description"].startswith("TODO")
    assert crm["meta"] == {
        "lake_subdir": "crm",
        "lake_dir": "{{ env_var('WAREHOUSE_LAKE_DIR', 'data/lake') }}/crm",
        "external_location": shop["meta"]["external_location"],
        "lake_active_within_days": 7,
    }
    assert crm["config"] == shop["config"]
    assert crm["tables"] == [EXPECTED_CONTACTS]
    # The Parquet type of each column is a comment beside its name.
    text = (project / CRM / "_crm__sources.yml").read_text()
    for name, parquet_type in [
        ("contact_id", "string"),
        ("visits", "int64"),
        ("score", "double"),
        ("updated_at", "timestamp[us]"),
        ("is_active", "bool"),
    ]:
        assert f"          - name: {name}  # {parquet_type}\n" in text
    assert "config: {meta: {pii: }}" in text  # the project's flow style, left blank


def test_the_base_model_casts_each_column_by_its_parquet_type(
    project: Path, contacts: Path
) -> None:
    scaffold(project, "crm", "contacts", contacts)

    sql = (project / CRM / "base" / "base_crm__contacts.sql").read_text()
    assert (
        "landed as (\n"
        "    select * from {{ readable_lake_files(source('crm', 'contacts')) }}\n"
        "    where {{ ingest_window('ingest_date') }}\n"
        "),\n"
    ) in sql
    assert (
        "typed as (\n"
        "    select\n"
        "        cast(contact_id as {{ dbt.type_string() }}) as contact_id,\n"
        "        cast(visits as {{ dbt.type_bigint() }}) as visits,\n"
        "        cast(score as double) as score,\n"
        "        {{ utc_timestamp('updated_at') }} as updated_at,\n"
        "        cast(is_active as {{ dbt.type_boolean() }}) as is_active,\n"
        "        ingest_date as _ingest_date,\n"
        "        filename as _source_file,\n"
        "        file_row_number as _source_row,\n"
        "        {{ record_to_json('landed') }} as _raw_record\n"
        "    from landed\n"
        "),\n"
    ) in sql
    # The key is a placeholder column: the run fails until someone writes the real one.
    assert (
        "checked as (\n"
        "    select\n"
        "        typed.*,\n"
        "        {{ first_failed_rule([\n"
        "            ('unparseable_value', unparseable_timestamps([\n"
        "                ('updated_at', 'typed.updated_at'),\n"
        "            ], 'typed._raw_record')),\n"
        "            ('null_key', 'typed.todo_natural_key is null'),\n"
        "            ('oversized_record', oversized_record('typed._raw_record')),\n"
        "        ]) }} as _rejection_reason\n"
        "    from typed\n"
        ")\n\n"
        "select * from checked\n"
    ) in sql
    assert sql.startswith("{#-\n") and "-#}\nwith\n\nlanded as (" in sql
    assert "The key probably starts with contact_id." in sql
    assert all(len(line) <= 120 for line in sql.splitlines())  # .sqlfluff's max_line_length

    [base] = load(project / CRM / "base" / "_crm__base_models.yml")["models"]
    assert base["name"] == "base_crm__contacts"
    assert base["config"] == {"materialized": "view"}  # raw values are not stored
    assert [c["name"] for c in base["columns"]] == [
        "contact_id",
        "visits",
        "score",
        "updated_at",
        "is_active",
        "_ingest_date",
        "_source_file",
        "_source_row",
        "_raw_record",
        "_rejection_reason",
    ]
    raw = named(base["columns"], "_raw_record")["config"]["meta"]
    assert raw["pii"] == "direct" and raw["pii_exception"]


def test_the_staging_model_selects_every_column_from_its_staged_deliveries(
    project: Path, contacts: Path
) -> None:
    scaffold(project, "crm", "contacts", contacts)

    assert (project / CRM / "stg_crm__contacts.sql").read_text() == (
        "-- TODO: one line on what a row of stg_crm__contacts is.\n"
        "{{ config(materialized='incremental', incremental_strategy='delete+insert',"
        " unique_key='_ingest_date') }}\n"
        "\n"
        "with\n"
        "\n"
        "deliveries as (\n"
        "    select * from {{ staged_deliveries(ref('base_crm__contacts')) }}\n"
        ")\n"
        "\n"
        "select\n"
        "    contact_id,\n"
        "    visits,\n"
        "    score,\n"
        "    updated_at,\n"
        "    is_active,\n"
        "    _ingest_date,\n"
        "    _source_file,\n"
        "    _record_hash\n"
        "from deliveries\n"
    )
    [staging] = load(project / CRM / "_crm__models.yml")["models"]
    assert staging["name"] == "stg_crm__contacts"
    assert "pseudonymise" in staging["description"]  # direct identifiers, once classified
    assert "{{" not in staging["description"]  # dbt renders descriptions as Jinja
    assert [c["name"] for c in staging["columns"]][-3:] == [
        "_ingest_date",
        "_source_file",
        "_record_hash",
    ]


def test_a_second_table_is_appended_and_the_first_kept(
    project: Path, contacts: Path, tmp_path: Path
) -> None:
    scaffold(project, "crm", "contacts", contacts)
    files = [
        CRM / "_crm__sources.yml",
        CRM / "base" / "_crm__base_models.yml",
        CRM / "_crm__models.yml",
    ]
    before = {path: (project / path).read_text() for path in files}
    # Two timestamps and no id: neither event time nor key hint can be told from names.
    notes = landed_file(
        tmp_path / "notes",
        {
            "note_text": pa.array(["hello"], pa.string()),
            "written_at": pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("ms")),
            "read_at": pa.array([None], pa.timestamp("ms")),
        },
    )

    scaffold(project, "crm", "notes", notes)

    for path in files:  # appended to, never rewritten
        assert (project / path).read_text().startswith(before[path]), path
    tables = load(project / CRM / "_crm__sources.yml")["sources"][0]["tables"]
    assert tables[0] == EXPECTED_CONTACTS
    assert tables[1]["name"] == "notes"
    assert tables[1]["config"]["meta"]["lake"]["event_time"] == "TODO"
    assert [m["name"] for m in load(project / files[1])["models"]] == [
        "base_crm__contacts",
        "base_crm__notes",
    ]
    assert [m["name"] for m in load(project / files[2])["models"]] == [
        "stg_crm__contacts",
        "stg_crm__notes",
    ]


def test_appending_to_the_shop_keeps_its_files_comments_and_all(
    project: Path, contacts: Path
) -> None:
    files = [SHOP / "_shop__sources.yml", SHOP / "base" / "_shop__base_models.yml"]
    files.append(SHOP / "_shop__models.yml")
    before = {path: (project / path).read_text() for path in files}

    scaffold(project, "shop", "returns", contacts)

    for path in files:
        assert (project / path).read_text().startswith(before[path]), path
    shop = load(project / SHOP / "_shop__sources.yml")["sources"][0]
    assert [t["name"] for t in shop["tables"]][-2:] == ["events", "returns"]
    # _shop__models.yml separates its models by a blank line; the new one too.
    assert "\n\n  - name: stg_shop__returns\n" in (project / files[2]).read_text()


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_a_declared_table_is_refused_and_nothing_written(project: Path, contacts: Path) -> None:
    before = snapshot(project / "models")

    with pytest.raises(ScaffoldError, match=r"shop\.orders is already declared in .*_shop__sou"):
        scaffold(project, "shop", "orders", contacts)

    assert snapshot(project / "models") == before


def test_a_missing_from_file_is_named(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "lake" / "nowhere.parquet"

    assert main(["crm", "contacts", "--from", str(missing), "--root", str(project)]) == 1

    assert str(missing) in capsys.readouterr().err
    assert not (project / CRM).exists()


def test_without_a_file_a_skeleton_with_one_placeholder_column(project: Path) -> None:
    scaffold(project, "crm", "contacts")

    [table] = load(project / CRM / "_crm__sources.yml")["sources"][0]["tables"]
    assert [c["name"] for c in table["columns"]] == [
        "todo_column",
        "ingest_date",
        "filename",
        "file_row_number",
    ]
    assert table["columns"][0]["config"] == PII_BLANK
    assert table["config"]["meta"]["lake"]["natural_key"] == ["TODO"]
    assert table["config"]["meta"]["lake"]["event_time"] == "TODO"
    sql = (project / CRM / "base" / "base_crm__contacts.sql").read_text()
    assert "cast(todo_column as {{ dbt.type_string() }}) as todo_column," in sql


def test_the_command_says_what_it_wrote_and_what_to_fill_in(
    project: Path, contacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crm", "contacts", "--from", str(contacts), "--root", str(project)]) == 0

    out = capsys.readouterr().out
    written, todo = out.split("Next, fill in")
    for path in [
        CRM / "_crm__sources.yml",
        CRM / "base" / "base_crm__contacts.sql",
        CRM / "base" / "_crm__base_models.yml",
        CRM / "stg_crm__contacts.sql",
        CRM / "_crm__models.yml",
    ]:
        assert f"  {path}: " in written
    steps = [line.strip() for line in todo.splitlines()[1:]]
    assert [step.split(".")[0] for step in steps] == [str(n) for n in range(1, len(steps) + 1)]
    assert all("models/staging/crm/" in step or "data/lake/crm/" in step for step in steps)
    assert "fill in pii" in steps[0]


@pytest.mark.parametrize("name", ["CRM", "crm-x", "1crm", ""])
def test_names_that_cannot_name_a_model_are_refused(project: Path, name: str) -> None:
    with pytest.raises(ScaffoldError, match="lower case"):
        scaffold(project, name, "contacts")
