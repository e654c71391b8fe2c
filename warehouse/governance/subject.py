"""A data subject (one person) and everything that identifies their records.

Erasure and its verification both work from a `Subject`: their ids, their direct
identifiers (emails, phones, ...) and the keyed pseudonyms of those, and the values their
rows own (order ids, session ids, device ids, ...). What identifies whom is declared in the
sources YAML, column by column (warehouse.governance.sources: `subject_key`,
`subject_identifier`, `subject_link`), and read from the dbt manifest, so a system added
with YAML and SQL only is covered. Records are then matched by column name and value
wherever they are (raw files, warehouse tables, exports): a new table that carries one of
those columns, a pseudonym, or a raw record as JSON is covered without a change here.

A Subject holds personal data: it lives in memory for the length of an erasure, is never
logged or passed between processes, and is written in one place only: the erasure's own
row of `audit.erasure_log` while the erasure is unfinished (so that a retry erases exactly
the same people), cleared when it completes (warehouse.governance.erasure).
"""

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.fingerprint import quote_identifier
from warehouse.governance.lake_files import (
    PARQUET,
    REPAIRED,
    LakeFile,
    classify,
    lake_files,
    read_repaired,
)
from warehouse.governance.sources import NAME, LakeTable, id_patterns, lake_tables, load_manifest

# An id as an erasure request may name it: one plain token (the format the sources YAML
# declares, `subject_id_pattern`, is checked against the manifest when the subject is
# resolved).
SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# An email address as RFC 5322 (and RFC 6531 for non-ASCII) allows it: a dot-atom local
# part (o'brien, first.last+tag, ...) or a quoted one ("john doe"), at a host name or an
# address literal. Values only ever reach SQL as parameters, so no character is refused
# for being awkward in SQL.
_NON_ASCII = "\u0080-\U0010ffff"
_ATOM = f"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{_NON_ASCII}-]+"
_LOCAL = rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*")'
_LETTER = f"[A-Za-z0-9{_NON_ASCII}]"
_LABEL = f"{_LETTER}(?:[A-Za-z0-9{_NON_ASCII}-]{{0,61}}{_LETTER})?"
_DOMAIN = rf"(?:(?:{_LABEL}\.)*{_LABEL}|\[[A-Za-z0-9:.]{{2,45}}\])"
EMAIL = re.compile(rf"(?P<local>{_LOCAL})@{_DOMAIN}")
# The identifier kind a request may name a subject by (`subject_identifier: email`).
EMAIL_KIND = "email"

# The development salt of macros/guard_salt.sql; only target dev may use it.
DEFAULT_PII_SALT = "development-salt-not-secret"

# Columns holding a whole raw record as JSON text (base views, the audit tables).
RAW_RECORD_COLUMNS = ("raw_record", "_raw_record")


class SubjectError(ValueError):
    """The request does not name a person in a form that can be matched."""


def pii_salt() -> str:
    """The pseudonymisation key, as dbt reads it (WAREHOUSE_PII_SALT)."""
    salt = os.environ.get("WAREHOUSE_PII_SALT", DEFAULT_PII_SALT)
    target = os.environ.get("WAREHOUSE_TARGET", "dev")
    if target != "dev" and salt == DEFAULT_PII_SALT:
        raise SubjectError(
            f"WAREHOUSE_PII_SALT is unset for target {target!r}: set it to the salt the "
            "warehouse was built with, or the pseudonyms cannot be matched."
        )
    return salt


def normalised(value: str) -> str:
    """An identifier as it is compared and pseudonymised: lower(trim(value))."""
    return value.strip(" ").lower()


def pseudonymise(value: str, salt: str) -> str:
    """The pseudonym dbt's `pseudonymise` macro computes: sha256(salt || lower(trim(value)))."""
    return hashlib.sha256((salt + normalised(value)).encode()).hexdigest()


