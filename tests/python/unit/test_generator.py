"""The sample-lake generator keeps its contract (docs/sample_lake.md).

The warehouse reconciles its counts against the generator's manifests, so these tests rebuild
those counts independently from the parquet files: if they agree here, a mismatch in the
warehouse is the warehouse's bug.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT

from generator import defects as defects_module
from generator.__main__ import main
from generator.defects import CLEAN, DUPLICATE, Rule, deliver
from generator.lake import append, generate, read_params
from generator.manifest import expected_kept, load_counts
from generator.reference import load_reference
from generator.sources import SOURCES

SEED = 7
CUSTOMERS = 2000
START = dt.date(2026, 3, 1)
DAYS = 10
DRIFT_DAY = DAYS // 2

KEYS = {
    "customers": ("customer_id", "updated_at"),
    "products": ("product_id", "ingest_date"),
    "orders": ("order_id", "status"),
    "order_items": ("order_id", "line_number"),
    "events": ("event_id",),
}


def _dates(days: int = DAYS) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(days)]


def _read(lake: Path, source: str, date: dt.date) -> pa.Table:
    return pq.read_table(lake / source / f"ingest_date={date.isoformat()}" / "part-0.parquet")


def _files(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lake") / "lake"
    generate(out, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS)
    return out


# --- determinism and append -----------------------------------------------------------------


def test_same_seed_gives_identical_bytes(lake: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, seed=SEED, customers=CUSTOMERS, start_date=START, days=DAYS)
    assert _files(again) == _files(lake)


def test_other_seed_gives_other_rows(lake: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, seed=SEED + 1, customers=CUSTOMERS, start_date=START, days=1)
    assert not _read(other, "events", START).equals(_read(lake, "events", START))


def test_generate_then_append_equals_one_generate(lake: Path, tmp_path: Path) -> None:
    split = tmp_path / "split"
    generate(split, seed=SEED, customers=CUSTOMERS, start_date=START, days=7, plan_days=DAYS)
    append(split, days=2)
    append(split, days=1)
    assert _files(split) == _files(lake)


def test_append_never_touches_existing_files(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    generate(out, seed=SEED, customers=300, start_date=START, days=3)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.parquet")}
    before.update({p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("_generator/i*")})
    append(out, days=2)
    for path, (content, mtime) in before.items():
        assert path.read_bytes() == content, path
        assert path.stat().st_mtime_ns == mtime, path
    new_day = (START + dt.timedelta(days=4)).isoformat()
    for source in SOURCES:
        assert (out / source / f"ingest_date={new_day}" / "part-0.parquet").is_file()
    assert read_params(out)[1] == 5


def test_append_refuses_a_day_that_already_exists(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    generate(out, seed=SEED, customers=100, start_date=START, days=2)
    (out / "events" / f"ingest_date={(START + dt.timedelta(days=2)).isoformat()}").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        append(out, days=1)


# --- layout and schema ----------------------------------------------------------------------


def test_every_source_has_one_file_every_day(lake: Path) -> None:
    for source in SOURCES:
        partitions = sorted(p.name for p in (lake / source).iterdir())
        assert partitions == [f"ingest_date={d.isoformat()}" for d in _dates()]
        for partition in partitions:
            assert [p.name for p in (lake / source / partition).iterdir()] == ["part-0.parquet"]
    assert sorted(load_counts(lake)) == [d.isoformat() for d in _dates()]


def test_parquet_is_snappy_with_naive_microsecond_timestamps(lake: Path) -> None:
    path = lake / "events" / f"ingest_date={START.isoformat()}" / "part-0.parquet"
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    assert _read(lake, "events", START).schema.field("event_at").type == pa.timestamp("us")


def test_preferred_language_appears_on_the_drift_day(lake: Path) -> None:
    for i, date in enumerate(_dates()):
        names = _read(lake, "customers", date).schema.names
        assert ("preferred_language" in names) == (i >= DRIFT_DAY), date


def test_drift_day_stores_quantity_as_text(lake: Path) -> None:
    for i, date in enumerate(_dates()):
        quantity = _read(lake, "order_items", date).schema.field("quantity").type
        assert quantity == (pa.string() if i == DRIFT_DAY else pa.int64()), date
    values = _read(lake, "order_items", _dates()[DRIFT_DAY]).column("quantity").to_pylist()
    assert {"two", "N/A", ""} & set(values)
    assert sum(re.fullmatch(r"-?\d+", v) is not None for v in values) > 0.9 * len(values)


# --- reconciliation with the manifest -------------------------------------------------------


def _defect(source: str, row: dict, day_start: dt.datetime) -> str | None:
    """The quarantine rule a row breaks, judged from the file alone."""
    if source == "customers" and row["customer_id"] is None:
        return "null_key"
    if source == "orders":
        if row["order_id"] is None:
            return "null_key"
        if row["currency"] == "XXX":
            return "unknown_currency"
    if source == "order_items":
        quantity = row["quantity"]
        if isinstance(quantity, str):
            if re.fullmatch(r"-?\d+", quantity) is None:
                return "unparseable_value"
            quantity = int(quantity)
        if quantity < 0:
            return "negative_quantity"
    if source == "events":
        if row["event_id"] is None:
            return "null_key"
        if row["event_at"] > day_start + dt.timedelta(days=2):
            return "future_timestamp"
        if row["event_at"] < dt.datetime(2020, 1, 1):
            return "timestamp_before_business_start"
    return None


def _comparable(source: str, row: dict) -> dict:
    """A row as a re-delivery must repeat it, across the drift day's schema changes."""
    row = dict(row)
    if source == "customers" and row.get("preferred_language") is None:
        row.pop("preferred_language", None)  # the column is missing before the drift day
    if source == "order_items":
        row["quantity"] = int(row["quantity"])
    return row


