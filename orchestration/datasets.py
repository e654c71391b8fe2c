"""Dataset versions: publish the latest one, and rebuild any registered one from history.

The registry (dbt model ml.ml_dataset_versions) says which versions exist and their
fingerprints. Publishing copies the current dataset into the DuckLake catalog, writes a
Parquet export under a path named by the version (never overwritten), and records both in
ml.dataset_publications. Rebuilding compiles the same dbt model with `dataset_as_of`, runs
it against a read-only attach of the warehouse's history, and compares fingerprints.

    python -m orchestration.datasets list
    python -m orchestration.datasets rebuild --as-of 2026-01-20
    python -m orchestration.datasets publish
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from orchestration.fingerprint import fingerprint
from orchestration.lakehouse import publish
from orchestration.project import DBT_EXECUTABLE, REPO_ROOT, data_dir, duckdb_path

DATASET_NAME = "customer_features"
DATASET_TABLE = "ml.ml_customer_features"
DATASET_MODEL = "ml_customer_features"
REGISTRY_TABLE = "ml.ml_dataset_versions"
PUBLICATIONS_TABLE = "ml.dataset_publications"


def lakehouse_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_LAKEHOUSE_DIR", data_dir() / "lakehouse")).resolve()


def exports_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_EXPORTS_DIR", data_dir() / "exports")).resolve()


@dataclass(frozen=True)
class RegisteredVersion:
    version_id: str
    dataset_name: str
    as_of_date: date
    row_count: int
    fingerprint: str


@dataclass(frozen=True)
class RebuildReport:
    version: RegisteredVersion
    rebuilt_fingerprint: str
    rebuilt_rows: int

    @property
    def matches(self) -> bool:
        return self.rebuilt_fingerprint == self.version.fingerprint


@dataclass(frozen=True)
class Publication:
    version_id: str
    ducklake_snapshot_id: int
    fingerprint: str
    export_path: Path


def registered_versions(database: Path | None = None) -> list[RegisteredVersion]:
    with duckdb.connect(str(database or duckdb_path()), read_only=True) as connection:
        rows = connection.execute(
            f"""
            select version_id, dataset_name, as_of_date, row_count, fingerprint
            from {REGISTRY_TABLE} order by built_at, as_of_date
            """
        ).fetchall()
    return [RegisteredVersion(*row) for row in rows]


def find_version(as_of: date, database: Path | None = None) -> RegisteredVersion:
    """The newest registered version of the dataset as of `as_of`."""
    matches = [v for v in registered_versions(database) if v.as_of_date == as_of]
    if not matches:
        known = ", ".join(sorted({v.as_of_date.isoformat() for v in registered_versions(database)}))
        raise LookupError(
            f"No version of {DATASET_NAME} as of {as_of} in {REGISTRY_TABLE}; "
            f"registered as-of dates: {known or 'none'}"
        )
    return matches[-1]


def compiled_dataset_sql(as_of: date) -> str:
    """The dataset model's SQL, compiled by dbt with `dataset_as_of` set to `as_of`."""
    with tempfile.TemporaryDirectory(prefix="dataset-rebuild-") as target:
        env = dict(os.environ, DBT_TARGET_PATH=target, DBT_LOG_PATH=target)
        result = subprocess.run(
            [
                str(DBT_EXECUTABLE),
                "compile",
                "--quiet",
                "--select",
                DATASET_MODEL,
                "--vars",
                json.dumps({"dataset_as_of": as_of.isoformat()}),
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"dbt compile of {DATASET_MODEL} failed:\n{result.stdout}")
        compiled = next(Path(target, "compiled").rglob(f"{DATASET_MODEL}.sql"))
        return compiled.read_text()


def rebuild(
    as_of: date, database: Path | None = None, output: Path | None = None
) -> RebuildReport:
    """Recompute the registered version as of `as_of` and fingerprint the result.

    The warehouse is only read: the rebuilt rows live in a temporary table of an in-memory
    database that attaches it read-only under the name dbt compiled into the SQL. With
    `output`, the rebuilt rows are also written there as Parquet, to compare row by row.
    """
    database = database or duckdb_path()
    version = find_version(as_of, database)
    sql = compiled_dataset_sql(as_of)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{database}' as \"{database.stem}\" (read_only)")
        connection.execute(f'use "{database.stem}"')
        connection.execute(f"create temp table rebuilt_dataset as {sql}")
        (rows,) = connection.execute("select count(*) from temp.rebuilt_dataset").fetchone()
        rebuilt = fingerprint(connection, "temp.rebuilt_dataset")
        if output is not None:
            connection.execute(f"copy temp.rebuilt_dataset to '{output}' (format parquet)")
    return RebuildReport(version=version, rebuilt_fingerprint=rebuilt, rebuilt_rows=rows)


def publish_latest(database: Path | None = None) -> Publication:
    """Publish the current dataset (the newest registered version) to DuckLake and Parquet.

    Refuses when the table no longer matches the registry's newest version, so a
    publication always names a version that can be rebuilt.
    """
    database = database or duckdb_path()
    versions = [v for v in registered_versions(database) if v.dataset_name == DATASET_NAME]
    if not versions:
        raise LookupError(f"{REGISTRY_TABLE} has no version of {DATASET_NAME}: run dbt build first")
    latest = max(versions, key=lambda v: v.as_of_date)
    already = publication_of(database, latest.version_id)
    if already is not None:
        return already
    lakehouse = lakehouse_dir()
    published = publish(
        database, lakehouse / "catalog.ducklake", lakehouse / "data", [DATASET_TABLE]
    )
    lake_fingerprint = published.fingerprints[DATASET_TABLE]
    if lake_fingerprint != latest.fingerprint:
        raise RuntimeError(
            f"{DATASET_TABLE} as published ({lake_fingerprint}) is not registered version "
            f"{latest.version_id} ({latest.fingerprint}); rebuild with dbt before publishing"
        )
    export_path = export_version(database, latest)
    with duckdb.connect(str(database)) as connection:
        connection.execute(PUBLICATIONS_DDL)
        connection.execute(
            f"insert into {PUBLICATIONS_TABLE} values (?, ?, ?, ?, ?, current_timestamp)",
            [
                latest.version_id,
                DATASET_NAME,
                published.snapshot_id,
                lake_fingerprint,
                str(export_path),
            ],
        )
    return Publication(latest.version_id, published.snapshot_id, lake_fingerprint, export_path)


def publication_of(database: Path, version_id: str) -> Publication | None:
    """The recorded publication of a version, if it was published already."""
    with duckdb.connect(str(database), read_only=True) as connection:
        exists = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'ml' and table_name = 'dataset_publications'"
        ).fetchone()[0]
        if not exists:
            return None
        row = connection.execute(
            f"""
            select version_id, ducklake_snapshot_id, fingerprint, export_path
            from {PUBLICATIONS_TABLE} where version_id = ? order by published_at limit 1
            """,
            [version_id],
        ).fetchone()
    if row is None:
        return None
    return Publication(row[0], row[1], row[2], Path(row[3]))


PUBLICATIONS_DDL = f"""
create table if not exists {PUBLICATIONS_TABLE} (
    version_id varchar not null,
    dataset_name varchar not null,
    ducklake_snapshot_id bigint not null,
    fingerprint varchar not null,
    export_path varchar not null,
    published_at timestamp not null
)
"""


def export_version(database: Path, version: RegisteredVersion) -> Path:
    """Write the version to exports/<dataset>/version=<id>/ once; an existing one is kept.

    The file is written under a temporary name and renamed, so a reader never sees half.
    """
    folder = exports_dir() / DATASET_NAME / f"version={version.version_id}"
    path = folder / f"{DATASET_NAME}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{DATASET_NAME}.parquet.partial"
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute(f"copy (select * from {DATASET_TABLE}) to '{partial}' (format parquet)")
    partial.rename(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="registered versions")
    rebuild_parser = commands.add_parser("rebuild", help="rebuild a version, compare fingerprints")
    rebuild_parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    rebuild_parser.add_argument("--output", type=Path, help="also write the rebuilt rows here")
    commands.add_parser("publish", help="publish the newest version to DuckLake and Parquet")
    args = parser.parse_args(argv)

    if args.command == "list":
        for v in registered_versions():
            print(f"{v.version_id}  {v.dataset_name}  as of {v.as_of_date}  {v.row_count:>9,} rows")
        return 0
    if args.command == "publish":
        publication = publish_latest()
        print(
            f"published {publication.version_id} as DuckLake snapshot "
            f"{publication.ducklake_snapshot_id}; export {publication.export_path}"
        )
        return 0
    report = rebuild(args.as_of, output=args.output)
    verdict = "identical" if report.matches else "DIFFERENT"
    print(
        f"{DATASET_NAME} as of {args.as_of}: registered {report.version.fingerprint}, "
        f"rebuilt {report.rebuilt_fingerprint} ({report.rebuilt_rows:,} rows): {verdict}"
    )
    return 0 if report.matches else 1


if __name__ == "__main__":
    sys.exit(main())
