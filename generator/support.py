"""The support system's helpdesk feed, ``support/tickets``: a change feed of tickets.

A second source system next to the shop. A ticket is re-sent as a whole row on each change
(opened, first response, resolved), so its natural key is ``(ticket_id, updated_at)``, and a
row lands on the day its ``updated_at`` falls on (or 1-3 days later: a late arrival). Tickets
name their customer only by email, as the customer typed it: the shop's address, sometimes
in other case or with spaces around it, and now and then an address no customer has.

Who writes in: a customer whose order was returned (30 % of returns: ``returns``), cancelled
(12 %: ``billing``) or delivered (1.2 %: ``delivery``), a day or two after the fact; any live
customer, 0.05 % a day, about anything; and people the shop does not know. So customers with
more orders, returns and cancellations open more tickets, and about 4-5 % of customers open
one in a month.

The feed draws only from its own random stream (``Stream.SUPPORT``) and only reads the
simulated business, so the shop's files are the same bytes with or without it. Its state
(tickets in flight, late rows, the rows corrections copy) is replayed from day 0 like the
shop's entities, so ``append`` continues it exactly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import simulation as sim
from generator.columns import (
    US_PER_DAY,
    US_PER_MINUTE,
    labels,
    set_where,
    timestamps,
    zero_padded,
)
from generator.defects import DUPLICATE, Delivery, Rule, deliver
from generator.simulation import Day, Params, Stream, day_rng
from generator.sources import customer_emails

SYSTEM = "support"
TABLE = "tickets"
NAME = f"{SYSTEM}.{TABLE}"  # its name in the manifest's totals
FOLDER = Path(SYSTEM, TABLE)  # under the lake: support/tickets/ingest_date=.../part-0.parquet

CHANNELS = ("email", "chat", "phone", "web_form")
CHANNEL_SHARES = (0.40, 0.25, 0.15, 0.20)
CATEGORIES = ("billing", "delivery", "returns", "product", "account", "other")
BILLING, DELIVERY, RETURNS, PRODUCT, ACCOUNT, OTHER = range(6)
STATUSES = ("open", "pending", "resolved")
OPEN, PENDING, RESOLVED = range(3)

# Who opens a ticket
TRIGGER_RATES = {  # per order status record of the day: (chance of a ticket, its category)
    sim.RETURNED: (0.30, RETURNS),
    sim.CANCELLED: (0.12, BILLING),
    sim.DELIVERED: (0.012, DELIVERY),
}
TRIGGER_DELAY_MINUTES = (10, 48 * 60)  # the ticket follows the status 10 minutes to 2 days later
BACKGROUND_RATE = 0.0005  # of live customers open a ticket about anything, per day
BACKGROUND_SHARES = (0.20, 0.10, 0.05, 0.30, 0.25, 0.10)  # by CATEGORIES
UNKNOWN_RATE = 0.00008  # tickets from unknown addresses per day, as a share of --customers
UNKNOWN_SHARES = (0.05, 0.10, 0.05, 0.45, 0.15, 0.20)
EMAIL_VARIANT_SHARE = 0.12  # of known customers' tickets: other case or spaces around it
ORDER_IN_SUBJECT_SHARE = 0.60  # of tickets about an order name it in the subject

# How a ticket goes
FIRST_RESPONSE_MEDIAN_MINUTES = (240, 3, 2, 360)  # by CHANNELS; log-normal, sigma 1
FIRST_RESPONSE_MINUTES = (1, 72 * 60)  # clipped to this range
FIRST_CONTACT_SHARES = (0.20, 0.50, 0.60, 0.20)  # resolved with the first response, by CHANNELS
RESOLUTION_MEDIAN_MINUTES = 20 * 60  # after the first response otherwise; log-normal, sigma 1.2
RESOLUTION_MINUTES = (10, 14 * 24 * 60)
ABANDONED_SHARE = 0.04  # never resolved: pending for ever (the customer never replied)
SCORED_SHARE = 0.55  # of resolved tickets get a satisfaction score
SCORE_SHARES = (0.05, 0.07, 0.13, 0.30, 0.45)  # 1..5, answered in time
SLOW_SCORE_SHARES = (0.25, 0.20, 0.20, 0.20, 0.15)  # first response > 1 day or open > 4 days

# Defects and deliveries (rates per row of the day's file; see docs/sample_lake.md)
NULL_KEY_RATE = 0.01
RESPONSE_BEFORE_CREATION_RATE = 0.01  # on rows that have a first response
SCORE_OUT_OF_RANGE_RATE = 0.01  # on resolved rows
OUT_OF_RANGE_SCORES = (0, 6, 8, 10)  # a 0-10 survey mixed into the 1-5 one
DUPLICATE_RATE = 0.02  # exact re-deliveries, half of them of yesterday's rows
LATE_RATE = 0.05  # of rows land 1-3 days after their updated_at
MAX_LATE_DAYS = 3
CORRECTION_RATE = 0.02  # re-sent rows with a fixed category or score, per row of the day
CORRECTION_AGE_DAYS = (2, 7)  # corrected rows landed this many days before
CORRECTION = -2  # the code of a correction row in Delivery.codes

_PART_TICKETS, _PART_DEFECTS, _PART_DUPLICATES, _PART_LATE, _PART_CORRECTIONS = range(5)

SUBJECTS_ABOUT_ORDER = {
    BILLING: ("Refund for cancelled order {order}", "Invoice for order {order}"),
    DELIVERY: ("Order {order} arrived damaged", "Where is my order {order}?"),
    RETURNS: ("Return of order {order}", "Refund for returned order {order} not received yet"),
}
SUBJECTS = {
    BILLING: ("Charged twice", "Question about my invoice", "Payment question from {name}"),
    DELIVERY: ("Parcel not delivered", "Delivery address - {name}", "Late delivery"),
    RETURNS: ("How do I return an item?", "Return label please - {name}", "Refund status"),
    PRODUCT: ("Is this item in stock?", "Product size question", "{first} here: it broke"),
    ACCOUNT: ("Cannot log in", "Please change my address - {name}", "Reset my password",
              "Please delete my account"),
    OTHER: ("Feedback", "Hello", "Message from {name}"),
}  # fmt: skip

TS = pa.timestamp("us")
TICKETS_SCHEMA = pa.schema(
    [
        ("ticket_id", pa.string()),
        ("customer_email", pa.string()),
        ("channel", pa.string()),
        ("category", pa.string()),
        ("subject", pa.string()),
        ("created_at", TS),
        ("first_response_at", TS),
        ("resolved_at", TS),
        ("satisfaction_score", pa.int64()),
        ("status", pa.string()),
        ("updated_at", TS),
    ]
)

RULE_NAMES = ("null_key", "response_before_creation", "score_out_of_range")


@dataclass
class _Ticket:
    customer: int  # index of the customer, -1 for an address the shop does not know
    email: str
    channel: int
    category: int
    subject: str
    created_at: int
    first_response_at: int
    resolved_at: int  # -1: never resolved
    score: int  # -1: no score
    number: int = 0  # given when its opening row is due, in the order tickets open


@dataclass(frozen=True)
class _Row:
    ticket: _Ticket
    stage: int  # OPEN, PENDING or RESOLVED: the change this row records
    updated_at: int
    order: int  # tie-break among rows with the same updated_at: the order they were drawn


class _Customers:
    """What the helpdesk can know of customers, mirrored from the customers feed's records:
    their email's parts and the day they were deleted."""

    FIELDS = ("first_name", "last_name", "email_version", "email_domain")

    def __init__(self) -> None:
        self.data = {name: np.zeros(0, np.int64) for name in self.FIELDS}
        self.deleted_day = np.zeros(0, np.int64)

    def update(self, day: Day) -> None:
        records = day.customer_records
        index = records["number"].astype(np.int64) - 1
        size = int(index.max()) + 1 if len(index) else 0
        if size > len(self.deleted_day):
            grow = size - len(self.deleted_day)
            for name in self.FIELDS:
                self.data[name] = np.concatenate([self.data[name], np.zeros(grow, np.int64)])
            never = np.full(grow, np.iinfo(np.int64).max)
            self.deleted_day = np.concatenate([self.deleted_day, never])
        for name in self.FIELDS:
            self.data[name][index] = records[name]
        self.deleted_day[index[day.customer_kinds == sim.KIND_DELETION]] = day.index

    def emails(self, customers: np.ndarray) -> list[str]:
        records = {name: values[customers] for name, values in self.data.items()}
        records["number"] = customers + 1
        return customer_emails(records).to_pylist()


