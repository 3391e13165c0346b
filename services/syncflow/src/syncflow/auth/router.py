"""Operator token endpoints: issue, list, revoke."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from bridge_core.db.transaction import Connection
from syncflow.auth import service
from syncflow.auth.dependencies import AppSettings, Operator
from syncflow.auth.schemas import TokenCreate, TokenCreated, TokenOut

router = APIRouter(prefix="/tokens", tags=["auth"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenCreate, principal: Operator, settings: AppSettings, conn: Connection
) -> TokenCreated:
    """Issue an operator token; its value is shown in this response only."""
    return await service.create_token(
        conn, settings=settings, name=body.name, created_by=principal.name
    )


@router.get("")
async def list_tokens(_: Operator, conn: Connection) -> list[TokenOut]:
    """Every operator token (never its value)."""
    return await service.list_tokens(conn)


@router.delete("/{uid}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(uid: UUID, _: Operator, conn: Connection) -> Response:
    """Revoke an operator token: it is refused from the next request on."""
    await service.revoke_token(conn, uid=uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
