"""Sources API: register APISmith instances, test them, discover their APIs."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from bridge_core.db.transaction import Connection
from syncflow.auth.dependencies import AppSettings, Operator
from syncflow.sources import service
from syncflow.sources.schemas import (
    DiscoveredApi,
    SourceCreate,
    SourceOut,
    SourceTest,
    SourceUpdate,
)

router = APIRouter(prefix="/sources", tags=["sources"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_source(
    body: SourceCreate, _: Operator, settings: AppSettings, conn: Connection
) -> SourceOut:
    """Register an APISmith instance; its token is stored encrypted and never returned."""
    return await service.create_source(conn, settings=settings, body=body)


@router.get("")
async def list_sources(_: Operator, conn: Connection) -> list[SourceOut]:
    return await service.list_sources(conn)


@router.get("/{uid}")
async def get_source(uid: UUID, _: Operator, conn: Connection) -> SourceOut:
    return await service.get_source(conn, uid=uid)


@router.put("/{uid}")
async def update_source(
    uid: UUID, body: SourceUpdate, _: Operator, settings: AppSettings, conn: Connection
) -> SourceOut:
    """Change the base URL or rotate the token."""
    return await service.update_source(conn, settings=settings, uid=uid, body=body)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(uid: UUID, _: Operator, conn: Connection) -> Response:
    """Delete a source that no entity reads from (409 otherwise)."""
    await service.delete_source(conn, uid=uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{uid}/test")
async def check_source(
    uid: UUID, _: Operator, settings: AppSettings, conn: Connection
) -> SourceTest:
    """Reach APISmith and check the token: latency, APISmith's version, the token's principal."""
    return await service.check_source(conn, settings=settings, uid=uid)


@router.post("/{uid}/discover")
async def discover(
    uid: UUID, _: Operator, settings: AppSettings, conn: Connection
) -> list[DiscoveredApi]:
    """APISmith's APIs with their columns, business keys, rowversion column, delta strategy."""
    return await service.discover(conn, settings=settings, uid=uid)
