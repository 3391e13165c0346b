"""Sources: APISmith instances with encrypted tokens; connection tests and API discovery.

A source's token is encrypted at rest with ``settings.encryption_key`` and leaves
SyncFlow only in the ``Authorization`` header of calls to that source's APISmith.
"""

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from loguru import logger
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.crypto import SecretBox
from bridge_core.errors import BadGateway, BridgeError, Conflict, NotFound, Unprocessable
from bridge_core.http.client import ServiceClientError
from bridge_core.ids import new_id
from bridge_core.secrets import mask_url
from syncflow.apismith_client import ApiSmithClient
from syncflow.domain import api_columns
from syncflow.settings import Settings
from syncflow.sources.repository import SourceRepository
from syncflow.sources.schemas import (
    ApiSmithPrincipal,
    DiscoveredApi,
    DiscoveredColumn,
    SourceCreate,
    SourceOut,
    SourceTest,
    SourceUpdate,
)

API_PREFIX = "/api/v1"
# a connection test should answer quickly: one retry, short timeout
TEST_ATTEMPTS = 2
TEST_TIMEOUT_SECONDS = 10.0


def normalized_base_url(raw: str) -> str:
    """APISmith's root URL without a trailing slash, or 422 saying what is wrong with it."""
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL as exc:
        raise Unprocessable("base_url is not a valid URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise Unprocessable("base_url must be an http(s) URL such as http://127.0.0.1:8007")
    if url.userinfo:
        raise Unprocessable("base_url must not carry credentials: pass the APISmith token as token")
    if url.query or url.fragment:
        raise Unprocessable("base_url must not have a query or fragment")
    path = url.path.rstrip("/")
    if path.endswith(API_PREFIX):
        raise Unprocessable(
            f"base_url is APISmith's root URL, without {API_PREFIX} (e.g. http://127.0.0.1:8007)"
        )
    return str(url.copy_with(path=path))


def _token(secret: str) -> str:
    token = secret.strip()
    if not token:
        raise Unprocessable("token must not be empty")
    return token


def _parse_uid(name_or_uid: str) -> UUID | None:
    try:
        return UUID(name_or_uid)
    except ValueError:
        return None


async def find_source(conn: AsyncConnection, *, name_or_uid: str) -> RowMapping | None:
    """A source (with its encrypted token) by uid or by name; ``None`` when unknown."""
    repository = SourceRepository(conn)
    uid = _parse_uid(name_or_uid)
    if uid is not None:
        row = await repository.get_with_token(uid=uid, name=None)
        if row is not None:
            return row
    return await repository.get_with_token(uid=None, name=name_or_uid)


def open_client(
    settings: Settings,
    source: RowMapping,
    *,
    timeout: float | None = None,
    max_attempts: int = 5,
) -> ApiSmithClient:
    """A client for a source row from :func:`find_source` (close it: ``async with``);
    ``timeout`` per call defaults to ``SYNCFLOW_APISMITH_TIMEOUT_SECONDS``."""
    token = SecretBox(settings.encryption_key.get_secret_value()).decrypt(source["token_encrypted"])
    return ApiSmithClient(
        source["base_url"],
        token=token,
        timeout=settings.apismith_timeout_seconds if timeout is None else timeout,
        max_attempts=max_attempts,
    )


async def client_for(
    conn: AsyncConnection, settings: Settings, source_name_or_uid: str
) -> ApiSmithClient:
    """A client for a source by name or uid (404 when unknown); close it with ``async with``."""
    source = await find_source(conn, name_or_uid=source_name_or_uid)
    if source is None:
        raise NotFound(f"source {source_name_or_uid!r} not found")
    return open_client(settings, source)


def gateway_error(source: RowMapping, exc: ServiceClientError) -> BridgeError:
    """A 502 that says whether APISmith refused the token or could not be reached."""
    where = f"APISmith at {mask_url(source['base_url'])} (source {source['name']!r})"
    if exc.status_code in (401, 403):
        return BadGateway(f"{where} refused the source's token: {exc}")
    return BadGateway(f"{where} failed: {exc}")


async def create_source(
    conn: AsyncConnection, *, settings: Settings, body: SourceCreate
) -> SourceOut:
    """Store a source with its token encrypted; 409 when the name is taken."""
    base_url = normalized_base_url(body.base_url)
    box = SecretBox(settings.encryption_key.get_secret_value())
    row = await SourceRepository(conn).insert(
        uid=new_id(),
        name=body.name,
        base_url=base_url,
        token_encrypted=box.encrypt(_token(body.token.get_secret_value())),
        now=datetime.now(UTC),
    )
    if row is None:
        raise Conflict(f"source {body.name!r} already exists")
    logger.info("source {} created ({})", body.name, mask_url(base_url))
    return SourceOut.model_validate(dict(row))


async def list_sources(conn: AsyncConnection) -> list[SourceOut]:
    """Every source, by name (never a token)."""
    return [SourceOut.model_validate(dict(row)) for row in await SourceRepository(conn).list()]


async def get_source(conn: AsyncConnection, *, uid: UUID) -> SourceOut:
    """One source (never its token); 404 when unknown."""
    row = await SourceRepository(conn).get(uid)
    if row is None:
        raise NotFound(f"source {uid} not found")
    return SourceOut.model_validate(dict(row))


async def update_source(
    conn: AsyncConnection, *, settings: Settings, uid: UUID, body: SourceUpdate
) -> SourceOut:
    """Change a source's base URL and/or rotate its token; 404 when unknown."""
    base_url = normalized_base_url(body.base_url) if body.base_url is not None else None
    token_encrypted = None
    if body.token is not None:
        box = SecretBox(settings.encryption_key.get_secret_value())
        token_encrypted = box.encrypt(_token(body.token.get_secret_value()))
    row = await SourceRepository(conn).update(
        uid, base_url=base_url, token_encrypted=token_encrypted, now=datetime.now(UTC)
    )
    if row is None:
        raise NotFound(f"source {uid} not found")
    logger.info("source {} updated", row["name"])
    return SourceOut.model_validate(dict(row))


async def delete_source(conn: AsyncConnection, *, uid: UUID) -> None:
    """Delete a source; 409 while entities read from it, 404 when unknown."""
    repository = SourceRepository(conn)
    row = await repository.get(uid)
    if row is None:
        raise NotFound(f"source {uid} not found")
    users = [entity["name"] for entity in await repository.entity_slugs(uid)]
    if users:
        raise Conflict(f"source {row['name']!r} is used by entities {', '.join(users)}")
    await repository.delete(uid)
    logger.info("source {} deleted", row["name"])


async def _require_source(conn: AsyncConnection, uid: UUID) -> RowMapping:
    row = await SourceRepository(conn).get_with_token(uid=uid, name=None)
    if row is None:
        raise NotFound(f"source {uid} not found")
    return row


async def check_source(conn: AsyncConnection, *, settings: Settings, uid: UUID) -> SourceTest:
    """Reach the source's APISmith and check its token; 502 saying why when that fails."""
    source = await _require_source(conn, uid)
    async with open_client(
        settings, source, timeout=TEST_TIMEOUT_SECONDS, max_attempts=TEST_ATTEMPTS
    ) as client:
        try:
            start = time.perf_counter()
            health = await client.health()
            latency_ms = (time.perf_counter() - start) * 1000
            principal = await client.whoami()
        except ServiceClientError as exc:
            raise gateway_error(source, exc) from exc
    version = health.get("version")
    return SourceTest(
        ok=True,
        latency_ms=round(latency_ms, 2),
        apismith_version=str(version) if version is not None else None,
        principal=ApiSmithPrincipal.model_validate(principal),
    )


def _discovered(api: dict[str, Any], entities: list[str]) -> DiscoveredApi:
    columns = [
        DiscoveredColumn(name=c.name, data_type=c.data_type, nullable=c.nullable)
        for c in api_columns(api.get("columns"))
    ]
    version = api.get("version")
    is_active = api.get("is_active")
    params = api.get("params")
    return DiscoveredApi(
        slug=str(api["slug"]),
        name=api.get("name"),
        description=api.get("description"),
        version=version if isinstance(version, int) else None,
        is_active=is_active if isinstance(is_active, bool) else None,
        columns=columns,
        business_keys=[str(key) for key in api.get("business_keys") or []],
        rowversion_column=api.get("rowversion_column"),
        delta_strategy=api.get("delta_strategy"),
        params=[p for p in params if isinstance(p, dict)] if isinstance(params, list) else [],
        entities=entities,
    )


async def discover(conn: AsyncConnection, *, settings: Settings, uid: UUID) -> list[DiscoveredApi]:
    """The source's APIs with columns, business keys, rowversion column and delta strategy."""
    source = await _require_source(conn, uid)
    used_by: dict[str, list[str]] = {}
    for entity in await SourceRepository(conn).entity_slugs(uid):
        used_by.setdefault(entity["api_slug"], []).append(entity["name"])
    async with open_client(settings, source) as client:
        try:
            apis = await client.list_apis()
            # a listing without column metadata is completed from the slug lookup
            detailed = [
                api if "columns" in api else await client.get_api(str(api["slug"]))
                for api in apis
                if "slug" in api
            ]
        except ServiceClientError as exc:
            raise gateway_error(source, exc) from exc
    return [_discovered(api, used_by.get(str(api["slug"]), [])) for api in detailed]
