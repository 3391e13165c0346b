"""Both services' apps under real uvicorn servers, as tasks in the demo's own event loop.

uvicorn normally takes over SIGINT and SIGTERM for the one server it runs; with two
servers in one process the demo keeps the signals itself (Ctrl-C cancels the demo,
which then stops both servers, each running its lifespan shutdown).
"""

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from fastapi import FastAPI

from bridge_demo.errors import DemoError

STARTUP_TIMEOUT_S = 120.0  # a first start of the embedded PostgreSQL initialises a cluster


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host process."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_port_free(host: str, port: int, *, what: str, option: str) -> None:
    """Raise :class:`DemoError` naming ``option`` when ``host:port`` cannot be bound."""
    with socket.socket() as probe:
        # as uvicorn binds: a port left in TIME_WAIT by a server that just stopped is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {host} is taken ({exc.strerror}), so {what} cannot start: "
                f"stop what listens there or choose another port with {option}"
            ) from None


@asynccontextmanager
async def running_server(app: FastAPI, *, name: str, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` until the block ends; yields its base URL."""
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="on", log_config=None, access_log=False
    )
    server = _InProcessServer(config)

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits the process when startup fails; here that ends only this task
            raise DemoError(f"{name} did not start on {host}:{port} (see the log above)") from None

    task = asyncio.create_task(serve(), name=name)
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            while not server.started:
                if task.done():
                    task.result()
                    raise DemoError(f"{name} stopped while starting")
                await asyncio.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
