"""The dbt-duckdb plugin of this project (profiles/profiles.yml, `plugins`).

It does these things inside the dbt process:

- registers the DuckDB function `lake_file_inspection(path, source_dir, required_columns,
  decode, known)` on the warehouse's connection, whose cursors share it: the JSON of
  warehouse.lake_inventory.inspect_file, so the model audit.lake_file_inventory and the
  PII policy hook can sort landed files into readable and quarantined in SQL;
- registers the DuckDB function `pii_policy_problems(facts)`, the PII policy's rules that
  need no lineage (warehouse.governance.classification), so the hook check_pii_policy
  runs the very rules `python -m warehouse.governance.policy` runs;
- refuses, with one clear message, to open a warehouse another process is writing;
- publishes export folders atomically (`store`, called by macros/atomic_exports.sql): an
  external model is written to a hidden staging folder beside its final path, then swapped
  in, so a reader never sees a half-written export under the final path.
"""

import contextlib
import ctypes
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from dbt_common.exceptions import DbtRuntimeError

from warehouse.duckdb_lock import lock_holder, writable
from warehouse.governance.classification import problems_json
from warehouse.lake_inventory import inspection_json

INSPECTION_FUNCTION = "lake_file_inspection"
RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
AT_FDCWD = -100


def register_inspection(connection: duckdb.DuckDBPyConnection) -> None:
    """Register lake_file_inspection on `connection` (idempotent)."""
    # Already registered on this connection: nothing to do.
    with contextlib.suppress(duckdb.CatalogException):
        connection.create_function(
            INSPECTION_FUNCTION,
            inspection_json,
            [
                duckdb.sqltype("VARCHAR"),
                duckdb.sqltype("VARCHAR"),
                duckdb.list_type(duckdb.sqltype("VARCHAR")),
                duckdb.sqltype("BOOLEAN"),
                duckdb.sqltype("VARCHAR"),
            ],
            duckdb.sqltype("VARCHAR"),
            side_effects=True,
            # known (the previous inspection) is null for a new file: call the function anyway
            null_handling="special",
        )


POLICY_FUNCTION = "pii_policy_problems"


def register_policy(connection: duckdb.DuckDBPyConnection) -> None:
    """Register pii_policy_problems(facts varchar) -> varchar[] on `connection` (idempotent)."""
    with contextlib.suppress(duckdb.CatalogException):
        connection.create_function(
            POLICY_FUNCTION,
            problems_json,
            [duckdb.sqltype("VARCHAR")],
            duckdb.list_type(duckdb.sqltype("VARCHAR")),
        )


def staging_folder(final: Path, token: str) -> Path:
    """Where an export is written before it is swapped in: hidden, beside the final path."""
    return final.parent / f".{final.name}.writing-{token}"


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one step (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    return result == 0


def publish_folder(staged: Path, final: Path) -> None:
    """Make `staged` (complete) visible as `final`, replacing what was there.

    The final path holds either the old complete export or the new one: never a mix, never
    part of one. Where the file system cannot swap two folders at once, the old folder is
    renamed away first, so a reader may briefly find no export (and never a partial one).
    """
    if staged.is_file():
        os.replace(staged, final)  # one file: replaced in one step
        return
    if not staged.is_dir():
        raise FileNotFoundError(f"export staging folder {staged} is missing: nothing to publish")
    if final.exists() and _exchange(staged, final):
        shutil.rmtree(staged)  # now the old export
        return
    retired = final.parent / f".{final.name}.retired-{staged.name.rsplit('-', 1)[-1]}"
    if final.exists():
        final.rename(retired)
    staged.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


def remove_stale_staging(final: Path) -> None:
    """Leftovers of writers killed before their swap (never visible under the final path)."""
    for pattern in (f".{final.name}.writing-*", f".{final.name}.retired-*"):
        for stale in final.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


class WarehouseLocked(DbtRuntimeError):
    """Another process writes the warehouse: this dbt run is refused before it changes anything."""


def refuse_if_locked(path: str) -> None:
    """Open and close the warehouse for writing, as dbt-duckdb is about to, and turn DuckDB's
    lock error (and its stack trace) into one message saying what to do."""
    if not path or path == ":memory:" or path.startswith("md:"):
        return
    error = writable(Path(path))
    if error is not None:
        holder = lock_holder(str(error))
        raise WarehouseLocked(
            f"The warehouse {path} is being written by another process, so this dbt run was "
            f"refused before writing anything (DuckDB allows one writer per file). {holder} "
            "Wait for that build to finish (or stop it), then run again. To read meanwhile, "
            "use the read copy published after each successful build (docs/reliability.md)."
        ) from None


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.plugin_config = plugin_config

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        refuse_if_locked(str(creds.path))

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        # Once per connection, not per cursor: a function created on the connection is in
        # the catalog its cursors share, and dbt-duckdb opens a cursor for every node, where
        # registering again (and catching DuckDB's "already exists") cost about 0.4 s of a
        # daily run's Python at scale M (bench/RESULTS.md).
        register_inspection(conn)
        register_policy(conn)

    def store(self, target_config: TargetConfig) -> None:
        assert target_config.location is not None
        staged = Path(target_config.location.path)
        final = Path(target_config.config["final_location"])
        publish_folder(staged, final)
        remove_stale_staging(final)
