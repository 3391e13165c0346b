"""Execution audit endpoint (admin): who ran which API, when, with what outcome."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from apismith.auth.dependencies import require_admin
from apismith.executions import service
from apismith.executions.schemas import ExecutionFilter, ExecutionPage, ExecutionStatus
from apismith.executions.writer import AuditLog
from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize

router = APIRouter(tags=["executions"])


@router.get("/executions", dependencies=[Depends(require_admin)])
async def list_executions(
    audit: AuditLog,
    conn: Connection,
    slug: Annotated[str | None, Query(max_length=150)] = None,
    principal: Annotated[str | None, Query(max_length=200)] = None,
    execution_status: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> ExecutionPage:
    """Audited runtime calls, newest first; narrowed to one API (``slug``), one
    ``principal``, one ``status`` and ``[created_from, created_before)``."""
    await audit.flush()  # this process's queued calls are listed too
    filters = ExecutionFilter(
        slug=slug,
        principal=principal,
        status=execution_status,
        created_from=created_from,
        created_before=created_before,
    )
    return await service.list_executions(conn=conn, filters=filters, page=page, page_size=page_size)
