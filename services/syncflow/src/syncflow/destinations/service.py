"""Destinations: where changed rows are delivered, with credentials encrypted at rest.

A destination is a ScheduleHub instance (its batch API under ``api_prefix``, logged
into with a username and password or a token) or a webhook endpoint that receives
event batches signed with Standard Webhooks headers (every secret in ``secrets``
signs, so a secret can be rotated without a gap). The password, token and secrets
are kept together as one encrypted JSON document and never leave SyncFlow except
towards the destination itself. A paused destination records why (an operator's
reason, or the destination's own 410 Gone) until it is resumed.
"""

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from loguru import logger
from pydantic import BaseModel
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.crypto import SecretBox
from bridge_core.errors import Conflict, NotFound, Unprocessable
from bridge_core.ids import new_id
from bridge_core.secrets import mask_url
from syncflow.destinations.repository import DestinationRepository
from syncflow.destinations.schemas import (
    SETTING_FIELDS,
    DestinationCreate,
    DestinationOut,
    DestinationPage,
    DestinationUpdate,
)
from syncflow.settings import Settings

WEBHOOK_SECRET_PREFIX = "whsec_"
# Standard Webhooks: a secret is 24 to 64 random bytes, base64 encoded after the prefix
WEBHOOK_SECRET_BYTES = range(24, 65)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class DestinationCredentials(BaseModel):
    """The encrypted part of a destination (never returned by the API)."""

    password: str | None = None
    token: str | None = None
    secrets: list[str] = []


def _box(settings: Settings) -> SecretBox:
    return SecretBox(settings.encryption_key.get_secret_value())


def _decrypt(settings: Settings, row: RowMapping) -> DestinationCredentials:
    plain = _box(settings).decrypt(row["credentials_encrypted"])
    return DestinationCredentials.model_validate_json(plain)


def credentials(settings: Settings, row: RowMapping) -> DestinationCredentials:
    """A destination's decrypted credentials, for the delivery worker's requests only."""
    return _decrypt(settings, row)


