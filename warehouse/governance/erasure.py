"""Erasure on request (right to be forgotten): one customer out of every layer.

    python -m warehouse.governance.erasure --customer-id C0000042 \\
        --reference DSR-2026-0042 --requested-by privacy-office
    (or --email name@example.com; in Dagster: the job `erase_customer`)

What identifies the person, and which lake tables and staging models there are, comes from
the sources YAML through the dbt manifest (warehouse.governance.sources): every system
declared there is covered.

Linked accounts: the person is every account linked to the one named by a shared email
or phone, transitively (docs/governance.md says why), and that same set of ids, emails,
phones and owned values is matched in every layer below.

Steps, in this order so that a run stopped half-way can simply be run again:

1. Resolve the subject (warehouse.governance.subject): ids, identifiers (emails, phones),
   pseudonyms, and the values their rows own (orders, sessions, device ids), from the raw
   lake and staging. Every lake file is classified first (warehouse.governance.lake_files):
   Parquet is read by column, Parquet with invalid UTF-8 through Arrow, anything else is
   scanned as bytes for the person's values. Find the registered dataset versions that
   held the subject's rows (their published Parquet, else the table). Before the first
   destructive step, this attempt's row of `audit.erasure_log` is written (status
   `running`, its step kept up to date) with the resolved people; a retry of the same
   request (same reference, after an attempt that did not complete) takes them from there,
   so it erases exactly the same people and finishes every step (the rebuild included)
   even when nothing is left to find.
2. Warehouse, one transaction: delete the subject's rows from every table (staging, the
   audit tables' raw records, every version of every snapshot, facts, features, labels,
   training set, stored test failures...), matched by column (`sql_predicate`); adjust
   `audit.row_count_reconciliation` by what left each source-day, so landed = kept +
   duplicates + corrected + quarantined still holds.
3. Raw lake: every landing file holding the subject is rewritten without those rows under
   its own name (the old file is replaced, so staging's `_source_file` stays true). A file
   that is not Parquet is rewritten without the lines holding the person when it is text
   (a CSV, gzip'd or not), else removed; each removal is logged. A file that cannot be
   read at all does not stop the other steps, but the erasure then fails at verification,
   naming it.
4. Rebuild what is derived from history (`dbt build --full-refresh` of facts, dims, ML
   tables, exports; the registry appends the post-erasure versions), so the current tables
   equal a rebuild from the cleaned history and later versions stay reproducible.
5. Exports: every Parquet file under exports/ holding the subject is rewritten without
   those rows; a version folder's datasheet says so.
6. DuckLake: the post-erasure versions are published, then every earlier snapshot that
   held the subject is expired and its files deleted. Time travel to those snapshots is
   gone: that is the price of erasure, recorded below.
7. Verify: no table, lake file (of any kind), export or DuckLake file holds the subject's
   ids, emails, phones or pseudonyms (warehouse.governance.residue); otherwise the erasure
   fails.
8. Read copy: the read copy (warehouse.backup, data/warehouse.read.duckdb) is published
   again from the erased warehouse, with the resolved people cleared in the copy, and
   verified, before completion is recorded or reported (also when verification failed on
   lake files only: the warehouse is clean then).
9. Record: the attempt's row of `audit.erasure_log` is completed (who asked, who ran it,
   when, what was touched and how many rows, the files removed) and the resolved people
   are cleared from every row of the request; one row per dataset version that can no
   longer be rebuilt exactly is in `audit.erasure_affected_versions`.

A failed attempt leaves its row with status `failed` and the step it reached; its message,
like every message here, names files, tables, columns and rules, never a value (what dbt or
DuckDB said is shown only as the names of the failing nodes).
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

from warehouse.backup import WarehouseBusy, publish_read_copy, read_copy_path
from warehouse.datasets import DATASETS, PUBLICATIONS_TABLE, lakehouse_dir, publish_latest
from warehouse.dbt_runner import run_dbt
from warehouse.duckdb_lock import is_lock_error, refusal
from warehouse.fingerprint import quote_identifier
from warehouse.governance.lake_files import (
    BYTES,
    REPAIRED,
    LakeFile,
    UnscannableFile,
    bytes_pattern,
    classify,
    holds,
    is_duckdb_file,
    lake_files,
    read_repaired,
    rewrite_text,
)
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
    pii_salt,
    resolve_subject,
    sql_predicate,
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
    finished_at timestamp,
    status varchar not null,
    customers_erased integer not null,
    rows_removed json not null,
    files_rewritten integer not null,
    ducklake_snapshots_expired json not null,
    versions_not_reproducible json not null,
    places_verified integer not null,
    detail varchar,
    step varchar,
    files_removed json,
    subjects json
)
"""
# A log written before the attempt rows and the resolved people: brought to this shape.
ERASURE_LOG_MIGRATIONS = (
    f"alter table {ERASURE_LOG} add column if not exists step varchar",
    f"alter table {ERASURE_LOG} add column if not exists files_removed json",
    f"alter table {ERASURE_LOG} add column if not exists subjects json",
    f"alter table {ERASURE_LOG} alter column finished_at drop not null",
)
LOG_COLUMNS = (
    "erasure_id",
    "request_reference",
    "requested_by",
    "executed_by",
    "identified_by",
    "started_at",
    "finished_at",
    "status",
    "customers_erased",
    "rows_removed",
    "files_rewritten",
    "ducklake_snapshots_expired",
    "versions_not_reproducible",
    "places_verified",
    "detail",
    "step",
    "files_removed",
    "subjects",
)
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


