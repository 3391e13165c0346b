"""Login, refresh and user management as a client sees them."""

import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from apismith.tables import users
from bridge_core.testing.errors import error_message

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


async def _login(client, username, password):
    return await client.post(LOGIN, json={"username": username, "password": password})


async def test_login_returns_tokens_that_authenticate(apismith_client, create_apismith_user):
    user = await create_apismith_user("reader")

    response = await _login(apismith_client, user.username, user.password)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    me = await apismith_client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "uid": str(user.uid),
        "name": user.username,
        "role": "reader",
        "kind": "user",
    }


async def test_wrong_password_and_unknown_user_get_the_same_401(
    apismith_client, create_apismith_user
):
    user = await create_apismith_user("reader")

    wrong_password = await _login(apismith_client, user.username, "not-the-password")
    unknown_user = await _login(apismith_client, f"ghost-{uuid.uuid4().hex}", user.password)

    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json() == {"detail": "invalid username or password"}


async def test_unknown_user_takes_as_long_as_a_wrong_password(
    apismith_client, create_apismith_user
):
    # without the decoy hash check an unknown user answers ~50x faster than a wrong password
    user = await create_apismith_user("reader")

    async def timed(username):
        start = time.perf_counter()
        await _login(apismith_client, username, "not-the-password")
        return time.perf_counter() - start

    wrong_password = sorted([await timed(user.username) for _ in range(3)])[1]
    unknown_user = sorted([await timed(f"ghost-{uuid.uuid4().hex}") for _ in range(3)])[1]
    assert unknown_user > wrong_password * 0.3


async def test_refresh_gives_a_working_access_token(apismith_client, create_apismith_user):
    user = await create_apismith_user("admin")
    tokens = (await _login(apismith_client, user.username, user.password)).json()

    response = await apismith_client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    me = await apismith_client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["name"] == user.username
    assert me.json()["role"] == "admin"
    again = await apismith_client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200


async def test_access_token_is_refused_as_refresh_token(apismith_client, create_apismith_user):
    user = await create_apismith_user("reader")
    tokens = (await _login(apismith_client, user.username, user.password)).json()

    response = await apismith_client.post(REFRESH, json={"refresh_token": tokens["access_token"]})

    assert response.status_code == 401
    assert response.json() == {"detail": "not a refresh token"}


async def test_garbage_refresh_token_is_401(apismith_client):
    response = await apismith_client.post(REFRESH, json={"refresh_token": "not.a.jwt"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid token"}


async def test_admin_creates_a_user_who_can_log_in(apismith_client, admin_headers):
    username = f"planner-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": "correct horse battery", "role": "reader"}

    created = await apismith_client.post("/api/v1/users", json=body, headers=admin_headers)

    assert created.status_code == 201
    assert created.json()["username"] == username
    assert created.json()["role"] == "reader"
    assert (await _login(apismith_client, username, "correct horse battery")).status_code == 200
    duplicate = await apismith_client.post("/api/v1/users", json=body, headers=admin_headers)
    assert duplicate.status_code == 409
    assert username in error_message(duplicate)


async def test_short_password_is_refused_without_echoing_it(apismith_client, admin_headers):
    body = {"username": f"u-{uuid.uuid4().hex[:8]}", "password": "s3cr3t", "role": "reader"}

    response = await apismith_client.post("/api/v1/users", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert error_message(response) == "password must be at least 8 characters"


async def test_user_listing_never_shows_passwords_or_hashes(
    apismith_client, admin_headers, create_apismith_user
):
    user = await create_apismith_user("reader")

    response = await apismith_client.get("/api/v1/users", headers=admin_headers)

    assert response.status_code == 200
    listed = {item["username"]: item for item in response.json()}
    assert set(listed[user.username]) == {"uid", "username", "role", "is_active", "created_at"}
    assert user.password not in response.text
    assert "argon2" not in response.text


async def test_passwords_are_stored_as_argon2id_hashes(create_apismith_user, apismith_database_url):
    user = await create_apismith_user("reader")

    engine = create_async_engine(apismith_database_url)
    async with engine.connect() as conn:
        stored = await conn.scalar(
            select(users.c.password_hash).where(users.c.username == user.username)
        )
    await engine.dispose()
    assert stored.startswith("$argon2id$")
    assert user.password not in stored
