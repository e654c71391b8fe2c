"""Erasure in a hostile lake, from the command line: files the warehouse cannot read, a
folder whose date is no date, two accounts linked by a phone, a read copy, and an attempt
that fails half-way and is run again. Afterwards no file under the test's data folder
(lake, warehouse, read copy, exports, DuckLake), its logs/, target/ or Dagster home holds
any value of the person or a pseudonym of one.

Everything expected is what this module planted: four customers, each with orders and
events and an email and a phone no other customer has, chosen from the generated lake;
then Quinn is given Pat's phone (linked accounts: erasing Pat by email erases Quinn too),
Sam's email becomes O'Brien@Example.com, and Rene shares hostile files with Pat and must
keep every row.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, Warehouse, build_and_publish, run_generator, warehouse_env

from generator.lake import write_parquet

pytestmark = pytest.mark.slow

SALT = os.environ["WAREHOUSE_PII_SALT"]  # set by conftest.py for the whole suite
APOSTROPHE_EMAIL = "O'Brien@Example.com"
BAD_DAY = "ingest_date=2026-13-45"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    email: str  # lower(trim()), as planted
    phone: str
    order_ids: tuple[str, ...]


@dataclass(frozen=True)
class World:
    root: Path
    env: dict[str, str]
    lake: Path
    database: Path
    read_copy: Path
    pat: Customer
    quinn: Customer  # shares Pat's phone
    rene: Customer  # a bystander in Pat's hostile files
    sam: Customer  # O'Brien
    day: str  # the last landing folder, where the hostile files land
    hostile: dict[str, Path]


def pseudonym(value: str) -> str:
    return hashlib.sha256((SALT + value.strip().lower()).encode()).hexdigest()


def rows_of(lake: Path, table: str) -> str:
    return f"read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = false)"


def pick_customers(lake: Path) -> list[str]:
    """Customers with orders and events, one email and one phone each that no other
    customer has (so nothing but what this module plants links them)."""
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"""
            with c as (
                select customer_id, lower(trim(email)) as email, lower(trim(phone)) as phone
                from {rows_of(lake, "customers")}
            ),
            shared_email as (
                select email from c group by email having count(distinct customer_id) > 1
            ),
            shared_phone as (
                select phone from c group by phone having count(distinct customer_id) > 1
            )
            select customer_id from c
            where customer_id in (select customer_id from {rows_of(lake, "orders")})
              and customer_id in (select customer_id from {rows_of(lake, "events")})
            group by customer_id
            having count(distinct email) = 1 and count(distinct phone) = 1
               and count(*) = count(email) and count(*) = count(phone)
               and not bool_or(email in (select email from shared_email))
               and not bool_or(phone in (select phone from shared_phone))
            order by customer_id
            limit 4
            """
        ).fetchall()
    assert len(rows) == 4, "the sample lake has four customers with their own email and phone"
    return [row[0] for row in rows]


def rewrite_customers(lake: Path, customer_id: str, column: str, value: str) -> None:
    """Every lake row of the customer gets `value` in `column` (the file's writer kept)."""
    for path in sorted((lake / "customers").glob("*/*.parquet")):
        table = pq.ParquetFile(path).read()
        mine = pc.equal(table["customer_id"], customer_id)
        if not pc.any(mine).as_py():
            continue
        index = table.column_names.index(column)
        changed = pc.if_else(mine, pa.scalar(value, table[column].type), table[column])
        write_parquet(table.set_column(index, column, changed), path)


def customer(lake: Path, customer_id: str) -> Customer:
    with duckdb.connect() as connection:
        (email, phone) = connection.execute(
            f"select any_value(lower(trim(email))), any_value(lower(trim(phone))) "
            f"from {rows_of(lake, 'customers')} where customer_id = ?",
            [customer_id],
        ).fetchone()
        orders = connection.execute(
            f"select distinct order_id from {rows_of(lake, 'orders')} where customer_id = ? "
            "order by 1",
            [customer_id],
        ).fetchall()
    return Customer(customer_id, email, phone, tuple(row[0] for row in orders))


def plant_hostile_files(
    world_lake: Path, day: str, pat: Customer, quinn: Customer, rene: Customer
) -> dict[str, Path]:
    """The quarantine's kinds of file, each holding Pat (or Quinn) and Rene."""
    customers, orders = world_lake / "customers" / day, world_lake / "orders" / day
    hostile = {}
    # a gzip'd CSV named .parquet
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["customer_id", "email", "phone", "first_name"])
    writer.writerow([pat.customer_id, pat.email, pat.phone, "Pat"])
    writer.writerow([rene.customer_id, rene.email, rene.phone, "Rene"])
    hostile["gzip"] = customers / "feed-gzip.parquet"
    hostile["gzip"].write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    # Parquet whose footer never arrived (uncompressed, so its values are plainly there)
    with duckdb.connect() as connection:
        their_orders = connection.execute(
            f"select * from {rows_of(world_lake, 'orders')} where customer_id in (?, ?)",
            [pat.customer_id, rene.customer_id],
        ).to_arrow_table()
    hostile["truncated"] = orders / "feed-truncated.parquet"
    pq.write_table(their_orders, hostile["truncated"], compression="none")
    whole = hostile["truncated"].read_bytes()
    hostile["truncated"].write_bytes(whole[: len(whole) - 24])
    # text that is not UTF-8 (Pat's first name), beside Quinn's and Rene's rows
    first_names = pa.array([b"Pa\xfft", b"Quinn", b"Rene"], pa.binary()).view(pa.string())
    hostile["utf8"] = customers / "feed-latin1.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": [pat.customer_id, quinn.customer_id, rene.customer_id],
                "email": [pat.email, quinn.email, rene.email],
                "phone": [pat.phone, pat.phone, rene.phone],
                "first_name": first_names,
            }
        ),
        hostile["utf8"],
        compression="none",
    )
    # a folder whose date is no date
    hostile["bad_day"] = world_lake / "customers" / BAD_DAY / "part-0.parquet"
    hostile["bad_day"].parent.mkdir()
    pq.write_table(
        pa.table(
            {
                "customer_id": [pat.customer_id, rene.customer_id],
                "email": [pat.email.upper(), rene.email],
                "phone": [pat.phone, rene.phone],
            }
        ),
        hostile["bad_day"],
    )
    return hostile


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("erasure-hostile")
    env = warehouse_env(root)
    env["DAGSTER_HOME"] = str(root / "dagster_home")
    (root / "dagster_home").mkdir()
    (root / "exports").mkdir()
    lake = root / "lake"
    # 98 days: the training set's embargoed time split must not be empty
    run_generator(
        "generate",
        "--seed=11",
        "--customers=120",
        "--start-date=2026-03-01",
        "--days=98",
        "--plan-days=98",
        f"--out={lake}",
    )
    pat_id, quinn_id, rene_id, sam_id = pick_customers(lake)
    pat = customer(lake, pat_id)
    rewrite_customers(lake, quinn_id, "phone", pat.phone)  # Quinn shares Pat's phone
    rewrite_customers(lake, sam_id, "email", APOSTROPHE_EMAIL)
    warehouse = Warehouse(root, lake, root / "warehouse.duckdb", env, 98, 0)
    build_and_publish(warehouse)
    published = subprocess.run(
        [sys.executable, "-m", "warehouse.backup", "read-copy"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert published.returncode == 0, published.stderr
    day = sorted(p.name for p in (lake / "customers").glob("ingest_date=*"))[-1]
    quinn, rene, sam = (customer(lake, c) for c in (quinn_id, rene_id, sam_id))
    hostile = plant_hostile_files(lake, day, pat, quinn, rene)
    return World(
        root, env, lake, root / "warehouse.duckdb", root / "warehouse.read.duckdb",
        pat, quinn, rene, sam, day, hostile,
    )  # fmt: skip


def needles(*people: Customer) -> list[str]:
    values = []
    for person in people:
        values += [person.customer_id, person.email, person.phone, *person.order_ids]
        values += [pseudonym(person.email), pseudonym(person.phone)]
    return sorted(set(values))


def erase(world: World, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warehouse.governance.erasure", *args],
        cwd=REPO_ROOT,
        env={**world.env, **env},
        capture_output=True,
        text=True,
    )


# -- an independent scan: every file, by what it is ---------------------------------------
def _sql_pattern(values: list[str]) -> str:
    parts = []
    for value in values:
        escaped = "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in value)
        parts.append(rf"\b{escaped}\b" if re.fullmatch(r"\w+", value) else escaped)
    return "(?i)(" + "|".join(parts) + ")"


def _scan_database(path: Path, pattern: str) -> list[str]:
    found = []
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute(
            "select database_name, schema_name, table_name from duckdb_tables()"
        ).fetchall()
        for catalog, schema, table in tables:
            relation = f'"{catalog}"."{schema}"."{table}"'
            for (column,) in connection.execute(
                f"select column_name from (describe {relation})"
            ).fetchall():
                (hits,) = connection.execute(
                    f"select count(*) from {relation} "
                    f'where regexp_matches(cast("{column}" as varchar), ?)',
                    [pattern],
                ).fetchone()
                if hits:
                    found.append(f"{path}: {schema}.{table}.{column}")
    return found


def _scan_parquet(path: Path, pattern: str) -> list[str] | None:
    """The columns holding a value, or None when DuckDB cannot read the file."""
    relation = f"read_parquet('{path}', hive_partitioning = false)"
    found = []
    with duckdb.connect() as connection:
        try:
            for (column,) in connection.execute(
                f"select column_name from (describe select * from {relation})"
            ).fetchall():
                (hits,) = connection.execute(
                    f"select count(*) from {relation} "
                    f'where regexp_matches(cast("{column}" as varchar), ?)',
                    [pattern],
                ).fetchone()
                if hits:
                    found.append(f"{path}: {column}")
        except duckdb.Error:
            return None
    return found


def scan_everything(root: Path, values: list[str]) -> list[str]:
    """Every file under the root: DuckDB databases through SQL (their free pages are the
    documented exception), Parquet DuckDB reads through SQL, every other file as bytes
    and, if gzip'd, as what it holds."""
    pattern = _sql_pattern(values)
    raw = re.compile(b"|".join(re.escape(v.encode()) for v in values), re.IGNORECASE)
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data[8:12] == b"DUCK":
            found += _scan_database(path, pattern)
            continue
        if path.suffix == ".parquet":
            hits = _scan_parquet(path, pattern)
            if hits is not None:
                found += hits
                continue
        layers = [data]
        if data.startswith(b"\x1f\x8b"):
            layers.append(gzip.decompress(data))
        if any(raw.search(layer) for layer in layers):
            found.append(f"{path}: bytes")
    return found


def log_rows(database: Path, reference: str) -> list[dict]:
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(
            "select * from audit.erasure_log where request_reference = ? order by started_at",
            [reference],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_a_failed_erasure_of_linked_accounts_is_finished_by_its_retry(world: World) -> None:
    pat, quinn, rene = world.pat, world.quinn, world.rene
    values = needles(pat, quinn)
    before = scan_everything(world.root, values)
    for place in (
        f"{world.database}: marts.fct_orders",
        f"{world.read_copy}: marts.fct_orders",
        f"{world.hostile['gzip']}: bytes",
        f"{world.hostile['truncated']}: bytes",
        str(world.hostile["utf8"]),  # DuckDB cannot read it: its bytes
        f"{world.hostile['bad_day']}: email",
    ):
        assert any(hit.startswith(place) for hit in before), place
    with duckdb.connect(str(world.database), read_only=True) as connection:
        (quinn_orders,) = connection.execute(
            "select count(*) from marts.fct_orders where customer_id = ?", [quinn.customer_id]
        ).fetchone()
    assert quinn_orders == len(quinn.order_ids) > 0

    # Half-way: a bad setting stops dbt's rebuild, after the warehouse and the lake lost
    # the people.
    request = ("--email", pat.email.upper(), "--reference", "DSR-77", "--requested-by", "dpo")
    failed = erase(world, *request, WAREHOUSE_WINDOW_MAX_DATE="2026-02-30")
    output = failed.stdout + failed.stderr
    assert failed.returncode == 2, output
    assert "failed at step 'rebuild'" in failed.stderr
    assert "Traceback" not in output
    assert not [v for v in values if v.lower() in output.lower()], "no value in any message"
    [first] = log_rows(world.database, "DSR-77")
    assert (first["status"], first["step"], first["customers_erased"]) == ("failed", "rebuild", 2)
    assert first["subjects"], "the people are kept for the retry"
    with duckdb.connect() as connection:  # nothing of them left in the lake's rows
        (left,) = connection.execute(
            f"select count(*) from {rows_of(world.lake, 'orders')} where customer_id in (?, ?)",
            [pat.customer_id, quinn.customer_id],
        ).fetchone()
    assert left == 0

    retried = erase(world, *request)
    output = retried.stdout + retried.stderr
    assert retried.returncode == 0, output
    assert ": completed; 2 customer(s)" in retried.stdout
    assert not [v for v in values if v.lower() in output.lower()]
    first, second = log_rows(world.database, "DSR-77")
    assert (first["status"], second["status"]) == ("failed", "completed")
    assert first["subjects"] is None and second["subjects"] is None
    removed = json.loads(first["files_removed"]) + json.loads(second["files_removed"])
    assert removed == [f"orders/{world.day}/feed-truncated.parquet"]

    assert scan_everything(world.root, values) == []

    # Rene, in the same hostile files, lost nothing.
    assert not world.hostile["truncated"].exists()
    lines = gzip.decompress(world.hostile["gzip"].read_bytes()).decode().splitlines()
    assert lines == [
        "customer_id,email,phone,first_name",
        f"{rene.customer_id},{rene.email},{rene.phone},Rene",
    ]
    for name in ("utf8", "bad_day"):
        kept = pq.ParquetFile(world.hostile[name]).read()
        assert kept["customer_id"].to_pylist() == [rene.customer_id], name
    for database in (world.database, world.read_copy):
        with duckdb.connect(str(database), read_only=True) as connection:
            (orders,) = connection.execute(
                "select count(*) from marts.fct_orders where customer_id = ?", [rene.customer_id]
            ).fetchone()
        assert orders == len(rene.order_ids), database


def test_a_build_holding_the_lock_gets_the_clear_refusal(world: World) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "connection = duckdb.connect(sys.argv[1])\n"
            "print('holding', flush=True)\n"
            "time.sleep(300)\n",
            str(world.database),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        refused = erase(
            world, "--customer-id", world.sam.customer_id, "--reference", "DSR-78",
            "--requested-by", "dpo",
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2
    assert (
        f"The warehouse {world.database} is being written by another process, so this "
        "erasure was refused before writing anything" in refused.stderr
    )
    assert f"(PID {holder.pid})" in refused.stderr
    assert "Traceback" not in output and "IOException" not in output
    assert log_rows(world.database, "DSR-78") == []


def test_an_address_with_an_apostrophe_is_erased_by_email(world: World) -> None:
    sam = world.sam
    assert sam.email == APOSTROPHE_EMAIL.lower()
    erased = erase(
        world, "--email", "o'brien@example.com", "--reference", "DSR-79", "--requested-by", "dpo"
    )
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert ": completed; 1 customer(s)" in erased.stdout
    [row] = log_rows(world.database, "DSR-79")
    assert (row["status"], row["identified_by"]) == ("completed", "email")
    assert scan_everything(world.root, needles(sam)) == []
