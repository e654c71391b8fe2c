"""Which landed files the warehouse can read, and why the others cannot be.

Every file under a source's folder of the lake (`<lake>/<source>/...`, any name, any depth)
is landed. A file is *readable* when all of these hold, in this order (the first that fails
is its error):

1. it sits in a partition folder named `ingest_date=YYYY-MM-DD` with a real date, directly
   under the source's folder;
2. its name ends in `.parquet`;
3. it is not empty;
4. it starts and ends with Parquet's magic bytes `PAR1` (a truncated file does not end so);
5. its footer (schema) can be read;
6. it has the source's required columns (its natural key: a row without them is no row);
7. with `decode=True`, every text value is valid UTF-8 (DuckDB refuses to read the file
   otherwise: one bad value makes the whole file unreadable to it).

Anything else is *quarantined*: the base models never read it, `audit.quarantined_files`
lists it with its error, and `audit.file_reconciliation` proves files landed = read +
quarantined. Rows of readable files that are wrong (bad values, oversized records) are
row-quarantined by the base models instead.

dbt calls `inspect_file` through the DuckDB function `lake_file_inspection` registered by
warehouse/duckdb_plugin.py; the function is plain Python so other tools (the
benchmark) can replay the same decision without dbt: `inventory_source(lake, source)`.

Decoding every text value of every file is most of the inventory's cost, and a day's run
lands a handful of files among hundreds. So a file's previous inspection (`known`) is
reused while its path, size and modification time are unchanged: a file rewritten,
truncated or re-delivered is inspected again. A change to these checks needs one
`dbt build --full-refresh --select lake_file_inventory` to re-inspect every file.
"""

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.lake_sources import LakeSource

READABLE = "readable"
QUARANTINED = "quarantined"
PARQUET_MAGIC = b"PAR1"


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


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def inspect_file(
    path: str | Path,
    source_dir: str | Path,
    required_columns: Sequence[str] = (),
    decode: bool = True,
    known: FileInspection | None = None,
) -> FileInspection:
    """Inspect one landed file of the source whose folder is `source_dir`; `known` is its
    previous inspection, returned as it is while the file is unchanged."""
    file = Path(path)
    relative = file.relative_to(source_dir) if file.is_relative_to(source_dir) else file
    folder = "/".join(relative.parts[:-1])
    ingest_date = partition_date(folder)
    stat = file.stat() if file.exists() else None
    size = stat.st_size if stat else 0
    modified_us = stat.st_mtime_ns // 1000 if stat else 0
    if (
        known is not None
        and known.path == str(path)
        and known.size_bytes == size
        and known.modified_us == modified_us
    ):
        return known

    def result(error: str | None, columns: list[str] | None = None) -> FileInspection:
        return FileInspection(
            path=str(path),
            partition_folder=folder,
            ingest_date=ingest_date,
            size_bytes=size,
            status=READABLE if error is None else QUARANTINED,
            error=error,
            columns=columns or [],
            modified_us=modified_us,
        )

    if ingest_date is None:
        return result(
            f"partition folder '{folder}' is not ingest_date=YYYY-MM-DD (a real date) directly "
            "under the source folder: move the file into its day's folder"
        )
    if file.suffix != ".parquet":
        return result(
            f"not a Parquet file (name ends '{file.suffix or file.name}'): the lake takes "
            ".parquet only; convert it and land it again"
        )
    if size == 0:
        return result("empty file (0 bytes): the delivery was cut off; ask the feed to resend it")
    if not _has_parquet_magic(file, size):
        return result(
            "not a whole Parquet file (no PAR1 magic at its start and end: truncated or another "
            "format): ask the feed to resend it"
        )
    try:
        schema = pq.read_schema(file)
    except Exception as error:  # pyarrow raises several types for a broken footer
        return result(f"Parquet footer unreadable: {_first_line(error)}")
    columns = list(schema.names)
    if ingest_date is not None and "ingest_date" not in columns:
        columns.append("ingest_date")  # the Hive partition column readers add
    missing = [name for name in required_columns if name not in columns]
    if missing:
        return result(
            f"schema lacks the required column(s) {', '.join(missing)} (it has "
            f"{', '.join(schema.names) or 'none'}): a file of another feed or format"
        )
    if decode:
        text_columns = [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        checks = ", ".join(f"sum(length({_identifier(n)}))" for n in text_columns) or "count(*)"
        try:
            with _SCANNER_LOCK:
                scan = f"read_parquet({_quote(str(file))}, hive_partitioning = false)"
                _scanner().execute(f"select {checks} from {scan}").fetchall()
        except duckdb.Error as error:
            return result(f"values cannot be decoded: {_first_line(error)}")
    return result(None, columns)


_SCANNER_LOCK = threading.Lock()


@cache
def _scanner() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for the decode check (opening one per file is slow)."""
    return duckdb.connect()


def landed_files(lake_dir: str | Path, source: LakeSource) -> list[Path]:
    """Every file under the source's folder, at any depth, sorted."""
    root = source.folder(lake_dir)
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


def inventory_source(
    lake_dir: str | Path, source: LakeSource, decode: bool = True
) -> list[FileInspection]:
    """Inspect every landed file of `source` (warehouse.lake_sources), as dbt's
    lake_file_inventory does, with the required columns of its contract."""
    root = source.folder(lake_dir)
    return [
        inspect_file(path, root, source.required_columns, decode)
        for path in landed_files(lake_dir, source)
    ]


def readable_paths(inspections: Sequence[FileInspection]) -> list[str]:
    """The files a reader may pass to read_parquet([...]), sorted."""
    return sorted(item.path for item in inspections if item.status == READABLE)


def inspection_json(
    path: str,
    source_dir: str,
    required_columns: list[str] | None,
    decode: bool,
    known: str | None = None,
) -> str:
    """`inspect_file` as JSON text: the body of the DuckDB function `lake_file_inspection`;
    `known` is the file's previous inspection as JSON, or null."""
    previous = FileInspection.from_json(known) if known else None
    return inspect_file(path, source_dir, required_columns or (), decode, previous).to_json()


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
