"""The console's session and CSRF rules, over HTTP in-process (no browser needed)."""

import re
import uuid

import pytest

PASSWORD = "console-password-1"


@pytest.fixture
async def console_user(syncflow_client, admin_headers):
    async def create(role):
        username = f"c-{role}-{uuid.uuid4().hex[:8]}"
        response = await syncflow_client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role},
            headers=admin_headers,
        )
        assert response.status_code == 201
        return username

    return create


async def _login_form(client):
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1)


async def test_root_redirects_to_the_console_and_the_console_to_sign_in(syncflow_client):
    root = await syncflow_client.get("/")
    assert (root.status_code, root.headers["location"]) == (307, "/console")
    console = await syncflow_client.get("/console")
    assert console.status_code == 303
    assert console.headers["location"].startswith("/console/login")


async def test_sign_in_sets_an_httponly_samesite_session_cookie(syncflow_client, console_user):
    username = await console_user("operator")
    csrf = await _login_form(syncflow_client)
    response = await syncflow_client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("bridge_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    overview = await syncflow_client.get("/console")
    assert overview.status_code == 200
    assert username in overview.text


async def test_a_form_post_without_the_csrf_token_is_refused(syncflow_client, console_user):
    username = await console_user("operator")
    await _login_form(syncflow_client)
    refused = await syncflow_client.post(
        "/console/login", data={"username": username, "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    forged = await syncflow_client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 403


async def test_failed_sign_in_does_not_say_which_half(syncflow_client, console_user):
    username = await console_user("viewer")
    csrf = await _login_form(syncflow_client)
    bad_password = await syncflow_client.post(
        "/console/login", data={"username": username, "password": "nope", "csrf_token": csrf}
    )
    bad_user = await syncflow_client.post(
        "/console/login",
        data={"username": "x" + username, "password": PASSWORD, "csrf_token": csrf},
    )
    assert bad_password.status_code == bad_user.status_code == 401
    assert "username or password is not right" in bad_password.text
    assert "bridge_session" not in bad_password.headers.get("set-cookie", "")


async def test_a_viewer_cannot_post_changes(syncflow_client, console_user):
    username = await console_user("viewer")
    csrf = await _login_form(syncflow_client)
    await syncflow_client.post(
        "/console/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
    )
    overview = await syncflow_client.get("/console")
    assert "Sync now" not in overview.text
    refused = await syncflow_client.post(
        "/console/sync", data={"entity": "anything", "csrf_token": csrf}
    )
    assert refused.status_code == 403
