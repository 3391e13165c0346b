"""Database URL handling and creation against real PostgreSQL."""

import asyncpg
import pytest
from sqlalchemy import text

from bridge_core.db.engine import asyncpg_dsn, create_engine, resolve_database_url, to_async_url


def test_plain_postgresql_urls_become_asyncpg():
    assert to_async_url("postgresql://u@h:5432/d").drivername == "postgresql+asyncpg"
    assert to_async_url("postgresql+asyncpg://u@h/d").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported database URL scheme 'mysql'"):
        to_async_url("mysql://u@h/d")


async def test_missing_database_is_created(postgres_server_url, tmp_path):
    name = "t_created_by_resolve"
    url = postgres_server_url.set(database=name)
    admin = await asyncpg.connect(**asyncpg_dsn(postgres_server_url))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    try:
        resolved = await resolve_database_url(
            url.render_as_string(hide_password=False), data_dir=tmp_path, database="ignored"
        )
        engine = create_engine(resolved)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_database()"))).scalar() == name
        await engine.dispose()
        # a second resolve finds it and does not fail
        await resolve_database_url(
            url.render_as_string(hide_password=False), data_dir=tmp_path, database="x"
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
