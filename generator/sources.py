"""The five raw sources: rows of one day, their defect rules, and their on-disk shape.

Each builder is a pure function of a simulated :class:`~generator.simulation.Day` (plus, for
events, that day's RNG), so any day can be rebuilt on its own when appending.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import incidents as inc
from generator import simulation as sim
from generator.columns import (
    US_PER_DAY,
    US_PER_SECOND,
    hex_ids,
    ipv4,
    labels,
    mix64,
    set_where,
    timestamps,
    zero_padded,
)
from generator.defects import CorruptFn, Delivery, Rule, deliver
from generator.reference import UNKNOWN_CURRENCY, Reference
from generator.simulation import Day, Params, Stream, day_rng

SOURCES = ("customers", "products", "orders", "order_items", "events")

# Events
SESSION_RATE = 0.15  # of live customers have a logged-in session per day (buyers included)
ANONYMOUS_RATE = 0.05  # anonymous sessions per day, as a share of --customers
MAX_EVENTS = 15  # per session; the count is 1 + Binomial(14, 0.5), so 8 on average
EVENT_TYPES = ("page_view", "search", "add_to_cart", "checkout")
PAGE_VIEW, SEARCH, ADD_TO_CART, CHECKOUT = range(4)
BROWSE_SHARES = (0.60, 0.22, 0.18)  # page_view, search, add_to_cart after the first page view
PRODUCT_PAGE_SHARE = 0.70  # of page views show a product
MAX_SESSION_MINUTES = 30
DEVICES = ("desktop", "mobile", "tablet")
DEVICE_SHARES = (0.45, 0.45, 0.10)
LATE_RATE = 0.03  # of events arrive 1-3 days after they happened
MAX_LATE_DAYS = 3
SEARCH_TERMS = (
    "wireless headphones", "running shoes", "coffee grinder", "garden hose", "desk lamp",
    "yoga mat", "board game", "face cream", "winter jacket", "phone case", "olive oil",
    "children's books", "tent", "usb-c cable", "rain boots", "gift ideas",
)  # fmt: skip
FIXED_PAGES = ("/", "/deals", "/new", "/account")

# Defects (rates per row of the source and day; see docs/sample_lake.md)
NULL_KEY_RATE = 0.002
UNKNOWN_CURRENCY_RATE = 0.003
NEGATIVE_QUANTITY_RATE = 0.003
FUTURE_TIMESTAMP_RATE = 0.001
BEFORE_BUSINESS_START_RATE = 0.0005
UNPARSEABLE_RATE = 0.02  # of the drift day's order_items file
UNPARSEABLE_VALUES = ("two", "N/A", "")
FUTURE_SHIFT_DAYS = 365  # a device clock off by a year
CLOCK_RESET_DAYS = 30  # a reset clock reads within the first month of 1970

_SALT_EVENT, _SALT_SESSION, _SALT_VISITOR = 1, 2, 3


def _salt(seed: int, purpose: int) -> int:
    return int(mix64(np.array([seed], dtype=np.uint64), 0x5EED0000 + purpose)[0])


def _customer_ids(indices: np.ndarray) -> pa.Array:
    return zero_padded("C", np.asarray(indices, dtype=np.int64) + 1, 7)


def _product_ids(indices: np.ndarray) -> pa.Array:
    return zero_padded("P", np.asarray(indices, dtype=np.int64) + 1, 5)


def _order_ids(numbers: np.ndarray) -> pa.Array:
    return zero_padded("O", numbers, 9)


# --- schemas --------------------------------------------------------------------------------

TS = pa.timestamp("us")
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("phone", pa.string()),
        ("birth_date", pa.date32()),
        ("country_code", pa.string()),
        ("city", pa.string()),
        ("postal_code", pa.string()),
        ("segment", pa.string()),
        ("marketing_opt_in", pa.bool_()),
        ("created_at", TS),
        ("updated_at", TS),
        ("is_deleted", pa.bool_()),
        ("preferred_language", pa.string()),  # written from the drift day on
    ]
)
PRODUCTS_SCHEMA = pa.schema(
    [
        ("product_id", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("list_price", pa.float64()),
        ("is_active", pa.bool_()),
        ("updated_at", TS),
    ]
)
ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("status", pa.string()),
        ("placed_at", TS),
        ("status_at", TS),
        ("channel", pa.string()),
        ("currency", pa.string()),
        ("shipping_country_code", pa.string()),
    ]
)
ORDER_ITEMS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("line_number", pa.int64()),
        ("product_id", pa.string()),
        ("quantity", pa.int64()),  # text on the drift day
        ("unit_price", pa.float64()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("session_id", pa.string()),
        ("customer_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("event_type", pa.string()),
        ("event_at", TS),
        ("page_url", pa.string()),
        ("search_query", pa.string()),
        ("product_id", pa.string()),
        ("device", pa.string()),
        ("ip_address", pa.string()),
    ]
)


# --- customers ------------------------------------------------------------------------------


def customer_emails(r: Mapping[str, np.ndarray]) -> pa.Array:
    """The email of each customer record: ``first.last<number>[.<version+1>]@domain``.

    Lower case throughout; also the address the support feed's tickets start from.
    """
    email_first = [name.lower() for name in sim.FIRST_NAMES]
    email_last = [name.lower().replace(" ", "") for name in sim.LAST_NAMES]
    version = r["email_version"].astype(np.int64)
    suffix = pc.if_else(
        pa.array(version == 0),
        "",
        pc.binary_join_element_wise(".", pc.cast(pa.array(version + 1), pa.string()), ""),
    )
    return pc.binary_join_element_wise(
        labels(email_first, r["first_name"]),
        ".",
        labels(email_last, r["last_name"]),
        pc.cast(pa.array(r["number"]), pa.string()),
        suffix,
        "@",
        labels(sim.EMAIL_DOMAINS, r["email_domain"]),
        "",
    )


def customers_table(day: Day, reference: Reference) -> pa.Table:
    r = day.customer_records
    columns = {
        "customer_id": _customer_ids(r["number"] - 1),
        "email": customer_emails(r),
        "first_name": labels(sim.FIRST_NAMES, r["first_name"]),
        "last_name": labels(sim.LAST_NAMES, r["last_name"]),
        "phone": pc.binary_join_element_wise("+", pc.cast(pa.array(r["phone"]), pa.string()), ""),
        "birth_date": pa.array(r["birth_date"].astype(np.int32), type=pa.date32()),
        "country_code": labels(reference.country_codes, r["country"]),
        "city": labels(sim.CITIES, r["city"]),
        "postal_code": zero_padded("", r["postal_code"], 5),
        "segment": labels(sim.SEGMENTS, r["segment"]),
        "marketing_opt_in": pa.array(r["marketing_opt_in"], type=pa.bool_()),
        "created_at": timestamps(r["created_at"]),
        "updated_at": timestamps(r["updated_at"]),
        "is_deleted": pa.array(day.customer_kinds == sim.KIND_DELETION, type=pa.bool_()),
        "preferred_language": labels(sim.LANGUAGES, r["language"]),
    }
    return pa.table(columns, schema=CUSTOMERS_SCHEMA)


def _null_column(name: str) -> CorruptFn:
    """A lost key: such a row can be neither deduplicated nor joined, only quarantined."""

    def corrupt(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
        i = table.schema.get_field_index(name)
        return table.set_column(i, name, set_where(table.column(name), mask, None))

    return corrupt


# --- products -------------------------------------------------------------------------------


def products_table(day: Day, reference: Reference) -> pa.Table:
    p = day.products
    n = len(p["list_price"])
    model = pc.cast(pa.array((np.arange(n) * 37) % 900 + 100), pa.string())
    name = pc.binary_join_element_wise(
        labels(sim.PRODUCT_ADJECTIVES, p["adjective"]),
        labels(sim.PRODUCT_NOUNS, p["noun"]),
        model,
        " ",
    )
    columns = {
        "product_id": _product_ids(np.arange(n)),
        "product_name": name,
        "category": labels(reference.raw_categories, p["category"]),
        "list_price": pa.array(p["list_price"], type=pa.float64()),
        "is_active": pa.array(p["is_active"], type=pa.bool_()),
        "updated_at": timestamps(np.full(n, day.extracted_at)),
    }
    return pa.table(columns, schema=PRODUCTS_SCHEMA)


# --- orders and order items -----------------------------------------------------------------


def orders_table(day: Day, reference: Reference) -> pa.Table:
    s = day.statuses
    columns = {
        "order_id": _order_ids(s["order_number"]),
        "customer_id": _customer_ids(s["customer"]),
        "status": labels(sim.STATUSES, s["status"]),
        "placed_at": timestamps(s["placed_at"]),
        "status_at": timestamps(s["status_at"]),
        "channel": labels(sim.CHANNELS, s["channel"]),
        "currency": labels(reference.currency_codes, s["currency"]),
        "shipping_country_code": labels(reference.country_codes, s["country"]),
    }
    return pa.table(columns, schema=ORDERS_SCHEMA)


def order_items_table(day: Day) -> pa.Table:
    li = day.lines
    columns = {
        "order_id": _order_ids(li["order_number"]),
        "line_number": pa.array(li["line_number"], type=pa.int64()),
        "product_id": _product_ids(li["product"]),
        "quantity": pa.array(li["quantity"], type=pa.int64()),
        "unit_price": pa.array(li["unit_price"], type=pa.float64()),
    }
    return pa.table(columns, schema=ORDER_ITEMS_SCHEMA)


def _unknown_currency(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    i = table.schema.get_field_index("currency")
    return table.set_column(
        i, "currency", set_where(table.column("currency"), mask, UNKNOWN_CURRENCY)
    )


def _negative_quantity(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    i = table.schema.get_field_index("quantity")
    quantity = table.column("quantity").to_numpy()
    return table.set_column(i, "quantity", pa.array(np.where(mask, -quantity, quantity)))


def quantity_as_text(table: pa.Table, codes: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """The drift day's file: quantity became text upstream, and some values do not parse."""
    unparseable = codes == 1 + ORDER_ITEMS_RULE_NAMES.index("unparseable_value")
    text = pc.cast(table.column("quantity"), pa.string())
    junk = labels(UNPARSEABLE_VALUES, rng.integers(0, len(UNPARSEABLE_VALUES), len(codes)))
    text = pc.if_else(pa.array(unparseable), junk, text)
    i = table.schema.get_field_index("quantity")
    return table.set_column(i, pa.field("quantity", pa.string()), text)