class Helpdesk:
    """Advances the helpdesk one day at a time; each day returns that day's delivery."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.customers = _Customers()
        self.pending: list[_Row] = []  # rows not yet due
        self.late: dict[int, list[_Row]] = {}  # day index -> rows arriving late that day
        self.opened = 0
        self.drawn = 0
        self.recent: deque[pa.Table] = deque(maxlen=CORRECTION_AGE_DAYS[1])  # clean rows by day
        self.corrected: set[tuple[str, int]] = set()

    def advance(self, day: Day) -> Delivery:
        self.customers.update(day)
        self._open_tickets(day)
        base, late = self._landing(day)
        delivery = deliver(
            base,
            [
                Rule("null_key", NULL_KEY_RATE, _null_ticket_id),
                Rule(
                    "response_before_creation",
                    RESPONSE_BEFORE_CREATION_RATE,
                    _response_before_creation,
                    where=lambda t: pc.is_valid(t.column("first_response_at")).to_numpy(),
                ),
                Rule(
                    "score_out_of_range",
                    SCORE_OUT_OF_RANGE_RATE,
                    _score_out_of_range,
                    where=lambda t: pc.equal(t.column("status"), "resolved").to_numpy(),
                ),
            ],
            self._rng(day, _PART_DEFECTS),
            self._rng(day, _PART_DUPLICATES),
            eligible=~late,
            previous_clean=self.recent[-1] if self.recent else None,
            duplicate_rate=DUPLICATE_RATE,
        )
        delivery.extra["late_arrivals"] = int(late.sum())
        delivery = self._add_corrections(day, delivery)
        self.recent.append(delivery.clean)
        return delivery

    def _rng(self, day: Day, part: int) -> np.random.Generator:
        return day_rng(self.params.seed, day.index, Stream.SUPPORT, part)

    # --- new tickets ------------------------------------------------------------------------

    def _open_tickets(self, day: Day) -> None:
        """Draw the tickets the day's events give rise to; their rows wait until due."""
        rng = self._rng(day, _PART_TICKETS)
        s = day.statuses
        chance = np.zeros(len(sim.STATUSES))
        category_of = np.full(len(sim.STATUSES), -1)
        for status, (rate, category) in TRIGGER_RATES.items():
            chance[status], category_of[status] = rate, category
        hit = rng.random(len(s["status"])) < chance[s["status"]]
        delay = rng.integers(*TRIGGER_DELAY_MINUTES, hit.sum()) * US_PER_MINUTE
        triggered = {
            "customer": s["customer"][hit],
            "category": category_of[s["status"][hit]],
            "order": s["order_number"][hit],
            "created_at": s["status_at"][hit] + delay,
        }
        anyone = day.live[rng.random(len(day.live)) < BACKGROUND_RATE]
        background = {
            "customer": anyone,
            "category": rng.choice(len(CATEGORIES), len(anyone), p=BACKGROUND_SHARES),
            "order": np.zeros(len(anyone), np.int64),
            "created_at": day.start_us + rng.integers(0, US_PER_DAY, len(anyone)),
        }
        n_unknown = int(rng.binomial(self.params.customers, UNKNOWN_RATE))
        unknown = {
            "customer": np.full(n_unknown, -1, np.int64),
            "category": rng.choice(len(CATEGORIES), n_unknown, p=UNKNOWN_SHARES),
            "order": np.zeros(n_unknown, np.int64),
            "created_at": day.start_us + rng.integers(0, US_PER_DAY, n_unknown),
        }
        t = {k: np.concatenate([triggered[k], background[k], unknown[k]]) for k in triggered}
        n = len(t["customer"])
        known = t["customer"] >= 0

        # Who they are, as the helpdesk sees them
        first = rng.integers(0, len(sim.FIRST_NAMES), n)
        last = rng.integers(0, len(sim.LAST_NAMES), n)
        first[known] = self.customers.data["first_name"][t["customer"][known]]
        last[known] = self.customers.data["last_name"][t["customer"][known]]
        emails = np.empty(n, dtype=object)
        emails[known] = self.customers.emails(t["customer"][known])
        stranger = rng.integers(10, 10_000, n)
        domain = rng.integers(0, len(sim.EMAIL_DOMAINS), n)
        for i in np.flatnonzero(~known):
            # An underscore where shop addresses have a dot: never a customer's address.
            local = f"{sim.FIRST_NAMES[first[i]]}_{sim.LAST_NAMES[last[i]]}{stranger[i]}"
            emails[i] = f"{local.lower().replace(' ', '')}@{sim.EMAIL_DOMAINS[domain[i]]}"
        variant = np.where(known & (rng.random(n) < EMAIL_VARIANT_SHARE), rng.integers(1, 5, n), 0)

        # What they write about, and how it goes
        channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARES)
        about_order = (np.arange(n) < len(triggered["customer"])) & (
            rng.random(n) < ORDER_IN_SUBJECT_SHARE
        )
        template = rng.integers(0, 1 << 30, n)
        median = np.log(np.array(FIRST_RESPONSE_MEDIAN_MINUTES, dtype=float)[channel])
        response = np.clip(np.exp(rng.normal(median, 1.0)), *FIRST_RESPONSE_MINUTES)
        first_response_at = t["created_at"] + (response * US_PER_MINUTE).astype(np.int64)
        on_first_contact = rng.random(n) < np.array(FIRST_CONTACT_SHARES)[channel]
        work = np.clip(
            np.exp(rng.normal(np.log(RESOLUTION_MEDIAN_MINUTES), 1.2, n)), *RESOLUTION_MINUTES
        )
        resolved_at = first_response_at + np.where(
            on_first_contact, 0, (work * US_PER_MINUTE).astype(np.int64)
        )
        abandoned = ~on_first_contact & (rng.random(n) < ABANDONED_SHARE)
        resolved_at[abandoned] = -1
        slow = (response > 24 * 60) | (resolved_at - t["created_at"] > 4 * US_PER_DAY)
        score = (
            np.where(
                slow,
                rng.choice(5, n, p=SLOW_SCORE_SHARES),
                rng.choice(5, n, p=SCORE_SHARES),
            )
            + 1
        )
        score[(rng.random(n) >= SCORED_SHARE) | abandoned] = -1

        for i in np.argsort(t["created_at"], kind="stable"):
            name = f"{sim.FIRST_NAMES[first[i]]} {sim.LAST_NAMES[last[i]]}"
            category = int(t["category"][i])
            options = SUBJECTS_ABOUT_ORDER[category] if about_order[i] else SUBJECTS[category]
            subject = options[template[i] % len(options)].format(
                order=f"O{int(t['order'][i]):09d}", name=name, first=sim.FIRST_NAMES[first[i]]
            )
            ticket = _Ticket(
                customer=int(t["customer"][i]),
                email=_as_typed(str(emails[i]), int(variant[i])),
                channel=int(channel[i]),
                category=category,
                subject=subject,
                created_at=int(t["created_at"][i]),
                first_response_at=int(first_response_at[i]),
                resolved_at=int(resolved_at[i]),
                score=int(score[i]),
            )
            self._due(ticket, OPEN, ticket.created_at)
            if ticket.resolved_at != ticket.first_response_at:
                self._due(ticket, PENDING, ticket.first_response_at)
            if ticket.resolved_at >= 0:
                self._due(ticket, RESOLVED, ticket.resolved_at)

    def _due(self, ticket: _Ticket, stage: int, at: int) -> None:
        self.pending.append(_Row(ticket, stage, at, self.drawn))
        self.drawn += 1

    # --- the day's file ---------------------------------------------------------------------

    def _landing(self, day: Day) -> tuple[pa.Table, np.ndarray]:
        """Rows due today (minus those that will arrive late) plus late rows due before."""
        end = day.start_us + US_PER_DAY
        due = sorted((r for r in self.pending if r.updated_at < end), key=_row_order)
        self.pending = [r for r in self.pending if r.updated_at >= end]
        deleted_day = self.customers.deleted_day
        due = [
            r for r in due if r.ticket.customer < 0 or deleted_day[r.ticket.customer] > day.index
        ]
        for row in due:
            if row.stage == OPEN:
                self.opened += 1
                row.ticket.number = self.opened
        rng = self._rng(day, _PART_LATE)
        delay = np.where(
            rng.random(len(due)) < LATE_RATE, rng.integers(1, MAX_LATE_DAYS + 1, len(due)), 0
        )
        for row, days in zip(due, delay.tolist(), strict=True):
            if days:
                self.late.setdefault(day.index + days, []).append(row)
        arrived = [
            r
            for r in self.late.pop(day.index, [])
            if r.ticket.customer < 0 or deleted_day[r.ticket.customer] > day.index
        ]
        on_time = [row for row, days in zip(due, delay.tolist(), strict=True) if not days]
        rows = sorted(arrived, key=_row_order) + on_time
        late = np.zeros(len(rows), dtype=bool)
        late[: len(arrived)] = True
        return _table(rows), late

    def _add_corrections(self, day: Day, delivery: Delivery) -> Delivery:
        """Re-send some rows of 2-7 days ago with their category or score fixed.

        Only rows older than any re-delivery of theirs (duplicates come the same day or the
        next), so a correction is always the last version of its key to arrive; each key is
        corrected at most once.
        """
        rng = self._rng(day, _PART_CORRECTIONS)
        n_base = int((delivery.codes != DUPLICATE).sum())
        wanted = int(rng.binomial(n_base, CORRECTION_RATE))
        # self.recent holds the clean rows of days d-7 .. d-1: skip the newest.
        older = list(self.recent)[: len(self.recent) - (CORRECTION_AGE_DAYS[0] - 1)]
        pool = pa.concat_tables(older) if older else TICKETS_SCHEMA.empty_table()
        if pool.num_rows:
            keys = zip(
                pool.column("ticket_id").to_pylist(),
                pool.column("updated_at").cast(pa.int64()).to_pylist(),
                strict=True,
            )
            fresh = np.array([key not in self.corrected for key in keys], dtype=bool)
            pool = pool.filter(pa.array(fresh))
        count = min(wanted, pool.num_rows)
        if count == 0:
            delivery.extra["corrections"] = 0
            return delivery
        chosen = pool.take(np.sort(rng.choice(pool.num_rows, count, replace=False)))
        self.corrected.update(
            zip(
                chosen.column("ticket_id").to_pylist(),
                chosen.column("updated_at").cast(pa.int64()).to_pylist(),
                strict=True,
            )
        )
        score = chosen.column("satisfaction_score").to_numpy(zero_copy_only=False)
        has_score = ~np.isnan(score.astype(float))
        fix_score = has_score & (rng.random(count) < 0.5)
        old = np.nan_to_num(score.astype(float)).astype(np.int64)
        new_score = (old - 1 + rng.integers(1, 5, count)) % 5 + 1
        category = np.array([CATEGORIES.index(c) for c in chosen.column("category").to_pylist()])
        new_category = (category + rng.integers(1, len(CATEGORIES), count)) % len(CATEGORIES)
        corrected = chosen.set_column(
            TICKETS_SCHEMA.get_field_index("category"),
            "category",
            labels(CATEGORIES, np.where(fix_score, category, new_category)),
        ).set_column(
            TICKETS_SCHEMA.get_field_index("satisfaction_score"),
            "satisfaction_score",
            pa.array(np.where(fix_score, new_score, old), mask=~has_score, type=pa.int64()),
        )
        # Corrections land between the day's rows, like re-deliveries.
        n = delivery.table.num_rows
        keys = np.concatenate(
            [2 * np.arange(n, dtype=np.int64), 2 * rng.integers(0, n + 1, count) - 1]
        )
        order = np.argsort(keys, kind="stable")
        table = pa.concat_tables([delivery.table, corrected]).take(order).combine_chunks()
        codes = np.concatenate([delivery.codes, np.full(count, CORRECTION, np.int8)])[order]
        delivery.table, delivery.codes = table, codes
        delivery.extra["corrections"] = count
        return delivery


