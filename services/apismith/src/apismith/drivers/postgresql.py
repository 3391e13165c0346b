"""PostgreSQL sources through an asyncpg pool (an Arrow page goes through ADBC instead,
where it can: :meth:`PostgresDriver.fetch_arrow`, ``apismith.drivers.postgresql_arrow``).

Every pooled session starts read-only (``default_transaction_read_only``) with the
connection's ``statement_timeout``, both sent in the startup packet, so the pool's
``RESET ALL`` on every release puts them back whatever a query did to its session.
A page or a count (:meth:`PostgresDriver.fetch`) is then one round trip: the statement
runs in its own read-only transaction, prepared once per connection and kept in
asyncpg's statement cache. Everything else, and a fetch with a timeout of its own,
runs in an explicit ``READ ONLY`` transaction that is rolled back at the end, with
``statement_timeout`` set for that transaction only (``SET LOCAL``, via
``set_config(..., true)``). Rows stream through a server-side cursor (a portal
fetched ``chunk_rows`` at a time), so memory stays bounded; the timeout applies to
each fetch. Output columns come from the prepared statement's attributes.

Values: ``numeric`` as Decimal, ``timestamptz`` as aware datetimes (UTC),
``timestamp`` naive, ``json``/``jsonb`` decoded (numbers as Decimal), arrays as
lists, and ``uuid``, ``interval``, ``inet``, ``cidr``, ``macaddr`` as text.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import asyncpg
import pyarrow as pa

from apismith.drivers.base import (
    BoundQuery,
    ColumnInfo,
    ConnectionOptions,
    Dialect,
    Driver,
    ErpQueryError,
    ErpUnreachable,
    ServerInfo,
    check_row_limit,
    error_text,
)
from apismith.drivers.postgresql_guards import GUARDS_QUERY, refuse_unguarded, server_error
from apismith.drivers.urls import parse_connection_url, postgres_target
from bridge_core.errors import BridgeError

if TYPE_CHECKING:
    from apismith.drivers.postgresql_arrow import ArrowPages

CONNECT_TIMEOUT_S = 10.0
# an ERP's connections are the ERP's: one left idle this long is closed (asyncpg's default
# keeps it five minutes, per connection registered in APISmith)
IDLE_CONNECTION_S = 30.0

_DATA_TYPES = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "oid": "integer",
    "numeric": "number",
    "float4": "number",
    "float8": "number",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "time": "time",
    "timetz": "time",
    "bytea": "binary",
    "json": "json",
    "jsonb": "json",
}

# decoded by asyncpg into objects the runtime does not format; read them as PostgreSQL's text
_TEXT_TYPES = ("uuid", "interval", "inet", "cidr", "macaddr")


def data_type(type_name: str, kind: str) -> str:
    """APISmith's data type for a PostgreSQL type (``kind`` as asyncpg reports it)."""
    if kind == "array":
        return "json"
    return _DATA_TYPES.get(type_name, "string")


async def _init_connection(conn: asyncpg.Connection) -> None:
    read_only, timeout = await conn.fetchrow(GUARDS_QUERY)
    refuse_unguarded(read_only, timeout)
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=json.dumps,
            decoder=partial(json.loads, parse_float=Decimal),
        )
    for name in _TEXT_TYPES:
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=str, decoder=str, format="text"
        )


