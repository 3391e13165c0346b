"""APIs: saved SELECTs, checked and described against their connection on every save.

Each create and update validates the SQL in the connection's dialect, checks the
declared parameters against the ones it uses, runs the describe query on the ERP
(parameters bound to their defaults, else NULL) to learn the output columns, and
checks the key columns against them. Every saved definition is kept in
``api_versions``.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.apis.repository import ApiRepository, ApiVersionRepository
from apismith.apis.schemas import (
    ApiDefinition,
    ApiIn,
    ApiOut,
    ApiPage,
    ApiParam,
    ApiVersionOut,
    ColumnOut,
)
from apismith.auth.principal import Principal
from apismith.connections.service import get_connection_record
from apismith.drivers.base import ColumnInfo, ErpQueryError
from apismith.drivers.registry import DriverRegistry
from apismith.sql import (
    ParamSpec,
    build_describe_query,
    build_sample_query,
    check_declared_params,
    check_output_columns,
    coerce_value,
    resolve_order,
    validate_select,
)
from bridge_core.errors import Conflict, NotFound, Unprocessable


def param_specs(params: list[ApiParam]) -> list[ParamSpec]:
    """The SQL layer's view of an API's declared parameters."""
    return [
        ParamSpec(name=param.name, type=param.type, required=param.required, default=param.default)
        for param in params
    ]


def _check_keys(body: ApiIn) -> None:
    """422 for key declarations that are wrong whatever the query returns."""
    if body.delta_strategy == "rowversion" and body.rowversion_column is None:
        raise Unprocessable("delta_strategy 'rowversion' needs a rowversion_column")
    seen: set[str] = set()
    for key in body.business_keys:
        if key in seen:
            raise Unprocessable(f"business key '{key}' is listed twice")
        seen.add(key)


async def _discover_columns(
    *, conn: AsyncConnection, drivers: DriverRegistry, body: ApiIn
) -> list[ColumnInfo]:
    """Validate ``body``'s SQL and keys and return the query's output columns (422 otherwise)."""
    _check_keys(body)
    try:
        connection = await get_connection_record(conn=conn, uid=body.connection_uid)
    except NotFound:
        raise Unprocessable(f"connection {body.connection_uid} does not exist") from None
    query = validate_select(body.sql, connection.dialect)
    specs = param_specs(body.params)
    check_declared_params(declared=specs, used=query.parameters)
    defaults: dict[str, Any] = {
        spec.name: None
        if spec.default is None
        else coerce_value(spec.default, spec.type, name=f"parameter '{spec.name}'")
        for spec in specs
    }
    try:
        columns = await drivers.get(connection).describe(
            build_describe_query(query, params=defaults),
            sample=build_sample_query(query, params=defaults),
        )
    except ErpQueryError as exc:
        # the database is the final judge of names and types: its refusal is invalid SQL
        raise Unprocessable(
            f"the query does not run on connection '{connection.name}': {exc.detail}"
        ) from None
    check_output_columns(
        columns, business_keys=body.business_keys, rowversion_column=body.rowversion_column
    )
    # fail at save, not at the first call, when the rows could never be paged
    resolve_order(
        sort=[],
        columns=columns,
        business_keys=body.business_keys,
        rowversion_column=body.rowversion_column,
    )
    return columns


def _stored_values(body: ApiIn, columns: list[ColumnInfo]) -> dict[str, Any]:
    values = body.model_dump(mode="json")
    values["connection_uid"] = body.connection_uid
    values["columns"] = [
        ColumnOut(name=c.name, data_type=c.data_type, nullable=c.nullable).model_dump()
        for c in columns
    ]
    return values


def _out(row: RowMapping) -> ApiOut:
    return ApiOut.model_validate(dict(row))


async def _record_version(
    *, conn: AsyncConnection, api: ApiOut, principal: Principal, now: datetime
) -> None:
    definition = ApiDefinition.model_validate(api.model_dump()).model_dump(mode="json")
    await ApiVersionRepository(conn).insert(
        api_uid=api.uid,
        version=api.version,
        definition=definition,
        created_by=principal.name,
        now=now,
    )


async def create_api(
    *, conn: AsyncConnection, drivers: DriverRegistry, body: ApiIn, principal: Principal
) -> ApiOut:
    """Save a new API at version 1 (422 for bad SQL or keys, 409 for a taken slug)."""
    columns = await _discover_columns(conn=conn, drivers=drivers, body=body)
    now = datetime.now(UTC)
    row = await ApiRepository(conn).insert(_stored_values(body, columns), now=now)
    if row is None:
        raise Conflict(f"an API with slug '{body.slug}' already exists")
    api = _out(row)
    await _record_version(conn=conn, api=api, principal=principal, now=now)
    logger.info("API {} created by {} ({} columns)", api.slug, principal.name, len(columns))
    return api


async def update_api(
    *,
    conn: AsyncConnection,
    drivers: DriverRegistry,
    uid: uuid.UUID,
    body: ApiIn,
    principal: Principal,
) -> ApiOut:
    """Replace an API's definition, checked again; its version grows by one."""
    repository = ApiRepository(conn)
    if await repository.get(uid) is None:
        raise NotFound(f"API {uid} not found")
    columns = await _discover_columns(conn=conn, drivers=drivers, body=body)
    owner = await repository.slug_owner(body.slug)
    if owner is not None and owner != uid:
        raise Conflict(f"an API with slug '{body.slug}' already exists")
    now = datetime.now(UTC)
    row = await repository.update(uid, _stored_values(body, columns), now=now)
    if row is None:
        raise Conflict(f"an API with slug '{body.slug}' already exists")
    api = _out(row)
    await _record_version(conn=conn, api=api, principal=principal, now=now)
    logger.info("API {} updated to version {} by {}", api.slug, api.version, principal.name)
    return api


