"""Open a service's database for its lifetime: resolve the URL, migrate, hand out a Database."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from bridge_core.db.embedded import release_embedded_server
from bridge_core.db.engine import create_engine, resolve_database_url
from bridge_core.db.migrations import upgrade_to_head
from bridge_core.db.transaction import Database


@asynccontextmanager
async def open_database(
    configured_url: str | None,
    *,
    data_dir: Path,
    database: str,
    migrations: Path | None,
    pool_size: int = 10,
) -> AsyncIterator[Database]:
    """The service database, migrated to head when ``migrations`` is given; disposed on exit."""
    url = await resolve_database_url(configured_url, data_dir=data_dir, database=database)
    engine = create_engine(url, pool_size=pool_size)
    try:
        if migrations is not None:
            await upgrade_to_head(engine, migrations)
        yield Database(engine)
    finally:
        await engine.dispose()
        if configured_url is None:
            await release_embedded_server(data_dir)


class ServiceDatabaseSettings(Protocol):
    """What ``open_service_database`` reads of a service's settings."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def database_name(self) -> str: ...


def open_service_database(
    settings: ServiceDatabaseSettings, *, url: str | None, migrations: Path | None
) -> AbstractAsyncContextManager[Database]:
    """``open_database`` for a service: the database at ``url`` (one of its settings), else
    its ``database_name`` on the embedded server kept in its ``data_dir``."""
    return open_database(
        url, data_dir=settings.data_dir, database=settings.database_name, migrations=migrations
    )
