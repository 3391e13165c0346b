"""Service tokens: issued once, stored hashed, usable as bearer tokens, revocable."""

import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from apismith.auth.security import issue_service_token
from apismith.tables import service_tokens

TOKENS = "/api/v1/auth/tokens"
ME = "/api/v1/auth/me"


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def _create(client, headers, role="reader"):
    name = f"syncflow-{uuid.uuid4().hex[:8]}"
    response = await client.post(TOKENS, json={"name": name, "role": role}, headers=headers)
    assert response.status_code == 201
    return response.json()


async def test_service_token_is_shown_once_and_authenticates(apismith_client, admin_headers):
    created = await _create(apismith_client, admin_headers, role="reader")

    assert set(created) == {"uid", "name", "role", "token"}
    me = await apismith_client.get(ME, headers=_bearer(created["token"]))
    assert me.status_code == 200
    assert me.json() == {
        "uid": created["uid"],
        "name": created["name"],
        "role": "reader",
        "kind": "token",
    }
    listing = await apismith_client.get(TOKENS, headers=admin_headers)
    assert listing.status_code == 200
    assert created["token"] not in listing.text
    listed = next(item for item in listing.json() if item["uid"] == created["uid"])
    assert listed["revoked_at"] is None
    assert listed["last_used_at"] is not None
    assert "token" not in listed
    assert "token_hash" not in listed


async def test_reader_service_token_cannot_use_admin_endpoints(apismith_client, admin_headers):
    created = await _create(apismith_client, admin_headers, role="reader")

    response = await apismith_client.get("/api/v1/users", headers=_bearer(created["token"]))

    assert response.status_code == 403
    assert response.json() == {"detail": "admin role required"}


async def test_admin_service_token_can_issue_tokens(apismith_client, admin_headers):
    admin_token = await _create(apismith_client, admin_headers, role="admin")

    created = await _create(apismith_client, _bearer(admin_token["token"]), role="reader")

    assert (await apismith_client.get(ME, headers=_bearer(created["token"]))).status_code == 200


async def test_revoked_token_is_401(apismith_client, admin_headers):
    created = await _create(apismith_client, admin_headers)
    assert (await apismith_client.get(ME, headers=_bearer(created["token"]))).status_code == 200

    revoked = await apismith_client.delete(f"{TOKENS}/{created['uid']}", headers=admin_headers)

    assert revoked.status_code == 204
    response = await apismith_client.get(ME, headers=_bearer(created["token"]))
    assert response.status_code == 401
    assert response.json() == {"detail": "token revoked"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    again = await apismith_client.delete(f"{TOKENS}/{created['uid']}", headers=admin_headers)
    assert again.status_code == 204


async def test_revoking_an_unknown_token_is_404(apismith_client, admin_headers):
    uid = uuid.uuid4()
    response = await apismith_client.delete(f"{TOKENS}/{uid}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json() == {"detail": f"service token {uid} not found"}


async def test_validly_signed_token_that_was_never_stored_is_401(
    apismith_client, apismith_settings
):
    token = issue_service_token(
        settings=apismith_settings, token_uid=uuid.uuid4(), name="phantom", role="admin"
    )
    response = await apismith_client.get(ME, headers=_bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "unknown service token"}


async def test_token_value_is_stored_only_as_its_sha256(
    apismith_client, admin_headers, apismith_database_url
):
    created = await _create(apismith_client, admin_headers)

    engine = create_async_engine(apismith_database_url)
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(service_tokens).where(service_tokens.c.uid == uuid.UUID(created["uid"]))
                )
            )
            .mappings()
            .one()
        )
    await engine.dispose()
    stored = " ".join(str(value) for value in row.values())
    assert created["token"] not in stored
    assert row["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
