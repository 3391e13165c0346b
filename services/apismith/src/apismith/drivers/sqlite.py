"""SQLite sources: the standard library's sqlite3 on the shared driver thread pool.

The file is opened read-only (``file:...?mode=ro``) and with ``PRAGMA
query_only=ON``, so neither the file nor the connection can write. A progress
handler aborts a statement that runs past its deadline (``ErpTimeout``); like a
PostgreSQL cursor, the deadline restarts at each fetch. Each call opens its own
connection (cheap for a local file); ``pool_size`` bounds the calls running at once.

SQLite reports no result types, only declared column types that sqlite3 does not
expose. ``describe`` therefore infers each column's type from the Python values
in up to 100 rows of the ``sample`` query: int -> integer, float (or int mixed with
float) -> number, bytes -> binary, anything else, mixed or all NULL -> string.
A column whose sampled rows are all NULL (or a table with no rows) reads as string.
Values come back as SQLite stores them: int, float, str, bytes, None.
"""

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from contextlib import asynccontextmanager
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
)
from apismith.drivers.urls import parse_connection_url, sqlite_path, sqlite_uri

SAMPLE_ROWS = 100

# virtual-machine steps between two deadline checks
_PROGRESS_STEPS = 1_000

_PYTHON_TYPES = {int: "integer", float: "number", str: "string", bytes: "binary"}


def inferred_type(values: Sequence[Any]) -> str:
    """APISmith's data type for a column holding ``values`` (sampled rows)."""
    kinds = {_PYTHON_TYPES.get(type(value), "string") for value in values if value is not None}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else "string"


class _Deadline:
    """A progress handler: aborts the running statement once the deadline has passed."""

    def __init__(self) -> None:
        self.at = math.inf
        self.hit = False

    def start(self, timeout_ms: int) -> None:
        self.at = time.monotonic() + timeout_ms / 1000
        self.hit = False

    def __call__(self) -> int:
        if time.monotonic() > self.at:
            self.hit = True
            return 1
        return 0


class _Session:
    """One read-only sqlite3 connection, used by one call on pool threads."""

    def __init__(self, uri: str) -> None:
        self.deadline = _Deadline()
        # successive fetches of one call may run on different pool threads; the lock
        # keeps a close (after a cancelled call) from overlapping a running statement
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False, autocommit=True)
        self.conn.execute("PRAGMA query_only = ON")
        self.conn.set_progress_handler(self.deadline, _PROGRESS_STEPS)

    def execute(self, sql: str, params: tuple[Any, ...], timeout_ms: int) -> sqlite3.Cursor:
        with self._lock:
            self.deadline.start(timeout_ms)
            return self.conn.execute(sql, params)

    def fetch(self, cursor: sqlite3.Cursor, rows: int, timeout_ms: int) -> list[tuple[Any, ...]]:
        with self._lock:
            self.deadline.start(timeout_ms)
            return cursor.fetchmany(rows)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


class SqliteDriver(Driver):
    """A SQLite database file, read on the shared thread pool."""

    dialect = Dialect.SQLITE

    def __init__(self, url: str, options: ConnectionOptions, *, executor: Executor) -> None:
        super().__init__(url, options)
        self._path = sqlite_path(parse_connection_url(Dialect.SQLITE, url))
        self._uri = sqlite_uri(self._path)
        self._executor = executor
        self._slots = asyncio.Semaphore(options.pool_size)

    async def _run[T](self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @asynccontextmanager
    async def _cursor(
        self, query: BoundQuery, timeout_ms: int
    ) -> AsyncIterator[tuple[_Session, sqlite3.Cursor]]:
        """A new session and the cursor of ``query`` on it; SQLite errors translated."""
        async with self._slots:
            try:
                session = await self._run(_Session, self._uri)
            except sqlite3.Error as exc:
                raise ErpUnreachable(f"cannot open SQLite database {self._path}: {exc}") from exc
            try:
                yield (
                    session,
                    await self._run(session.execute, query.sql, self.positional(query), timeout_ms),
                )
            except sqlite3.Error as exc:
                if session.deadline.hit:
                    raise ErpTimeout(
                        f"the statement ran past {timeout_ms} ms and was cancelled"
                    ) from exc
                raise ErpQueryError(f"SQLite rejected the query: {exc}") from exc
            finally:
                # after a cancelled call its statement may still run on a pool thread
                session.conn.interrupt()
                await self._run(session.close)

    async def ping(self) -> ServerInfo:
        start = time.perf_counter()
        timeout_ms = self.options.statement_timeout_ms
        query = BoundQuery("SELECT sqlite_version()")
        async with self._cursor(query, timeout_ms) as (session, cursor):
            [(version,)] = await self._run(session.fetch, cursor, 1, timeout_ms)
        return ServerInfo(
            server_version=f"SQLite {version}", latency_ms=(time.perf_counter() - start) * 1000
        )

    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        timeout_ms = self.options.statement_timeout_ms
        async with self._cursor(query, timeout_ms) as (_, cursor):
            names = [column[0] for column in cursor.description or ()]
        sampled: list[tuple[Any, ...]] = []
        if sample is not None:
            async with self._cursor(sample, timeout_ms) as (session, cursor):
                sampled = await self._run(session.fetch, cursor, SAMPLE_ROWS, timeout_ms)
        return [
            ColumnInfo(
                name=name,
                data_type=inferred_type([row[i] for row in sampled if len(row) == len(names)]),
                nullable=True,
            )
            for i, name in enumerate(names)
        ]

    async def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        timeout_ms = self.timeout_ms(timeout_ms)
        rows_read = 0
        async with self._cursor(query, timeout_ms) as (session, cursor):
            while rows := await self._run(session.fetch, cursor, chunk_rows, timeout_ms):
                rows_read += len(rows)
                check_row_limit(rows_read, self.options.max_rows)
                yield rows

    async def close(self) -> None:
        """Nothing stays open between calls; the thread pool belongs to the registry."""
