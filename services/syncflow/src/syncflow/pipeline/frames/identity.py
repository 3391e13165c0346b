"""Identity over a polars frame: the canonical items, key hashes and data hashes of
every row at once, equal byte for byte to ``syncflow.pipeline.identity`` (the canonical
encoding of docs/canonical-encoding.md) for the equivalent Python values.

Column dtypes with a canonical form here: ``String``, the integer types, ``Decimal``
(any scale), ``Date``, ``Datetime`` in ``us`` or ``ms`` with a time zone, ``Boolean``
and ``Null``; NULLs anywhere. Any other dtype (floats, naive or nanosecond datetimes,
categoricals, nested types, ...) raises ``TypeError`` naming the column and dtype, so
the caller can take the row-wise path. A date or timestamp outside years 1..9999 (a
value Python cannot hold) raises ``ValueError`` naming the column.

The hashes come from polars-hash: XXH3-128 as the 16-byte big-endian canonical digest
(``xxh3_128_digest``), BLAKE3 as hex, decoded into the 32 digest bytes in one pass over
the whole Arrow buffer (never row by row). The hashing query runs on polars' streaming
engine, which spreads the slices of a frame over the cores and keeps row order.

Text is NFC-normalized by polars (its Unicode tables are newer than Python's). By
Unicode's normalization stability policy the two agree on text made of characters
assigned in both versions; text holding a character that Python's ``unicodedata``
does not know (rare: characters newer than Python's Unicode version) is normalized by
``unicodedata`` itself, so the result always equals ``identity.canonical_item``. A text
column whose values on the page are all ASCII (most ERP columns) is already in NFC: it
is framed natively, without that per-column Python call (data hashes of a 10,000-row
``orders`` page with four text columns: 11.7 → 9.1 ms).
"""

import binascii
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache

import polars as pl
import pyarrow as pa
from polars_hash import CryptographicHashingNameSpace, NonCryptographicHashingNameSpace

__all__ = [
    "canonical_items",
    "data_hashes",
    "key_hashes",
    "outside_python",
    "parent_key_hashes",
]

_DATA_BYTES = 32
_DATE_MIN, _DATE_MAX = date.min, date.max
_TIMESTAMP_MIN = datetime.min.replace(tzinfo=UTC)
_TIMESTAMP_MAX = datetime.max.replace(tzinfo=UTC)
_TIMESTAMP_ITEM = "T27:%Y-%m-%dT%H:%M:%S.%6fZ"
# the longest number text: 38 digits of a Decimal or 39 of an Int128, sign, point
_LONGEST_NUMBER = 41
# text up to this many bytes gets its prefix looked up (see _framed)
_LOOKED_UP_TEXT = 256
# below this many rows the streaming engine costs more to start than it saves
_STREAMING_ROWS = 200_000


