"""A third, throwaway source system, added to a copy of the project with YAML and SQL only,
gets every guarantee the shop's feeds have: its files are inventoried and quarantined, its
rows reconciled (with a correction under on_conflict: first), its columns PII-checked, its
freshness checked in Dagster, and its people erased.

The expected numbers are counted by hand from the rows this test lands."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import project_copy, run_dbt, warehouse_env

from warehouse.governance.erasure import Erasure, ErasureRequest
from warehouse.lake_sources import lake_sources

SOURCES_YAML = """\
version: 2

sources:
  - name: crm
    description: A throwaway CRM, to show that a system declared in YAML is governed.
    meta:
      lake_subdir: crm
      lake_dir: "{{ env_var('WAREHOUSE_LAKE_DIR', 'data/lake') }}/crm"
      lake_active_within_days: 7
    config:
      loaded_at_field: "cast(ingest_date as timestamp)"
      freshness:
        warn_after: {count: 2, period: day}
        error_after: {count: 4, period: day}
    tables:
      - name: contacts
        description: Contact change records.
        config:
          meta:
            lake:
              natural_key: [contact_id, updated_at]
              event_time: updated_at
              required_columns: [contact_id, updated_at]
              partition: ingest_date
              delivery: change_feed
              on_conflict: first
        columns:
          - name: contact_id
            config: {meta: {pii: none}}
            description: The contact's id.
          - name: customer_id
            config: {meta: {pii: quasi, subject_key: true}}
            description: The shop customer the contact is.
          - name: email
            config: {meta: {pii: direct, subject_identifier: email}}
            description: The contact's email address.
          - name: plan
            config: {meta: {pii: none}}
            description: The contact's plan.
          - name: updated_at
            config: {meta: {pii: none}}
            description: When the CRM wrote this version.
          - name: ingest_date
            config: {meta: {pii: none}}
            description: The landing day.
          - name: filename
            config: {meta: {pii: none}}
            description: The file the row was read from.
"""

BASE_SQL = """\
{{ config(materialized='view') }}

with

landed as (
    select * from {{ readable_lake_files(source('crm', 'contacts')) }}
    where {{ ingest_window('ingest_date') }}
),

typed as (
    select
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(plan as {{ dbt.type_string() }}) as plan,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        ingest_date as _ingest_date,
        filename as _source_file,
        file_row_number as _source_row,
        {{ record_to_json('landed') }} as _raw_record
    from landed
),

checked as (
    select
        typed.*,
        {{ first_failed_rule([
            ('null_key', 'typed.contact_id is null or typed.updated_at is null'),
        ]) }} as _rejection_reason
    from typed
)

select * from checked
"""

BASE_YAML = """\
version: 2

models:
  - name: base_crm__contacts
    description: Every landed contact row, typed, with its rejection reason.
    columns:
      - name: customer_id
        config: {meta: {pii: quasi, subject_key: true}}
        description: The shop customer.
      - name: email
        config: {meta: {pii: direct, pii_exception: "raw-lake view, not stored"}}
        description: The email address.
      - name: _raw_record
        config: {meta: {pii: direct, pii_exception: "raw-lake view, not stored"}}
        description: The raw row.
"""

STAGING_SQL = """\
{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key='_ingest_date'
) }}

with

deliveries as (
    select * from {{ staged_deliveries(ref('base_crm__contacts')) }}
)

select
    contact_id,
    customer_id,
    {{ pseudonymise('email') }} as email_pseudonym,
    plan,
    updated_at,
    _ingest_date,
    _source_file,
    _record_hash
from deliveries
"""

STAGING_YAML = """\
version: 2

models:
  - name: stg_crm__contacts
    description: Contact versions, first delivery of each.
    columns:
      - name: customer_id
        config: {meta: {pii: quasi, subject_key: true}}
        description: The shop customer.
      - name: email_pseudonym
        config: {meta: {pii: direct, pseudonymised: true}}
        description: Keyed pseudonym of the email address.
      - name: _record_hash
        config: {meta: {pii: direct, pii_exception: "fingerprint of the raw record"}}
        description: The record's fingerprint.
    data_tests:
      - lake_quarantine_rate:
          config: {severity: error, warn_if: '>0', error_if: '>3', store_failures: true}
