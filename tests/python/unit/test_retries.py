"""Retries and alerts, in Dagster's in-process execution: a transient failure (the lock, an
I/O error) is retried and the step then succeeds; a permanent one (a dbt compile error, a
failing blocking check, bad config, a query that cannot bind) fails at the first attempt;
and a failed run's summary (job, step, models, message) reaches the alert webhook.

The test jobs use the project's own pieces (RETRY_POLICY's backoff and retry count with a
short delay, failures_classified, retried_if_transient, dbt_failure, the sensor)."""

import errno
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    Backoff,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    Output,
    RetryPolicy,
    asset,
    build_run_status_sensor_context,
    define_asset_job,
    job,
    op,
)

from monitoring.monitor import local_webhook
from orchestration.alerts import run_failure_alert
from orchestration.definitions import defs
from orchestration.lib.dbt_build import dbt_failure
from orchestration.lib.retries import RETRY_POLICY, failures_classified, retried_if_transient
from orchestration.lib.warehouse_lock import locked_failure
from warehouse.alerts import WEBHOOK_VARIABLE

FAST = RetryPolicy(max_retries=RETRY_POLICY.max_retries, delay=0.01, backoff=RETRY_POLICY.backoff)
LOCK_DETAIL = (
    'IO Error: Could not set lock on file "/tmp/w.duckdb": Conflicting lock is held in '
    "/usr/bin/python3 (PID 42)"
)


