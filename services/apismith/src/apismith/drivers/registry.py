"""Open drivers, and keep one per stored connection for the app's lifetime.

The lifespan puts a :class:`DriverRegistry` on ``app.state.drivers``; features take
it with the ``Drivers`` dependency and call ``drivers.get(connection)`` with a
stored connection (``apismith.connections.repository.ConnectionRecord``). A driver
is cached under the connection's uid and ``updated_at``, so an edited connection
gets a new driver; the replaced one is closed in the background (its running
streams finish first, except on Oracle, whose pool closes at once).
"""

import asyncio
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request
from loguru import logger

from apismith.drivers.base import ConnectionOptions, Dialect, Driver
from apismith.drivers.mssql import MssqlDriver
from apismith.drivers.mysql import MysqlDriver
from apismith.drivers.oracle import OracleDriver
from apismith.drivers.postgresql import PostgresDriver
from apismith.drivers.sqlite import SqliteDriver
from bridge_core.crypto import SecretBox

# how long shutdown waits for a driver's running queries before giving up on it
CLOSE_TIMEOUT_S = 10.0


def open_driver(
    dialect: Dialect | str, url: str, options: ConnectionOptions, *, executor: Executor
) -> Driver:
    """A driver for ``url`` (checked; 422 when unusable). Pools open on first use.

    ``executor`` runs the blocking drivers (SQLite, SQL Server).
    """
    match Dialect(dialect):
        case Dialect.POSTGRESQL:
            return PostgresDriver(url, options)
        case Dialect.MYSQL:
            return MysqlDriver(url, options)
        case Dialect.SQLITE:
            return SqliteDriver(url, options, executor=executor)
        case Dialect.ORACLE:
            return OracleDriver(url, options)
        case Dialect.MSSQL:
            return MssqlDriver(url, options, executor=executor)


class RegisteredConnection(Protocol):
    """What the registry reads from a stored connection."""

    @property
    def uid(self) -> uuid.UUID: ...

    @property
    def dialect(self) -> str: ...

    @property
    def url_encrypted(self) -> bytes: ...

    @property
    def options(self) -> ConnectionOptions: ...

    @property
    def updated_at(self) -> datetime: ...


class DriverRegistry:
    """One open driver per stored connection, and the thread pool of the blocking drivers."""

    def __init__(self, *, secret_box: SecretBox, executor_threads: int) -> None:
        self.secret_box = secret_box
        self._executor = ThreadPoolExecutor(
            max_workers=executor_threads, thread_name_prefix="erp-driver"
        )
        self._drivers: dict[uuid.UUID, tuple[datetime, Driver]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, connection: RegisteredConnection) -> Driver:
        """The driver of ``connection``, opened (lazily) on first use or after an edit.

        Not a coroutine: nothing connects until the driver runs a query.
        """
        cached = self._drivers.get(connection.uid)
        if cached is not None and cached[0] == connection.updated_at:
            return cached[1]
        url = self.secret_box.decrypt(connection.url_encrypted)
        driver = open_driver(connection.dialect, url, connection.options, executor=self._executor)
        self._drivers[connection.uid] = (connection.updated_at, driver)
        if cached is not None:
            self._close_later(cached[1])
        return driver

    def discard(self, uid: uuid.UUID) -> None:
        """Forget (and close in the background) the driver of a deleted connection."""
        cached = self._drivers.pop(uid, None)
        if cached is not None:
            self._close_later(cached[1])

    def _close_later(self, driver: Driver) -> None:
        task = asyncio.get_running_loop().create_task(_close(driver))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Close every driver and the thread pool (app shutdown)."""
        drivers = [driver for _, driver in self._drivers.values()]
        self._drivers.clear()
        await asyncio.gather(*(_close(driver) for driver in drivers), *self._closing)
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _close(driver: Driver) -> None:
    try:
        await asyncio.wait_for(driver.close(), CLOSE_TIMEOUT_S)
    except Exception as exc:  # one driver failing to close must not keep the others open
        logger.warning("closing the {} driver failed: {}", driver.dialect, type(exc).__name__)


async def get_driver_registry(request: Request) -> DriverRegistry:
    """The app's :class:`DriverRegistry`, set by the lifespan."""
    registry: DriverRegistry = request.app.state.drivers
    return registry


Drivers = Annotated[DriverRegistry, Depends(get_driver_registry)]
