"""Erasure on request (right to be forgotten): one customer out of every layer.

    python -m warehouse.governance.erasure --customer-id C0000042 \\
        --reference DSR-2026-0042 --requested-by privacy-office
    (or --email name@example.com; in Dagster: the job `erase_customer`)

What identifies the person, and which lake tables and staging models there are, comes from
the sources YAML through the dbt manifest (warehouse.governance.sources): every system
declared there is covered.

Steps, in this order so that a run stopped half-way can simply be run again:

1. Resolve the subject (warehouse.governance.subject): ids, identifiers (emails, phones),
   pseudonyms, and the values their rows own (orders, sessions, device ids), from the raw
   lake and staging. Find the registered dataset versions that held the subject's rows
   (their published Parquet, else the table).
2. Warehouse, one transaction: delete the subject's rows from every table (staging, the
   audit tables' raw records, every version of every snapshot, facts, features, labels,
   training set, stored test failures...), matched by column (`sql_predicate`); adjust
   `audit.row_count_reconciliation` by what left each source-day, so landed = kept +
   duplicates + corrected + quarantined still holds.
3. Raw lake: every landing file holding the subject is rewritten without those rows under
   its own name (the old file is replaced, so staging's `_source_file` stays true).
4. Rebuild what is derived from history (`dbt build --full-refresh` of facts, dims, ML
   tables, exports; the registry appends the post-erasure versions), so the current tables
   equal a rebuild from the cleaned history and later versions stay reproducible.
5. Exports: every Parquet file under exports/ holding the subject is rewritten without
   those rows; a version folder's datasheet says so.
6. DuckLake: the post-erasure versions are published, then every earlier snapshot that
   held the subject is expired and its files deleted. Time travel to those snapshots is
   gone: that is the price of erasure, recorded below.
7. Verify: no table, lake file, export or DuckLake file holds the subject's ids, emails,
   phones or pseudonyms (warehouse.governance.residue); otherwise the erasure fails.
8. Record: one row in the append-only `audit.erasure_log` (who asked, who ran it, when, what
   was touched and how many rows; never the identifiers), and one row per dataset version
   that can no longer be rebuilt exactly in `audit.erasure_affected_versions`.
"""

import argparse
import getpass
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.datasets import DATASETS, PUBLICATIONS_TABLE, lakehouse_dir, publish_latest
from warehouse.dbt_runner import run_dbt
from warehouse.fingerprint import quote_identifier
from warehouse.governance.residue import Residue, parquet_files, scan_files, scan_warehouse
from warehouse.governance.sources import (
    LakeTable,
    lake_tables,
    load_manifest,
    subject_key_columns,
    table_of,
)
from warehouse.governance.subject import (
    Subject,
    SubjectError,
    arrow_mask,
    check_email,
    check_subject_id,
    resolve_subject,
    sql_predicate,
    subject_rows,
)
from warehouse.lakehouse import LAKE, LakehouseError, open_lake
from warehouse.settings import duckdb_path, exports_dir, lake_dir

ERASURE_LOG = "audit.erasure_log"
AFFECTED_VERSIONS = "audit.erasure_affected_versions"
RETENTION_LOG = "audit.retention_log"
# Governance's own records: they hold no identifiers and are never erased from.
GOVERNANCE_TABLES = (ERASURE_LOG, AFFECTED_VERSIONS, RETENTION_LOG)
RECONCILIATION = "audit.row_count_reconciliation"
# The audit tables that hold rows of a source-day, and the reconciliation column counting them.
ROWS_HELD_BY = {
    "audit.quarantined_rows": "rows_quarantined",
    "audit.corrected_rows": "rows_corrected",
}
REGISTRY = "ml.ml_dataset_versions"