"""

DAY_1, DAY_2 = "2026-03-01", "2026-03-02"
T = datetime(2026, 2, 28, 12)
ERASED = "C0000001"


def contacts(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {
            "contact_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "email": [r[2] for r in rows],
            "plan": [r[3] for r in rows],
            "updated_at": pa.array([T] * len(rows), pa.timestamp("us")),
        }
    )


def land(lake: Path, day: str, name: str, table: pa.Table) -> Path:
    folder = lake / "crm" / "contacts" / f"ingest_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name)
    return folder / name


def add_the_system(project: Path) -> None:
    folder = project / "models" / "staging" / "crm"
    (folder / "base").mkdir(parents=True)
    (folder / "_crm__sources.yml").write_text(SOURCES_YAML)
    (folder / "base" / "base_crm__contacts.sql").write_text(BASE_SQL)
    (folder / "base" / "_crm__base_models.yml").write_text(BASE_YAML)
    (folder / "stg_crm__contacts.sql").write_text(STAGING_SQL)
    (folder / "_crm__models.yml").write_text(STAGING_YAML)


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    root = tmp_path_factory.mktemp("crm")
    project = project_copy(root)
    add_the_system(project)
    lake = root / "lake"
    land(
        lake,
        DAY_1,
        "part-0.parquet",
        contacts(
            [
                ("K1", ERASED, "Ann@Example.com", "basic"),
                ("K2", "C0000002", "bob@example.com", "pro"),
                (None, "C0000003", "eve@example.com", "pro"),  # null_key
            ]
        ),
    )
    land(
        lake,
        DAY_2,
        "part-0.parquet",
        contacts(
            [
                ("K1", ERASED, "Ann@Example.com", "basic"),  # an exact copy
                ("K2", "C0000002", "bob@example.com", "enterprise"),  # a correction
                ("K4", "C0000004", "dan@example.com", "basic"),
            ]
        ),
    )
    whole = land(lake, DAY_2, "part-1.parquet", contacts([("K5", "C0000005", "x@y.z", "pro")]))
    whole.write_bytes(whole.read_bytes()[:40])  # truncated: not a whole Parquet file
    env = warehouse_env(root)
    run_dbt(
        env, "build", "--project-dir", str(project),
        "--select", "+path:models/staging/crm", "+file_reconciliation",
        "--indirect-selection", "cautious",
    )  # fmt: skip
    return project, env, root


def test_its_files_are_inventoried_and_the_broken_one_quarantined(crm) -> None:
    _, _, root = crm
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        files = connection.execute(
            "select files_landed, files_read, files_quarantined, unaccounted_files"
            " from audit.file_reconciliation where source_system = 'crm'"
        ).fetchall()
        quarantined = connection.execute(
            "select file_path from audit.quarantined_files where source_system = 'crm'"
        ).fetchall()
    assert files == [(3, 2, 1, 0)]
    assert [Path(p).name for (p,) in quarantined] == ["part-1.parquet"]


def test_its_rows_reconcile_with_the_correction_set_aside(crm) -> None:
    """Day 1: K1, K2 kept, the keyless row quarantined. Day 2: K1 again (a duplicate), K2
    with another plan (a correction, set aside: on_conflict first), K4 kept."""
    _, _, root = crm
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        days = connection.execute(
            "select cast(ingest_date as varchar), rows_landed, rows_kept, rows_duplicate,"
            " rows_corrected, rows_quarantined, unaccounted_rows"
            " from audit.row_count_reconciliation where source_system = 'crm' order by 1"
        ).fetchall()
        plans = connection.execute(
            "select contact_id, plan from staging.stg_crm__contacts order by 1"
        ).fetchall()
        corrections = connection.execute(
            "select resolution from audit.corrected_rows where source_system = 'crm'"
        ).fetchall()
        rejected = connection.execute(
            "select rejection_reason from audit.quarantined_rows where source_system = 'crm'"
        ).fetchall()
    assert days == [(DAY_1, 3, 2, 0, 0, 1, 0), (DAY_2, 3, 1, 1, 1, 0, 0)]
    assert plans == [("K1", "basic"), ("K2", "pro"), ("K4", "basic")]  # first delivery kept
    assert corrections == [("set_aside_first_delivery_kept",)]
    assert rejected == [("null_key",)]


def test_a_day_with_many_rows_quarantined_warns(crm, tmp_path: Path) -> None:
    """lake_quarantine_rate: more than 5 rows and 5 % of a day's rows quarantined warns (a
    fourth such day would fail). Day 1 (1 of 3) passes; here a day of 6 rows without key."""
    project, env, _ = crm
    database = tmp_path / "warehouse.duckdb"
    env = {
        **env,
        "WAREHOUSE_LAKE_DIR": str(tmp_path / "lake"),
        "WAREHOUSE_DUCKDB_PATH": str(database),
    }
    keyless = [(None, f"C000001{n}", "k@example.com", "pro") for n in range(6)]
    land(
        tmp_path / "lake",
        DAY_1,
        "part-0.parquet",
        contacts([*keyless, ("K1", ERASED, "a@b.c", "pro")]),
    )
    result = run_dbt(
        env, "build", "--project-dir", str(project),
        "--select", "+stg_crm__contacts", "--indirect-selection", "cautious",
    )  # fmt: skip
    assert "WARN 1 lake_quarantine_rate_stg_crm__contacts" in result.stdout, result.stdout[-3000:]


def test_an_unclassified_column_in_its_files_stops_the_build(crm, tmp_path: Path) -> None:
    project, env, _ = crm
    lake = tmp_path / "lake"
    table = contacts([("K9", "C0000009", "z@example.com", "pro")])
    land(lake, DAY_2, "part-0.parquet", table.append_column("nickname", pa.array(["Zed"])))
    result = run_dbt(
        {**env, "WAREHOUSE_LAKE_DIR": str(lake)},
        "build", "--project-dir", str(project), "--select", "stg_crm__contacts",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "crm.contacts" in result.stdout and "nickname" in result.stdout
    assert "Zed" not in result.stdout  # the value is personal data, never echoed


DAGSTER_VIEW = """
from warehouse import manifest
manifest.prepare()  # make manifest, in the copy
from orchestration.assets import raw_source_specs
from orchestration.freshness import raw_source_freshness
print("raw:", sorted("/".join(spec.key.path) for spec in raw_source_specs()))
checks = raw_source_freshness.check_specs
print("freshness:", sorted("/".join(spec.asset_key.path) for spec in checks))
"""


def test_dagster_has_its_raw_asset_and_freshness_check(crm, tmp_path: Path) -> None:
    """The copy's Dagster definitions, loaded from the copy (its manifest parsed there)."""
    project, env, _ = crm
    result = subprocess.run(
        [sys.executable, "-c", DAGSTER_VIEW],
        cwd=project,
        env={
            **env,
            "PYTHONPATH": str(project),
            "DAGSTER_HOME": str(tmp_path),
            "DBT_TARGET_PATH": str(project / "target"),
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "raw/crm/contacts" in result.stdout.split("raw:")[1].split("\n")[0]
    assert "raw/crm/contacts" in result.stdout.split("freshness:")[1]


def test_it_is_a_lake_source_with_its_freshness(crm) -> None:
    _, _, root = crm
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    found = {s.label: s for s in lake_sources(manifest)}
    assert "crm.contacts" in found
    assert found["crm.contacts"].folder(root / "lake") == root / "lake" / "crm" / "contacts"
    node = manifest["sources"][found["crm.contacts"].unique_id]
    assert node["freshness"]["error_after"] == {"count": 4, "period": "day"}


def test_its_people_are_erased(crm) -> None:
    _, _, root = crm
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    request = ErasureRequest(
        request_reference="DSR-CRM-1", requested_by="privacy-office", email="ann@example.com"
    )
    erasure = Erasure(
        request,
        database=root / "warehouse.duckdb",
        lake=root / "lake",
        exports=root / "exports",
        lakehouse=root / "lakehouse",
        manifest=manifest,
    )
    assert ERASED in erasure.subject.ids
    erasure.run(rebuild=lambda args: None)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        staged = connection.execute(
            "select count(*) from staging.stg_crm__contacts where customer_id = ?", [ERASED]
        ).fetchone()[0]
        landed = connection.execute(
            "select rows_landed from audit.row_count_reconciliation"
            " where source_system = 'crm' order by ingest_date"
        ).fetchall()
        gaps = connection.execute(
            "select count(*) from audit.row_count_reconciliation where unaccounted_rows <> 0"
        ).fetchone()[0]
    in_files = sum(
        ERASED in pq.read_table(path).column("customer_id").to_pylist()
        for path in (root / "lake" / "crm").rglob("part-0.parquet")
    )
    assert staged == 0 and in_files == 0
    assert landed == [(2,), (2,)]  # one row of each day was the erased person's
    assert gaps == 0
