"""Wall time and peak memory of one command, run as a child process.

Peak memory is the child's maximum resident set size as the kernel reports it when the child
is reaped (`os.wait4`), so each measurement is of that process alone, not of the benchmark
driver or of earlier steps.
"""

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_mib: float


class StepFailed(RuntimeError):
    pass


def measure(command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> Measurement:
    """Run `command`, its output to `log`; raise StepFailed naming the log if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise StepFailed(
            f"`{' '.join(command)}` exited with {process.returncode}; "
            f"its output is in {log}:\n{tail}"
        )
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return Measurement(seconds=seconds, peak_rss_mib=usage.ru_maxrss / scale)


def run_quietly(command: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> None:
    """Set-up work that is not measured (generating data, preparing a state)."""
    with log.open("a") as output:
        result = subprocess.run(
            list(command), cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise StepFailed(f"`{' '.join(command)}` failed; its output is in {log}:\n{tail}")
