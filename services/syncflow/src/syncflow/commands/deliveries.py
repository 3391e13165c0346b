"""``syncflow deliveries list|replay``: events on their way to destinations, and replay."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from bridge_core.cli import load_settings
from bridge_core.db.transaction import Database
from bridge_core.errors import BridgeError
from syncflow.databases import open_databases
from syncflow.delivery import service
from syncflow.delivery.schemas import DeliveryPage, ReplayResult
from syncflow.settings import Settings

app = typer.Typer(
    help="Events on their way to destinations: list them by state, replay them.",
    no_args_is_help=True,
)
console = Console()
STATES = ("pending", "delivering", "delivered", "dead")


def _checked_state(state: str | None) -> str | None:
    if state not in (None, *STATES):
        console.print(f"[red]error:[/red] state must be one of {', '.join(STATES)}")
        raise typer.Exit(2)
    return state


def _run[T](work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on SyncFlow's migrated database; a domain error exits with its message."""
    settings = load_settings(Settings, service="syncflow")

    async def run() -> T:
        async with open_databases(settings) as (database, _):
            return await work(database)

    try:
        return asyncio.run(run())
    except BridgeError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc


@app.command("list")
def list_deliveries(
    destination: Annotated[str | None, typer.Option(help="A destination's name or uid.")] = None,
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    state: Annotated[
        str | None, typer.Option(help="pending, delivering, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 50,
) -> None:
    """Deliveries, newest first: state, attempts and the last error."""
    _checked_state(state)

    async def work(database: Database) -> DeliveryPage:
        async with database.transaction() as conn:
            return await service.list_deliveries(
                conn, destination=destination, entity=entity, state=state, page=1, page_size=limit
            )

    page = _run(work)
    for item in page.items:
        error = f"  {item.last_error}" if item.last_error else ""
        typer.echo(
            f"{item.uid}  {item.destination}  {item.entity}  #{item.event_id}  {item.operation}  "
            f"{item.state}  attempts={len(item.attempts)}{error}"
        )
    typer.echo(f"{len(page.items)} of {page.total}")


@app.command("replay")
def replay(
    destination: Annotated[str, typer.Argument(help="The destination's name or uid.")],
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    state: Annotated[str | None, typer.Option(help="Only events in this state, e.g. dead.")] = None,
    uid: Annotated[list[UUID] | None, typer.Option(help="A delivery's uid (repeat).")] = None,
) -> None:
    """Send matching events again (same ids; waiting retries cancelled)."""
    _checked_state(state)

    async def work(database: Database) -> ReplayResult:
        async with database.transaction() as conn:
            return await service.replay(
                conn, destination=destination, entity=entity, state=state, uids=uid
            )

    typer.echo(f"syncflow: {_run(work).replayed} events replayed")