def _row_order(row: _Row) -> tuple[int, int]:
    return row.updated_at, row.order


def _as_typed(email: str, variant: int) -> str:
    """The address as the customer typed it: 0 as the shop has it, 1 capitalised, 2 in
    capitals, 3 with spaces around it, 4 capitalised with a trailing space."""
    local, _, domain = email.partition("@")
    if variant == 1:
        return f"{local.title()}@{domain}"
    if variant == 2:
        return email.upper()
    if variant == 3:
        return f" {email}  "
    if variant == 4:
        return f"{local.title()}@{domain} "
    return email


def _table(rows: list[_Row]) -> pa.Table:
    def ts(values: list[int | None]) -> pa.Array:
        return pa.array(values, type=TS)

    tickets = [r.ticket for r in rows]
    responded = [r.stage >= PENDING for r in rows]
    resolved = [r.stage == RESOLVED for r in rows]
    columns = {
        "ticket_id": zero_padded("T", np.array([t.number for t in tickets], np.int64), 8),
        "customer_email": pa.array([t.email for t in tickets], type=pa.string()),
        "channel": labels(CHANNELS, np.array([t.channel for t in tickets], np.int64)),
        "category": labels(CATEGORIES, np.array([t.category for t in tickets], np.int64)),
        "subject": pa.array([t.subject for t in tickets], type=pa.string()),
        "created_at": ts([t.created_at for t in tickets]),
        "first_response_at": ts(
            [t.first_response_at if ok else None for t, ok in zip(tickets, responded, strict=True)]
        ),
        "resolved_at": ts(
            [t.resolved_at if ok else None for t, ok in zip(tickets, resolved, strict=True)]
        ),
        "satisfaction_score": pa.array(
            [
                t.score if ok and t.score > 0 else None
                for t, ok in zip(tickets, resolved, strict=True)
            ],
            type=pa.int64(),
        ),
        "status": labels(STATUSES, np.array([r.stage for r in rows], np.int64)),
        "updated_at": ts([r.updated_at for r in rows]),
    }
    return pa.table(columns, schema=TICKETS_SCHEMA)


# --- defects ----------------------------------------------------------------------------------


def _null_ticket_id(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    i = table.schema.get_field_index("ticket_id")
    return table.set_column(i, "ticket_id", set_where(table.column(i), mask, None))


def _response_before_creation(
    table: pa.Table, mask: np.ndarray, rng: np.random.Generator
) -> pa.Table:
    """An agent's clock off by hours: the first response reads before the ticket opened."""
    created = table.column("created_at").cast(pa.int64()).to_numpy()
    early = created - rng.integers(5 * US_PER_MINUTE, 12 * 60 * US_PER_MINUTE, len(created))
    i = table.schema.get_field_index("first_response_at")
    moved = pc.if_else(pa.array(mask), timestamps(early), table.column(i))
    return table.set_column(i, "first_response_at", moved)


def _score_out_of_range(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    values = pa.array(
        np.array(OUT_OF_RANGE_SCORES)[rng.integers(0, len(OUT_OF_RANGE_SCORES), len(mask))],
        type=pa.int64(),
    )
    i = table.schema.get_field_index("satisfaction_score")
    return table.set_column(
        i, "satisfaction_score", pc.if_else(pa.array(mask), values, table.column(i))
    )
