"""The asyncpg connection under a SQLAlchemy connection, for COPY and array-heavy SQL."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def asyncpg_connection(conn: AsyncConnection) -> Any:
    """The driver connection of ``conn``, inside ``conn``'s transaction.

    SQLAlchemy opens the database transaction lazily, on its first statement; work
    done straight on the driver before that would run outside it (and a temporary
    table ``ON COMMIT DROP`` would vanish at once), so the transaction is started here.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.in_transaction() and not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver
