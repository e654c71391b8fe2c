"""Deterministic sample lake for an e-commerce business (contract: docs/sample_lake.md).

``python -m generator generate`` writes a fresh history; ``python -m generator append``
continues it from ``_generator/params.json`` without touching earlier files. Same seed and
parameters give the same bytes, and ``generate --days N --plan-days N+k`` followed by
``append --days k`` equals ``generate --days N+k``.

What the simulated business does (the constants live next to the code that uses them):

Customers (``simulation.py``)
    60 % of ``--customers`` exist on day 0, created over the prior two years; the other 40 %
    sign up at a steady pace over ``plan_days`` (and keep coming at that pace if appended
    past the plan). Each day 2 % of live customers change one thing (email 30 %, city and
    postal code 25 %, segment 15 %, marketing opt-in 30 %; one change per customer per day)
    and 0.1 % are deleted, after which they produce nothing: no orders, no status records,
    no events. Segments: consumer 85 %, small_business 12 %, vip 3 %.
Products
    max(50, customers / 20) at start, 97 % active; daily: 1 % change price (x0.8-1.25, prices
    end in .99), 0.1 % of active ones are deactivated and 2 % of inactive ones come back, and
    about 0.2 % of the initial catalogue is added. Category labels are the raw labels of
    ``seeds/category_map.csv``; a full dump lands every day at 02:00-02:30.
Orders
    A live customer orders with probability 3 % (consumer), 5 % (small_business) or 8 % (vip)
    a day; 1-4 lines of 1-3 units of popularity-weighted active products; unit_price is
    ``round(list_price / eur_per_unit, 2)`` in the currency of the customer's country. 10 %
    are cancelled within a day, the rest ship 1-2 days after placement and are delivered 2-4
    days later; 5 % of deliveries come back 3-10 days after. A status record lands on the
    day its ``status_at`` falls on.
Events (``sources.py``)
    Logged-in sessions for 15 % of live customers a day (every buyer included, their session
    ending in add_to_cart then checkout a minute before the order); anonymous sessions for
    5 % of ``--customers`` a day; 1-15 events a session (8 on average) within 30 minutes:
    a page view first, then page_view 60 % / search 22 % / add_to_cart 18 %; 70 % of page
    views show a product. Devices: desktop 45 %, mobile 45 %, tablet 10 %. 3 % of events
    arrive 1-3 days late (whole sessions of established visitors).
Defects (``sources.py``, ``defects.py``)
    Per row of the source and day: duplicates 0.5 % (exact copies of clean rows; half of
    them re-deliver yesterday's rows, except for products), null_key 0.2 %,
    unknown_currency 0.3 %, negative_quantity 0.3 %, future_timestamp 0.1 %,
    timestamp_before_business_start 0.05 %, and 2 % unparseable quantities in the drift
    day's order_items file. A row carries at most one defect and a duplicate none.
Support tickets (``support.py``)
    A second source system, on by default (``--no-support`` leaves it out):
    ``support/tickets``, a change feed of helpdesk tickets (a row on open, first response
    and resolution). 30 % of returns, 12 % of cancellations and 1.2 % of deliveries raise a
    ticket, and 0.05 % of live customers a day write in about anything, so about 4-5 % of
    customers open one in a month; 6 % of tickets come from unknown addresses. Per row:
    duplicates 2 %, corrections 2 %, late arrivals 5 %, null_key 1 %,
    response_before_creation 1 %, score_out_of_range 1 %. Its own random stream: the
    shop's files are the same bytes with or without it.

At ``--customers 200000 --days 120`` the lake holds about 31 million events, 2 million
order status records and 1.7 million order lines, and takes under two minutes to write.
"""

from generator.lake import LakeError, append, generate
from generator.manifest import load_counts

__all__ = ["LakeError", "append", "generate", "load_counts"]
