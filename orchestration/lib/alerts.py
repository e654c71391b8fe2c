"""What the alert for a failed run says: its job and run, and for each step that failed the
models it names and its message, with values masked (warehouse/failures.py)."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dagster import DagsterEventType, RunFailureSensorContext

from warehouse.failures import without_values

MESSAGE_LIMIT = 800


@dataclass(frozen=True)
class StepFailure:
    step: str
    models: list[str]
    message: str


@dataclass(frozen=True)
class RunFailureSummary:
    job: str
    run_id: str
    steps: list[StepFailure]
    run_message: str

    def text(self) -> str:
        lines = [f"Dagster run failed: job {self.job}, run {self.run_id[:8]}"]
        for step in self.steps:
            models = ", ".join(step.models) or "none named"
            lines.append(f"- step {step.step}; models: {models}; {step.message}")
        if not self.steps:
            lines.append(f"- {self.run_message}")
        return "\n".join(lines)

    def details(self) -> dict[str, Any]:
        return asdict(self)


def failed_blocking_checks(context: RunFailureSensorContext) -> dict[str, list[str]]:
    """By step key, the blocking checks that failed in it, as '<asset> (check <name>)'."""
    records = context.instance.get_records_for_run(
        run_id=context.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed: dict[str, list[str]] = {}
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if evaluation is None or evaluation.passed or not evaluation.blocking:
            continue
        failed.setdefault(event.step_key or "", []).append(
            f"{evaluation.asset_key.to_user_string()} (check {evaluation.check_name})"
        )
    return failed


def _models(metadata: Mapping[str, Any]) -> list[str]:
    """The `models` a Failure's metadata names (orchestration/lib/dbt_build.py sets it)."""
    value = metadata.get("models")
    names = getattr(value, "value", value)
    return [str(name) for name in names] if isinstance(names, list) else []


def run_failure_summary(context: RunFailureSensorContext) -> RunFailureSummary:
    checks = failed_blocking_checks(context)
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        user = data.user_failure_data
        message = (user.description if user else None) or (data.error.message if data.error else "")
        models = _models(user.metadata if user else {}) or checks.get(event.step_key or "", [])
        steps.append(
            StepFailure(
                step=event.step_key or "",
                models=models,
                message=without_values(message.strip(), MESSAGE_LIMIT),
            )
        )
    return RunFailureSummary(
        job=context.dagster_run.job_name,
        run_id=context.dagster_run.run_id,
        steps=steps,
        run_message=without_values(context.failure_event.message or "", MESSAGE_LIMIT),
    )