def canonical_items(column: str, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    """Each row's canonical item for ``column`` (of ``dtype``): the text
    ``identity.canonical_item`` gives for the equivalent Python value, ``"N"`` for NULL.
    The item is NULL where a date or timestamp lies outside years 1..9999.
    ``TypeError`` for a dtype without a canonical form here."""
    dtype = _full(column, dtype)
    item = pl.concat_str(_pieces(column, dtype), ignore_nulls=True)
    outside = outside_python(column, dtype)
    if outside is not None:
        item = pl.when(outside).then(None).otherwise(item)
    return item.alias(column)


def _full(column: str, dtype: pl.DataType | type[pl.DataType]) -> pl.DataType:
    if isinstance(dtype, type):
        if dtype in (pl.Decimal, pl.Datetime):
            raise TypeError(f"column {column!r}: {dtype} needs its full dtype (scale, zone)")
        return dtype()
    return dtype


def _pieces(column: str, dtype: pl.DataType, ascii_longest: int | None = None) -> list[pl.Expr]:
    """Expressions whose concatenation (NULL pieces left out) is each row's item: one
    string column per piece, so a whole row's encoding is a single ``concat_str``.
    ``ascii_longest``: the text column is known to be ASCII (NFC already), its longest
    value this many bytes."""
    value = pl.col(column)
    if dtype == pl.String and ascii_longest is not None:
        # no normalization to do: framed natively, no Python call per page and column
        return _framed("S", value, _LOOKED_UP_TEXT if ascii_longest <= _LOOKED_UP_TEXT else None)
    if dtype == pl.String:
        # one call per column (a UDF is not shared between two uses in an expression)
        return [value.map_batches(_text_items, return_dtype=pl.String, is_elementwise=True)]
    if dtype.is_integer():
        return _framed("D", value.cast(pl.String))
    if isinstance(dtype, pl.Decimal):
        digits = value.cast(pl.String)
        if dtype.scale:
            # polars writes every scale digit: "1.50", "0.00". A Decimal is an Int128
            # count of units, so there is no negative zero to turn into "0".
            digits = digits.str.strip_chars_end("0").str.strip_chars_end(".")
        return _framed("D", digits)
    if dtype == pl.Date:
        return [value.dt.strftime("C10:%Y-%m-%d").fill_null("N")]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone and dtype.time_unit in ("us", "ms"):
        return [_utc(value).dt.strftime(_TIMESTAMP_ITEM).fill_null("N")]
    if dtype == pl.Boolean:
        return [
            pl.when(value)
            .then(pl.lit("B4:true"))
            .when(value.not_())
            .then(pl.lit("B5:false"))
            .otherwise(pl.lit("N"))
        ]
    if dtype == pl.Null:
        return [value.cast(pl.String).fill_null("N")]  # a column, not a literal: keeps the height
    raise TypeError(f"column {column!r}: a {dtype} column has no canonical form")


def _framed(tag: str, payload: pl.Expr, longest: int | None = _LONGEST_NUMBER) -> list[pl.Expr]:
    """``{tag}{UTF-8 byte length}:`` (``N`` for NULL), then the payload. With ``longest``
    (no payload is longer) the prefix is looked up rather than formatted: faster."""
    length = payload.str.len_bytes()
    if longest is None:
        prefix = pl.concat_str(pl.lit(tag), length.cast(pl.String), pl.lit(":"))
    else:
        sizes = range(longest + 1)
        # strict: a longer payload raises rather than getting no prefix
        prefix = length.replace_strict(sizes, [f"{tag}{n}:" for n in sizes], return_dtype=pl.String)
    return [prefix.fill_null("N"), payload]


def _utc(value: pl.Expr) -> pl.Expr:
    return value.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def outside_python(column: str, dtype: pl.DataType) -> pl.Expr | None:
    """True where a date or timestamp lies outside what Python's ``date`` and
    ``datetime`` hold (years 1..9999); ``None`` for other dtypes."""
    value = pl.col(column)
    if dtype == pl.Date:
        return value.is_between(_DATE_MIN, _DATE_MAX).not_()
    if isinstance(dtype, pl.Datetime) and dtype.time_zone:
        return _utc(value).is_between(_TIMESTAMP_MIN, _TIMESTAMP_MAX).not_()
    return None


def key_hashes(frame: pl.DataFrame, names: Sequence[str]) -> pl.Series:
    """BK_HASH of each row over ``names`` (in order): ``xxh3_128_digest`` of the
    canonical encoding (the big-endian canonical digest), as 16-byte ``Binary`` values."""
    hashed = NonCryptographicHashingNameSpace(_canonical_encodings(frame, names))
    digests = hashed.xxh3_128(return_binary=True, byte_order="big")
    return _collect(frame, digests.alias("key_hash"))


def data_hashes(frame: pl.DataFrame, names: Sequence[str]) -> pl.Series:
    """DATA_HASH of each row over ``names`` (in order): the BLAKE3 digest of the
    canonical encoding, as 32-byte ``Binary`` values."""
    hashed = CryptographicHashingNameSpace(_canonical_encodings(frame, names))
    # polars-hash gives BLAKE3 as hex only: decoded in one pass over the whole buffer
    hexes = _collect(frame, hashed.blake3())
    return _unhexlified(hexes, _DATA_BYTES).alias("data_hash")


def parent_key_hashes(frame: pl.DataFrame, names: Sequence[str]) -> pl.Series:
    """Each row's parent key hash over its ref fields ``names``: the key hash, NULL where
    every one of them is NULL (no parent), as ``identity.parent_key_hash``."""
    if not names:
        return pl.repeat(None, frame.height, dtype=pl.Binary, eager=True).alias("parent_key_hash")
    hashes = key_hashes(frame, names)
    no_parent = frame.select(pl.all_horizontal(pl.col(name).is_null() for name in names))
    return (
        pl.select(pl.when(no_parent.to_series()).then(None).otherwise(hashes))
        .to_series()
        .alias("parent_key_hash")
    )


def _collect(frame: pl.DataFrame, column: pl.Expr) -> pl.Series:
    """``column`` over ``frame``; a large frame by the streaming engine, which works on
    slices of it on every core (about twice as fast as the in-memory engine on two
    cores for a million rows), in row order."""
    lazy = frame.lazy().select(column)
    if frame.height >= _STREAMING_ROWS:
        return lazy.collect(engine="streaming").to_series()
    return lazy.collect(engine="in-memory").to_series()


def _canonical_encodings(frame: pl.DataFrame, names: Sequence[str]) -> pl.Expr:
    """Each row's canonical encoding over ``names`` as text (``""`` for no names), after
    checking that ``frame`` holds only values with a canonical form."""
    if not names:
        return pl.repeat("", pl.len(), dtype=pl.String).alias("canonical")
    schema = frame.schema
    dtypes = [_full(name, schema[name]) for name in names]
    outside = {
        name: check
        for name, dtype in zip(names, dtypes, strict=True)
        if (check := outside_python(name, dtype)) is not None
    }
    texts = sorted({name for name, dtype in zip(names, dtypes, strict=True) if dtype == pl.String})
    # in one pass: a date or timestamp outside Python's years, and per text column
    # whether a value is not ASCII (bytes and characters differ) and its longest value's
    # bytes; read by position (the outputs are named s0, s1, ..., not after columns)
    summary = [
        *(check.any() for check in outside.values()),
        *(_not_ascii(name).any() for name in texts),
        *(pl.col(name).str.len_bytes().max() for name in texts),
    ]
    found = (
        frame.select(expr.alias(f"s{index}") for index, expr in enumerate(summary)).row(0)
        if summary
        else ()
    )
    for name, bad in zip(outside, found, strict=False):
        if bad:
            raise ValueError(
                f"column {name!r}: a value outside years 1..9999 has no canonical form"
            )
    wide = found[len(outside) : len(outside) + len(texts)]
    longest = found[len(outside) + len(texts) :]
    ascii_longest = {
        name: length or 0
        for name, not_ascii, length in zip(texts, wide, longest, strict=True)
        if not not_ascii
    }
    pieces = [
        piece
        for name, dtype in zip(names, dtypes, strict=True)
        for piece in _pieces(name, dtype, ascii_longest.get(name))
    ]
    return pl.concat_str(pieces, ignore_nulls=True).alias("canonical")


def _text_items(texts: pl.Series) -> pl.Series:
    """``S{UTF-8 byte length}:{text in NFC}`` of each text, ``N`` for NULL."""
    normalized = _nfc(texts)
    longest = normalized.str.len_bytes().max()
    assert longest is None or isinstance(longest, int)
    short = longest is None or longest <= _LOOKED_UP_TEXT
    pieces = _framed("S", pl.col(texts.name), _LOOKED_UP_TEXT if short else None)
    items = pl.concat_str(pieces, ignore_nulls=True)
    return normalized.to_frame().select(items.alias(texts.name)).to_series()


def _not_ascii(column: str) -> pl.Expr:
    """True where the text holds a character beyond ASCII (its UTF-8 is longer)."""
    return pl.col(column).str.len_bytes() != pl.col(column).str.len_chars()


def _nfc(texts: pl.Series) -> pl.Series:
    """``texts`` in NFC exactly as ``unicodedata.normalize`` gives it (NULLs kept)."""
    non_ascii = texts.to_frame().select(_not_ascii(texts.name)).to_series()
    if not non_ascii.any():
        return texts
    where = non_ascii.arg_true()
    normalized = texts.gather(where).str.normalize("NFC")
    unknown = texts.gather(where).str.contains(_unassigned_in_python())
    if unknown.any():
        # characters Python's Unicode tables do not have: let unicodedata decide,
        # as identity.canonical_item does (only these few rows go through Python)
        rows = unknown.arg_true()
        originals = texts.gather(where.gather(rows)).to_list()
        normalized = normalized.scatter(
            rows, [unicodedata.normalize("NFC", text) for text in originals]
        )
    return texts.scatter(where, normalized)


@cache
def _unassigned_in_python() -> str:
    """A regex class of the code points ``unicodedata`` has as unassigned (``Cn``)."""
    ranges: list[str] = []
    start = None
    for code in range(sys.maxunicode + 2):
        unassigned = code <= sys.maxunicode and unicodedata.category(chr(code)) == "Cn"
        if unassigned and start is None:
            start = code
        elif not unassigned and start is not None:
            ranges.append(f"\\x{{{start:x}}}-\\x{{{code - 1:x}}}")
            start = None
    return "[" + "".join(ranges) + "]"


def _unhexlified(hexes: pl.Series, width: int) -> pl.Series:
    """NULL-free hex text of ``width`` bytes each as ``Binary``, decoded in one pass."""
    arrow = hexes.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string
    count = len(arrow)
    if not count:
        return pl.Series(values=[], dtype=pl.Binary)
    start = memoryview(arrow.buffers()[1]).cast("q")[arrow.offset]
    text = memoryview(arrow.buffers()[2])[start : start + 2 * width * count]
    raw = pa.py_buffer(binascii.unhexlify(text))
    values = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), count, [None, raw])
    return pl.Series(values=values).cast(pl.Binary)
