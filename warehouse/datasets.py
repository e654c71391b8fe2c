"""Dataset versions: publish the latest one, and rebuild any registered one from history.

The registry (dbt model ml.ml_dataset_versions) says which versions exist and their
fingerprints. Publishing copies the current dataset into the DuckLake catalog, writes a
Parquet export under a path named by the version (never overwritten), and records both in
ml.dataset_publications. Rebuilding compiles the same dbt model with `dataset_as_of`, runs
it against a read-only attach of the warehouse's history, and compares fingerprints.

    python -m warehouse.datasets list
    python -m warehouse.datasets rebuild --dataset training_set --as-of 2026-01-20
    python -m warehouse.datasets publish
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from warehouse.cli_args import iso_date, one_of
from warehouse.dbt_runner import run_dbt
from warehouse.fingerprint import fingerprint
from warehouse.lakehouse import publish
from warehouse.settings import REPO_ROOT, data_dir, duckdb_path, exports_dir

# Registered dataset → (dbt selector of the model that builds it, its table in the ml
# schema). The feature table's version 1 keeps the unversioned table name (an alias).
DATASETS = {
    "customer_features": ("ml_customer_features.v1", "ml_customer_features"),
    "training_set": ("ml_training_set", "ml_training_set"),
}
REGISTRY_TABLE = "ml.ml_dataset_versions"
PUBLICATIONS_TABLE = "ml.dataset_publications"


def lakehouse_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_LAKEHOUSE_DIR", data_dir() / "lakehouse")).resolve()


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


def erased_versions(database: Path | None = None) -> dict[str, str]:
    """version id → why it can no longer be rebuilt exactly (an erasure removed rows it
    held: warehouse/governance/erasure.py records them in audit.erasure_affected_versions)."""
    with duckdb.connect(str(database or duckdb_path()), read_only=True) as connection:
        (exists,) = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'audit' and table_name = 'erasure_affected_versions'"
        ).fetchone()
        if not exists:
            return {}
        rows = connection.execute(
            "select version_id, erasure_id, marked_at from audit.erasure_affected_versions "
            "order by marked_at"
        ).fetchall()
    return {
        version_id: f"not exactly reproducible since erasure {erasure_id} ({marked_at:%Y-%m-%d})"
        for version_id, erasure_id, marked_at in rows
    }


def dataset_model(dataset: str) -> str:
    """The dbt selector of the model that builds `dataset`."""
    if dataset not in DATASETS:
        raise LookupError(
            f"Unknown dataset {dataset!r}; registered datasets: {', '.join(DATASETS)}"
        )
    return DATASETS[dataset][0]


def find_version(dataset: str, as_of: date, database: Path | None = None) -> RegisteredVersion:
    """The newest registered version of `dataset` as of `as_of`."""
    dataset_model(dataset)
    versions = [v for v in registered_versions(database) if v.dataset_name == dataset]
    matches = [v for v in versions if v.as_of_date == as_of]
    if not matches:
        known = ", ".join(sorted({v.as_of_date.isoformat() for v in versions}))
        raise LookupError(
            f"No version of {dataset} as of {as_of} in {REGISTRY_TABLE}; "
            f"registered as-of dates: {known or 'none'}"
        )
    return matches[-1]


def compiled_dataset_sql(selector: str, as_of: date) -> str:
    """The dataset model's SQL, compiled by dbt with `dataset_as_of` set to `as_of`."""
    with tempfile.TemporaryDirectory(prefix="dataset-rebuild-") as target:
        result = run_dbt(
            [
                "compile",
                "--quiet",
                # the whole dataset, not the incremental slice of a daily run
                "--full-refresh",
                "--select",
                selector,
                # the model alone, not the data tests attached to it
                "--indirect-selection",
                "empty",
                "--vars",
                json.dumps({"dataset_as_of": as_of.isoformat()}),
            ],
            environment={"DBT_TARGET_PATH": target, "DBT_LOG_PATH": target},
        )
        if result.returncode != 0:
            raise RuntimeError(f"dbt compile of {selector} failed:\n{result.stdout}")
        (compiled,) = Path(target, "compiled").rglob("*.sql")
        return compiled.read_text()


def rebuild(
    dataset: str, as_of: date, database: Path | None = None, output: Path | None = None
) -> RebuildReport:
    """Recompute the registered version as of `as_of` and fingerprint the result.

    The warehouse is only read: the rebuilt rows live in a temporary table of an in-memory
    database that attaches it read-only under the name dbt compiled into the SQL. With
    `output`, the rebuilt rows are also written there as Parquet, to compare row by row.
    """
    database = database or duckdb_path()
    version = find_version(dataset, as_of, database)
    sql = compiled_dataset_sql(dataset_model(dataset), as_of)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{database}' as \"{database.stem}\" (read_only)")
        connection.execute(f'use "{database.stem}"')
        connection.execute(f"create temp table rebuilt_dataset as {sql}")
        (rows,) = connection.execute("select count(*) from temp.rebuilt_dataset").fetchone()
        rebuilt = fingerprint(connection, "temp.rebuilt_dataset")
        if output is not None:
            connection.execute(f"copy temp.rebuilt_dataset to '{output}' (format parquet)")
    return RebuildReport(version=version, rebuilt_fingerprint=rebuilt, rebuilt_rows=rows)


