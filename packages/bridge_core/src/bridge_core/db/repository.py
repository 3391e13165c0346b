"""Repository base: repositories take the connection in their constructor."""

from sqlalchemy.ext.asyncio import AsyncConnection


class Repository:
    """Base for repositories; all SQL of a feature lives in its repository."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
