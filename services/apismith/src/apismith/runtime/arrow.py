"""Arrow bodies: an ``execute`` page as one Arrow IPC stream (from rows or from the
driver's native Arrow), and the ``/stream`` encoder (one record batch per chunk).

The columns are built by ``apismith.runtime.arrow_columns`` (the types, page by page)
and ``apismith.runtime.arrow_native`` (a native page's columns); the schema carries the
columns as the JSON metadata lists them, under ``apismith.columns``.
"""

import io
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

import orjson
import pyarrow as pa

from apismith.drivers.base import ColumnInfo
from apismith.runtime.arrow_columns import page_column, stream_type
from apismith.runtime.arrow_native import native_page_column
from apismith.runtime.encoding import Row, RowEncoder, StreamFormat

# the schema metadata key holding the columns as the JSON metadata lists them
COLUMNS_KEY = b"apismith.columns"


def _columns(rows: Sequence[Row], width: int) -> list[Sequence[Any]]:
    """Rows turned into columns (in C)."""
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


def _metadata(columns_metadata: Sequence[dict[str, Any]]) -> dict[bytes, bytes]:
    return {COLUMNS_KEY: orjson.dumps(list(columns_metadata))}


def page_body(
    rows: Sequence[Row],
    columns: Sequence[ColumnInfo],
    zone: tzinfo,
    *,
    columns_metadata: Sequence[dict[str, Any]],
) -> bytes:
    """One page as an Arrow IPC stream: the schema (numbers typed by the page's values,
    the columns as JSON under ``apismith.columns``), one record batch unless the page
    is empty, the end-of-stream marker."""
    arrays = [
        page_column(values, column, zone, exact_numbers=True)
        for values, column in zip(_columns(rows, len(columns)), columns, strict=True)
    ]
    return _ipc_page(arrays, columns, columns_metadata, has_rows=bool(rows))


def native_page_body(
    table: pa.Table,
    columns: Sequence[ColumnInfo],
    zone: tzinfo,
    *,
    columns_metadata: Sequence[dict[str, Any]],
) -> bytes:
    """:func:`page_body` of a native page (``Driver.fetch_arrow``): the same schema and
    values as page_body of the rows ``fetch`` reads."""
    arrays = [
        native_page_column(chunked.combine_chunks(), field, column, zone)
        for chunked, field, column in zip(table.columns, table.schema, columns, strict=True)
    ]
    return _ipc_page(arrays, columns, columns_metadata, has_rows=table.num_rows > 0)


def _ipc_page(
    arrays: Sequence[pa.Array],
    columns: Sequence[ColumnInfo],
    columns_metadata: Sequence[dict[str, Any]],
    *,
    has_rows: bool,
) -> bytes:
    schema = pa.schema(
        [pa.field(column.name, array.type) for column, array in zip(columns, arrays, strict=True)],
        metadata=_metadata(columns_metadata),
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        if has_rows:
            writer.write_batch(pa.record_batch(arrays, schema=schema))
    return bytes(sink.getvalue())


class ArrowEncoder(RowEncoder):
    """An Arrow IPC stream: the schema, one record batch per chunk, the end-of-stream marker.
    The schema is fixed before the first row, so numbers are utf8 text."""

    media_type = StreamFormat.ARROW

    def __init__(self, columns: Sequence[ColumnInfo], zone: tzinfo) -> None:
        super().__init__(columns, zone)
        self.schema = pa.schema(
            [pa.field(column.name, stream_type(column)) for column in columns],
            metadata=_metadata([_column_metadata(column) for column in columns]),
        )
        self._sink = io.BytesIO()
        self._writer = pa.ipc.new_stream(self._sink, self.schema)

    def _drain(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data

    def start(self) -> bytes:
        return self._drain()

    def encode(self, rows: Sequence[Row]) -> bytes:
        arrays = [
            page_column(values, column, self.zone, exact_numbers=False)
            for values, column in zip(_columns(rows, len(self.columns)), self.columns, strict=True)
        ]
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        return self._drain()

    def finish(self) -> bytes:
        self._writer.close()
        return self._drain()


def _column_metadata(column: ColumnInfo) -> dict[str, Any]:
    """A column as the JSON metadata lists it (``ColumnOut``)."""
    return {"name": column.name, "data_type": column.data_type, "nullable": column.nullable}
