"""Vectorised builders for the string and timestamp columns of the lake.

Events run to hundreds of thousands of rows a day, so identifiers, addresses and labels are
built from numpy arrays straight into Arrow buffers instead of one Python string per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_DAY = 86_400 * US_PER_SECOND

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def ascii_matrix_to_strings(chars: np.ndarray) -> pa.StringArray:
    """Turn an (n, width) uint8 matrix of ASCII codes into n strings without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def zero_padded(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """Identifiers such as ``C0000001``: fixed width keeps them sortable as text."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) and numbers.max() >= 10**width:  # rare: widen like "%05d" would
        return pa.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], type=pa.string())
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers[None, :]) % 10 + ord("0")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    chars = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    chars[:, : len(head)] = head
    chars[:, len(head) :] = digits
    return ascii_matrix_to_strings(chars)


def mix64(values: np.ndarray, salt: int) -> np.ndarray:
    """A bijective 64-bit mix (splitmix64 finaliser) of ``values + salt``.

    Being a bijection, distinct inputs give distinct outputs, so ids built from a counter are
    unique by construction while still looking random.
    """
    z = (np.asarray(values, dtype=np.uint64) + np.uint64(salt & 0xFFFFFFFFFFFFFFFF)) & _MASK64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hex_ids(values: np.ndarray) -> pa.StringArray:
    """16-character lowercase hex of each uint64, as an Arrow string array."""
    as_bytes = np.asarray(values, dtype=">u8").view(np.uint8).reshape(-1, 8)
    chars = np.empty((as_bytes.shape[0], 16), dtype=np.uint8)
    chars[:, 0::2] = _HEX[as_bytes >> 4]
    chars[:, 1::2] = _HEX[as_bytes & 0x0F]
    return ascii_matrix_to_strings(chars)


def labels(values: Sequence[str], codes: np.ndarray) -> pa.Array:
    """Decode integer codes into their labels; a negative code becomes null."""
    codes = np.asarray(codes, dtype=np.int64)
    indices = pa.array(np.where(codes < 0, 0, codes), mask=codes < 0)
    return pa.array(list(values), type=pa.string()).take(indices)


def ipv4(rng: np.random.Generator, count: int) -> pa.Array:
    """Random public-looking IPv4 addresses (first octet 1-223, no multicast or reserved)."""
    octets = [rng.integers(1, 224, count, dtype=np.int64)]
    octets += [rng.integers(0, 256, count, dtype=np.int64) for _ in range(3)]
    parts = [pc.cast(pa.array(o), pa.string()) for o in octets]
    return pc.binary_join_element_wise(*parts, ".")


def timestamps(micros: np.ndarray) -> pa.Array:
    """Naive UTC ``timestamp[us]``, the lake's one timestamp type."""
    return pa.array(np.asarray(micros, dtype=np.int64), type=pa.timestamp("us"))


def set_where(column: pa.Array, mask: np.ndarray, value: object) -> pa.Array:
    """Replace the rows under ``mask`` by one scalar (``None`` gives null)."""
    scalar = pa.scalar(value, type=column.type)
    return pc.if_else(pa.array(mask, type=pa.bool_()), scalar, column)