# What is recomputed from the cleaned history after the deletes (step 4).
REBUILD_ARGS = [
    "build",
    "--full-refresh",
    "--select",
    "fct_orders+ dim_customers+ dim_customers_history+",
]
# A source-day: (source system, or None where not known, source table, ingest date).
RowKey = tuple[str | None, str, str]
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}")
# A role or staff id: no "@", so that nobody records the customer's email as the requester.
ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,79}")

ERASURE_LOG_DDL = f"""
create table if not exists {ERASURE_LOG} (
    erasure_id varchar not null,
    request_reference varchar not null,
    requested_by varchar not null,
    executed_by varchar not null,
    identified_by varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    status varchar not null,
    customers_erased integer not null,
    rows_removed json not null,
    files_rewritten integer not null,
    ducklake_snapshots_expired json not null,
    versions_not_reproducible json not null,
    places_verified integer not null,
    detail varchar
)
"""
AFFECTED_VERSIONS_DDL = f"""
create table if not exists {AFFECTED_VERSIONS} (
    erasure_id varchar not null,
    version_id varchar not null,
    dataset_name varchar not null,
    as_of_date date not null,
    registered_fingerprint varchar not null,
    rows_held integer,
    ducklake_snapshot_id bigint,
    reason varchar not null,
    marked_at timestamp not null
)
"""


class ErasureError(RuntimeError):
    """The erasure could not be completed; the message says where (never what value)."""


@dataclass(frozen=True)
class ErasureRequest:
    """Who is to be erased (one of customer_id, email), on whose request, run by whom.
    The reference and the names are recorded; the identifier never is."""

    request_reference: str
    requested_by: str
    customer_id: str | None = None
    email: str | None = None
    executed_by: str = field(default_factory=lambda: f"{getpass.getuser()} via cli")

    def __post_init__(self) -> None:
        if bool(self.customer_id) == bool(self.email):
            raise SubjectError("Name the customer by exactly one of customer_id or email.")
        if self.customer_id:
            check_subject_id(self.customer_id)
        else:
            check_email(self.email or "")
        if not REFERENCE.fullmatch(self.request_reference):
            raise SubjectError(
                "request_reference must be the request's ticket id (letters, digits, ._:/-, "
                "at most 80), e.g. DSR-2026-0042; it is recorded, so it must hold no "
                "personal data."
            )
        for name in ("requested_by", "executed_by"):
            if not ACTOR.fullmatch(getattr(self, name)):
                raise SubjectError(
                    f"{name} must name a role or staff id (letters, digits, space, ._:/-, "
                    "at most 80; no email addresses), e.g. privacy-office."
                )

    @property
    def identified_by(self) -> str:
        return "customer_id" if self.customer_id else "email"


@dataclass(frozen=True)
class AffectedVersion:
    version_id: str
    dataset_name: str
    as_of_date: Any
    fingerprint: str
    rows_held: int | None
    ducklake_snapshot_id: int | None


@dataclass
class ErasureReport:
    """What an erasure did, in counts and names only: safe to log and to show."""

    erasure_id: str
    status: str = "started"
    customers_erased: int = 0
    rows_removed: dict[str, int] = field(default_factory=dict)
    files_rewritten: int = 0
    ducklake_snapshots_expired: list[int] = field(default_factory=list)
    versions_not_reproducible: list[str] = field(default_factory=list)
    places_verified: int = 0
    residue: list[Residue] = field(default_factory=list)

    def add(self, location: str, rows: int) -> None:
        if rows:
            self.rows_removed[location] = self.rows_removed.get(location, 0) + rows


