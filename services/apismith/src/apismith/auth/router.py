"""Auth endpoints: login, refresh, users (admin) and the caller from
``bridge_core.auth.users``; service tokens (admin)."""

import uuid

from fastapi import APIRouter, BackgroundTasks, Depends, Response, status

from apismith.auth import service
from apismith.auth.dependencies import (
    Admin,
    AppSettings,
    get_settings,
    require_admin,
    require_reader,
)
from apismith.auth.schemas import (
    PrincipalOut,
    ServiceTokenCreate,
    ServiceTokenCreated,
    ServiceTokenOut,
    UserCreate,
    UserOut,
)
from apismith.auth.security import ROLES
from apismith.auth.token_cache import Tokens
from apismith.tables import users
from bridge_core.auth.users.router import users_router
from bridge_core.db.transaction import Connection

router = APIRouter()
router.include_router(
    users_router(
        table=users,
        roles=ROLES,
        user_create=UserCreate,
        user_out=UserOut,
        get_settings=get_settings,
        require_admin=require_admin,
        caller=require_reader,
        caller_out=PrincipalOut,
        caller_description="The authenticated caller: a user or a service token, with its role.",
    )
)


@router.post("/auth/tokens", tags=["auth"], status_code=status.HTTP_201_CREATED)
async def create_service_token(
    body: ServiceTokenCreate, principal: Admin, settings: AppSettings, conn: Connection
) -> ServiceTokenCreated:
    """Issue a long-lived service token; its value is shown in this response only."""
    return await service.create_service_token(
        conn=conn, settings=settings, name=body.name, role=body.role, created_by=principal
    )


@router.get("/auth/tokens", tags=["auth"], dependencies=[Depends(require_admin)])
async def list_service_tokens(conn: Connection) -> list[ServiceTokenOut]:
    """Every service token (never its value)."""
    return await service.list_service_tokens(conn=conn)


@router.delete(
    "/auth/tokens/{uid}",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require_admin)],
)
async def revoke_service_token(
    uid: uuid.UUID, conn: Connection, tokens: Tokens, after: BackgroundTasks
) -> Response:
    """Revoke a service token: this server process refuses it from the next request on,
    other processes of this service within 10 seconds."""
    await service.revoke_service_token(conn=conn, uid=uid)
    # after the commit: a request in between must not cache the token as good again
    after.add_task(tokens.clear)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
