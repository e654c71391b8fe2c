"""The benchmark's data sizes: the generator's customers, 90 days of history, a fixed seed.

Events grow with customers (about 120 per customer over 90 days), so the scales are named
by events as the issue does: S ≈ 1M, M ≈ 10M, L ≈ 50M. `tiny` is the smoke run of
`make test`: every step, in seconds, on data far too small to time.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    customers: int
    history_days: int
    # DuckDB's memory_limit for this scale's runs (dbt and baseline alike); None = DuckDB's
    # default, 80% of the machine's memory. With a limit, dbt builds one model at a time:
    # models running together share the limit (four at once ran out of 2 GiB at L).
    memory_limit: str | None = None


SEED = 20261122
START_DATE = "2026-01-01"

SCALES = {
    scale.name: scale
    for scale in (
        # 35 days: the first as-of dates have their 30-day labels, so a training set exists.
        Scale("tiny", customers=120, history_days=35),
        Scale("S", customers=8_000, history_days=90),
        Scale("M", customers=80_000, history_days=90),
        # The memory ceiling: L must finish by spilling to disk, not fail.
        Scale("L", customers=400_000, history_days=90, memory_limit="2GiB"),
    )
}
