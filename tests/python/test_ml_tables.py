"""ML-ready tables: no leakage, no training-serving skew, stable splits, a real consumer."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from conftest import Warehouse, run_datasets, run_dbt, warehouse_env
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from orchestration.fingerprint import fingerprint

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


def test_feature_rows_ignore_orders_and_events_at_or_after_their_as_of_date(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Leakage canary: plant orders and events exactly at the as-of moment, after it, and
    before it but landed on the as-of date; the feature rows of that date must not move,
    while the next as-of date, which may see them, does."""
    database, env = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(database)) as connection:
        (as_of,) = connection.execute(
            "select as_of_date from ml.ml_customer_features group by 1 order by 1 limit 1 offset 20"
        ).fetchone()
        customers = [
            row[0]
            for row in connection.execute(
                "select customer_id from ml.ml_customer_features where as_of_date = ? "
                "order by customer_id limit 25",
                [as_of],
            ).fetchall()
        ]
        before = fingerprint(
            connection, f"(from ml.ml_customer_features where as_of_date = '{as_of}')"
        )
        next_day = as_of + timedelta(days=1)
        after_next = fingerprint(
            connection, f"(from ml.ml_customer_features where as_of_date = '{next_day}')"
        )
        day_before = as_of - timedelta(days=1)
        canaries = [
            # (suffix, event time, ingest date): at the as-of moment / landed on the as-of date
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
    run_dbt(
        env,
        "run",
        "--select",
        "int_events_aggregated_to_session_parts ml_customer_features",
        "--full-refresh",
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        after = fingerprint(
            connection, f"(from ml.ml_customer_features where as_of_date = '{as_of}')"
        )
        after_next_changed = fingerprint(
            connection, f"(from ml.ml_customer_features where as_of_date = '{next_day}')"
        )
    assert after == before
    assert after_next_changed != after_next, "the canaries never reached any feature row"


def test_labels_exist_only_once_their_window_has_passed(warehouse: Warehouse) -> None:
    with warehouse.connect() as connection:
        (last_labelled, knowledge_date) = connection.execute(
            """
            select (select max(as_of_date) from ml.ml_customer_labels),
                   (select max(_ingest_date) + 1 from staging.stg_shop__orders)
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
