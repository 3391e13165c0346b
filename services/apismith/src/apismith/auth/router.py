"""Auth endpoints: login, refresh, the caller, service tokens (admin) and users (admin)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from apismith.auth import service
from apismith.auth.dependencies import (
    Admin,
    AppSettings,
    Reader,
    require_admin,
    verified_refresh_claims,
)
from apismith.auth.schemas import (
    LoginRequest,
    PrincipalOut,
    ServiceTokenCreate,
    ServiceTokenCreated,
    ServiceTokenOut,
    TokenPair,
    UserCreate,
    UserOut,
)
from apismith.auth.security import TokenClaims
from apismith.auth.token_cache import Tokens
from bridge_core.db.transaction import Connection
from bridge_core.http.throttle import sign_in_throttle

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
async def me(principal: Reader) -> PrincipalOut:
    """The authenticated caller: a user or a service token, with its role."""
    return PrincipalOut(
        uid=principal.uid, name=principal.name, role=principal.role, kind=principal.kind
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


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
)
async def create_user(body: UserCreate, conn: Connection) -> UserOut:
    """Create a user with the ``admin`` or ``reader`` role."""
    return await service.create_user(
        conn=conn,
        username=body.username,
        password=body.password.get_secret_value(),
        role=body.role,
    )


@router.get("/users", tags=["users"], dependencies=[Depends(require_admin)])
async def list_users(conn: Connection) -> list[UserOut]:
    """Every user (never a password or its hash)."""
    return await service.list_users(conn=conn)
