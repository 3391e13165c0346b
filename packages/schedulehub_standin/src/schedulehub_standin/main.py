"""The stand-in's app: its database (tables made at start), ScheduleHub's API under the
configured prefix, the webhook receiver, the control API and fault injection."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from loguru import logger

from bridge_core.db.lifecycle import open_service_database
from bridge_core.http.errors import install_error_handlers
from bridge_core.http.request_guard import RequestGuard
from schedulehub_standin import __version__
from schedulehub_standin.control import router as control_router
from schedulehub_standin.faults import FaultInjection
from schedulehub_standin.router import api, webhooks
from schedulehub_standin.runtime import Runtime
from schedulehub_standin.settings import Settings
from schedulehub_standin.tables import create_tables

SERVICE = "schedulehub-standin"


def build_app(settings: Settings | None = None) -> FastAPI:
    """The stand-in for ``settings`` (read from the environment by default)."""
    settings = settings or Settings()
    runtime = Runtime.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service_database(
            settings, url=settings.database_url, migrations=None
        ) as database:
            await create_tables(database.engine)
            app.state.database = database
            logger.info(
                "ScheduleHub stand-in {} ready on {}:{} (API under {!r})",
                __version__,
                settings.host,
                settings.port,
                settings.api_prefix,
            )
            yield

    prefix = settings.api_prefix
    app = FastAPI(
        title="ScheduleHub stand-in",
        version=__version__,
        description="ScheduleHub's batch API and signed webhooks, with faults on demand.",
        lifespan=lifespan,
        docs_url=f"{prefix}/docs",
        redoc_url=None,
        openapi_url=f"{prefix}/openapi.json",
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(api, prefix=prefix)
    app.include_router(webhooks)
    app.include_router(control_router)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes)
    # outermost: a fault is acted out around everything else, commit included
    app.add_middleware(FaultInjection, dice=runtime.dice, api_prefix=prefix)
    return app
