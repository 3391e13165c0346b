"""Monitoring: failed records, parked children, statistics."""

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bridge_core.db.transaction import Connection, get_database
from bridge_core.http.paging import PageNumber, PageSize
from syncflow.auth.dependencies import Operator
from syncflow.databases import get_target_database
from syncflow.monitoring import service
from syncflow.monitoring.schemas import (
    DetailedHealth,
    Dismissed,
    DismissFailed,
    FailedRecordFilter,
    FailedRecordPage,
    PendingChildPage,
    Stats,
)
from syncflow.targets.dependencies import TargetConnection

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.get("/failed-records")
async def failed_records(
    _: Operator,
    conn: Connection,
    entity: str | None = None,
    batch_uid: UUID | None = None,
    stage: str | None = None,
    include_resolved: bool = False,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> FailedRecordPage:
    filters = FailedRecordFilter(
        entity=entity, batch_uid=batch_uid, stage=stage, include_resolved=include_resolved
    )
    return await service.list_failed_records(conn, filters=filters, page=page, page_size=page_size)


@router.post("/failed-records/dismiss")
async def dismiss_failed_records(
    body: DismissFailed, principal: Operator, conn: Connection
) -> Dismissed:
    """Close failed records without loading them (an operator gave up on them); they
    show as dismissed, by whom and when, and are not retried again."""
    count = await service.dismiss_failed_records(
        conn, record_uids=body.record_uids, by=principal.name
    )
    return Dismissed(dismissed=count)


@router.get("/pending-children")
async def pending_children(
    _: Operator,
    conn: Connection,
    entity: str | None = None,
    parent_entity: str | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> PendingChildPage:
    return await service.list_pending_children(
        conn, entity=entity, parent_entity=parent_entity, page=page, page_size=page_size
    )


@router.get("/stats")
async def stats(_: Operator, conn: Connection, target_conn: TargetConnection) -> Stats:
    return await service.stats(conn, target_conn)


@router.get(
    "/health/detailed",
    response_model=DetailedHealth,
    responses={503: {"model": DetailedHealth, "description": "a dependency is unreachable"}},
)
async def health_detailed(_: Operator, request: Request) -> JSONResponse:
    """SyncFlow's database, the target database and every source's APISmith; 503 when
    any of them is unreachable. Takes no request transaction: it must answer when the
    database is down."""
    health = await service.detailed_health(
        database=get_database(request), target_database=get_target_database(request)
    )
    return JSONResponse(
        health.model_dump(mode="json"), status_code=200 if health.status == "ok" else 503
    )
