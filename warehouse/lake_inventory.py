"""Which landed files the warehouse can read, and why the others cannot be.

Every file under a source's folder of the lake (`<lake>/<source>/...`, any name, any depth)
is landed. A file is *readable* when all of these hold, in this order (the first that fails
is its error, and its `rule`):

1. `malformed_partition_folder`: it sits in a partition folder named
   `ingest_date=YYYY-MM-DD` with a real date, directly under the source's folder;
2. `partition_date_in_the_future`: that date is no later than the run's UTC date plus the
   tolerance (dbt var `future_partition_tolerance_days`); checked again on every run, so the
   file is read once its day has come;
3. `not_parquet`: its name ends in `.parquet`;
4. `empty_file`: it is not empty;
5. `not_a_whole_parquet_file`: it starts and ends with Parquet's magic bytes `PAR1`;
6. `unreadable_footer`: its footer (schema) can be read, by pyarrow and by DuckDB;
7. `duplicate_column`: no column name appears twice, exactly or differing only in case;
8. `column_named_like_a_reader_column`: no column is named like one the reader adds
   (`ingest_date`, `filename`, `file_row_number`);
9. `column_name_case_differs_from_contract`: no column is named like a declared one in
   another case (`Customer_ID` for `customer_id`);
10. `missing_required_columns`: it has the source's required columns (its natural key);
11. `column_type_differs_from_contract`: each declared column (sources YAML `data_type`)
    is of its declared kind (text, integer, number, boolean, date, timestamp, ...), as
    DuckDB reads it. A whole number is a number too. A non-key column may come as text
    where the contract says otherwise (a feed whose type drifted): its values are parsed
    by rule 13. A key column (natural key, required, subject_key, subject_link) never;
12. with `decode=True`, DuckDB reads every column of every row group as the base models
    do (each row as JSON too): `invalid_utf8` (text that is not UTF-8, which DuckDB refuses
    in the whole file) or `unreadable_column_data` (a corrupt page header or data page, a
    bad dictionary page, a compression codec that does not match the data, a row group
    shorter than its footer says, ...), naming the column where one alone fails;
13. with `decode=True`, `value_does_not_cast`: every value of a declared column casts to
    its declared type, as the base model's cast will (a value out of range, text that is
    no date), except in the contract's `safe_cast_columns`, which the base model casts
    with safe_cast, and in timestamp columns, which it lands through `utc_timestamp`: both
    row-quarantine what they cannot read as `unparseable_value`.

Anything else is *quarantined*: the base models never read it, `audit.quarantined_files`
lists it with its rule and error, and `audit.file_reconciliation` proves files landed =
read + quarantined. Rows of readable files that are wrong (bad values, oversized records)
are row-quarantined by the base models instead.

An error names the file's folder, the column, the row (from 0, where known) and the rule,
never a value: the exceptions of pyarrow and DuckDB quote values (an email address that is
not UTF-8, a text that does not cast), so none of their text is passed on.

dbt calls `inspect_file` through the DuckDB function `lake_file_inspection` registered by
warehouse/duckdb_plugin.py; the function is plain Python so other tools (the
benchmark) can replay the same decision without dbt: `inventory_source(lake, source)`.

Reading every value of every file is most of the inventory's cost, and a day's run lands a
handful of files among hundreds. So a file's previous inspection (`known`) is reused while
its path, size and modification time are unchanged and it was inspected under the same
checks and contract (`checks`, a fingerprint of both): a file rewritten, truncated or
re-delivered, or a contract or rule changed, is inspected again. The date rule (2) is never
taken from a previous inspection.
"""

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.lake_sources import LakeContractError, LakeSource, lake_source_of_node

READABLE = "readable"
QUARANTINED = "quarantined"
PARQUET_MAGIC = b"PAR1"

# A partition may be dated this many days after the run's UTC date (a feed whose day
# starts before UTC's); dbt's var future_partition_tolerance_days, whose default this is.
FUTURE_PARTITION_TOLERANCE_DAYS = 1
# Bumped when a rule changes: every file is inspected again by the next run.
CHECKS_VERSION = 3
# The columns read_parquet adds (hive_partitioning, filename, file_row_number): a file's
# own column of that name would be read twice.
READER_COLUMNS = ("ingest_date", "filename", "file_row_number")

