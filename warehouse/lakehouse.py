"""Publication of ML-ready warehouse tables to a DuckLake catalog.

The warehouse stays a DuckDB file (dbt snapshots do not run on a DuckLake target in
dbt-duckdb); publishing copies chosen tables into a DuckLake catalog, whose metadata is a
DuckDB file and whose data is Parquet, in one transaction. Every publish is thus one
DuckLake snapshot: its id, with `AT (VERSION => id)`, reads back exactly what was published,
and the content fingerprint of each table (warehouse.fingerprint) says what that was.

Publishing is create-or-replace, so every call makes a new snapshot with new Parquet
files, even when nothing changed: the fingerprints are then equal to the previous ones,
which is how a registry tells a re-publication from new data. Tables not named in a call
keep their last published version. Older snapshots stay readable until someone expires
them (not done here).

The DuckLake extension comes from the pinned PyPI package duckdb-extension-ducklake and is
loaded by path; connections opened here never download or autoload extensions.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.duckdb_lock import is_lock_error
from warehouse.fingerprint import fingerprint, quote_identifier

EXTENSION_PACKAGE = "duckdb-extension-ducklake"
LAKE = "lake"
WAREHOUSE = "warehouse"
COMMIT_AUTHOR = "ml_warehouse"


class LakehouseError(RuntimeError):
    """Publication or read-back cannot proceed; the message says why and what to do."""


class DuckLakeExtensionMissingError(LakehouseError):
    """The DuckLake extension file for this DuckDB version is not installed."""


class CatalogLockedError(LakehouseError):
    """Another process has the catalog open; DuckLake on a DuckDB file allows one at a time."""


@dataclass(frozen=True)
class PublishedVersion:
    """One publication: the DuckLake snapshot id and each table's fingerprint in it."""

    snapshot_id: int
    fingerprints: Mapping[str, str]


def _ducklake_package_dir() -> Path | None:
    """Folder of the installed duckdb_extension_ducklake package, or None."""
    spec = importlib.util.find_spec("duckdb_extension_ducklake")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def ducklake_extension_path() -> Path:
    """The DuckLake extension built for the running DuckDB, from the PyPI package."""
    install = f"pip install {EXTENSION_PACKAGE}=={duckdb.__version__}"
    package_dir = _ducklake_package_dir()
    if package_dir is None:
        raise DuckLakeExtensionMissingError(
            f"The DuckLake extension is not installed: {install} (it is pinned in "
            "requirements.lock). Extensions are never downloaded at run time."
        )
    path = package_dir / "extensions" / f"v{duckdb.__version__}" / "ducklake.duckdb_extension"
    if not path.is_file():
        raise DuckLakeExtensionMissingError(
            f"{path} does not exist: the installed {EXTENSION_PACKAGE} does not match "
            f"DuckDB {duckdb.__version__}; {install}."
        )
    return path


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _split_table(table: str) -> tuple[str, str]:
    parts = table.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"Tables are named 'schema.table', got {table!r}")
    return parts[0], parts[1]


def _qualified(database: str, table: str) -> str:
    schema, name = _split_table(table)
    return f"{database}.{quote_identifier(schema)}.{quote_identifier(name)}"


def _open() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with DuckLake loaded from the package, and nothing else fetched."""
    extension = ducklake_extension_path()
    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            # Otherwise a table missing at some version is looked up among the caller's
            # Python variables (replacement scans): a confusing error, or a wrong read.
            "python_enable_replacements": False,
        }
    )
    try:
        connection.execute(f"load {_sql_string(extension)}")
    except BaseException:
        connection.close()
        raise
    return connection


def _attach_lake(
    connection: duckdb.DuckDBPyConnection, catalog_path: Path, data_path: Path, read_only: bool
) -> None:
    # Data inlining would keep small tables inside the metadata file instead of Parquet;
    # published tables are always Parquet, readable by any engine.
    options = [f"data_path {_sql_string(data_path.resolve())}"]
    options.append("read_only" if read_only else "data_inlining_row_limit 0")
    try:
        connection.execute(
            f"attach {_sql_string('ducklake:' + str(catalog_path.resolve()))} as {LAKE}"
            f" ({', '.join(options)})"
        )
    except duckdb.IOException as error:
        if is_lock_error(error):
            raise CatalogLockedError(
                f"The DuckLake catalog {catalog_path} is open in another process (a publish or "
                "a reader); DuckLake on a DuckDB file has one user at a time. Retry when it "
                f"is done.\n{error}"
            ) from error
        raise


@contextmanager
def open_lake(
    catalog_path: Path, data_path: Path, *, read_only: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the catalog attached as `lake`, closed (and unlocked) on exit."""
    if read_only and not catalog_path.exists():
        raise LakehouseError(f"No DuckLake catalog at {catalog_path}: nothing was published yet.")
    connection = _open()
    try:
        _attach_lake(connection, catalog_path, data_path, read_only)
        yield connection
    finally:
        connection.close()


