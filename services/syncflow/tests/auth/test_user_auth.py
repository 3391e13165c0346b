"""Users and roles: sign-in, refresh, me, the admin-only user endpoints, a read-only viewer."""

import uuid

from pydantic import SecretStr

from bridge_core.testing.asgi import app_client
from syncflow.main import build_app

PASSWORD = "correct-horse-battery"


async def _create_user(client, admin_headers, role):
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    response = await client.post(
        "/api/v1/users",
        json={"username": username, "password": PASSWORD, "role": role},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return username


async def _login(client, username, password=PASSWORD):
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def test_user_signs_in_refreshes_and_sees_itself(syncflow_client, admin_headers):
    username = await _create_user(syncflow_client, admin_headers, "operator")
    tokens = (await _login(syncflow_client, username)).json()
    me = await syncflow_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json() | {"uid": None} == {
        "uid": None,
        "name": username,
        "role": "operator",
        "kind": "user",
    }
    refreshed = await syncflow_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    as_bearer = await syncflow_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert as_bearer.status_code == 401
    assert "refresh token" in as_bearer.json()["detail"]


async def test_failed_sign_in_does_not_say_which_half_was_wrong(syncflow_client, admin_headers):
    username = await _create_user(syncflow_client, admin_headers, "viewer")
    wrong_password = await _login(syncflow_client, username, "not-the-password")
    unknown_user = await _login(syncflow_client, "nobody-" + username)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert (
        wrong_password.json() == unknown_user.json() == {"detail": "invalid username or password"}
    )


async def test_viewer_reads_but_changes_nothing(syncflow_client, admin_headers):
    username = await _create_user(syncflow_client, admin_headers, "viewer")
    access = (await _login(syncflow_client, username)).json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert (await syncflow_client.get("/api/v1/sync/history", headers=headers)).status_code == 200
    refused = await syncflow_client.post(
        "/api/v1/sync/start", json={"entity": "anything"}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json() == {"detail": "the viewer role can only read"}


async def test_only_an_admin_manages_users(syncflow_client, admin_headers, operator_headers):
    listed = await syncflow_client.get("/api/v1/users", headers=operator_headers)
    assert listed.status_code == 403
    username = await _create_user(syncflow_client, admin_headers, "operator")
    access = (await _login(syncflow_client, username)).json()["access_token"]
    created = await syncflow_client.post(
        "/api/v1/users",
        json={"username": "x" + username, "password": PASSWORD, "role": "admin"},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert created.status_code == 403


async def test_first_admin_comes_from_settings(syncflow_settings, create_database):
    empty = (await create_database("syncflow_first_admin")).render_as_string(hide_password=False)
    settings = syncflow_settings.model_copy(
        update={
            "database_url": empty,
            "admin_username": "first-admin",
            "admin_password": SecretStr(PASSWORD),
        }
    )
    async with app_client(build_app(settings, run_worker=False)) as client:
        first = await _login(client, "first-admin")
    # a second start with another name creates nobody: users exist already
    settings = settings.model_copy(update={"admin_username": "second-admin"})
    async with app_client(build_app(settings, run_worker=False)) as client:
        second = await _login(client, "second-admin")
    assert (first.status_code, second.status_code) == (200, 401)
