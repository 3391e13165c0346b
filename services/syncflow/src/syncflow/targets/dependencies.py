"""The request's connection to the target database (ScheduleHub's PostgreSQL).

When no ``target_database_url`` is set, the target is SyncFlow's own database and
this is the request's own connection: entity and DDL commit as one transaction.
Otherwise it is a transaction on the target database that commits when the
handler returns, BEFORE the request's own transaction commits (the dependency's
``function`` scope closes first). Order, and why: a failed DDL raises and rolls
both back; if the own commit then failed after the DDL committed, a table (or
column) would exist without the entity change, which is harmless because the
migration is idempotent and the next attempt finds it in place. The reverse order
could leave a saved entity whose table does not match it.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Connection, get_database
from syncflow.databases import get_target_database

__all__ = ["TargetConnection"]


async def _target_connection(request: Request, conn: Connection) -> AsyncIterator[AsyncConnection]:
    target = get_target_database(request)
    if target is get_database(request):
        yield conn
        return
    async with target.transaction() as target_conn:
        yield target_conn


TargetConnection = Annotated[AsyncConnection, Depends(_target_connection, scope="function")]