def check_subject_id(value: str, patterns: Sequence[str] = ()) -> str:
    """`value` as a subject id: one plain token, and of a format the sources YAML declares
    for the subject key (`subject_id_pattern`), when it declares any."""
    if not SUBJECT_ID.fullmatch(value):
        raise SubjectError(
            "customer_id must be one plain identifier (letters, digits and ._:-, at most "
            f"128); got a value of {len(value)} characters that is not."
        )
    if patterns and not any(re.fullmatch(pattern, value) for pattern in patterns):
        raise SubjectError(
            "customer_id is not of the format the sources YAML declares for the subject key "
            f"(subject_id_pattern: {' or '.join(patterns)}); got a value of {len(value)} "
            "characters that is not."
        )
    return value


def check_email(value: str) -> str:
    """`value` as an identifier of kind email (lower(trim())), when it is one valid address."""
    address = value.strip(" ")
    match = EMAIL.fullmatch(address)
    if not match or len(match["local"].encode()) > 64 or len(address.encode()) > 254:
        raise SubjectError(
            "email must be one plain email address as RFC 5322 allows it (local-part@domain, "
            'e.g. o\'brien@example.com or "first last"@example.com; at most 64 bytes before '
            f"the @ and 254 in all); got a value of {len(value)} characters that is not."
        )
    return normalised(address)


@dataclass
class Subject:
    ids: set[str] = field(default_factory=set)
    identifiers: dict[str, set[str]] = field(default_factory=dict)  # kind → lower(trim())
    pseudonyms: dict[str, set[str]] = field(default_factory=dict)  # kind → pseudonyms
    linked: dict[str, set[str]] = field(default_factory=dict)  # link column → values
    # the names, lower case, of the columns declared subject_key and subject_identifier
    key_columns: frozenset[str] = frozenset()
    identifier_columns: frozenset[str] = frozenset()
    matched: bool = False  # some row of the lake or staging is the subject's

    @classmethod
    def of(cls, tables: Iterable[LakeTable]) -> "Subject":
        """An empty subject matched through the columns these tables declare."""
        tables = list(tables)
        return cls(
            key_columns=frozenset(c.lower() for t in tables for c in t.subject_keys),
            identifier_columns=frozenset(c.lower() for t in tables for c in t.identifiers),
        )

    @property
    def found(self) -> bool:
        return bool(self.ids) or self.matched

    def all_identifiers(self) -> set[str]:
        return set().union(*self.identifiers.values())

    def all_pseudonyms(self) -> set[str]:
        return set().union(*self.pseudonyms.values())

    def pseudonymise(self, salt: str) -> None:
        """Add the pseudonym of every identifier known."""
        for kind, values in self.identifiers.items():
            self.pseudonyms.setdefault(kind, set()).update(pseudonymise(v, salt) for v in values)

    def size(self) -> tuple[int, ...]:
        return (
            len(self.ids),
            sum(map(len, self.identifiers.values())),
            sum(map(len, self.pseudonyms.values())),
            sum(map(len, self.linked.values())),
        )

    def key_values(self) -> dict[str, list[str]]:
        """Key or link column → the subject's values in it (for raw records as JSON)."""
        values = {column: self.ids for column in self.key_columns}
        values.update(self.linked)
        return {column: sorted(found) for column, found in values.items() if found}

    def exact_values(self) -> list[str]:
        """Every value that identifies the subject on its own, matched by equality in any
        text column (ids, linked values, identifiers as compared, pseudonyms)."""
        return sorted(
            self.ids
            | set().union(*self.linked.values())
            | self.all_identifiers()
            | self.all_pseudonyms()
        )

    def to_record(self) -> dict[str, object]:
        """The resolved people as JSON-able data (ids, identifiers, linked values), so that
        a retry of the request erases exactly them (the pseudonyms follow from the salt)."""
        return {
            "ids": sorted(self.ids),
            "identifiers": {k: sorted(v) for k, v in sorted(self.identifiers.items())},
            "linked": {k: sorted(v) for k, v in sorted(self.linked.items())},
        }

    @classmethod
    def from_record(
        cls, record: Mapping[str, object], tables: Iterable[LakeTable], salt: str
    ) -> "Subject":
        subject = cls.of(tables)
        ids = record.get("ids") or []
        identifiers = record.get("identifiers") or {}
        linked = record.get("linked") or {}
        assert isinstance(ids, list) and isinstance(identifiers, dict)
        assert isinstance(linked, dict)
        subject.ids = set(map(str, ids))
        subject.identifiers = {str(k): set(map(str, v)) for k, v in identifiers.items()}
        subject.linked = {str(k): set(map(str, v)) for k, v in linked.items()}
        subject.matched = True
        subject.pseudonymise(salt)
        return subject

    def names(self, customer_id: str | None, email: str | None) -> bool:
        """Whether the request's identifier is one of this subject's."""
        if customer_id:
            return customer_id in self.ids
        return normalised(email or "") in self.all_identifiers()

    def redact(self, text: str) -> str:
        """`text` with every value of the subject (any case) replaced by [redacted]: for
        messages that quote what another program said (dbt, DuckDB)."""
        values = sorted(set(self.exact_values()), key=len, reverse=True)
        if not values or not text:
            return text
        pattern = re.compile("|".join(re.escape(v) for v in values), re.IGNORECASE)
        return pattern.sub("[redacted]", text)

    def needles(self) -> list[str]:
        """What a residue scan looks for: ids and the direct identifiers and their
        pseudonyms (linked values are found through the rows they key)."""
        return sorted(self.ids | self.all_identifiers() | self.all_pseudonyms())


