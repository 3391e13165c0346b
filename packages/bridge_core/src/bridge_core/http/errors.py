"""One handler that renders every :class:`BridgeError` as ``{"detail": ...}``."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger

from bridge_core.errors import BridgeError


async def _bridge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BridgeError)
    if exc.status_code >= 500:
        logger.warning(
            "{} {} -> {}: {}", request.method, request.url.path, exc.status_code, exc.detail
        )
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each problem; the offending input is never echoed (it may hold a secret)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BridgeError, _bridge_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
