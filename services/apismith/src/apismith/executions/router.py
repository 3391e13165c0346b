"""Execution audit endpoint (admin): who ran which API, when, with what outcome."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from apismith.auth.dependencies import require_admin
from apismith.executions import service
from apismith.executions.schemas import ExecutionPage
from apismith.executions.writer import AuditLog
from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize

router = APIRouter(tags=["executions"])


@router.get("/executions", dependencies=[Depends(require_admin)])
async def list_executions(
    audit: AuditLog,
    conn: Connection,
    slug: Annotated[str | None, Query(max_length=150)] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> ExecutionPage:
    """Audited runtime calls, newest first; ``slug`` narrows to one API."""
    await audit.flush()  # this process's queued calls are listed too
    return await service.list_executions(conn=conn, slug=slug, page=page, page_size=page_size)