@dataclass(frozen=True)
class _Reading:
    """One relation read for the subject's rows: its key, identifier (in clear, or as
    pseudonyms) and link columns, as present."""

    relation: str
    keys: tuple[str, ...]
    identifiers: Mapping[str, str]  # column in clear → kind
    pseudonyms: Mapping[str, str]  # pseudonym column → kind
    links: tuple[str, ...]

    @property
    def links_accounts(self) -> bool:
        """Whether its rows can name more ids or identifiers of the subject."""
        return bool(self.identifiers or self.pseudonyms)

    def read(self, connection: duckdb.DuckDBPyConnection, subject: Subject) -> None:
        """Add what the subject's rows of the relation hold: rows whose key is one of the
        subject's ids, or whose identifier is one of theirs (of the same kind)."""
        conditions: list[str] = []
        params: list = []
        if subject.ids:
            for column in self.keys:
                conditions.append(f"list_contains(?, cast({quote_identifier(column)} as varchar))")
                params.append(sorted(subject.ids))
        for column, kind in self.identifiers.items():
            if subject.identifiers.get(kind):
                conditions.append(
                    f"list_contains(?, lower(trim(cast({quote_identifier(column)} as varchar))))"
                )
                params.append(sorted(subject.identifiers[kind]))
        for column, kind in self.pseudonyms.items():
            if subject.pseudonyms.get(kind):
                conditions.append(f"list_contains(?, cast({quote_identifier(column)} as varchar))")
                params.append(sorted(subject.pseudonyms[kind]))
        if not conditions:
            return
        outputs = [
            *(f"cast({quote_identifier(c)} as varchar)" for c in self.keys),
            *(f"lower(trim(cast({quote_identifier(c)} as varchar)))" for c in self.identifiers),
            *(f"cast({quote_identifier(c)} as varchar)" for c in self.pseudonyms),
            *(f"cast({quote_identifier(c)} as varchar)" for c in self.links),
        ]
        rows = connection.execute(
            f"select distinct {', '.join(outputs)} from {self.relation} "
            f"where {' or '.join(conditions)}",
            params,
        ).fetchall()
        subject.matched = subject.matched or bool(rows)
        for row in rows:
            values = iter(row)
            for _ in self.keys:
                _add(subject.ids, next(values))
            for kind in self.identifiers.values():
                _add(subject.identifiers.setdefault(kind, set()), next(values))
            for kind in self.pseudonyms.values():
                _add(subject.pseudonyms.setdefault(kind, set()), next(values))
            for column in self.links:
                _add(subject.linked.setdefault(column, set()), next(values))