def run_results(folder: Path, *results: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run_results.json").write_text(json.dumps({"results": list(results)}))
    return folder


def compile_error(folder: Path) -> Exception:
    target = run_results(
        folder,
        {
            "unique_id": "model.ml_warehouse.stg_shop__orders",
            "status": "error",
            "message": "Compilation Error in model stg_shop__orders: 'utc_timestamp' is undefined",
        },
        {"unique_id": "model.ml_warehouse.fct_orders", "status": "skipped", "message": None},
    )
    return dbt_failure(target, RuntimeError("dbt build failed"))


def io_error(folder: Path) -> Exception:
    target = run_results(
        folder,
        {
            "unique_id": "model.ml_warehouse.stg_shop__events",
            "status": "error",
            "message": "Runtime Error IO Error: Could not read from file 'x.parquet': "
            "Input/output error",
        },
    )
    return dbt_failure(target, RuntimeError("dbt build failed"))


TRANSIENT: dict[str, Callable[[Path], Exception]] = {
    "lock held (DuckDB)": lambda _: duckdb.IOException(LOCK_DETAIL),
    "lock held (the step's own check)": lambda tmp: locked_failure(tmp / "w.duckdb", LOCK_DETAIL),
    "I/O error (OS)": lambda _: OSError(errno.EIO, "Input/output error"),
    "I/O error (dbt)": io_error,
}
PERMANENT: dict[str, Callable[[Path], Exception]] = {
    "dbt compile error": compile_error,
    "query that cannot bind": lambda _: duckdb.BinderException("Referenced column x not found"),
    "a bug": lambda _: KeyError("version_id"),
    "missing file": lambda _: FileNotFoundError(errno.ENOENT, "No such file", "x.parquet"),
}


def asset_job_failing_once(error: Exception):
    """A job like the daily build (an asset step under the retry policy) whose step raises
    `error` on its first attempt only."""

    @asset
    def flaky(context) -> int:
        with failures_classified():
            if context.retry_number == 0:
                raise error
        return 1

    flaky_job = define_asset_job("flaky_assets", selection=[flaky], op_retry_policy=FAST)
    return Definitions(assets=[flaky], jobs=[flaky_job]).resolve_job_def("flaky_assets")


def op_job_failing_once(error: Exception):
    """A job like the dataset rebuild (an op without a policy, asking for its retries)."""

    @op
    def flaky_op(context) -> int:
        with retried_if_transient(context, FAST):
            if context.retry_number == 0:
                raise error
        return 1

    @job
    def flaky_ops():
        flaky_op()

    return flaky_ops


def retries(result) -> int:
    return sum(
        event.event_type == DagsterEventType.STEP_UP_FOR_RETRY for event in result.all_events
    )


def test_the_build_jobs_carry_an_exponential_retry_policy() -> None:
    assert RETRY_POLICY.backoff == Backoff.EXPONENTIAL
    assert RETRY_POLICY.max_retries >= 1
    assert RETRY_POLICY.delay and RETRY_POLICY.delay > 0
    for name in ("daily_warehouse_build", "dataset_release", "source_freshness"):
        assert defs.resolve_job_def(name).op_retry_policy == RETRY_POLICY


@pytest.mark.parametrize("build", [asset_job_failing_once, op_job_failing_once])
@pytest.mark.parametrize("make_error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transient_failure_is_retried_and_the_step_succeeds(
    tmp_path: Path, build, make_error
) -> None:
    result = build(make_error(tmp_path)).execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    assert retries(result) == 1


@pytest.mark.parametrize("build", [asset_job_failing_once, op_job_failing_once])
@pytest.mark.parametrize("make_error", PERMANENT.values(), ids=PERMANENT.keys())
def test_a_permanent_failure_is_not_retried(tmp_path: Path, build, make_error) -> None:
    result = build(make_error(tmp_path)).execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert retries(result) == 0
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "not retried" in (failure.step_failure_data.user_failure_data.description or "")


def test_a_failing_blocking_check_is_not_retried() -> None:
    @asset(check_specs=[AssetCheckSpec("quantities_positive", asset="order_lines", blocking=True)])
    def order_lines():
        yield Output(1)
        yield AssetCheckResult(check_name="quantities_positive", passed=False)

    checked = define_asset_job("checked", selection=[order_lines], op_retry_policy=FAST)
    result = (
        Definitions(assets=[order_lines], jobs=[checked])
        .resolve_job_def("checked")
        .execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    assert retries(result) == 0


def test_bad_config_is_not_retried() -> None:
    result = defs.resolve_job_def("dataset_rebuild").execute_in_process(
        run_config={"ops": {"rebuild_dataset_version": {"config": {"as_of": "2026-13-01"}}}},
        raise_on_error=False,
        instance=DagsterInstance.ephemeral(),
    )
    assert not result.success
    assert retries(result) == 0


def alert_for(result, instance: DagsterInstance) -> None:
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    run_failure_alert(context)


def posted(folder: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def test_a_failed_run_posts_job_step_model_and_message_to_the_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = compile_error(tmp_path / "target")

    @op
    def dbt_step() -> None:
        raise failing

    @job
    def nightly_build():
        dbt_step()

    instance = DagsterInstance.ephemeral()
    result = nightly_build.execute_in_process(instance=instance, raise_on_error=False)
    with local_webhook(tmp_path / "webhook") as url:
        monkeypatch.setenv(WEBHOOK_VARIABLE, url)
        alert_for(result, instance)
    (alert,) = posted(tmp_path / "webhook")
    (step,) = alert["details"]["steps"]
    assert alert["details"]["job"] == "nightly_build"
    assert step["step"] == "dbt_step"
    assert step["models"] == ["stg_shop__orders"]
    assert "Compilation Error in model stg_shop__orders" in step["message"]
    assert "'utc_timestamp'" not in step["message"]  # a quoted value is masked
    assert "nightly_build" in alert["text"] and "stg_shop__orders" in alert["text"]


def test_a_blocking_check_failure_names_the_model_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @asset(check_specs=[AssetCheckSpec("quantities_positive", asset="order_lines", blocking=True)])
    def order_lines():
        yield Output(1)
        yield AssetCheckResult(check_name="quantities_positive", passed=False)

    instance = DagsterInstance.ephemeral()
    result = (
        Definitions(assets=[order_lines], jobs=[define_asset_job("lines", [order_lines])])
        .resolve_job_def("lines")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    monkeypatch.delenv(WEBHOOK_VARIABLE, raising=False)
    monkeypatch.setenv("WAREHOUSE_MONITORING_DIR", str(tmp_path / "monitoring"))
    alert_for(result, instance)  # no webhook set: kept offline
    (alert,) = posted(tmp_path / "monitoring" / "run_failures")
    (step,) = alert["details"]["steps"]
    assert step["models"] == ["order_lines (check quantities_positive)"]
    assert "blocking asset check" in step["message"]
