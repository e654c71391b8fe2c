"""One writer at a time: DuckDB lets a single process open a database file for writing.

Inside Dagster every step that writes the warehouse is in the pool `warehouse`, whose limit
is 1 (orchestration/dagster.yaml), so Dagster never starts two writers. A writer outside
Dagster (a `dbt build` by hand, a Python session holding a connection) can still hold the
file; then the step stops before writing anything, with an error that names the file and
the lock instead of dbt's stack of failed models. DuckDB's lock is what keeps the file
whole: the second process is refused before it changes anything.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import Failure, MetadataValue

from warehouse.duckdb_lock import is_lock_error, lock_holder, writable

WAREHOUSE_POOL = "warehouse"


def locked_failure(database: Path, detail: str) -> Failure:
    """The error a step raises when another process holds the warehouse's write lock."""
    holder = lock_holder(detail)
    description = " ".join(
        part
        for part in (
            f"The warehouse {database} is locked by another process, so nothing was written:",
            "DuckDB allows one writing process per database file.",
            holder,
            f"Dagster's own runs share the concurrency pool '{WAREHOUSE_POOL}' (limit 1) and",
            "wait for each other; this lock is held outside Dagster (a `dbt build` or a",
            "Python/DuckDB session on the same file). Let it finish or close it, then",
            "re-execute this run.",
        )
        if part
    )
    return Failure(
        description=description,
        metadata={
            "warehouse": MetadataValue.path(str(database)),
            "duckdb_error": MetadataValue.text(holder or detail[-2000:]),
        },
        allow_retries=True,
    )


def ensure_writable(database: Path) -> None:
    """Fail fast, before dbt starts, when another process holds the write lock.

    Opening the file for writing and closing it at once is exactly what dbt-duckdb does
    first; a process that holds the lock makes DuckDB refuse it.
    """
    error = writable(database)
    if error is not None:
        raise locked_failure(database, str(error)) from error


@contextmanager
def read_only(database: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the warehouse, or None when a writer outside Dagster holds
    it (metadata is then left out rather than failing a step whose work is done)."""
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        if is_lock_error(error):
            yield None
            return
        raise
    try:
        yield connection
    finally:
        connection.close()
