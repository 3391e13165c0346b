"""``syncflow tokens create`` prints a working token once and stores only its hash."""

import asyncio

import asyncpg
from typer.testing import CliRunner

from bridge_core.crypto import hash_token
from bridge_core.db.engine import asyncpg_dsn, to_async_url
from syncflow.cli import app


def test_tokens_create_prints_a_token_that_is_stored_hashed(
    syncflow_settings, syncflow_client, monkeypatch
):
    for key, value in {
        "SYNCFLOW_DATABASE_URL": syncflow_settings.database_url,
        "SYNCFLOW_DATA_DIR": str(syncflow_settings.data_dir),
        "SYNCFLOW_SECRET_KEY": syncflow_settings.secret_key.get_secret_value(),
        "SYNCFLOW_LOG_FILE": "false",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["tokens", "create", "--name", "cli-made"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("sf_")
    assert result.stdout.count(token) == 1

    async def stored() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(**asyncpg_dsn(to_async_url(syncflow_settings.database_url)))
        try:
            rows = await conn.fetch("SELECT name, token_hash FROM operator_tokens")
        finally:
            await conn.close()
        return [(r["name"], r["token_hash"]) for r in rows]

    rows = asyncio.run(stored())
    assert ("cli-made", hash_token(token)) in rows
    assert all(token not in value for row in rows for value in row)