def _out(settings: Settings, row: RowMapping) -> DestinationOut:
    credentials = _decrypt(settings, row)
    return DestinationOut(
        uid=row["uid"],
        name=row["name"],
        kind=row["kind"],
        url=row["url"],
        entities=row["entities"],
        api_prefix=row["api_prefix"],
        entity_paths=row["entity_paths"],
        username=row["username"],
        has_password=credentials.password is not None,
        has_token=credentials.token is not None,
        secret_count=len(credentials.secrets),
        batch_size=row["batch_size"],
        timeout_s=row["timeout_s"],
        enabled=row["enabled"],
        paused=row["paused_at"] is not None,
        paused_at=row["paused_at"],
        pause_reason=row["pause_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def normalized_url(raw: str, *, kind: str) -> str:
    """The destination's URL without a trailing slash, or 422 saying what is wrong with it."""
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL as exc:
        raise Unprocessable("url is not a valid URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise Unprocessable("url must be an http(s) URL such as https://schedulehub.example")
    if url.userinfo:
        raise Unprocessable("url must not carry credentials: pass them as username/password")
    if url.fragment:
        raise Unprocessable("url must not have a fragment")
    if kind == "schedulehub" and url.query:
        raise Unprocessable("url is ScheduleHub's root URL and must not have a query")
    if kind == "webhook" and url.scheme != "https" and url.host not in LOOPBACK_HOSTS:
        raise Unprocessable("a webhook url must be https (plain http only on 127.0.0.1)")
    return str(url.copy_with(path=url.path.rstrip("/")))


def normalized_api_prefix(raw: str) -> str:
    """``/api/v1`` style: a leading slash, no trailing slash; empty for the root."""
    prefix = raw.strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise Unprocessable("api_prefix must start with '/', e.g. /api/v1")
    if "?" in prefix or "#" in prefix or " " in prefix:
        raise Unprocessable("api_prefix must be a plain path such as /api/v1")
    return prefix


def _checked_webhook_secret(secret: str, position: int) -> str:
    value = secret.strip()
    if not value.startswith(WEBHOOK_SECRET_PREFIX):
        raise Unprocessable(f"secrets[{position}] must start with {WEBHOOK_SECRET_PREFIX!r}")
    try:
        raw = base64.b64decode(value.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise Unprocessable(
            f"secrets[{position}] is not base64 after {WEBHOOK_SECRET_PREFIX!r}"
        ) from exc
    if len(raw) not in WEBHOOK_SECRET_BYTES:
        raise Unprocessable(f"secrets[{position}] must decode to 24 to 64 bytes")
    return value


def _checked_credentials(
    kind: str, username: str | None, credentials: DestinationCredentials
) -> DestinationCredentials:
    """The credentials a destination of ``kind`` needs, or 422 naming what is missing."""
    if kind == "schedulehub":
        if credentials.secrets:
            raise Unprocessable("secrets are for webhooks; ScheduleHub takes username/password")
        if credentials.token is None and (username is None or credentials.password is None):
            raise Unprocessable("a schedulehub destination needs username and password, or token")
        if credentials.password is not None and username is None:
            raise Unprocessable("password given without username")
        for name, value in (("password", credentials.password), ("token", credentials.token)):
            if value is not None and not value.strip():
                raise Unprocessable(f"{name} must not be empty")
        return credentials
    if username is not None or credentials.password is not None or credentials.token is not None:
        raise Unprocessable("a webhook destination is signed with secrets, not username/password")
    if not credentials.secrets:
        raise Unprocessable("a webhook destination needs at least one secret ('whsec_...')")
    return DestinationCredentials(
        secrets=[_checked_webhook_secret(s, i) for i, s in enumerate(credentials.secrets)]
    )


async def _checked_entities(
    repository: DestinationRepository, entities: list[str], entity_paths: dict[str, str]
) -> None:
    """422 naming entities that are not defined, or paths for entities not delivered."""
    if len(set(entities)) != len(entities):
        raise Unprocessable("entities lists an entity twice")
    named = set(entities) | set(entity_paths)
    unknown = sorted(named - await repository.known_entities(sorted(named)))
    if unknown:
        raise Unprocessable(f"unknown entities: {', '.join(unknown)}")
    if entities:
        stray = sorted(set(entity_paths) - set(entities))
        if stray:
            raise Unprocessable(f"entity_paths names entities not delivered: {', '.join(stray)}")


async def _checked_values(
    repository: DestinationRepository,
    settings: Settings,
    config: dict[str, Any],
    credentials: DestinationCredentials,
) -> dict[str, Any]:
    """Column values for a whole destination configuration, each part checked."""
    kind = config["kind"]
    if kind == "webhook" and config["entity_paths"]:
        raise Unprocessable("entity_paths are for schedulehub destinations")
    await _checked_entities(repository, config["entities"], config["entity_paths"])
    checked = _checked_credentials(kind, config["username"], credentials)
    return {
        **config,
        "url": normalized_url(config["url"], kind=kind),
        "api_prefix": normalized_api_prefix(config["api_prefix"]) if kind == "schedulehub" else "",
        "credentials_encrypted": _box(settings).encrypt(checked.model_dump_json()),
    }


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


async def create_destination(
    conn: AsyncConnection, *, settings: Settings, body: DestinationCreate
) -> DestinationOut:
    """Store a destination with its credentials encrypted; 409 when the name is taken."""
    repository = DestinationRepository(conn)
    config = body.model_dump(exclude={"password", "token", "secrets"})
    credentials = DestinationCredentials(
        password=_secret(body.password),
        token=_secret(body.token),
        secrets=[s.get_secret_value() for s in body.secrets],
    )
    values = await _checked_values(repository, settings, config, credentials)
    now = datetime.now(UTC)
    row = await repository.insert(
        {**values, "uid": new_id(), "paused_at": None, "created_at": now, "updated_at": now}
    )
    if row is None:
        raise Conflict(f"destination {body.name!r} already exists")
    logger.info("destination {} ({}) created for {}", body.name, body.kind, mask_url(row["url"]))
    return _out(settings, row)


async def list_destinations(
    conn: AsyncConnection,
    *,
    settings: Settings,
    kind: str | None = None,
    paused: bool | None = None,
    page: int = 1,
    page_size: int = 50,
) -> DestinationPage:
    """One page of destinations by name (never a credential)."""
    rows, total = await DestinationRepository(conn).page(
        kind=kind, paused=paused, offset=(page - 1) * page_size, limit=page_size
    )
    return DestinationPage(
        items=[_out(settings, row) for row in rows], total=total, page=page, page_size=page_size
    )


async def _require(repository: DestinationRepository, uid: UUID) -> RowMapping:
    row = await repository.get(uid)
    if row is None:
        raise NotFound(f"destination {uid} not found")
    return row


async def find_destination(conn: AsyncConnection, *, name_or_uid: str) -> RowMapping:
    """A destination row by uid or by name; 404 when unknown."""
    repository = DestinationRepository(conn)
    try:
        row = await repository.get(UUID(name_or_uid))
    except ValueError:
        row = None
    row = row or await repository.get_by_name(name_or_uid)
    if row is None:
        raise NotFound(f"destination {name_or_uid!r} not found")
    return row


async def get_destination(
    conn: AsyncConnection, *, settings: Settings, uid: UUID
) -> DestinationOut:
    """One destination (never its credentials); 404 when unknown."""
    return _out(settings, await _require(DestinationRepository(conn), uid))


async def update_destination(
    conn: AsyncConnection, *, settings: Settings, uid: UUID, body: DestinationUpdate
) -> DestinationOut:
    """Change a destination's settings or rotate its credentials; 404 when unknown.

    The result is checked as a whole, so a change that leaves the destination
    without what its kind needs is refused with 422.
    """
    repository = DestinationRepository(conn)
    row = await _require(repository, uid)
    given = body.model_dump(exclude_unset=True)
    config = {name: given.get(name, row[name]) for name in (*SETTING_FIELDS, "enabled")}
    current = _decrypt(settings, row)
    credentials = DestinationCredentials(
        password=_secret(body.password) if "password" in given else current.password,
        token=_secret(body.token) if "token" in given else current.token,
        secrets=(
            [s.get_secret_value() for s in body.secrets or []]
            if "secrets" in given
            else current.secrets
        ),
    )
    values = await _checked_values(repository, settings, config, credentials)
    updated = await repository.update(uid, {**values, "updated_at": datetime.now(UTC)})
    if updated is None:
        raise NotFound(f"destination {uid} not found")
    logger.info("destination {} updated ({})", row["name"], ", ".join(sorted(given)) or "nothing")
    return _out(settings, updated)


async def delete_destination(conn: AsyncConnection, *, uid: UUID) -> None:
    """Delete a destination; 404 when unknown."""
    if not await DestinationRepository(conn).delete(uid):
        raise NotFound(f"destination {uid} not found")
    logger.info("destination {} deleted", uid)


async def pause_destination(
    conn: AsyncConnection, *, settings: Settings, uid: UUID, reason: str
) -> DestinationOut:
    """Stop delivering to a destination, with the reason shown; pausing again updates it."""
    repository = DestinationRepository(conn)
    row = await _require(repository, uid)
    now = datetime.now(UTC)
    updated = await repository.update(
        uid,
        {"paused_at": row["paused_at"] or now, "pause_reason": reason, "updated_at": now},
    )
    if updated is None:
        raise NotFound(f"destination {uid} not found")
    logger.warning("destination {} paused: {}", row["name"], reason)
    return _out(settings, updated)


async def resume_destination(
    conn: AsyncConnection, *, settings: Settings, uid: UUID
) -> DestinationOut:
    """Clear a destination's pause and its reason; resuming one not paused changes nothing."""
    repository = DestinationRepository(conn)
    row = await _require(repository, uid)
    updated = await repository.update(
        uid, {"paused_at": None, "pause_reason": None, "updated_at": datetime.now(UTC)}
    )
    if updated is None:
        raise NotFound(f"destination {uid} not found")
    if row["paused_at"] is not None:
        logger.info("destination {} resumed", row["name"])
    return _out(settings, updated)
