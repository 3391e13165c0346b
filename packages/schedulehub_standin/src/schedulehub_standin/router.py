"""ScheduleHub's API (mounted under the configured prefix) and its webhook receiver."""

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from bridge_core.db.transaction import Connection
from bridge_core.errors import Unauthorized, Unprocessable
from bridge_core.http.bearer import bearer_token, unauthorized
from schedulehub_standin import exact_json, records, sent_json, signatures
from schedulehub_standin.exact_json import ExactJSONResponse, ExactJSONRoute
from schedulehub_standin.faults import EXPIRE_TOKEN
from schedulehub_standin.runtime import Runtime, get_runtime
from schedulehub_standin.schemas import (
    BatchResult,
    Delete,
    Insert,
    Login,
    Query,
    QueryResult,
    Refresh,
    Tokens,
    Update,
    WebhookPayload,
    WebhookReceipt,
)

CurrentRuntime = Annotated[Runtime, Depends(get_runtime)]
Entity = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")]
_bearer = HTTPBearer(auto_error=False)


def authenticate(
    request: Request,
    runtime: CurrentRuntime,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The signed-in user; 401 ``token expired`` tells the client to refresh."""
    token = bearer_token(request, credentials)
    if getattr(request.state, EXPIRE_TOKEN, False):
        runtime.tokens.expire(token)
    try:
        return runtime.tokens.check(token)
    except Unauthorized as exc:
        runtime.counters[f"unauthorized_{exc.detail.replace(' ', '_')}"] += 1
        raise unauthorized(exc.detail) from exc


api = APIRouter(tags=["schedulehub"], route_class=ExactJSONRoute)
batch = APIRouter(
    tags=["schedulehub"], dependencies=[Depends(authenticate)], route_class=ExactJSONRoute
)


@api.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok", "service": "schedulehub-standin"}


@api.post("/auth/login")
async def login(body: Login, runtime: CurrentRuntime) -> Tokens:
    """Sign in with the configured user's name and password."""
    settings = runtime.settings
    right = hmac.compare_digest(
        body.password.encode(), settings.password.get_secret_value().encode()
    )
    if body.username != settings.username or not right:
        runtime.counters["sign_ins_refused"] += 1
        raise unauthorized("wrong username or password")
    runtime.counters["sign_ins"] += 1
    return _tokens(runtime, *runtime.tokens.issue(body.username))


@api.post("/auth/refresh")
async def refresh(body: Refresh, runtime: CurrentRuntime) -> Tokens:
    """A new access token for a refresh token."""
    try:
        pair = runtime.tokens.refresh(body.refresh_token)
    except Unauthorized as exc:
        runtime.counters["refreshes_refused"] += 1
        raise unauthorized(exc.detail) from exc
    runtime.counters["refreshes"] += 1
    return _tokens(runtime, *pair)


def _tokens(runtime: Runtime, access: str, refresh_token: str) -> Tokens:
    return Tokens(
        access_token=access, refresh_token=refresh_token, expires_in=runtime.tokens.access_seconds
    )


# records, and the records failures echo, are answered digit for digit (exact_json)


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a call whose handler reads the body itself."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# query and insert read their bodies themselves (sent_json): a body model would have
# Python parse and validate each of thousands of records


@batch.post(
    "/{entity}/batch/query", response_model=QueryResult, openapi_extra=_documented_body(Query)
)
async def batch_query(
    entity: Entity, request: Request, conn: Connection, runtime: CurrentRuntime
) -> ExactJSONResponse:
    """The live records held for these keys, each with its uid."""
    found = await sent_json.query_records(
        conn, entity=entity, body=await request.body(), runtime=runtime
    )
    return ExactJSONResponse({"records": found})


@batch.post(
    "/{entity}/batch/insert", response_model=BatchResult, openapi_extra=_documented_body(Insert)
)
async def batch_insert(
    entity: Entity, request: Request, conn: Connection, runtime: CurrentRuntime
) -> ExactJSONResponse:
    """Insert records; a key held already is a per-record failure."""
    result = await sent_json.insert_records(
        conn, entity=entity, body=await request.body(), runtime=runtime
    )
    return ExactJSONResponse(result)


@batch.post("/{entity}/batch/update", response_model=BatchResult)
async def batch_update(
    entity: Entity, body: Update, conn: Connection, runtime: CurrentRuntime
) -> ExactJSONResponse:
    """Replace held records by uid; an unknown or deleted uid is a per-record failure."""
    result = await records.update_records(
        conn, entity=entity, updates=body.updates, runtime=runtime
    )
    return ExactJSONResponse(result.model_dump())


@batch.post("/{entity}/batch/delete", response_model=BatchResult)
async def batch_delete(
    entity: Entity, body: Delete, conn: Connection, runtime: CurrentRuntime
) -> ExactJSONResponse:
    """Soft-delete held records by uid; an unknown or deleted uid is a per-record failure."""
    result = await records.delete_records(conn, entity=entity, uids=body.uids, runtime=runtime)
    return ExactJSONResponse(result.model_dump())


api.include_router(batch)

webhooks = APIRouter(tags=["webhooks"])


@webhooks.post("/webhooks/{entity}")
async def receive_webhook(
    entity: Entity, request: Request, conn: Connection, runtime: CurrentRuntime
) -> WebhookReceipt:
    """A Standard Webhooks delivery of change events, verified, applied once per webhook-id."""
    body = await request.body()
    try:
        webhook_id = signatures.verify(
            request.headers,
            body,
            secrets=runtime.webhook_secrets,
            tolerance_seconds=runtime.settings.webhook_tolerance_seconds,
        )
    except Unauthorized:
        runtime.counters["webhooks_bad_signature"] += 1
        raise
    try:
        payload = WebhookPayload.model_validate(exact_json.loads(body))
    except ValueError as exc:
        raise Unprocessable(f"not a webhook of change events: {exc}") from exc
    return await records.apply_webhook(
        conn, entity=entity, webhook_id=webhook_id, events=payload.data.events, runtime=runtime
    )