async def get_api(*, conn: AsyncConnection, uid: uuid.UUID) -> ApiOut:
    """One API by uid (404 when unknown)."""
    row = await ApiRepository(conn).get(uid)
    if row is None:
        raise NotFound(f"API {uid} not found")
    return _out(row)


async def find_api_by_slug(*, conn: AsyncConnection, slug: str) -> ApiOut | None:
    """The API with ``slug``, or None."""
    row = await ApiRepository(conn).get_by_slug(slug)
    return _out(row) if row is not None else None


async def get_api_by_slug(*, conn: AsyncConnection, slug: str) -> ApiOut:
    """One API by slug (404 when unknown)."""
    api = await find_api_by_slug(conn=conn, slug=slug)
    if api is None:
        raise NotFound(f"API '{slug}' not found")
    return api


async def list_apis(*, conn: AsyncConnection, page: int, page_size: int) -> ApiPage:
    """One page of APIs, by slug."""
    rows, total = await ApiRepository(conn).page(offset=(page - 1) * page_size, limit=page_size)
    return ApiPage(items=[_out(row) for row in rows], total=total, page=page, page_size=page_size)


async def delete_api(*, conn: AsyncConnection, uid: uuid.UUID, principal: Principal) -> None:
    """Delete an API and its version history (its audit rows stay)."""
    if not await ApiRepository(conn).delete(uid):
        raise NotFound(f"API {uid} not found")
    logger.info("API {} deleted by {}", uid, principal.name)


async def list_versions(*, conn: AsyncConnection, uid: uuid.UUID) -> list[ApiVersionOut]:
    """Every saved definition of an API, newest first."""
    if await ApiRepository(conn).get(uid) is None:
        raise NotFound(f"API {uid} not found")
    rows = await ApiVersionRepository(conn).list_for(uid)
    return [ApiVersionOut.model_validate(dict(row)) for row in rows]


async def check_sql(
    *, conn: AsyncConnection, drivers: DriverRegistry, connection_uid: uuid.UUID, sql: str
) -> tuple[str, list[ColumnInfo]]:
    """The workbench's check of a SELECT without saving it: the SQL as APISmith rewrites it
    (a first page of 100 rows, parameters bound as NULL) and its output columns; 422 with
    the guard's reason when it is refused, or the database's when it does not run."""
    connection = await get_connection_record(conn=conn, uid=connection_uid)
    query = validate_select(sql, connection.dialect)
    sample = build_sample_query(query, params={})
    try:
        columns = await drivers.get(connection).describe(
            build_describe_query(query, params={}), sample=sample
        )
    except ErpQueryError as exc:
        raise Unprocessable(
            f"the query does not run on connection '{connection.name}': {exc.detail}"
        ) from None
    return sample.sql, columns
