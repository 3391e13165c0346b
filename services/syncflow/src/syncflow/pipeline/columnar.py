"""The pure row stages applied a column at a time: the fast lane of ``EntityPipeline``.

Row by row, a chunk costs one Python call per value per stage. Here a chunk is turned
into columns and every stage works on a whole column with C-level checks (``map``,
``set``, ``str.join`` and friends): a text column that is already clean is kept as
it is, plain decimal text becomes ``Decimal`` in one ``map``, an integer column is
range-checked with ``min``/``max``, canonical items are formatted per column, and
the hashes are taken in one pass. Where a check cannot vouch for a column, its values
go through the very converters the row-wise stages use.

A row the lane cannot finish (a value a converter rejects, a NULL business key, an
integer out of range, a value without a canonical form) is handed back by index:
``EntityPipeline`` runs those rows through the row-wise stages, which decide them
and word their failures. So both lanes give the same records (pinned by
``tests/pipeline/test_columnar_lane.py``, which runs both on the same rows).
"""

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import repeat
from operator import is_, itemgetter
from typing import Any

from blake3 import blake3
from xxhash import xxh3_128_hexdigest

from syncflow.domain import EntitySpec, FieldType, Record, Stage
from syncflow.pipeline import identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.normalize.numerics import INTEGER_DIGITS
from syncflow.pipeline.validate import BIGINT_MAX, BIGINT_MIN, Validator

Column = Sequence[Any]
_ROW_ERRORS = (ValueError, TypeError, ArithmeticError)
_INTEGER_LIMIT = 10**INTEGER_DIGITS
# decimal text made only of digits, signs and (unless decimal_comma) the point, no
# exponent: Decimal() reads it exactly as the numerics layer does
_NOT_PLAIN_WITH_POINT = str.maketrans("", "", "0123456789.+-")
_NOT_PLAIN_WITHOUT_POINT = str.maketrans("", "", "0123456789+-")
_SHORT_TEXT = 1000
_ISO_DATES = re.compile(r"(?:\d{4}-\d{2}-\d{2})*")


def has_null(column: Column) -> bool:
    """Whether the column holds a NULL (``None in column`` would ask each ``Decimal``
    whether it equals ``None``, which costs an ABC check per value)."""
    return any(map(is_, column, repeat(None)))


def _present(column: Column) -> Column:
    """The column without its NULLs."""
    return [value for value in column if value is not None] if has_null(column) else column


def _with_nulls(column: Column, converted: list[Any]) -> list[Any]:
    """``converted`` (the non-NULL values, converted) put back among the column's NULLs."""
    if len(converted) == len(column):
        return converted
    values = iter(converted)
    return [None if value is None else next(values) for value in column]


def _clean_texts(column: Column, _: bool) -> list[Any] | None:
    """The column as it is when every value is text the strings layer leaves alone."""
    texts = _present(column)
    if not set(map(type, texts)) <= {str}:
        return None
    joined = "".join(texts)
    if not (joined.isascii() and joined.isprintable()):
        return None
    trimmed = list(map(str.strip, texts))
    if "" in trimmed:  # blank text is NULL: the strings layer decides
        return None
    return _with_nulls(column, trimmed)


def _integers(column: Column, _: bool) -> list[Any] | None:
    numbers = _present(column)
    if not numbers:
        return list(column)
    if set(map(type, numbers)) != {int}:
        return None
    if min(numbers) > -_INTEGER_LIMIT and max(numbers) < _INTEGER_LIMIT:
        return list(column)
    return None


def _booleans(column: Column, _: bool) -> list[Any] | None:
    return list(column) if set(map(type, _present(column))) <= {bool} else None


def _plain_decimals(column: Column, decimal_comma: bool) -> list[Any] | None:
    texts = _present(column)
    if not texts or set(map(type, texts)) != {str} or "" in texts:
        return None
    joined = "".join(texts)
    plain = _NOT_PLAIN_WITHOUT_POINT if decimal_comma else _NOT_PLAIN_WITH_POINT
    if joined.translate(plain) or max(map(len, texts)) > _SHORT_TEXT:
        return None
    try:
        return _with_nulls(column, list(map(Decimal, texts)))
    except InvalidOperation:  # "-", "1.2.3": the numerics layer decides
        return None


