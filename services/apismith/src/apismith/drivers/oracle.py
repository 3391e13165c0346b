"""Oracle sources through python-oracledb in thin mode (pure Python, no Instant Client).

One ``oracledb.create_pool_async`` pool. Every call starts with ``SET TRANSACTION
READ ONLY`` and ends with a rollback; the connection's ``call_timeout`` bounds each
round trip (so each fetch of a stream, like a PostgreSQL cursor). Rows stream with
``fetchmany(chunk_rows)`` and ``arraysize = chunk_rows``.

Values: ``NUMBER`` with a scale as Decimal (never float), ``NUMBER(p)`` as int,
``DATE`` and ``TIMESTAMP`` as naive datetimes (an Oracle ``DATE`` has a time of
day, so it reads as ``timestamp``), ``CLOB``/``NCLOB`` as str and ``BLOB`` as bytes.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import oracledb

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
from apismith.drivers.urls import oracle_dsn, oracle_params, parse_connection_url
from bridge_core.errors import BridgeError

CONNECT_TIMEOUT_S = 10.0

READ_ONLY_TRANSACTION = "SET TRANSACTION READ ONLY"

_TIMEOUT_CODES = {"DPY-4024", "ORA-01013", "ORA-03156"}
# invalid credentials, locked or expired account, instance down or starting
_UNREACHABLE_CODES = {"ORA-01017", "ORA-28000", "ORA-28001", "ORA-01033", "ORA-01034", "ORA-01089"}

_DATA_TYPES: dict[Any, str] = {
    oracledb.DB_TYPE_BINARY_FLOAT: "number",
    oracledb.DB_TYPE_BINARY_DOUBLE: "number",
    oracledb.DB_TYPE_BINARY_INTEGER: "integer",
    oracledb.DB_TYPE_DATE: "timestamp",
    oracledb.DB_TYPE_TIMESTAMP: "timestamp",
    oracledb.DB_TYPE_TIMESTAMP_TZ: "timestamp",
    oracledb.DB_TYPE_TIMESTAMP_LTZ: "timestamp",
    oracledb.DB_TYPE_RAW: "binary",
    oracledb.DB_TYPE_LONG_RAW: "binary",
    oracledb.DB_TYPE_BLOB: "binary",
    oracledb.DB_TYPE_BOOLEAN: "boolean",
    oracledb.DB_TYPE_JSON: "json",
}

# LOBs would come back as objects that need a round trip each; fetch them inline
_LOB_FETCH_TYPES: dict[Any, Any] = {
    oracledb.DB_TYPE_CLOB: oracledb.DB_TYPE_LONG,
    oracledb.DB_TYPE_NCLOB: oracledb.DB_TYPE_LONG_NVARCHAR,
    oracledb.DB_TYPE_BLOB: oracledb.DB_TYPE_LONG_RAW,
}


def _is_integer(precision: int | None, scale: int | None) -> bool:
    # NUMBER(p) and NUMBER(p, 0); a bare NUMBER reports precision 0, scale -127
    return scale == 0 and bool(precision)


def data_type(type_code: Any, precision: int | None, scale: int | None) -> str:
    """APISmith's data type for an Oracle column."""
    if type_code is oracledb.DB_TYPE_NUMBER:
        return "integer" if _is_integer(precision, scale) else "number"
    return _DATA_TYPES.get(type_code, "string")


def _output_type(cursor: Any, metadata: Any) -> Any:
    """Fetch exact numbers as Decimal and LOBs inline (python-oracledb output handler)."""
    if metadata.type_code is oracledb.DB_TYPE_NUMBER and not _is_integer(
        metadata.precision, metadata.scale
    ):
        return cursor.var(Decimal, arraysize=cursor.arraysize)
    if metadata.type_code in _LOB_FETCH_TYPES:
        return cursor.var(_LOB_FETCH_TYPES[metadata.type_code], arraysize=cursor.arraysize)
    return None


class OracleDriver(Driver):
    """An Oracle ERP database behind one python-oracledb async pool (opened on first use)."""

    dialect = Dialect.ORACLE

    def __init__(self, url: str, options: ConnectionOptions) -> None:
        super().__init__(url, options)
        self._params = oracle_params(parse_connection_url(Dialect.ORACLE, url))
        self._pool: oracledb.AsyncConnectionPool | None = None
        self._pool_lock = asyncio.Lock()

    async def _open_pool(self) -> oracledb.AsyncConnectionPool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = oracledb.create_pool_async(
                    min=0,
                    max=self.options.pool_size,
                    increment=1,
                    tcp_connect_timeout=CONNECT_TIMEOUT_S,
                    **self._params,
                )
            return self._pool

    def _error(self, exc: Exception, timeout_ms: int) -> BridgeError:
        """The APISmith error for a python-oracledb or network failure."""
        code = getattr(exc.args[0], "full_code", "") if exc.args else ""
        text = error_text(exc, secret=self._params["password"])
        if code in _TIMEOUT_CODES:
            return ErpTimeout(f"the statement ran past {timeout_ms} ms and was cancelled")
        if (
            code in _UNREACHABLE_CODES
            or code.startswith(("DPY-6", "ORA-12", "DPY-4011"))
            or isinstance(exc, (OSError, TimeoutError))
        ):
            return ErpUnreachable(f"cannot reach Oracle at {oracle_dsn(self._params)}: {text}")
        return ErpQueryError(f"Oracle rejected the query: {text}")

    @asynccontextmanager
    async def _session(self, timeout_ms: int) -> AsyncIterator[oracledb.AsyncConnection]:
        """A pooled connection in a read-only transaction with the call timeout."""
        try:
            pool = await self._open_pool()
            async with pool.acquire() as conn:
                conn.call_timeout = timeout_ms
                conn.outputtypehandler = _output_type
                await conn.execute(READ_ONLY_TRANSACTION)
                try:
                    yield conn
                finally:
                    # ends the read-only transaction; nothing was written to keep
                    if conn.is_healthy():
                        await conn.rollback()
        except (oracledb.Error, OSError, TimeoutError) as exc:
            raise self._error(exc, timeout_ms) from exc

    async def ping(self) -> ServerInfo:
        start = time.perf_counter()
        async with self._session(self.options.statement_timeout_ms) as conn:
            version = conn.version
            await conn.ping()
        return ServerInfo(
            server_version=f"Oracle {version}", latency_ms=(time.perf_counter() - start) * 1000
        )

    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        async with self._session(self.options.statement_timeout_ms) as conn:
            cursor = conn.cursor()
            await cursor.execute(query.sql, query.params)
            description = cursor.description or []
            await cursor.fetchall()
        return [
            ColumnInfo(
                name=column.name,
                data_type=data_type(column.type_code, column.precision, column.scale),
                nullable=bool(column.null_ok),
            )
            for column in description
        ]

    async def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        rows_read = 0
        async with self._session(self.timeout_ms(timeout_ms)) as conn:
            cursor = conn.cursor()
            cursor.arraysize = chunk_rows
            cursor.prefetchrows = chunk_rows
            await cursor.execute(query.sql, query.params)
            while rows := await cursor.fetchmany(chunk_rows):
                rows_read += len(rows)
                check_row_limit(rows_read, self.options.max_rows)
                yield rows

    async def close(self) -> None:
        async with self._pool_lock:
            if self._pool is not None:
                await self._pool.close(force=True)
                self._pool = None
