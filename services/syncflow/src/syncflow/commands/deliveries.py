"""``syncflow deliveries list|streams|replay``: events on their way to destinations, each
stream's progress, and replay."""

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from syncflow.commands.running import cli_settings, in_transaction, with_databases
from syncflow.delivery import service
from syncflow.delivery.schemas import DeliveryPage, DeliveryStream, ReplayResult

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


@app.command("streams")
def streams() -> None:
    """Each destination's delivery of each entity: how far it has read the outbox, what
    waits (not read yet, pending, in flight, dead) and the lag."""

    async def work(database: Database, target: Database) -> list[DeliveryStream]:
        async with database.transaction() as conn, target.transaction() as target_conn:
            return await service.streams(conn, target_conn)

    for stream in with_databases(cli_settings(), work):
        typer.echo(
            f"{stream.destination}  {stream.entity}  read_through={stream.read_through}  "
            f"unread={stream.unread}  pending={stream.pending}  delivering={stream.delivering}  "
            f"dead={stream.dead}  lag={stream.lag_seconds:.0f}s"
        )


@app.command("replay")
def replay(
    destination: Annotated[str, typer.Argument(help="The destination's name or uid.")],
    entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
    state: Annotated[str | None, typer.Option(help="Only events in this state, e.g. dead.")] = None,
    uid: Annotated[list[UUID] | None, typer.Option(help="A delivery's uid (repeat).")] = None,
    batch: Annotated[UUID | None, typer.Option(help="The events of this batch only.")] = None,
) -> None:
    """Send matching events again (same ids; waiting retries cancelled)."""
    _checked_state(state)

    async def work(conn: AsyncConnection) -> ReplayResult:
        return await service.replay(
            conn, destination=destination, entity=entity, state=state, uids=uid, batch_uid=batch
        )

    typer.echo(f"syncflow: {in_transaction(cli_settings(), work).replayed} events replayed")
