"""Alerts to the team: one webhook for every kind, the Slack-style incoming webhook that
`make monitor` gives `edr monitor` and the Dagster run failure sensor posts to.

WAREHOUSE_ALERT_WEBHOOK is its URL. Unset (a laptop, CI), nothing leaves the machine: each
alert is kept as a JSON file, as the local webhook `make monitor` serves keeps edr's
(monitoring/monitor.py), under <WAREHOUSE_MONITORING_DIR>/run_failures/.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitoring import monitor

WEBHOOK_VARIABLE = "WAREHOUSE_ALERT_WEBHOOK"
TIMEOUT_SECONDS = 10


def alert_webhook() -> str | None:
    return os.environ.get(WEBHOOK_VARIABLE) or None


def offline_folder() -> Path:
    return monitor.Paths.from_env().out / "run_failures"


def send_alert(text: str, details: Mapping[str, Any]) -> str:
    """Post {"text": text, "details": details} to the webhook, or keep it offline; returns
    where it went. A webhook that refuses it raises (urllib's HTTPError names the status)."""
    body = json.dumps({"text": text, "details": details}, default=str).encode()
    url = alert_webhook()
    if url:
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
        return url
    folder = offline_folder()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"run-failure-{stamp}-{uuid.uuid4().hex[:6]}.json"
    path.write_bytes(body)
    return str(path)
