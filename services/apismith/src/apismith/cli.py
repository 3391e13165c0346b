"""The ``apismith`` command: serve, migrate, users, tokens."""

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith import __version__
from apismith.auth import service as auth_service
from apismith.auth.schemas import ServiceTokenCreated
from apismith.auth.security import ROLES
from apismith.databases import open_migrated_database
from apismith.main import SERVICE, build_app
from apismith.settings import Settings
from apismith.tables import users
from bridge_core.auth.users.cli import users_commands
from bridge_core.cli import add_version_option, load_settings, run_or_exit
from bridge_core.http.server import serve as run_server
from bridge_core.http.server import serve_workers

app = typer.Typer(help="APISmith: governed REST APIs over ERP databases.", no_args_is_help=True)


def _settings() -> Settings:
    return load_settings(Settings, service=SERVICE)


add_version_option(app, program="apismith", version=__version__, help_text="APISmith command line.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8007]")] = None,
) -> None:
    """Serve the API (applies pending migrations first); APISMITH_WORKERS processes."""
    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if settings.workers == 1:
        run_server(build_app(settings), host=settings.host, port=settings.port)
        return
    # migrate once here, so the workers starting together find the database at head
    asyncio.run(_migrate(settings))
    serve_workers(
        "apismith.main:worker_app", host=settings.host, port=settings.port, workers=settings.workers
    )


async def _migrate(settings: Settings) -> None:
    async with open_migrated_database(settings):
        pass


@app.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    asyncio.run(_migrate(_settings()))
    typer.echo("apismith: database is at the latest migration")


tokens_app = typer.Typer(help="Manage long-lived service tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


class RoleName(StrEnum):
    admin = "admin"
    reader = "reader"


def _in_transaction[T](settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work(conn)`` in one transaction on the migrated database; a domain error exits 1."""

    async def run() -> T:
        async with open_migrated_database(settings) as database, database.transaction() as conn:
            return await work(conn)

    return run_or_exit(run(), say=lambda detail: typer.echo(f"apismith: {detail}", err=True))


app.add_typer(
    users_commands(
        program="apismith",
        table=users,
        roles=ROLES,
        default_role="reader",
        in_transaction=lambda work: _in_transaction(_settings(), work),
    ),
    name="users",
)


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. syncflow.")],
    role: Annotated[RoleName, typer.Option(help="admin or reader.")] = RoleName.reader,
) -> None:
    """Create a service token and print it (to stdout, once; only its hash is stored)."""
    settings = _settings()

    async def work(conn: AsyncConnection) -> ServiceTokenCreated:
        return await auth_service.create_service_token(
            conn=conn, settings=settings, name=name, role=role.value, created_by=None
        )

    created = _in_transaction(settings, work)
    typer.echo(
        f"apismith: service token {created.uid} ({created.name}, {created.role}) created; "
        "it is shown only now",
        err=True,
    )
    typer.echo(created.token)


def main() -> None:
    app()
