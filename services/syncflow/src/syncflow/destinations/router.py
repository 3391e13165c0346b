"""Destinations API: where changed rows are delivered; pause and resume."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from bridge_core.db.transaction import Connection
from syncflow.auth.dependencies import AppSettings, Operator
from syncflow.destinations import service
from syncflow.destinations.schemas import (
    MAX_PAGE_SIZE,
    DestinationCreate,
    DestinationKind,
    DestinationOut,
    DestinationPage,
    DestinationPause,
    DestinationUpdate,
)

router = APIRouter(prefix="/destinations", tags=["destinations"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_destination(
    body: DestinationCreate, _: Operator, settings: AppSettings, conn: Connection
) -> DestinationOut:
    """Add a ScheduleHub or webhook destination; its credentials are stored encrypted."""
    return await service.create_destination(conn, settings=settings, body=body)


@router.get("")
async def list_destinations(
    _: Operator,
    settings: AppSettings,
    conn: Connection,
    kind: DestinationKind | None = None,
    paused: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> DestinationPage:
    return await service.list_destinations(
        conn, settings=settings, kind=kind, paused=paused, page=page, page_size=page_size
    )


@router.get("/{uid}")
async def get_destination(
    uid: UUID, _: Operator, settings: AppSettings, conn: Connection
) -> DestinationOut:
    return await service.get_destination(conn, settings=settings, uid=uid)


@router.patch("/{uid}")
async def update_destination(
    uid: UUID, body: DestinationUpdate, _: Operator, settings: AppSettings, conn: Connection
) -> DestinationOut:
    """Change settings or rotate credentials (keys left out keep their values)."""
    return await service.update_destination(conn, settings=settings, uid=uid, body=body)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_destination(uid: UUID, _: Operator, conn: Connection) -> Response:
    await service.delete_destination(conn, uid=uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{uid}/pause")
async def pause_destination(
    uid: UUID,
    _: Operator,
    settings: AppSettings,
    conn: Connection,
    body: DestinationPause | None = None,
) -> DestinationOut:
    """Stop delivering, with the reason shown until it is resumed."""
    reason = (body or DestinationPause()).reason
    return await service.pause_destination(conn, settings=settings, uid=uid, reason=reason)


@router.post("/{uid}/resume")
async def resume_destination(
    uid: UUID, _: Operator, settings: AppSettings, conn: Connection
) -> DestinationOut:
    return await service.resume_destination(conn, settings=settings, uid=uid)
