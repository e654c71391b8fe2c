"""ML-ready tables: no leakage, no training-serving skew, stable splits, a real consumer."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from conftest import Warehouse, run_datasets, run_dbt, warehouse_env
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from warehouse.fingerprint import fingerprint

LABEL_HORIZON_DAYS = 30


def copy_of(warehouse: Warehouse, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse.database, database)
    env = warehouse_env(warehouse.root)
    env.update(
        WAREHOUSE_DUCKDB_PATH=str(database),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        WAREHOUSE_EXPORTS_DIR=str(tmp_path / "exports"),
    )
    return database, env


def serving_columns(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ml' and table_name = 'ml_customer_features_latest' "
            "order by ordinal_position"
        ).fetchall()
    ]


def test_training_and_serving_features_are_equal_on_their_shared_as_of_date(
    warehouse: Warehouse,
) -> None:
    with warehouse.connect() as connection:
        columns = ", ".join(serving_columns(connection))
        (as_of,) = connection.execute(
            "select distinct as_of_date from ml.ml_customer_features_latest"
        ).fetchone()
        serving = fingerprint(connection, f"(select {columns} from ml.ml_customer_features_latest)")
        training = fingerprint(
            connection,
            f"(select {columns} from ml.ml_customer_features where as_of_date = '{as_of}')",
        )
    assert int(serving.split(":")[0]) > 0
    assert serving == training


FEATURE_GROUPS = (
    "ml_customer_population",
    "ml_customer_features__attributes",
    "ml_customer_features__orders",
    "ml_customer_features__sessions",
    "ml_customer_features__categories",
    "ml_customer_features__returns",
    "ml_customer_features",
)


def plant_canaries(
    connection: duckdb.DuckDBPyConnection, as_of: date, customers: list[str]
) -> None:
    """Records of every input a feature group reads, each either valid at the as-of moment
    (00:00 of `as_of`) but landed before it, or valid before it but landed on it."""
    day_before = as_of - timedelta(days=1)
    canaries = [
        # (suffix, valid time, ingest date): at the as-of moment / landed on the as-of date
        ("at", f"{as_of} 00:00:00", day_before),
        ("late", f"{day_before} 12:00:00", as_of),
    ]
    for n, customer_id in enumerate(customers):
        for suffix, at, ingested in canaries:
            order_id = f"CANARY-{suffix}-{n}"
            connection.execute(
                """
                insert into marts.fct_orders (order_id, customer_id, placed_at, placed_date,
                    channel, order_status, line_count, unit_count, currency_code,
                    gross_amount, gross_amount_eur, first_ingest_date, last_ingest_date)
                values (?, ?, ?::timestamp, ?::timestamp::date, 'web', 'delivered', 1, 1,
                    'EUR', 99, 99, ?, ?)
                """,
                [order_id, customer_id, at, at, ingested, ingested],
            )
            connection.execute(
                """
                insert into staging.stg_shop__order_items (order_id, line_number, product_id,
                    quantity, unit_price, _ingest_date)
                values (?, 1, 'P00001', 5, 99, ?)
                """,
                [order_id, ingested],
            )
            for status in ("delivered", "returned"):
                connection.execute(
                    """
                    insert into staging.stg_shop__orders (order_id, customer_id, status,
                        placed_at, status_at, channel, currency_code, _ingest_date)
                    values (?, ?, ?, ?::timestamp, ?::timestamp, 'web', 'EUR', ?)
                    """,
                    [order_id, customer_id, status, at, at, ingested],
                )
            connection.execute(
                """
                insert into staging.stg_shop__events (event_id, session_id, customer_id,
                    event_type, event_at, product_id, _ingest_date)
                values (?, ?, ?, 'add_to_cart', ?::timestamp, 'P00001', ?)
                """,
                [order_id, order_id, customer_id, at, ingested],
            )
            # half the customers change segment, the other half are deleted
            connection.execute(
                """
                insert into staging.stg_shop__customers (customer_id, segment, country_code,
                    created_at, updated_at, is_deleted, _ingest_date)
                values (?, 'canary', 'XX', timestamp '2020-01-01', ?::timestamp, ?, ?)
                """,
                [customer_id, at, n % 2 == 1, ingested],
            )
        # a line of an order known before the as-of date, landed on it
        connection.execute(
            """
            insert into staging.stg_shop__order_items (order_id, line_number, product_id,
                quantity, unit_price, _ingest_date)
            select order_id, 999, 'P00001', 5, 99, ?
            from marts.fct_orders
            where customer_id = ? and placed_at >= ? - interval 30 day and placed_at < ?
            """,
            [as_of, customer_id, as_of, as_of],
        )
    # the catalogue dump landed on the as-of date relabels every product
    connection.execute(
        "update staging.stg_shop__products set raw_category = 'canary' where _ingest_date = ?",
        [as_of],
    )


def test_feature_rows_ignore_records_valid_at_or_landed_on_their_as_of_date(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Leakage canary over every feature group: plant records of every input (orders,
    lines, statuses, events, customer changes and deletions, a relabelled catalogue) valid
    exactly at the as-of moment, or valid before it but landed on the as-of date; no group's
    rows of that date may move, while the next as-of date, which may see them, does."""
    database, env = copy_of(warehouse, tmp_path)

    def group_fingerprints(day: date) -> dict[str, str]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return {
                group: fingerprint(connection, f"(from ml.{group} where as_of_date = '{day}')")
                for group in FEATURE_GROUPS
            }

    with duckdb.connect(str(database)) as connection:
        (as_of,) = connection.execute(
            "select as_of_date from ml.ml_customer_features group by 1 order by 1 limit 1 offset 60"
        ).fetchone()
        customers = [
            row[0]
            for row in connection.execute(
                "select customer_id from ml.ml_customer_features where as_of_date = ? "
                "order by customer_id limit 25",
                [as_of],
            ).fetchall()
        ]
    next_day = as_of + timedelta(days=1)
    before, before_next = group_fingerprints(as_of), group_fingerprints(next_day)
    with duckdb.connect(str(database)) as connection:
        plant_canaries(connection, as_of, customers)
    run_dbt(
        env,
        "run",
        "--select",
        "int_events_aggregated_to_session_parts int_customers_known_by_as_of_date "
        "int_products_versioned",
        *("ml_customer_population", "path:models/ml/features", "ml_customer_features"),
        "--full-refresh",
    )
    after, after_next = group_fingerprints(as_of), group_fingerprints(next_day)
    assert after == before
    moved = {group for group in FEATURE_GROUPS if after_next[group] != before_next[group]}
    assert moved == set(FEATURE_GROUPS), "the canaries never reached these groups: " + ", ".join(
        sorted(set(FEATURE_GROUPS) - moved)
    )