def _at_version(table: str, version: int) -> str:
    return f"{_qualified(LAKE, table)} at (version => {int(version)})"


def publish(
    warehouse_path: Path, catalog_path: Path, data_path: Path, tables: Sequence[str]
) -> PublishedVersion:
    """Copy warehouse `tables` ('schema.table') into the catalog as one new DuckLake snapshot.

    The catalog is created on first use. The warehouse is attached read-only, so a
    publish can run beside readers of the warehouse (not beside a dbt run, which locks it).
    Fingerprints are computed on the lake at the new snapshot, i.e. on what was published.
    """
    if isinstance(tables, str) or not tables:
        raise ValueError(f"Name at least one table to publish, as a list; got {tables!r}")
    if len(set(tables)) != len(tables):
        raise ValueError(f"Tables to publish must be distinct, got {list(tables)}")
    for table in tables:
        _split_table(table)
    if not warehouse_path.is_file():
        raise LakehouseError(f"No warehouse at {warehouse_path}: build it with dbt first.")
    catalog_path.parent.mkdir(parents=True, exist_ok=True)
    data_path.mkdir(parents=True, exist_ok=True)

    with open_lake(catalog_path, data_path, read_only=False) as connection:
        try:
            connection.execute(
                f"attach {_sql_string(warehouse_path.resolve())} as {WAREHOUSE} (read_only)"
            )
        except duckdb.IOException as error:
            if is_lock_error(error):
                raise LakehouseError(
                    f"The warehouse {warehouse_path} is locked by a writer (a dbt run?); "
                    f"publish after it finishes.\n{error}"
                ) from error
            raise

        connection.execute("begin transaction")
        try:
            connection.execute(
                f"call {LAKE}.set_commit_message(?, ?)",
                [COMMIT_AUTHOR, "publish " + ", ".join(tables)],
            )
            for table in tables:
                schema, _ = _split_table(table)
                connection.execute(f"create schema if not exists {LAKE}.{quote_identifier(schema)}")
                connection.execute(
                    f"create or replace table {_qualified(LAKE, table)}"
                    f" as select * from {_qualified(WAREHOUSE, table)}"
                )
            connection.execute("commit")
        except BaseException:
            # Closing would roll back too; this keeps the error the one that is raised.
            with suppress(duckdb.Error):
                connection.execute("rollback")
            raise

        # The catalog file is locked by this connection, so the newest snapshot is ours.
        row = connection.execute(f"select id from {LAKE}.current_snapshot()").fetchone()
        assert row is not None
        snapshot_id = int(row[0])
        fingerprints = {
            table: fingerprint(connection, _at_version(table, snapshot_id)) for table in tables
        }
    return PublishedVersion(snapshot_id=snapshot_id, fingerprints=fingerprints)


def read_at_version(catalog_path: Path, data_path: Path, table: str, version: int) -> pa.Table:
    """`table` as published in snapshot `version` (rows in no particular order)."""
    with open_lake(catalog_path, data_path, read_only=True) as connection:
        return connection.execute(f"select * from {_at_version(table, version)}").to_arrow_table()


def fingerprint_at_version(catalog_path: Path, data_path: Path, table: str, version: int) -> str:
    """Fingerprint of `table` as published in snapshot `version`, to check against a registry."""
    with open_lake(catalog_path, data_path, read_only=True) as connection:
        return fingerprint(connection, _at_version(table, version))


def current_snapshot_id(catalog_path: Path, data_path: Path) -> int:
    """Id of the catalog's newest snapshot."""
    with open_lake(catalog_path, data_path, read_only=True) as connection:
        row = connection.execute(f"select id from {LAKE}.current_snapshot()").fetchone()
        assert row is not None
        return int(row[0])
