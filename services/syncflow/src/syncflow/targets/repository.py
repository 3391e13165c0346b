"""All DDL and catalog reads of target tables, on a connection to the TARGET database.

Every identifier reaches SQL quoted by SQLAlchemy's preparer (names are also
restricted to ``[a-z_][a-z0-9_]*`` before they get here); catalog lookups bind
schema and table names as parameters.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn, CreateSchema, CreateTable
from sqlalchemy.sql.elements import quoted_name

from bridge_core.db.repository import Repository
from bridge_core.errors import Conflict

_LOCK_NOT_AVAILABLE = "55P03"

_DESCRIBE = text(
    """
    SELECT c.relkind::text AS kind, a.attname::text AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           coalesce(c.reloptions, '{}')::text[] AS options
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attribute a
        ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = :schema AND c.relname = :table
    ORDER BY a.attnum
    """
)


@dataclass(frozen=True)
class ExistingRelation:
    """A relation found in the catalog: its kind (``r`` table, ``p`` partitioned, ...) and
    its columns with their ``format_type`` names, in column order."""

    kind: str
    columns: dict[str, str]
    # storage parameters as ``name=value`` (``fillfactor=90``)
    options: tuple[str, ...] = ()

    @property
    def is_table(self) -> bool:
        return self.kind in ("r", "p")


@contextmanager
def _lock_wait_as_conflict(qualified: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise Conflict(
                f"target table {qualified} is locked (is a sync running?); try again later"
            ) from exc
        raise


class TargetTableRepository(Repository):
    """Target tables in the target database."""

    async def limit_lock_wait(self, milliseconds: int) -> None:
        """Give up (409) instead of queueing behind a long lock, for this transaction only."""
        await self.conn.execute(text(f"SET LOCAL lock_timeout = {int(milliseconds)}"))

    async def describe(self, schema: str, table: str) -> ExistingRelation | None:
        """The relation ``schema.table`` with its columns, or ``None`` when there is none."""
        rows = (await self.conn.execute(_DESCRIBE, {"schema": schema, "table": table})).all()
        if not rows:
            return None
        return ExistingRelation(
            kind=str(rows[0].kind),
            columns={row.name: row.type for row in rows if row.name is not None},
            options=tuple(rows[0].options),
        )

    async def create_schema(self, schema: str) -> None:
        await self.conn.execute(CreateSchema(quoted_name(schema, quote=True), if_not_exists=True))

    async def create_table(self, table: Table) -> None:
        with _lock_wait_as_conflict(table.fullname):
            await self.conn.execute(CreateTable(table, if_not_exists=True))

    async def set_fillfactor(self, table: Table, fillfactor: int) -> None:
        """``ALTER TABLE ... SET (fillfactor = ...)``: pages written from now on keep room
        (a catalog change; the rows already stored stay where they are)."""
        qualified = self.conn.dialect.identifier_preparer.format_table(table)
        with _lock_wait_as_conflict(table.fullname):
            await self.conn.execute(
                text(f"ALTER TABLE {qualified} SET (fillfactor = {int(fillfactor)})")
            )

    async def add_column(self, table: Table, column: Column[Any]) -> None:
        """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (a new column is always nullable)."""
        dialect = self.conn.dialect
        qualified = dialect.identifier_preparer.format_table(table)
        definition = CreateColumn(column).compile(dialect=dialect)
        with _lock_wait_as_conflict(table.fullname):
            await self.conn.execute(
                text(f"ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS {definition}")
            )

    async def convert_hashes(self, schema: str, table: str) -> None:
        """Rewrite the hex-text hash columns as ``uuid`` and ``bytea`` (one table rewrite;
        the unique key index is rebuilt with it)."""
        preparer = self.conn.dialect.identifier_preparer
        qualified = f"{preparer.quote(schema)}.{preparer.quote(table)}"
        await self.conn.execute(
            text(
                f"ALTER TABLE {qualified} "
                "ALTER COLUMN _bridge_key_hash TYPE uuid USING _bridge_key_hash::uuid, "
                "ALTER COLUMN _bridge_data_hash TYPE bytea "
                "USING decode(_bridge_data_hash, 'hex')"
            )
        )