# The customers' attributes as known at each feature row's as-of date, from the raw files:
# clean change records (the key present, updated_at not after the day after its partition)
# valid before D and landed before D; the newest by valid time, then by landing.
KNOWN_ATTRIBUTES_FROM_RAW = """
with raw as (
    select
        customer_id,
        segment,
        country_code,
        marketing_opt_in,
        cast(updated_at as timestamp) as updated_at,
        cast(ingest_date as date) as ingest_date
    from read_parquet($customers, hive_partitioning = true, union_by_name = true)
    where customer_id is not null and updated_at is not null
        and cast(updated_at as timestamp) <= cast(ingest_date as date) + interval 1 day
),
rows as (select customer_id, as_of_date from ml.ml_customer_features),
ranked as (
    select
        rows.customer_id, rows.as_of_date, raw.segment, raw.country_code, raw.marketing_opt_in,
        row_number() over (
            partition by rows.customer_id, rows.as_of_date
            order by raw.updated_at desc, raw.ingest_date desc
        ) as newest
    from rows
    left join raw
        on raw.customer_id = rows.customer_id
        and raw.updated_at < cast(rows.as_of_date as timestamp)
        and raw.ingest_date < rows.as_of_date
)
select customer_id, as_of_date, segment, country_code, marketing_opt_in
from ranked where newest = 1
"""


