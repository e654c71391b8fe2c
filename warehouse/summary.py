"""The short report `make run` ends with: what each layer holds and what was set aside."""

from __future__ import annotations

from pathlib import Path

import duckdb

from monitoring import monitor
from warehouse import openlineage_events
from warehouse.settings import monitoring_off_reason

LAYERS = ("reference", "staging", "audit", "snapshots", "intermediate", "marts", "ml")


def layer_row_counts(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every base table of the warehouse layers, in layer order."""
    tables = connection.execute(
        """
        select table_schema, table_name
        from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema in ?
        """,
        [list(LAYERS)],
    ).fetchall()
    counts = []
    for schema, table in sorted(tables, key=lambda row: (LAYERS.index(row[0]), row[1])):
        (rows,) = connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
        counts.append((schema, table, rows))
    return counts


def print_quarantined_files(connection: duckdb.DuckDBPyConnection) -> None:
    """Landed files that could not be read, and whether files landed = read + quarantined."""
    quarantined = connection.execute(
        "select source_system || '.' || source_name, file_path, error"
        " from audit.quarantined_files order by all"
    ).fetchall()
    (landed, read, off) = connection.execute(
        "select coalesce(sum(files_landed), 0), coalesce(sum(files_read), 0), "
        "coalesce(sum(abs(unaccounted_files)), 0) from audit.file_reconciliation"
    ).fetchone()
    print(
        f"\nLake files: {landed:,} landed, {read:,} read, {len(quarantined):,} quarantined"
        + (" (files landed = read + quarantined)" if off == 0 else f", {off} files OFF")
    )
    for source, path, error in quarantined:
        print(f"  {source:<24} {path}\n  {'':<24} {error}")


def print_feature_versions(connection: duckdb.DuckDBPyConnection) -> None:
    """Each version of the training features, its rows on the newest as-of date and the
    columns it added to the version before."""
    relations = [
        name
        for (name,) in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'ml' and "
            "regexp_full_match(table_name, 'ml_customer_features(_v[0-9]+)?')"
        ).fetchall()
    ]
    versions = sorted(
        relations, key=lambda name: int(name.rpartition("_v")[2] or 1) if "_v" in name else 1
    )
    print("\nFeature versions (ml.ml_customer_features, by version)")
    previous: list[str] = []
    for name in versions:
        columns = [
            column
            for (column,) in connection.execute(
                "select column_name from information_schema.columns where table_schema = 'ml' "
                "and table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
        ]
        newest, rows = connection.execute(
            f"select max(as_of_date), count(*) filter (where as_of_date = "
            f"(select max(as_of_date) from ml.{name})) from ml.{name}"
        ).fetchone()
        added = [column for column in columns if previous and column not in previous]
        print(
            f"  {name:<28} {len(columns):>3} columns, {rows:>7,} rows as of {newest}"
            + (f"; new: {', '.join(added)}" if added else "")
        )
        previous = columns


def print_summary(connection: duckdb.DuckDBPyConnection, database: Path) -> None:
    print("\nRows per layer")
    for schema, table, rows in layer_row_counts(connection):
        print(f"  {schema + '.' + table:<48} {rows:>10,}")

    print("\nRows per source (audit.row_count_reconciliation)")
    print(
        f"  {'source':<24} {'landed':>10} {'kept':>10} {'duplicate':>10}"
        f" {'corrected':>10} {'quarantined':>11}"
    )
    for source, landed, kept, duplicate, corrected, quarantined in connection.execute(
        """
        select
            source_system || '.' || source_name,
            sum(rows_landed), sum(rows_kept), sum(rows_duplicate), sum(rows_corrected),
            sum(rows_quarantined)
        from audit.row_count_reconciliation group by all order by all
        """
    ).fetchall():
        print(
            f"  {source:<24} {landed:>10,} {kept:>10,} {duplicate:>10,}"
            f" {corrected:>10,} {quarantined:>11,}"
        )

    print("\nRows quarantined, by source and rule (audit.quarantined_rows)")
    for source, reason, rows in connection.execute(
        """
        select source_system || '.' || source_name, rejection_reason, count(*)
        from audit.quarantined_rows group by all order by all
        """
    ).fetchall():
        print(f"  {source:<24} {reason:<34} {rows:>8,}")

    print("\nCorrections, by source and resolution (audit.corrected_rows)")
    corrections = connection.execute(
        """
        select source_system || '.' || source_name, resolution, count(*)
        from audit.corrected_rows group by all order by all
        """
    ).fetchall()
    for source, resolution, rows in corrections:
        print(f"  {source:<24} {resolution:<34} {rows:>8,}")
    if not corrections:
        print("  none: no record was re-delivered with other values")

    print_quarantined_files(connection)

    (unaccounted,) = connection.execute(
        "select coalesce(sum(abs(unaccounted_rows)), 0) from audit.row_count_reconciliation"
    ).fetchone()
    print(
        "\nReconciliation (landed = kept + duplicates + corrections + quarantined): "
        + ("holds for every source and day" if unaccounted == 0 else f"{unaccounted} rows OFF")
    )
    (versions, customers) = connection.execute(
        """
        select count(*), count(distinct customer_id) from snapshots.snap_customers
        """
    ).fetchone()
    print(f"Snapshot history: {versions:,} versions of {customers:,} customers")
    print_feature_versions(connection)
    print("\nTraining set (ml.ml_training_set_balance, entity split)")
    for split, rows, customers, churn_rate in connection.execute(
        """
        select split, row_count, customer_count, churn_rate from ml.ml_training_set_balance
        where split_scheme = 'entity' order by split desc
        """
    ).fetchall():
        print(
            f"  {split:<11} {rows:>8,} rows {customers:>6,} customers  churn rate {churn_rate:.1%}"
        )
    for version_id, dataset, as_of, rows, snapshot_id, export_path in connection.execute(
        """
        select versions.version_id, versions.dataset_name, versions.as_of_date,
               versions.row_count, publications.ducklake_snapshot_id, publications.export_path
        from ml.ml_dataset_versions as versions
        left join ml.dataset_publications as publications using (version_id)
        order by versions.built_at desc limit 1
        """
    ).fetchall():
        print(
            f"\nNewest dataset version: {dataset} as of {as_of}, {rows:,} rows, id {version_id}\n"
            f"  DuckLake snapshot {snapshot_id}; export {export_path}"
        )
    print(
        f"\nML tables: ml.ml_training_set, ml.ml_customer_features(_latest) in {database}\n"
        f'  open it: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{database}', read_only=True).sql('from ml.ml_customer_features "
        f"limit 5'))\"\n"
        "  browse the asset graph and this run's checks: make ui  (http://127.0.0.1:3000)"
    )
    print(lineage_status())
    print(monitoring_status())


def lineage_status() -> str:
    if openlineage_events.configured_by_user():
        return "OpenLineage events: sent where the OPENLINEAGE_* settings say."
    events = openlineage_events.events_file()
    if not events.exists():
        return f"OpenLineage events: none written to {events}."
    with events.open() as lines:
        count = sum(1 for _ in lines)
    return f"OpenLineage events: {events} ({count:,} events, one JSON event a line)."


def monitoring_status() -> str:
    off_reason = monitoring_off_reason()
    if off_reason:
        return off_reason
    return (
        "Monitoring (Elementary) is on: its monitors ran as asset checks and the report is "
        f"{monitor.Paths.from_env().report} (asset elementary_report); `make monitor` also "
        "sends alerts."
    )
