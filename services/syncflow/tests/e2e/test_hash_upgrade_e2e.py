"""A target written before the hashes became uuid and bytea: batches refuse it with the
command to run, ``syncflow entities upgrade`` rewrites it in place, and syncing goes on
with the same hashes (the API still shows them as hex)."""

import asyncio
import sys

import pytest
from loguru import logger
from typer.testing import CliRunner

from services.syncflow.tests.commands_env import command_env
from syncflow.cli import app


@pytest.fixture(autouse=True)
def _console_logging_after_cli():
    yield
    # the command points Loguru at the runner's captured stderr, which is closed afterwards
    logger.remove()
    logger.add(sys.stderr)


HEX_FORM = (
    "SELECT replace(_bridge_key_hash::text, '-', '') AS key_hash, "
    "encode(_bridge_data_hash, 'hex') AS data_hash FROM erp.parts ORDER BY 1"
)


async def run_cli(world, *args: str):
    env = command_env(world.settings)
    # the command runs its own event loop, so it gets a thread of its own
    return await asyncio.to_thread(CliRunner().invoke, app, ["entities", *args], env=env)


async def test_a_hex_hash_target_is_refused_then_upgraded_in_place(world):
    first = await world.sync("parts")
    assert first["status"] == "completed", first
    hashes = [tuple(r) for r in await world.target(HEX_FORM)]
    # the table as an earlier release left it: hashes as hex text
    await world.target(
        "ALTER TABLE erp.parts "
        "ALTER COLUMN _bridge_key_hash TYPE char(32) "
        "USING replace(_bridge_key_hash::text, '-', ''), "
        "ALTER COLUMN _bridge_data_hash TYPE char(64) USING encode(_bridge_data_hash, 'hex')"
    )

    refused = await world.sync("parts")
    assert refused["status"] == "failed"
    assert "syncflow entities upgrade parts" in refused["error"]

    upgraded = await run_cli(world, "upgrade", "parts")
    assert upgraded.exit_code == 0, upgraded.output
    assert "parts: upgraded" in upgraded.stdout
    again = await run_cli(world, "upgrade", "--all")
    assert "parts: already current" in again.stdout

    assert [tuple(r) for r in await world.target(HEX_FORM)] == hashes
    assert await world.key_index_is_built("erp.parts")
    await world.erp("UPDATE parts SET qty = 99, rowversion = nextval('rv') WHERE part_no = 'P-001'")
    resumed = await world.sync("parts")
    assert resumed["status"] == "completed", resumed
    assert resumed["counters"]["updated"] == 1
    report = await world.verify("parts")
    assert (report["extra"], report["different"]) == (0, 0), report


async def test_upgrade_names_what_it_needs(world):
    neither = await run_cli(world, "upgrade")
    assert neither.exit_code == 2
    assert "name the entities to upgrade, or pass --all" in neither.output
    unknown = await run_cli(world, "upgrade", "nope")
    assert unknown.exit_code == 1
    assert "entity 'nope' not found" in unknown.output
