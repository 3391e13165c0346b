"""Transactions at the edge: a request dependency, a job or a CLI block commits or rolls back.

Services and repositories receive an ``AsyncConnection`` already inside a
transaction and never commit themselves.
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class Database:
    """Owns one async engine; hands out transactional connections."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> float:
        """Round-trip ``SELECT 1``; return the latency in milliseconds."""
        start = time.perf_counter()
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return (time.perf_counter() - start) * 1000

    async def dispose(self) -> None:
        await self.engine.dispose()


def get_database(request: Request) -> Database:
    """The app's :class:`Database`, set by the lifespan."""
    database: Database = request.app.state.database
    return database


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """Request dependency: one transaction per request, committed when the handler returns."""
    async with get_database(request).transaction() as conn:
        yield conn


# scope="function": the transaction commits before the response is sent, so a failed
# commit is a 500 the client sees, never a success that was not stored
Connection = Annotated[AsyncConnection, Depends(get_connection, scope="function")]