@pytest.fixture(scope="module")
def reconciled(lake: Path) -> dict[str, dict[str, dict]]:
    """Counts per day and source rebuilt from the files; also checks keys as it goes."""
    seen: dict[str, dict[tuple, dict]] = {source: {} for source in SOURCES}
    broken_keys: dict[str, set[tuple]] = {source: set() for source in SOURCES}
    found: dict[str, dict[str, dict]] = {}
    for date in _dates():
        day_start = dt.datetime.combine(date, dt.time())
        found[date.isoformat()] = {}
        for source in SOURCES:
            counts = {"rows": 0, "duplicates": 0, "defects": {}, "kept": 0, "late": 0}
            for row in _read(lake, source, date).to_pylist():
                counts["rows"] += 1
                row_key = {**row, "ingest_date": date}
                key = tuple(row_key[c] for c in KEYS[source])
                rule = _defect(source, row, day_start)
                if rule is not None:
                    counts["defects"][rule] = counts["defects"].get(rule, 0) + 1
                    if None not in key:
                        broken_keys[source].add(key)
                elif key in seen[source]:
                    counts["duplicates"] += 1
                    assert _comparable(source, row) == seen[source][key], (source, date, key)
                else:
                    counts["kept"] += 1
                    seen[source][key] = _comparable(source, row)
                    if source == "events" and row["event_at"] < day_start:
                        assert row["event_at"] >= day_start - dt.timedelta(days=3)
                        counts["late"] += 1
            found[date.isoformat()][source] = counts
    for source in SOURCES:
        # A quarantined row never shadows a clean one: dedupe-then-quarantine is safe too.
        assert not broken_keys[source] & seen[source].keys(), source
    return found


def test_manifest_counts_match_the_files(lake: Path, reconciled: dict) -> None:
    manifest = load_counts(lake)
    assert manifest.keys() == reconciled.keys()
    for date, body in manifest.items():
        assert body["ingest_date"] == date
        for source, counts in body["sources"].items():
            files = reconciled[date][source]
            assert counts["rows"] == files["rows"], (date, source)
            assert counts["duplicates"] == files["duplicates"], (date, source)
            nonzero = {rule: n for rule, n in counts["defects"].items() if n}
            assert nonzero == files["defects"], (date, source)
            assert expected_kept(counts) == files["kept"], (date, source)
            if source == "events":
                assert counts["late_arrivals"] == files["late"], date


