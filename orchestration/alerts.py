"""Alerts: every failed run of the code location's jobs, summarised (job, step, models,
message) and posted to the team's alert webhook (warehouse/alerts.py), the one `make
monitor` gives Elementary; without one, kept as a file under data/monitoring/run_failures/."""

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from orchestration.lib.alerts import run_failure_summary
from warehouse.alerts import send_alert


@run_failure_sensor(
    name="run_failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Posts a summary of each failed run (job, failed steps, the models they name, their "
        "messages with values masked) to WAREHOUSE_ALERT_WEBHOOK, or keeps it under "
        "data/monitoring/run_failures/ when none is set."
    ),
)
def run_failure_alert(context: RunFailureSensorContext) -> None:
    summary = run_failure_summary(context)
    where = send_alert(summary.text(), summary.details())
    context.log.info(f"alert for run {summary.run_id} sent to {where}")


ALERT_SENSORS = [run_failure_alert]
