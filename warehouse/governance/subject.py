"""A data subject (one customer) and everything that identifies their records.

Erasure and its verification both work from a `Subject`: the customer ids, the emails and
phones they ever had, the keyed pseudonyms of those, their order ids, and the sessions and
device (anonymous) ids of their clickstream. Records are matched by column name wherever
they are (raw files, warehouse tables, exports), so a new table that carries a
`customer_id`, `order_id`, `session_id`, `anonymous_id`, `email`, `*_pseudonym` or a raw
record as JSON is covered without a change here.

A Subject holds personal data: it lives in memory for the length of an erasure and is
never logged, written or passed between processes.
"""

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.fingerprint import quote_identifier

CUSTOMER_ID = re.compile(r"C[0-9]{7}")  # the shop's customer ids (docs/sample_lake.md)
EMAIL = re.compile(r"[^@\s'\"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")

# The development salt of macros/guard_salt.sql; only target dev may use it.
DEFAULT_PII_SALT = "development-salt-not-secret"

# Identifier columns matched by exact value, and where each kind of value comes from.
KEY_COLUMNS = ("customer_id", "order_id", "session_id", "anonymous_id")
# Columns holding a whole raw record as JSON text (base views, the quarantine).
RAW_RECORD_COLUMNS = ("raw_record", "_raw_record")
LAKE_SOURCES = ("customers", "products", "orders", "order_items", "events")


class SubjectError(ValueError):
    """The request does not name a customer in a form that can be matched."""


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


def pseudonymise(value: str, salt: str) -> str:
    """The pseudonym dbt's `pseudonymise` macro computes: sha256(salt || lower(trim(value)))."""
    return hashlib.sha256((salt + value.strip(" ").lower()).encode()).hexdigest()


def normalised_email(value: str) -> str:
    return value.strip(" ").lower()


def check_customer_id(value: str) -> str:
    if not CUSTOMER_ID.fullmatch(value):
        raise SubjectError(
            "customer_id must be the shop's customer id, C followed by 7 digits (e.g. "
            f"C0000042); got a value of {len(value)} characters that is not."
        )
    return value


def check_email(value: str) -> str:
    if not EMAIL.fullmatch(value.strip(" ")):
        raise SubjectError(
            "email must be one plain email address (name@domain.tld, no quotes or spaces)."
        )
    return normalised_email(value)


@dataclass
class Subject:
    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    pseudonyms: set[str] = field(default_factory=set)
    order_ids: set[str] = field(default_factory=set)
    session_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)

    @property
    def found(self) -> bool:
        return bool(self.customer_ids)

    def key_values(self) -> dict[str, list[str]]:
        """Identifier column → the subject's values in it."""
        values = {
            "customer_id": self.customer_ids,
            "order_id": self.order_ids,
            "session_id": self.session_ids,
            "anonymous_id": self.anonymous_ids,
        }
        return {column: sorted(found) for column, found in values.items() if found}

    def exact_values(self) -> list[str]:
        """Every value that identifies the subject on its own, matched by equality in any
        text column (ids, emails as landed in lower case, phones, pseudonyms)."""
        return sorted(
            self.customer_ids
            | self.order_ids
            | self.session_ids
            | self.anonymous_ids
            | self.emails
            | self.phones
            | self.pseudonyms
        )

    def needles(self) -> list[str]:
        """What a residue scan looks for: ids and the direct identifiers and their
        pseudonyms (order, session and device ids are found through the rows they key)."""
        return sorted(self.customer_ids | self.emails | self.phones | self.pseudonyms)


def _lake_glob(lake: Path, source: str) -> str:
    return str(lake / source / "*" / "*.parquet").replace("'", "''")


def _lake_columns(connection: duckdb.DuckDBPyConnection, lake: Path, source: str) -> set[str]:
    if not any((lake / source).glob("*/*.parquet")):
        return set()
    rows = connection.execute(
        f"describe select * from read_parquet('{_lake_glob(lake, source)}', union_by_name = true)"
    ).fetchall()
    return {row[0] for row in rows}


def _values(connection: duckdb.DuckDBPyConnection, sql: str, params: list) -> set[str]:
    return {row[0] for row in connection.execute(sql, params).fetchall() if row[0] is not None}


def _table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    (count,) = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(count)


