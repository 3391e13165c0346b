"""MySQL and MariaDB sources through an asyncmy pool.

Every call sets the session's statement timeout (MariaDB: ``max_statement_time`` in
seconds; MySQL: ``max_execution_time`` in milliseconds, chosen from the server's
version string), then runs in ``START TRANSACTION READ ONLY`` and rolls back.
The timeout covers the whole statement, streaming included. Rows stream through an
unbuffered ``SSCursor``; a stream left early closes its connection instead of
reading the rest of the result.

Sessions use ``time_zone = '+00:00'``, so ``TIMESTAMP`` values (stored in UTC) come
back as aware UTC datetimes; ``DATETIME`` stays naive. ``DECIMAL`` is Decimal,
``TIME`` a time of day (text when outside 00:00-24:00), ``JSON`` decoded.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncmy
from asyncmy.cursors import Cursor, SSCursor

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
from apismith.drivers.urls import mysql_params, parse_connection_url
from bridge_core.errors import BridgeError

CONNECT_TIMEOUT_S = 10

# MySQL protocol column type codes
_DECIMAL, _TINY, _SHORT, _LONG, _FLOAT, _DOUBLE, _NULL, _TIMESTAMP = 0, 1, 2, 3, 4, 5, 6, 7
_LONGLONG, _INT24, _DATE, _TIME, _DATETIME, _YEAR, _NEWDATE = 8, 9, 10, 11, 12, 13, 14
_BIT, _JSON, _NEWDECIMAL, _GEOMETRY = 16, 245, 246, 255

_DATA_TYPES = {
    _DECIMAL: "number",
    _NEWDECIMAL: "number",
    _FLOAT: "number",
    _DOUBLE: "number",
    _TINY: "integer",
    _SHORT: "integer",
    _LONG: "integer",
    _LONGLONG: "integer",
    _INT24: "integer",
    _YEAR: "integer",
    _DATE: "date",
    _NEWDATE: "date",
    _TIMESTAMP: "timestamp",
    _DATETIME: "timestamp",
    _TIME: "time",
    _BIT: "binary",
    _GEOMETRY: "binary",
    _JSON: "json",
}

_BINARY_CHARSET = 63

# server errors: statement timeout (MariaDB, MySQL)
_TIMEOUT_CODES = {1969, 3024}
# no working session: access denied, unknown database, too many connections,
# host blocked or not allowed, and the client's 2xxx connection errors
_UNREACHABLE_CODES = {1040, 1044, 1045, 1049, 1129, 1130, 1203}


def timeout_statement(server_version: str, timeout_ms: int) -> str:
    """The ``SET SESSION`` that bounds each statement on this server."""
    if "mariadb" in server_version.lower():
        return f"SET SESSION max_statement_time = {timeout_ms / 1000:.3f}"
    return f"SET SESSION max_execution_time = {int(timeout_ms)}"


def data_type(type_code: int, charset: int | None) -> str:
    """APISmith's data type for a MySQL column (its type code and character set number)."""
    if type_code in _DATA_TYPES:
        return _DATA_TYPES[type_code]
    return "binary" if charset == _BINARY_CHARSET else "string"


def _aware_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def _time_of_day(value: timedelta | None) -> Any:
    if value is None:
        return None
    if timedelta(0) <= value < timedelta(days=1):
        return (datetime.min + value).time()
    return str(value)  # TIME spans -838:59:59..838:59:59; no time of day holds that


def _json(value: str | bytes | None) -> Any:
    return json.loads(value, parse_float=Decimal) if value is not None else None


_CONVERTERS: dict[int, Callable[[Any], Any]] = {
    _TIMESTAMP: _aware_utc,
    _TIME: _time_of_day,
    _JSON: _json,
}


