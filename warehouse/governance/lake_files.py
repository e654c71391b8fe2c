"""The lake's files as an erasure meets them, readable or not.

The warehouse quarantines files it cannot read (a gzip'd CSV named .parquet, a truncated
file, text that is not UTF-8, a folder whose date is not a date), but they stay in the lake
and may hold the person. Each file is put in one of three kinds:

- `parquet`: Parquet that DuckDB and Arrow read in full, matched column by column;
- `repaired`: Parquet that Arrow reads but whose text is not valid UTF-8: matched on a copy
  with the invalid bytes replaced, rewritten from the original (other rows keep their bytes);
- `bytes`: anything else: scanned as bytes, after undoing what can be undone (gzip, the
  compressed pages of a Parquet file without its footer), for the person's values.

A bytes file that holds the person is rewritten line by line when it is text (a CSV, gzip'd
or not: the lines holding the person go, the header stays), else removed; the caller logs
the removal. A file that cannot be read at all (permissions, I/O errors) cannot be scanned:
the erasure fails at the end, naming it. Messages name files and rules, never a value.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET = "parquet"
REPAIRED = "repaired"
BYTES = "bytes"

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
# Codecs a Parquet page may be compressed with; tried in turn on a page of a file whose
# footer (which names the codec) is missing.
PAGE_CODECS = ("snappy", "zstd", "gzip", "lz4", "brotli")
MAX_PAGE = 256 << 20  # a page header claiming more than this is not a page header
# Files the erasure writes while it replaces one (never read as lake data).
PARTIAL_MARK = ".erasure-"


class UnscannableFile(RuntimeError):
    """A file whose bytes cannot be read, so nobody can tell whether it holds the person."""


@dataclass(frozen=True)
class LakeFile:
    path: Path
    kind: str
    reason: str = ""  # why it is not plain Parquet: the rule, never a value


def lake_files(root: Path) -> list[Path]:
    """Every regular file under the lake root, at any depth and of any name, but the
    erasure's own partial writes."""
    if not root.is_dir():
        return []
    return sorted(
        path for path in root.rglob("*") if path.is_file() and PARTIAL_MARK not in path.name
    )


def is_duckdb_file(path: Path) -> bool:
    """A DuckDB database (a DuckLake catalog, a copy of the warehouse): read through DuckDB,
    never as bytes, whose free pages may keep deleted values (docs/governance.md)."""
    try:
        with path.open("rb") as file:
            return file.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def classify(path: Path) -> LakeFile:
    try:
        table = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as error:
        return LakeFile(path, BYTES, f"not a readable Parquet file ({type(error).__name__})")
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        return LakeFile(path, REPAIRED, "a text column holds bytes that are not valid UTF-8")
    return LakeFile(path, PARQUET)


def read_repaired(path: Path) -> tuple[pa.Table, pa.Table]:
    """The file's table as stored, and a copy whose invalid UTF-8 is replaced (U+FFFD), to
    match on: a mask computed on the copy filters the original row for row."""
    table = pq.ParquetFile(path).read()
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                raw = column.cast(pa.large_binary()).to_pylist()
                column = pa.chunked_array(
                    [
                        pa.array(
                            [None if v is None else v.decode("utf-8", "replace") for v in raw],
                            pa.string(),
                        )
                    ]
                )
        columns.append(column)
    return table, pa.table(columns, names=table.column_names)


# -- bytes ---------------------------------------------------------------------------------
def bytes_pattern(values: Iterable[str]) -> re.Pattern[bytes] | None:
    """Any of the values, in UTF-8, anywhere, ASCII letters in any case (a bytes scan
    cannot tell word boundaries from the length bytes of binary formats, so an id is
    matched anywhere: a file may be removed for a match inside a longer token, never kept
    for a miss)."""
    encoded = sorted({v.encode() for v in values if v}, key=len, reverse=True)
    if not encoded:
        return None
    return re.compile(b"|".join(re.escape(v) for v in encoded), re.IGNORECASE)


