"""A saved API ready to run: the API and its connection (from the process's catalog,
else read in a short transaction of its own, so no metadata connection is held while the
ERP works), the caller's parameters, filters and sort checked and typed, and the check
that the ERP's rows still have the shape the API was saved with.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apismith.apis.schemas import ApiOut
from apismith.apis.service import find_api_by_slug, param_specs
from apismith.catalog import CatalogEntry, RuntimeCatalog
from apismith.connections.service import get_connection_record
from apismith.drivers.base import ColumnInfo, Dialect, Driver, ErpQueryError
from apismith.runtime.audit import CallAudit
from apismith.runtime.context import RuntimeContext
from apismith.runtime.encoding import Row
from apismith.runtime.schemas import StreamRequest
from apismith.sql import (
    Filter,
    SortKey,
    TotalOrder,
    ValidatedQuery,
    bind_params,
    resolve_order,
    validate_select,
)
from bridge_core.db.transaction import Database
from bridge_core.errors import BadRequest, NotFound

API_NOT_FOUND = "api not found or inactive"


@dataclass(frozen=True)
class RuntimeCall:
    """A saved API ready to run: its query, the caller's inputs checked and typed."""

    api: ApiOut
    driver: Driver
    query: ValidatedQuery
    columns: list[ColumnInfo]
    params: dict[str, Any]
    filters: list[Filter]
    order: TotalOrder
    zone: ZoneInfo


async def _definition(*, database: Database, catalog: RuntimeCatalog, slug: str) -> CatalogEntry:
    """The active API ``slug`` and its connection: from the catalog, else read (404)."""
    entry = catalog.get(slug)
    if entry is not None:
        return entry
    read_at = catalog.generation
    async with database.transaction() as conn:
        api = await find_api_by_slug(conn=conn, slug=slug)
        if api is None or not api.is_active:
            raise NotFound(API_NOT_FOUND)
        connection = await get_connection_record(conn=conn, uid=api.connection_uid)
    entry = CatalogEntry(api=api, connection=connection)
    catalog.put(slug, entry, read_at=read_at)
    return entry


async def prepare_call(
    *, runtime: RuntimeContext, slug: str, body: StreamRequest, audit: CallAudit
) -> RuntimeCall:
    """The active API ``slug`` with the caller's params and sort checked (404, 400)."""
    definition = await _definition(database=runtime.database, catalog=runtime.catalog, slug=slug)
    api, connection = definition.api, definition.connection
    audit.api = api
    zone = ZoneInfo(connection.options.timezone)
    columns = [
        ColumnInfo(name=column.name, data_type=column.data_type, nullable=column.nullable)
        for column in api.columns
    ]
    types = {column.name: column.data_type for column in columns}
    params = bind_params(declared=param_specs(api.params), supplied=body.params)
    return RuntimeCall(
        api=api,
        driver=runtime.drivers.get(connection),
        query=_validated(api.sql, connection.dialect),
        columns=columns,
        params={
            name: _erp_time(value, zone) if isinstance(value, datetime) else value
            for name, value in params.items()
        },
        filters=[
            Filter(
                field=item.field,
                operator=item.operator,
                value=_erp_time(item.value, zone)
                if types.get(item.field) == "timestamp"
                else item.value,
            )
            for item in body.filters
        ],
        order=resolve_order(
            sort=[SortKey(field=key.field, direction=key.direction) for key in body.sort],
            columns=columns,
            business_keys=api.business_keys,
            rowversion_column=api.rowversion_column,
        ),
        zone=zone,
    )


@functools.lru_cache(maxsize=256)
def _validated(sql: str, dialect: Dialect) -> ValidatedQuery:
    """``validate_select`` once per saved SQL text: every page of a sync asks again, and
    parsing is a third of a page's work. The rewriters copy the tree, never change it."""
    return validate_select(sql, dialect)


def _erp_time(value: Any, zone: ZoneInfo) -> Any:
    """A timestamp with an offset as the ERP's wall-clock time in ``zone`` (lists item by item).

    ERP timestamps are mostly naive, read in the connection's zone, and APISmith sends
    them with that offset; a caller passing one back must match the stored value.
    Anything else is left for the SQL layer to check.
    """
    if isinstance(value, list):
        return [_erp_time(item, zone) for item in value]
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        try:
            return moment.astimezone(zone).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
            raise BadRequest(
                f"timestamp {str(value)[:40]!r} falls outside the years 1 to 9999 "
                f"in the connection's time zone {zone.key}"
            ) from None
    return value


def check_shape(rows: Sequence[Row], columns: Sequence[ColumnInfo]) -> None:
    """502 when the ERP's query no longer returns the columns the API was saved with."""
    if rows:
        check_width(len(rows[0]), columns)


def check_width(width: int, columns: Sequence[ColumnInfo]) -> None:
    if width != len(columns):
        raise ErpQueryError(
            f"the query now returns {width} columns but the API was saved with "
            f"{len(columns)}: save the API again to discover its columns"
        )
