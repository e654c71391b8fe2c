"""Backup, restore and the read copy of the warehouse (docs/reliability.md).

    python -m warehouse.backup backup  [--to DIR] [--format file|export]
    python -m warehouse.backup restore --from PATH
    python -m warehouse.backup read-copy

Every command first takes the warehouse's write lock, so it runs only while no build
writes (a running build makes it stop with a message saying so) and no build can start
while it copies. `backup` writes either an exact copy of the file (`file`, the default:
fast, same DuckDB version needed to open it) or DuckDB's `EXPORT DATABASE` folder
(`export`: schema SQL and Parquet, portable across DuckDB versions). `restore` takes either
and replaces the warehouse in one rename. `read-copy` publishes the copy readers open
during a build (WAREHOUSE_READ_COPY_PATH, default data/warehouse.read.duckdb); Dagster's
asset `warehouse_read_copy` refreshes it at the end of every daily run and release.

Everything is written under a temporary name beside its destination and renamed, so a
backup, restore or read copy is never seen half-written.
"""

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.cli_args import one_of
from warehouse.duckdb_lock import is_lock_error, refusal
from warehouse.settings import data_dir, duckdb_path


class WarehouseBusy(RuntimeError):
    """Another process writes the warehouse."""


def read_copy_path() -> Path:
    default = data_dir() / "warehouse.read.duckdb"
    return Path(os.environ.get("WAREHOUSE_READ_COPY_PATH", default)).resolve()


def backups_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_BACKUP_DIR", data_dir() / "backups")).resolve()


@contextmanager
def exclusive(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened for writing, checkpointed (the WAL folded into the file), so that
    the file on disk is complete and no other process can change it while this is held."""
    try:
        connection = duckdb.connect(str(database))
    except duckdb.IOException as error:
        if is_lock_error(error):
            raise WarehouseBusy(refusal(database, str(error), "this command")) from None
        raise
    try:
        connection.execute("checkpoint")
        yield connection
    finally:
        connection.close()


def _copy_file(
    source: Path, destination: Path, prepare: Callable[[Path], None] | None = None
) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    shutil.copyfile(source, partial)
    try:
        if prepare is not None:
            prepare(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        raise
    os.replace(partial, destination)


def publish_read_copy(
    database: Path | None = None,
    destination: Path | None = None,
    prepare: Callable[[Path], None] | None = None,
) -> Path:
    """Copy the warehouse to the read copy, replacing the previous one in one rename;
    `prepare` may change the copy before it is renamed into place (the erasure clears
    what readers must not see)."""
    database = database or duckdb_path()
    destination = destination or read_copy_path()
    with exclusive(database):
        _copy_file(database, destination, prepare)
    return destination


def backup(database: Path | None = None, to: Path | None = None, kind: str = "file") -> Path:
    """A backup of the warehouse under `to` (default data/backups), named by the time."""
    database = database or duckdb_path()
    folder = to or backups_dir()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    with exclusive(database) as connection:
        if kind == "file":
            destination = folder / f"warehouse-{stamp}.duckdb"
            _copy_file(database, destination)
            return destination
        if kind != "export":
            raise ValueError(f"backup format must be 'file' or 'export', not {kind!r}")
        destination = folder / f"warehouse-{stamp}"
        partial = folder / f".warehouse-{stamp}.partial"
        folder.mkdir(parents=True, exist_ok=True)
        connection.execute(f"export database '{_sql_text(partial)}' (format parquet)")
        partial.rename(destination)
        return destination


def restore(source: Path, database: Path | None = None) -> Path:
    """Replace the warehouse with a backup (a .duckdb file or an EXPORT DATABASE folder)."""
    database = database or duckdb_path()
    if not source.exists():
        raise FileNotFoundError(f"No backup at {source}: list {backups_dir()} for the backups")
    staged = database.with_name(f".{database.name}.restoring")
    staged.unlink(missing_ok=True)
    if source.is_dir():
        if not (source / "schema.sql").is_file():
            raise ValueError(f"{source} is not an EXPORT DATABASE folder (no schema.sql)")
        with duckdb.connect(str(staged)) as connection:
            connection.execute(f"import database '{_sql_text(source)}'")
    else:
        shutil.copyfile(source, staged)
        with duckdb.connect(str(staged), read_only=True) as connection:
            connection.execute("select count(*) from information_schema.tables").fetchone()
    if database.exists():
        with exclusive(database):
            pass  # refuses while a build writes; released before the rename below
    wal = database.with_name(database.name + ".wal")
    os.replace(staged, database)
    wal.unlink(missing_ok=True)  # belonged to the replaced file (checkpointed above)
    return database


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse.backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("backup", help="back the warehouse up (writer stopped)")
    made.add_argument("--to", type=Path, help="folder for the backup (default data/backups)")
    made.add_argument("--format", type=one_of(("file", "export")), default="file")
    restored = commands.add_parser("restore", help="replace the warehouse with a backup")
    restored.add_argument("--from", dest="source", type=Path, required=True)
    commands.add_parser("read-copy", help="publish the read copy readers use during builds")
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            print(f"backup written: {backup(to=args.to, kind=args.format)}")
        elif args.command == "restore":
            print(f"warehouse {restore(args.source)} restored from {args.source}")
        else:
            print(f"read copy published: {publish_read_copy()}")
    except (WarehouseBusy, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
