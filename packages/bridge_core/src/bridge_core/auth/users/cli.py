"""``<service> users create``: the users command of a service's command line."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import typer
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.auth.users import service
from bridge_core.auth.users.router import one_of

__all__ = ["users_commands"]

InTransaction = Callable[[Callable[[AsyncConnection], Awaitable[service.User]]], service.User]
"""Runs ``work(conn)`` in one transaction on the service's database (settings read then)."""


def users_commands(
    *,
    program: str,
    table: Table,
    roles: Sequence[str],
    default_role: str,
    in_transaction: InTransaction,
) -> typer.Typer:
    """The ``users`` command group of ``program``, over its ``table`` and ``roles``."""
    users_app = typer.Typer(help="Manage users (the first admin, too).", no_args_is_help=True)

    def one_of_the_roles(role: str) -> str:
        if role not in roles:
            raise typer.BadParameter(f"{role!r} is not one of {', '.join(map(repr, roles))}.")
        return role

    @users_app.command("create")
    def create_user(
        username: Annotated[str, typer.Option(help="Sign-in name.")],
        password: Annotated[
            str,
            typer.Option(
                prompt=True,
                hide_input=True,
                confirmation_prompt=True,
                help="Password (asked for when omitted, which keeps it out of shell history).",
            ),
        ],
        role: Annotated[
            str,
            typer.Option(callback=one_of_the_roles, help=f"{one_of(roles)}."),
        ] = default_role,
    ) -> None:
        """Create a user, e.g. the first admin."""

        async def work(conn: AsyncConnection) -> service.User:
            return await service.create_user(
                conn=conn, table=table, username=username, password=password, role=role
            )

        user = in_transaction(work)
        typer.echo(f"{program}: created {user.role} user {user.username} ({user.uid})")

    return users_app