def _row_converter(
    description: Sequence[Sequence[Any]],
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A function fixing up the columns that need it, or None when none do."""
    converters = [_CONVERTERS.get(column[1]) for column in description]
    if not any(converters):
        return None
    pairs = [(i, fn) for i, fn in enumerate(converters) if fn is not None]

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i, fn in pairs:
            values[i] = fn(values[i])
        return tuple(values)

    return convert


def _charsets(cursor: Cursor) -> list[int | None]:
    # the description tuple leaves out the character set that tells BLOB from TEXT;
    # asyncmy keeps the column packets on the cursor's result
    fields = getattr(getattr(cursor, "_result", None), "fields", None) or []
    return [getattr(field, "charsetnr", None) for field in fields]


class MysqlDriver(Driver):
    """A MySQL or MariaDB ERP database behind one asyncmy pool (opened on first use)."""

    dialect = Dialect.MYSQL

    def __init__(self, url: str, options: ConnectionOptions) -> None:
        super().__init__(url, options)
        self._params = mysql_params(parse_connection_url(Dialect.MYSQL, url))
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()

    @property
    def _where(self) -> str:
        return f"{self._params['host']}:{self._params['port']}/{self._params['db']}"

    async def _open_pool(self) -> Any:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncmy.create_pool(
                    minsize=0,
                    maxsize=self.options.pool_size,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    autocommit=True,
                    init_command="SET time_zone = '+00:00'",
                    **self._params,
                )
            return self._pool

    def _error(self, exc: Exception, timeout_ms: int) -> BridgeError:
        """The APISmith error for an asyncmy or network failure."""
        if isinstance(exc, BridgeError):
            return exc
        # asyncmy errors carry (code, message); network errors only a message
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        message = exc.args[1] if code is not None and len(exc.args) > 1 else exc
        text = error_text(message, secret=self._params["password"] or None)
        if code in _TIMEOUT_CODES:
            return ErpTimeout(f"the statement ran past {timeout_ms} ms and was cancelled")
        if (
            code in _UNREACHABLE_CODES
            or (code is not None and 2000 <= code < 3000)
            or isinstance(exc, (OSError, TimeoutError))
        ):
            return ErpUnreachable(f"cannot reach MySQL at {self._where}: {text}")
        return ErpQueryError(f"MySQL rejected the query: {text}")

    @asynccontextmanager
    async def _session(self, timeout_ms: int) -> AsyncIterator[Any]:
        """A pooled connection in a read-only transaction with the statement timeout.

        The connection goes back to the pool only after a clean rollback; after an
        error or an abandoned stream it is closed (the pool drops closed connections).
        """
        try:
            pool = await self._open_pool()
            async with pool.acquire() as conn:
                clean = False
                try:
                    async with conn.cursor() as cursor:
                        await cursor.execute(timeout_statement(conn.get_server_info(), timeout_ms))
                        await cursor.execute("START TRANSACTION READ ONLY")
                    yield conn
                    await conn.rollback()
                    clean = True
                finally:
                    if not clean:
                        conn.close()
        except Exception as exc:
            raise self._error(exc, timeout_ms) from exc

    async def ping(self) -> ServerInfo:
        start = time.perf_counter()
        timeout_ms = self.options.statement_timeout_ms
        async with self._session(timeout_ms) as conn, conn.cursor() as cursor:
            await cursor.execute("SELECT VERSION()")
            (version,) = await cursor.fetchone()
        return ServerInfo(
            server_version=_server_name(version),
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        timeout_ms = self.options.statement_timeout_ms
        async with self._session(timeout_ms) as conn, conn.cursor() as cursor:
            await cursor.execute(query.sql, self.positional(query))
            description = cursor.description or ()
            charsets = _charsets(cursor)
            await cursor.fetchall()
        charsets += [None] * (len(description) - len(charsets))
        return [
            ColumnInfo(
                name=column[0], data_type=data_type(column[1], charset), nullable=bool(column[6])
            )
            for column, charset in zip(description, charsets, strict=True)
        ]

    async def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        rows_read = 0
        async with self._session(self.timeout_ms(timeout_ms)) as conn:
            cursor = conn.cursor(SSCursor)
            await cursor.execute(query.sql, self.positional(query))
            convert = _row_converter(cursor.description or ())
            while rows := await cursor.fetchmany(chunk_rows):
                rows_read += len(rows)
                check_row_limit(rows_read, self.options.max_rows)
                yield [convert(row) for row in rows] if convert else list(rows)

    async def close(self) -> None:
        async with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                await self._pool.wait_closed()
                self._pool = None


def _server_name(version: str) -> str:
    return f"MariaDB {version}" if "mariadb" in version.lower() else f"MySQL {version}"
