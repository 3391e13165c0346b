"""``apismith users create`` and ``apismith tokens create`` make working credentials."""

import asyncio
import sys
import uuid

import pytest
from loguru import logger
from typer.testing import CliRunner

from apismith.cli import app


@pytest.fixture(autouse=True)
def _console_logging_after_cli():
    yield
    # the command points Loguru at the runner's captured stderr, which is closed afterwards
    logger.remove()
    logger.add(sys.stderr)


@pytest.fixture
def cli_env(apismith_settings, apismith_database_url, tmp_path):
    return {
        "APISMITH_DATABASE_URL": apismith_database_url,
        "APISMITH_ENVIRONMENT": "test",
        "APISMITH_SECRET_KEY": apismith_settings.secret_key.get_secret_value(),
        "APISMITH_ENCRYPTION_KEY": apismith_settings.encryption_key.get_secret_value(),
        "APISMITH_DATA_DIR": str(tmp_path),
        "APISMITH_LOG_FILE": "false",
    }


async def _invoke(args, env, input_text=None):
    # the command runs its own event loop, so it gets a thread of its own
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env, input=input_text)


async def test_users_create_makes_an_admin_who_can_log_in(apismith_client, cli_env):
    username = f"root-{uuid.uuid4().hex[:8]}"
    args = ["users", "create", "--username", username, "--password", "first-admin-pw"]

    result = await _invoke([*args, "--role", "admin"], cli_env)

    assert result.exit_code == 0, result.output
    assert f"created admin user {username}" in result.output
    assert "first-admin-pw" not in result.output
    login = await apismith_client.post(
        "/api/v1/auth/login", json={"username": username, "password": "first-admin-pw"}
    )
    assert login.status_code == 200
    admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await apismith_client.get("/api/v1/users", headers=admin)).status_code == 200


async def test_users_create_prompts_for_the_password(apismith_client, cli_env):
    username = f"prompted-{uuid.uuid4().hex[:8]}"

    result = await _invoke(
        ["users", "create", "--username", username], cli_env, "typed-secret-1\ntyped-secret-1\n"
    )

    assert result.exit_code == 0, result.output
    assert "typed-secret-1" not in result.output
    login = await apismith_client.post(
        "/api/v1/auth/login", json={"username": username, "password": "typed-secret-1"}
    )
    assert login.status_code == 200
    me = await apismith_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["role"] == "reader"


async def test_users_create_refuses_a_taken_username(apismith_client, cli_env):
    username = f"twice-{uuid.uuid4().hex[:8]}"
    args = ["users", "create", "--username", username, "--password", "password-123"]
    assert (await _invoke(args, cli_env)).exit_code == 0

    result = await _invoke(args, cli_env)

    assert result.exit_code == 1
    assert f"username '{username}' is already taken" in result.output


async def test_tokens_create_prints_a_working_token_once(apismith_client, cli_env):
    result = await _invoke(["tokens", "create", "--name", "syncflow", "--role", "reader"], cli_env)

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "shown only now" in result.stderr
    me = await apismith_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["kind"] == "token"
    assert me.json()["name"] == "syncflow"
