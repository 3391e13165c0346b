"""Health, database health and configuration metadata endpoints, the same on every service."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from loguru import logger

from bridge_core.db.transaction import get_database


def health_router(
    *, service: str, version: str, environment: str, metadata: Callable[[], dict[str, Any]]
) -> APIRouter:
    """``/health``, ``/health/db`` and ``/metadata`` (open, no authentication)."""
    router = APIRouter(tags=["health"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service, "version": version, "environment": environment}

    @router.get("/health/db", response_model=None)
    async def health_db(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            latency = await get_database(request).ping()
        except Exception as exc:  # any failure means "unreachable" to a monitor
            logger.warning("database health check failed: {}", type(exc).__name__)
            return JSONResponse(
                {"detail": f"database unreachable: {type(exc).__name__}", "status": "error"},
                status_code=503,
            )
        return {"status": "ok", "latency_ms": round(latency, 2)}

    @router.get("/metadata")
    async def get_metadata() -> dict[str, Any]:
        return {"service": service, "version": version, "environment": environment, **metadata()}

    return router
