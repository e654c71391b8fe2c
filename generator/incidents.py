"""Named incidents: a bad day injected on purpose, for the anomaly monitors to catch.

Defects (``defects.py``) are the feeds' everyday noise, which the warehouse quarantines
row by row. An incident is different: every row is valid, but the day as a whole is wrong,
the kind of thing only a monitor that knows the usual volumes and distributions notices
(Elementary, in the ``monitoring/`` overlay). The default sample has none; ask for them with
``--incident NAME@YYYY-MM-DD`` on ``generate`` or ``append`` (repeatable). They are recorded
in ``params.json`` (so ``append`` replays earlier ones and a lake built in several calls
equals one built at once) and in the manifest of the day they hit.

``orders_drop``
    90 % of the orders that would have been placed that day by customers of the largest
    market (the first country of ``seeds/countries.csv``) are never placed: no status
    records, no lines, no checkout session. Everything else that day is as without it.
``feature_nulls``
    A bulk re-export from the CRM: 40 % of the live customers with no other record that
    day are re-sent as change records, their ``segment`` lost (null). From the next as-of
    date on, ``segment`` in the ML features is null for those customers (about 40 % of the
    rows) until their next real change.
``events_stop``
    The clickstream delivers nothing that day: the events file is written with no rows.
    Those events are lost, not delivered later.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

ORDERS_DROP = "orders_drop"
FEATURE_NULLS = "feature_nulls"
EVENTS_STOP = "events_stop"
NAMES = (ORDERS_DROP, FEATURE_NULLS, EVENTS_STOP)

ORDERS_DROP_SHARE = 0.90  # of the largest market's orders that day
ORDERS_DROP_COUNTRY = 0  # index into seeds/countries.csv: its first row, the largest market
FEATURE_NULLS_SHARE = 0.40  # of live customers without another record that day


@dataclass(frozen=True, order=True)
class Incident:
    """One named incident on one ingest date (sorted by date, then name)."""

    date: dt.date
    name: str

    def __str__(self) -> str:
        return f"{self.name}@{self.date.isoformat()}"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "date": self.date.isoformat()}


def parse(text: str) -> Incident:
    """``NAME@YYYY-MM-DD`` to an :class:`Incident`; ``ValueError`` with a one-line reason."""
    name, at, date = text.partition("@")
    if not at:
        raise ValueError(f"expected NAME@YYYY-MM-DD, got {text!r}")
    if name not in NAMES:
        raise ValueError(f"unknown incident {name!r} (known: {', '.join(NAMES)})")
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ValueError(f"not a date in YYYY-MM-DD form: {date!r} (in {text!r})") from None
    return Incident(day, name)


def from_json(items: list[dict[str, str]]) -> tuple[Incident, ...]:
    return normalise(Incident(dt.date.fromisoformat(i["date"]), str(i["name"])) for i in items)


def normalise(incidents: Iterable[Incident]) -> tuple[Incident, ...]:
    """Sorted, checked, without repeats: the canonical form stored in ``Params``."""
    out = tuple(sorted(incidents))
    for incident in out:
        if incident.name not in NAMES:
            raise ValueError(f"unknown incident {incident.name!r} (known: {', '.join(NAMES)})")
    for earlier, later in itertools.pairwise(out):
        if earlier == later:
            raise ValueError(f"incident {later} is given twice")
    return out
