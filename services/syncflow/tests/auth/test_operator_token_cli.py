"""``syncflow tokens create`` prints a working token once and stores only its hash."""

import asyncio

import asyncpg
import pytest
from typer.testing import CliRunner

from bridge_core.crypto import hash_token
from bridge_core.db.engine import asyncpg_dsn, to_async_url
from services.syncflow.tests.commands_env import command_env
from syncflow.cli import app

pytestmark = pytest.mark.usefixtures("cli_logging")


async def test_tokens_create_prints_a_token_that_works_and_is_stored_hashed(
    syncflow_settings, syncflow_client
):
    env = command_env(syncflow_settings)
    # the command runs its own event loop, so it gets a thread of its own
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["tokens", "create", "--name", "cli-made"], env=env
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("sf_")
    assert "\n" not in token
    assert "shown once" in result.stderr

    response = await syncflow_client.get(
        "/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert "cli-made" in [t["name"] for t in response.json()]

    conn = await asyncpg.connect(**asyncpg_dsn(to_async_url(syncflow_settings.database_url)))
    try:
        rows = await conn.fetch("SELECT token_hash FROM operator_tokens WHERE name = 'cli-made'")
    finally:
        await conn.close()
    assert [r["token_hash"] for r in rows] == [hash_token(token)]