class PostgresDriver(Driver):
    """A PostgreSQL ERP database behind one asyncpg pool (opened on first use)."""

    dialect = Dialect.POSTGRESQL

    def __init__(self, url: str, options: ConnectionOptions) -> None:
        super().__init__(url, options)
        self._target = postgres_target(parse_connection_url(Dialect.POSTGRESQL, url))
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._arrow: ArrowPages | None = None  # opened on the first Arrow page

    @property
    def _where(self) -> str:
        endpoint = self._target.endpoint
        return f"{endpoint.host}:{endpoint.port}/{endpoint.database}"

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                endpoint = self._target.endpoint
                self._pool = await asyncpg.create_pool(
                    host=endpoint.host,
                    port=endpoint.port,
                    database=endpoint.database,
                    user=self._target.user,
                    password=self._target.password,
                    ssl=self._target.ssl,
                    min_size=0,
                    max_size=self.options.pool_size,
                    timeout=CONNECT_TIMEOUT_S,
                    max_inactive_connection_lifetime=IDLE_CONNECTION_S,
                    init=_init_connection,
                    server_settings={
                        "application_name": "apismith",
                        "default_transaction_read_only": "on",
                        "statement_timeout": str(self.options.statement_timeout_ms),
                    },
                )
            return self._pool

    def _error(self, exc: Exception, timeout_ms: int) -> BridgeError:
        """The APISmith error for an asyncpg or network failure."""
        if isinstance(exc, BridgeError):
            return exc
        text = error_text(exc, secret=self._target.password)
        if isinstance(exc, asyncpg.PostgresError):
            return server_error(
                exc.sqlstate, text, where=self._where, statement_timeout_ms=timeout_ms
            )
        if isinstance(exc, (OSError, TimeoutError, asyncpg.ConnectionDoesNotExistError)):
            return ErpUnreachable(f"cannot reach PostgreSQL at {self._where}: {text}")
        # client-side refusals: wrong parameter count or type, unsupported feature
        return ErpQueryError(f"PostgreSQL query failed: {text}")

    @asynccontextmanager
    async def _session(self, timeout_ms: int) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a read-only transaction with the statement timeout."""
        try:
            pool = await self._open_pool()
            async with pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
                transaction = conn.transaction(readonly=True)
                await transaction.start()
                try:
                    await conn.execute(
                        "SELECT set_config('statement_timeout', $1, true)", str(timeout_ms)
                    )
                    yield conn
                finally:
                    # read-only and never committed; a failure here must not hide the
                    # query's own error, and the pool resets a connection it gets back
                    if not conn.is_closed():
                        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                            await transaction.rollback()
        except Exception as exc:
            raise self._error(exc, timeout_ms) from exc

    async def ping(self) -> ServerInfo:
        start = time.perf_counter()
        async with self._session(self.options.statement_timeout_ms) as conn:
            version = await conn.fetchval("SELECT current_setting('server_version')")
        return ServerInfo(
            server_version=f"PostgreSQL {version}",
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        # PostgreSQL reports result types at prepare time; no row is needed
        async with self._session(self.options.statement_timeout_ms) as conn:
            statement = await conn.prepare(query.sql)
            attributes = statement.get_attributes()
        return [
            ColumnInfo(
                name=attribute.name,
                data_type=data_type(attribute.type.name, attribute.type.kind),
                nullable=True,  # the wire protocol does not say
            )
            for attribute in attributes
        ]

    async def fetch(
        self, query: BoundQuery, *, timeout_ms: int | None = None
    ) -> list[tuple[Any, ...]]:
        """All rows of a small query (a page, a count) in one round trip."""
        timeout = self.timeout_ms(timeout_ms)
        if timeout != self.options.statement_timeout_ms:
            return await super().fetch(query, timeout_ms=timeout)
        try:
            pool = await self._open_pool()
            async with pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
                records = await conn.fetch(query.sql, *self.positional(query))
        except Exception as exc:
            raise self._error(exc, timeout) from exc
        check_row_limit(len(records), self.options.max_rows)
        return [tuple(record) for record in records]

    async def fetch_arrow(self, query: BoundQuery) -> pa.Table | None:
        """A page as Arrow through ADBC, or None where ADBC cannot read it exactly as
        asyncpg does (``apismith.drivers.postgresql_arrow_types`` says when)."""
        if self._arrow is None:
            # imported here: ADBC's DB-API loads polars when it is installed (~0.6 s), which
            # a process that never serves an Arrow page should not pay at start-up
            from apismith.drivers.postgresql_arrow import ArrowPages

            self._arrow = ArrowPages(
                self._target,
                pool_size=self.options.pool_size,
                statement_timeout_ms=self.options.statement_timeout_ms,
                max_rows=self.options.max_rows,
                idle_s=IDLE_CONNECTION_S,
                connect_timeout_s=CONNECT_TIMEOUT_S,
                where=self._where,
            )
        return await self._arrow.fetch(query.sql, self.positional(query), query.compared)

    async def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        rows_read = 0
        async with self._session(self.timeout_ms(timeout_ms)) as conn:
            statement = await conn.prepare(query.sql)
            cursor = await statement.cursor(*self.positional(query))
            while records := await cursor.fetch(chunk_rows):
                rows_read += len(records)
                check_row_limit(rows_read, self.options.max_rows)
                yield [tuple(record) for record in records]

    async def close(self) -> None:
        async with self._pool_lock:
            if self._arrow is not None:
                await self._arrow.close()
                self._arrow = None
            if self._pool is not None:
                await self._pool.close()
                self._pool = None
