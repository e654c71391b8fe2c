"""`make monitor`: the warehouse through the monitoring overlay, Elementary's report, alerts.

    python monitoring/monitor.py [--as-of auto|now|YYYY-MM-DD]

1. `dbt build` of the overlay (monitoring/) without the monitors: the warehouse, its own
   tests gating as in `make run`. Elementary's on-run-end hooks store the dbt artifacts and
   every result in the warehouse's `elementary` schema.
2. `dbt test` of the Elementary monitors alone (the `elementary.*` tests declared beside
   the models, switched on by the overlay), so that they observe rather than gate.
3. `edr report` writes the HTML report to <data>/monitoring/elementary_report.html.
4. `edr monitor` sends one alert per failed test. Here the target is a Slack-style webhook
   on 127.0.0.1 that this script serves while edr runs and that writes every message to
   <data>/monitoring/alerts/; in production edr gets the team's Slack webhook instead.

Without the overlay's packages (they come from dbt Hub), it runs `dbt deps` when dbt Hub is
reachable; otherwise it says in one line that monitoring is off and why, and exits 0.
Exit status 1 when a test failed or errored (after the report and alerts are written).

The clock: Elementary judges the days before "now". A generated sample may end on any day,
so on a lake written by the generator (it has _generator/params.json) the monitors judge it
as of the morning after its last landed day, as that day's run would have (`--as-of auto`:
the overlay's var custom_run_started_at, from WAREHOUSE_MONITORING_CLOCK); `--as-of now`
keeps the real clock, the default on any other lake.

DuckDB allows one writer: run it when nothing else (Dagster, `make run`) writes the
warehouse. edr writes too (its alert tables), after dbt has finished. Paths come from the
same environment variables as the rest of the project (docs/configuration.md), plus
WAREHOUSE_MONITORING_DIR (default <data>/monitoring) for the report and alerts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warehouse.code_version import git_commit
from warehouse.duckdb_lock import writable

REPO_ROOT = Path(__file__).resolve().parent.parent
OVERLAY = REPO_ROOT / "monitoring"
EDR_CONFIG = OVERLAY / "edr" / "config.yml"
BIN = Path(sys.executable).parent
HUB_URL = "https://hub.getdbt.com/api/v1/index.json"
INSTALL_DOC = "monitoring/install_packages_offline.md"
#: dbt_packages of the overlay (packages.yml) and of edr's internal dbt project.
OVERLAY_PACKAGES = ("elementary", "dbt_utils", "ml_warehouse")
EDR_PACKAGES = ("elementary", "dbt_utils")
REPORT_NAME = "elementary_report.html"
#: Every Elementary test carries this tag (set by the test macros themselves).
MONITORS = "tag:elementary-tests"


def edr_project() -> Path:
    """edr's internal dbt project, in site-packages (found without importing elementary)."""
    spec = importlib.util.find_spec("elementary")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("elementary-data is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations))) / "monitor" / "dbt_project"


def missing_packages() -> list[str]:
    """Packages that `dbt deps` would install and that are not there, as readable paths."""
    missing = [
        f"monitoring/dbt_packages/{name}"
        for name in OVERLAY_PACKAGES
        if not (OVERLAY / "dbt_packages" / name / "dbt_project.yml").is_file()
    ]
    try:
        internal = edr_project()
    except RuntimeError:
        return [*missing, "elementary-data (the edr CLI)"]
    missing += [
        f"edr's dbt_packages/{name}"
        for name in EDR_PACKAGES
        if not (internal / "dbt_packages" / name / "dbt_project.yml").is_file()
    ]
    return missing


def hub_reachable(timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(HUB_URL, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def off_message(missing: list[str]) -> str:
    return (
        f"Monitoring (Elementary) is off: {', '.join(missing)} missing and dbt Hub "
        f"({HUB_URL.split('/')[2]}) unreachable, so `dbt deps` cannot install them "
        f"(see {INSTALL_DOC})."
    )


def install_packages() -> None:
    """`dbt deps` for the overlay and for edr's internal project (needs dbt Hub)."""
    for project in (OVERLAY, edr_project()):
        subprocess.run(
            [str(BIN / "dbt"), "deps", "--project-dir", str(project)],
            cwd=project,
            env=dbt_env(None),
            check=True,
        )


@dataclass(frozen=True)
class Paths:
    """Where a monitoring run reads and writes; every path absolute (edr runs elsewhere)."""

    data: Path
    lake: Path
    database: Path
    exports: Path  # where the overlay's build writes the Parquet exports, as make run does
    out: Path  # report, alerts, edr's logs
    dbt_target: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Paths:
        env = dict(os.environ if env is None else env)

        def path(name: str, default: Path) -> Path:
            value = Path(env.get(name, default))
            return (value if value.is_absolute() else REPO_ROOT / value).resolve()

        data = path("WAREHOUSE_DATA_DIR", REPO_ROOT / "data")
        return cls(
            data=data,
            lake=path("WAREHOUSE_LAKE_DIR", data / "lake"),
            database=path("WAREHOUSE_DUCKDB_PATH", data / "warehouse.duckdb"),
            exports=path("WAREHOUSE_EXPORTS_DIR", data / "exports"),
            out=path("WAREHOUSE_MONITORING_DIR", data / "monitoring"),
            dbt_target=path("DBT_TARGET_PATH", OVERLAY / "target"),
        )

    @property
    def report(self) -> Path:
        return self.out / REPORT_NAME

    @property
    def alerts(self) -> Path:
        return self.out / "alerts"


def dbt_env(paths: Paths | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of dbt and edr: absolute paths (dbt runs in monitoring/, edr in
    site-packages), and nothing sent anywhere."""
    env = dict(os.environ if base is None else base)
    env.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT / "profiles"))
    env.update(DO_NOT_TRACK="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    if paths is not None:
        env.update(
            WAREHOUSE_DATA_DIR=str(paths.data),
            WAREHOUSE_LAKE_DIR=str(paths.lake),
            WAREHOUSE_DUCKDB_PATH=str(paths.database),
            WAREHOUSE_EXPORTS_DIR=str(paths.exports),
            DBT_TARGET_PATH=str(paths.dbt_target),
        )
        env.setdefault("WAREHOUSE_GIT_COMMIT", git_commit())  # for the dataset registry
    return env


def clock(lake: Path, as_of: str) -> str | None:
    """Elementary's "now" (custom_run_started_at), or None for the real clock."""
    if as_of == "now":
        return None
    if as_of != "auto":
        return dt.date.fromisoformat(as_of).isoformat() + "T00:00:00"
    params = lake / "_generator" / "params.json"
    if not params.is_file():
        return None
    last = dt.date.fromisoformat(json.loads(params.read_text(encoding="utf-8"))["last_date"])
    return (last + dt.timedelta(days=1)).isoformat() + "T00:00:00"


def check_writable(database: Path) -> None:
    """Stop before dbt when another process holds DuckDB's single write lock."""
    if writable(database) is not None:
        raise SystemExit(
            f"[monitor] {database} is locked by another process (DuckDB allows one "
            "writer): let it finish (Dagster, make run, a dbt or Python session), "
            "then run make monitor again."
        )


@dataclass(frozen=True)
class Run:
    """The two dbt invocations of a monitoring run and their results (run_results.json)."""

    build: subprocess.CompletedProcess[str]
    monitors: subprocess.CompletedProcess[str]
    build_results: list[dict]
    monitor_results: list[dict]
    monitors_invocation_id: str | None  # joins Elementary's elementary_test_results

    @property
    def monitor_tests(self) -> list[dict]:
        """Results of the monitors themselves (not of Elementary's on-run hooks)."""
        return [r for r in self.monitor_results if r["unique_id"].startswith("test.")]


def _dbt(
    paths: Paths, command: list[str], now: str | None, env: dict[str, str] | None
) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = dict(os.environ if env is None else env, WAREHOUSE_MONITORING_CLOCK=now or "")
    results_file = paths.dbt_target / "run_results.json"
    results_file.unlink(missing_ok=True)
    done = subprocess.run(
        [str(BIN / "dbt"), *command, "--project-dir", str(OVERLAY)],
        cwd=OVERLAY,
        env=dbt_env(paths, env),
        capture_output=True,
        text=True,
    )
    if not results_file.is_file():
        return done, {"metadata": {}, "results": []}
    return done, json.loads(results_file.read_text(encoding="utf-8"))


def run_overlay(
    paths: Paths,
    now: str | None,
    env: dict[str, str] | None = None,
    skip: str = "",
) -> Run:
    """Build the warehouse through the overlay, then run the Elementary monitors.

    Two invocations, so that the monitors observe rather than gate: inside one `dbt build`
    a failed monitor would skip every model downstream of the table it watches, and with
    them the monitors that would have shown how far the damage goes. The warehouse's own
    tests still gate the build, as they do in `make run`, unless ``skip`` (a dbt selector
    the build leaves out besides the monitors) says otherwise.
    """
    build, built = _dbt(paths, ["build", "--exclude", f"{MONITORS} {skip}".strip()], now, env)
    monitors, judged = _dbt(paths, ["test", "--select", MONITORS], now, env)
    return Run(
        build,
        monitors,
        built["results"],
        judged["results"],
        judged["metadata"].get("invocation_id"),
    )


def edr_env(paths: Paths, env: dict[str, str] | None = None) -> tuple[dict[str, str], Path]:
    """Environment for edr, and its config dir: a scratch HOME whose .edr holds our config."""
    home = paths.out / "edr_home"
    config_dir = home / ".edr"
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EDR_CONFIG, config_dir / "config.yml")
    edr = dbt_env(paths, env)
    edr.pop("DBT_TARGET_PATH", None)  # edr's internal project keeps its own target
    edr.update(HOME=str(home), EDR_INTERNAL_TARGET_PATH=str(paths.out / "edr_target" / "dbt"))
    return edr, config_dir


def edr(
    paths: Paths, command: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    edr_vars, config_dir = edr_env(paths, env)
    common = [
        "--config-dir",
        str(config_dir),
        "--profiles-dir",
        edr_vars["DBT_PROFILES_DIR"],
        "--project-dir",
        str(OVERLAY),
        "--target-path",
        str(paths.out / "edr_target"),
    ]
    return subprocess.run(
        [str(BIN / "edr"), *command, *common],
        cwd=paths.out,
        env=edr_vars,
        capture_output=True,
        text=True,
    )


def report(paths: Paths, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`edr report`: the HTML report of the last 7 days of results, at ``paths.report``."""
    paths.out.mkdir(parents=True, exist_ok=True)
    paths.report.unlink(missing_ok=True)
    return edr(
        paths,
        [
            "report",
            "--file-path",
            str(paths.report),
            "--open-browser",
            "false",
            "--project-name",
            "ml_warehouse",
        ],
        env,
    )


class _Webhook(http.server.BaseHTTPRequestHandler):
    """Answers like a Slack incoming webhook and keeps each message as a JSON file."""

    folder: Path

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count = len(list(self.folder.glob("*.json")))
        (self.folder / f"alert-{count + 1:03d}.json").write_bytes(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def local_webhook(folder: Path) -> Iterator[str]:
    """A Slack-style webhook on 127.0.0.1 for as long as the block runs; yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = type("Webhook", (_Webhook,), {"folder": folder})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def alerts(paths: Paths, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`edr monitor` with the team's webhook (WAREHOUSE_ALERT_WEBHOOK, which Dagster's run
    failure alerts use too) as its Slack target; without it, the local webhook, whose
    messages are kept in paths.alerts."""
    team_webhook = (env if env is not None else os.environ).get("WAREHOUSE_ALERT_WEBHOOK")
    command = ["monitor", "--timezone", "UTC", "--days-back", "1", "--slack-webhook"]
    if team_webhook:
        return edr(paths, [*command, team_webhook], env)
    if paths.alerts.is_dir():
        shutil.rmtree(paths.alerts)
    with local_webhook(paths.alerts) as url:
        return edr(paths, [*command, url], env)


def failed(results: list[dict]) -> list[str]:
    """Unique ids of the tests that failed or errored, and of nodes that errored."""
    return [r["unique_id"] for r in results if r["status"] in ("fail", "error")]


def _tail(result: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--as-of",
        default="auto",
        help="Elementary's clock: auto (a generated sample: the morning after its last "
        "day; otherwise now), now, or YYYY-MM-DD",
    )
    args = parser.parse_args(argv)

    missing = missing_packages()
    if missing:
        if not hub_reachable():
            print(off_message(missing), flush=True)
            return 0
        print("[monitor] installing the monitoring packages with dbt deps", flush=True)
        try:
            install_packages()
        except subprocess.CalledProcessError as error:
            print(f"[monitor] dbt deps failed ({error}); monitoring is off.", file=sys.stderr)
            return 1

    paths = Paths.from_env()
    if not paths.database.is_file():
        print(f"[monitor] no warehouse at {paths.database}: run `make run` first.")
        return 2
    check_writable(paths.database)
    paths.exports.mkdir(parents=True, exist_ok=True)
    now = clock(paths.lake, args.as_of)
    as_of = f"as of {now}" if now else "as of now"
    print(f"[monitor] dbt build through the overlay, then its monitors ({as_of}) ...", flush=True)
    run = run_overlay(paths, now)
    if not run.build_results or not run.monitor_results:
        print(_tail(run.build if not run.build_results else run.monitors), file=sys.stderr)
        return 1
    problems = failed(run.build_results) + failed(run.monitor_results)
    print(
        f"[monitor] build: {len(run.build_results)} nodes, {len(failed(run.build_results))} "
        f"failed; monitors: {len(run.monitor_tests)}, {len(failed(run.monitor_results))} "
        "failed",
        flush=True,
    )
    for unique_id in problems:
        print(f"  - {unique_id.split('.')[2]}")

    written = report(paths)
    if written.returncode != 0 or not paths.report.is_file():
        print(_tail(written), file=sys.stderr)
        return 1
    print(f"[monitor] report: {paths.report}", flush=True)
    sent = alerts(paths)
    count = len(list(paths.alerts.glob("*.json")))
    if sent.returncode != 0 and count == 0:
        print(_tail(sent), file=sys.stderr)
    print(
        f"[monitor] alerts: {count} sent by edr monitor to the local webhook, kept in "
        f"{paths.alerts} (production: the team's Slack webhook, see docs/monitoring.md)",
        flush=True,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