def _iso_dates(column: Column, _: bool) -> list[Any] | None:
    texts = _present(column)
    if not texts or set(map(type, texts)) != {str} or set(map(len, texts)) != {10}:
        return None
    if _ISO_DATES.fullmatch("".join(texts)) is None:
        return None
    try:
        return _with_nulls(column, list(map(date.fromisoformat, texts)))
    except ValueError:  # 2025-02-30: the datetimes layer words the error
        return None


_FAST_NORMALIZE: dict[FieldType, Callable[[Column, bool], list[Any] | None]] = {
    FieldType.TEXT: _clean_texts,
    FieldType.INTEGER: _integers,
    FieldType.BOOLEAN: _booleans,
    FieldType.NUMERIC: _plain_decimals,
    FieldType.DATE: _iso_dates,
}


def _apply(run: Callable[[Any], Any], column: Column, slow: set[int]) -> list[Any]:
    """``run`` over the column; the rows where it raises join ``slow``."""
    try:
        return list(map(run, column))
    except _ROW_ERRORS:
        pass
    results: list[Any] = []
    for index, value in enumerate(column):
        try:
            results.append(run(value))
        except _ROW_ERRORS:
            results.append(None)
            slow.add(index)
    return results


# canonical item prefixes by payload length, for the common short values
_PREFIX_LIMIT = 256
_TEXT_PREFIXES = tuple(f"S{n}:" for n in range(_PREFIX_LIMIT))
_NUMBER_PREFIXES = tuple(f"D{n}:" for n in range(_PREFIX_LIMIT))
Items = tuple[Sequence[str], Sequence[str] | None]


def _canonical_items(column: Column, slow: set[int]) -> Items:
    """Each value's canonical item (identity's encoding) as (prefix, payload) columns;
    a ``None`` payload column means the prefixes are the whole items."""
    kinds = set(map(type, column))
    try:
        if kinds == {str} and "".join(column).isascii():
            return list(map(_TEXT_PREFIXES.__getitem__, map(len, column))), column
        if kinds == {int}:
            digits = list(map(str, column))
            return list(map(_NUMBER_PREFIXES.__getitem__, map(len, digits))), digits
        if kinds == {Decimal}:
            plain = _decimal_texts(column)
            if plain is not None:
                return list(map(_NUMBER_PREFIXES.__getitem__, map(len, plain))), plain
        elif kinds == {date}:
            return list(repeat("C10:", len(column))), list(map(date.isoformat, column))
    except IndexError:  # a value of 256 characters or more: formatted one by one
        pass
    return _apply(identity.canonical_item, column, slow), None


def _decimal_texts(column: Column) -> list[str] | None:
    """Canonical decimal text (identity's rules) of finite decimals written without an
    exponent; ``None`` when some value has an exponent or is not finite."""
    texts = list(map(str, column))
    joined = "".join(texts)
    if "E" in joined or "N" in joined or "I" in joined:  # 1E+3, NaN, Infinity
        return None
    return [
        identity.canonical_decimal(value) if text[-1] == "0" or text[0] == "-" else text
        for value, text in zip(column, texts, strict=True)
    ]


def _joined_items(columns: Sequence[Items], count: int) -> list[str]:
    """Each row's items, concatenated: the text its hash is taken of."""
    if not columns:
        return list(repeat("", count))
    parts = [
        part for prefixes, payloads in columns for part in (prefixes, payloads) if part is not None
    ]
    return list(map("".join, zip(*parts, strict=True)))


