"""`ordermesh users ...`: people who sign in to the dashboard."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ordermesh.merchants import Role
from ordermesh.terminal import console, location_id_of, merchant_id_of, reported_errors

# Each command imports the services it uses in its own body (see ordermesh.cli).

users_app = typer.Typer(help="Dashboard users: create, list.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Their email: what they sign in with.")],
    name: Annotated[str, typer.Option(help="Their name, as timelines show it.")],
    role: Annotated[
        Role,
        typer.Option(help="operator: everything; merchant: one brand; warehouse: an associate at one site."),
    ],
    merchant: Annotated[str | None, typer.Option(help="Merchant code (merchant users).")] = None,
    location: Annotated[str | None, typer.Option(help="Location code (warehouse associates).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a dashboard user with a password (prompted twice, or read from stdin)."""
    from ordermesh.db import session_scope
    from ordermesh.inputs import validated
    from ordermesh.users.schemas import UserIn
    from ordermesh.users.service import create_user

    password = _read_password(password_stdin)
    with reported_errors(), session_scope() as session:
        merchant_id = merchant_id_of(session, merchant) if merchant else None
        location_id = location_id_of(session, location) if location else None
        wanted = validated(
            UserIn,
            {
                "email": email,
                "name": name,
                "role": role.value,
                "merchant_id": merchant_id,
                "location_id": location_id,
            },
        )
        user = create_user(session, user=wanted, password=password)
        user_id = user.id
    console.print(f"[green]Created {role.value} user #{user_id} ({wanted.email}).[/]")


@users_app.command("list")
def users_list() -> None:
    """List the dashboard's users."""
    from rich.table import Table

    from ordermesh.db import session_scope
    from ordermesh.users.service import list_users

    table = Table("id", "email", "name", "role", "merchant", "location", "state")
    with session_scope() as session:
        for user in list_users(session):
            state = "disabled" if user.disabled_at else "active" if user.password_hash else "invited"
            table.add_row(
                str(user.id),
                user.email,
                user.name,
                user.role,
                str(user.merchant_id or ""),
                str(user.location_id or ""),
                state,
            )
    console.print(table)
