"""``syncflow deliveries list|replay``: events on their way to destinations, and replay."""

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.commands.running import cli_settings, in_transaction
from syncflow.delivery import service
from syncflow.delivery.schemas import DeliveryPage, ReplayResult

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

    async def work(conn: AsyncConnection) -> DeliveryPage:
        return await service.list_deliveries(
            conn, destination=destination, entity=entity, state=state, page=1, page_size=limit
        )

    page = in_transaction(cli_settings(), work)
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

    async def work(conn: AsyncConnection) -> ReplayResult:
        return await service.replay(
            conn, destination=destination, entity=entity, state=state, uids=uid
        )

    typer.echo(f"syncflow: {in_transaction(cli_settings(), work).replayed} events replayed")
