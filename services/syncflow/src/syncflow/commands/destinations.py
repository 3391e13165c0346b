"""``syncflow destinations list|add|update|pause|resume|delete``: where changed rows are
delivered (ScheduleHub, webhooks); credentials come from the environment, never echoed."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.commands.running import cli_settings, in_transaction
from syncflow.destinations import service as destination_service
from syncflow.destinations.schemas import (
    DestinationCreate,
    DestinationKind,
    DestinationOut,
    DestinationUpdate,
)
from syncflow.settings import Settings

app = typer.Typer(
    help="Destinations that changed rows are delivered to (ScheduleHub, webhooks).",
    no_args_is_help=True,
)
console = Console()


def _validated[T: BaseModel](model: type[T], values: dict[str, Any]) -> T:
    """The command's options as ``model``; a clear error and exit 2 when they do not fit."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        console.print(f"[red]error:[/red] {problems}")
        raise typer.Exit(2) from exc


def _change(
    name: str,
    action: Callable[[AsyncConnection, Settings, UUID], Awaitable[DestinationOut]],
) -> None:
    """Find the destination by name or uid, change it, print what it is now."""
    settings = cli_settings()

    async def work(conn: AsyncConnection) -> DestinationOut:
        row = await destination_service.find_destination(conn, name_or_uid=name)
        return await action(conn, settings, row["uid"])

    typer.echo(_destination_line(in_transaction(settings, work)))


def _destination_line(destination: DestinationOut) -> str:
    state = f"paused: {destination.pause_reason}" if destination.paused else "active"
    entities = ", ".join(destination.entities) or "all entities"
    return f"{destination.name}  {destination.kind}  {destination.url}  ({entities}; {state})"


@app.command("list")
def list_destinations() -> None:
    """Every destination with its state (never a credential)."""
    settings = cli_settings()

    async def work(conn: AsyncConnection) -> list[DestinationOut]:
        found: list[DestinationOut] = []
        page = 1
        while True:
            listing = await destination_service.list_destinations(
                conn, settings=settings, page=page, page_size=200
            )
            found.extend(listing.items)
            if page * listing.page_size >= listing.total:
                return found
            page += 1

    for destination in in_transaction(settings, work):
        typer.echo(_destination_line(destination))


@app.command("add")
def add_destination(
    name: Annotated[str, typer.Argument(help="The destination's name.")],
    kind: Annotated[DestinationKind, typer.Option(help="schedulehub or webhook.")],
    url: Annotated[str, typer.Option(help="ScheduleHub's root URL or the webhook endpoint.")],
    entity: Annotated[
        list[str] | None, typer.Option(help="An entity to deliver (repeat; none = all).")
    ] = None,
    api_prefix: Annotated[str, typer.Option(help="ScheduleHub's API prefix.")] = "/api/v1",
    username: Annotated[str | None, typer.Option(help="ScheduleHub user.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="SYNCFLOW_DESTINATION_PASSWORD", help="ScheduleHub password."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="SYNCFLOW_DESTINATION_TOKEN", help="ScheduleHub token.")
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            envvar="SYNCFLOW_DESTINATION_SECRETS", help="A webhook secret 'whsec_...' (repeat)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Events per request.")] = 500,
    timeout_s: Annotated[int, typer.Option(help="Seconds per request.")] = 30,
) -> None:
    """Add a destination; pass credentials through the environment, not the command line."""
    settings = cli_settings()
    body = _validated(
        DestinationCreate,
        {
            "name": name,
            "kind": kind,
            "url": url,
            "entities": entity or [],
            "api_prefix": api_prefix,
            "username": username,
            "password": password,
            "token": token,
            "secrets": secret or [],
            "batch_size": batch_size,
            "timeout_s": timeout_s,
        },
    )

    async def work(conn: AsyncConnection) -> DestinationOut:
        return await destination_service.create_destination(conn, settings=settings, body=body)

    typer.echo(_destination_line(in_transaction(settings, work)))


@app.command("update")
def update_destination(
    name: Annotated[str, typer.Argument(help="The destination's name or uid.")],
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    entity: Annotated[
        list[str] | None, typer.Option(help="An entity to deliver (repeat; replaces the list).")
    ] = None,
    entity_path: Annotated[
        list[str] | None,
        typer.Option(help="ENTITY=PATH: ScheduleHub's path of an entity (repeat; replaces)."),
    ] = None,
    api_prefix: Annotated[str | None, typer.Option(help="ScheduleHub's API prefix.")] = None,
    username: Annotated[str | None, typer.Option(help="ScheduleHub user.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="SYNCFLOW_DESTINATION_PASSWORD", help="A new ScheduleHub password."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="SYNCFLOW_DESTINATION_TOKEN", help="A new ScheduleHub token."),
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            envvar="SYNCFLOW_DESTINATION_SECRETS",
            help="The webhook secrets from now on, old and new during a rotation (repeat).",
        ),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Events per request.")] = None,
    timeout_s: Annotated[int | None, typer.Option(help="Seconds per request.")] = None,
) -> None:
    """Change what is given (settings, credentials, entities); the rest stays. Credentials
    come from the environment as for ``add``: a variable set there is applied too."""
    paths = dict(item.partition("=")[::2] for item in entity_path or [])
    given = {
        "url": url,
        "entities": entity,
        "entity_paths": paths or None,
        "api_prefix": api_prefix,
        "username": username,
        "password": password,
        "token": token,
        "secrets": secret,
        "batch_size": batch_size,
        "timeout_s": timeout_s,
    }
    body = _validated(
        DestinationUpdate, {key: value for key, value in given.items() if value is not None}
    )
    _change(
        name,
        lambda conn, settings, uid: destination_service.update_destination(
            conn, settings=settings, uid=uid, body=body
        ),
    )


@app.command("pause")
def pause_destination(
    name: Annotated[str, typer.Argument(help="The destination's name or uid.")],
    reason: Annotated[str, typer.Option(help="Why; shown until it is resumed.")] = (
        "paused by an operator"
    ),
) -> None:
    """Stop delivering to a destination."""
    _change(
        name,
        lambda conn, settings, uid: destination_service.pause_destination(
            conn, settings=settings, uid=uid, reason=reason
        ),
    )


@app.command("resume")
def resume_destination(
    name: Annotated[str, typer.Argument(help="The destination's name or uid.")],
) -> None:
    """Deliver to a paused destination again."""
    _change(
        name,
        lambda conn, settings, uid: destination_service.resume_destination(
            conn, settings=settings, uid=uid
        ),
    )


@app.command("delete")
def delete_destination(
    name: Annotated[str, typer.Argument(help="The destination's name or uid.")],
) -> None:
    """Delete a destination."""
    settings = cli_settings()

    async def work(conn: AsyncConnection) -> None:
        row = await destination_service.find_destination(conn, name_or_uid=name)
        await destination_service.delete_destination(conn, uid=row["uid"])

    in_transaction(settings, work)
    typer.echo(f"syncflow: destination {name} deleted")
