"""Salt rotation re-keys every stored pseudonym from the old salt to the new one."""

import hashlib
import shutil
from pathlib import Path

import duckdb
from conftest import Warehouse

from warehouse.governance.salt_rotation import rotate

OLD, NEW = "test-suite-salt-not-a-secret", "the-next-salt-0123456789"


def pseudonyms(database: Path) -> dict[str, set[str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            table: {
                row[0]
                for row in connection.execute(f"select email_pseudonym from {table}").fetchall()
            }
            for table in (
                "staging.stg_shop__customers",
                "snapshots.snap_customers",
                "marts.dim_customers",
            )
        }


def test_rotation_rekeys_every_pseudonym_and_a_dry_run_changes_nothing(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.database, database)
    before = pseudonyms(database)

    counted = rotate(OLD, NEW, apply=False, database=database, lake=warehouse.lake)
    assert pseudonyms(database) == before
    assert counted.rekeyed["staging.stg_shop__customers.email_pseudonym"] > 0

    report = rotate(OLD, NEW, apply=True, database=database, lake=warehouse.lake)
    assert report.not_rekeyable == {}, "the whole lake is still there: everything re-keys"
    assert report.rekeyed == counted.rekeyed
    with duckdb.connect() as connection:
        emails = {
            row[0].strip().lower()
            for row in connection.execute(
                f"select email from read_parquet('{warehouse.lake}/customers/*/*.parquet') "
                "where email is not null"
            ).fetchall()
        }
    rekeyed = {hashlib.sha256((NEW + e).encode()).hexdigest() for e in emails}
    previous = {hashlib.sha256((OLD + e).encode()).hexdigest() for e in emails}
    for table, found in pseudonyms(database).items():
        found.discard(None)
        assert found and found <= rekeyed, table
        assert not found & previous, table
    with duckdb.connect(str(database), read_only=True) as connection:
        (phones,) = connection.execute(
            "select count(*) from staging.stg_shop__customers s join snapshots.snap_customers c "
            "using (customer_id, phone_pseudonym)"
        ).fetchone()
    assert phones > 0, "phone pseudonyms stay joinable across layers"
