"""The first admin from APISMITH_ADMIN_USERNAME/_PASSWORD, made only on an empty database."""

import pytest
from loguru import logger
from pydantic import SecretStr

from apismith.main import build_app
from bridge_core.testing.asgi import app_client


@pytest.fixture
async def empty_settings(apismith_settings, create_database):
    url = await create_database("apismith_bootstrap")
    return apismith_settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}
    )


async def _login(client, username, password):
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    return response.status_code


async def test_first_admin_is_created_only_while_no_user_exists(empty_settings):
    first = empty_settings.model_copy(
        update={"admin_username": "bootstrap", "admin_password": SecretStr("bootstrap-pw-1")}
    )
    async with app_client(build_app(first)) as client:
        assert await _login(client, "bootstrap", "bootstrap-pw-1") == 200

    second = empty_settings.model_copy(
        update={"admin_username": "latecomer", "admin_password": SecretStr("latecomer-pw-1")}
    )
    async with app_client(build_app(second)) as client:
        assert await _login(client, "latecomer", "latecomer-pw-1") == 401
        assert await _login(client, "bootstrap", "bootstrap-pw-1") == 200


async def test_bootstrap_admin_is_an_admin_and_its_password_is_not_logged(empty_settings):
    settings = empty_settings.model_copy(
        update={"admin_username": "boss", "admin_password": SecretStr("boss-password")}
    )
    lines = []
    sink = logger.add(lines.append, level="DEBUG", format="{message} | {extra}")
    try:
        async with app_client(build_app(settings)) as client:
            tokens = (
                await client.post(
                    "/api/v1/auth/login", json={"username": "boss", "password": "boss-password"}
                )
            ).json()
            users = await client.get(
                "/api/v1/users", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
    finally:
        logger.remove(sink)
    assert "first admin boss created" in "".join(lines)
    assert "boss-password" not in "".join(lines)
    assert users.status_code == 200
    assert [(u["username"], u["role"]) for u in users.json()] == [("boss", "admin")]
