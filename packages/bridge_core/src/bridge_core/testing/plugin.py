"""Pytest plugin: real PostgreSQL for every test session, no mocks.

``TEST_DATABASE_URL`` (any database on the server to use) wins; otherwise an
embedded PostgreSQL is started under ``.data/test`` (``TEST_DATA_DIR``).
Each test session creates fresh databases with unique names and drops them at
the end, so parallel runs never share state.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL

from bridge_core.db.embedded import embedded_server_url
from bridge_core.db.engine import asyncpg_dsn, to_async_url
from bridge_core.testing.browser import chromium_browser, page

__all__ = ["chromium_browser", "create_database", "page", "postgres_server_url"]

CreateDatabase = Callable[[str], Awaitable[URL]]


@pytest.fixture(scope="session")
async def postgres_server_url() -> URL:
    """URL of the PostgreSQL server tests use (database ``postgres``)."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return to_async_url(configured).set(database="postgres")
    data_dir = Path(os.environ.get("TEST_DATA_DIR", ".data/test"))
    return await embedded_server_url(data_dir)


@pytest.fixture(scope="session")
async def create_database(postgres_server_url: URL) -> AsyncIterator[CreateDatabase]:
    """Factory: a fresh, empty database named after ``label``; dropped after the session."""
    created: list[str] = []

    async def create(label: str) -> URL:
        name = f"t_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(**asyncpg_dsn(postgres_server_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return postgres_server_url.set(database=name)

    yield create

    conn = await asyncpg.connect(**asyncpg_dsn(postgres_server_url))
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