# --- events ---------------------------------------------------------------------------------


def events_table(day: Day, params: Params) -> tuple[pa.Table, np.ndarray]:
    """One day of clickstream, sorted by event time, and a mask of the late-arriving rows.

    Buyers always get a session that ends in checkout a minute before their order; other
    logged-in and anonymous sessions browse. Late sessions are shifted back whole days and
    never belong to a buyer or to a customer too new to have been active then.
    """
    rng = day_rng(params.seed, day.index, Stream.EVENTS)
    buyers = day.orders["customer"]
    n_buy = len(buyers)
    browse_pool = np.setdiff1d(day.live, buyers, assume_unique=True)
    wanted = int(rng.binomial(len(day.live), SESSION_RATE)) - n_buy
    n_browse = min(len(browse_pool), max(0, wanted))
    browsers = np.sort(rng.choice(browse_pool, n_browse, replace=False))
    n_anon = int(rng.binomial(params.customers, ANONYMOUS_RATE))
    customer = np.concatenate([buyers, browsers, np.full(n_anon, -1, np.int64)])
    n_sessions = len(customer)

    # Sessions
    n_events = 1 + rng.binomial(MAX_EVENTS - 1, 0.5, n_sessions)
    n_events[:n_buy] = np.maximum(n_events[:n_buy], 3)
    duration = rng.integers(
        30 * US_PER_SECOND, MAX_SESSION_MINUTES * 60 * US_PER_SECOND, n_sessions
    )
    duration[n_events == 1] = 0
    start = np.empty(n_sessions, dtype=np.int64)
    checkout_lead = rng.integers(US_PER_SECOND, 60 * US_PER_SECOND, n_buy)
    start[:n_buy] = day.orders["placed_at"] - checkout_lead - duration[:n_buy]
    latest = US_PER_DAY - duration[n_buy:] - 60 * US_PER_SECOND
    start[n_buy:] = day.start_us + rng.integers(0, latest)
    device = rng.choice(len(DEVICES), n_sessions, p=DEVICE_SHARES)
    ip = ipv4(rng, n_sessions)
    visitor = np.where(
        customer >= 0, customer, (1 << 40) + rng.integers(0, 3 * params.customers, n_sessions)
    )
    anonymous_id = hex_ids(mix64(visitor.astype(np.uint64), _salt(params.seed, _SALT_VISITOR)))
    session_key = (np.uint64(day.index) << np.uint64(32)) + np.arange(n_sessions, dtype=np.uint64)
    session_id = hex_ids(mix64(session_key, _salt(params.seed, _SALT_SESSION)))
    customer_id = _customer_ids(np.maximum(customer, 0))
    customer_id = set_where(customer_id, customer < 0, None)

    # Events within sessions
    total = int(n_events.sum())
    session = np.repeat(np.arange(n_sessions), n_events)
    first = np.cumsum(n_events) - n_events
    position = np.arange(total) - first[session]
    last = (n_events - 1)[session]
    buying = session < n_buy
    event_type = rng.choice(3, total, p=BROWSE_SHARES)
    event_type[position == 0] = PAGE_VIEW
    event_type[buying & (position == last - 1)] = ADD_TO_CART
    event_type[buying & (position == last)] = CHECKOUT

    gaps = rng.exponential(1.0, total)
    gaps[position == 0] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[first][session]
    span = elapsed[first + n_events - 1][session]
    fraction = np.divide(elapsed, span, out=np.zeros(total), where=span > 0)
    event_at = start[session] + (fraction * duration[session]).astype(np.int64)

    viewed = day.active_products[rng.choice(len(day.active_products), total, p=day.product_weights)]
    buy_cart = buying & (position == last - 1)
    viewed[buy_cart] = day.orders["first_product"][session[buy_cart]]
    shows_product = (event_type == ADD_TO_CART) | (
        (event_type == PAGE_VIEW) & (rng.random(total) < PRODUCT_PAGE_SHARE)
    )
    term = rng.integers(0, len(SEARCH_TERMS), total)
    fixed_page = rng.integers(0, len(FIXED_PAGES), total)

    # Late arrivals: whole sessions of established visitors, shifted back 1-3 days.
    created_at = np.full(n_sessions, np.iinfo(np.int64).min)
    created_at[n_buy : n_buy + n_browse] = day.live_created_at[np.searchsorted(day.live, browsers)]
    can_be_late = np.arange(n_sessions) >= n_buy
    can_be_late &= created_at < day.start_us - MAX_LATE_DAYS * US_PER_DAY
    target = int(rng.binomial(total, LATE_RATE))
    candidates = rng.permutation(np.flatnonzero(can_be_late))
    late_sessions = candidates[np.cumsum(n_events[candidates]) <= target]
    shift = np.zeros(n_sessions, dtype=np.int64)
    shift[late_sessions] = rng.integers(1, MAX_LATE_DAYS + 1, len(late_sessions)) * US_PER_DAY
    event_at -= shift[session]
    late = shift[session] > 0

    order = np.lexsort((np.arange(total), event_at))
    session, event_type, event_at, late = (
        session[order],
        event_type[order],
        event_at[order],
        late[order],
    )
    viewed, shows_product = viewed[order], shows_product[order]
    term, fixed_page = term[order], fixed_page[order]

    event_key = (np.uint64(day.index) << np.uint64(32)) + np.arange(total, dtype=np.uint64)
    product_code = np.where(shows_product, viewed, -1)
    product_id = _product_ids(np.maximum(product_code, 0))
    product_id = set_where(product_id, product_code < 0, None)
    searching = event_type == SEARCH
    query_url = [t.replace(" ", "+").replace("'", "%27") for t in SEARCH_TERMS]
    page = pc.if_else(
        pa.array(shows_product),
        pc.binary_join_element_wise("/products/", product_id, ""),
        pc.if_else(
            pa.array(searching),
            pc.binary_join_element_wise("/search?q=", labels(query_url, term), ""),
            labels(FIXED_PAGES, fixed_page),
        ),
    )
    page = pc.if_else(pa.array(event_type == CHECKOUT), "/checkout", page)
    page = pc.if_else(pa.array(event_type == ADD_TO_CART), "/cart", page)
    session_index = pa.array(session)
    columns = {
        "event_id": hex_ids(mix64(event_key, _salt(params.seed, _SALT_EVENT))),
        "session_id": session_id.take(session_index),
        "customer_id": customer_id.take(session_index),
        "anonymous_id": anonymous_id.take(session_index),
        "event_type": labels(EVENT_TYPES, event_type),
        "event_at": timestamps(event_at),
        "page_url": page,
        "search_query": labels(SEARCH_TERMS, np.where(searching, term, -1)),
        "product_id": product_id,
        "device": labels(DEVICES, device[session]),
        "ip_address": ip.take(session_index),
    }
    return pa.table(columns, schema=EVENTS_SCHEMA), late


