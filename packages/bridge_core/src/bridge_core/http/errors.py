"""One handler that renders every :class:`BridgeError` as ``{"detail": ...}``."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger

from bridge_core.errors import BridgeError, TooManyRequests

# a message never carries more than this of what a client sent (a 10 MB name, say)
MAX_DETAIL_CHARS = 500


def bounded(message: str) -> str:
    """``message`` cut to :data:`MAX_DETAIL_CHARS`, marked where it was cut."""
    if len(message) <= MAX_DETAIL_CHARS:
        return message
    return message[: MAX_DETAIL_CHARS - 1] + "…"


async def _bridge_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BridgeError)
    message = bounded(exc.detail)
    if exc.status_code >= 500:
        logger.warning(
            "{} {} -> {}: {}", request.method, request.url.path, exc.status_code, message
        )
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    if exc.status_code == 422:
        problem = {"loc": list(exc.loc), "msg": message, "type": "value_error"}
        return JSONResponse({"detail": [problem]}, status_code=422)
    return JSONResponse({"detail": message}, status_code=exc.status_code, headers=headers)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each problem; the offending input is never echoed (it may hold a secret)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": list(error.get("loc", ())),
            "msg": bounded(str(error.get("msg", ""))),
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
