"""Access boundaries for people who read the warehouse.

Analysts open the warehouse read-only, the way the dbt target `analyst` does
(profiles/profiles.yml): DuckDB refuses every statement that would write to the file, and
file system access is off, so no COPY TO a file and no reading of the raw lake's Parquet
(the base_ views over it, which hold personal data in clear, fail instead).

    from warehouse.governance.access import analyst_connection
    with analyst_connection() as connection:
        connection.sql("select * from marts.dim_customers limit 5").show()
"""

from pathlib import Path

import duckdb

from warehouse.settings import duckdb_path

# The same settings as the `analyst` target's config_options.
ANALYST_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "access_mode": "READ_ONLY",
    "enable_external_access": False,
}


def analyst_connection(database: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection without file system access to the warehouse."""
    path = database or duckdb_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"No warehouse at {path}: build it first (make run), or set WAREHOUSE_DUCKDB_PATH."
        )
    return duckdb.connect(str(path), config=ANALYST_CONFIG)
