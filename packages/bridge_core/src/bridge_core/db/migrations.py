"""Alembic glue: run a service's migrations from code, and the body of every ``env.py``.

Migrations run inside one transaction holding an advisory lock, so two processes
that start at once (a server and a worker) do not race.
"""

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def alembic_config(script_location: Path, url: str | None = None) -> Config:
    """An Alembic config for the migrations folder ``script_location``."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(sync_conn: Connection, config: Config, lock_key: int) -> None:
    sync_conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
    config.attributes["connection"] = sync_conn
    command.upgrade(config, "head")


async def upgrade_to_head(engine: AsyncEngine, script_location: Path) -> None:
    """Apply every pending migration in ``script_location`` to ``engine``'s database."""
    config = alembic_config(script_location)
    lock_key = zlib.crc32(str(script_location.name).encode()) + 7_000_000
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, config, lock_key)


def _run_with(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run_with, metadata)
    await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """The whole of a service's ``env.py``: online migrations, on a given connection or a URL."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection, metadata)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for migrations")
    asyncio.run(_run_online(url, metadata))
