"""OpenLineage: where events go, and the validator the Dagster run test relies on.

The events of real dbt steps (valid, nested under their Dagster run, naming every model's
inputs and outputs, with column lineage) are checked in test_dagster_runs.py, on the runs
it makes anyway.
"""

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openlineage.client.serde import Serde
from openlineage.client.transport.file import FileTransport
from openlineage.client.transport.http import HttpTransport
from openlineage.common.provider.dbt import ParentRunMetadata
from openlineage.dbt import dbt_run_event_start
from openlineage_validation import InvalidEvent, run_event

from warehouse import openlineage_events


@pytest.fixture
def no_openlineage_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no openlineage.yml here
    monkeypatch.setenv("HOME", str(tmp_path))
    events = tmp_path / "lineage" / "events.jsonl"
    monkeypatch.setenv("WAREHOUSE_LINEAGE_EVENTS", str(events))
    yield events
    # The OpenLineage client writes the transport it derived from OPENLINEAGE_URL into
    # os.environ itself, where monkeypatch does not see it; left there, it would send the
    # events of later tests in this process to that transport.
    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        del os.environ[name]


def a_start_event() -> dict:
    parent = ParentRunMetadata(
        run_id=str(uuid.uuid4()), job_name="daily_warehouse_build", job_namespace="dagster"
    )
    event = dbt_run_event_start("dbt-build", "ml_warehouse", parent)
    return Serde.to_dict(event)


def test_events_go_to_the_events_file_unless_openlineage_is_configured(
    no_openlineage_settings: Path, monkeypatch: pytest.MonkeyPatch
):
    client = openlineage_events.lineage_client()
    assert isinstance(client.transport, FileTransport)
    client.emit(run_event(a_start_event()))
    client.close(timeout=5)
    assert len(no_openlineage_settings.read_text().splitlines()) == 1

    # OpenLineage's own settings win: OPENLINEAGE_URL sends them to Marquez, DataHub, ...
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:5000")
    assert isinstance(openlineage_events.lineage_client().transport, HttpTransport)


def test_a_lineage_failure_is_a_warning_not_a_failed_build(
    no_openlineage_settings: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING):
        ids = openlineage_events.emit_dbt_lineage(
            Path.cwd(),
            tmp_path / "no-such-target",
            succeeded=True,
            parent_run_id=str(uuid.uuid4()),
            parent_job_name="daily_warehouse_build",
            job_name="daily_warehouse_build.warehouse_models",
        )
    assert ids == {}
    assert "OpenLineage events for" in caplog.text and "were not emitted" in caplog.text
    assert not no_openlineage_settings.exists()


def test_the_validator_accepts_client_events_and_names_what_breaks_the_spec():
    run_event(a_start_event())
    broken = {
        "run id": lambda e: e["run"].update(runId="not-a-uuid"),
        "event time": lambda e: e.update(eventTime="yesterday"),
        "unknown field": lambda e: e["job"].update(owner="me"),
        "facet without producer": lambda e: e["run"]["facets"]["parent"].pop("_producer"),
        "wrong schema URL": lambda e: e["run"]["facets"]["parent"].update(
            _schemaURL="https://openlineage.io/spec/facets/0-0-1/ParentRunFacet.json"
        ),
        "wrong type": lambda e: e["job"].update(name=42),
    }
    for what, breaks in broken.items():
        event = a_start_event()
        breaks(event)
        with pytest.raises(InvalidEvent):
            run_event(event)
            pytest.fail(f"accepted an event with a broken {what}")
