"""APISmith's app: lifespan (database, migrations, first admin) and routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from loguru import logger

from apismith import __version__
from apismith.apis.router import router as apis_router
from apismith.auth.router import router as auth_router
from apismith.auth.token_cache import TokenCache
from apismith.catalog import RuntimeCatalog
from apismith.connections.router import router as connections_router
from apismith.console.pages import build_console
from apismith.databases import open_migrated_database
from apismith.drivers.registry import DriverRegistry
from apismith.executions.router import router as executions_router
from apismith.executions.writer import AuditWriter
from apismith.runtime.context import RuntimeContext
from apismith.runtime.router import router as runtime_router
from apismith.settings import Settings
from apismith.tables import users
from bridge_core.auth.users.service import ensure_configured_admin
from bridge_core.cli import load_settings
from bridge_core.crypto import SecretBox
from bridge_core.http.app import create_app
from bridge_core.secrets import mask_url

SERVICE = "apismith"


def worker_app() -> FastAPI:
    """The app of one server process when ``APISMITH_WORKERS`` > 1 (settings from the
    environment; ``apismith serve`` has migrated the database before starting workers)."""
    return build_app(load_settings(Settings, service=SERVICE))


def build_app(settings: Settings | None = None) -> FastAPI:
    """The APISmith FastAPI app for ``settings`` (read from the environment by default)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_migrated_database(settings) as database:
            app.state.database = database
            app.state.settings = settings
            await ensure_configured_admin(database, table=users, settings=settings)
            drivers = DriverRegistry(
                secret_box=SecretBox(settings.encryption_key.get_secret_value()),
                executor_threads=settings.executor_threads,
            )
            app.state.drivers = drivers
            app.state.audit = audit = AuditWriter(database)
            app.state.token_cache = TokenCache()
            app.state.catalog = catalog = RuntimeCatalog()
            app.state.runtime = RuntimeContext(
                database=database,
                catalog=catalog,
                writer=audit,
                drivers=drivers,
                settings=settings,
            )
            logger.info("APISmith {} ready on {}:{}", __version__, settings.host, settings.port)
            try:
                yield
            finally:
                await audit.close()
                await drivers.close()

    def metadata() -> dict[str, Any]:
        return {
            "database": mask_url(settings.database_url) if settings.database_url else "embedded",
            "data_dir": str(settings.data_dir),
            "limits": {
                "default_page_size": settings.default_page_size,
                "max_page_size": settings.max_page_size,
                "default_statement_timeout_ms": settings.default_statement_timeout_ms,
                "default_max_rows": settings.default_max_rows,
            },
            "dialects": ["postgresql", "mysql", "sqlite", "oracle", "mssql"],
        }

    app = create_app(
        service=SERVICE,
        version=__version__,
        environment=settings.environment,
        lifespan=lifespan,
        # the runtime first: routes are matched in order, and nearly every request is a page
        routers=[runtime_router, auth_router, connections_router, apis_router, executions_router],
        metadata=metadata,
        max_body_bytes=settings.max_request_bytes,
        description="Governed, read-only REST APIs over ERP databases.",
    )
    console, pages = build_console(settings)
    console.install(app, pages)
    return app
