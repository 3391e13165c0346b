"""SyncFlow's app: lifespan (database, migrations, worker) and routers."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from loguru import logger

from bridge_core.db.lifecycle import open_database
from bridge_core.http.app import create_app
from bridge_core.secrets import mask_url
from syncflow import __version__
from syncflow.auth.router import router as auth_router
from syncflow.entities.router import router as entities_router
from syncflow.settings import Settings
from syncflow.sources.router import router as sources_router

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE = "syncflow"


def build_app(settings: Settings | None = None) -> FastAPI:
    """The SyncFlow FastAPI app for ``settings`` (read from the environment by default)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_database(
                settings.database_url,
                data_dir=settings.data_dir,
                database=settings.database_name,
                migrations=MIGRATIONS,
            ) as database,
            AsyncExitStack() as target_stack,
        ):
            app.state.database = database
            app.state.settings = settings
            # target tables live in ScheduleHub's database, or in SyncFlow's own when unset
            app.state.target_database = (
                await target_stack.enter_async_context(
                    open_database(
                        settings.target_database_url,
                        data_dir=settings.data_dir,
                        database=settings.database_name,
                        migrations=None,
                    )
                )
                if settings.target_database_url
                else database
            )
            logger.info("SyncFlow {} ready on {}:{}", __version__, settings.host, settings.port)
            yield

    def metadata() -> dict[str, Any]:
        return {
            "database": mask_url(settings.database_url) if settings.database_url else "embedded",
            "target_database": (
                mask_url(settings.target_database_url)
                if settings.target_database_url
                else "own database"
            ),
            "data_dir": str(settings.data_dir),
            "source_timezone": settings.source_timezone,
            "chunk_rows": settings.chunk_rows,
            "lease_seconds": settings.lease_seconds,
            "history_retention_days": settings.history_retention_days,
        }

    return create_app(
        service=SERVICE,
        version=__version__,
        environment=settings.environment,
        lifespan=lifespan,
        routers=[auth_router, sources_router, entities_router],
        metadata=metadata,
        description="Moves ERP data from APISmith into ScheduleHub, every batch tracked.",
    )
