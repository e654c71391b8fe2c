"""The support system's helpdesk feed in the sample lake (generator/support.py,
docs/sample_lake.md).

First of all, the feed leaves the shop alone: the shop's files and manifest entries are the
bytes the generator wrote before support existed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from generator.lake import generate
from generator.manifest import load_counts

SHOP_SOURCES = ("customers", "products", "orders", "order_items", "events")

# Digests of a lake written by the generator of commit d1ee572, before the support feed
# existed: seed 5, 400 customers, 6 days from 2026-03-01 (drift day 3). Computed once with
# `_digests` below; they change only if the shop's generation changes (or pyarrow's writer
# does: then recompute them at that commit with the new pyarrow).
PINNED = {
    "customers": "fe9ccd49b8d40307bfe38ebce13166c2280683fb2d2277bdea9146376c8279c3",
    "products": "a776ed355ff590c0309505f625703162ed96e8d1d3866c54c8b838bbe48909f0",
    "orders": "2fe366a936657422a1ee4de7f7e1a101e0fb37b1df2df549ff75b2d6f6db99a4",
    "order_items": "5d4d430c974240159f2faf100cee4201400099ad2102cbb5aedd3dd950e84edf",
    "events": "5f8390c8049d0f6543e60857f953a1aa7ae68854731ae146c05fea70e35e56e0",
    "manifest": "5d3f3bc483751f25e0a22b03ef7453f83bac85945e765be8e134928c3f3d4099",
}
PINNED_LAKE = {"seed": 5, "customers": 400, "start_date": dt.date(2026, 3, 1), "days": 6}


def _digests(lake: Path) -> dict[str, str]:
    """One digest per shop source over its files (path and bytes), one over the manifests'
    shop entries (`sources` of every day)."""
    out = {}
    for source in SHOP_SOURCES:
        digest = hashlib.sha256()
        for path in sorted((lake / source).rglob("*.parquet")):
            digest.update(str(path.relative_to(lake)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        out[source] = digest.hexdigest()
    digest = hashlib.sha256()
    for date, body in load_counts(lake).items():
        digest.update(json.dumps([date, body["sources"]], sort_keys=True).encode())
    out["manifest"] = digest.hexdigest()
    return out


def test_the_shop_is_byte_identical_to_before_support_existed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate(lake, **PINNED_LAKE)
    assert _digests(lake) == PINNED