def resolve_subject(
    lake: Path,
    database: Path,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    salt: str | None = None,
) -> Subject:
    """Everything that identifies the customer, from the raw lake and the warehouse (the
    warehouse too, because retention may have removed the raw partitions of older days)."""
    if bool(customer_id) == bool(email):
        raise SubjectError("Name the customer by exactly one of customer_id or email.")
    salt = salt if salt is not None else pii_salt()
    subject = Subject()
    with duckdb.connect(config={"python_enable_replacements": False}) as connection:
        connection.execute(
            f"attach '{str(database).replace(chr(39), chr(39) * 2)}' as wh (read_only)"
        )
        has_staging = _table_exists(connection, "staging", "stg_shop__customers")
        customers_columns = _lake_columns(connection, lake, "customers")
        raw_customers = f"read_parquet('{_lake_glob(lake, 'customers')}', union_by_name = true)"

        if customer_id:
            subject.customer_ids.add(check_customer_id(customer_id))
        else:
            subject.emails.add(check_email(email or ""))
        # The accounts of an email address belong to its owner: follow ids to their emails
        # and emails to their accounts until nothing new turns up.
        while True:
            known = (len(subject.customer_ids), len(subject.emails))
            emails = sorted(subject.emails)
            if customers_columns and emails:
                subject.customer_ids |= _values(
                    connection,
                    f"select distinct cast(customer_id as varchar) from {raw_customers} "
                    "where list_contains(?, lower(trim(cast(email as varchar))))",
                    [emails],
                )
            if has_staging and emails:
                subject.customer_ids |= _values(
                    connection,
                    "select distinct customer_id from wh.staging.stg_shop__customers "
                    "where list_contains(?, email_pseudonym)",
                    [sorted(pseudonymise(value, salt) for value in emails)],
                )
            ids = sorted(subject.customer_ids)
            for column, into in (("email", subject.emails), ("phone", subject.phones)):
                if column in customers_columns:
                    into |= {
                        normalised_email(value) if column == "email" else value
                        for value in _values(
                            connection,
                            f"select distinct cast({column} as varchar) from {raw_customers} "
                            "where list_contains(?, cast(customer_id as varchar))",
                            [ids],
                        )
                    }
            if (len(subject.customer_ids), len(subject.emails)) == known:
                break
        subject.pseudonyms |= {pseudonymise(value, salt) for value in subject.emails}
        subject.pseudonyms |= {pseudonymise(value, salt) for value in subject.phones}
        if has_staging:
            for column in ("email_pseudonym", "phone_pseudonym"):
                subject.pseudonyms |= _values(
                    connection,
                    f"select distinct {column} from wh.staging.stg_shop__customers "
                    "where list_contains(?, customer_id)",
                    [ids],
                )

        # Orders, sessions and device ids: from the raw lake and from staging and facts.
        lookups = [
            ("orders", "order_id", subject.order_ids, "customer_id"),
            ("events", "session_id", subject.session_ids, "customer_id"),
            ("events", "anonymous_id", subject.anonymous_ids, "customer_id"),
        ]
        for source, column, into, key in lookups:
            if column in _lake_columns(connection, lake, source):
                into |= _values(
                    connection,
                    f"select distinct cast({column} as varchar) from read_parquet("
                    f"'{_lake_glob(lake, source)}', union_by_name = true) "
                    f"where list_contains(?, cast({key} as varchar))",
                    [ids],
                )
        for schema, table, column, into in (
            ("staging", "stg_shop__orders", "order_id", subject.order_ids),
            ("marts", "fct_orders", "order_id", subject.order_ids),
            ("staging", "stg_shop__events", "session_id", subject.session_ids),
            ("staging", "stg_shop__events", "anonymous_id", subject.anonymous_ids),
        ):
            if _table_exists(connection, schema, table):
                into |= _values(
                    connection,
                    f"select distinct {column} from wh.{schema}.{table} "
                    "where list_contains(?, customer_id)",
                    [ids],
                )
    return subject


def sql_predicate(columns: Mapping[str, str], subject: Subject) -> tuple[str, list] | None:
    """A SQL condition true for the subject's rows of a relation with these columns
    (name → DuckDB type), with its parameters; None when no column can identify anyone."""
    clauses: list[str] = []
    params: list = []
    values = subject.exact_values()
    for name, data_type in columns.items():
        quoted = quote_identifier(name)
        upper = data_type.upper()
        if name.lower() in RAW_RECORD_COLUMNS:
            for key, found in subject.key_values().items():
                clauses.append(f"list_contains(?, json_extract_string({quoted}, '$.{key}'))")
                params.append(found)
            if subject.emails:
                clauses.append(
                    f"list_contains(?, lower(trim(json_extract_string({quoted}, '$.email'))))"
                )
                params.append(sorted(subject.emails))
        elif name.lower() == "email" and subject.emails:
            clauses.append(f"list_contains(?, lower(trim(cast({quoted} as varchar))))")
            params.append(sorted(subject.emails))
        elif upper in ("VARCHAR", "JSON") and values:
            clauses.append(f"list_contains(?, cast({quoted} as varchar))")
            params.append(values)
    if not clauses:
        return None
    return "(" + " or ".join(clauses) + ")", params


def arrow_mask(table: pa.Table, subject: Subject) -> pa.ChunkedArray | None:
    """True for the subject's rows of a Parquet file's table (same rules as sql_predicate
    for files: identifier columns by value, email after normalising); None if none can."""
    mask = None
    values = pa.array(subject.exact_values(), type=pa.string())
    for name in table.column_names:
        column = table[name]
        if name.lower() == "email" and subject.emails:
            text = pc.utf8_lower(pc.utf8_trim(pc.cast(column, pa.string()), " "))
            found = pc.is_in(text, value_set=pa.array(sorted(subject.emails), type=pa.string()))
        elif (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and len(
            values
        ):
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
        "customer_ids": len(subject.customer_ids),
        "emails": len(subject.emails),
        "phones": len(subject.phones),
        "pseudonyms": len(subject.pseudonyms),
        "orders": len(subject.order_ids),
        "sessions": len(subject.session_ids),
        "device_ids": len(subject.anonymous_ids),
    }
