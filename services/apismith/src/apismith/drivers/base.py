"""What every ERP database driver offers, and the types that cross the driver boundary.

The SQL layer (``apismith.sql``) renders a :class:`BoundQuery` in the driver's
:class:`ParamStyle`; a :class:`Driver` runs it read-only, with a server-side
statement timeout, streaming rows in chunks.
"""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa

from bridge_core.errors import BadGateway, GatewayTimeout
from bridge_core.secrets import MASK, mask_secrets


class Dialect(StrEnum):
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    SQLITE = "sqlite"
    ORACLE = "oracle"
    MSSQL = "mssql"


class ParamStyle(StrEnum):
    DOLLAR = "dollar"  # $1, $2 (asyncpg)
    FORMAT = "format"  # %s (asyncmy); a literal % in the SQL is written %%
    QMARK = "qmark"  # ? (sqlite3, pyodbc)
    NAMED = "named"  # :p1, :p2 (oracledb)


PARAM_STYLES: dict[Dialect, ParamStyle] = {
    Dialect.POSTGRESQL: ParamStyle.DOLLAR,
    Dialect.MYSQL: ParamStyle.FORMAT,
    Dialect.SQLITE: ParamStyle.QMARK,
    Dialect.ORACLE: ParamStyle.NAMED,
    Dialect.MSSQL: ParamStyle.QMARK,
}

# the column types APISmith reports, whatever the database calls them
DATA_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "timestamp",
    "time",
    "binary",
    "json",
)


# field metadata of a native Arrow page (Driver.fetch_arrow) on utf8 columns that hold
# another type's text: b"decimal" (exact digits, "NaN", "Infinity") or b"json" (a document)
ARROW_TEXT_KIND = b"apismith.text_kind"


@dataclass(frozen=True)
class BoundQuery:
    """SQL text in the driver's parameter style and its values (a dict only for NAMED).

    ``compared``: the positions of values APISmith generated (filter and keyset values),
    which the query only compares and never shows; a saved query's own parameters may
    be shown as they are (``SELECT :p AS x``).
    """

    sql: str
    params: tuple[Any, ...] | dict[str, Any] = ()
    compared: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str
    nullable: bool


@dataclass(frozen=True)
class ServerInfo:
    server_version: str
    latency_ms: float


@dataclass(frozen=True)
class ConnectionOptions:
    statement_timeout_ms: int = 30_000
    max_rows: int = 10_000_000
    pool_size: int = 5
    # zone of the ERP's naive timestamps; APISmith always answers with an offset
    timezone: str = "UTC"


class ErpUnreachable(BadGateway):
    """The ERP database cannot be reached (refused, DNS, auth, network)."""


class ErpQueryError(BadGateway):
    """The ERP database rejected the query (unknown column, type error, ...)."""


class ErpTimeout(GatewayTimeout):
    """The statement ran past its timeout and was cancelled by the server."""


class RowLimitExceeded(ErpQueryError):
    """The query returned more rows than the connection's ``max_rows``; the stream stops."""


def check_row_limit(rows_read: int, max_rows: int) -> None:
    """Raise :class:`RowLimitExceeded` once more than ``max_rows`` rows were read."""
    if rows_read > max_rows:
        raise RowLimitExceeded(
            f"the query returned more than max_rows={max_rows} rows: "
            "narrow it or raise the connection's max_rows"
        )


def error_text(error: BaseException | str, *, secret: str | None) -> str:
    """A database's error message fit for a user: ``secret`` and look-alikes masked."""
    text = " ".join(str(error).split()) or type(error).__name__
    if secret:
        text = text.replace(secret, MASK)
    return mask_secrets(text)


class Driver(ABC):
    """One ERP connection pool. Every query runs read-only with the statement timeout."""

    dialect: Dialect

    def __init__(self, url: str, options: ConnectionOptions) -> None:
        self.url = url
        self.options = options

    def positional(self, query: BoundQuery) -> tuple[Any, ...]:
        """The query's values in order; a named-parameter query is a bug in the SQL layer."""
        if isinstance(query.params, dict):
            style = PARAM_STYLES[self.dialect]
            raise ErpQueryError(f"{self.dialect} queries take positional ({style}) parameters")
        return query.params

    @abstractmethod
    async def ping(self) -> ServerInfo:
        """Connect, run a trivial query, return the server version and round-trip time."""

    def timeout_ms(self, timeout_ms: int | None) -> int:
        """The statement timeout for one call: ``timeout_ms``, else the connection's option."""
        return timeout_ms if timeout_ms is not None else self.options.statement_timeout_ms

    @abstractmethod
    async def describe(
        self, query: BoundQuery, *, sample: BoundQuery | None = None
    ) -> list[ColumnInfo]:
        """The output columns of ``query`` (which returns no rows), in order.

        ``sample`` is the same query without the no-rows wrapping; only drivers whose
        database reports no result types (SQLite) read it, at most 100 of its rows.
        """

    @abstractmethod
    def stream(
        self, query: BoundQuery, *, chunk_rows: int, timeout_ms: int | None = None
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Rows of ``query`` in chunks of at most ``chunk_rows``, memory bounded."""

    async def fetch(
        self, query: BoundQuery, *, timeout_ms: int | None = None
    ) -> list[tuple[Any, ...]]:
        """All rows of a small query (a page, a count)."""
        rows: list[tuple[Any, ...]] = []
        async for chunk in self.stream(query, chunk_rows=10_000, timeout_ms=timeout_ms):
            rows.extend(chunk)
        return rows

    async def fetch_arrow(self, query: BoundQuery) -> pa.Table | None:
        """The rows of a small query (a page) as native Arrow columns, or None when this
        driver (or this query's types and values) cannot build them exactly as
        :meth:`fetch` reads them; the caller then uses :meth:`fetch`.

        Columns: int64, float64, bool, date32, time64[us], binary, utf8, timestamp[us]
        (naive, as fetch's naive datetimes), timestamp[us, UTC]; utf8 marked with
        ``ARROW_TEXT_KIND`` for exact decimals' digits and JSON documents' text.
        """
        return None

    @abstractmethod
    async def close(self) -> None:
        """Close the pool."""