class ColumnarLane:
    """One entity's normalize, validate, map and identity, a column at a time."""

    def __init__(
        self, spec: EntitySpec, normalizer: Normalizer, validator: Validator, mapper: Mapper
    ) -> None:
        self._decimal_comma = spec.normalization.decimal_comma
        self._normalize = [
            (name, convert, _FAST_NORMALIZE.get(normalizer.value_types[name]))
            for name, convert in normalizer.plan
        ]
        self._names = tuple(name for name, _ in normalizer.plan)
        self._rowversion = spec.rowversion_field
        self._not_null = (*validator.keys, *validator.required)
        self._bigint = validator.bigint
        self._map = mapper.plan
        self._keys = spec.business_keys
        self._fields = tuple(f.target_field for f in spec.fields)
        self._identity = identity.Identity(spec) if spec.parent_refs else None

    def run(
        self, raws: Sequence[dict[str, Any]], seconds: dict[str, float], clock: Callable[[], float]
    ) -> tuple[list[Record | None], set[int]]:
        """Records by input position (``None`` where a row left the lane) and the
        positions of the rows the row-wise stages must decide."""
        slow: set[int] = set()
        start = clock()
        columns = self._columns(raws)
        values = {
            name: (fast(column, self._decimal_comma) if fast is not None else None)
            or _apply(convert, column, slow)
            for (name, convert, fast), column in zip(self._normalize, columns, strict=True)
        }
        lap = clock()
        seconds[Stage.NORMALIZE] = seconds.get(Stage.NORMALIZE, 0.0) + lap - start
        start = lap
        for name in self._not_null:
            if has_null(values[name]):
                slow.update(i for i, value in enumerate(values[name]) if value is None)
        for name in self._bigint:
            numbers = _present(values[name])
            if numbers and (min(numbers) < BIGINT_MIN or max(numbers) > BIGINT_MAX):
                slow.update(
                    i
                    for i, value in enumerate(values[name])
                    if value is not None and not BIGINT_MIN <= value <= BIGINT_MAX
                )
        lap = clock()
        seconds[Stage.VALIDATE] = seconds.get(Stage.VALIDATE, 0.0) + lap - start
        start = lap
        targets = {
            target: values[source] if run is None else _apply(run, values[source], slow)
            for source, target, run in self._map
        }
        lap = clock()
        seconds[Stage.MAP] = seconds.get(Stage.MAP, 0.0) + lap - start
        start = lap
        records = self._records(raws, values, targets, slow)
        seconds[Stage.IDENTITY] = seconds.get(Stage.IDENTITY, 0.0) + clock() - start
        return records, slow

    def _columns(self, raws: Sequence[dict[str, Any]]) -> list[Column]:
        names = self._names
        try:
            if len(names) == 1:
                return [list(map(itemgetter(names[0]), raws))]
            rows = list(map(itemgetter(*names), raws))
        except KeyError:  # a row without some field: that field is NULL
            rows = [tuple(raw.get(name) for name in names) for raw in raws]
        return list(zip(*rows, strict=True)) if rows else [() for _ in names]

    def _records(
        self,
        raws: Sequence[dict[str, Any]],
        values: dict[str, list[Any]],
        targets: dict[str, list[Any]],
        slow: set[int],
    ) -> list[Record | None]:
        count = len(raws)
        key_texts = _joined_items([_canonical_items(values[k], slow) for k in self._keys], count)
        data_texts = _joined_items(
            [_canonical_items(targets[f], slow) for f in self._fields], count
        )
        key_hashes = list(map(xxh3_128_hexdigest, map(str.encode, key_texts)))
        data_hashes = [blake3(text.encode()).digest().hex() for text in data_texts]
        value_rows = list(
            map(dict, map(zip, repeat(tuple(values)), zip(*values.values(), strict=True)))
        )
        if tuple(targets) == tuple(values) and all(
            t is v for t, v in zip(targets.values(), values.values(), strict=True)
        ):
            target_rows = value_rows  # every field is copied: one dict serves both
        else:
            target_rows = list(
                map(dict, map(zip, repeat(tuple(targets)), zip(*targets.values(), strict=True)))
            )
        rowversions = values[self._rowversion] if self._rowversion else repeat(None)
        records: list[Record | None] = list(
            map(Record, raws, value_rows, target_rows, rowversions, key_hashes, data_hashes)
        )
        for index in slow:
            records[index] = None
        if self._identity is not None:
            for record in records:
                if record is not None:
                    record.parent_key_hashes = self._identity.parent_key_hashes(record.values)
        return records