# Errors whose messages this project writes (never with a value); any other error is shown
# by its kind only, since it may quote the data it failed on.
OWN_ERRORS = (ErasureError, SubjectError, LakehouseError, WarehouseBusy, UnscannableFile)


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
class Attempt:
    """An earlier attempt at the same request that did not complete."""

    erasure_id: str
    status: str
    step: str | None
    subjects: dict[str, Any] | None


@dataclass
class LakePlan:
    """What the raw lake step will do: Parquet files to rewrite (rows of the subject in
    each), and other files whose bytes hold the person."""

    parquet: dict[Path, int] = field(default_factory=dict)
    other: list[Path] = field(default_factory=list)
    unscannable: list[Path] = field(default_factory=list)


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
    files_removed: list[str] = field(default_factory=list)  # lake files, relative to the lake
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
        read_copy: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.request = request
        self.database = database or duckdb_path()
        self.lake = (lake or lake_dir()).resolve()
        self.exports = exports or exports_dir()
        self.lakehouse = lakehouse or lakehouse_dir()
        self.read_copy = read_copy or _read_copy_of(self.database)
        self.progress = progress or (lambda _message: None)
        self.started_at = datetime.now(UTC).replace(tzinfo=None)
        self.report = ErasureReport(erasure_id=uuid.uuid4().hex)
        self.step = "resolve"
        self.where = ""  # the file or table being worked on, for a failure's message
        self.logged = False  # this attempt's row is in the erasure log
        self.marked = False  # the affected versions are marked (with the deletes)
        self.subject = Subject()
        self._plan: LakePlan | None = None
        manifest = manifest if manifest is not None else load_manifest()
        self.tables: list[LakeTable] = lake_tables(manifest, self.lake)
        self.staging = {t.staging.relation: t for t in self.tables if t.staging is not None}
        self.key_columns = sorted(subject_key_columns(manifest))
        self.previous: Attempt | None = None
        self.files: dict[Path, LakeFile] = {}
        self.affected: list[AffectedVersion] = []
        try:
            self.previous = unfinished_attempt(self.database, request.request_reference)
            self.files = self._survey()
            self.subject = self._resolve()
            self.report.customers_erased = len(self.subject.ids)
            self.affected = self._affected_versions() if self.subject.found else []
        except SubjectError:
            raise  # a request that names nobody matchable: refused, nothing was attempted
        except Exception as error:
            self.fail(error)
            if is_lock_error(error):
                raise ErasureError(self.describe(error)) from None
            raise ErasureError(
                f"Erasure {self.report.erasure_id} failed at step '{self.step}', before "
                f"anything was removed: {self.describe(error)}."
            ) from None

    @property
    def resuming(self) -> bool:
        """Whether an earlier attempt at this request did not complete: every step runs."""
        return self.previous is not None

    def _say(self, message: str) -> None:
        self.progress(f"erasure {self.report.erasure_id[:8]}: {message}")

    def _survey(self) -> dict[Path, LakeFile]:
        """Every file of the lake, by kind (warehouse.governance.lake_files)."""
        paths = lake_files(self.lake)
        self._say(f"classifying {len(paths)} lake files")
        files = {}
        for number, path in enumerate(paths, 1):
            self.where = str(path)
            files[path] = classify(path)
            if number % 500 == 0:
                self._say(f"classified {number} of {len(paths)} lake files")
        self.where = ""
        odd = [f for f in files.values() if f.kind != "parquet"]
        for found in odd:
            self._say(f"{found.path} is scanned as {found.kind}: {found.reason}")
        return files

    def _resolve(self) -> Subject:
        """The people to erase: those an unfinished attempt at this request resolved, else
        resolved now from the lake and staging."""
        request = self.request
        tables = [t for t in self.tables if t.identifies_subjects]
        if self.previous is not None and self.previous.subjects:
            subject = Subject.from_record(self.previous.subjects, tables, pii_salt())
            if not subject.names(request.customer_id, request.email):
                raise ErasureError(
                    f"Request {request.request_reference} has an unfinished erasure "
                    f"({self.previous.erasure_id}, status {self.previous.status}) of people "
                    "that do not include the one named now: run it again as it was named, "
                    "or give this request its own reference."
                )
            self._say(
                f"continuing attempt {self.previous.erasure_id[:8]} (stopped at step "
                f"'{self.previous.step}'): the same {len(subject.ids)} account(s)"
            )
            return subject
        self._say("resolving the person and the accounts linked to them")
        subject = resolve_subject(
            self.lake,
            self.database,
            customer_id=request.customer_id,
            email=request.email,
            tables=self.tables,
            files=self.files,
        )
        self._say(f"{len(subject.ids)} account(s) to erase")
        return subject

    @property
    def to_erase(self) -> bool:
        """Whether any destructive step is due: the person was found (in rows or in the
        bytes of a lake file), or an earlier attempt at the request did not complete."""
        return self.subject.found or self.resuming or bool(self.lake_plan().other)

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
        """Steps 2 and 3, after this attempt's row (with the resolved people) is logged."""
        plan = self.lake_plan()
        if not self.logged:
            self.begin()
        self.set_step("warehouse")
        self._say("deleting the person's rows from the warehouse tables (one transaction)")
        with duckdb.connect(str(self.database)) as connection:
            connection.execute("begin transaction")
            try:
                held = self._delete_from_tables(connection)
                self._adjust_reconciliation(connection, plan.parquet, held)
                self._mark_affected_versions(connection)
                connection.execute("commit")
                self.marked = True
            except BaseException:
                with suppress(duckdb.Error):
                    connection.execute("rollback")
                raise
            connection.execute("checkpoint")
        self.where = ""
        self.set_step("raw lake")
        self._say(
            f"rewriting {len(plan.parquet)} Parquet files and {len(plan.other)} other lake "
            "files that hold the person"
        )
        for path, rows in plan.parquet.items():
            self.where = str(path)
            self._rewrite_without_subject(path)
            self.report.add(self._lake_location(path), rows)
        pattern = bytes_pattern(self.subject.exact_values())
        for path in plan.other:
            self.where = str(path)
            assert pattern is not None
            removed = rewrite_text(path, pattern)
            relative = path.relative_to(self.lake).as_posix()
            if removed is None:
                path.unlink()
                self.report.files_removed.append(relative)
                self._say(
                    f"removed {path}: it is not Parquet any reader here can rewrite, and its "
                    "bytes hold the person (logged in audit.erasure_log.files_removed)"
                )
            else:
                self.report.files_rewritten += 1
                self.report.add(self._lake_location(path), removed)
                self._say(f"rewrote {path} without its {removed} lines holding the person")
        self.where = ""
        for path in plan.unscannable:
            self._say(f"{path} cannot be read, so it was not scanned: the erasure will fail")

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
        _ensure_log(connection)
        # marked already by an earlier attempt at the same request: not twice
        done = {
            row[0]
            for row in connection.execute(
                f"select version_id from {AFFECTED_VERSIONS} where erasure_id in "
                f"(select erasure_id from {ERASURE_LOG} where request_reference = ?)",
                [self.request.request_reference],
            ).fetchall()
        }
        self.affected = [v for v in self.affected if v.version_id not in done]
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

    def lake_plan(self) -> LakePlan:
        """Which lake files hold the person (read only; computed once): Parquet by rows,
        every other file (whatever its name) by its bytes."""
        if self._plan is not None:
            return self._plan
        plan = LakePlan()
        pattern = bytes_pattern(self.subject.exact_values())
        self._say(f"looking for the person in {len(self.files)} lake files")
        for path, found in self.files.items():
            self.where = str(path)
            if found.kind == BYTES:
                try:
                    if pattern is not None and holds(path, pattern):
                        plan.other.append(path)
                except UnscannableFile:
                    plan.unscannable.append(path)
                continue
            table = (
                read_repaired(path)[1] if found.kind == REPAIRED else pq.ParquetFile(path).read()
            )
            mask = arrow_mask(table, self.subject)
            rows = 0 if mask is None else int(pc.sum(mask).as_py() or 0)
            if rows:
                plan.parquet[path] = rows
        self.where = ""
        self._plan = plan
        return plan

    def _rewrite_without_subject(self, path: Path) -> int:
        """Rewrite one Parquet file without the subject's rows, under its own name (the old
        file is replaced in one step); returns the rows removed. A file with invalid UTF-8
        is matched on a repaired copy and filtered as stored."""
        table, readable = read_repaired(path)
        mask = arrow_mask(readable, self.subject)
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

    # -- steps 5 to 9 ------------------------------------------------------------------
    def finish(self) -> ErasureReport:
        """After the rebuild: exports, DuckLake, verification, the read copy, the record."""
        self.set_step("exports")
        self._say("rewriting the exports that hold the person")
        self._sweep_exports()
        self.set_step("ducklake")
        self._say("expiring the DuckLake snapshots that held the person")
        self._expire_published_snapshots()
        self.set_step("verify")
        self._say("verifying: every table, lake file, export and DuckLake file")
        tables, files = self._verify()
        if tables:
            raise self._incomplete(tables + files)
        erased = self.to_erase
        if erased or files:
            # The warehouse is clean (even when a lake file is not): so must the read copy
            # be, before completion is recorded or reported.
            self.set_step("read copy")
            self._publish_read_copy()
        if files:
            self.set_step("verify")
            raise self._incomplete(files)
        self.report.status = "completed" if erased else "nothing found"
        self.record()
        return self.report

    def _publish_read_copy(self) -> None:
        """Publish the read copy again from the erased warehouse, the resolved people
        cleared in the copy, and verify it; a copy half-written by a publication that was
        stopped is removed (it may hold the person)."""
        copy = self.read_copy
        for stale in copy.parent.glob(f".{copy.name}.partial*"):
            stale.unlink()
        if not copy.exists():
            return
        self._say(f"publishing the read copy {copy} again")
        publish_read_copy(self.database, copy, prepare=_clear_subjects)
        needles = self.subject.needles()
        if needles and scan_warehouse(copy, needles):
            raise ErasureError(
                f"The read copy {copy} still holds the person after it was published from "
                "the erased warehouse: remove it (readers fall back to the warehouse) and run "
                "the erasure again."
            )

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

    def _verify(self) -> tuple[list[Residue], list[Residue]]:
        """What is left of the person: in the warehouse's tables, and in files."""
        needles = self.subject.needles()
        if not needles:
            return [], []
        roots = [self.lake, self.exports, self.lakehouse]
        tables = scan_warehouse(self.database, needles, skip=GOVERNANCE_TABLES)
        catalogs = [p for root in roots for p in lake_files(root) if is_duckdb_file(p)]
        for catalog in catalogs:  # a DuckLake catalog's statistics hold values too
            tables += [
                Residue(f"{catalog}: {r.location}", r.column)
                for r in scan_warehouse(catalog, needles)
            ]
        files = scan_files(roots, needles)
        with duckdb.connect(str(self.database), read_only=True) as connection:
            (count,) = connection.execute(
                "select count(*) from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchone()
        self.report.places_verified = int(count) + sum(len(lake_files(root)) for root in roots)
        self.report.residue = tables + files
        return tables, files

    def _incomplete(self, residue: list[Residue]) -> ErasureError:
        places = ", ".join(f"{r.location} ({r.column})" for r in residue[:20])
        unreadable = [r for r in residue if r.column == "(cannot be read)"]
        advice = (
            "Make those files readable to this user (or remove them), then run the same "
            "request again: it continues with the same people."
            if unreadable
            else "Find what wrote them, remove it and run the same request again: it "
            "continues with the same people."
        )
        return ErasureError(
            f"Erasure {self.report.erasure_id} is incomplete: the person's identifiers are "
            f"still in {len(residue)} places: {places}. {advice}"
        )

    # -- the erasure log ---------------------------------------------------------------
    def begin(self) -> None:
        """Before the first destructive step: this attempt's row, status `running`, with
        the resolved people; earlier attempts at the request left `running` (a process
        that was killed) are marked failed."""
        with duckdb.connect(str(self.database)) as connection:
            _ensure_log(connection)
            connection.execute(
                f"update {ERASURE_LOG} set status = 'failed', detail = coalesce(detail, "
                "'interrupted: the process stopped before it could record how it ended') "
                "where request_reference = ? and status = 'running'",
                [self.request.request_reference],
            )
            values = self._row("running")
            connection.execute(
                f"insert into {ERASURE_LOG} ({', '.join(values)}) "
                f"values ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
        self.logged = True
        self._say(f"logged in {ERASURE_LOG} with the people resolved (cleared on completion)")

    def set_step(self, step: str) -> None:
        """Move to a step; the attempt's row says which, should the process be killed."""
        self.step = step
        if self.logged:
            with duckdb.connect(str(self.database)) as connection:
                connection.execute(
                    f"update {ERASURE_LOG} set step = ? where erasure_id = ?",
                    [step, self.report.erasure_id],
                )

    def _row(self, status: str, detail: str | None = None) -> dict[str, Any]:
        report = self.report
        report.versions_not_reproducible = [v.version_id for v in self.affected_marked()]
        finished = status != "running"
        return {
            "erasure_id": report.erasure_id,
            "request_reference": self.request.request_reference,
            "requested_by": self.request.requested_by,
            "executed_by": self.request.executed_by,
            "identified_by": self.request.identified_by,
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).replace(tzinfo=None) if finished else None,
            "status": status,
            "customers_erased": report.customers_erased,
            "rows_removed": json.dumps(report.rows_removed, sort_keys=True),
            "files_rewritten": report.files_rewritten,
            "ducklake_snapshots_expired": json.dumps(report.ducklake_snapshots_expired),
            "versions_not_reproducible": json.dumps(report.versions_not_reproducible),
            "places_verified": report.places_verified,
            "detail": detail,
            "step": self.step,
            "files_removed": json.dumps(report.files_removed),
            # the people, for a retry, while the erasure is unfinished only (and once they
            # are resolved in full: an attempt that failed resolving them keeps none)
            "subjects": json.dumps(self.subject.to_record())
            if (status == "running" or (status == "failed" and self.logged))
            else None,
        }

    def affected_marked(self) -> list[AffectedVersion]:
        return self.affected if self.marked else []

    def record(self, detail: str | None = None) -> None:
        """Write the attempt's outcome (its row, or a new one when it failed before the
        row was written); on completion, clear the resolved people from every row of the
        request in the same transaction."""
        values = self._row(self.report.status, detail)
        with duckdb.connect(str(self.database)) as connection:
            _ensure_log(connection)
            connection.execute(AFFECTED_VERSIONS_DDL)
            connection.execute("begin transaction")
            if self.logged:
                assignments = ", ".join(f"{name} = ?" for name in values if name != "erasure_id")
                connection.execute(
                    f"update {ERASURE_LOG} set {assignments} where erasure_id = ?",
                    [v for name, v in values.items() if name != "erasure_id"]
                    + [self.report.erasure_id],
                )
            else:
                connection.execute(
                    f"insert into {ERASURE_LOG} ({', '.join(values)}) "
                    f"values ({', '.join('?' for _ in values)})",
                    list(values.values()),
                )
                self.logged = True
            if self.report.status in ("completed", "nothing found"):
                connection.execute(
                    f"update {ERASURE_LOG} set subjects = null where request_reference = ?",
                    [self.request.request_reference],
                )
            connection.execute("commit")
            connection.execute("checkpoint")

    def describe(self, error: BaseException) -> str:
        """What went wrong, safe to show and log: this project's messages (which name no
        value) with the person's values redacted all the same, the lock refusal, or else the
        kind of error and where it happened (another program's message may quote data)."""
        if is_lock_error(error):
            return refusal(self.database, str(error), "this erasure")
        where = f" while working on {self.where}" if self.where else ""
        if isinstance(error, OWN_ERRORS):
            return self.subject.redact(str(error)) + where
        return (
            f"{type(error).__name__}{where} (its message is not shown: it may quote the data "
            "it failed on)"
        )

    def fail(self, error: BaseException) -> None:
        """Record a failed attempt: its step and what went wrong (no values); the resolved
        people stay in its row, so re-running the same request erases exactly them."""
        self.report.status = "failed"
        with suppress(Exception):
            self.record(detail=f"failed at step '{self.step}': {self.describe(error)}"[:2000])

    def run(self, rebuild: Callable[[list[str]], None]) -> ErasureReport:
        """All steps; `rebuild` runs dbt with the given arguments. Any failure is recorded
        and raised as an ErasureError whose message holds no value."""
        try:
            if self.to_erase:
                self.remove_records()
                self.set_step("rebuild")
                self._say("rebuilding what is derived from history (dbt, full refresh)")
                rebuild(REBUILD_ARGS)
            return self.finish()
        except Exception as error:
            self.fail(error)
            raise ErasureError(
                f"Erasure {self.report.erasure_id} failed at step '{self.step}': "
                f"{self.describe(error)}. What was removed stays removed; run the same "
                "request again to finish (audit.erasure_log has the record)."
            ) from None
        except BaseException as error:
            self.fail(error)
            raise


def _read_copy_of(database: Path) -> Path:
    """The read copy of this warehouse: the configured one for the configured warehouse
    (WAREHOUSE_READ_COPY_PATH, default beside it), else the one beside the given file."""
    if "WAREHOUSE_READ_COPY_PATH" in os.environ or database.resolve() == duckdb_path():
        return read_copy_path()
    return database.resolve().with_name(read_copy_path().name)


def _ensure_log(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("create schema if not exists audit")
    connection.execute(ERASURE_LOG_DDL)
    for migration in ERASURE_LOG_MIGRATIONS:
        connection.execute(migration)


def _clear_subjects(copy: Path) -> None:
    """In a copy of the warehouse (the read copy): no resolved people in its erasure log."""
    with duckdb.connect(str(copy)) as connection:
        if _exists(connection, ERASURE_LOG):
            _ensure_log(connection)
            connection.execute(f"update {ERASURE_LOG} set subjects = null")
            connection.execute("checkpoint")


def unfinished_attempt(database: Path, reference: str) -> Attempt | None:
    """The latest attempt at this request when it did not complete, else None."""
    if not database.exists():
        return None
    with duckdb.connect(str(database), read_only=True) as connection:
        if not _exists(connection, ERASURE_LOG):
            return None
        columns = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'audit' and table_name = 'erasure_log'"
            ).fetchall()
        }
        step = "step" if "step" in columns else "null"
        subjects = "subjects" if "subjects" in columns else "null"
        row = connection.execute(
            f"select erasure_id, status, {step} from {ERASURE_LOG} "
            "where request_reference = ? order by started_at desc limit 1",
            [reference],
        ).fetchone()
        if row is None or row[1] in ("completed", "nothing found"):
            return None
        # Completion clears them: any people still there belong to this unfinished request
        # (an attempt that failed before resolving them kept none).
        people = connection.execute(
            f"select {subjects} from {ERASURE_LOG} where request_reference = ? "
            f"and {subjects} is not null order by started_at desc limit 1",
            [reference],
        ).fetchone()
    erasure_id, status, last_step = row
    return Attempt(erasure_id, status, last_step, json.loads(people[0]) if people else None)


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    (count,) = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(count)


