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
    ``where`` narrows the rows this rule may break (say, only rows that have a value to spoil).
    """

    name: str
    rate: float
    corrupt: CorruptFn | None
    at_least: int = 0  # for one-day rules that must show up even in a tiny sample
    where: Callable[[pa.Table], np.ndarray] | None = None


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
    duplicate_rate: float | None = None,
) -> Delivery:
    """Break some rows, then re-deliver copies of clean ones at random positions.

    ``eligible`` restricts which rows may carry a defect (say, not an order's ``placed``
    record), and a rule's ``where`` further narrows its own. Counts are drawn per row of the
    whole file, so the rates in the spec hold per row of the source, and capped by the eligible
    rows available. ``duplicate_rate`` defaults to ``DUPLICATE_RATE``.
    """
    n = base.num_rows
    codes = np.zeros(n, dtype=np.int8)
    pool = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    wanted = [
        max(int(defect_rng.binomial(n, rule.rate)), rule.at_least) if rule.rate > 0 else 0
        for rule in rules
    ]
    if all(rule.where is None for rule in rules):
        # One draw for all rules: the shop's sources have always been broken this way.
        picked = defect_rng.choice(pool, min(sum(wanted), len(pool)), replace=False)
        by_rule: list[np.ndarray] = []
        offset = 0
        for count in wanted:
            by_rule.append(np.sort(picked[offset : offset + count]))
            offset += len(by_rule[-1])
    else:
        by_rule = _pick_per_rule(base, rules, wanted, pool, defect_rng)
    table = base
    defects: dict[str, int] = {}
    for code, (rule, rows) in enumerate(zip(rules, by_rule, strict=True), start=1):
        codes[rows] = code
        defects[rule.name] = len(rows)
        if len(rows) and rule.corrupt is not None:
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            table = rule.corrupt(table, mask, defect_rng)

    clean = table.filter(pa.array(codes == CLEAN))
    rate = DUPLICATE_RATE if duplicate_rate is None else duplicate_rate
    n_dup = int(duplicate_rng.binomial(n, rate))
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


def _pick_per_rule(
    base: pa.Table,
    rules: list[Rule],
    wanted: list[int],
    pool: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Rows for each rule in turn, among the eligible rows no earlier rule took."""
    free = np.zeros(base.num_rows, dtype=bool)
    free[pool] = True
    chosen: list[np.ndarray] = []
    for rule, count in zip(rules, wanted, strict=True):
        allowed = free if rule.where is None else free & np.asarray(rule.where(base), dtype=bool)
        candidates = np.flatnonzero(allowed)
        rows = np.sort(rng.choice(candidates, min(count, len(candidates)), replace=False))
        free[rows] = False
        chosen.append(rows)
    return chosen
