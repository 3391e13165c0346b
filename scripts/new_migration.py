"""Autogenerate a migration for a service from its ``tables.py``.

    uv run python scripts/new_migration.py apismith "add widgets"

Applies the existing migrations to a scratch database (on ``TEST_DATABASE_URL``'s
server, or the embedded test server), compares with the metadata and writes a
new revision into the service's ``migrations/versions``. Review it before committing.
"""

import asyncio
import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from alembic import command

from bridge_core.db.embedded import embedded_server_url
from bridge_core.db.engine import asyncpg_dsn, create_engine, to_async_url
from bridge_core.db.migrations import alembic_config, upgrade_to_head


async def main(service: str, message: str) -> None:
    package = importlib.import_module(service)
    migrations = Path(str(package.__file__)).parent / "migrations"
    configured = os.environ.get("TEST_DATABASE_URL")
    server = (
        to_async_url(configured) if configured else await embedded_server_url(Path(".data/test"))
    )
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(**asyncpg_dsn(server.set(database="postgres")))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name)
    try:
        engine = create_engine(url)
        await upgrade_to_head(engine, migrations)
        await engine.dispose()
        config = alembic_config(migrations, url.render_as_string(hide_password=False))
        count = len(list((migrations / "versions").glob("*.py")))
        await asyncio.to_thread(
            command.revision, config, message=message, autogenerate=True, rev_id=f"{count + 1:04d}"
        )
        versions = str(migrations / "versions")
        subprocess.run(["ruff", "format", "--quiet", versions], check=True)
        subprocess.run(["ruff", "check", "--fix", "--quiet", versions], check=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