# The lines of dbt's output that name what failed (a node, a compilation or runtime
# error), without the database's message below them, which may quote a value.
DBT_FAILURE_LINE = re.compile(
    r"((Database|Runtime|Compilation|Parsing|Dependency) Error|Failure|Error) in \w+ \S+"
    r"|Completed with \d+ errors?|Done\. PASS=\d+.*"
    r"|^\s*(Compilation|Runtime|Parsing|Dependency|Database) Error\s*$"
)


def dbt_failure_summary(output: str) -> str:
    """What failed, from dbt's output: the names of the failing nodes and the totals."""
    lines = []
    for line in output.splitlines():
        found = DBT_FAILURE_LINE.search(line)
        if found:
            lines.append(found.group(0).strip())
    return "; ".join(dict.fromkeys(lines)) or "dbt failed before naming a node"


def dbt_rebuild(args: list[str]) -> None:
    """The rebuild step from the command line: dbt in a subprocess."""
    result = run_dbt([*args, "--exclude-resource-type", "unit_test"])
    if result.returncode != 0:
        log = os.environ.get("DBT_LOG_PATH", "logs")
        raise ErasureError(
            f"`dbt {' '.join(args)}` failed after the records were removed "
            f"({dbt_failure_summary(result.stdout)}; dbt's log {log}/dbt.log has the "
            "details). Fix the cause and run the same request again: it continues with the "
            "same people and finishes the rebuild."
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


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
        report = Erasure(request, progress=_to_stderr).run(dbt_rebuild)
    except (SubjectError, ErasureError, LakehouseError) as error:
        # Messages of this module name files, tables and rules, never a value; no traceback.
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
