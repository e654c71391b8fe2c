"""Governance finds the lake feeds, their staging models and how their columns identify a
person in the manifest alone: two made-up systems (neither is the project's), one linked
to the person only through an email address, are discovered, resolved, erased, retained
and re-keyed with no line of Python naming them.

The manifest, the lake and the warehouse are written here by hand (no dbt), as small as
the rules need; the expected tables and columns are spelled out, not computed."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.governance.classification import declaration_violations
from warehouse.governance.erasure import Erasure, ErasureRequest
from warehouse.governance.policy import landed_columns
from warehouse.governance.retention import expired_partitions
from warehouse.governance.salt_rotation import rotate
from warehouse.governance.sources import (
    LakeSourceError,
    StagingModel,
    lake_tables,
    subject_key_columns,
)
from warehouse.governance.subject import (
    SubjectError,
    pii_salt,
    resolve_subject,
    sql_predicate,
)

PACKAGE = "ml_warehouse"
PARSED_LAKE = "/parsed/at/lake"  # where the lake was when the manifest was parsed
LAKE_CONTRACT = {"natural_key": ["x"], "partition": "landed_on", "delivery": "change_feed"}


def source(system: str, table: str, lake_dir: str | None, columns: dict[str, dict]) -> dict:
    meta: dict[str, Any] = {}
    if lake_dir:
        subdir = lake_dir.removeprefix(PARSED_LAKE).strip("/")
        meta = {"lake_subdir": subdir, "lake_dir": lake_dir, "lake": LAKE_CONTRACT}
    return {
        "unique_id": f"source.{PACKAGE}.{system}.{table}",
        "resource_type": "source",
        "package_name": PACKAGE,
        "source_name": system,
        "name": table,
        "original_file_path": f"models/staging/{system}/_{system}__sources.yml",
        "fqn": [PACKAGE, "staging", system, system, table],
        "meta": meta,
        "columns": {name: {"name": name, "meta": meta} for name, meta in columns.items()},
    }


def model(
    name: str, path: str, depends_on: list[str], raw_code: str = "", schema: str = ""
) -> dict:
    folder = path.split("/")[1]
    return {
        "unique_id": f"model.{PACKAGE}.{name}",
        "resource_type": "model",
        "package_name": PACKAGE,
        "name": name,
        "alias": name,
        "schema": schema or folder,
        "original_file_path": path,
        "fqn": [PACKAGE, *path.split("/")[1:-1], name],
        "depends_on": {"nodes": depends_on},
        "raw_code": raw_code,
        "columns": {},
    }


def minimal_manifest() -> dict[str, Any]:
    crm = f"{PARSED_LAKE}"
    helpdesk = f"{PARSED_LAKE}/helpdesk"
    sources = [
        source(
            "crm",
            "accounts",
            crm,
            {
                "account_id": {
                    "pii": "quasi",
                    "subject_key": True,
                    "subject_id_pattern": "A[0-9]+",
                },
                "email": {"pii": "direct", "subject_identifier": "email"},
                "phone": {"pii": "direct", "subject_identifier": "phone"},
                "plan": {"pii": "none"},
            },
        ),
        source(
            "crm",
            "purchases",
            crm,
            {
                "purchase_id": {"pii": "none", "subject_link": True},
                "account_id": {"pii": "quasi", "subject_key": True},
                "amount": {"pii": "none"},
            },
        ),
        source(
            "helpdesk",
            "requests",
            helpdesk,
            {
                "request_id": {"pii": "none"},
                "requester_email": {"pii": "direct", "subject_identifier": "email"},
                "subject_line": {"pii": "none"},
            },
        ),
        # declared, but not in the lake: no lake contract
        source("crm", "plans", None, {"plan": {"pii": "none"}}),
    ]
    uid = {s["name"]: s["unique_id"] for s in sources}
    models = [
        model(
            "base_crm__accounts",
            "models/staging/crm/base/base_crm__accounts.sql",
            [uid["accounts"]],
        ),
        model(
            "base_crm__purchases",
            "models/staging/crm/base/base_crm__purchases.sql",
            [uid["purchases"]],
        ),
        model(
            "base_helpdesk__requests",
            "models/staging/helpdesk/base/base_helpdesk__requests.sql",
            [uid["requests"]],
        ),
        model(
            "stg_crm__accounts",
            "models/staging/crm/stg_crm__accounts.sql",
            [f"model.{PACKAGE}.base_crm__accounts"],
            "select account_id,\n    {{ pseudonymise('email') }} as email_pseudonym,\n"
            "    {{ pseudonymise( 'phone' ) }}  as phone_pseudonym, plan, _ingest_date\n"
            "from {{ ref('base_crm__accounts') }}",
            schema="staging",
        ),
        model(
            "stg_crm__purchases",
            "models/staging/crm/stg_crm__purchases.sql",
            [f"model.{PACKAGE}.base_crm__purchases"],
            "select * from {{ ref('base_crm__purchases') }}",
            schema="staging",
        ),
        model(
            "stg_helpdesk__requests",
            "models/staging/helpdesk/stg_helpdesk__requests.sql",
            [f"model.{PACKAGE}.base_helpdesk__requests"],
            "select request_id, {{ pseudonymise('requester_email') }} as requester_email_pseudonym,"
            " subject_line, _ingest_date from {{ ref('base_helpdesk__requests') }}",
            schema="staging",
        ),
        # The audit models read every base model; one reads only the requests' base: none
        # of them is a staging model.
        model(
            "quarantined_rows",
            "models/audit/quarantined_rows.sql",
            [
                f"model.{PACKAGE}.base_crm__accounts",
                f"model.{PACKAGE}.base_crm__purchases",
                f"model.{PACKAGE}.base_helpdesk__requests",
            ],
        ),
        model(
            "requests_backlog",
            "models/audit/requests_backlog.sql",
            [f"model.{PACKAGE}.base_helpdesk__requests"],
        ),
        model(
            "dim_accounts",
            "models/marts/dim_accounts.sql",
            [f"model.{PACKAGE}.stg_crm__accounts"],
        ),
    ]
    models[-1]["columns"] = {"account_id": {"meta": {"pii": "quasi", "subject_key": True}}}
    return {
        "sources": {s["unique_id"]: s for s in sources},
        "nodes": {m["unique_id"]: m for m in models},
    }


def test_lake_tables_and_staging_models_come_from_the_manifest() -> None:
    tables = lake_tables(minimal_manifest(), Path(PARSED_LAKE))
    found = [
        (
            t.system,
            t.name,
            str(t.folder),
            t.partition,
            t.subject_keys,
            t.identifiers,
            t.links,
            t.id_patterns,
            t.staging,
        )
        for t in tables
    ]
    assert found == [
        (
            "crm",
            "accounts",
            "/parsed/at/lake/accounts",
            "landed_on",
            ("account_id",),
            {"email": "email", "phone": "phone"},
            (),
            ("A[0-9]+",),
            StagingModel(
                "model.ml_warehouse.stg_crm__accounts",
                "staging",
                "stg_crm__accounts",
                {"email": "email_pseudonym", "phone": "phone_pseudonym"},
            ),
        ),
        (
            "crm",
            "purchases",
            "/parsed/at/lake/purchases",
            "landed_on",
            ("account_id",),
            {},
            ("purchase_id",),
            (),
            StagingModel(
                "model.ml_warehouse.stg_crm__purchases", "staging", "stg_crm__purchases", {}
            ),
        ),
        (
            "helpdesk",
            "requests",
            "/parsed/at/lake/helpdesk/requests",
            "landed_on",
            (),
            {"requester_email": "email"},
            (),
            (),
            StagingModel(
                "model.ml_warehouse.stg_helpdesk__requests",
                "staging",
                "stg_helpdesk__requests",
                {"requester_email": "requester_email_pseudonym"},
            ),
        ),
    ]
    assert subject_key_columns(minimal_manifest()) == {"account_id"}


def test_lake_folders_move_to_the_lake_read(tmp_path: Path, monkeypatch) -> None:
    """Each system's folder is its lake_subdir under the lake root read: the one given, or
    WAREHOUSE_LAKE_DIR."""
    moved = lake_tables(minimal_manifest(), tmp_path / "lake")
    assert [str(t.folder.relative_to(tmp_path)) for t in moved] == [
        "lake/accounts",
        "lake/purchases",
        "lake/helpdesk/requests",
    ]
    monkeypatch.setenv("WAREHOUSE_LAKE_DIR", str(tmp_path / "lake"))
    assert lake_tables(minimal_manifest()) == moved


def test_a_lake_table_with_two_candidate_staging_models_is_refused() -> None:
    manifest = minimal_manifest()
    twin = model(
        "stg_helpdesk__requests_copy",
        "models/staging/helpdesk/stg_helpdesk__requests_copy.sql",
        [f"model.{PACKAGE}.base_helpdesk__requests"],
    )
    manifest["nodes"][twin["unique_id"]] = twin
    with pytest.raises(LakeSourceError, match=r"helpdesk\.requests has 2 models"):
        lake_tables(manifest)


def test_the_subject_meta_is_validated() -> None:
    manifest = minimal_manifest()
    columns = manifest["sources"][f"source.{PACKAGE}.crm.accounts"]["columns"]
    columns["plan"]["meta"] = {"pii": "none", "subject_identifier": "email"}
    columns["phone"]["meta"] = {"pii": "direct", "subject_identifier": "Phone number"}
    columns["email"]["meta"] = {"pii": "direct", "subject_id_pattern": "("}
    found = {(v.where.split(": ")[-1], v.message) for v in declaration_violations(manifest)}
    assert found == {
        ("crm.accounts.plan", "subject_identifier goes with pii: direct"),
        (
            "crm.accounts.phone",
            "subject_identifier names a kind of identifier, e.g. email or phone",
        ),
        ("crm.accounts.email", "subject_id_pattern goes with subject_key: true"),
        ("crm.accounts.email", "subject_id_pattern must be a regular expression"),
    }


# -- a lake and a warehouse of the two systems ------------------------------------------

SUBJECT_EMAIL = "pat@example.com"
SUBJECT_PHONE = "+4912345"


def pseudonym(value: str) -> str:
    return hashlib.sha256((pii_salt() + value.strip().lower()).encode()).hexdigest()


def write(lake: Path, folder: str, day: str, rows: list[dict]) -> None:
    path = lake / folder / f"landed_on={day}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def build(root: Path, *, new_audit_shape: bool) -> tuple[Path, Path]:
    """Pat has two accounts (A1, and A2 with the same email in another case), a purchase
    on each, and two helpdesk requests (one landed on a day whose raw files retention has
    removed: only staging knows it). Sam (A3) shares nothing with Pat."""
    lake, database = root / "lake", root / "warehouse.duckdb"
    write(
        lake,
        "accounts",
        "2026-01-01",
        [
            {"account_id": "A1", "email": SUBJECT_EMAIL, "phone": SUBJECT_PHONE, "plan": "pro"},
            {"account_id": "A3", "email": "sam@example.com", "phone": "+4900000", "plan": "pro"},
        ],
    )
    write(
        lake,
        "accounts",
        "2026-01-02",
        [{"account_id": "A2", "email": " PAT@Example.com", "phone": None, "plan": "free"}],
    )
    write(
        lake,
        "purchases",
        "2026-01-02",
        [
            {"purchase_id": "P1", "account_id": "A1", "amount": 10},
            {"purchase_id": "P2", "account_id": "A2", "amount": 20},
            {"purchase_id": "P3", "account_id": "A3", "amount": 30},
        ],
    )
    system = "source_system varchar, " if new_audit_shape else ""
    corrected = "rows_corrected bigint, " if new_audit_shape else ""
    with duckdb.connect(str(database)) as connection:
        for schema in ("staging", "audit", "marts"):
            connection.execute(f"create schema {schema}")
        connection.execute(
            "create table staging.stg_crm__accounts as select * from (values "
            f"('A1', '{pseudonym(SUBJECT_EMAIL)}', '{pseudonym(SUBJECT_PHONE)}', 'pro', "
            "date '2026-01-01'), "
            f"('A3', '{pseudonym('sam@example.com')}', '{pseudonym('+4900000')}', 'pro', "
            "date '2026-01-01'), "
            f"('A2', '{pseudonym(SUBJECT_EMAIL)}', null, 'free', date '2026-01-02')) "
            "as t(account_id, email_pseudonym, phone_pseudonym, plan, _ingest_date)"
        )
        connection.execute(
            "create table staging.stg_crm__purchases as select * from (values "
            "('P1', 'A1', 10, date '2026-01-02'), ('P2', 'A2', 20, date '2026-01-02'), "
            "('P3', 'A3', 30, date '2026-01-02')) "
            "as t(purchase_id, account_id, amount, _ingest_date)"
        )
        connection.execute(
            "create table staging.stg_helpdesk__requests as select * from (values "
            f"('R0', '{pseudonym(SUBJECT_EMAIL)}', 'old', date '2025-01-01'), "
            f"('R1', '{pseudonym(SUBJECT_EMAIL)}', 'refund', date '2026-01-03'), "
            f"('R2', '{pseudonym('sam@example.com')}', 'login', date '2026-01-03')) "
            "as t(request_id, requester_email_pseudonym, subject_line, _ingest_date)"
        )
        connection.execute(
            "create table marts.dim_accounts as "
            "select account_id, email_pseudonym from staging.stg_crm__accounts"
        )
        # The helpdesk delivered R1 again with another subject line: a correction; and a
        # request of Pat's was quarantined.
        connection.execute(
            f"create table audit.quarantined_rows ({system}source_name varchar, "
            "ingest_date date, source_file varchar, rejection_reason varchar, raw_record varchar)"
        )
        connection.execute(
            "insert into audit.quarantined_rows values ("
            + ("'helpdesk', " if new_audit_shape else "")
            + "'requests', date '2026-01-03', 'f', 'null_key', "
            + '\'{"request_id": null, "requester_email": "PAT@example.com"}\')'
        )
        connection.execute(
            f"create table audit.row_count_reconciliation ({system}source_name varchar, "
            "ingest_date date, rows_landed bigint, rows_kept bigint, rows_duplicate bigint, "
            f"{corrected}rows_quarantined bigint, unaccounted_rows bigint)"
        )
        reconciliation = [
            # system, table, day, landed, kept, duplicate, corrected, quarantined
            ("crm", "accounts", "2026-01-01", 2, 2, 0, 0, 0),
            ("crm", "accounts", "2026-01-02", 1, 1, 0, 0, 0),
            ("crm", "purchases", "2026-01-02", 3, 3, 0, 0, 0),
            ("helpdesk", "requests", "2026-01-03", 4, 2, 0, 1, 1),
        ]
        for system_name, table, day, landed, kept, dup, corr, quar in reconciliation:
            # before rows_corrected, a correction was counted as a duplicate
            values = [system_name] if new_audit_shape else []
            values += [table, day, landed, kept, dup + (0 if new_audit_shape else corr)]
            values += [corr] if new_audit_shape else []
            values += [quar, 0]
            connection.execute(
                "insert into audit.row_count_reconciliation values "
                f"({', '.join('?' for _ in values)})",
                values,
            )
        if new_audit_shape:
            connection.execute(
                "create table audit.corrected_rows (source_system varchar, source_name varchar, "
                "ingest_date date, source_file varchar, resolution varchar, raw_record varchar)"
            )
            connection.execute(
                "insert into audit.corrected_rows values ('helpdesk', 'requests', "
                "date '2026-01-03', 'f', 'latest', "
                '\'{"request_id": "R1", "requester_email": "pat@example.com"}\')'
            )
    # the landed rows: 2 requests in the day's file, plus the correction and the quarantined
    # row, which the audit tables hold (written as their own file of the day)
    write(
        lake,
        "helpdesk/requests",
        "2026-01-03",
        [
            {"request_id": "R1", "requester_email": "Pat@Example.com ", "subject_line": "refund"},
            {"request_id": "R2", "requester_email": "sam@example.com", "subject_line": "login"},
            {"request_id": "R1", "requester_email": "pat@example.com", "subject_line": "refunds"},
            {"request_id": None, "requester_email": "PAT@example.com", "subject_line": "?"},
        ],
    )
    return lake, database


def test_a_person_is_resolved_through_every_system(tmp_path: Path) -> None:
    lake, database = build(tmp_path, new_audit_shape=True)
    tables = lake_tables(minimal_manifest(), lake)
    by_email = resolve_subject(lake, database, email=SUBJECT_EMAIL.upper(), tables=tables)
    assert by_email.ids == {"A1", "A2"}, "the accounts sharing the email are Pat's"
    assert by_email.identifiers == {"email": {SUBJECT_EMAIL}, "phone": {SUBJECT_PHONE.lower()}}
    assert by_email.linked == {"purchase_id": {"P1", "P2"}}
    assert by_email.all_pseudonyms() == {pseudonym(SUBJECT_EMAIL), pseudonym(SUBJECT_PHONE)}
    by_id = resolve_subject(lake, database, customer_id="A2", tables=tables)
    assert (by_id.ids, by_id.identifiers, by_id.linked) == (
        by_email.ids,
        by_email.identifiers,
        by_email.linked,
    )
    with pytest.raises(SubjectError, match=r"subject_id_pattern: A\[0-9\]\+"):
        resolve_subject(lake, database, customer_id="C0000001", tables=tables)

    # the help desk's rows, which only an email links to Pat: staging, the raw record
    with duckdb.connect(str(database), read_only=True) as connection:
        for relation, columns, expected in (
            (
                "staging.stg_helpdesk__requests",
                {"request_id": "VARCHAR", "requester_email_pseudonym": "VARCHAR"},
                ["R0", "R1"],
            ),
            ("audit.corrected_rows", {"raw_record": "VARCHAR"}, ["R1"]),
        ):
            condition, params = sql_predicate(columns, by_email)
            found = connection.execute(
                f"select json_extract_string(raw_record, '$.request_id') from {relation} "
                f"where {condition}"
                if relation.startswith("audit")
                else f"select request_id from {relation} where {condition} order by 1",
                params,
            ).fetchall()
            assert [row[0] for row in found] == expected, relation


@pytest.mark.parametrize("new_audit_shape", [True, False], ids=["new-audit", "old-audit"])
def test_erasure_removes_a_person_from_every_system_and_keeps_the_counts(
    tmp_path: Path, new_audit_shape: bool
) -> None:
    lake, database = build(tmp_path, new_audit_shape=new_audit_shape)
    request = ErasureRequest("DSR-1", "privacy-office", email=SUBJECT_EMAIL)
    erasure = Erasure(
        request,
        database=database,
        lake=lake,
        exports=tmp_path / "exports",
        lakehouse=tmp_path / "lakehouse",
        manifest=minimal_manifest(),
    )
    assert erasure.subject.found and erasure.report.customers_erased == 2
    erasure.remove_records()

    removed = erasure.report.rows_removed
    assert removed == {
        "staging.stg_crm__accounts": 2,
        "staging.stg_crm__purchases": 2,
        "staging.stg_helpdesk__requests": 2,
        "marts.dim_accounts": 2,
        "audit.quarantined_rows": 1,
        **({"audit.corrected_rows": 1} if new_audit_shape else {}),
        "lake/accounts": 2,
        "lake/purchases": 2,
        "lake/helpdesk/requests": 3,
    }
    left = [
        row for path in sorted(lake.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()
    ]
    assert sorted(str(row.get("account_id") or row.get("request_id")) for row in left) == [
        "A3",
        "A3",
        "R2",
    ]
    with duckdb.connect(str(database), read_only=True) as connection:
        system = "source_system, " if new_audit_shape else ""
        corrected = "rows_corrected, " if new_audit_shape else ""
        rows = connection.execute(
            f"select {system}source_name, cast(ingest_date as varchar), rows_landed, rows_kept, "
            f"rows_duplicate, {corrected}rows_quarantined from audit.row_count_reconciliation "
            "order by all"
        ).fetchall()
    terms = 4 if new_audit_shape else 3  # kept, duplicate, (corrected,) quarantined
    for row in rows:
        assert row[-terms - 1] == sum(row[-terms:]), f"landed = the sum of its terms: {row}"
    if new_audit_shape:
        assert rows == [
            ("crm", "accounts", "2026-01-01", 1, 1, 0, 0, 0),
            ("crm", "accounts", "2026-01-02", 0, 0, 0, 0, 0),
            ("crm", "purchases", "2026-01-02", 1, 1, 0, 0, 0),
            ("helpdesk", "requests", "2026-01-03", 1, 1, 0, 0, 0),
        ]
    else:  # no corrected_rows yet: the correction was counted as a duplicate
        assert rows[-1] == ("requests", "2026-01-03", 1, 1, 0, 0)


def test_retention_salt_rotation_and_the_policy_read_every_system(tmp_path: Path) -> None:
    lake, database = build(tmp_path, new_audit_shape=True)
    manifest = minimal_manifest()
    tables = lake_tables(manifest, lake)
    expired = expired_partitions(lake, date(2026, 1, 4), 2, tables)
    assert [str(p) for p in expired] == ["raw partition accounts/landed_on=2026-01-01 (1 file(s))"]
    expired = expired_partitions(lake, date(2026, 1, 6), 2, tables)
    assert [str(p) for p in expired] == [
        "raw partition accounts/landed_on=2026-01-01 (1 file(s))",
        "raw partition accounts/landed_on=2026-01-02 (1 file(s))",
        "raw partition helpdesk/requests/landed_on=2026-01-03 (1 file(s))",
        "raw partition purchases/landed_on=2026-01-02 (1 file(s))",
    ]

    new_salt = "another-salt-0123456789"
    report = rotate(
        pii_salt(), new_salt, apply=True, database=database, lake=lake, manifest=manifest
    )
    assert report.rekeyed["staging.stg_helpdesk__requests.requester_email_pseudonym"] == 3
    # R0 landed on a day no longer in the lake, but its email is Pat's, landed elsewhere
    assert report.not_rekeyable == {}
    with duckdb.connect(str(database), read_only=True) as connection:
        (rekeyed,) = connection.execute(
            "select requester_email_pseudonym from staging.stg_helpdesk__requests "
            "where request_id = 'R1'"
        ).fetchone()
    assert rekeyed == hashlib.sha256((new_salt + SUBJECT_EMAIL).encode()).hexdigest()

    landed = {
        uid: (Path(found.folder).relative_to(lake).as_posix(), sorted(found.columns))
        for uid, found in landed_columns(manifest, lake).items()
    }
    assert landed == {
        f"source.{PACKAGE}.crm.accounts": ("accounts", ["account_id", "email", "phone", "plan"]),
        f"source.{PACKAGE}.crm.purchases": ("purchases", ["account_id", "amount", "purchase_id"]),
        f"source.{PACKAGE}.helpdesk.requests": (
            "helpdesk/requests",
            ["request_id", "requester_email", "subject_line"],
        ),
    }
