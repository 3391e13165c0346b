"""The ``schedulehub-standin`` command."""

from typing import Annotated

import typer

from bridge_core.cli import add_version_option, load_settings
from bridge_core.http.server import serve as run_server
from schedulehub_standin import __version__
from schedulehub_standin.main import SERVICE, build_app
from schedulehub_standin.settings import Settings

app = typer.Typer(help="A ScheduleHub stand-in for tests, the demo and the bench.")

add_version_option(
    app, program=SERVICE, version=__version__, help_text="ScheduleHub stand-in command line."
)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8009]")] = None,
) -> None:
    """Make the tables when missing, then serve ScheduleHub's API, webhooks and control API."""
    settings = load_settings(Settings, service=SERVICE)
    if host:
        settings.host = host
    if port:
        settings.port = port
    run_server(build_app(settings), host=settings.host, port=settings.port)


def main() -> None:
    app()
