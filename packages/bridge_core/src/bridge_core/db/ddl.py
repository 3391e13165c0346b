"""One DDL writer at a time per database.

``CREATE SCHEMA IF NOT EXISTS`` and ``CREATE TABLE IF NOT EXISTS`` are not safe under
concurrency in PostgreSQL: two transactions that both find the name free both insert it
into the catalog, and the second fails with a unique violation on ``pg_namespace`` or
``pg_type``. Every transaction that may create a relation takes this lock first and
checks again what exists after it has the lock.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# a fixed key in PostgreSQL's advisory lock space, shared by every bridge service
DDL_LOCK_KEY = 0x62726467_64646C  # "brdgddl"


async def lock_ddl(conn: AsyncConnection) -> None:
    """Hold the database's DDL lock until ``conn``'s transaction ends."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK_KEY})
