"""The erasure's pieces that need no warehouse: which email addresses a request may name,
patterns that find awkward values, and lake files that are not readable Parquet."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.governance.lake_files import (
    BYTES,
    PARQUET,
    REPAIRED,
    bytes_pattern,
    classify,
    holds,
    read_repaired,
    rewrite_text,
)
from warehouse.governance.residue import needle_pattern
from warehouse.governance.subject import Subject, SubjectError, check_email

VALID = [
    "o'brien@example.com",
    "first.last+tag@sub.example.co.uk",
    '"john doe"@example.com',
    "josé@例え.jp",
    "x@[192.168.0.1]",
    "a!#$%&*/=?^_`{|}~-@example.org",
    "user@localhost",
]
INVALID = [
    "x@example.com'; drop table audit.erasure_log; --",
    "no-at-sign",
    "a@b@example.com",
    "a b@example.com",
    "@nobody-here.net",
    "x@",
    "x..y@example.com",
    "x" * 65 + "@example.com",
]


@pytest.mark.parametrize("address", VALID)
def test_every_valid_address_is_accepted(address: str) -> None:
    assert check_email(f" {address} ") == address.lower()


@pytest.mark.parametrize("address", INVALID)
def test_an_invalid_address_is_refused_without_quoting_it(address: str) -> None:
    with pytest.raises(SubjectError, match="one plain email address") as raised:
        check_email(address)
    assert address not in str(raised.value)


def test_the_residue_pattern_finds_values_with_quotes_and_spaces() -> None:
    values = ["o'brien@example.com", '"john doe"@example.com', "C0000042"]
    pattern = needle_pattern(values)
    with duckdb.connect() as connection:
        for text, expected in (
            ("mail O'Brien@Example.com today", True),
            ('to "John Doe"@example.com', True),
            ("id C0000042.", True),
            ("id C00000421", False),  # an id is a whole word
            ("obrien@example.com", False),
        ):
            (found,) = connection.execute("select regexp_matches(?, ?)", [text, pattern]).fetchone()
            assert found is expected, text


def test_redaction_removes_every_value_in_any_case() -> None:
    subject = Subject(ids={"C0000042"}, identifiers={"email": {"o'brien@example.com"}})
    subject.pseudonymise("salt-for-a-unit-test")
    message = "row 3 of f.parquet: 'O'Brien@Example.com' for C0000042 is not valid"
    assert subject.redact(message) == "row 3 of f.parquet: '[redacted]' for [redacted] is not valid"


def test_files_are_classified_by_what_can_read_them(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"email": ["a@example.com"]}), good)
    latin1 = tmp_path / "latin1.parquet"
    names = pa.array([b"Ren\xe9", b"Pat"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"first_name": names, "id": ["R", "P"]}), latin1)
    zipped = tmp_path / "zipped.parquet"
    zipped.write_bytes(gzip.compress(b"id,email\nP,pat@example.com\n"))
    assert [classify(p).kind for p in (good, latin1, zipped)] == [PARQUET, REPAIRED, BYTES]
    stored, readable = read_repaired(latin1)
    assert readable["first_name"].to_pylist() == ["Ren\ufffd", "Pat"]
    assert stored["first_name"].cast(pa.binary()).to_pylist() == [b"Ren\xe9", b"Pat"]


def test_a_truncated_snappy_file_is_scanned_page_by_page(tmp_path: Path) -> None:
    # 300 addresses of one domain: snappy stores most of each as back-references, so
    # the planted one is found only in the decompressed page
    emails = [f"user{i:03d}@example.com" for i in range(300)]
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"email": emails}), path, compression="snappy")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the footer never arrived
    assert classify(path).kind == BYTES
    planted = bytes_pattern(["USER217@example.com"])
    assert planted is not None and holds(path, planted)
    absent = bytes_pattern(["user300@example.com"])
    assert absent is not None and not holds(path, absent)


def test_a_text_file_loses_only_the_lines_holding_the_person(tmp_path: Path) -> None:
    path = tmp_path / "feed.parquet"
    path.write_bytes(gzip.compress(b"id,email\nP,pat@example.com\nR,rene@example.com\n"))
    pattern = bytes_pattern(["PAT@example.com"])
    assert pattern is not None
    assert rewrite_text(path, pattern) == 1
    assert gzip.decompress(path.read_bytes()) == b"id,email\nR,rene@example.com\n"
    header = tmp_path / "odd.csv"
    header.write_bytes(b"pat@example.com,x\n1,2\n")
    assert rewrite_text(header, pattern) is None, "a matching first line: not rewritable"
    binary = tmp_path / "binary.parquet"
    binary.write_bytes(b"PAR1\x00\x01pat@example.com")
    assert rewrite_text(binary, pattern) is None