def _quoted(name: str) -> str:
    schema, table = name.split(".")
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class Erasure:
    """One erasure, step by step (the module doc). `run(rebuild)` does them all; Dagster
    runs the dbt rebuild itself between `remove_records` and `finish`."""

    def __init__(
        self,
        request: ErasureRequest,
        *,
        database: Path | None = None,
        lake: Path | None = None,
        exports: Path | None = None,
        lakehouse: Path | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        self.request = request
        self.database = database or duckdb_path()
        self.lake = (lake or lake_dir()).resolve()
        self.exports = exports or exports_dir()
        self.lakehouse = lakehouse or lakehouse_dir()
        self.started_at = datetime.now(UTC).replace(tzinfo=None)
        self.report = ErasureReport(erasure_id=uuid.uuid4().hex)
        self.step = "resolve"
        self.marked = False  # the affected versions are marked (with the deletes)
        manifest = manifest if manifest is not None else load_manifest()
        self.tables: list[LakeTable] = lake_tables(manifest, self.lake)
        self.staging = {t.staging.relation: t for t in self.tables if t.staging is not None}
        self.key_columns = sorted(subject_key_columns(manifest))
        self.subject: Subject = resolve_subject(
            self.lake,
            self.database,
            customer_id=request.customer_id,
            email=request.email,
            tables=self.tables,
        )
        self.report.customers_erased = len(self.subject.ids)
        self.affected: list[AffectedVersion] = (
            self._affected_versions() if self.subject.found else []
        )

    # -- step 1: dataset versions that held the subject --------------------------------
    def _held(self, columns: list[str]) -> tuple[str, list] | None:
        """A condition true for the rows keyed to the subject, over those of `columns`
        declared subject_key, with its parameters; None when none is."""
        keys = [c for c in columns if c in self.key_columns]
        if not keys:
            return None
        ids = sorted(self.subject.ids)
        condition = " or ".join(
            f"list_contains(?, cast({quote_identifier(c)} as varchar))" for c in keys
        )
        return f"({condition})", [ids] * len(keys)

    def _affected_versions(self) -> list[AffectedVersion]:
        ids = sorted(self.subject.ids)
        affected = []
        with duckdb.connect(str(self.database), read_only=True) as connection:
            if not _exists(connection, REGISTRY):
                return []
            versions = connection.execute(
                f"select version_id, dataset_name, as_of_date, fingerprint from {REGISTRY} "
                "order by built_at"
            ).fetchall()
            published = {}
            if _exists(connection, PUBLICATIONS_TABLE):
                published = dict(
                    connection.execute(
                        f"select version_id, min(ducklake_snapshot_id) from {PUBLICATIONS_TABLE} "
                        "group by version_id"
                    ).fetchall()
                )
            for version_id, dataset, as_of, fingerprint in versions:
                export = self.exports / dataset / f"version={version_id}" / f"{dataset}.parquet"
                if export.exists():
                    table = pq.ParquetFile(export).read()
                    held = 0
                    mask = None
                    for key in (c for c in table.column_names if c in self.key_columns):
                        found = pc.is_in(
                            pc.cast(table[key], pa.string()),
                            value_set=pa.array(ids, type=pa.string()),
                        )
                        mask = found if mask is None else pc.or_(mask, found)
                    if mask is not None:
                        held = int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)
                else:  # not exported: judged from the table, as of the version's date
                    _, table_name = DATASETS.get(dataset, (None, None))
                    if table_name is None:
                        continue
                    columns = [
                        row[0]
                        for row in connection.execute(
                            "select column_name from information_schema.columns "
                            "where table_schema = 'ml' and table_name = ?",
                            [table_name],
                        ).fetchall()
                    ]
                    held_by = self._held(columns)
                    if held_by is None:
                        continue
                    condition, params = held_by
                    (held,) = connection.execute(
                        f"select count(*) from ml.{quote_identifier(table_name)} "
                        f"where {condition} and as_of_date <= ?",
                        [*params, as_of],
                    ).fetchone()
                if held:
                    affected.append(
                        AffectedVersion(
                            version_id, dataset, as_of, fingerprint, held, published.get(version_id)
                        )
                    )
        return affected

    # -- steps 2 and 3: warehouse tables and raw files --------------------------------
    def remove_records(self) -> None:
        self.step = "warehouse"
        raw_plan = self._raw_files_to_rewrite()
        with duckdb.connect(str(self.database)) as connection:
            connection.execute("begin transaction")
            try:
                held = self._delete_from_tables(connection)
                self._adjust_reconciliation(connection, raw_plan, held)
                self._mark_affected_versions(connection)
                connection.execute("commit")
                self.marked = True
            except BaseException:
                with suppress(duckdb.Error):
                    connection.execute("rollback")
                raise
            connection.execute("checkpoint")
        self.step = "raw lake"
        for path, rows in raw_plan.items():
            self._rewrite_without_subject(path)
            self.report.add(self._lake_location(path), rows)

    def _lake_location(self, path: Path) -> str:
        """`lake/<the table's folder in the lake>` (e.g. lake/customers, lake/support/tickets)."""
        table = table_of(self.tables, path)
        relative = path.relative_to(self.lake)
        if table is not None and table.folder.is_relative_to(self.lake):
            return f"lake/{table.folder.relative_to(self.lake).as_posix()}"
        return f"lake/{relative.parts[0]}"

    def _tables(self, connection: duckdb.DuckDBPyConnection) -> list[str]:
        rows = connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        return [row[0] for row in rows if row[0] not in GOVERNANCE_TABLES]

    def _delete_from_tables(
        self, connection: duckdb.DuckDBPyConnection
    ) -> dict[str, dict[RowKey, int]]:
        """Delete the subject's rows everywhere; return, for the reconciliation, the rows
        removed per source-day from each relation it counts: {column: {key: rows}}
        (rows_kept: the staging models; rows_quarantined, rows_corrected: the audit
        tables of ROWS_HELD_BY)."""
        held: dict[str, dict[RowKey, int]] = {}
        for table in self._tables(connection):
            schema, name = table.split(".")
            columns = dict(
                connection.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
            )
            predicate = sql_predicate(columns, self.subject)
            if predicate is None:
                continue
            condition, params = predicate
            relation = _quoted(table)
            staged = self.staging.get(table)
            if staged is not None and "_ingest_date" in columns:
                kept = held.setdefault("rows_kept", {})
                for day, rows in connection.execute(
                    f"select cast(_ingest_date as varchar), count(*) from {relation} "
                    f"where {condition} group by 1",
                    params,
                ).fetchall():
                    kept[(staged.system, staged.name, day)] = rows
            if table in ROWS_HELD_BY and {"source_name", "ingest_date"} <= set(columns):
                system = "cast(source_system as varchar)" if "source_system" in columns else "null"
                counted = held.setdefault(ROWS_HELD_BY[table], {})
                for source_system, source, day, rows in connection.execute(
                    f"select {system}, source_name, cast(ingest_date as varchar), count(*) "
                    f"from {relation} where {condition} group by 1, 2, 3",
                    params,
                ).fetchall():
                    counted[(source_system, source, day)] = rows
            (rows,) = connection.execute(
                f"select count(*) from {relation} where {condition}", params
            ).fetchone()
            if rows:
                connection.execute(f"delete from {relation} where {condition}", params)
                self.report.add(table, rows)
        return held

    def _row_key(self, key: RowKey, by_system: bool) -> RowKey:
        """A source-day as the reconciliation keys it: with the source system when it has
        that column (found from the manifest when only the table's name is known), else
        without."""
        system, source, day = key
        if not by_system:
            return (None, source, day)
        if system is None:
            systems = {t.system for t in self.tables if t.name == source}
            system = systems.pop() if len(systems) == 1 else None
        return (system, source, day)

    def _adjust_reconciliation(
        self,
        connection: duckdb.DuckDBPyConnection,
        raw_plan: dict[Path, int],
        held: dict[str, dict[RowKey, int]],
    ) -> None:
        """Rows that left a source-day leave its reconciliation too: landed by the rows
        removed from its files (at least what staging and the audit tables held, should
        its files be gone already); kept, corrected and quarantined by what left those;
        duplicates by the rest. Reads the reconciliation's columns, so it works before and
        after it gained source_system and rows_corrected."""
        if not _exists(connection, RECONCILIATION):
            return
        schema, name = RECONCILIATION.split(".")
        columns = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchall()
        }
        by_system = "source_system" in columns
        counted = ["rows_kept", *(c for c in ROWS_HELD_BY.values() if c in columns)]
        landed: dict[RowKey, int] = {}
        for path, rows in raw_plan.items():
            table = table_of(self.tables, path)
            day = table.landing_day(path) if table is not None else None
            if table is None or day is None:
                continue
            key = self._row_key((table.system, table.name, day.isoformat()), by_system)
            landed[key] = landed.get(key, 0) + rows
        terms: dict[str, dict[RowKey, int]] = {column: {} for column in counted}
        for column, rows_by_key in held.items():
            if column not in terms:
                continue  # a term the reconciliation has not: its rows count as duplicates
            for key, rows in rows_by_key.items():
                key = self._row_key(key, by_system)
                terms[column][key] = terms[column].get(key, 0) + rows
        keys = set(landed).union(*terms.values())
        for key in sorted(keys, key=lambda k: tuple(part or "" for part in k)):
            removed = {column: terms[column].get(key, 0) for column in counted}
            gone = max(landed.get(key, 0), sum(removed.values()))
            assignments = ["rows_landed = rows_landed - ?", "rows_duplicate = rows_duplicate - ?"]
            params: list[Any] = [gone, gone - sum(removed.values())]
            for column, rows in removed.items():
                assignments.append(f"{column} = {column} - ?")
                params.append(rows)
            system, source, day = key
            where = "source_name = ? and ingest_date = cast(? as date)"
            params += [source, day]
            if by_system and system is not None:
                where = "source_system = ? and " + where
                params.insert(len(params) - 2, system)
            connection.execute(
                f"update {RECONCILIATION} set {', '.join(assignments)} where {where}", params
            )

    def _mark_affected_versions(self, connection: duckdb.DuckDBPyConnection) -> None:
        """With the deletes, in the same transaction: the versions that held the subject
        can no longer be rebuilt exactly, whatever happens to the later steps."""
        connection.execute("create schema if not exists audit")
        connection.execute(AFFECTED_VERSIONS_DDL)
        for version in self.affected:
            connection.execute(
                f"insert into {AFFECTED_VERSIONS} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.report.erasure_id,
                    version.version_id,
                    version.dataset_name,
                    version.as_of_date,
                    version.fingerprint,
                    version.rows_held,
                    version.ducklake_snapshot_id,
                    "held rows of an erased customer: a rebuild from history no longer gives "
                    "its fingerprint; its Parquet export is rewritten without them and the "
                    "DuckLake snapshots that held them are expired",
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )

    def _raw_files_to_rewrite(self) -> dict[Path, int]:
        plan = {}
        for path in parquet_files([self.lake]):
            if path.relative_to(self.lake).parts[0].startswith("_"):
                continue
            try:
                table = pq.ParquetFile(path).read()
            except (pa.ArrowException, OSError):
                # The warehouse never reads it either (audit.quarantined_files): it cannot
                # be checked or rewritten here, only deleted or re-delivered.
                print(
                    f"erasure: {path} is not a readable Parquet file, so it was not checked "
                    "for the person; the warehouse does not read it (audit.quarantined_files). "
                    "Delete it, or have it re-delivered, and run the erasure again.",
                    file=sys.stderr,
                )
                continue
            rows = subject_rows(table, self.subject)
            if rows:
                plan[path] = rows
        return plan

    def _rewrite_without_subject(self, path: Path) -> int:
        """Rewrite one Parquet file without the subject's rows, under its own name (the old
        file is replaced in one step); returns the rows removed."""
        table = pq.ParquetFile(path).read()
        mask = arrow_mask(table, self.subject)
        if mask is None:
            return 0
        removed = int(pc.sum(mask).as_py() or 0)
        if not removed:
            return 0
        partial = path.with_name(f".{path.name}.erasure-{self.report.erasure_id[:8]}")
        pq.write_table(table.filter(pc.invert(mask)), partial)
        os.replace(partial, path)
        self.report.files_rewritten += 1
        return removed

    # -- steps 5 to 7 ------------------------------------------------------------------
    def finish(self) -> ErasureReport:
        """After the rebuild: exports, DuckLake, verification and the record."""
        self.step = "exports"
        self._sweep_exports()
        self.step = "ducklake"
        self._expire_published_snapshots()
        self.step = "verify"
        self._verify()
        self.report.status = "completed" if self.subject.found else "nothing found"
        self.record()
        return self.report

    def _sweep_exports(self) -> None:
        for path in parquet_files([self.exports]):
            rows = self._rewrite_without_subject(path)
            if not rows:
                continue
            relative = path.relative_to(self.exports)
            self.report.add(f"exports/{relative.parts[0]}", rows)
            datasheet = path.parent / "datasheet.md"
            if path.parent.name.startswith("version=") and datasheet.exists():
                with datasheet.open("a") as sheet:
                    sheet.write(
                        f"\n<!-- erasure {self.report.erasure_id} on {self.started_at:%Y-%m-%d}: "
                        f"{rows} rows of an erased customer removed from this file; it no longer "
                        "matches the registered fingerprint (audit.erasure_affected_versions) -->\n"
                    )

    def _expire_published_snapshots(self) -> None:
        catalog = self.lakehouse / "catalog.ducklake"
        if not catalog.exists():
            return
        publish_latest(self.database)  # the post-erasure versions, before the old go
        with open_lake(catalog, self.lakehouse / "data", read_only=False) as connection:
            (current,) = connection.execute(f"select id from {LAKE}.current_snapshot()").fetchone()
            columns: dict[str, list[str]] = {}
            for table, column in connection.execute(
                "select table_schema || '.' || table_name, column_name "
                "from information_schema.columns where table_catalog = ? order by 1",
                [LAKE],
            ).fetchall():
                columns.setdefault(table, []).append(column)
            # each published table's rows keyed to the subject (its subject_key columns)
            keyed = {table: held for table, names in columns.items() if (held := self._held(names))}
            holding = set()
            for (snapshot,) in connection.execute(
                f"select snapshot_id from {LAKE}.snapshots() where snapshot_id < ?", [current]
            ).fetchall():
                for table, (condition, params) in keyed.items():
                    with suppress(duckdb.Error):  # the table did not exist at that snapshot
                        (rows,) = connection.execute(
                            f"select count(*) from {LAKE}.{_quoted(table)} "
                            f"at (version => {int(snapshot)}) where {condition}",
                            params,
                        ).fetchone()
                        if rows:
                            holding.add(int(snapshot))
            if holding:
                connection.execute(
                    f"call ducklake_expire_snapshots({_sql_string(LAKE)}, versions => "
                    f"[{', '.join(str(s) for s in sorted(holding))}])"
                )
                connection.execute(
                    f"call ducklake_cleanup_old_files({_sql_string(LAKE)}, cleanup_all => true)"
                )
        self.report.ducklake_snapshots_expired = sorted(holding)

    def _verify(self) -> None:
        needles = self.subject.needles()
        if not needles:
            return
        roots = [self.lake, self.exports, self.lakehouse]
        residue = scan_warehouse(self.database, needles, skip=GOVERNANCE_TABLES)
        residue += scan_files(roots, needles)
        with duckdb.connect(str(self.database), read_only=True) as connection:
            (tables,) = connection.execute(
                "select count(*) from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchone()
        self.report.places_verified = int(tables) + len(parquet_files(roots))
        self.report.residue = residue
        if residue:
            places = ", ".join(f"{r.location} ({r.column})" for r in residue[:20])
            raise ErasureError(
                f"Erasure {self.report.erasure_id} is incomplete: the customer's identifiers "
                f"are still in {len(residue)} places: {places}. Nothing else was left; find "
                "what wrote them, remove it and run the erasure again."
            )

    # -- step 8 -------------------------------------------------------------------------
    def record(self, detail: str | None = None) -> None:
        """Append the erasure's record (the versions it made irreproducible were marked with
        the deletes)."""
        report = self.report
        report.versions_not_reproducible = [v.version_id for v in self.affected if self.marked]
        now = datetime.now(UTC).replace(tzinfo=None)
        with duckdb.connect(str(self.database)) as connection:
            connection.execute("create schema if not exists audit")
            connection.execute(ERASURE_LOG_DDL)
            connection.execute(AFFECTED_VERSIONS_DDL)
            connection.execute(
                f"insert into {ERASURE_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    report.erasure_id,
                    self.request.request_reference,
                    self.request.requested_by,
                    self.request.executed_by,
                    self.request.identified_by,
                    self.started_at,
                    now,
                    report.status,
                    report.customers_erased,
                    json.dumps(report.rows_removed, sort_keys=True),
                    report.files_rewritten,
                    json.dumps(report.ducklake_snapshots_expired),
                    json.dumps(report.versions_not_reproducible),
                    report.places_verified,
                    detail,
                ],
            )

    def fail(self, error: BaseException) -> None:
        """Record a failed erasure (the step and the kind of error, no values); re-running
        the same request picks up what is left."""
        self.report.status = "failed"
        with suppress(Exception):
            self.record(detail=f"failed at step '{self.step}': {type(error).__name__}")

    def run(self, rebuild: Callable[[list[str]], None]) -> ErasureReport:
        """All steps; `rebuild` runs dbt with the given arguments."""
        try:
            if self.subject.found:
                self.remove_records()
                self.step = "rebuild"
                rebuild(REBUILD_ARGS)
            return self.finish()
        except BaseException as error:
            self.fail(error)
            raise


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    (count,) = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(count)


