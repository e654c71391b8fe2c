"""Named incidents of the sample-lake generator (generator/incidents.py, docs/sample_lake.md).

An incident changes its own day only (and what follows from it, such as later order ids),
is recorded in params.json and in that day's manifest, replays identically on `append`, and
keeps the manifest's counts exact, so the warehouse still reconciles to the row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_generator import KEYS, _defect

from generator import incidents
from generator.__main__ import main
from generator.lake import LakeError, append, generate, read_params
from generator.manifest import expected_kept, load_counts
from generator.sources import EVENTS_SCHEMA, SOURCES

SEED = 11
CUSTOMERS = 3000
START = dt.date(2026, 3, 1)
DAYS = 10
FEATURE_NULLS = START + dt.timedelta(days=7)
ORDERS_DROP = START + dt.timedelta(days=8)
EVENTS_STOP = START + dt.timedelta(days=9)
INCIDENTS = (
    incidents.Incident(FEATURE_NULLS, "feature_nulls"),
    incidents.Incident(ORDERS_DROP, "orders_drop"),
    incidents.Incident(EVENTS_STOP, "events_stop"),
)
LARGEST_MARKET = "DE"  # first row of seeds/countries.csv


def _read(lake: Path, source: str, date: dt.date) -> pa.Table:
    return pq.read_table(lake / source / f"ingest_date={date.isoformat()}" / "part-0.parquet")


def _files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "lake"
    generate(out, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS)
    return out


@pytest.fixture(scope="module")
def hit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hit") / "lake"
    generate(out, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS, incidents=INCIDENTS)
    return out


# --- bookkeeping ----------------------------------------------------------------------------


def test_the_default_lake_has_no_incidents(clean: Path) -> None:
    body = json.loads((clean / "_generator" / "params.json").read_text())
    assert "incidents" not in body  # the file is what it was before incidents existed
    assert all("incidents" not in day for day in load_counts(clean).values())
    assert read_params(clean)[0].incidents == ()


def test_incidents_are_recorded_in_params_and_in_their_days_manifest(hit: Path) -> None:
    body = json.loads((hit / "_generator" / "params.json").read_text())
    assert body["incidents"] == [
        {"name": "feature_nulls", "date": FEATURE_NULLS.isoformat()},
        {"name": "orders_drop", "date": ORDERS_DROP.isoformat()},
        {"name": "events_stop", "date": EVENTS_STOP.isoformat()},
    ]
    assert read_params(hit)[0].incidents == INCIDENTS
    recorded = {date: day.get("incidents") for date, day in load_counts(hit).items()}
    assert {date: names for date, names in recorded.items() if names} == {
        FEATURE_NULLS.isoformat(): ["feature_nulls"],
        ORDERS_DROP.isoformat(): ["orders_drop"],
        EVENTS_STOP.isoformat(): ["events_stop"],
    }


def test_days_before_the_first_incident_are_byte_identical(clean: Path, hit: Path) -> None:
    before = [START + dt.timedelta(days=i) for i in range((FEATURE_NULLS - START).days)]
    for date in before:
        for source in SOURCES:
            name = f"{source}/ingest_date={date.isoformat()}/part-0.parquet"
            assert (clean / name).read_bytes() == (hit / name).read_bytes(), name


def test_same_seed_parameters_and_incidents_give_identical_bytes(hit: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(
        again,
        seed=SEED,
        customers=CUSTOMERS,
        start_date=START,
        days=DAYS,
        incidents=reversed(INCIDENTS),  # order of the flags does not matter
    )
    assert _files(again) == _files(hit)


def test_append_replays_recorded_incidents_and_adds_new_ones(hit: Path, tmp_path: Path) -> None:
    # The first call already knows one incident; the second brings the other two.
    split = tmp_path / "split"
    generate(
        split,
        seed=SEED,
        customers=CUSTOMERS,
        start_date=START,
        days=8,
        plan_days=DAYS,
        incidents=INCIDENTS[:1],
    )
    append(split, days=2, incidents=INCIDENTS[1:])
    assert _files(split) == _files(hit)


def test_the_manifest_still_reconciles_with_the_files(hit: Path) -> None:
    """Every incident day: rows, duplicates, defects and new keys match the files."""
    seen: dict[str, set[tuple]] = {source: set() for source in SOURCES}
    for i in range(DAYS):
        date = START + dt.timedelta(days=i)
        day_start = dt.datetime.combine(date, dt.time())
        manifest = load_counts(hit)[date.isoformat()]["sources"]
        for source in SOURCES:
            rows = _read(hit, source, date).to_pylist()
            duplicates = kept = 0
            defects: Counter[str] = Counter()
            for row in rows:
                key = tuple({**row, "ingest_date": date}[c] for c in KEYS[source])
                rule = _defect(source, row, day_start)
                if rule is not None:
                    defects[rule] += 1
                elif key in seen[source]:
                    duplicates += 1
                else:
                    kept += 1
                    seen[source].add(key)
            counts = manifest[source]
            assert counts["rows"] == len(rows), (date, source)
            assert counts["duplicates"] == duplicates, (date, source)
            assert {k: n for k, n in counts["defects"].items() if n} == dict(defects)
            assert expected_kept(counts) == kept, (date, source)


# --- what each incident does ----------------------------------------------------------------


def test_orders_drop_loses_nine_in_ten_of_the_largest_markets_orders(
    clean: Path, hit: Path
) -> None:
    def placed(lake: Path) -> list[dict]:
        rows = _read(lake, "orders", ORDERS_DROP).to_pylist()
        return [r for r in rows if r["status"] == "placed"]

    def market(rows: list[dict], inside: bool) -> Counter[tuple]:
        return Counter(
            (r["customer_id"], r["placed_at"], r["channel"], r["currency"])
            for r in rows
            if (r["shipping_country_code"] == LARGEST_MARKET) == inside
        )

    before, after = placed(clean), placed(hit)
    lost = sum(market(before, True).values()) - sum(market(after, True).values())
    assert lost == round(0.9 * sum(market(before, True).values()))
    assert market(after, True) <= market(before, True)  # survivors are unchanged orders
    # Every other order of the day is exactly as without the incident (ids aside).
    assert market(after, False) == market(before, False)


def test_orders_drop_also_removes_the_lost_orders_lines(hit: Path) -> None:
    placed = {
        r["order_id"]
        for r in _read(hit, "orders", ORDERS_DROP).to_pylist()
        if r["status"] == "placed" and r["order_id"] is not None
    }
    lines = {r["order_id"] for r in _read(hit, "order_items", ORDERS_DROP).to_pylist()}
    assert lines == placed


def test_feature_nulls_re_sends_two_in_five_live_customers_without_segment(hit: Path) -> None:
    # Each customer's latest row before the day, and who is alive on it.
    latest: dict[str, dict] = {}
    for i in range((FEATURE_NULLS - START).days):
        for row in _read(hit, "customers", START + dt.timedelta(days=i)).to_pylist():
            if row["customer_id"] is not None:
                latest[row["customer_id"]] = row
    live = {c for c, row in latest.items() if not row["is_deleted"]}
    assert all(row["segment"] is not None for row in latest.values())

    day = _read(hit, "customers", FEATURE_NULLS).to_pylist()
    resent = [r for r in day if r["segment"] is None and r["customer_id"] is not None]
    assert 0.35 < len({r["customer_id"] for r in resent}) / len(live) < 0.41
    for row in resent:
        # The customer as they are, re-sent later than any row before, without a segment.
        # (Fields that can change may differ from the last row the feed delivered: a change
        # record lost to a null_key defect is still a change.)
        before = latest[row["customer_id"]]
        assert row["updated_at"] > before["updated_at"]
        assert not row["is_deleted"]
        for field in ("first_name", "last_name", "birth_date", "country_code", "created_at"):
            assert row[field] == before[field], field
    # Still at most one change per customer and day (re-delivered copies of yesterday's
    # rows aside, which carry yesterday's updated_at).
    today = dt.datetime.combine(FEATURE_NULLS, dt.time())
    keys = {
        (r["customer_id"], r["updated_at"])
        for r in day
        if r["customer_id"] is not None and r["updated_at"] >= today
    }
    assert max(Counter(customer for customer, _ in keys).values()) == 1


def test_events_stop_writes_an_empty_events_file(hit: Path) -> None:
    table = _read(hit, "events", EVENTS_STOP)
    assert table.num_rows == 0
    assert table.schema.equals(EVENTS_SCHEMA)
    counts = load_counts(hit)[EVENTS_STOP.isoformat()]["sources"]["events"]
    assert counts["rows"] == 0 and counts["late_arrivals"] == 0


# --- command line ---------------------------------------------------------------------------


def test_the_command_line_takes_repeatable_incidents(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    assert (
        main(
            [
                "generate",
                "--seed=1",
                "--customers=200",
                f"--start-date={START}",
                "--days=2",
                f"--out={out}",
                f"--incident=events_stop@{START}",
                f"--incident=orders_drop@{START + dt.timedelta(days=1)}",
            ]
        )
        == 0
    )
    assert [i.name for i in read_params(out)[0].incidents] == ["events_stop", "orders_drop"]
    assert main(["append", f"--out={out}", f"--incident=feature_nulls@{START}"]) == 2


def _exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's own errors
        return int(exit.code or 0)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--incident=power_cut@2026-03-02", "unknown incident 'power_cut'"),
        ("--incident=orders_drop", "expected NAME@YYYY-MM-DD"),
        ("--incident=orders_drop@2026-13-01", "not a date"),
        ("--incident=orders_drop@2026-02-28", "is before 2026-03-01"),
    ],
)
def test_bad_incidents_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, message: str
) -> None:
    argv = ["generate", "--seed=1", "--customers=50", f"--start-date={START}", "--days=1"]
    assert _exit_status([*argv, f"--out={tmp_path / 'lake'}", flag]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "lake" / "customers").exists()


def test_the_same_incident_twice_is_refused(tmp_path: Path) -> None:
    twice = [INCIDENTS[0], INCIDENTS[0]]
    with pytest.raises(LakeError, match="given twice"):
        generate(tmp_path / "l", seed=1, customers=50, start_date=START, days=1, incidents=twice)
