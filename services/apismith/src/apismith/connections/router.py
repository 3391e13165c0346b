"""Connection endpoints (admin only): CRUD and a connectivity test."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.engine import URL

from apismith.auth.dependencies import Admin, AppSettings
from apismith.catalog import catalog_write
from apismith.connections import service
from apismith.connections.schemas import (
    ConnectionIn,
    ConnectionOut,
    ConnectionTestResult,
    ConnectionUpdate,
)
from apismith.drivers.registry import Drivers
from bridge_core.db.transaction import Connection, Database, get_database


def _own_database_url(database: Annotated[Database, Depends(get_database)]) -> URL:
    return database.engine.url


OwnDatabase = Annotated[URL, Depends(_own_database_url)]

router = APIRouter(prefix="/connections", tags=["connections"])


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[catalog_write])
async def create_connection(
    principal: Admin,
    body: ConnectionIn,
    settings: AppSettings,
    own_database: OwnDatabase,
    drivers: Drivers,
    conn: Connection,
) -> ConnectionOut:
    """Register an ERP database; its URL is stored encrypted and shown masked."""
    return await service.create_connection(
        conn=conn, drivers=drivers, settings=settings, own_database=own_database, body=body
    )


@router.get("")
async def list_connections(principal: Admin, conn: Connection) -> list[ConnectionOut]:
    """Every connection, by name."""
    return await service.list_connections(conn=conn)


@router.get("/{uid}")
async def get_connection(principal: Admin, uid: uuid.UUID, conn: Connection) -> ConnectionOut:
    """One connection."""
    return await service.get_connection(conn=conn, uid=uid)


@router.put("/{uid}", dependencies=[catalog_write])
async def update_connection(
    principal: Admin,
    uid: uuid.UUID,
    body: ConnectionUpdate,
    settings: AppSettings,
    own_database: OwnDatabase,
    drivers: Drivers,
    conn: Connection,
) -> ConnectionOut:
    """Replace a connection; leave ``url`` out to keep the stored one."""
    return await service.update_connection(
        conn=conn,
        drivers=drivers,
        settings=settings,
        own_database=own_database,
        uid=uid,
        body=body,
    )


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[catalog_write])
async def delete_connection(
    principal: Admin, uid: uuid.UUID, drivers: Drivers, conn: Connection
) -> None:
    """Delete a connection that no API uses (409 names the APIs that do)."""
    await service.delete_connection(conn=conn, drivers=drivers, uid=uid)


@router.post("/{uid}/test")
async def test_connection(
    principal: Admin, uid: uuid.UUID, drivers: Drivers, conn: Connection
) -> ConnectionTestResult:
    """Connect and run a trivial query: 200 with the latency, 502 unreachable, 504 too slow."""
    return await service.ping_connection(conn=conn, drivers=drivers, uid=uid)