def publish_latest(database: Path | None = None) -> list[Publication]:
    """Publish the current version of every dataset to DuckLake (one snapshot) and Parquet.

    Refuses when a table no longer matches the registry's newest version of its dataset,
    so a publication always names a version that can be rebuilt. Versions published
    already are not published again.
    """
    database = database or duckdb_path()
    versions = registered_versions(database)
    newest = {}
    for dataset in DATASETS:
        of_dataset = [v for v in versions if v.dataset_name == dataset]
        if not of_dataset:
            raise LookupError(f"{REGISTRY_TABLE} has no version of {dataset}: run dbt build first")
        # the one built last: a rebuild of the same as-of date with other content (after a
        # full refresh, or an erasure) registers a second version of that date
        newest[dataset] = of_dataset[-1]
    done = [publication_of(database, v.version_id) for v in newest.values()]
    if all(done):
        return [publication for publication in done if publication is not None]

    lakehouse = lakehouse_dir()
    tables = {dataset: f"ml.{table}" for dataset, (_, table) in DATASETS.items()}
    published = publish(
        database, lakehouse / "catalog.ducklake", lakehouse / "data", list(tables.values())
    )
    publications = []
    for dataset, version in newest.items():
        lake_fingerprint = published.fingerprints[tables[dataset]]
        if lake_fingerprint != version.fingerprint:
            raise RuntimeError(
                f"{tables[dataset]} as published ({lake_fingerprint}) is not registered version "
                f"{version.version_id} ({version.fingerprint}); rebuild with dbt before publishing"
            )
        export_path = export_version(database, version, tables[dataset])
        publications.append(
            Publication(version.version_id, published.snapshot_id, lake_fingerprint, export_path)
        )
    with duckdb.connect(str(database)) as connection:
        connection.execute(PUBLICATIONS_DDL)
        for dataset, publication in zip(newest, publications, strict=True):
            connection.execute(
                f"insert into {PUBLICATIONS_TABLE} values (?, ?, ?, ?, ?, current_timestamp)",
                [
                    publication.version_id,
                    dataset,
                    publication.ducklake_snapshot_id,
                    publication.fingerprint,
                    str(publication.export_path),
                ],
            )
    return publications


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


# The dbt doc block (models/ml/datasheets.md) that is each dataset's datasheet.
DATASHEETS = {
    "training_set": "training_set_datasheet",
    "customer_features": "customer_features_datasheet",
}
DATASHEETS_FILE = REPO_ROOT / "models" / "ml" / "datasheets.md"


def datasheet(version: RegisteredVersion) -> str:
    """The dataset's datasheet (the same text dbt docs shows), headed by the version."""
    name = DATASHEETS[version.dataset_name]
    blocks = re.findall(
        r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", DATASHEETS_FILE.read_text(), re.S
    )
    text = dict(blocks).get(name)
    if text is None:
        raise LookupError(f"{DATASHEETS_FILE} has no doc block {name!r}")
    return (
        f"<!-- version {version.version_id} of {version.dataset_name}, as of "
        f"{version.as_of_date.isoformat()}, {version.row_count} rows, fingerprint "
        f"{version.fingerprint} -->\n{text.strip()}\n"
    )


def export_version(database: Path, version: RegisteredVersion, table: str) -> Path:
    """Write the version to exports/<dataset>/version=<id>/ once, with its datasheet
    (datasheet.md); an existing one is kept.

    The file is written under a temporary name and renamed, so a reader never sees half.
    """
    name = version.dataset_name
    folder = exports_dir() / name / f"version={version.version_id}"
    path = folder / f"{name}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "datasheet.md").write_text(datasheet(version))
    partial = folder / f".{name}.parquet.partial"
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute(f"copy (select * from {table}) to '{partial}' (format parquet)")
    partial.rename(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="registered versions")
    rebuild_parser = commands.add_parser("rebuild", help="rebuild a version, compare fingerprints")
    rebuild_parser.add_argument("--dataset", default="training_set", type=one_of(DATASETS))
    rebuild_parser.add_argument("--as-of", type=iso_date, required=True)
    rebuild_parser.add_argument("--output", type=Path, help="also write the rebuilt rows here")
    commands.add_parser("publish", help="publish the newest version to DuckLake and Parquet")
    args = parser.parse_args(argv)

    if args.command == "list":
        erased = erased_versions()
        for v in registered_versions():
            note = f"  ({erased[v.version_id]})" if v.version_id in erased else ""
            print(
                f"{v.version_id}  {v.dataset_name}  as of {v.as_of_date}  "
                f"{v.row_count:>9,} rows{note}"
            )
        return 0
    if args.command == "publish":
        for publication in publish_latest():
            print(
                f"published {publication.version_id} as DuckLake snapshot "
                f"{publication.ducklake_snapshot_id}; export {publication.export_path}"
            )
        return 0
    try:
        report = rebuild(args.dataset, args.as_of, output=args.output)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2
    verdict = "identical" if report.matches else "DIFFERENT"
    erased = erased_versions().get(report.version.version_id)
    print(
        f"{args.dataset} as of {args.as_of}: registered {report.version.fingerprint}, "
        f"rebuilt {report.rebuilt_fingerprint} ({report.rebuilt_rows:,} rows): {verdict}"
        + (f"; version {report.version.version_id} is {erased}" if erased else "")
    )
    return 0 if report.matches else 1


if __name__ == "__main__":
    sys.exit(main())
