"""Checks for the command-line arguments `make` passes on (AS_OF=, DATASET=, COLUMN=, ...).

Each is an argparse `type`: a value that breaks its rule stops the command before it does
anything, with argparse's "argument --as-of: ..." naming the argument and this module's
message naming the rule. The value itself is not repeated: it may be anything a person
typed, personal data included.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable
from datetime import date

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
MODEL_COLUMN = re.compile(rf"{IDENTIFIER}\.{IDENTIFIER}")


def iso_date(value: str) -> date:
    """A real calendar date written YYYY-MM-DD."""
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be a calendar date written YYYY-MM-DD, e.g. 2026-01-01"
        ) from None


def model_column(value: str) -> str:
    """`model.column`, both plain identifiers."""
    if not MODEL_COLUMN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            "must be model.column, two names of letters, digits and underscores joined by a "
            "dot, e.g. ml_training_set.spend_next_30d_eur"
        )
    return value


def one_of(choices: Iterable[str]) -> Callable[[str], str]:
    """A type accepting exactly one of `choices`."""
    allowed = sorted(choices)

    def choice(value: str) -> str:
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(allowed)}")
        return value

    return choice
