"""The ``syncflow`` command: serve, worker, migrate, sync, status, verify, demo, tokens."""

import asyncio
from typing import Annotated

import typer

from bridge_core.db.lifecycle import open_database
from bridge_core.http.server import serve as run_server
from bridge_core.logging import configure_logging
from syncflow import __version__
from syncflow.auth import service as auth_service
from syncflow.auth.schemas import TokenCreated
from syncflow.main import MIGRATIONS, SERVICE, build_app
from syncflow.settings import Settings

app = typer.Typer(
    help="SyncFlow: ERP data from APISmith into PostgreSQL, every batch tracked.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(
        service=SERVICE,
        level=settings.log_level,
        json=settings.log_json,
        log_dir=settings.data_dir / "logs" if settings.log_file else None,
    )
    return settings


def _version(value: bool) -> None:
    if value:
        typer.echo(f"syncflow {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """SyncFlow command line."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8008]")] = None,
) -> None:
    """Serve the API (applies pending migrations first)."""
    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    run_server(build_app(settings), host=settings.host, port=settings.port)


@app.command()
def migrate() -> None:
    """Apply pending database migrations and exit."""
    settings = _settings()

    async def run() -> None:
        async with open_database(
            settings.database_url,
            data_dir=settings.data_dir,
            database=settings.database_name,
            migrations=MIGRATIONS,
        ):
            pass

    asyncio.run(run())
    typer.echo("syncflow: database is at the latest migration")


tokens_app = typer.Typer(help="Manage operator tokens.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="Who or what uses the token, e.g. ops-alice.")],
) -> None:
    """Create an operator token and print it (to stdout, once; only its hash is stored)."""
    settings = _settings()

    async def run() -> TokenCreated:
        async with (
            open_database(
                settings.database_url,
                data_dir=settings.data_dir,
                database=settings.database_name,
                migrations=MIGRATIONS,
            ) as database,
            database.transaction() as conn,
        ):
            return await auth_service.create_token(
                conn, settings=settings, name=name, created_by="the command line"
            )

    created = asyncio.run(run())
    typer.echo(
        f"syncflow: operator token {created.uid} ({created.name}) created; "
        "it is shown once, store it now:",
        err=True,
    )
    typer.echo(created.token)


def main() -> None:
    app()
