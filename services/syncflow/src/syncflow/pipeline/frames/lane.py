"""Normalize, validate, map and identity over an Arrow page, a column at a time in native code.

APISmith sends typed columns (int64, decimal128, date32, timestamp in UTC, bool,
utf8): a column whose Arrow type is already its field's type needs no parsing, only
the checks the row-wise stages would make, done over the whole column in polars:

- text: printable ASCII is trimmed and kept (what the strings layer does with it);
- a text column the entity reads as a number, a date, a timestamp or a boolean (an
  ERP that keeps them as text) is converted by the normalize layer's own function over
  the column (:mod:`.converted`); a row it rejects leaves the lane;
  other text (a control character, non-ASCII that may need NFC) and text that trims
  to nothing leave the lane, and the row-wise stages decide them;
- a NULL business key or required field leaves the lane (validate words the failure);
- integers, decimals, dates, timestamps and booleans are taken as they are (a date or
  timestamp outside years 1..9999 in UTC, which Python cannot hold, leaves the lane);
- a mapped field that is not a plain copy (a transform, a value map, a default, a
  conversion) runs the row-wise map's own function over its column (:mod:`.converted`);
  a row it rejects leaves the lane. A timestamp made so is kept as its instant in UTC
  (the row-wise stages keep the offset the value came with, which only a rowversion's
  text shows: such a page is not taken).

A page the lane cannot take at all (a column typed otherwise than its field, a missing
column, a rowversion read from text as a timestamp) is decided row by row, as a JSON
page is. The rows that leave the lane are handed back by position. Identity's hashes
are taken over the columns (:mod:`.identity`); ``tests/pipeline/test_frame_lane.py``
pins that both lanes give the same records.
"""

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from syncflow.domain import EntitySpec, FieldType, Stage
from syncflow.pipeline.frames import converted, identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.validate import Validator

# columns the lane adds beside the target fields
KEY = "__bridge_key_hash"
DATA = "__bridge_data_hash"
POSITION = "__bridge_position"
ROWVERSION = "__bridge_rowversion"
_PRINTABLE_ASCII = r"^[ -~]*$"


def mapped_column(target: str) -> str:
    """The lane's column of a target field a transform, default or conversion made."""
    return f"__bridge_target:{target}"


def parent_key(entity: str) -> str:
    """The lane's column of a parent ref's key hashes."""
    return f"__bridge_parent:{entity}"


def _fits(kind: pa.DataType, field_type: FieldType) -> bool:
    """Whether an Arrow column holds its field's type as it is."""
    match field_type:
        case FieldType.TEXT:
            return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
        case FieldType.INTEGER:
            return bool(pa.types.is_int64(kind))
        case FieldType.NUMERIC:
            return bool(pa.types.is_decimal128(kind))
        case FieldType.DATE:
            return bool(pa.types.is_date32(kind))
        case FieldType.TIMESTAMP:
            return bool(pa.types.is_timestamp(kind) and kind.tz is not None)
        case FieldType.BOOLEAN:
            return bool(pa.types.is_boolean(kind))


def _read_from_text(kind: pa.DataType, field_type: FieldType) -> bool:
    """Whether a text column the entity reads as ``field_type`` is converted in the lane."""
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    return bool(text) and field_type is not FieldType.TEXT


@dataclass(frozen=True, slots=True)
class LaneResult:
    """The rows the lane finished and the positions it handed back, in input order.

    ``frame`` holds the normalized source values (by source field, ``sources``), the
    hashes, the rowversion as text, the parent key hashes (of ``parents``) and each
    row's input position; ``targets`` names the target field each source field is
    copied to; ``rowversion`` is the rowversion's source field.
    """

    frame: pl.DataFrame
    slow: list[int]
    sources: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    rowversion: str | None
    parents: tuple[str, ...]
    # the page the rows came from (rows that must become records are read from it)
    source: pa.Table

    def target_columns(self) -> list[pl.Expr]:
        """The target fields, by target field name."""
        return [pl.col(source).alias(target) for source, target in self.targets]


