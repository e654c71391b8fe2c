"""Erasure on request: after the Dagster job `erase_customer`, nothing of the customer is
left in any table (of the warehouse and of its read copy) or any Parquet file (raw lake,
exports, DuckLake); the erasure is recorded
without personal data; dataset versions built before it are marked as no longer exactly
reproducible.

A small warehouse of its own (150 customers, a backfill and one daily run, each build
published to DuckLake and exported): the erasure rewrites files and expires DuckLake
snapshots, which no other test may see. Two customers are erased, one by id (one with
several versions in the history) and one by email (one with quarantined raw records).
"""

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest
from conftest import Warehouse, build_sample_warehouse, run_datasets
from dagster import DagsterInstance

from orchestration.definitions import defs
from orchestration.jobs import EraseCustomerConfig
from warehouse.backup import publish_read_copy
from warehouse.governance.erasure import Erasure
from warehouse.governance.subject import SubjectError

SALT = "test-suite-salt-not-a-secret"


@dataclass(frozen=True)
class Person:
    customer_id: str
    emails: frozenset[str]
    pseudonyms: frozenset[str]

    def needles(self) -> list[str]:
        return [self.customer_id, *self.emails, *self.pseudonyms]


@pytest.fixture(scope="module")
def governed(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Warehouse:
    root = tmp_path_factory.mktemp("erasure")
    # 98 days: enough for the training set's embargoed time split, which the release
    # refuses to leave empty
    warehouse = build_sample_warehouse(root, backfill_days=97, daily_runs=1, customers=150)
    # the read copy readers use, where the job's environment finds it (WAREHOUSE_DATA_DIR)
    publish_read_copy(warehouse.database, warehouse.root / "warehouse.read.duckdb")
    # Dagster runs in this process; the dbt it starts inherits this environment.
    for name, value in warehouse.env.items():
        if name.startswith(("WAREHOUSE_", "DBT_")):
            monkeypatch_module.setenv(name, value)
    return warehouse


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def person(warehouse: Warehouse, customer_id: str) -> Person:
    """The customer's identifiers, read independently of the code under test: every email
    the lake ever had for them, its pseudonym as dbt computes it, and staging's."""
    lake = warehouse.lake / "customers" / "*" / "*.parquet"
    with duckdb.connect() as connection:
        emails = {
            row[0].strip().lower()
            for row in connection.execute(
                f"select email from read_parquet('{lake}') where customer_id = ? "
                "and email is not null",
                [customer_id],
            ).fetchall()
        }
    with warehouse.connect() as connection:
        staged = {
            row[0]
            for row in connection.execute(
                "select email_pseudonym from staging.stg_shop__customers where customer_id = ?",
                [customer_id],
            ).fetchall()
        }
    computed = {hashlib.sha256((SALT + email).encode()).hexdigest() for email in emails}
    assert emails and staged and staged <= computed, "pseudonyms are sha256(salt || email)"
    return Person(customer_id, frozenset(emails), frozenset(computed))


def pick_people(warehouse: Warehouse) -> tuple[Person, Person]:
    """A customer with several versions in the history the features read, orders and
    training rows (erased by id),
    and another whose raw records sit in the quarantine (erased by email)."""
    with warehouse.connect() as connection:
        (versioned,) = connection.execute(
            """
            select history.customer_id
            from intermediate.int_customers_known_by_as_of_date as history
            where history.customer_id in (select customer_id from marts.fct_orders)
              and history.customer_id in (select customer_id from ml.ml_training_set)
            group by history.customer_id
            having count(*) >= 2
            order by history.customer_id
            limit 1
            """
        ).fetchone()
        (quarantined,) = connection.execute(
            """
            with sessions as (
                select distinct customer_id, session_id from staging.stg_shop__events
            )
            select sessions.customer_id
            from audit.quarantined_rows as q
            inner join sessions
                on json_extract_string(q.raw_record, '$.session_id') = sessions.session_id
            where sessions.customer_id is not null and sessions.customer_id <> ?
            group by sessions.customer_id
            order by count(*) desc, sessions.customer_id
            limit 1
            """,
            [versioned],
        ).fetchone()
    return person(warehouse, versioned), person(warehouse, quarantined)


def residue(warehouse: Warehouse, needles: list[str]) -> list[str]:
    """Brute force, independent of warehouse.governance: every column of every table
    (the governance tables included) and of every Parquet file under the lake, the exports
    and the DuckLake data, searched for the needles (ids as whole words)."""
    pattern = (
        "(?i)("
        + "|".join(
            rf"\b{re.escape(n)}\b" if re.fullmatch(r"\w+", n) else re.escape(n) for n in needles
        )
        + ")"
    )
    found = []
    read_copy = warehouse.root / "warehouse.read.duckdb"
    for database in (warehouse.database, read_copy):
        with duckdb.connect(str(database), read_only=True) as connection:
            relations = [
                f'"{schema}"."{table}"'
                for schema, table in connection.execute(
                    "select table_schema, table_name from information_schema.tables "
                    "where table_type = 'BASE TABLE'"
                ).fetchall()
            ]
            found += [f"{database.name}: {hit}" for hit in _search(connection, relations, pattern)]
    folders = {
        folder: list((warehouse.root / folder).rglob("*.parquet"))
        for folder in ("lake", "exports", "lakehouse")
    }
    assert all(folders.values()), "the scan must see the lake, the exports and the DuckLake files"
    files = [
        f"read_parquet('{path}', hive_partitioning = false)"
        for paths in folders.values()
        for path in paths
    ]
    with duckdb.connect() as connection:
        found += _search(connection, files, pattern)
    return found


def _search(connection: duckdb.DuckDBPyConnection, relations: list[str], pattern: str) -> list:
    found = []
    for relation in relations:
        described = connection.execute(f"describe select * from {relation}").fetchall()
        for column in (row[0] for row in described):
            condition = f'regexp_matches(cast("{column}" as varchar), ?)'
            (hits,) = connection.execute(
                f"select count(*) from {relation} where {condition}", [pattern]
            ).fetchone()
            if hits:
                found.append(f"{relation}.{column}: {hits}")
    return found


def erase(**config: str):
    return defs.resolve_job_def("erase_customer").execute_in_process(
        run_config={"ops": {"erase_customer_everywhere": {"config": config}}},
        instance=DagsterInstance.ephemeral(),
    )


@pytest.mark.slow
def test_an_erased_customer_is_gone_from_every_table_and_file(governed: Warehouse) -> None:
    by_id, by_email = pick_people(governed)
    needles = by_id.needles() + by_email.needles()
    before = residue(governed, needles)
    assert any(hit.startswith("warehouse.read.duckdb") for hit in before), "and in the read copy"
    with governed.connect() as connection:
        versions_before = connection.execute(
            "select version_id, dataset_name, as_of_date from ml.ml_dataset_versions"
        ).fetchall()
        snapshot_versions = connection.execute(
            "select count(*) from snapshots.snap_customers where customer_id = ?",
            [by_id.customer_id],
        ).fetchone()[0]

    first = erase(
        customer_id=by_id.customer_id, request_reference="DSR-1", requested_by="privacy-office"
    )
    with governed.connect() as connection:
        versions_between = connection.execute(
            "select version_id from ml.ml_dataset_versions"
        ).fetchall()
    second = erase(
        email=sorted(by_email.emails)[0].upper(),  # found whatever the case
        request_reference="DSR-2",
        requested_by="privacy-office",
    )
    assert first.success and second.success

    assert residue(governed, needles) == []

    with governed.connect() as connection:
        log = connection.execute(
            "select request_reference, requested_by, executed_by, identified_by, status, "
            "customers_erased, rows_removed, ducklake_snapshots_expired, "
            "versions_not_reproducible from audit.erasure_log order by started_at"
        ).fetchall()
        affected = connection.execute(
            "select request_reference, list(version_id) from audit.erasure_affected_versions "
            "join audit.erasure_log using (erasure_id) group by 1"
        ).fetchall()
        (unaccounted,) = connection.execute(
            "select sum(abs(unaccounted_rows)) from audit.row_count_reconciliation"
        ).fetchone()
        versions_after = connection.execute(
            "select version_id from ml.ml_dataset_versions"
        ).fetchall()
    assert [row[:6] for row in log] == [
        (
            "DSR-1",
            "privacy-office",
            f"dagster run {first.run_id[:8]}",
            "customer_id",
            "completed",
            1,
        ),
        ("DSR-2", "privacy-office", f"dagster run {second.run_id[:8]}", "email", "completed", 1),
    ]
    removed_by_id, removed_by_email = (json.loads(row[6]) for row in log)
    assert removed_by_id["snapshots.snap_customers"] == snapshot_versions >= 1
    # several versions: the history the features read, rebuilt from the lake (the snapshots
    # of a long backfill and one daily run hold mostly one version per customer)
    assert removed_by_id["intermediate.int_customers_known_by_as_of_date"] >= 2
    for place in (
        "lake/customers",
        "lake/orders",
        "lake/events",
        "staging.stg_shop__customers",
        "marts.fct_orders",
        "ml.ml_customer_features",
        "ml.ml_training_set",
        "exports/training_set",
    ):
        assert removed_by_id[place] > 0, place
    assert removed_by_email["audit.quarantined_rows"] > 0
    assert json.loads(log[0][7]), "the DuckLake snapshots that held the customer are expired"
    assert unaccounted == 0, "the reconciliation still balances"

    # Every version built before the first erasure held its customer (in the training set
    # on every date): none is exactly reproducible any more. The second erasure marks the
    # versions that held its customer, among them some the first one's rebuild registered;
    # the versions registered by the last rebuild are reproducible.
    before = {row[0] for row in versions_before}
    between = {row[0] for row in versions_between}
    after = {row[0] for row in versions_after}
    marked = {reference: set(ids) for reference, ids in affected}
    assert marked["DSR-1"] == before == set(json.loads(log[0][8]))
    assert marked["DSR-2"] and marked["DSR-2"] <= between
    assert marked["DSR-2"] == set(json.loads(log[1][8]))
    assert between - before and after - between, "each rebuild registered new versions"
    assert not (after - between) & (marked["DSR-1"] | marked["DSR-2"])
    listed = run_datasets(governed.env, "list").stdout
    for version_id in before:
        assert re.search(rf"{version_id} .*not exactly reproducible since erasure", listed)

    # The oldest version is the only one of its date: rebuilding it from history gives
    # another fingerprint now, and the CLI says why.
    version_id, dataset, as_of = min(versions_before, key=lambda row: row[2])
    rebuilt = run_datasets(governed.env, "rebuild", f"--dataset={dataset}", f"--as-of={as_of}")
    assert rebuilt.returncode == 1 and "DIFFERENT" in rebuilt.stdout
    assert f"version {version_id} is not exactly reproducible since erasure" in rebuilt.stdout


def test_a_crafted_identifier_is_refused_before_anything_runs(tmp_path) -> None:
    for bad, message in (
        ({"customer_id": "C0000001' or 1=1 --"}, "one plain identifier"),
        ({"email": "x@example.com'; drop table audit.erasure_log; --"}, "one plain email"),
        ({"email": "o'brien@example.com; rm -rf /"}, "one plain email"),
        ({"customer_id": "C0000001", "email": "a@example.com"}, "exactly one"),
        ({"customer_id": "C0000001", "requested_by": "jane.doe@example.com"}, "no email"),
        (
            {"customer_id": "C0000001", "request_reference": "jane.doe@example.com, please"},
            "ticket id",
        ),
    ):
        config = {"request_reference": "DSR-3", "requested_by": "privacy-office", **bad}
        with pytest.raises(ValueError, match=message):
            EraseCustomerConfig(**config)
    # An id of another format than the sources YAML declares for the subject key (its
    # subject_id_pattern) is refused before the warehouse is opened.
    request = EraseCustomerConfig(
        customer_id="0000001", request_reference="DSR-3", requested_by="privacy-office"
    ).request("check")
    with pytest.raises(SubjectError, match=re.escape("subject_id_pattern: C[0-9]{7}")):
        Erasure(request, database=tmp_path / "none.duckdb", lake=tmp_path / "lake")