MALFORMED_PARTITION_FOLDER = "malformed_partition_folder"
PARTITION_DATE_IN_THE_FUTURE = "partition_date_in_the_future"
NOT_PARQUET = "not_parquet"
EMPTY_FILE = "empty_file"
NOT_A_WHOLE_PARQUET_FILE = "not_a_whole_parquet_file"
UNREADABLE_FOOTER = "unreadable_footer"
DUPLICATE_COLUMN = "duplicate_column"
COLUMN_NAMED_LIKE_A_READER_COLUMN = "column_named_like_a_reader_column"
COLUMN_NAME_CASE_DIFFERS = "column_name_case_differs_from_contract"
MISSING_REQUIRED_COLUMNS = "missing_required_columns"
COLUMN_TYPE_DIFFERS = "column_type_differs_from_contract"
INVALID_UTF8 = "invalid_utf8"
UNREADABLE_COLUMN_DATA = "unreadable_column_data"
VALUE_DOES_NOT_CAST = "value_does_not_cast"
INSPECTION_FAILED = "inspection_failed"


@dataclass(frozen=True)
class FileInspection:
    """What the inventory records about one landed file."""

    path: str
    partition_folder: str
    ingest_date: str | None
    size_bytes: int
    status: str
    error: str | None
    columns: list[str] = field(default_factory=list)
    modified_us: int = 0  # the file's modification time, microseconds since the epoch
    rule: str | None = None  # the rule a quarantined file broke (the list above)
    checks: str = ""  # the checks and contract it was inspected under (checks_fingerprint)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> "FileInspection":
        return cls(**json.loads(text))


def partition_folder(day: date, column: str = "ingest_date") -> str:
    """The name of the partition folder of a landing day: `ingest_date=YYYY-MM-DD`."""
    return f"{column}={day.isoformat()}"


def partition_date(folder: str, column: str = "ingest_date") -> str | None:
    """The day of a partition folder named `<column>=YYYY-MM-DD` (by default the lake's
    `ingest_date`), or None: the one rule the inventory, the lake sensor and governance
    read partition folders by."""
    match = re.fullmatch(rf"{re.escape(column)}=(\d{{4}}-\d{{2}}-\d{{2}})", folder)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return None


def latest_partition_date(
    today: date | None = None, tolerance_days: int = FUTURE_PARTITION_TOLERANCE_DAYS
) -> date:
    """The latest partition date a run reads: `today` (by default the UTC date now) plus the
    tolerance. dbt passes the UTC date its run started (macros/lake_files.sql)."""
    return (today or datetime.now(UTC).date()) + timedelta(days=tolerance_days)