def _add(into: set[str], value: str | None) -> None:
    if value is not None and value.strip(" "):
        into.add(value)


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _lake_reading(
    connection: duckdb.DuckDBPyConnection,
    table: LakeTable,
    files: Mapping[Path, LakeFile],
) -> _Reading | None:
    """The table's Parquet files as one relation: those DuckDB reads as they are, and those
    whose text is not valid UTF-8 through Arrow with the bad bytes replaced (the folder
    names are never read as partitions: a folder `ingest_date=2026-13-45` is no date).
    Files that are not Parquet at all cannot be read for rows; the erasure scans their
    bytes for what is resolved here."""
    plain, repaired, columns = [], [], set()
    for path in lake_files(table.folder):
        found = files.get(path) or classify(path)
        if found.kind == PARQUET:
            plain.append(path)
            columns |= set(pq.read_schema(path).names)
        elif found.kind == REPAIRED:
            repaired.append(read_repaired(path)[1])
    parts = []
    if plain:
        listed = ", ".join(_sql_string(p) for p in plain)
        parts.append(
            f"select * from read_parquet([{listed}], union_by_name = true, "
            "hive_partitioning = false)"
        )
    if repaired:
        name = f"repaired_{table.system}_{table.name}"
        merged = pa.concat_tables(repaired, promote_options="permissive")
        connection.register(name, merged)
        columns |= set(merged.column_names)
        parts.append(f"select * from {quote_identifier(name)}")
    if not parts:
        return None
    relation = f"({' union all by name '.join(parts)}) as lake_rows"
    return _reading(relation, table, columns, {})


def _staging_reading(
    connection: duckdb.DuckDBPyConnection, table: LakeTable, catalog: str
) -> _Reading | None:
    if table.staging is None:
        return None
    columns = {
        row[0]
        for row in connection.execute(
            "select column_name from information_schema.columns "
            "where table_catalog = ? and table_schema = ? and table_name = ?",
            [catalog, table.staging.schema, table.staging.name],
        ).fetchall()
    }
    if not columns:
        return None
    relation = ".".join(
        quote_identifier(part) for part in (catalog, table.staging.schema, table.staging.name)
    )
    return _reading(relation, table, columns, table.staging.pseudonyms)


def _reading(
    relation: str, table: LakeTable, columns: set[str], pseudonyms: Mapping[str, str]
) -> _Reading | None:
    reading = _Reading(
        relation,
        keys=tuple(c for c in table.subject_keys if c in columns),
        identifiers={c: kind for c, kind in table.identifiers.items() if c in columns},
        pseudonyms={
            pseudonyms[c]: kind
            for c, kind in table.identifiers.items()
            if pseudonyms.get(c) in columns
        },
        links=tuple(c for c in table.links if c in columns),
    )
    if not (reading.keys or reading.identifiers or reading.pseudonyms):
        return None
    return reading


