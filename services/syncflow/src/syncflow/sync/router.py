"""The sync API: start, status, stop, history, retry failed records (all or chosen ones)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize
from syncflow.auth.dependencies import Operator
from syncflow.sync import service
from syncflow.sync.schemas import (
    BatchFilter,
    BatchPage,
    BatchStatus,
    RetryFailed,
    RetryRecords,
    SyncStart,
)
from syncflow.sync.wake import WakeExecutor

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post("/start", status_code=status.HTTP_202_ACCEPTED)
async def start(body: SyncStart, _: Operator, conn: Connection, wake: WakeExecutor) -> BatchStatus:
    batch = await service.start_sync(
        conn, entity=body.entity, mode=body.mode.value, dry_run=body.dry_run
    )
    wake()
    return batch


@router.get("/status/{batch_uid}")
async def get_status(batch_uid: UUID, _: Operator, conn: Connection) -> BatchStatus:
    return await service.get_status(conn, batch_uid=batch_uid)


@router.post("/stop/{batch_uid}")
async def stop(batch_uid: UUID, _: Operator, conn: Connection) -> BatchStatus:
    return await service.stop(conn, batch_uid=batch_uid)


@router.get("/history")
async def history(
    _: Operator,
    conn: Connection,
    entity: str | None = None,
    batch_status: Annotated[str | None, Query(alias="status")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> BatchPage:
    filters = BatchFilter(entity=entity, status=batch_status)
    return await service.history(conn, filters=filters, page=page, page_size=page_size)


@router.post("/retry-failed", status_code=status.HTTP_202_ACCEPTED)
async def retry_failed(
    body: RetryFailed, _: Operator, conn: Connection, wake: WakeExecutor
) -> BatchStatus:
    batch = await service.retry_failed(conn, entity=body.entity)
    wake()
    return batch


@router.post("/retry-records", status_code=status.HTTP_202_ACCEPTED)
async def retry_records(
    body: RetryRecords, _: Operator, conn: Connection, wake: WakeExecutor
) -> list[BatchStatus]:
    """Re-run the chosen open failed records: one ``retry`` batch per entity they belong to
    (409 while one of those entities has a batch pending or running)."""
    batches = await service.retry_records(conn, record_uids=body.record_uids)
    wake()
    return batches
