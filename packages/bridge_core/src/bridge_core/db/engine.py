"""The one place engines are built: URL resolution, database creation, engine options."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from loguru import logger
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bridge_core.db.embedded import embedded_server_url
from bridge_core.secrets import mask_url

_DRIVER_ALIASES = {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}


def to_async_url(url: str | URL) -> URL:
    """Accept ``postgresql://`` (and ``postgres://``) URLs; return an asyncpg URL."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in _DRIVER_ALIASES:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use postgresql://"
        )
    return parsed


def asyncpg_dsn(url: URL) -> dict[str, object]:
    """Connection keywords for a plain asyncpg connection to ``url``."""
    query = dict(url.query)
    host = query.pop("host", None) or url.host
    return {
        "host": host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }


@contextlib.asynccontextmanager
async def _on_server(url: URL) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection to the ``postgres`` database of ``url``'s server, and the database
    ``url`` names (to create or drop it from there)."""
    name = url.database
    if not name:
        raise ValueError("the database URL names no database")
    conn = await asyncpg.connect(**asyncpg_dsn(url.set(database="postgres")))
    try:
        yield conn, name
    finally:
        await conn.close()


async def ensure_database(url: URL) -> None:
    """Create the database that ``url`` names when it does not exist yet."""
    async with _on_server(url) as (conn, name):
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            logger.info("creating database {}", name)
            # another process may create it between our check and our CREATE
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')


async def recreate_database(url: URL) -> None:
    """Drop the database ``url`` names (closing its sessions) and create it empty."""
    async with _on_server(url) as (conn, name):
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await ensure_database(url)


async def resolve_database_url(configured: str | None, *, data_dir: Path, database: str) -> URL:
    """The service's database URL: the configured one, or one on the embedded server.

    In both cases the database is created when it is missing.
    """
    if configured:
        url = to_async_url(configured)
    else:
        url = (await embedded_server_url(data_dir)).set(database=database)
    await ensure_database(url)
    logger.info("using database {}", mask_url(url.render_as_string(hide_password=False)))
    return url


def create_engine(url: URL, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine with the house options (pre-ping, bounded pool)."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        echo=echo,
    )
