"""Auth endpoints: sign-in, refresh, the caller; users (admin); operator tokens."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response, status

from bridge_core.auth.tokens import TokenClaims
from bridge_core.db.transaction import Connection
from bridge_core.http.throttle import sign_in_throttle
from syncflow.auth import service
from syncflow.auth.dependencies import (
    Admin,
    AppSettings,
    Operator,
    require_admin,
    verified_refresh_claims,
)
from syncflow.auth.schemas import (
    LoginRequest,
    PrincipalOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    TokenPair,
    UserCreate,
    UserOut,
)

router = APIRouter()


@router.post("/auth/login", tags=["auth"])
async def login(
    request: Request, body: LoginRequest, settings: AppSettings, conn: Connection
) -> TokenPair:
    """Exchange a username and password for an access token and a refresh token
    (429 with Retry-After while the account or the address is locked out)."""
    async with sign_in_throttle(request).sign_in(request, account=body.username):
        return await service.login(
            conn=conn,
            settings=settings,
            username=body.username,
            password=body.password.get_secret_value(),
        )


@router.post("/auth/refresh", tags=["auth"])
async def refresh(
    claims: Annotated[TokenClaims, Depends(verified_refresh_claims)],
    settings: AppSettings,
    conn: Connection,
) -> TokenPair:
    """Exchange a refresh token for a new access token."""
    return await service.refresh(conn=conn, settings=settings, claims=claims)


@router.get("/auth/me", tags=["auth"])
async def me(principal: Operator) -> PrincipalOut:
    """The authenticated caller: a user, an operator token or the admin token, with its role."""
    return PrincipalOut(
        uid=principal.uid, name=principal.name, role=principal.role, kind=principal.kind
    )


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
)
async def create_user(body: UserCreate, conn: Connection) -> UserOut:
    """Create a user with the ``admin``, ``operator`` or ``viewer`` role."""
    return await service.create_user(
        conn=conn,
        username=body.username,
        password=body.password.get_secret_value(),
        role=body.role,
    )


@router.get("/users", tags=["users"])
async def list_users(_: Admin, conn: Connection) -> list[UserOut]:
    """Every user (never a password or its hash)."""
    return await service.list_users(conn=conn)


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