def test_the_lake_exercises_every_defect_rule(lake: Path) -> None:
    totals: dict[tuple[str, str], int] = {}
    for body in load_counts(lake).values():
        for source, counts in body["sources"].items():
            totals[(source, "duplicate")] = totals.get((source, "duplicate"), 0)
            totals[(source, "duplicate")] += counts["duplicates"]
            for rule, n in counts["defects"].items():
                totals[(source, rule)] = totals.get((source, rule), 0) + n
    missing = [k for k, n in totals.items() if n == 0 and k != ("customers", "null_key")]
    assert not missing
    events = sum(day["sources"]["events"]["rows"] for day in load_counts(lake).values())
    late = sum(day["sources"]["events"]["late_arrivals"] for day in load_counts(lake).values())
    assert 0.01 < late / events < 0.05


# --- business rules -------------------------------------------------------------------------


def test_orders_have_a_clean_placed_record_with_their_lines(lake: Path) -> None:
    placed: dict[str, dt.date] = {}
    lines: dict[str, dt.date] = {}
    for date in _dates():
        for row in _read(lake, "orders", date).to_pylist():
            if row["status"] == "placed":
                assert row["order_id"] is not None and row["currency"] != "XXX"
                assert row["status_at"] == row["placed_at"]
                placed.setdefault(row["order_id"], date)
            if row["order_id"] is not None:
                # Each status lands on the day it happened (or is re-delivered the day after).
                assert row["status_at"].date() in (date, date - dt.timedelta(days=1))
        for order_id in _read(lake, "order_items", date).column("order_id").to_pylist():
            lines.setdefault(order_id, date)
    assert lines == placed


def test_unit_price_is_list_price_in_the_order_currency(lake: Path) -> None:
    reference = load_reference()
    eur = dict(zip(reference.currency_codes, reference.eur_per_unit.tolist(), strict=True))
    date = _dates()[1]
    products = _read(lake, "products", date).to_pylist()
    price = {p["product_id"]: p["list_price"] for p in products}
    currency = {
        r["order_id"]: r["currency"]
        for r in _read(lake, "orders", date).to_pylist()
        if r["status"] == "placed"
    }
    checked = 0
    for row in _read(lake, "order_items", date).to_pylist():
        if row["order_id"] in currency:
            expected = round(price[row["product_id"]] / eur[currency[row["order_id"]]], 2)
            assert row["unit_price"] == pytest.approx(expected), row
            checked += 1
    assert checked > 50


def test_reference_codes_come_from_the_seeds(lake: Path) -> None:
    reference = load_reference()
    countries = set(_read(lake, "customers", START).column("country_code").to_pylist())
    assert countries == set(reference.country_codes)
    categories = set(_read(lake, "products", START).column("category").to_pylist())
    assert categories == set(reference.raw_categories)
    currency_of = {
        country: reference.currency_codes[i]
        for country, i in zip(reference.country_codes, reference.country_currency, strict=True)
    }
    for row in _read(lake, "orders", _dates()[2]).to_pylist():
        if row["currency"] != "XXX":
            assert row["currency"] == currency_of[row["shipping_country_code"]]


def test_deleted_customers_do_nothing_afterwards(lake: Path) -> None:
    deleted_on: dict[str, dt.datetime] = {}
    for date in _dates():
        for row in _read(lake, "customers", date).to_pylist():
            if row["is_deleted"] and row["customer_id"] is not None:
                deleted_on[row["customer_id"]] = dt.datetime.combine(date, dt.time())
    assert deleted_on, "expected some deletions at this scale"
    for date in _dates():
        for source, column in (("orders", "status_at"), ("events", "event_at")):
            for row in _read(lake, source, date).to_pylist():
                cutoff = deleted_on.get(row["customer_id"])
                if cutoff is not None:
                    assert row[column] < cutoff, (source, row)


def test_buyers_have_a_session_ending_in_checkout(lake: Path) -> None:
    date = _dates()[3]
    day_start = dt.datetime.combine(date, dt.time())
    events = [
        e
        for e in _read(lake, "events", date).to_pylist()
        if _defect("events", e, day_start) is None
    ]
    checkouts: dict[str, list[dt.datetime]] = {}
    for e in events:
        if e["event_type"] == "checkout":
            checkouts.setdefault(e["customer_id"], []).append(e["event_at"])
    placed = [
        r
        for r in _read(lake, "orders", date).to_pylist()
        if r["status"] == "placed" and r["placed_at"] >= day_start
    ]
    matched = sum(
        any(
            dt.timedelta(0) < order["placed_at"] - at <= dt.timedelta(minutes=1)
            for at in checkouts.get(order["customer_id"], [])
        )
        for order in placed
    )
    # A defect may hit a checkout event, and the warehouse then never sees it.
    assert placed and matched >= 0.97 * len(placed)
    assert None not in checkouts  # anonymous visitors cannot check out

    spans: dict[str, list[dt.datetime]] = {}
    for e in events:
        spans.setdefault(e["session_id"], []).append(e["event_at"])
    assert max(max(at) - min(at) for at in spans.values()) <= dt.timedelta(minutes=30)
    assert max(len(at) for at in spans.values()) <= 15 + 1  # a re-delivered copy at most