def _future_timestamp(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    at = table.column("event_at").cast(pa.int64()).to_numpy()
    moved = np.where(mask, at + FUTURE_SHIFT_DAYS * US_PER_DAY, at)
    return table.set_column(table.schema.get_field_index("event_at"), "event_at", timestamps(moved))


def _clock_reset(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
    at = table.column("event_at").cast(pa.int64()).to_numpy()
    reset = at % US_PER_DAY + rng.integers(0, CLOCK_RESET_DAYS, len(at)) * US_PER_DAY
    moved = np.where(mask, reset, at)
    return table.set_column(table.schema.get_field_index("event_at"), "event_at", timestamps(moved))


# --- one day of every source ----------------------------------------------------------------

ORDER_ITEMS_RULE_NAMES = ("negative_quantity", "unparseable_value")


def build_day(
    day: Day,
    params: Params,
    reference: Reference,
    previous: dict[str, pa.Table] | None,
) -> dict[str, Delivery]:
    """Every source's delivery for one day; ``previous`` holds yesterday's clean rows."""
    previous = previous or {}
    seed, d = params.seed, day.index

    def rngs(source: str) -> tuple[np.random.Generator, np.random.Generator]:
        part = SOURCES.index(source)
        return day_rng(seed, d, Stream.DEFECTS, part), day_rng(seed, d, Stream.DUPLICATES, part)

    out: dict[str, Delivery] = {}

    customers = customers_table(day, reference)
    yesterday = previous.get("customers")
    if yesterday is not None and d == params.drift_day:
        # Yesterday's file had no preferred_language: its copies read as null, like the original.
        i = yesterday.schema.get_field_index("preferred_language")
        yesterday = yesterday.set_column(
            i, "preferred_language", pa.nulls(yesterday.num_rows, pa.string())
        )
    out["customers"] = deliver(
        customers,
        [Rule("null_key", NULL_KEY_RATE, _null_column("customer_id"))],
        *rngs("customers"),
        # A customer's first record is never lost, so every order refers to a known customer.
        eligible=day.customer_kinds >= sim.KIND_CHANGE,
        previous_clean=yesterday,
    )

    out["products"] = deliver(products_table(day, reference), [], *rngs("products"))

    orders = orders_table(day, reference)
    out["orders"] = deliver(
        orders,
        [
            Rule("null_key", NULL_KEY_RATE, _null_column("order_id")),
            Rule("unknown_currency", UNKNOWN_CURRENCY_RATE, _unknown_currency),
        ],
        *rngs("orders"),
        eligible=day.statuses["status"] != sim.PLACED,
        previous_clean=previous.get("orders"),
    )

    drift = d == params.drift_day
    out["order_items"] = deliver(
        order_items_table(day),
        [
            Rule("negative_quantity", NEGATIVE_QUANTITY_RATE, _negative_quantity),
            Rule("unparseable_value", UNPARSEABLE_RATE if drift else 0.0, None, at_least=1),
        ],
        *rngs("order_items"),
        previous_clean=previous.get("order_items"),
    )

    if inc.EVENTS_STOP in params.incidents_on(d):
        events, late = EVENTS_SCHEMA.empty_table(), np.zeros(0, dtype=bool)  # nothing arrived
    else:
        events, late = events_table(day, params)
    delivery = deliver(
        events,
        [
            Rule("null_key", NULL_KEY_RATE, _null_column("event_id")),
            Rule("future_timestamp", FUTURE_TIMESTAMP_RATE, _future_timestamp),
            Rule("timestamp_before_business_start", BEFORE_BUSINESS_START_RATE, _clock_reset),
        ],
        *rngs("events"),
        eligible=~late,
        previous_clean=previous.get("events"),
    )
    delivery.extra["late_arrivals"] = int(late.sum())
    out["events"] = delivery
    return out


def on_disk(source: str, delivery: Delivery, params: Params, day_index: int) -> pa.Table:
    """The table as the file stores it: the schema drifts on and after the drift day."""
    table = delivery.table
    if source == "customers" and day_index < params.drift_day:
        table = table.drop_columns(["preferred_language"])
    if source == "order_items" and day_index == params.drift_day:
        rng = day_rng(params.seed, day_index, Stream.DEFECTS, len(SOURCES))
        table = quantity_as_text(table, delivery.codes, rng)
    return table
