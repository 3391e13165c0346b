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


async def test_an_update_rotates_secrets_and_changes_only_what_is_given(
    syncflow_settings, syncflow_client, operator_headers
):
    old, new = ("whsec_" + base64.b64encode(c * 32).decode() for c in (b"o", b"n"))
    name = f"hook-{uuid.uuid4().hex[:8]}"

    async def run(*args: str, secrets: str | None = None):
        extra = {} if secrets is None else {"SYNCFLOW_DESTINATION_SECRETS": secrets}
        env = command_env(syncflow_settings, **extra)
        return await asyncio.to_thread(CliRunner().invoke, app, ["destinations", *args], env=env)

    added = await run(
        "add", name, "--kind", "webhook", "--url", "https://hooks.example/in", secrets=old
    )
    assert added.exit_code == 0, added.output
    # the rotation: both secrets sign until the receiver has the new one
    rotated = await run("update", name, "--batch-size", "7", secrets=f"{old} {new}")
    assert rotated.exit_code == 0, rotated.output
    assert f"{name}  webhook  https://hooks.example/in  (all entities; active)" in rotated.stdout
    moved = await run("update", name, "--url", "https://hooks.example/v2")
    assert f"{name}  webhook  https://hooks.example/v2  (all entities; active)" in moved.stdout
    refused = await run("update", name, "--batch-size", "0")
    assert refused.exit_code == 2
    assert "batch_size" in refused.output
    for result in (added, rotated, moved, refused):
        assert old not in result.output
        assert new not in result.output

    listed = await syncflow_client.get(
        "/api/v1/destinations",
        params={"kind": "webhook", "page_size": 200},
        headers=operator_headers,
    )
    assert listed.status_code == 200, listed.text
    [shown] = [d for d in listed.json()["items"] if d["name"] == name]
    assert (shown["secret_count"], shown["batch_size"]) == (2, 7)
