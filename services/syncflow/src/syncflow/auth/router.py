"""Auth endpoints: sign-in, refresh, users (admin) and the caller from
``bridge_core.auth.users``; operator tokens."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from bridge_core.auth.users.router import users_router
from bridge_core.db.transaction import Connection
from syncflow.auth import service
from syncflow.auth.dependencies import (
    ROLES,
    AppSettings,
    Operator,
    get_settings,
    require_admin,
    require_change_rights,
)
from syncflow.auth.schemas import (
    PrincipalOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)
from syncflow.tables import users

router = APIRouter()
router.include_router(
    users_router(
        table=users,
        roles=ROLES,
        user_create=UserCreate,
        user_out=UserOut,
        get_settings=get_settings,
        require_admin=require_admin,
        caller=require_change_rights,
        caller_out=PrincipalOut,
        caller_description=(
            "The authenticated caller: a user, an operator token or the admin token, with its role."
        ),
    )
)


@router.post("/tokens", tags=["auth"], status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenCreate, principal: Operator, settings: AppSettings, conn: Connection
) -> TokenCreated:
    """Issue an operator token; its value is shown in this response only."""
    return await service.create_token(
        conn, settings=settings, name=body.name, created_by=principal.name
    )


@router.get("/tokens", tags=["auth"])
async def list_tokens(_: Operator, conn: Connection) -> list[TokenOut]:
    """Every operator token (never its value)."""
    return await service.list_tokens(conn)


@router.delete("/tokens/{uid}", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(uid: UUID, _: Operator, conn: Connection) -> Response:
    """Revoke an operator token: it is refused from the next request on."""
    await service.revoke_token(conn, uid=uid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
