"""Defects and re-deliveries, injected into a day's clean rows with exact bookkeeping.

The warehouse must quarantine every defective row and drop exactly the duplicates, and tests
reconcile its counts with the manifest. So the bookkeeping is strict: a row carries at most one
defect; a duplicate is an exact copy of a clean row (of today, or of yesterday where allowed)
and never itself a defect; and defects replace rows rather than add them, the way a broken
feed loses information.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

DUPLICATE_RATE = 0.005  # of a day's rows, re-delivered
NEXT_DAY_SHARE = 0.5  # of duplicates copy yesterday's rows, where the source allows it

CLEAN = 0
DUPLICATE = -1

CorruptFn = Callable[[pa.Table, np.ndarray, np.random.Generator], pa.Table]


@dataclass(frozen=True)
class Rule:
    """A defect rule: its name in the manifest, its rate per row, and how it breaks a row.

    ``corrupt`` gets the table and a boolean mask of the rows to break; ``None`` means the
    breaking happens when the file is written (the drift day's unparseable text values).
    """

    name: str
    rate: float
    corrupt: CorruptFn | None
    at_least: int = 0  # for one-day rules that must show up even in a tiny sample


@dataclass
class Delivery:
    """One source's file for one day, with what tests and the warehouse need to reconcile it."""

    table: pa.Table  # the rows to write, in their final order
    codes: np.ndarray  # per row: CLEAN, DUPLICATE, or 1 + index of the defect rule
    clean: pa.Table  # clean original rows: the pool tomorrow's re-deliveries copy from
    duplicates: int
    defects: dict[str, int]
    extra: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, object]:
        counts: dict[str, object] = {
            "rows": self.table.num_rows,
            "duplicates": self.duplicates,
            "defects": dict(self.defects),
        }
        counts.update(self.extra)
        return counts


def deliver(
    base: pa.Table,
    rules: list[Rule],
    defect_rng: np.random.Generator,
    duplicate_rng: np.random.Generator,
    eligible: np.ndarray | None = None,
    previous_clean: pa.Table | None = None,
) -> Delivery:
    """Break some rows, then re-deliver copies of clean ones at random positions.

    ``eligible`` restricts which rows may carry a defect (say, not an order's ``placed``
    record). Counts are drawn per row of the whole file, so the rates in the spec hold per row
    of the source, and capped by the eligible rows available.
    """
    n = base.num_rows
    codes = np.zeros(n, dtype=np.int8)
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    wanted = [
        max(int(defect_rng.binomial(n, rule.rate)), rule.at_least) if rule.rate > 0 else 0
        for rule in rules
    ]
    picked = defect_rng.choice(pool, min(sum(wanted), len(pool)), replace=False)
    table = base
    defects: dict[str, int] = {}
    offset = 0
    for code, (rule, count) in enumerate(zip(rules, wanted, strict=True), start=1):
        rows = np.sort(picked[offset : offset + count])
        offset += len(rows)
        codes[rows] = code
        defects[rule.name] = len(rows)
        if len(rows) and rule.corrupt is not None:
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            table = rule.corrupt(table, mask, defect_rng)

    clean = table.filter(pa.array(codes == CLEAN))
    n_dup = int(duplicate_rng.binomial(n, DUPLICATE_RATE))
    n_prev = 0
    if previous_clean is not None and previous_clean.num_rows:
        n_prev = min(int(duplicate_rng.binomial(n_dup, NEXT_DAY_SHARE)), previous_clean.num_rows)
    n_same = min(n_dup - n_prev, clean.num_rows)
    copies = [clean.take(np.sort(duplicate_rng.choice(clean.num_rows, n_same, replace=False)))]
    if n_prev:
        chosen = np.sort(duplicate_rng.choice(previous_clean.num_rows, n_prev, replace=False))
        copies.append(previous_clean.take(chosen).select(table.column_names).cast(table.schema))

    # Copies land between original rows: originals sit at even keys, copies at odd ones.
    n_copies = n_same + n_prev
    keys = np.concatenate(
        [2 * np.arange(n, dtype=np.int64), 2 * duplicate_rng.integers(0, n + 1, n_copies) - 1]
    )
    order = np.argsort(keys, kind="stable")
    merged = pa.concat_tables([table, *copies]).take(order)
    all_codes = np.concatenate([codes, np.full(n_copies, DUPLICATE, np.int8)])[order]
    return Delivery(
        table=merged.combine_chunks(),
        codes=all_codes,
        clean=clean,
        duplicates=n_copies,
        defects=defects,
    )
