"""Connections: check, store (URL encrypted), show (URL masked), test and delete them."""

import dataclasses
import uuid
from datetime import UTC, datetime

from loguru import logger
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.connections.own_database import points_at_own_database
from apismith.connections.repository import ConnectionRecord, ConnectionRepository
from apismith.connections.schemas import (
    ConnectionIn,
    ConnectionOptionsIn,
    ConnectionOptionsOut,
    ConnectionOut,
    ConnectionTestResult,
    ConnectionUpdate,
)
from apismith.drivers.base import ConnectionOptions, Dialect
from apismith.drivers.registry import DriverRegistry
from apismith.drivers.urls import masked_url, parse_connection_url, postgres_endpoint
from apismith.settings import Settings
from bridge_core.errors import Conflict, NotFound, Unprocessable
from bridge_core.ids import new_id

OWN_DATABASE_REFUSAL = "connection points at APISmith's own metadata database"


async def create_connection(
    *,
    conn: AsyncConnection,
    drivers: DriverRegistry,
    settings: Settings,
    own_database: URL,
    body: ConnectionIn,
) -> ConnectionOut:
    """Store a new connection: URL checked (422), name unique (409), URL encrypted."""
    url = body.url.get_secret_value()
    parsed = await _checked_url(body.dialect, url, own_database=own_database)
    now = datetime.now(UTC)
    record = ConnectionRecord(
        uid=new_id(),
        name=body.name,
        dialect=body.dialect,
        url_encrypted=drivers.secret_box.encrypt(url),
        url_masked=masked_url(parsed),
        options=_options(body.options, settings),
        created_at=now,
        updated_at=now,
    )
    try:
        await ConnectionRepository(conn).insert(record)
    except IntegrityError as exc:
        raise Conflict(f"a connection named {body.name!r} already exists") from exc
    logger.info("connection {} created: {} {}", record.name, record.dialect, record.url_masked)
    return _out(record)


async def list_connections(*, conn: AsyncConnection) -> list[ConnectionOut]:
    """Every connection, by name."""
    return [_out(record) for record in await ConnectionRepository(conn).list_all()]


async def get_connection(*, conn: AsyncConnection, uid: uuid.UUID) -> ConnectionOut:
    """One connection (404 when unknown)."""
    return _out(await get_connection_record(conn=conn, uid=uid))


async def get_connection_record(*, conn: AsyncConnection, uid: uuid.UUID) -> ConnectionRecord:
    """The stored connection ``uid`` for running queries on it (404 when unknown)."""
    record = await ConnectionRepository(conn).get(uid)
    if record is None:
        raise NotFound(f"connection {uid} not found")
    return record


async def update_connection(
    *,
    conn: AsyncConnection,
    drivers: DriverRegistry,
    settings: Settings,
    own_database: URL,
    uid: uuid.UUID,
    body: ConnectionUpdate,
) -> ConnectionOut:
    """Replace a connection (the stored URL is kept when ``url`` is left out).

    The dialect may change only while no API uses the connection: their SQL was
    validated, and their columns described, in the old one.
    """
    current = await get_connection_record(conn=conn, uid=uid)
    if body.dialect != current.dialect:
        slugs = await ConnectionRepository(conn).api_slugs_using(uid)
        if slugs:
            raise Conflict(
                f"connection {current.name!r} is used by APIs {', '.join(slugs)}, whose SQL "
                f"was checked as {current.dialect}: its dialect cannot change"
            )
    if body.url is not None:
        url = body.url.get_secret_value()
        encrypted = drivers.secret_box.encrypt(url)
    else:
        url = drivers.secret_box.decrypt(current.url_encrypted)
        encrypted = current.url_encrypted
    parsed = await _checked_url(body.dialect, url, own_database=own_database)
    record = dataclasses.replace(
        current,
        name=body.name,
        dialect=body.dialect,
        url_encrypted=encrypted,
        url_masked=masked_url(parsed),
        options=_options(body.options, settings),
        updated_at=datetime.now(UTC),
    )
    try:
        await ConnectionRepository(conn).update(record)
    except IntegrityError as exc:
        raise Conflict(f"a connection named {body.name!r} already exists") from exc
    logger.info("connection {} updated: {} {}", record.name, record.dialect, record.url_masked)
    return _out(record)


async def delete_connection(
    *, conn: AsyncConnection, drivers: DriverRegistry, uid: uuid.UUID
) -> None:
    """Delete a connection that no API uses (409 naming the APIs otherwise)."""
    record = await get_connection_record(conn=conn, uid=uid)
    repository = ConnectionRepository(conn)
    slugs = await repository.api_slugs_using(uid)
    if slugs:
        raise Conflict(
            f"connection {record.name!r} is used by APIs {', '.join(slugs)}: "
            "delete them or move them to another connection first"
        )
    try:
        await repository.delete(uid)
    except IntegrityError as exc:  # an API created for it since the check above
        raise Conflict(f"connection {record.name!r} is used by an API") from exc
    drivers.discard(uid)
    logger.info("connection {} deleted", record.name)


async def ping_connection(
    *, conn: AsyncConnection, drivers: DriverRegistry, uid: uuid.UUID
) -> ConnectionTestResult:
    """Connect and run a trivial query (502 unreachable, 504 too slow)."""
    record = await get_connection_record(conn=conn, uid=uid)
    info = await drivers.get(record).ping()
    return ConnectionTestResult(
        ok=True, latency_ms=round(info.latency_ms, 2), server_version=info.server_version
    )


async def _checked_url(dialect: Dialect, url: str, *, own_database: URL) -> URL:
    """``url`` parsed for ``dialect``; 422 when unusable or when it is APISmith's own database."""
    parsed = parse_connection_url(dialect, url)
    if dialect == Dialect.POSTGRESQL and await points_at_own_database(
        postgres_endpoint(parsed), postgres_endpoint(own_database)
    ):
        raise Unprocessable(OWN_DATABASE_REFUSAL)
    return parsed


def _options(given: ConnectionOptionsIn, settings: Settings) -> ConnectionOptions:
    defaults = ConnectionOptions()
    return ConnectionOptions(
        statement_timeout_ms=given.statement_timeout_ms or settings.default_statement_timeout_ms,
        max_rows=given.max_rows or settings.default_max_rows,
        pool_size=given.pool_size or defaults.pool_size,
        timezone=given.timezone or defaults.timezone,
    )


def _out(record: ConnectionRecord) -> ConnectionOut:
    return ConnectionOut(
        uid=record.uid,
        name=record.name,
        dialect=record.dialect,
        url=record.url_masked,
        options=ConnectionOptionsOut(**dataclasses.asdict(record.options)),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
