"""``syncflow destinations``: add, list, pause, resume, delete; credentials never printed."""

import asyncio
import base64
import uuid

import pytest
from typer.testing import CliRunner

from services.syncflow.tests.commands_env import command_env
from syncflow.cli import app

pytestmark = pytest.mark.usefixtures("cli_logging")


async def test_a_webhook_destination_through_its_life(syncflow_settings, syncflow_client):
    secret = "whsec_" + base64.b64encode(b"c" * 32).decode()
    env = command_env(syncflow_settings, SYNCFLOW_DESTINATION_SECRETS=secret)
    name = f"hook-{uuid.uuid4().hex[:8]}"

    async def run(*args: str):
        # the command runs its own event loop, so it gets a thread of its own
        return await asyncio.to_thread(CliRunner().invoke, app, ["destinations", *args], env=env)

    added = await run("add", name, "--kind", "webhook", "--url", "http://127.0.0.1:9/hook")
    assert added.exit_code == 0, added.output
    assert f"{name}  webhook  http://127.0.0.1:9/hook  (all entities; active)" in added.stdout
    paused = await run("pause", name, "--reason", "receiver down")
    assert "paused: receiver down" in paused.stdout
    listed = await run("list")
    assert f"{name}  webhook" in listed.stdout
    assert "paused: receiver down" in listed.stdout
    resumed = await run("resume", name)
    assert "active" in resumed.stdout
    bad = await run("add", f"{name}-2", "--kind", "webhook", "--url", "http://hooks.example/in")
    assert bad.exit_code == 1
    assert "must be https" in bad.output
    deleted = await run("delete", name)
    assert deleted.exit_code == 0, deleted.output
    gone = await run("pause", name)
    assert gone.exit_code == 1
    assert "not found" in gone.output
    for result in (added, paused, listed, resumed, bad, deleted):
        assert secret not in result.output