# --- the defect engine on its own -----------------------------------------------------------


def test_deliver_keeps_defects_and_duplicates_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defects_module, "DUPLICATE_RATE", 0.05)
    n = 2000
    base = pa.table({"key": np.arange(n), "value": np.zeros(n)})
    yesterday = pa.table({"key": -1 - np.arange(100), "value": np.ones(100)})

    def negate(table: pa.Table, mask: np.ndarray, rng: np.random.Generator) -> pa.Table:
        values = np.where(mask, -1.0, table.column("value").to_numpy())
        return table.set_column(1, "value", pa.array(values))

    eligible = np.arange(n) % 2 == 0
    rules = [Rule("a", 0.05, negate), Rule("b", 0.05, None)]
    rng = np.random.default_rng
    out = deliver(base, rules, rng(1), rng(2), eligible=eligible, previous_clean=yesterday)

    keys = out.table.column("key").to_numpy()
    assert out.table.num_rows == n + out.duplicates
    assert (out.codes == DUPLICATE).sum() == out.duplicates > 0
    assert out.defects == {"a": (out.codes == 1).sum(), "b": (out.codes == 2).sum()}
    assert min(out.defects.values()) > 0
    assert np.all(keys[out.codes > 0] % 2 == 0)  # only eligible rows break
    duplicated = keys[out.codes == DUPLICATE]
    broken = set(keys[out.codes > 0].tolist())
    assert not broken & set(duplicated.tolist())  # never a copy of a defective row
    assert (duplicated < 0).any() and (duplicated >= 0).any()  # today's and yesterday's rows
    assert out.clean.num_rows == (out.codes == CLEAN).sum()


# --- command line ---------------------------------------------------------------------------


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--start-date", "2026-02-30"], "--start-date"),
        (["--start-date", "yesterday"], "--start-date"),
        (["--days", "0"], "--days"),
        (["--days", "ten"], "--days"),
        (["--customers", "0"], "--customers"),
        (["--seed", "-1"], "--seed"),
        (["--start-date", "2019-06-01"], "--start-date"),
    ],
)
def test_generate_rejects_bad_settings_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], named: str
) -> None:
    settings = {"--seed": "1", "--customers": "10", "--start-date": "2026-01-01", "--days": "2"}
    settings.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["generate", "--out", str(tmp_path / "lake")]
    for flag, value in settings.items():
        argv += [flag, value]
    assert named in _error_line(capsys, argv)
    assert not (tmp_path / "lake").exists()


def test_generate_refuses_a_non_empty_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    argv = ["generate", "--seed", "1", "--customers", "10", "--start-date", "2026-01-01"]
    argv += ["--days", "1", "--out", str(tmp_path)]
    assert "--overwrite" in _error_line(capsys, argv)
    assert main([*argv, "--overwrite"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_append_needs_a_lake_and_a_positive_day_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert "params.json" in _error_line(capsys, ["append", "--out", str(tmp_path)])
    generate(tmp_path / "lake", seed=1, customers=10, start_date=START, days=1)
    assert "--days" in _error_line(
        capsys, ["append", "--out", str(tmp_path / "lake"), "--days", "0"]
    )


def test_module_entry_point_prints_one_progress_line_per_day(tmp_path: Path) -> None:
    argv = ["generate", "--seed", "3", "--customers", "50", "--start-date", "2026-01-01"]
    argv += ["--days", "2", "--out", str(tmp_path / "lake")]
    done = subprocess.run(
        [sys.executable, "-m", "generator", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stderr.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["2026-01-01", "2026-01-02"]
    assert all("events=" in line for line in lines)