class FrameLane:
    """One entity's pure stages over Arrow pages."""

    def __init__(
        self, spec: EntitySpec, normalizer: Normalizer, validator: Validator, mapper: Mapper
    ) -> None:
        self._types = dict(normalizer.value_types)
        self._names = tuple(name for name, _ in normalizer.plan)
        self._not_null = (*validator.keys, *validator.required)
        field_types = {f.target_field: f.type for f in spec.fields}
        self._converters = dict(normalizer.plan)
        self._mapped = tuple(
            (source, target, run, field_types[target])
            for source, target, run in mapper.plan
            if run is not None
        )
        self._targets = tuple(
            (source if run is None else mapped_column(target), target)
            for source, target, run in mapper.plan
        )
        self._keys = spec.business_keys
        self._fields = tuple(f.target_field for f in spec.fields)
        self._rowversion = spec.rowversion_field
        self._refs = tuple((ref.parent_entity, ref.fields) for ref in spec.parent_refs)

    def takes(self, schema: pa.Schema) -> bool:
        """Whether pages of this schema can go through the lane. A rowversion read from
        text as a timestamp is not taken: the lane holds the instant in UTC, the target
        keeps the rowversion's text with the offset the value came with."""
        names = set(schema.names)
        rowversion = self._rowversion
        if (
            rowversion is not None
            and rowversion in names
            and self._types.get(rowversion) is FieldType.TIMESTAMP
            and not _fits(schema.field(rowversion).type, FieldType.TIMESTAMP)
        ):
            return False
        return all(
            name in names
            and (
                _fits(schema.field(name).type, self._types[name])
                or _read_from_text(schema.field(name).type, self._types[name])
            )
            for name in self._names
        )

    def run(
        self, table: pa.Table, seconds: dict[str, float], clock: Callable[[], float]
    ) -> LaneResult:
        """The page through the stages (``takes(table.schema)`` must hold)."""
        start = clock()
        frame = pl.from_arrow(table.select(list(self._names)))
        assert isinstance(frame, pl.DataFrame)
        frame, unread = self._read_texts(frame, table.schema)
        texts = [name for name in self._names if self._types[name] is FieldType.TEXT]
        leaves = [
            pl.col(name).is_not_null()
            & (
                ~pl.col(name).str.contains(_PRINTABLE_ASCII)
                | (pl.col(name).str.strip_chars(" ").str.len_bytes() == 0)
            )
            for name in texts
        ]
        frame = frame.with_columns(
            *[pl.col(name).str.strip_chars(" ") for name in texts],
            pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION),
        )
        if unread is not None:
            leaves.append(unread)
        # a date or timestamp Python cannot hold (years 1..9999 in UTC): the row-wise
        # stages read it as text and word its failure
        leaves.extend(_outside_python(frame, frame.columns))
        lap = clock()
        seconds[Stage.NORMALIZE] = seconds.get(Stage.NORMALIZE, 0.0) + lap - start
        start = lap
        leaves.extend(pl.col(name).is_null() for name in self._not_null)
        if leaves:
            slow_mask = frame.select(pl.any_horizontal(leaves).alias("slow")).to_series()
            slow = slow_mask.arg_true().to_list()
            if slow:
                frame = frame.filter(~slow_mask)
        else:
            slow = []
        lap = clock()
        seconds[Stage.VALIDATE] = seconds.get(Stage.VALIDATE, 0.0) + lap - start
        start = lap
        if self._mapped:
            frame, slow = self._map(frame, slow)
        targets = frame.select([pl.col(source).alias(target) for source, target in self._targets])
        lap = clock()
        seconds[Stage.MAP] = seconds.get(Stage.MAP, 0.0) + lap - start
        start = lap
        added: list[pl.Series] = [
            identity.key_hashes(frame, self._keys).alias(KEY),
            identity.data_hashes(targets, self._fields).alias(DATA),
        ]
        if self._rowversion is not None:
            added.append(_rowversion_texts(frame.get_column(self._rowversion)).alias(ROWVERSION))
        added.extend(
            identity.parent_key_hashes(frame, fields).alias(parent_key(entity))
            for entity, fields in self._refs
        )
        result = frame.with_columns(added)
        seconds[Stage.IDENTITY] = seconds.get(Stage.IDENTITY, 0.0) + clock() - start
        return LaneResult(
            frame=result,
            slow=slow,
            sources=self._names,
            targets=self._targets,
            rowversion=self._rowversion,
            parents=tuple(entity for entity, _ in self._refs),
            source=table,
        )

    def _read_texts(
        self, frame: pl.DataFrame, schema: pa.Schema
    ) -> tuple[pl.DataFrame, pl.Expr | None]:
        """Text columns the entity reads as another type, converted by the normalize
        layer's own function; the rows it rejected, as an expression (``None``: none)."""
        reads = [
            name for name in self._names if not _fits(schema.field(name).type, self._types[name])
        ]
        if not reads:
            return frame, None
        rejected: set[int] = set()
        columns = []
        for name in reads:
            column, left = converted.converted(
                frame.get_column(name), self._converters[name], self._types[name]
            )
            columns.append(column)
            rejected.update(left)
        frame = frame.with_columns(columns)
        if not rejected:
            return frame, None
        return frame, pl.lit(_rows_among(rejected, frame.height))

    def _map(self, frame: pl.DataFrame, slow: list[int]) -> tuple[pl.DataFrame, list[int]]:
        """The mapped fields' columns added to the frame; the rows whose mapping the
        lane cannot hold leave it (their positions join ``slow``), as do the rows whose
        mapping made a date or timestamp Python cannot hold (see :meth:`run`)."""
        columns: list[pl.Series] = []
        leave: set[int] = set()
        for source, target, run, field_type in self._mapped:
            column, left = converted.converted(frame.get_column(source), run, field_type)
            columns.append(column.alias(mapped_column(target)))
            leave.update(left)
        frame = frame.with_columns(columns)
        outside = _outside_python(frame, [column.name for column in columns])
        if outside:
            leave.update(frame.select(pl.any_horizontal(outside)).to_series().arg_true())
        if not leave:
            return frame, slow
        mask = _rows_among(leave, frame.height)
        positions = frame.get_column(POSITION).filter(mask).to_list()
        return frame.filter(~mask), sorted([*slow, *positions])


def _outside_python(frame: pl.DataFrame, names: list[str]) -> list[pl.Expr]:
    """Per date or timestamp column of ``names``: true where its value lies outside
    years 1..9999 in UTC (never for NULL)."""
    schema = frame.schema
    return [
        check.fill_null(False)
        for name in names
        if (check := identity.outside_python(name, schema[name])) is not None
    ]


def _rows_among(indexes: set[int], height: int) -> pl.Series:
    """A mask of ``height`` rows, true at ``indexes``."""
    return pl.Series([index in indexes for index in range(height)], dtype=pl.Boolean)


def _rowversion_texts(column: pl.Series) -> pl.Series:
    """``str()`` of each rowversion value, as the row-wise load writes it."""
    if column.dtype == pl.Int64:
        return column.cast(pl.String)
    return pl.Series([None if v is None else str(v) for v in column.to_list()], dtype=pl.String)
