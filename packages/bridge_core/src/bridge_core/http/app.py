"""The app factory: one FastAPI app per service with the shared routers and handlers."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from bridge_core.http.errors import install_error_handlers
from bridge_core.http.health import health_router
from bridge_core.http.metrics import install_metrics
from bridge_core.http.openapi import install_error_docs
from bridge_core.http.request_guard import RequestGuard
from bridge_core.http.throttle import SignInThrottle

API_PREFIX = "/api/v1"


def create_app(
    *,
    service: str,
    version: str,
    environment: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Sequence[APIRouter],
    metadata: Callable[[], dict[str, Any]],
    max_body_bytes: int,
    description: str = "",
) -> FastAPI:
    """Build a service app: routers under ``/api/v1``, health, metrics, error handlers,
    the request guard (body size limit, storable text) and documented error responses.

    ``lifespan`` owns the engines and clients (it sets ``app.state.database``).
    """
    app = FastAPI(
        title=service,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    install_error_handlers(app)
    app.state.sign_in_throttle = SignInThrottle(service)
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
    install_metrics(app, service)
    app.include_router(
        health_router(service=service, version=version, environment=environment, metadata=metadata),
        prefix=API_PREFIX,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    install_error_docs(app)
    return app
