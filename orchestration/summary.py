"""The short report `make run` ends with: what each layer holds and what was set aside."""

from __future__ import annotations

from pathlib import Path

import duckdb

MONITORING_PACKAGE = Path(__file__).resolve().parent.parent / "monitoring/dbt_packages/elementary"

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


def print_summary(connection: duckdb.DuckDBPyConnection, database: Path) -> None:
    print("\nRows per layer")
    for schema, table, rows in layer_row_counts(connection):
        print(f"  {schema + '.' + table:<48} {rows:>10,}")

    print("\nRows quarantined, by source and rule (audit.quarantined_rows)")
    for source, reason, rows in connection.execute(
        """
        select source_name, rejection_reason, count(*)
        from audit.quarantined_rows group by all order by all
        """
    ).fetchall():
        print(f"  {source:<14} {reason:<34} {rows:>8,}")

    (unaccounted,) = connection.execute(
        "select coalesce(sum(abs(unaccounted_rows)), 0) from audit.row_count_reconciliation"
    ).fetchone()
    print(
        "\nReconciliation (landed = kept + duplicates + quarantined): "
        + ("holds for every source and day" if unaccounted == 0 else f"{unaccounted} rows OFF")
    )
    (versions, customers) = connection.execute(
        """
        select count(*), count(distinct customer_id) from snapshots.snap_customers
        """
    ).fetchone()
    print(f"Snapshot history: {versions:,} versions of {customers:,} customers")
    print(
        f"\nML table: ml.ml_customer_features in {database}\n"
        f'  open it: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{database}', read_only=True).sql('from ml.ml_customer_features "
        f"limit 5'))\"\n"
        "  browse the asset graph and this run's checks: make ui  (http://127.0.0.1:3000)"
    )
    print(monitoring_status())


def monitoring_status() -> str:
    if MONITORING_PACKAGE.is_dir():
        return (
            "Monitoring (Elementary): installed; build it with "
            "`cd monitoring && ../.venv/bin/dbt build`."
        )
    return (
        "Monitoring (Elementary) is off: monitoring/dbt_packages/ has no elementary package "
        "(it comes from dbt Hub; see the README's Monitoring section)."
    )