def resolve_subject(
    lake: Path,
    database: Path,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    salt: str | None = None,
    tables: Sequence[LakeTable] | None = None,
    files: Mapping[Path, LakeFile] | None = None,
) -> Subject:
    """Everything that identifies the person, from the raw lake and from staging (staging
    too, because retention may have removed the raw partitions of older days), through the
    lake tables the sources YAML declares (`tables`; by default the manifest's)."""
    if bool(customer_id) == bool(email):
        raise SubjectError("Name the customer by exactly one of customer_id or email.")
    salt = salt if salt is not None else pii_salt()
    if tables is None:
        tables = lake_tables(load_manifest(), lake)
    tables = [t for t in tables if t.identifies_subjects]
    subject = Subject.of(tables)
    if customer_id:
        subject.ids.add(check_subject_id(customer_id, id_patterns(tables)))
    else:
        subject.identifiers[EMAIL_KIND] = {check_email(email or "")}
    with duckdb.connect(config={"python_enable_replacements": False}) as connection:
        connection.execute(f"attach {_sql_string(database)} as wh (read_only)")
        readings = [
            reading
            for table in tables
            for reading in (
                _lake_reading(connection, table, files or {}),
                _staging_reading(connection, table, "wh"),
            )
            if reading is not None
        ]
        # Ids lead to identifiers and identifiers to ids (the accounts of an email address
        # belong to its owner) until nothing new turns up; then the values their rows own.
        while True:
            known = subject.size()
            subject.pseudonymise(salt)
            for reading in readings:
                if reading.links_accounts:
                    reading.read(connection, subject)
            if subject.size() == known:
                break
        for reading in readings:
            if not reading.links_accounts:
                reading.read(connection, subject)
    return subject


def sql_predicate(columns: Mapping[str, str], subject: Subject) -> tuple[str, list] | None:
    """A SQL condition true for the subject's rows of a relation with these columns
    (name → DuckDB type), with its parameters; None when no column can identify anyone."""
    clauses: list[str] = []
    params: list = []
    values = subject.exact_values()
    identifiers = sorted(subject.all_identifiers())
    for name, data_type in columns.items():
        quoted = quote_identifier(name)
        upper = data_type.upper()
        if name.lower() in RAW_RECORD_COLUMNS:
            for key, found in subject.key_values().items():
                if NAME.fullmatch(key):
                    clauses.append(f"list_contains(?, json_extract_string({quoted}, '$.{key}'))")
                    params.append(found)
            for key in sorted(subject.identifier_columns):
                if identifiers and NAME.fullmatch(key):
                    clauses.append(
                        f"list_contains(?, lower(trim(json_extract_string({quoted}, '$.{key}'))))"
                    )
                    params.append(identifiers)
        elif name.lower() in subject.identifier_columns and identifiers:
            clauses.append(f"list_contains(?, lower(trim(cast({quoted} as varchar))))")
            params.append(identifiers)
        elif upper in ("VARCHAR", "JSON") and values:
            clauses.append(f"list_contains(?, cast({quoted} as varchar))")
            params.append(values)
    if not clauses:
        return None
    return "(" + " or ".join(clauses) + ")", params


def arrow_mask(table: pa.Table, subject: Subject) -> pa.ChunkedArray | None:
    """True for the subject's rows of a Parquet file's table (same rules as sql_predicate
    for files: identifier columns after normalising, other text by value); None if none can."""
    mask = None
    values = pa.array(subject.exact_values(), type=pa.string())
    identifiers = pa.array(sorted(subject.all_identifiers()), type=pa.string())
    for name in table.column_names:
        column = table[name]
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if text and name.lower() in subject.identifier_columns and len(identifiers):
            normal = pc.utf8_lower(pc.utf8_trim(pc.cast(column, pa.string()), " "))
            found = pc.is_in(normal, value_set=identifiers)
        elif text and len(values):
            found = pc.is_in(pc.cast(column, pa.string()), value_set=values)
        else:
            continue
        found = pc.fill_null(found, False)
        mask = found if mask is None else pc.or_(mask, found)
    return mask


def subject_rows(table: pa.Table, subject: Subject) -> int:
    mask = arrow_mask(table, subject)
    return 0 if mask is None else int(pc.sum(mask).as_py() or 0)


def describe_needles(subject: Subject) -> dict[str, int]:
    """How many values of each kind the subject has (counts only: safe to log)."""
    return {
        "ids": len(subject.ids),
        **{f"{kind}s": len(values) for kind, values in sorted(subject.identifiers.items())},
        "pseudonyms": len(subject.all_pseudonyms()),
        **{column: len(values) for column, values in sorted(subject.linked.items())},
    }
