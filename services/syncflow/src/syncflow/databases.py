"""SyncFlow's two databases: its own (bookkeeping) and the target (ScheduleHub's tables)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from bridge_core.db.lifecycle import open_service_database
from bridge_core.db.transaction import Database
from syncflow.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


@asynccontextmanager
async def open_databases(settings: Settings) -> AsyncIterator[tuple[Database, Database]]:
    """``(own, target)``, migrated; the same object twice when no target URL is set."""
    async with open_service_database(
        settings, url=settings.database_url, migrations=MIGRATIONS
    ) as database:
        if not settings.target_database_url:
            yield database, database
            return
        async with open_service_database(
            settings, url=settings.target_database_url, migrations=None
        ) as target:
            yield database, target


def get_target_database(request: Request) -> Database:
    """The target :class:`Database` set by the lifespan (may be the service's own)."""
    database: Database = request.app.state.target_database
    return database
