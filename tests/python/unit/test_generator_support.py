"""The support system's helpdesk feed in the sample lake (generator/support.py,
docs/sample_lake.md).

First of all, the feed leaves the shop alone: the shop's files and manifest entries are the
bytes the generator wrote before support existed. Then, as for the shop, the counts of the
manifest are rebuilt from the files alone, so a mismatch downstream is the warehouse's bug.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT

from generator.__main__ import main
from generator.defects import Rule, deliver
from generator.lake import append, generate, read_params
from generator.manifest import expected_kept, load_counts, tables, totals
from generator.support import CATEGORIES, CHANNELS, RULE_NAMES, TICKETS_SCHEMA

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


# --- a lake with the feed -------------------------------------------------------------------

SEED = 21
CUSTOMERS = 6000
START = dt.date(2026, 3, 1)
DAYS = 40
TICKETS = Path("support", "tickets")
FIELDS = tuple(TICKETS_SCHEMA.names)
TICKET_ID = re.compile(r"T\d{8}")
ORDER_ID = re.compile(r"O\d{9}")


def _dates(days: int = DAYS) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(days)]


def _read(lake: Path, folder: str | Path, date: dt.date) -> pa.Table:
    return pq.read_table(lake / folder / f"ingest_date={date.isoformat()}" / "part-0.parquet")


def _files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("support") / "lake"
    generate(out, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS)
    return out


@pytest.fixture(scope="module")
def shop_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop_only") / "lake"
    generate(out, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS, support=False)
    return out


def test_with_or_without_support_the_shop_writes_the_same_bytes(
    lake: Path, shop_only: Path
) -> None:
    with_support = {k: v for k, v in _files(lake).items() if not k.startswith(("support", "_"))}
    assert with_support == {k: v for k, v in _files(shop_only).items() if not k.startswith("_")}
    assert _digests(lake) == _digests(shop_only)  # the manifests' shop entries too
    shop_totals = {k: v for k, v in totals(lake).items() if k != "support.tickets"}
    assert shop_totals == totals(shop_only)


def test_a_lake_without_support_records_none_and_stays_so(shop_only: Path, tmp_path: Path) -> None:
    assert not (shop_only / "support").exists()
    assert "systems" not in json.loads((shop_only / "_generator" / "params.json").read_text())
    assert all("systems" not in body for body in load_counts(shop_only).values())
    out = tmp_path / "lake"
    generate(out, seed=1, customers=200, start_date=START, days=2, support=False)
    append(out, days=1)
    assert not (out / "support").exists() and not read_params(out)[0].support


def test_generate_then_append_equals_one_generate(lake: Path, tmp_path: Path) -> None:
    split = tmp_path / "split"
    generate(split, seed=SEED, customers=CUSTOMERS, start_date=START, days=25, plan_days=DAYS)
    append(split, days=15)
    assert read_params(split)[0].support
    assert _files(split) == _files(lake)


def test_one_tickets_file_every_day(lake: Path) -> None:
    partitions = sorted(p.name for p in (lake / TICKETS).iterdir())
    assert partitions == [f"ingest_date={d.isoformat()}" for d in _dates()]
    for date in _dates():
        folder = lake / TICKETS / f"ingest_date={date.isoformat()}"
        assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
        assert _read(lake, TICKETS, date).schema.equals(TICKETS_SCHEMA)
    assert sorted(p.name for p in lake.iterdir()) == [
        "_generator", "customers", "events", "order_items", "orders", "products", "support",
    ]  # fmt: skip
    body = json.loads((lake / "_generator" / "params.json").read_text())
    assert body["systems"] == ["support"]


# --- reconciliation with the manifest -------------------------------------------------------


def _defect(row: dict) -> str | None:
    """The quarantine rule a ticket row breaks, judged from the file alone."""
    if row["ticket_id"] is None:
        return "null_key"
    if row["first_response_at"] is not None and row["first_response_at"] < row["created_at"]:
        return "response_before_creation"
    score = row["satisfaction_score"]
    if score is not None and not 1 <= score <= 5:
        return "score_out_of_range"
    return None


@pytest.fixture(scope="module")
def reconciled(lake: Path) -> dict[str, dict]:
    """Counts per day rebuilt from the files; checks keys and corrections as it goes."""
    seen: dict[tuple, tuple[dict, dt.date]] = {}
    broken: set[tuple] = set()
    found = {}
    for date in _dates():
        day_start = dt.datetime.combine(date, dt.time())
        counts = {"rows": 0, "duplicates": 0, "corrections": 0, "late": 0, "kept": 0}
        counts["defects"] = Counter()
        for row in _read(lake, TICKETS, date).to_pylist():
            counts["rows"] += 1
            key = (row["ticket_id"], row["updated_at"])
            rule = _defect(row)
            if rule is not None:
                counts["defects"][rule] += 1
                if row["ticket_id"] is not None:
                    broken.add(key)
            elif key not in seen:
                counts["kept"] += 1
                seen[key] = (row, date)
                if row["updated_at"] < day_start:
                    assert row["updated_at"] >= day_start - dt.timedelta(days=3), row
                    counts["late"] += 1
            elif row == seen[key][0]:
                counts["duplicates"] += 1
                assert (date - seen[key][1]).days <= 1, row  # same day or the next
            else:
                counts["corrections"] += 1
                before, landed = seen[key]
                changed = {f for f in FIELDS if row[f] != before[f]}
                assert changed in ({"category"}, {"satisfaction_score"}), (row, before)
                assert 2 <= (date - landed).days <= 7, row
                seen[key] = (row, date)
        found[date.isoformat()] = counts
    assert not broken & seen.keys()  # a quarantined row never shadows a clean one
    return found


def test_manifest_counts_match_the_files(lake: Path, reconciled: dict) -> None:
    manifest = load_counts(lake)
    assert manifest.keys() == reconciled.keys()
    for date, body in manifest.items():
        counts = body["systems"]["support"]["tickets"]
        files = reconciled[date]
        assert set(counts["defects"]) == set(RULE_NAMES), date
        assert counts["rows"] == files["rows"], date
        assert counts["duplicates"] == files["duplicates"], date
        assert counts["corrections"] == files["corrections"], date
        assert counts["late_arrivals"] == files["late"], date
        assert {k: n for k, n in counts["defects"].items() if n} == dict(files["defects"]), date
        assert expected_kept(counts) == files["kept"], date
        assert dict(tables(body))["support.tickets"] == counts


def test_totals_name_the_feed_support_tickets(lake: Path, reconciled: dict) -> None:
    total = totals(lake)["support.tickets"]
    assert total["rows"] == sum(day["rows"] for day in reconciled.values())
    assert total["corrections"] == sum(day["corrections"] for day in reconciled.values())
    assert total["kept"] == sum(day["kept"] for day in reconciled.values())
    assert total["rows"] == (
        total["kept"] + total["duplicates"] + total["corrections"] + total["quarantined"]
    )
    assert "corrections" not in totals(lake)["orders"]


def test_every_defect_and_delivery_quirk_shows_up(reconciled: dict) -> None:
    summed: Counter[str] = Counter()
    for day in reconciled.values():
        summed.update(day["defects"])
        summed.update({k: day[k] for k in ("rows", "duplicates", "corrections", "late")})
    assert all(summed[name] > 0 for name in RULE_NAMES), summed
    assert summed["duplicates"] > 0 and summed["corrections"] > 0, summed
    assert 0.02 < summed["late"] / summed["rows"] < 0.09, summed


# --- what the rows say ----------------------------------------------------------------------


def _rows(lake: Path) -> list[dict]:
    """Every clean row, with its ingest date."""
    return [
        {**row, "ingest_date": date}
        for date in _dates()
        for row in _read(lake, TICKETS, date).to_pylist()
        if _defect(row) is None
    ]


def _customer_emails(lake: Path) -> tuple[dict[str, str], dict[str, dt.date]]:
    """Every address a customer ever had (lower case) -> customer; customer -> deletion day."""
    owner: dict[str, str] = {}
    deleted: dict[str, dt.date] = {}
    for date in _dates():
        for row in _read(lake, "customers", date).to_pylist():
            if row["customer_id"] is not None:
                owner[row["email"]] = row["customer_id"]
                if row["is_deleted"]:
                    deleted[row["customer_id"]] = date
    return owner, deleted


def test_rows_follow_the_ticket_lifecycle(lake: Path) -> None:
    tickets: dict[str, list[dict]] = {}
    for row in _rows(lake):
        assert TICKET_ID.fullmatch(row["ticket_id"]), row
        assert row["channel"] in CHANNELS and row["category"] in CATEGORIES, row
        responded, resolved = row["first_response_at"], row["resolved_at"]
        if row["status"] == "open":
            assert responded is None and resolved is None, row
            assert row["updated_at"] == row["created_at"]
        elif row["status"] == "pending":
            assert responded is not None and resolved is None, row
            assert row["updated_at"] == responded > row["created_at"]
        else:
            assert row["status"] == "resolved", row
            assert row["updated_at"] == resolved >= responded > row["created_at"]
        if row["status"] != "resolved":
            assert row["satisfaction_score"] is None, row
        tickets.setdefault(row["ticket_id"], []).append(row)
    for rows in tickets.values():
        for field in ("customer_email", "channel", "subject", "created_at"):
            assert len({row[field] for row in rows}) == 1, (field, rows)
    statuses = Counter(row["status"] for row in _rows(lake))
    assert min(statuses.values()) > 0.15 * sum(statuses.values()), statuses
    scores = [r["satisfaction_score"] for r in _rows(lake) if r["status"] == "resolved"]
    assert None in scores and set(scores) - {None} == {1, 2, 3, 4, 5}


def test_emails_are_the_shops_as_typed_or_unknown(lake: Path) -> None:
    owner, _ = _customer_emails(lake)
    opened = {r["ticket_id"]: r["customer_email"] for r in _rows(lake) if r["status"] == "open"}
    typed = list(opened.values())
    matched = [owner.get(email.strip().lower()) for email in typed]
    unknown = sum(customer is None for customer in matched) / len(typed)
    assert 0.02 < unknown < 0.15, unknown
    variants = sum(email != email.strip().lower() for email in typed) / len(typed)
    assert 0.05 < variants < 0.2, variants
    # Only lower(trim(...)) matches a variant: the raw text would lose those tickets.
    assert any(email not in owner and email.strip().lower() in owner for email in typed)


def test_subjects_name_the_customer_or_their_order(lake: Path) -> None:
    owner, _ = _customer_emails(lake)
    orders = {}
    names = {}
    for date in _dates():
        for row in _read(lake, "orders", date).to_pylist():
            if row["order_id"] is not None:
                orders[row["order_id"]] = row["customer_id"]
        for row in _read(lake, "customers", date).to_pylist():
            names[row["customer_id"]] = f"{row['first_name']} {row['last_name']}"
    with_order = with_name = 0
    for row in _rows(lake):
        customer = owner.get(row["customer_email"].strip().lower())
        found = ORDER_ID.search(row["subject"])
        if found:
            with_order += 1
            assert orders[found.group()] == customer, row
        if customer is not None and names[customer] in row["subject"]:
            with_name += 1
    assert with_order > 0 and with_name > 0


def test_customers_with_returns_or_cancellations_write_in_more(lake: Path) -> None:
    owner, deleted = _customer_emails(lake)
    troubled: set[str] = set()
    buyers: set[str] = set()
    for date in _dates():
        for row in _read(lake, "orders", date).to_pylist():
            buyers.add(row["customer_id"])
            if row["status"] in ("returned", "cancelled"):
                troubled.add(row["customer_id"])
    writers = Counter(
        owner.get(r["customer_email"].strip().lower()) for r in _rows(lake) if r["status"] == "open"
    )
    rate = {
        group: sum(writers[c] for c in members) / len(members)
        for group, members in (("troubled", troubled), ("other", buyers - troubled))
    }
    assert rate["troubled"] > 2 * rate["other"], rate

    # About 3-6 % of customers open a ticket in a month (the first ten days warm up).
    window = (START + dt.timedelta(days=10), START + dt.timedelta(days=40))
    customers = set(owner.values()) - set(deleted)
    opened = {
        owner.get(r["customer_email"].strip().lower())
        for r in _rows(lake)
        if r["status"] == "open" and window[0] <= r["created_at"].date() < window[1]
    }
    assert 0.03 < len(opened & customers) / len(customers) < 0.06


def test_nothing_lands_for_a_customer_once_deleted(lake: Path) -> None:
    owner, deleted = _customer_emails(lake)
    assert deleted
    for row in _rows(lake):
        customer = owner.get(row["customer_email"].strip().lower())
        if customer in deleted:
            assert row["ingest_date"] < deleted[customer], row


# --- the engine and the command line --------------------------------------------------------


def test_a_rule_breaks_only_the_rows_it_may() -> None:
    n = 3000
    base = pa.table({"key": np.arange(n), "value": np.zeros(n)})

    def negate(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
        values = np.where(mask, -1.0, table.column("value").to_numpy())
        return table.set_column(1, "value", pa.array(values))

    rules = [
        Rule("anywhere", 0.05, negate),
        Rule("odd", 0.05, negate, where=lambda t: t.column("key").to_numpy() % 2 == 1),
    ]
    rng = np.random.default_rng
    out = deliver(base, rules, rng(1), rng(2), eligible=np.arange(n) >= 100, duplicate_rate=0.03)
    keys = out.table.column("key").to_numpy()
    assert min(out.defects.values()) > 0
    assert np.all(keys[out.codes > 0] >= 100)
    assert np.all(keys[out.codes == 2] % 2 == 1)
    assert 0.015 < out.duplicates / n < 0.045


def test_the_command_line_writes_the_feed_unless_told_not_to(tmp_path: Path) -> None:
    argv = ["generate", "--seed=3", "--customers=300", "--start-date=2026-01-01", "--days=2"]
    done = subprocess.run(
        [sys.executable, "-m", "generator", *argv, f"--out={tmp_path / 'with'}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all("support.tickets=" in line for line in done.stderr.strip().splitlines())
    assert (tmp_path / "with" / TICKETS / "ingest_date=2026-01-02" / "part-0.parquet").is_file()
    assert main([*argv, f"--out={tmp_path / 'without'}", "--no-support"]) == 0
    assert not (tmp_path / "without" / "support").exists()
