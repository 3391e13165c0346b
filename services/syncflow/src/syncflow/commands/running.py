"""What every ``syncflow`` command runs on: its settings, and its migrated databases with a
domain error turned into an exit with the error's message."""

from collections.abc import Awaitable, Callable

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.cli import load_settings, run_or_exit
from bridge_core.db.transaction import Database
from syncflow.databases import open_databases
from syncflow.main import SERVICE
from syncflow.settings import Settings

errors = Console()


def cli_settings() -> Settings:
    return load_settings(Settings, service=SERVICE)


def with_databases[T](settings: Settings, work: Callable[[Database, Database], Awaitable[T]]) -> T:
    """Run ``work(own, target)`` on migrated databases; a domain error exits with its message."""

    async def run() -> T:
        async with open_databases(settings) as (database, target):
            return await work(database, target)

    return run_or_exit(run(), say=lambda detail: errors.print(f"[red]error:[/red] {detail}"))


def in_transaction[T](settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work(conn)`` in one transaction on SyncFlow's own database (as ``with_databases``)."""

    async def in_own_transaction(database: Database, target: Database) -> T:
        async with database.transaction() as conn:
            return await work(conn)

    return with_databases(settings, in_own_transaction)
