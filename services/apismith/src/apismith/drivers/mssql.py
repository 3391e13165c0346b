"""SQL Server sources through pyodbc on the shared driver thread pool.

pyodbc needs unixODBC (``libodbc.so.2``) and Microsoft's "ODBC Driver 18 for SQL
Server" on the APISmith host. It is imported on first use, so APISmith runs without
them; a SQL Server connection then fails with an ``ErpUnreachable`` that says so.

Read-only, as far as SQL Server allows: the connection string carries
``ApplicationIntent=ReadOnly`` (an availability group routes it to a readable
secondary), pyodbc sets the read-only access mode, autocommit is off and every call
ends with a rollback, so nothing a statement changes is kept. SQL Server has no
read-only transaction on a primary: give APISmith a login with ``db_datareader`` only.

The statement timeout is pyodbc's query timeout (``Connection.timeout``), in whole
seconds rounded up; it bounds each execute and fetch. Each call opens a connection
(the ODBC driver manager pools the physical ones); ``pool_size`` bounds calls at once.

Values: ``DECIMAL``/``NUMERIC``/``MONEY`` as Decimal, ``DATETIMEOFFSET`` as aware
datetimes, ``DATETIME2`` naive, ``UNIQUEIDENTIFIER`` as text.
"""

import asyncio
import contextlib
import math
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

from apismith.drivers.base import (
    BoundQuery,
    ColumnInfo,
    ConnectionOptions,
    Dialect,
    Driver,
    ErpQueryError,
    ErpTimeout,
    ErpUnreachable,
    ServerInfo,
    check_row_limit,
    error_text,
)
from apismith.drivers.urls import mssql_connection_string, parse_connection_url

CONNECT_TIMEOUT_S = 10

# ODBC's SQL type number for DATETIMEOFFSET, which pyodbc does not decode by itself
SQL_DATETIMEOFFSET = -155

_DATA_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    Decimal: "number",
    datetime: "timestamp",
    date: "date",
    time_of_day: "time",
    bytes: "binary",
    bytearray: "binary",
    str: "string",
    uuid.UUID: "string",
}


def data_type(type_code: Any) -> str:
    """APISmith's data type for a pyodbc description type code (a Python class)."""
    return _DATA_TYPES.get(type_code, "string")


def query_timeout_s(timeout_ms: int) -> int:
    """pyodbc's query timeout (whole seconds, at least 1) for ``timeout_ms``."""
    return max(1, math.ceil(timeout_ms / 1000))


def datetimeoffset(value: bytes | None) -> datetime | None:
    """An aware datetime from SQL Server's DATETIMEOFFSET wire structure."""
    if value is None:
        return None
    year, month, day, hour, minute, second, nanos, tz_hours, tz_minutes = struct.unpack(
        "<6hI2h", value
    )
    zone = timezone(timedelta(hours=tz_hours, minutes=tz_minutes))
    return datetime(year, month, day, hour, minute, second, nanos // 1000, tzinfo=zone)


def _pyodbc() -> Any:
    try:
        import pyodbc  # imported here: it fails without unixODBC, and only SQL Server needs it
    except ImportError as exc:
        raise ErpUnreachable(
            "SQL Server needs unixODBC and Microsoft's ODBC driver on the APISmith host: "
            f"{exc} (see docs/connections.md)"
        ) from exc
    return pyodbc


class _Session:
    """One pyodbc connection, used by one call on pool threads; errors translated here."""

    def __init__(self, connection_string: str, timeout_ms: int, where: str, secret: str | None):
        self._pyodbc = _pyodbc()
        self._timeout_ms = timeout_ms
        self._where = where
        self._secret = secret
        try:
            self.conn = self._pyodbc.connect(
                connection_string, autocommit=False, readonly=True, timeout=CONNECT_TIMEOUT_S
            )
        except self._pyodbc.Error as exc:
            raise self._unreachable(exc) from exc
        self.conn.timeout = query_timeout_s(timeout_ms)
        self.conn.add_output_converter(SQL_DATETIMEOFFSET, datetimeoffset)

    def _unreachable(self, exc: Exception) -> ErpUnreachable:
        text = error_text(exc, secret=self._secret)
        return ErpUnreachable(f"cannot reach SQL Server at {self._where}: {text}")

    def _error(self, exc: Exception) -> Exception:
        sqlstate = str(exc.args[0]) if exc.args else ""
        if sqlstate in ("HYT00", "HYT01"):
            return ErpTimeout(f"the statement ran past {self._timeout_ms} ms and was cancelled")
        if sqlstate.startswith("08"):
            return self._unreachable(exc)
        return ErpQueryError(f"SQL Server rejected the query: {error_text(exc, secret=None)}")

    def execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        try:
            return self.conn.cursor().execute(sql, *params)
        except self._pyodbc.Error as exc:
            raise self._error(exc) from exc

    def fetch(self, cursor: Any, rows: int) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in cursor.fetchmany(rows)]
        except self._pyodbc.Error as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        # the rollback drops anything a statement changed; a broken link has nothing left
        with contextlib.suppress(self._pyodbc.Error):
            self.conn.rollback()
        with contextlib.suppress(self._pyodbc.Error):
            self.conn.close()


class MssqlDriver(Driver):
    """A SQL Server ERP database, read with pyodbc on the shared thread pool."""

    dialect = Dialect.MSSQL

    def __init__(self, url: str, options: ConnectionOptions, *, executor: Executor) -> None:
        super().__init__(url, options)
        parsed = parse_connection_url(Dialect.MSSQL, url)
        self._connection_string = mssql_connection_string(parsed)
        self._where = f"{parsed.host}:{parsed.port or 1433}/{parsed.database}"
        self._secret = parsed.password
        self._executor = executor
        self._slots = asyncio.Semaphore(options.pool_size)

    async def _run[T](self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @asynccontextmanager
    async def _cursor(
        self, query: BoundQuery, timeout_ms: int
    ) -> AsyncIterator[tuple[_Session, Any]]:
        """A new session and the executed cursor of ``query``; rolled back and closed after."""
        async with self._slots:
            session = await self._run(
                _Session, self._connection_string, timeout_ms, self._where, self._secret
            )
            try:
                yield session, await self._run(session.execute, query.sql, self.positional(query))
            finally:
                await self._run(session.close)

    async def ping(self) -> ServerInfo:
        start = time.perf_counter()
        timeout_ms = self.options.statement_timeout_ms
        async with self._cursor(BoundQuery("SELECT @@VERSION"), timeout_ms) as (session, cursor):
            [(version,)] = await self._run(session.fetch, cursor, 1)
        return ServerInfo(
            server_version=str(version).splitlines()[0].strip(),
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        async with self._cursor(query, self.options.statement_timeout_ms) as (_, cursor):
            description = cursor.description or ()
        return [
            ColumnInfo(name=column[0], data_type=data_type(column[1]), nullable=bool(column[6]))
            for column in description
        ]

    async def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        rows_read = 0
        async with self._cursor(query, self.timeout_ms(timeout_ms)) as (session, cursor):
            while rows := await self._run(session.fetch, cursor, chunk_rows):
                rows_read += len(rows)
                check_row_limit(rows_read, self.options.max_rows)
                yield rows

    async def close(self) -> None:
        """Nothing stays open between calls; the thread pool belongs to the registry."""
