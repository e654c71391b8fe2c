"""The dbt-duckdb plugin of this project (profiles/profiles.yml, `plugins`).

It does these things inside the dbt process:

- registers the DuckDB function `lake_file_inspection(path, source_dir, source_node,
  latest_date, decode, known)` on the warehouse's connection, whose cursors share it: the JSON of
  warehouse.lake_inventory.inspect_file, so the model audit.lake_file_inventory and the
  PII policy hook can sort landed files into readable and quarantined in SQL;
- registers `dataset_fingerprint_query(relation, column_names, column_types,
  requested_columns)` there too: the fingerprint query warehouse.fingerprint renders, which
  the macro dataset_fingerprint compiles into SQL, so the query is defined once, in Python;
- registers the DuckDB function `pii_policy_problems(facts)`, the PII policy's rules that
  need no lineage (warehouse.governance.classification), so the hook check_pii_policy
  runs the very rules `python -m warehouse.governance.policy` runs;
- refuses, with one clear message, to open a warehouse another process is writing;
- publishes export folders atomically (`store`, called by macros/atomic_exports.sql): an
  external model is written to a hidden staging folder beside its final path, then swapped
  in, so a reader never sees a half-written export under the final path.
"""

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from dbt_common.exceptions import DbtRuntimeError
from duckdb.sqltypes import DuckDBPyType

from warehouse.duckdb_lock import lock_holder, writable
from warehouse.fingerprint import dataset_fingerprint_query
from warehouse.governance.classification import problems_json
from warehouse.lake_inventory import inspection_json

INSPECTION_FUNCTION = "lake_file_inspection"
FINGERPRINT_QUERY_FUNCTION = "dataset_fingerprint_query"
POLICY_FUNCTION = "pii_policy_problems"


def _create_function(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    function: Any,
    parameters: list[DuckDBPyType],
    returns: DuckDBPyType,
    **options: Any,
) -> None:
    """Create the Python function `name` on `connection`. On a cursor of a connection that
    has it already, DuckDB raises CatalogException: its cursors share the catalog, so there
    is nothing to do."""
    with contextlib.suppress(duckdb.CatalogException):
        connection.create_function(name, function, parameters, returns, **options)


def register_inspection(connection: duckdb.DuckDBPyConnection) -> None:
    varchar = duckdb.sqltype("VARCHAR")
    _create_function(
        connection,
        INSPECTION_FUNCTION,
        inspection_json,
        [varchar, varchar, varchar, varchar, duckdb.sqltype("BOOLEAN"), varchar],
        varchar,
        side_effects=True,
        # known (the previous inspection) is null for a new file: call the function anyway
        null_handling="special",
    )


def register_fingerprint_query(connection: duckdb.DuckDBPyConnection) -> None:
    varchar = duckdb.sqltype("VARCHAR")
    _create_function(
        connection,
        FINGERPRINT_QUERY_FUNCTION,
        dataset_fingerprint_query,
        [varchar, duckdb.list_type(varchar), duckdb.list_type(varchar), varchar],
        duckdb.struct_type({"query": varchar, "error": varchar}),
    )


def register_policy(connection: duckdb.DuckDBPyConnection) -> None:
    varchar = duckdb.sqltype("VARCHAR")
    _create_function(
        connection, POLICY_FUNCTION, problems_json, [varchar], duckdb.list_type(varchar)
    )


def staging_folder(final: Path, token: str) -> Path:
    """Where an export is written before it is swapped in: hidden, beside the final path."""
    return final.parent / f".{final.name}.writing-{token}"


def publish_folder(staged: Path, final: Path) -> None:
    """Make `staged` (complete) visible as `final`, replacing what was there.

    The final path holds the old complete export or the new one, never a mix and never part
    of one. Two renames, the old folder away and the new one in: a reader opening the path
    between them finds no export for that instant, never a partial one.
    """
    if staged.is_file():
        os.replace(staged, final)  # one file: replaced in one step
        return
    if not staged.is_dir():
        raise FileNotFoundError(f"export staging folder {staged} is missing: nothing to publish")
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
        # registering again (and catching DuckDB's "already exists") costs Python time
        # on every node.
        register_inspection(conn)
        register_fingerprint_query(conn)
        register_policy(conn)

    def store(self, target_config: TargetConfig) -> None:
        assert target_config.location is not None
        staged = Path(target_config.location.path)
        final = Path(target_config.config["final_location"])
        publish_folder(staged, final)
        remove_stale_staging(final)
