"""What the target held as a whole-source read began: the rows it can call unchanged
without asking the target a key at a time.

A read of the whole source (every ``hash`` run, ``mode: full``) looks at every key the
target holds, and almost all of them are unchanged. Asking the target about each key
costs PostgreSQL an index probe and a heap read (about 5 µs a key, most of such a
re-sync). Instead, the batch reads once, in one sequential scan, the key hash and the
first 8 bytes of the data hash of every live row an earlier batch wrote, and keeps
them as two sorted arrays of 64-bit integers (16 bytes a row). A lane row whose key
and data hash match an entry is unchanged; every other row is sorted against the
target as before.

An entry vouches once: the first row of the batch that looks at a key claims it,
vouched or not, and so does every key the row-wise stages decide. A key read twice in
one batch is thus decided against the target's actual state the second time, which
may hold what this batch wrote. A 64-bit key prefix shared by two keys only sends the
second to the target; calling a changed row unchanged would take a collision of both
the key's and the data hash's 64-bit prefixes.
"""

from collections.abc import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

# the bytes of a binary COPY of (uuid, 8-byte bytea): field count, length, value, length, value
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("key_length", ">i4"),
        ("key", ">u8"),
        ("key_rest", "V8"),
        ("data_length", ">i4"),
        ("data", ">u8"),
    ]
)
_HEADER = 19  # signature (11), flags (4), header extension length (4)
_TRAILER = b"\xff\xff"


class KnownRowsParser:
    """Parses the binary COPY of ``(key hash, data hash prefix)`` as it streams in."""

    def __init__(self) -> None:
        self._pending = b""
        self._header = False
        self._keys: list[np.ndarray] = []
        self._data: list[np.ndarray] = []

    async def feed(self, chunk: bytes) -> None:
        """Take the next piece of the COPY (asyncpg's ``output`` callback)."""
        buffer = self._pending + chunk
        if not self._header:
            if len(buffer) < _HEADER:
                self._pending = buffer
                return
            if not buffer.startswith(b"PGCOPY\n\xff\r\n\x00"):
                raise ValueError("not a binary COPY stream")
            buffer, self._header = buffer[_HEADER:], True
        # whole rows; what is left is part of a row or (at the end) the 2-byte trailer
        whole = len(buffer) // _ROW.itemsize * _ROW.itemsize
        rows = np.frombuffer(buffer, dtype=_ROW, count=whole // _ROW.itemsize)
        if len(rows):
            if not (
                (rows["fields"] == 2).all()
                and (rows["key_length"] == 16).all()
                and (rows["data_length"] == 8).all()
            ):
                raise ValueError("unexpected row in the known rows' COPY")
            self._keys.append(rows["key"].astype(np.uint64))
            self._data.append(rows["data"].astype(np.uint64))
        self._pending = buffer[whole:]

    def rows(self) -> "KnownRows":
        """The rows read, once the COPY has ended."""
        if not self._header or self._pending != _TRAILER:
            raise ValueError("the known rows' COPY ended early")
        keys = np.concatenate(self._keys) if self._keys else np.empty(0, np.uint64)
        data = np.concatenate(self._data) if self._data else np.empty(0, np.uint64)
        self._keys, self._data = [], []
        order = np.argsort(keys)
        keys = keys[order]
        data = data[order]
        return KnownRows(keys, data)


class KnownRows:
    """Live target rows by the 64-bit prefixes of their key and data hashes."""

    def __init__(self, keys: np.ndarray, data: np.ndarray) -> None:
        self._keys = keys  # sorted
        self._data = data
        self._open = np.ones(len(keys), dtype=np.bool_)

    def __len__(self) -> int:
        return len(self._keys)

    def vouch(self, keys: pl.Series, data: pl.Series) -> np.ndarray:
        """Which of these rows (16-byte key hashes, 32-byte data hashes; keys distinct)
        the target held unchanged; every key looked at is claimed."""
        found = self._claim(prefixes(keys, 16))
        if len(found) == 0:
            return np.zeros(len(keys), dtype=np.bool_)
        hit = found >= 0
        same: np.ndarray = hit & (self._data[np.where(hit, found, 0)] == prefixes(data, 32))
        return same

    def claim(self, key_hashes: Iterable[str]) -> None:
        """Claim the keys (hex) of rows decided elsewhere (the row-wise stages)."""
        values = np.array([int(key[:16], 16) for key in key_hashes], dtype=np.uint64)
        self._claim(values)

    def _claim(self, values: np.ndarray) -> np.ndarray:
        """The entry of each value that is still open (-1: none), claimed now."""
        if len(self._keys) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._keys, values), len(self._keys) - 1)
        hit = (self._keys[at] == values) & self._open[at]
        self._open[at[hit]] = False
        return np.where(hit, at, -1)


def prefixes(column: pl.Series, width: int) -> np.ndarray:
    """The first 8 bytes of each value of a binary column whose values are all ``width``
    bytes long, as big-endian unsigned integers (the order the COPY gives)."""
    array = column.rechunk().to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_binary())
    if array.null_count:
        raise ValueError("a NULL hash")
    first = array.offset
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[first : first + len(array) + 1]
    if len(offsets) > 1 and not (np.diff(offsets) == width).all():
        raise ValueError(f"a hash that is not {width} bytes long")
    start = int(offsets[0]) if len(offsets) else 0
    values = np.frombuffer(array.buffers()[2] or b"", dtype=np.uint8)
    values = values[start : start + width * len(array)].reshape(-1, width)[:, :8]
    return np.ascontiguousarray(values).view(">u8").ravel().astype(np.uint64)
