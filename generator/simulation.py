"""The simulated business: customers, the product catalogue and order lifecycles.

Entity state is cheap next to the clickstream, so ``append`` replays it from day 0 rather than
storing it: the lake then depends only on ``params.json``. Every day draws from its own RNG,
``default_rng([seed, day, stream])``, so a day never depends on how many days were written in
one call, which is what makes ``generate`` N days equal to ``generate`` then ``append``.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

import numpy as np

from generator import incidents as inc
from generator.columns import US_PER_DAY, US_PER_MINUTE
from generator.reference import Reference

EPOCH = dt.date(1970, 1, 1)

# Customers
INITIAL_SHARE = 0.60  # of --customers exist on day 0; the rest sign up over plan_days
HISTORY_DAYS = 730  # day-0 customers were created over the prior two years
CHANGE_RATE = 0.02  # of live customers change per day (one change per customer per day)
DELETE_RATE = 0.001  # of live customers are deleted per day
CHANGE_KINDS = ("email", "address", "segment", "marketing_opt_in")
CHANGE_SHARES = (0.30, 0.25, 0.15, 0.30)
SEGMENTS = ("consumer", "small_business", "vip")
SEGMENT_SHARES = (0.85, 0.12, 0.03)
OPT_IN_SHARE = 0.40
NO_LANGUAGE_SHARE = 0.10  # preferred_language left null
ENGLISH_SHARE = 0.15  # prefer English whatever the country

# Products
CUSTOMERS_PER_PRODUCT = 20  # catalogue of max(50, customers / 20) products
MIN_PRODUCTS = 50
INITIAL_ACTIVE_SHARE = 0.97
PRICE_CHANGE_RATE = 0.01  # of products per day
DEACTIVATE_RATE = 0.001  # of active products per day
REACTIVATE_RATE = 0.02  # of inactive products per day
NEW_PRODUCT_RATE = 0.002  # new products per day, as a share of the initial catalogue
EXTRACT_FROM_MINUTE = 120  # the nightly catalogue dump runs at 02:00-02:30

# Orders
ORDER_RATES = np.array([0.03, 0.05, 0.08])  # daily order probability per segment
CHANNELS = ("web", "app", "marketplace")
CHANNEL_SHARES = (0.55, 0.30, 0.15)
MAX_LINES = 4
MAX_QUANTITY = 3
CANCEL_RATE = 0.10  # cancelled within a day, otherwise shipped 1-2 days after placed
RETURN_RATE = 0.05  # of delivered orders, returned 3-10 days after delivery
EARLIEST_ORDER_MINUTE = 45  # keeps each order's (<= 30 min) session inside its day
STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
PLACED, SHIPPED, DELIVERED, CANCELLED, RETURNED = range(5)
LIFECYCLE_DAYS = 18  # longest placed -> returned span (2 + 4 + 10 days, plus time of day)

NEVER = np.iinfo(np.int32).max  # deleted_day of a customer that is never deleted

FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Karin", "Lukas", "Maria", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara",
    "Umberto", "Vera", "Willem", "Xenia", "Yusuf", "Zoe", "Amelie", "Bruno", "Clara", "Emil",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Martin", "de Vries", "Garcia", "Rossi", "Smith", "Andersson", "Nowak", "Meier",
    "Johnson", "Dubois", "Jansen", "Lopez", "Bianchi", "Brown", "Lindqvist", "Kowalski",
    "Keller", "Miller", "Bernard", "Visser", "Fernandez", "Ricci", "Taylor", "Berg", "Wojcik",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")
CITY_PREFIXES = (
    "Ash", "Bell", "Brook", "Clear", "East", "Fair", "Green", "High", "Lake", "Mill",
    "North", "Oak", "River", "Rose", "South", "Stone", "West", "Wood",
)  # fmt: skip
CITY_SUFFIXES = ("ford", "field", "ham", "ton", "burg", "dale", "haven", "mouth", "wick", "berg")
CITIES = tuple(p + s for p in CITY_PREFIXES for s in CITY_SUFFIXES)
LANGUAGES = ("en", "de", "fr", "nl", "es", "it", "sv", "pl")
LANGUAGE_BY_COUNTRY = {
    "DE": "de", "AT": "de", "CH": "de", "FR": "fr", "BE": "fr", "NL": "nl", "ES": "es",
    "IT": "it", "SE": "sv", "PL": "pl",
}  # fmt: skip
PRODUCT_ADJECTIVES = (
    "Classic", "Compact", "Deluxe", "Eco", "Essential", "Modern", "Premium", "Pro", "Smart",
    "Travel", "Ultra", "Vintage",
)  # fmt: skip
PRODUCT_NOUNS = (
    "Bundle", "Collection", "Edition", "Kit", "Pack", "Set", "Series", "Selection",
)  # fmt: skip


class Stream(IntEnum):
    """Independent random streams of one day, so adding a draw to one leaves the others alone."""

    CUSTOMERS = 1
    PRODUCTS = 2
    ORDERS = 3
    EVENTS = 4
    DEFECTS = 5
    DUPLICATES = 6
    INCIDENTS = 7  # only drawn from on an incident's day, so other days never change
    SUPPORT = 8  # the support system's helpdesk feed (support.py), parts 0-4


def day_rng(seed: int, day: int, stream: Stream, part: int = 0) -> np.random.Generator:
    """The RNG of one (day, stream): days are pure functions of the seed and their index."""
    return np.random.default_rng([seed, day, int(stream), part])


@dataclass(frozen=True)
class Params:
    """What defines a lake; stored in ``_generator/params.json`` so ``append`` can continue."""

    seed: int
    customers: int
    start_date: dt.date
    plan_days: int  # the history the first `generate` planned: sign-ups spread, drift day
    drift_day: int  # day index from which the schema drifts (plan_days // 2 by default)
    incidents: tuple[inc.Incident, ...] = ()  # named bad days (incidents.py), sorted
    support: bool = False  # also write the support system's helpdesk feed (support.py)

    def date_of(self, day: int) -> dt.date:
        return self.start_date + dt.timedelta(days=day)

    def incidents_on(self, day: int) -> tuple[str, ...]:
        """Names of the incidents that hit day index ``day``."""
        date = self.date_of(day)
        return tuple(incident.name for incident in self.incidents if incident.date == date)

    def day_start_us(self, day: int) -> int:
        return ((self.start_date - EPOCH).days + day) * US_PER_DAY

    @property
    def initial_customers(self) -> int:
        return max(1, round(self.customers * INITIAL_SHARE))

    def signups_through(self, day: int) -> int:
        """Customers signed up on days 1..day: a steady rate that also continues past the plan."""
        later = self.customers - self.initial_customers
        return (later * max(day, 0)) // self.plan_days

    @property
    def initial_products(self) -> int:
        return max(MIN_PRODUCTS, self.customers // CUSTOMERS_PER_PRODUCT)


@dataclass(frozen=True)
class Day:
    """Everything that happened on one day, as plain arrays the source builders turn into rows.

    Snapshots are copies, so later days mutating the state cannot change a day already built.
    """

    index: int
    date: dt.date
    start_us: int
    customer_records: dict[str, np.ndarray]  # rows of the customers feed for this day
    customer_kinds: np.ndarray  # 0 existing (full load), 1 sign-up, 2 change, 3 deletion
    products: dict[str, np.ndarray]  # the whole catalogue, as extracted this day
    extracted_at: int  # when this day's catalogue dump was taken
    statuses: dict[str, np.ndarray]  # order status records whose status_at falls this day
    lines: dict[str, np.ndarray]  # order lines of orders placed this day
    orders: dict[str, np.ndarray]  # orders placed this day: customer, placed_at, first product
    live: np.ndarray  # customers who may act today (signed up before today, not deleted)
    live_created_at: np.ndarray  # and when they signed up
    active_products: np.ndarray
    product_weights: np.ndarray  # popularity of active_products, sums to 1


KIND_EXISTING, KIND_SIGNUP, KIND_CHANGE, KIND_DELETION = range(4)


class Customers:
    """Customer attributes as integer codes in preallocated arrays; text is rendered on output."""

    DTYPES: ClassVar[dict[str, type]] = {
        "first_name": np.int16,
        "last_name": np.int16,
        "email_domain": np.int16,
        "email_version": np.int16,
        "phone": np.int64,
        "birth_date": np.int32,  # days since 1970-01-01
        "country": np.int16,
        "city": np.int16,
        "postal_code": np.int32,
        "segment": np.int8,
        "marketing_opt_in": np.bool_,
        "language": np.int8,  # index into LANGUAGES, -1 null
        "created_at": np.int64,
        "updated_at": np.int64,
        "signup_day": np.int32,  # -1 for customers of the day-0 full load
        "deleted_day": np.int32,
    }

    def __init__(self, capacity: int) -> None:
        self.count = 0
        self.data = {name: np.zeros(capacity, dtype) for name, dtype in self.DTYPES.items()}

    def add(
        self,
        rng: np.random.Generator,
        reference: Reference,
        created_at: np.ndarray,
        signup_day: int,
    ) -> np.ndarray:
        n = len(created_at)
        new = np.arange(self.count, self.count + n)
        self.count += n
        d = self.data
        d["first_name"][new] = rng.integers(0, len(FIRST_NAMES), n)
        d["last_name"][new] = rng.integers(0, len(LAST_NAMES), n)
        d["email_domain"][new] = rng.integers(0, len(EMAIL_DOMAINS), n)
        d["email_version"][new] = 0
        d["phone"][new] = rng.integers(10**10, 10**11, n)
        first_birth = (dt.date(1945, 1, 1) - EPOCH).days
        last_birth = (dt.date(2006, 12, 31) - EPOCH).days
        d["birth_date"][new] = rng.integers(first_birth, last_birth + 1, n)
        # Early rows of countries.csv are the bigger markets: Zipf-like weights by position.
        weights = 1.0 / np.arange(1, len(reference.country_codes) + 1) ** 0.8
        country = rng.choice(len(weights), n, p=weights / weights.sum())
        d["country"][new] = country
        d["city"][new] = rng.integers(0, len(CITIES), n)
        d["postal_code"][new] = rng.integers(10000, 100000, n)
        d["segment"][new] = rng.choice(len(SEGMENTS), n, p=SEGMENT_SHARES)
        d["marketing_opt_in"][new] = rng.random(n) < OPT_IN_SHARE
        home = np.array(
            [LANGUAGES.index(LANGUAGE_BY_COUNTRY.get(c, "en")) for c in reference.country_codes]
        )
        roll = rng.random(n)
        d["language"][new] = np.where(
            roll < NO_LANGUAGE_SHARE,
            -1,
            np.where(roll < NO_LANGUAGE_SHARE + ENGLISH_SHARE, 0, home[country]),
        )
        d["created_at"][new] = created_at
        d["updated_at"][new] = created_at
        d["signup_day"][new] = signup_day
        d["deleted_day"][new] = NEVER
        return new

    def snapshot(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        records = {name: values[indices] for name, values in self.data.items()}
        records["number"] = indices.astype(np.int64) + 1
        return records


class Catalogue:
    """The product catalogue; small, so it grows by concatenation."""

    def __init__(self) -> None:
        self.data: dict[str, np.ndarray] = {
            "category": np.zeros(0, np.int16),
            "adjective": np.zeros(0, np.int16),
            "noun": np.zeros(0, np.int16),
            "list_price": np.zeros(0, np.float64),
            "is_active": np.zeros(0, np.bool_),
            "weight": np.zeros(0, np.float64),
        }

    @property
    def count(self) -> int:
        return len(self.data["list_price"])

    def add(self, rng: np.random.Generator, reference: Reference, n: int, active: float) -> None:
        new = {
            "category": rng.integers(0, len(reference.raw_categories), n),
            "adjective": rng.integers(0, len(PRODUCT_ADJECTIVES), n),
            "noun": rng.integers(0, len(PRODUCT_NOUNS), n),
            "list_price": _retail_price(np.exp(rng.normal(3.3, 0.9, n))),
            "is_active": rng.random(n) < active,
            "weight": rng.lognormal(0.0, 1.0, n),  # a few bestsellers, a long tail
        }
        for name, values in new.items():
            self.data[name] = np.concatenate(
                [self.data[name], values.astype(self.data[name].dtype)]
            )


def _retail_price(euros: np.ndarray) -> np.ndarray:
    """Prices end in .99 and stay between 0.99 and 2,999.99 EUR."""
    return np.clip(np.floor(euros), 0, 2999) + 0.99


class World:
    """Advances the business one day at a time and reports what each day produced."""

    def __init__(self, params: Params, reference: Reference, last_day: int) -> None:
        self.params = params
        self.reference = reference
        self.day = 0
        self.customers = Customers(params.initial_customers + params.signups_through(last_day))
        self.catalogue = Catalogue()
        self.orders_placed = 0
        self.extracted_at = 0
        self.pending: deque[dict[str, np.ndarray]] = deque(maxlen=LIFECYCLE_DAYS + 1)

    def advance(self) -> Day:
        d = self.day
        start = self.params.day_start_us(d)
        records, kinds = self._customers_day(d, start)
        self._products_day(d)
        live = np.flatnonzero(
            (self.customers.data["signup_day"][: self.customers.count] < d)
            & (self.customers.data["deleted_day"][: self.customers.count] > d)
        )
        active = np.flatnonzero(self.catalogue.data["is_active"])
        weights = self.catalogue.data["weight"][active]
        weights = weights / weights.sum() if len(active) else weights
        lines, orders = self._orders_day(d, start, live, active, weights)
        self.day += 1
        return Day(
            index=d,
            date=self.params.date_of(d),
            start_us=start,
            customer_records=records,
            customer_kinds=kinds,
            products={name: values.copy() for name, values in self.catalogue.data.items()},
            extracted_at=self.extracted_at,
            statuses=self._statuses_landing(d),
            lines=lines,
            orders=orders,
            live=live,
            live_created_at=self.customers.data["created_at"][live],
            active_products=active,
            product_weights=weights,
        )

    def _customers_day(self, d: int, start: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        rng = day_rng(self.params.seed, d, Stream.CUSTOMERS)
        c = self.customers
        data = c.data
        if d == 0:
            n = self.params.initial_customers
            created = start - rng.integers(US_PER_MINUTE, HISTORY_DAYS * US_PER_DAY, n)
            new = c.add(rng, self.reference, created, signup_day=-1)
            # Some day-0 customers were edited after sign-up; the full load shows the last edit.
            edited = rng.random(n) < 0.4
            since = (start - created) * rng.random(n)
            data["updated_at"][new] = np.where(edited, created + since.astype(np.int64), created)
            return c.snapshot(new), np.full(n, KIND_EXISTING, np.int8)

        count = c.count
        candidates = np.flatnonzero(
            (data["signup_day"][:count] < d) & (data["deleted_day"][:count] == NEVER)
        )
        roll = rng.random(len(candidates))
        deleted = candidates[roll < DELETE_RATE]
        changed = candidates[(roll >= DELETE_RATE) & (roll < DELETE_RATE + CHANGE_RATE)]
        self._apply_changes(rng, changed)
        data["deleted_day"][deleted] = d
        touched = np.concatenate([changed, deleted])
        data["updated_at"][touched] = start + rng.integers(0, US_PER_DAY, len(touched))

        signups = self.params.signups_through(d) - self.params.signups_through(d - 1)
        created = start + rng.integers(0, US_PER_DAY, signups)
        new = c.add(rng, self.reference, created, signup_day=d)

        indices = np.concatenate([new, changed, deleted])
        kinds = np.concatenate(
            [
                np.full(len(new), KIND_SIGNUP, np.int8),
                np.full(len(changed), KIND_CHANGE, np.int8),
                np.full(len(deleted), KIND_DELETION, np.int8),
            ]
        )
        records = c.snapshot(indices)
        if inc.FEATURE_NULLS in self.params.incidents_on(d):
            records, kinds = self._re_export(d, start, candidates, touched, records, kinds)
        order = np.lexsort((records["number"], records["updated_at"]))  # a CDC feed, in time order
        return {name: values[order] for name, values in records.items()}, kinds[order]

    def _re_export(
        self,
        d: int,
        start: int,
        candidates: np.ndarray,
        touched: np.ndarray,
        records: dict[str, np.ndarray],
        kinds: np.ndarray,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Incident feature_nulls: a bulk re-export of live customers that lost ``segment``.

        Feed rows only: the customers' real state is unchanged, so their next change record
        carries their segment again.
        """
        rng = day_rng(self.params.seed, d, Stream.INCIDENTS)
        pool = np.setdiff1d(candidates, touched)
        resent = np.sort(
            rng.choice(pool, round(len(pool) * inc.FEATURE_NULLS_SHARE), replace=False)
        )
        extra = self.customers.snapshot(resent)
        extra["updated_at"] = start + rng.integers(0, US_PER_DAY, len(resent))
        extra["segment"] = np.full(len(resent), -1, extra["segment"].dtype)  # null in the file
        merged = {name: np.concatenate([records[name], extra[name]]) for name in records}
        return merged, np.concatenate([kinds, np.full(len(resent), KIND_CHANGE, np.int8)])

    def _apply_changes(self, rng: np.random.Generator, changed: np.ndarray) -> None:
        data = self.customers.data
        kind = rng.choice(len(CHANGE_KINDS), len(changed), p=CHANGE_SHARES)
        email = changed[kind == 0]
        data["email_version"][email] += 1
        data["email_domain"][email] = (
            data["email_domain"][email] + rng.integers(1, len(EMAIL_DOMAINS), len(email))
        ) % len(EMAIL_DOMAINS)
        moved = changed[kind == 1]
        data["city"][moved] = (
            data["city"][moved] + rng.integers(1, len(CITIES), len(moved))
        ) % len(CITIES)
        data["postal_code"][moved] = rng.integers(10000, 100000, len(moved))
        regraded = changed[kind == 2]
        data["segment"][regraded] = (
            data["segment"][regraded] + rng.integers(1, len(SEGMENTS), len(regraded))
        ) % len(SEGMENTS)
        toggled = changed[kind == 3]
        data["marketing_opt_in"][toggled] = ~data["marketing_opt_in"][toggled]

    def _products_day(self, d: int) -> None:
        rng = day_rng(self.params.seed, d, Stream.PRODUCTS)
        self.extracted_at = self.params.day_start_us(d) + int(
            rng.integers(
                EXTRACT_FROM_MINUTE * US_PER_MINUTE, (EXTRACT_FROM_MINUTE + 30) * US_PER_MINUTE
            )
        )
        cat = self.catalogue
        if d == 0:
            cat.add(rng, self.reference, self.params.initial_products, INITIAL_ACTIVE_SHARE)
            return
        data = cat.data
        roll = rng.random(cat.count)
        repriced = roll < PRICE_CHANGE_RATE
        factor = rng.uniform(0.8, 1.25, cat.count)
        data["list_price"] = np.where(
            repriced, _retail_price(data["list_price"] * factor), data["list_price"]
        )
        flip = rng.random(cat.count)
        active = data["is_active"]
        data["is_active"] = np.where(active, flip >= DEACTIVATE_RATE, flip < REACTIVATE_RATE)
        new = rng.poisson(self.params.initial_products * NEW_PRODUCT_RATE)
        if new:
            cat.add(rng, self.reference, int(new), active=1.0)

    def _orders_day(
        self,
        d: int,
        start: int,
        live: np.ndarray,
        active: np.ndarray,
        weights: np.ndarray,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rng = day_rng(self.params.seed, d, Stream.ORDERS)
        data = self.customers.data
        buyers = live[rng.random(len(live)) < ORDER_RATES[data["segment"][live]]]
        if len(active) == 0:
            buyers = buyers[:0]
        n = len(buyers)
        placed_at = start + rng.integers(EARLIEST_ORDER_MINUTE * US_PER_MINUTE, US_PER_DAY, n)
        o = {  # one value per order
            "buyer": buyers,
            "placed_at": placed_at,
            "channel": rng.choice(len(CHANNELS), n, p=CHANNEL_SHARES),
            "country": data["country"][buyers].astype(np.int64),
            "n_lines": rng.integers(1, MAX_LINES + 1, n),
        }
        line_order = np.repeat(np.arange(n), o["n_lines"])
        first_line = np.cumsum(o["n_lines"]) - o["n_lines"]
        li = {  # one value per line
            "order": line_order,
            "line_number": np.arange(len(line_order)) - np.repeat(first_line, o["n_lines"]) + 1,
            "product": active[rng.choice(len(active), len(line_order), p=weights)]
            if n
            else line_order,
            "quantity": rng.integers(1, MAX_QUANTITY + 1, len(line_order)),
        }
        o["cancelled"] = rng.random(n) < CANCEL_RATE
        o["cancelled_at"] = placed_at + rng.integers(10 * US_PER_MINUTE, US_PER_DAY, n)
        o["shipped_at"] = placed_at + rng.integers(US_PER_DAY, 2 * US_PER_DAY, n)
        o["delivered_at"] = o["shipped_at"] + rng.integers(2 * US_PER_DAY, 4 * US_PER_DAY, n)
        o["returned"] = ~o["cancelled"] & (rng.random(n) < RETURN_RATE)
        o["returned_at"] = o["delivered_at"] + rng.integers(3 * US_PER_DAY, 10 * US_PER_DAY, n)
        if inc.ORDERS_DROP in self.params.incidents_on(d):
            o, li = self._drop_orders(d, o, li)
            n = len(o["buyer"])

        number = self.orders_placed + 1 + np.arange(n, dtype=np.int64)
        self.orders_placed += n
        currency = self.reference.country_currency[o["country"]]
        price_eur = self.catalogue.data["list_price"][li["product"]]
        lines = {
            "order_number": number[li["order"]],
            "line_number": li["line_number"].astype(np.int64),
            "product": li["product"].astype(np.int64),
            "quantity": li["quantity"].astype(np.int64),
            "unit_price": np.round(
                price_eur / self.reference.eur_per_unit[currency[li["order"]]], 2
            ),
        }
        cancelled, returned = o["cancelled"], o["returned"]
        steps = [
            (np.ones(n, bool), PLACED, o["placed_at"]),
            (cancelled, CANCELLED, o["cancelled_at"]),
            (~cancelled, SHIPPED, o["shipped_at"]),
            (~cancelled, DELIVERED, o["delivered_at"]),
            (returned, RETURNED, o["returned_at"]),
        ]
        which = np.concatenate([np.flatnonzero(mask) for mask, _, _ in steps])
        self.pending.append(
            {
                "order_number": number[which],
                "customer": o["buyer"][which].astype(np.int64),
                "status": np.concatenate([np.full(m.sum(), s, np.int8) for m, s, _ in steps]),
                "placed_at": o["placed_at"][which],
                "status_at": np.concatenate([at[m] for m, _, at in steps]),
                "channel": o["channel"][which],
                "currency": currency[which],
                "country": o["country"][which],
            }
        )
        first_line = np.cumsum(o["n_lines"]) - o["n_lines"]
        orders = {
            "customer": o["buyer"].astype(np.int64),
            "placed_at": o["placed_at"],
            "first_product": lines["product"][first_line],
        }
        return lines, orders

    def _drop_orders(
        self, d: int, o: dict[str, np.ndarray], li: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Incident orders_drop: most of the largest market's orders are never placed.

        Applied after every draw of the day, so the other orders are exactly as without it.
        """
        rng = day_rng(self.params.seed, d, Stream.INCIDENTS)
        market = np.flatnonzero(o["country"] == inc.ORDERS_DROP_COUNTRY)
        lost = np.zeros(len(o["buyer"]), dtype=bool)
        lost[rng.choice(market, round(len(market) * inc.ORDERS_DROP_SHARE), replace=False)] = True
        kept = ~lost
        line_kept = kept[li["order"]]
        li = {name: values[line_kept] for name, values in li.items()}
        li["order"] = (np.cumsum(kept) - 1)[li["order"]]  # renumbered among kept orders
        return {name: values[kept] for name, values in o.items()}, li

    def _statuses_landing(self, d: int) -> dict[str, np.ndarray]:
        """Status records whose status_at falls on day d, from orders of the last few weeks.

        A customer deleted on or before day d stops the lifecycle: nothing follows a deletion.
        """
        start = self.params.day_start_us(d)
        deleted_day = self.customers.data["deleted_day"]
        parts = []
        for chunk in self.pending:
            at = chunk["status_at"]
            keep = (at >= start) & (at < start + US_PER_DAY)
            keep &= deleted_day[chunk["customer"]] > d
            parts.append({name: values[keep] for name, values in chunk.items()})
        merged = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        order = np.lexsort((merged["status"], merged["order_number"], merged["status_at"]))
        return {name: values[order] for name, values in merged.items()}
