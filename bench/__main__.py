"""`make bench`: the warehouse's speed and memory, measured against plain DuckDB.

    python -m bench                       # scales S and M, three runs of each step
    python -m bench --scales L --repeat 1 --steps full_build --no-baseline   # 2 GiB ceiling
    python -m bench --scales tiny         # the smoke run of `make test`

Writes results.json and results.md to --out (default data/bench/) and prints the table.
Exits 0 when every step ran; missed targets are printed, not failures (--strict makes them
one). See bench/RESULTS.md for recorded figures and bench/run.py for what each step is.
"""

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import StepFailed
from bench.report import markdown, target_checks
from bench.run import REPO_ROOT, STEPS, ScaleRun, git_commit, machine
from bench.scales import SCALES


def _progress(started: float):
    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    return say


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales",
        default="S,M",
        help=f"comma-separated, of {', '.join(SCALES)} (default S,M)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; medians reported")
    parser.add_argument(
        "--work", type=Path, default=REPO_ROOT / "data" / "bench", help="lakes and warehouses"
    )
    parser.add_argument("--out", type=Path, help="results folder (default: --work)")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="comma-separated subset of the steps (the full build always runs); default all",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="dbt only, no plain-DuckDB replay (to show a scale completes, e.g. L at 2 GiB)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.scales.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCALES]
    if unknown or not names:
        parser.error(f"--scales: unknown {unknown or names}; choose from {', '.join(SCALES)}")
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    if not set(steps) <= set(STEPS):
        parser.error(f"--steps: unknown {sorted(set(steps) - set(STEPS))}; choose from {STEPS}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    out = args.out or args.work
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    say = _progress(started)
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "repeat": args.repeat,
        "machine": machine(),
        "scales": {},
    }
    for name in names:
        run = ScaleRun(
            SCALES[name], args.work.resolve(), args.repeat, say, with_baseline=not args.no_baseline
        )
        try:
            run.run(steps)
        except StepFailed as error:
            print(f"bench: scale {name} failed: {error}", file=sys.stderr)
            return 1
        results["scales"][name] = run.summary()
        # written after every scale, so a long run that is stopped keeps what it measured
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (out / "results.md").write_text(markdown(results))

    table = markdown(results)
    print()
    print(table)
    elapsed = time.perf_counter() - started
    print(f"written: {out / 'results.json'}, {out / 'results.md'} ({elapsed:.0f} s)")
    missed = [text for text, ok in target_checks(results) if not ok]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
