"""Operator authentication: admin token, operator tokens, revocation, open endpoints."""

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from bridge_core.testing.asgi import app_client
from syncflow.auth.security import issue_operator_token
from syncflow.main import build_app

PROTECTED = "/api/v1/tokens"


async def test_admin_token_is_accepted(syncflow_client, admin_headers):
    response = await syncflow_client.get(PROTECTED, headers=admin_headers)
    assert response.status_code == 200


async def test_operator_token_is_accepted(syncflow_client, operator_headers):
    response = await syncflow_client.get(PROTECTED, headers=operator_headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "malformed authorization header"),
        ({"Authorization": "Bearer not-a-token"}, "invalid token"),
        ({"Authorization": "Bearer test-admin-token-012345678"}, "invalid token"),
    ],
)
async def test_requests_without_a_valid_token_get_401(syncflow_client, headers, detail):
    response = await syncflow_client.get(PROTECTED, headers=headers)
    assert response.status_code == 401
    assert detail in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_token_with_a_forged_mac_is_invalid(syncflow_client, operator_token):
    forged = operator_token[:-4] + ("AAAA" if not operator_token.endswith("AAAA") else "BBBB")
    response = await syncflow_client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid token"


async def test_signed_token_that_was_never_stored_is_unknown(syncflow_client, syncflow_settings):
    from bridge_core.ids import new_id

    token = issue_operator_token(
        secret_key=syncflow_settings.secret_key.get_secret_value(), uid=new_id()
    )
    response = await syncflow_client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown token"


async def test_create_list_and_revoke_tokens(syncflow_client, admin_headers):
    created = await syncflow_client.post(
        PROTECTED, json={"name": "ops-alice"}, headers=admin_headers
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"uid", "name", "token"}
    assert body["token"].startswith("sf_")
    token_headers = {"Authorization": f"Bearer {body['token']}"}

    listed = await syncflow_client.get(PROTECTED, headers=token_headers)
    assert listed.status_code == 200
    mine = next(t for t in listed.json() if t["uid"] == body["uid"])
    assert mine == {
        "uid": body["uid"],
        "name": "ops-alice",
        "created_at": mine["created_at"],
        "revoked_at": None,
    }
    assert body["token"] not in listed.text

    revoked = await syncflow_client.delete(f"{PROTECTED}/{body['uid']}", headers=admin_headers)
    assert revoked.status_code == 204
    refused = await syncflow_client.get(PROTECTED, headers=token_headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "token revoked"


async def test_revoking_an_unknown_token_is_404(syncflow_client, admin_headers):
    response = await syncflow_client.delete(
        f"{PROTECTED}/01890a5d-ac96-774b-bcce-b302099a8057", headers=admin_headers
    )
    assert response.status_code == 404


async def test_token_name_is_required(syncflow_client, admin_headers):
    response = await syncflow_client.post(PROTECTED, json={"name": ""}, headers=admin_headers)
    assert response.status_code == 422


async def test_changing_the_secret_key_invalidates_tokens(syncflow_settings, operator_token):
    settings = syncflow_settings.model_copy(
        update={"secret_key": SecretStr("another-secret-key-value")}
    )
    async with app_client(build_app(settings)) as client:
        response = await client.get(
            PROTECTED, headers={"Authorization": f"Bearer {operator_token}"}
        )
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/metadata", "/metrics"])
async def test_health_metadata_and_metrics_stay_open(syncflow_client, path):
    assert (await syncflow_client.get(path)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/tokens", "/api/v1/sources", "/api/v1/entities", "/api/v1/entities/x"]
)
async def test_every_other_endpoint_needs_a_token(syncflow_client, path):
    assert (await syncflow_client.get(path)).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/api/v1/entities", {}),
        ("GET", "/api/v1/sources", {"Authorization": "Bearer garbage"}),
        ("POST", "/api/v1/entities", {"Authorization": "Bearer sf_0123.abc.def"}),
        ("POST", "/api/v1/tokens", {}),
    ],
)
async def test_401_comes_before_any_database_connection(syncflow_settings, method, path, headers):
    app = build_app(syncflow_settings)
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.request(method, path, headers=headers, json={})
    assert response.status_code == 401


async def test_a_stored_token_cannot_be_checked_without_the_database(
    syncflow_settings, operator_token
):
    app = build_app(syncflow_settings)
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.get(
            PROTECTED, headers={"Authorization": f"Bearer {operator_token}"}
        )
    assert response.status_code == 503
    assert "cannot be checked" in response.json()["detail"]
