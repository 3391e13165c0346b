"""``POST /entities/{name}/verify``: source versus target."""

from fastapi import APIRouter, Request

from bridge_core.db.transaction import Connection
from syncflow.auth.dependencies import AppSettings, Operator
from syncflow.verify import service
from syncflow.verify.schemas import VerifyReport

router = APIRouter(tags=["verify"])


@router.post("/entities/{name}/verify")
async def verify(
    name: str, _: Operator, settings: AppSettings, conn: Connection, request: Request
) -> VerifyReport:
    return await service.verify_entity(
        conn, target_database=request.app.state.target_database, settings=settings, name=name
    )
