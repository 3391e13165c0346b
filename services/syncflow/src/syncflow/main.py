"""SyncFlow's app: lifespan (database, migrations, worker) and routers."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from loguru import logger

from bridge_core.auth.users.service import ensure_configured_admin
from bridge_core.http.app import create_app
from bridge_core.secrets import mask_url
from syncflow import __version__
from syncflow.auth.router import router as auth_router
from syncflow.clock import Clock, utc_now
from syncflow.console.pages import build_console
from syncflow.databases import open_databases
from syncflow.delivery.router import router as delivery_router
from syncflow.delivery.runner import DeliveryRunner
from syncflow.destinations.router import router as destinations_router
from syncflow.entities.router import router as entities_router
from syncflow.monitoring.router import router as monitoring_router
from syncflow.orchestration.state import RunContext
from syncflow.schedules.router import router as schedules_router
from syncflow.settings import Settings
from syncflow.sources.router import router as sources_router
from syncflow.sync.router import router as sync_router
from syncflow.tables import users
from syncflow.verify.router import router as verify_router
from syncflow.worker.executor import BatchExecutor, new_worker_id
from syncflow.worker.scheduler import WorkerScheduler

SERVICE = "syncflow"


def build_app(
    settings: Settings | None = None, *, run_worker: bool = True, clock: Clock = utc_now
) -> FastAPI:
    """The SyncFlow FastAPI app for ``settings`` (read from the environment by default).

    With ``run_worker`` the app also runs a worker in-process (single-machine setup):
    a batch executor, a delivery runner and the scheduler (due schedules, retries, pruning);
    ``syncflow serve --no-worker`` leaves both to ``syncflow worker`` processes.
    ``clock`` decides when schedules, windows and retries are due (tests simulate days).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_databases(settings) as (database, target_database):
            app.state.database = database
            app.state.target_database = target_database
            app.state.settings = settings
            app.state.clock = clock
            await ensure_configured_admin(database, table=users, settings=settings)
            context = RunContext(
                database=database,
                target_database=target_database,
                settings=settings,
                worker_id=new_worker_id(),
                now=clock,
            )
            app.state.executor = BatchExecutor(context) if run_worker else None
            app.state.scheduler = WorkerScheduler(context, executor=app.state.executor)
            delivery = DeliveryRunner(
                database=database,
                target_database=target_database,
                settings=settings,
                worker_id=context.worker_id,
                now=clock,
            )
            if app.state.executor is not None:
                worker = asyncio.create_task(app.state.executor.run_forever())
                delivering = asyncio.create_task(delivery.run_forever())
            app.state.scheduler.start()
            logger.info("SyncFlow {} ready on {}:{}", __version__, settings.host, settings.port)
            try:
                yield
            finally:
                await app.state.scheduler.shutdown()
                if app.state.executor is not None:
                    await delivery.shutdown(delivering)
                    await app.state.executor.shutdown(worker)

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

    app = create_app(
        service=SERVICE,
        version=__version__,
        environment=settings.environment,
        lifespan=lifespan,
        routers=[
            auth_router,
            sources_router,
            entities_router,
            destinations_router,
            delivery_router,
            sync_router,
            schedules_router,
            monitoring_router,
            verify_router,
        ],
        metadata=metadata,
        max_body_bytes=settings.max_request_bytes,
        description="Moves ERP data from APISmith into ScheduleHub, every batch tracked.",
    )
    console, pages = build_console(settings)
    console.install(app, pages)
    return app