def test_attributes_are_the_records_known_at_each_date_recomputed_from_the_raw_lake(
    warehouse: Warehouse,
) -> None:
    """The sample is a backfill followed by daily runs, so customers who changed or were
    deleted after an as-of date but before the first build would have lost their attributes
    had the features read the snapshots (which only record what each run saw)."""
    with warehouse.connect() as connection:
        # the changes and deletions that landed after an as-of date, before the first build
        expected = connection.execute(
            KNOWN_ATTRIBUTES_FROM_RAW,
            {"customers": str(warehouse.lake / "customers" / "*/*.parquet")},
        ).fetchall()
        actual = connection.execute(
            "select customer_id, as_of_date, segment, country_code, is_marketing_opt_in "
            "from ml.ml_customer_features"
        ).fetchall()
        (changed_later,) = connection.execute(
            """
            select count(*) from ml.ml_customer_features as features
            where exists (
                select 1 from staging.stg_shop__customers as records
                where records.customer_id = features.customer_id
                    and records._ingest_date >= features.as_of_date
                    and records._ingest_date < $first_build_day
            )
            """,
            {"first_build_day": first_build_day(warehouse)},
        ).fetchone()
    assert changed_later > 0, "no row of a customer who changed within the backfill"
    assert len(actual) == len(expected)
    differences = set(actual) ^ set(expected)
    assert not differences, sorted(differences, key=str)[:10]
    assert all(row[2] is not None for row in actual), "a feature row has no segment"


def first_build_day(warehouse: Warehouse) -> date:
    """The first day the sample warehouse was built on: the day after its backfill."""
    first_day = min(
        date.fromisoformat(folder.name.removeprefix("ingest_date="))
        for folder in (warehouse.lake / "customers").iterdir()
    )
    return first_day + timedelta(days=warehouse.backfill_days)


