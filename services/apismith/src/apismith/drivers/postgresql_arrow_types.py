"""What a PostgreSQL query may read through ADBC exactly, and how its values cross.

ADBC answers as asyncpg would only within these bounds; outside them :class:`Unsupported`
is raised and the page goes the asyncpg way (``apismith.drivers.postgresql_arrow``):

- its result columns are all of ``RESULT_TYPES`` (no arrays, intervals, uuid, inet,
  money, enums, ...), read once per SQL text (``ExecuteSchema``) into a :class:`Plan`;
- its parameters are bound with the types PostgreSQL infers for them (as asyncpg does;
  ADBC would otherwise pick types from the Python values: ``text`` where asyncpg sends
  ``bpchar``, and ``char(3) = 'y '`` would stop matching), read once per SQL text
  (``Prepare``), and each value converts to that type without loss (ADBC drops a
  numeric's trailing zeros, so ``Decimal('1.50')`` goes the asyncpg way): :func:`bind`;
- its values fit Python's ranges (``infinity`` dates and timestamps go the asyncpg way,
  which reads them as ``date.max`` / ``datetime.max``): :func:`canonical`.

The table :func:`canonical` returns uses a small vocabulary (``base.ARROW_TEXT_KIND``):
int64, float64, bool, date32, time64[us], binary, utf8, timestamp[us] (``timestamp``,
naive) and timestamp[us, UTC] (``timestamptz``); ``numeric`` as PostgreSQL's digits and
``json``/``jsonb`` as PostgreSQL's text, both utf8 marked with their kind.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apismith.drivers.base import ARROW_TEXT_KIND

# a result column of these PostgreSQL types reads the same through ADBC as through asyncpg
RESULT_TYPES = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "bool",
        "date",
        "timestamp",
        "timestamptz",
        "time",
        "bytea",
        "text",
        "varchar",
        "bpchar",
        "name",
        "json",
        "jsonb",
    }
)
_PG_TYPE = b"POSTGRESQL:type"

# Python's date and datetime range, in Arrow's units (days, microseconds since 1970)
_DAYS = (-719_162, 2_932_896)
_MICROSECONDS = (-62_135_596_800_000_000, 253_402_300_799_999_999)


class Unsupported(Exception):
    """This query (or this call's values) cannot go through ADBC exactly."""


@dataclass(frozen=True)
class Plan:
    """What the server said about one SQL text: its parameters' and columns' types."""

    parameters: tuple[str, ...]
    columns: tuple[str, ...]


def plan_of(parameters: Iterable[pa.Field] | None, columns: Iterable[pa.Field]) -> Plan:
    """The plan of ADBC's ``Prepare`` (parameters) and ``ExecuteSchema`` (columns) schemas."""
    return Plan(
        parameters=tuple(_type_name(item) for item in (parameters or ())),
        columns=tuple(_type_name(item) for item in columns),
    )


def _type_name(item: pa.Field) -> str:
    metadata: dict[bytes, bytes] = item.metadata or {}
    return metadata.get(_PG_TYPE, b"").decode()


# --- parameters: the Python value as the Arrow type ADBC binds as the inferred type


def _integer(arrow_type: pa.DataType) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise Unsupported
        return pa.array([value], type=arrow_type)  # out of range: ArrowInvalid, asyncpg's way

    return convert


def _numeric(value: Any, *, compared: bool = False) -> pa.Array:
    """A numeric parameter; ADBC sends 1.50 as 1.5 and 0.00 as 0, which only a value
    the query merely ``compared`` may lose (numeric comparison ignores the scale)."""
    if value is None:
        return pa.array([None], type=pa.decimal128(1, 0))
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Unsupported
    decimal = Decimal(value)
    _, digits, exponent = decimal.as_tuple()
    if not isinstance(exponent, int) or len(digits) > 38:
        raise Unsupported
    if not compared and exponent < 0 and digits[-1] == 0:
        raise Unsupported  # 1.50 would be sent as 1.5, 0.00 as 0
    scale = max(0, -exponent)
    return pa.array([decimal], type=pa.decimal128(38, scale))


def _typed(arrow_type: pa.DataType, *python_types: type) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and type(value) not in python_types:
            raise Unsupported
        return pa.array([value], type=arrow_type)

    return convert


def _timestamp(*, aware: bool) -> Callable[[Any], pa.Array]:
    arrow_type = pa.timestamp("us", tz="UTC") if aware else pa.timestamp("us")

    def convert(value: Any) -> pa.Array:
        if value is not None and (
            type(value) is not datetime or (value.tzinfo is not None) is not aware
        ):
            raise Unsupported  # asyncpg's reading of the other kind is its own
        return pa.array([value], type=arrow_type)

    return convert


def _float(arrow_type: pa.DataType) -> Callable[[Any], pa.Array]:
    def convert(value: Any) -> pa.Array:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unsupported
        return pa.array([None if value is None else float(value)], type=arrow_type)

    return convert


def _time(value: Any) -> pa.Array:
    if value is not None and (type(value) is not clock or value.tzinfo is not None):
        raise Unsupported
    return pa.array([value], type=pa.time64("us"))


_PARAMETERS: dict[str, Callable[[Any], pa.Array]] = {
    "int2": _integer(pa.int16()),
    "int4": _integer(pa.int32()),
    "int8": _integer(pa.int64()),
    "numeric": _numeric,
    "text": _typed(pa.string(), str),
    "bool": _typed(pa.bool_(), bool),
    "date": _typed(pa.date32(), date),
    "timestamp": _timestamp(aware=False),
    "timestamptz": _timestamp(aware=True),
    "time": _time,
    "bytea": _typed(pa.binary(), bytes),
    "float4": _float(pa.float32()),
    "float8": _float(pa.float64()),
}
# a value the query only compares (BoundQuery.compared) may cross where a shown one cannot
_COMPARED_PARAMETERS: dict[str, Callable[[Any], pa.Array]] = {
    "numeric": partial(_numeric, compared=True),
}


def bind(
    plan: Plan, values: Sequence[Any], compared: frozenset[int] = frozenset()
) -> pa.RecordBatch | None:
    """The parameters as one Arrow row of the types PostgreSQL inferred (``compared``:
    positions of values the query only compares, see ``BoundQuery.compared``)."""
    if len(values) != len(plan.parameters):
        raise Unsupported  # asyncpg names the wrong count
    if not values:
        return None
    arrays = []
    for position, (type_name, value) in enumerate(zip(plan.parameters, values, strict=True)):
        convert = _PARAMETERS.get(type_name)
        if convert is None:
            raise Unsupported
        if position in compared:
            convert = _COMPARED_PARAMETERS.get(type_name, convert)
        try:
            arrays.append(convert(value))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            raise Unsupported from None
    return pa.record_batch(arrays, names=[f"${n}" for n in range(1, len(arrays) + 1)])


# --- results: ADBC's columns in the vocabulary of base.ARROW_TEXT_KIND


def _in_range(array: pa.Array, bounds: tuple[int, int], storage: pa.DataType) -> None:
    raw = array.cast(storage) if array.type != storage else array
    if array.null_count < len(array):
        low, high = pc.min_max(raw).values()
        if low.as_py() < bounds[0] or high.as_py() > bounds[1]:
            raise Unsupported  # infinity: asyncpg reads it as date.max / datetime.max


def _text(array: pa.Array, kind: bytes) -> tuple[pa.Array, dict[bytes, bytes]]:
    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    return storage.cast(pa.string()), {ARROW_TEXT_KIND: kind}


def _column(type_name: str, array: pa.Array) -> tuple[pa.Array, dict[bytes, bytes] | None]:
    match type_name:
        case "int2" | "int4" | "int8":
            return array.cast(pa.int64()), None
        case "float4" | "float8":
            return array.cast(pa.float64()), None
        case "numeric":
            return _text(array, b"decimal")
        case "json" | "jsonb":
            return _text(array, b"json")
        case "date":
            _in_range(array, _DAYS, pa.int32())
            return array, None
        case "timestamp" | "timestamptz":
            _in_range(array, _MICROSECONDS, pa.int64())
            target = pa.timestamp("us", tz="UTC") if type_name == "timestamptz" else None
            return (array.cast(target) if target is not None else array), None
        case "bpchar" | "varchar" | "text" | "name":
            return array.cast(pa.string()), None
        case _:  # bool, time, bytea: already as asyncpg reads them
            return array, None


def column_types(table: pa.Table) -> tuple[str, ...]:
    """The PostgreSQL type of each column of a table ADBC fetched, as its fields say."""
    return tuple(_type_name(item) for item in table.schema)


def canonical(table: pa.Table) -> pa.Table:
    """ADBC's table in the vocabulary above (Unsupported: a value past Python's range)."""
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for type_name, name, chunked in zip(
        column_types(table), table.column_names, table.columns, strict=True
    ):
        array, metadata = _column(type_name, chunked.combine_chunks())
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=metadata))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
