"""DuckDB's single writer: a database file is open for writing in one process at a time, and
a second process asking for it is refused with a lock error before it changes anything.
The one place that recognises that error; each caller says what to do about it."""

from __future__ import annotations

from pathlib import Path

import duckdb

LOCK_MESSAGE = "Could not set lock"


def is_lock_error(error: BaseException | str) -> bool:
    return LOCK_MESSAGE in str(error)


def lock_holder(detail: str) -> str:
    """The line of DuckDB's message that names the file and the process holding it."""
    return next((line.strip() for line in detail.splitlines() if LOCK_MESSAGE in line), "")


def refusal(database: Path | str, detail: str, what: str = "this run") -> str:
    """The one message every writer gives when another process holds the warehouse: which
    file, which process (DuckDB's line naming it), and what to do."""
    holder = lock_holder(detail)
    return (
        f"The warehouse {database} is being written by another process, so {what} was "
        f"refused before writing anything (DuckDB allows one writer per file). {holder} "
        "Wait for that build to finish (or stop it), then run again. To read meanwhile, "
        "use the read copy published after each successful build (docs/reliability.md)."
    )


def writable(database: Path) -> duckdb.Error | None:
    """Open the file for writing and close it at once, as dbt-duckdb does first: None when
    it could, else DuckDB's lock error. Other errors are raised."""
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        duckdb.connect(str(database)).close()
    except duckdb.Error as error:
        if is_lock_error(error):
            return error
        raise
    return None
