"""Schedules API: create, list, read, replace and delete schedules."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status

from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize
from syncflow.auth.dependencies import Operator
from syncflow.clock import Clock
from syncflow.schedules import service
from syncflow.schedules.schemas import ScheduleBody, ScheduleOut, SchedulePage

router = APIRouter(prefix="/schedules", tags=["schedules"])


async def _now(request: Request) -> datetime:
    """The app's clock (the system time, or a test's simulated one)."""
    clock: Clock = request.app.state.clock
    return clock()


Now = Annotated[datetime, Depends(_now)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_schedule(
    body: ScheduleBody, _: Operator, conn: Connection, now: Now
) -> ScheduleOut:
    return await service.create_schedule(conn, body=body, now=now)


@router.get("")
async def list_schedules(
    _: Operator,
    conn: Connection,
    entity: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> SchedulePage:
    return await service.list_schedules(conn, entity=entity, page=page, page_size=page_size)


@router.get("/{uid}")
async def get_schedule(uid: UUID, _: Operator, conn: Connection) -> ScheduleOut:
    return await service.get_schedule(conn, uid=uid)


@router.put("/{uid}")
async def update_schedule(
    uid: UUID, body: ScheduleBody, _: Operator, conn: Connection, now: Now
) -> ScheduleOut:
    return await service.update_schedule(conn, uid=uid, body=body, now=now)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(uid: UUID, _: Operator, conn: Connection) -> Response:
    await service.delete_schedule(conn, uid=uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