def test_labels_exist_only_once_their_window_has_passed(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        (last_labelled, knowledge_date) = connection.execute(
            """
            select (select max(as_of_date) from ml.ml_customer_labels),
                   (select max(ingest_date) + 1 from audit.lake_file_inventory)
            """
        ).fetchone()
    assert last_labelled is not None
    assert last_labelled + timedelta(days=LABEL_HORIZON_DAYS) <= knowledge_date
    assert last_labelled + timedelta(days=LABEL_HORIZON_DAYS + 1) > knowledge_date


def test_no_customer_is_in_two_entity_splits(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        (spread,) = connection.execute(
            """
            select count(*) from (
                select customer_id from ml.ml_training_set
                group by customer_id having count(distinct entity_split) > 1
            )
            """
        ).fetchone()
    assert spread == 0


def test_entity_split_proportions_match_configuration_in_every_stratum(
    warehouse: Warehouse,
) -> None:
    configured = {"train": 0.70, "validation": 0.15, "test": 0.15}
    with warehouse.connect() as connection:
        shares = connection.execute(
            """
            with customers as (
                select customer_id, entity_split,
                       arg_min(churned_30d, as_of_date) as first_label
                from ml.ml_training_set group by customer_id, entity_split
            ),
            counted as (
                select first_label, entity_split, count(*) as customers
                from customers group by first_label, entity_split
            )
            select first_label, entity_split,
                   customers / sum(customers) over (partition by first_label) as share
            from counted
            """
        ).fetchall()
    assert {split for _, split, _ in shares} == set(configured)
    for stratum, split, share in shares:
        assert abs(share - configured[split]) <= 0.02, (stratum, split, share)


def test_time_split_orders_train_before_validation_before_test(warehouse: Warehouse) -> None:
    """With an embargo of at least the label horizon between them: no train label window
    reaches the first validation date, no validation one the first test date. The dates in
    those gaps are 'embargoed', in no time split."""
    with warehouse.connect() as connection:
        ranges = dict(
            (split, (low, high))
            for split, low, high in connection.execute(
                "select time_split, min(as_of_date), max(as_of_date) from ml.ml_training_set "
                "group by 1"
            ).fetchall()
        )
    assert set(ranges) == {"train", "validation", "test", "embargoed"}
    embargo = timedelta(days=LABEL_HORIZON_DAYS)
    assert ranges["train"][1] + embargo <= ranges["validation"][0]
    assert ranges["validation"][1] + embargo <= ranges["test"][0]


def test_splits_are_the_same_on_every_run(warehouse: Warehouse, tmp_path: Path) -> None:
    database, env = copy_of(warehouse, tmp_path)
    query = (
        "(select customer_id, as_of_date, time_split, entity_split, time_entity_split "
        "from ml.ml_training_set)"
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        before = fingerprint(connection, query)
    run_dbt(env, "run", "--select", "ml_customer_labels", "ml_training_set")
    with duckdb.connect(str(database), read_only=True) as connection:
        assert fingerprint(connection, query) == before


def test_class_balance_is_reported_per_split(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        balance = connection.execute(
            "select split_scheme, sum(row_count) from ml.ml_training_set_balance group by 1"
        ).fetchall()
        (rows,) = connection.execute("select count(*) from ml.ml_training_set").fetchone()
        (label_balance,) = connection.execute(
            "select label_balance from ml.ml_dataset_versions where dataset_name = 'training_set' "
            "order by built_at desc limit 1"
        ).fetchone()
    assert dict(balance) == {"time": rows, "entity": rows, "time_entity": rows}
    assert set(json.loads(label_balance)) == {"train", "validation", "test"}


def train_and_score(training_rows: list[dict]) -> dict[str, float]:
    """A logistic-regression churn baseline on the numeric features, scored per split."""
    training_rows = sorted(training_rows, key=lambda row: (row["customer_id"], row["as_of_date"]))
    features = [
        name
        for name, value in training_rows[0].items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and name not in {"spend_next_30d_eur"}
    ]

    def matrix(split: str) -> tuple[list[list[float]], list[int]]:
        rows = [row for row in training_rows if row["entity_split"] == split]
        x = [[float(row[name] or 0) for name in features] for row in rows]
        return x, [int(row["churned_30d"]) for row in rows]

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(*matrix("train"))
    metrics = {}
    for split in ("validation", "test"):
        x, y = matrix(split)
        probabilities = model.predict_proba(x)[:, 1]
        metrics[f"{split}_roc_auc"] = round(float(roc_auc_score(y, probabilities)), 12)
        metrics[f"{split}_accuracy"] = round(float(accuracy_score(y, model.predict(x))), 12)
    return metrics


def test_a_baseline_model_trains_on_the_export_and_reproduces_on_a_rebuilt_version(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    exported = (
        ds.dataset(
            warehouse.root / "exports" / "training_set_latest",
            format="parquet",
            partitioning="hive",
        )
        .to_table()
        .to_pylist()
    )
    metrics = train_and_score(exported)
    (tmp_path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    assert metrics["validation_roc_auc"] > 0.5, metrics

    with warehouse.connect() as connection:
        (as_of,) = connection.execute(
            "select as_of_date from ml.ml_dataset_versions where dataset_name = 'training_set' "
            "order by built_at desc limit 1"
        ).fetchone()
    rebuilt_path = tmp_path / "rebuilt.parquet"
    result = run_datasets(
        warehouse.env,
        "rebuild",
        "--dataset=training_set",
        f"--as-of={as_of}",
        f"--output={rebuilt_path}",
    )
    assert "identical" in result.stdout, result.stdout + result.stderr
    assert train_and_score(pq.read_table(rebuilt_path).to_pylist()) == metrics