def _gunzip(data: bytes) -> tuple[bytes, bool]:
    """What a gzip stream holds (every member), and whether it was read to its end."""
    out, complete = [], True
    while data.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(inflater.decompress(data))
        except zlib.error:
            return b"".join(out), False
        if not inflater.eof:
            return b"".join(out), False
        data = inflater.unused_data
    return b"".join(out), complete


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _thrift_value(data: bytes, at: int, kind: int) -> tuple[object, int]:
    """One value of Thrift's compact protocol (the encoding of Parquet's page headers)."""
    if kind in (1, 2):
        return kind == 1, at
    if kind == 3:
        return data[at], at + 1
    if kind in (4, 5, 6):
        value, at = _varint(data, at)
        return _zigzag(value), at
    if kind == 7:
        return None, at + 8
    if kind == 8:
        size, at = _varint(data, at)
        return data[at : at + size], at + size
    if kind in (9, 10):
        header = data[at]
        at += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, at = _varint(data, at)
        for _ in range(size):
            if element in (1, 2):  # a boolean in a list is one byte
                at += 1
            else:
                _, at = _thrift_value(data, at, element)
        return None, at
    if kind == 11:
        size, at = _varint(data, at)
        if size:
            types = data[at]
            at += 1
            for _ in range(size):
                _, at = _thrift_value(data, at, types >> 4)
                _, at = _thrift_value(data, at, types & 0x0F)
        return None, at
    if kind == 12:
        return _thrift_struct(data, at)
    raise ValueError(f"unknown compact type {kind}")


def _thrift_struct(data: bytes, at: int) -> tuple[dict[int, object], int]:
    fields: dict[int, object] = {}
    last = 0
    while True:
        header = data[at]
        at += 1
        if header == 0:
            return fields, at
        delta, kind = header >> 4, header & 0x0F
        if delta:
            field = last + delta
        else:
            raw, at = _varint(data, at)
            field = _zigzag(raw)
        fields[field], at = _thrift_value(data, at, kind)
        last = field


def parquet_pages(data: bytes) -> Iterator[bytes]:
    """The pages of a Parquet file read front to back from its page headers, decompressed
    where a codec fits: a file cut short still shows the pages before the cut, whose
    values a compressor may have split across back-references."""
    at = len(PARQUET_MAGIC)
    while at < len(data):
        try:
            header, start = _thrift_struct(data, at)
        except (IndexError, ValueError, RecursionError):
            return  # not a page header: past the last page, or not Parquet after all
        page_type, uncompressed, compressed = header.get(1), header.get(2), header.get(3)
        if not (
            isinstance(page_type, int)
            and 0 <= page_type <= 3
            and isinstance(uncompressed, int)
            and isinstance(compressed, int)
            and 0 <= compressed <= MAX_PAGE
            and 0 <= uncompressed <= MAX_PAGE
        ):
            return
        body = data[start : start + compressed]
        levels = 0
        v2 = header.get(8)
        if isinstance(v2, dict):
            levels = int(v2.get(5) or 0) + int(v2.get(6) or 0)
            yield body[:levels]
            if v2.get(7) is False:
                yield body[levels:]
                at = start + compressed
                continue
        yield from _decompressed(body[levels:], uncompressed - levels)
        at = start + compressed


def _decompressed(body: bytes, size: int) -> Iterator[bytes]:
    for codec in PAGE_CODECS:
        try:
            yield pa.decompress(body, decompressed_size=size, codec=codec, asbytes=True)
            return
        except (pa.ArrowException, ValueError, OSError):
            continue


def readable_layers(data: bytes) -> Iterator[bytes]:
    """The file's bytes, and what they hold under a compression this module can undo."""
    yield data
    if data.startswith(GZIP_MAGIC):
        yield _gunzip(data)[0]
    if data.startswith(PARQUET_MAGIC):
        yield from parquet_pages(data)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UnscannableFile(
            f"{path} cannot be read ({type(error).__name__}), so it cannot be scanned for the "
            "person: make it readable to this user (or remove it), then run the erasure again."
        ) from None


def holds(path: Path, pattern: re.Pattern[bytes]) -> bool:
    """Whether the file's bytes, or what they hold, match."""
    return any(pattern.search(layer) for layer in readable_layers(read_bytes(path)))


def rewrite_text(path: Path, pattern: re.Pattern[bytes]) -> int | None:
    """Rewrite a text file (plain or gzip'd; no NUL byte) without its lines that match,
    under its own name; the lines removed, or None when it cannot be rewritten so (not
    text, a matching first line, a gzip stream cut short, or a match left across lines)."""
    data = read_bytes(path)
    zipped = data.startswith(GZIP_MAGIC)
    if zipped:
        text, complete = _gunzip(data)
        if not complete:
            return None
    else:
        text = data
    if b"\x00" in text:
        return None
    lines = text.split(b"\n")
    if pattern.search(lines[0]):
        return None
    kept = [line for line in lines if not pattern.search(line)]
    content = b"\n".join(kept)
    if pattern.search(content):
        return None
    removed = len(lines) - len(kept)
    if removed:
        replace_file(path, gzip.compress(content, mtime=0) if zipped else content)
    return removed


def replace_file(path: Path, content: bytes, tag: str = "text") -> None:
    partial = path.with_name(f".{path.name}{PARTIAL_MARK}{tag}")
    partial.write_bytes(content)
    os.replace(partial, path)
