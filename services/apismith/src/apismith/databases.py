"""APISmith's database (connections, APIs, users, audit), opened and migrated."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from apismith.settings import Settings
from bridge_core.db.lifecycle import open_service_database
from bridge_core.db.transaction import Database

MIGRATIONS = Path(__file__).parent / "migrations"


@asynccontextmanager
async def open_migrated_database(settings: Settings) -> AsyncIterator[Database]:
    """The service database, migrated to head; disposed on exit."""
    async with open_service_database(
        settings, url=settings.database_url, migrations=MIGRATIONS
    ) as database:
        yield database