def checks_fingerprint(source: LakeSource | None, required_columns: Sequence[str] = ()) -> str:
    """What a reused inspection must have been inspected under: this module's rules and
    the source's contract."""
    contract = {
        "version": CHECKS_VERSION,
        "required": sorted(set(required_columns) | set(source.required_columns if source else ())),
        "types": sorted(source.column_types) if source else [],
        "keys": sorted(source.key_columns) if source else [],
        "safe_cast": sorted(source.safe_cast_columns) if source else [],
    }
    text = json.dumps(contract, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _has_parquet_magic(path: Path, size: int) -> bool:
    if size < 2 * len(PARQUET_MAGIC):
        return False
    with path.open("rb") as handle:
        head = handle.read(len(PARQUET_MAGIC))
        handle.seek(size - len(PARQUET_MAGIC))
        tail = handle.read(len(PARQUET_MAGIC))
    return head == PARQUET_MAGIC and tail == PARQUET_MAGIC


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- types as DuckDB reads them ------------------------------------------------------------

_KINDS = (
    ("text", r"varchar|string|text|char|bpchar|json|uuid"),
    ("integer", r"(u?(tinyint|smallint|integer|int|bigint|hugeint))|int[1248]|long|short"),
    ("number", r"double|float[48]?|real|decimal(\(.*\))?|numeric(\(.*\))?"),
    ("boolean", r"boolean|bool|logical"),
    ("date", r"date"),
    ("timestamp", r"timestamp(_s|_ms|_ns|tz)?( with time zone)?|datetime"),
    ("time", r"time(tz)?( with time zone)?"),
    ("blob", r"blob|bytea|binary|varbinary"),
    ("interval", r"interval"),
)


def type_kind(duckdb_type: str) -> str:
    """The kind of a DuckDB type: text, integer, number, boolean, date, timestamp, time,
    blob, interval, or the type itself (nested types match only themselves)."""
    normal = re.sub(r"\s+", " ", duckdb_type.strip().lower())
    for kind, pattern in _KINDS:
        if re.fullmatch(pattern, normal):
            return kind
    return normal


def kind_fits(landed: str, declared: str) -> bool:
    """Whether a column DuckDB reads as `landed` is what the contract's `declared` type
    says: the same kind, or a whole number where a number is declared."""
    landed_kind, declared_kind = type_kind(landed), type_kind(declared)
    return landed_kind == declared_kind or (landed_kind, declared_kind) == ("integer", "number")


# --- the reader -----------------------------------------------------------------------------


class _Scanner:
    """One in-memory DuckDB per process for reading files (opening one per file is slow),
    replaced after an error, which can leave a connection unusable."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            self._connection = duckdb.connect()
            # The base models' sessions are UTC (profiles): timestamps become JSON alike.
            self._connection.execute("set TimeZone = 'UTC'")
        return self._connection

    def reset(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(duckdb.Error):
                self._connection.close()
        self._connection = None


_SCANNER = _Scanner()


def _scan(file: Path, file_row_number: bool = False) -> str:
    options = ", file_row_number = true" if file_row_number else ""
    return f"read_parquet({_quote(str(file))}, hive_partitioning = false{options})"


@lru_cache(maxsize=256)
def _check_declared_types(source: LakeSource) -> None:
    """Refuse a data_type DuckDB does not know before any file is judged by it."""
    for name, declared in source.column_types:
        try:
            _SCANNER.connection().execute(f"select cast(null as {declared})").fetchall()
        except duckdb.Error:
            _SCANNER.reset()
            raise LakeContractError(
                f"source {source.label}: column {name}: data_type {declared!r} is not a DuckDB "
                "type (sources YAML; docs/add-a-source.md)"
            ) from None


def _duckdb_columns(file: Path) -> list[tuple[str, str]]:
    """The file's columns and their types as DuckDB reads them (from the footer)."""
    rows = _SCANNER.connection().execute(f"describe select * from {_scan(file)}").fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def _first_invalid_utf8(file: Path, column: str) -> int | None:
    """The row (from 0) of the column's first value that is not UTF-8, or None. pyarrow
    reads text without checking it; a cast to text checks it, halving the rows each time."""
    values = pq.read_table(file, columns=[column]).column(0).combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    values = values.view(pa.binary() if pa.types.is_string(values.type) else pa.large_binary())
    target = pa.string() if pa.types.is_binary(values.type) else pa.large_string()

    def valid(start: int, length: int) -> bool:
        try:
            values.slice(start, length).cast(target)
        except pa.ArrowInvalid:
            return False
        return True

    if valid(0, len(values)):
        return None
    start, end = 0, len(values)  # the first invalid value is in [start, end)
    while end - start > 1:
        middle = (start + end) // 2
        if valid(start, middle - start):
            start = middle
        else:
            end = middle
    return start


def _read_failure(file: Path, columns: list[str]) -> tuple[str, str]:
    """The rule and error of a file DuckDB failed to read: the columns that fail on their
    own, and for text that is not UTF-8, the row. Never the exception's text."""
    failing = []
    for name in columns:
        try:
            _SCANNER.connection().execute(
                f"select bit_xor(hash({_identifier(name)})) from {_scan(file)}"
            ).fetchall()
        except duckdb.Error:
            _SCANNER.reset()
            failing.append(name)
    for name in failing:
        try:
            row = _first_invalid_utf8(file, name)
        except Exception:  # pyarrow cannot read it either: not a text problem
            row = None
        if row is not None:
            return INVALID_UTF8, (
                f"column {name}, row {row} (from 0): text that is not valid UTF-8, which DuckDB "
                "refuses in the whole file (rule invalid_utf8): ask the feed to resend it "
                "encoded as UTF-8"
            )
    where = f"column {', '.join(failing)}" if failing else "its rows as the base models read them"
    return UNREADABLE_COLUMN_DATA, (
        f"DuckDB cannot read {where} (rule unreadable_column_data: a corrupt page header or "
        "data page, a bad dictionary page, a compression codec that does not match the data, "
        "or a row group shorter than its footer says): ask the feed to resend the file"
    )


def _values_that_do_not_cast(
    file: Path, checked: list[tuple[str, str]]
) -> tuple[str, str, int, int] | None:
    """Read every column of every row group as the base models do (each row as JSON too)
    and cast each checked (column, declared type): the first column with values that do
    not cast, as (column, type, first row from 0, how many), or None."""
    counts = []
    for name, declared in checked:
        column = _identifier(name)
        failed = f"{column} is not null and try_cast({column} as {declared}) is null"
        counts.append(f"count(case when {failed} then 1 end)")
        counts.append(f"min(case when {failed} then file_row_number end)")
    selected = ", ".join(["max(length(cast(to_json(landed) as varchar)))", *counts])
    row = (
        _SCANNER.connection()
        .execute(f"select {selected} from {_scan(file, file_row_number=True)} as landed")
        .fetchone()
    )
    assert row is not None
    for index, (name, declared) in enumerate(checked):
        failures, first = row[1 + 2 * index], row[2 + 2 * index]
        if failures:
            return name, declared, int(first), int(failures)
    return None


# --- the rules ------------------------------------------------------------------------------


def _schema_problem(
    names: list[str], source: LakeSource | None, required_columns: Sequence[str]
) -> tuple[str, str] | None:
    """Rules 7 to 10, on the footer's column names."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.get(name.lower())
        if other is not None:
            how = "twice" if other == name else f"twice, as {other} and {name}"
            return DUPLICATE_COLUMN, (
                f"column {name} appears {how} (rule duplicate_column): a reader would take "
                "one and drop the other; ask the feed to resend the file with each column once"
            )
        seen[name.lower()] = name
    for name in names:
        if name.lower() in READER_COLUMNS:
            return COLUMN_NAMED_LIKE_A_READER_COLUMN, (
                f"the file has a column {name}, a column the reader adds from the folder and "
                "file (rule column_named_like_a_reader_column): ask the feed to rename or drop it"
            )
    declared = [column for column, _ in source.column_types] if source else []
    declared += [*required_columns, *(source.required_columns if source else ())]
    by_lower = {column.lower(): column for column in declared}
    for name in names:
        expected = by_lower.get(name.lower())
        if expected is not None and expected != name:
            return COLUMN_NAME_CASE_DIFFERS, (
                f"column {name} is declared as {expected} (rule "
                "column_name_case_differs_from_contract): ask the feed to use the declared name"
            )
    required = [*required_columns, *(source.required_columns if source else ())]
    required = list(dict.fromkeys(required))
    missing = [name for name in required if name not in names]
    if missing:
        return MISSING_REQUIRED_COLUMNS, (
            f"schema lacks the required column(s) {', '.join(missing)} (it has "
            f"{', '.join(names) or 'none'}; rule missing_required_columns): a file of another "
            "feed or format"
        )
    return None


def _type_problem(
    landed: list[tuple[str, str]], source: LakeSource | None
) -> tuple[str, str] | None:
    """Rule 11."""
    if source is None:
        return None
    types = dict(landed)
    for name, declared in source.column_types:
        if name in READER_COLUMNS or name not in types:
            continue
        found = types[name]
        if kind_fits(found, declared):
            continue
        is_key = name in source.key_columns
        if type_kind(found) == "text" and not is_key:
            continue  # parsed: every value must cast (rule 13) or is row-quarantined
        what = "key column" if is_key else "column"
        return COLUMN_TYPE_DIFFERS, (
            f"{what} {name} is {found.lower()} in the file, declared {declared} (rule "
            "column_type_differs_from_contract): it is not read as another type; ask the feed "
            "to resend it as declared, or change data_type in the sources YAML if the feed "
            "changed for good"
        )
    return None


def inspect_file(
    path: str | Path,
    source_dir: str | Path,
    required_columns: Sequence[str] = (),
    decode: bool = True,
    known: FileInspection | None = None,
    *,
    source: LakeSource | None = None,
    latest_date: date | str | None = None,
) -> FileInspection:
    """Inspect one landed file of the source whose folder is `source_dir`, against its
    contract (`source`, else only `required_columns`); `known` is its previous inspection,
    returned as it is while the file, the checks and the contract are unchanged. A partition
    dated after `latest_date` (see latest_partition_date; None: no such rule) is held."""
    file = Path(path)
    relative = file.relative_to(source_dir) if file.is_relative_to(source_dir) else file
    folder = "/".join(relative.parts[:-1])
    ingest_date = partition_date(folder)
    stat = file.stat() if file.exists() else None
    size = stat.st_size if stat else 0
    modified_us = stat.st_mtime_ns // 1000 if stat else 0
    checks = checks_fingerprint(source, required_columns)

    def result(
        rule: str | None, error: str | None, columns: list[str] | None = None
    ) -> FileInspection:
        return FileInspection(
            path=str(path),
            partition_folder=folder,
            ingest_date=ingest_date,
            size_bytes=size,
            status=READABLE if error is None else QUARANTINED,
            error=error,
            columns=columns or [],
            modified_us=modified_us,
            rule=rule,
            checks=checks,
        )

    if ingest_date is None:
        return result(
            MALFORMED_PARTITION_FOLDER,
            f"partition folder '{folder}' is not ingest_date=YYYY-MM-DD (a real date) directly "
            "under the source folder (rule malformed_partition_folder): move the file into "
            "its day's folder",
        )
    latest = date.fromisoformat(latest_date) if isinstance(latest_date, str) else latest_date
    if latest is not None and date.fromisoformat(ingest_date) > latest:
        return result(
            PARTITION_DATE_IN_THE_FUTURE,
            f"partition folder '{folder}' is dated after {latest.isoformat()}, the run's UTC "
            "date plus var future_partition_tolerance_days (rule "
            "partition_date_in_the_future): held, and read by the first run on or after its "
            "day; if the date is wrong, move the file into its day's folder",
        )
    if (
        known is not None
        and known.path == str(path)
        and known.size_bytes == size
        and known.modified_us == modified_us
        and known.checks == checks
        and known.rule != PARTITION_DATE_IN_THE_FUTURE
    ):
        return known
    try:
        rule, error, columns = _inspect_contents(file, size, source, required_columns, decode)
    except LakeContractError:
        raise  # the contract is wrong, not the file: the run stops, naming the YAML to fix
    except Exception as failure:  # never the text: it may quote a value
        rule, error, columns = (
            INSPECTION_FAILED,
            f"the inspection failed ({type(failure).__name__}; rule inspection_failed): the "
            "file is not read; ask the feed to resend it",
            None,
        )
    return result(rule, error, columns)


def _inspect_contents(
    file: Path,
    size: int,
    source: LakeSource | None,
    required_columns: Sequence[str],
    decode: bool,
) -> tuple[str | None, str | None, list[str] | None]:
    """Rules 3 to 13: (rule, error, columns), rule and error None when readable."""
    if file.suffix != ".parquet":
        return (
            NOT_PARQUET,
            f"not a Parquet file (name ends '{file.suffix or file.name}'; rule not_parquet): "
            "the lake takes .parquet only; convert it and land it again",
            None,
        )
    if size == 0:
        return (
            EMPTY_FILE,
            "empty file (0 bytes): the delivery was cut off (rule empty_file); ask the feed to "
            "resend it",
            None,
        )
    if not _has_parquet_magic(file, size):
        return (
            NOT_A_WHOLE_PARQUET_FILE,
            "not a whole Parquet file (no PAR1 magic at its start and end: truncated or another "
            "format; rule not_a_whole_parquet_file): ask the feed to resend it",
            None,
        )
    footer = (
        UNREADABLE_FOOTER,
        "Parquet footer unreadable (rule unreadable_footer): the file is damaged; ask the "
        "feed to resend it",
        None,
    )
    try:
        schema = pq.read_schema(file)
    except Exception:  # pyarrow raises several types for a broken footer
        return footer
    names = list(schema.names)
    problem = _schema_problem(names, source, required_columns)
    if problem is not None:
        return (*problem, None)
    with _SCANNER.lock:
        if source is not None:
            _check_declared_types(source)
        try:
            landed = _duckdb_columns(file)
        except duckdb.Error:
            _SCANNER.reset()
            return footer
        problem = _type_problem(landed, source)
        if problem is not None:
            return (*problem, None)
        if decode:
            types = dict(landed)
            safe = set(source.safe_cast_columns) if source else set()
            checked = [
                (name, declared)
                for name, declared in (source.column_types if source else ())
                if name in types
                and name not in READER_COLUMNS
                and name not in safe
                # the base models land timestamps through utc_timestamp, which
                # row-quarantines what it cannot place (unparseable_value)
                and type_kind(declared) != "timestamp"
            ]
            try:
                failed = _values_that_do_not_cast(file, checked)
            except duckdb.Error:
                _SCANNER.reset()
                return (*_read_failure(file, [name for name, _ in landed]), None)
            if failed is not None:
                name, declared, first, count = failed
                more = f" and {count - 1} more" if count > 1 else ""
                return (
                    VALUE_DOES_NOT_CAST,
                    f"column {name}, row {first} (from 0){more}: a value that does not cast to "
                    f"its declared type {declared} (rule value_does_not_cast), which the base "
                    "model's cast would fail on: ask the feed to resend the file",
                    None,
                )
    columns = [*names, "ingest_date"]  # the Hive partition column readers add
    return None, None, columns


def landed_files(lake_dir: str | Path, source: LakeSource) -> list[Path]:
    """Every file under the source's folder, at any depth, sorted."""
    root = source.folder(lake_dir)
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


def inventory_source(
    lake_dir: str | Path,
    source: LakeSource,
    decode: bool = True,
    latest_date: date | None = None,
) -> list[FileInspection]:
    """Inspect every landed file of `source` (warehouse.lake_sources), as dbt's
    lake_file_inventory does, against its contract. `latest_date`: the latest partition
    date read, by default latest_partition_date() (today, UTC, plus the default tolerance)."""
    root = source.folder(lake_dir)
    latest = latest_date or latest_partition_date()
    return [
        inspect_file(path, root, decode=decode, source=source, latest_date=latest)
        for path in landed_files(lake_dir, source)
    ]


def readable_paths(inspections: Sequence[FileInspection]) -> list[str]:
    """The files a reader may pass to read_parquet([...]), sorted."""
    return sorted(item.path for item in inspections if item.status == READABLE)


@lru_cache(maxsize=64)
def _source_of_json(text: str) -> LakeSource:
    return lake_source_of_node(json.loads(text))


def inspection_json(
    path: str,
    source_dir: str,
    source_node: str,
    latest_date: str | None,
    decode: bool,
    known: str | None = None,
) -> str:
    """`inspect_file` as JSON text: the body of the DuckDB function `lake_file_inspection`.
    `source_node` is the source's node of dbt's graph as JSON (the part lake_sources reads:
    macros/lake_files.sql, lake_inspection_contract), `latest_date` the latest partition
    date read (YYYY-MM-DD), `known` the file's previous inspection as JSON, or null."""
    previous = FileInspection.from_json(known) if known else None
    source = _source_of_json(source_node)
    return inspect_file(
        path, source_dir, (), decode, previous, source=source, latest_date=latest_date
    ).to_json()


INVENTORY_TABLE = "audit.lake_file_inventory"


def unlisted_files(
    database: str | Path, lake_dir: str | Path, sources: Sequence[LakeSource]
) -> list[str]:
    """Landed files the warehouse's inventory (and so the base_ views' file lists) does not
    know yet: a run of the partitioned models alone must refresh those first, or it would
    not see them. Every landed file when the warehouse has no inventory yet."""
    # Compared relative to the lake (<source folder>/<partition>/<name>): dbt may have been
    # given the lake as a relative path, this process as an absolute one.
    root = Path(lake_dir)
    landed = {
        path.relative_to(root).as_posix()
        for source in sources
        for path in landed_files(root, source)
    }
    folders = {(source.system, source.table): source.folder_in_lake for source in sources}
    if not Path(database).is_file():
        return sorted(landed)
    with duckdb.connect(str(database), read_only=True) as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'audit' and table_name = 'lake_file_inventory'"
        ).fetchone()
        if not exists or exists[0] == 0:
            return sorted(landed)
        rows = connection.execute(
            f"select source_system, source_name, partition_folder, file_path from {INVENTORY_TABLE}"
        ).fetchall()
    listed = {
        "/".join(part for part in (folders.get((system, name)), folder, Path(path).name) if part)
        for system, name, folder, path in rows
    }
    return sorted(landed - listed)
