"""Which failures are worth another attempt, and how an error is quoted without its values.

Transient: the warehouse's write lock held by another process (warehouse/duckdb_lock.py),
and input/output errors of the machine (a read or write that failed, a device busy, a
timeout). Running the same step again later can succeed. Everything else (a compile error,
a failing test, bad config, a missing file, a type that does not cast) fails the same way
every time: retrying only delays the alert.
"""

from __future__ import annotations

import errno
import re

from warehouse.duckdb_lock import LOCK_MESSAGE, is_lock_error

# Parts of DuckDB's, dbt's and the operating system's messages for failures of the moment.
TRANSIENT_MESSAGES = (
    LOCK_MESSAGE,
    "IO Error: Could not read",
    "IO Error: Could not write",
    "IO Error: Could not sync",
    "Input/output error",
    "Resource temporarily unavailable",
    "Device or resource busy",
    "Connection reset",
    "timed out",
)
TRANSIENT_ERRNOS = {
    errno.EIO,
    errno.EAGAIN,
    errno.EBUSY,
    errno.EINTR,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
}


def is_transient_message(message: str) -> bool:
    return any(marker in message for marker in TRANSIENT_MESSAGES)


def is_transient(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is a failure of the moment."""
    seen: BaseException | None = error
    while seen is not None:
        if is_lock_error(seen) or is_transient_message(str(seen)):
            return True
        if isinstance(seen, TimeoutError | ConnectionError):
            return True
        if isinstance(seen, OSError) and seen.errno in TRANSIENT_ERRNOS:
            return True
        seen = seen.__cause__
    return False


# A value in a database error is quoted with single quotes ("Could not convert string
# 'abc' to INT32"); names are double-quoted or bare, and stay.
QUOTED_VALUE = re.compile(r"'[^'\n]*'")


def without_values(message: str, limit: int = 1500) -> str:
    """`message` with every single-quoted literal replaced by '…', cut to `limit` characters:
    fit for an alert or a log, which must never carry a landed value."""
    masked = QUOTED_VALUE.sub("'…'", message)
    return masked if len(masked) <= limit else masked[: limit - 1] + "…"