def dbt_rebuild(args: list[str]) -> None:
    """The rebuild step from the command line: dbt in a subprocess."""
    result = run_dbt([*args, "--exclude-resource-type", "unit_test"])
    if result.returncode != 0:
        raise ErasureError(
            f"`dbt {' '.join(args)}` failed after the records were removed; fix the cause and "
            f"run the same erasure again (it continues from what is left):\n{result.stdout[-4000:]}"
        )


def erasure_log(database: Path | None = None) -> Iterator[dict[str, Any]]:
    """The erasure records, oldest first."""
    with duckdb.connect(str(database or duckdb_path()), read_only=True) as connection:
        if not _exists(connection, ERASURE_LOG):
            return
        cursor = connection.execute(f"select * from {ERASURE_LOG} order by started_at")
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--customer-id", help="the customer's id (the sources YAML's subject_key, in its format)"
    )
    who.add_argument("--email", help="an email address of the customer")
    parser.add_argument("--reference", required=True, help="ticket id of the request")
    parser.add_argument("--requested-by", required=True, help="who asked (role or staff id)")
    args = parser.parse_args(argv)
    try:
        request = ErasureRequest(
            request_reference=args.reference,
            requested_by=args.requested_by,
            customer_id=args.customer_id,
            email=args.email,
        )
        report = Erasure(request).run(dbt_rebuild)
    except (SubjectError, ErasureError, LakehouseError) as error:
        print(f"erasure: {error}", file=sys.stderr)
        return 2
    print(
        f"erasure {report.erasure_id}: {report.status}; {report.customers_erased} customer(s), "
        f"{sum(report.rows_removed.values())} rows removed from {len(report.rows_removed)} "
        f"places, {report.files_rewritten} files rewritten, DuckLake snapshots expired: "
        f"{report.ducklake_snapshots_expired or 'none'}, versions no longer reproducible: "
        f"{len(report.versions_not_reproducible)}; verified {report.places_verified} places"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
