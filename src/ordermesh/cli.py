"""The `ordermesh` command: serve the API, migrate, load demo data, check the ledger, keys, CSV, worker."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh import __version__
from ordermesh.config import get_settings
from ordermesh.db import session_scope
from ordermesh.errors import DomainError
from ordermesh.locations.models import Location
from ordermesh.merchants import Role
from ordermesh.merchants.models import ApiKey, Merchant
from ordermesh.merchants.service import issue_api_key, revoke_api_key

app = typer.Typer(
    name="ordermesh",
    help="Ordermesh: open-source omnichannel order management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

console = Console()
err_console = Console(stderr=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a domain error into a readable message and exit code 1 instead of a traceback."""
    try:
        yield
    except DomainError as error:
        err_console.print(f"[bold red]error:[/] {error.detail}")
        for field_error in error.errors if len(error.errors) > 1 else []:
            err_console.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"ordermesh {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Ordermesh: orders, inventory, routing and fulfilment in one place.

    Every command reads its database from ORDERMESH_DATABASE_URL (default: sqlite:///./ordermesh.db).
    """


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development; one process).")] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    if workers > 1 and not reload and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each process counts on its own; a shared directory lets /metrics add them all up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ordermesh-metrics-")
    if reload and workers > 1:
        err_console.print("[yellow]--reload runs a single process; --workers is ignored[/]")
    console.print(
        f"Ordermesh {__version__} on http://{host}:{port} (docs at /docs), "
        f"database {_safe_url(get_settings().database_url)}"
    )
    uvicorn.run(
        "ordermesh.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_level="warning",
    )


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="Alembic revision to upgrade to.")] = "head") -> None:
    """Create or upgrade the database schema."""
    from ordermesh.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    console.print(f"[green]database at {_safe_url(url)} is at revision {revision}[/]")


# -- lookups by the codes people type ------------------------------------------------------------------


def _merchant_id(session: Session, code: str) -> int:
    merchant_id = session.scalar(select(Merchant.id).where(Merchant.code == code))
    if merchant_id is None:
        raise typer.BadParameter(f"no merchant with code {code!r}", param_hint="--merchant")
    return merchant_id


def _location_id(session: Session, code: str) -> int:
    location_id = session.scalar(select(Location.id).where(Location.code == code))
    if location_id is None:
        raise typer.BadParameter(f"no location with code {code!r}", param_hint="--location")
    return location_id


# -- keys ----------------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    role: Annotated[
        Role, typer.Option(help="operator: everything; merchant: one brand; warehouse: one site.")
    ],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    merchant: Annotated[str | None, typer.Option(help="Merchant code (merchant keys).")] = None,
    location: Annotated[str | None, typer.Option(help="Location code (warehouse keys).")] = None,
) -> None:
    """Create an API key and print it; it is shown this once and only its hash is kept."""
    if role is Role.merchant and not merchant:
        raise typer.BadParameter("a merchant key needs --merchant CODE", param_hint="--merchant")
    if role is Role.warehouse and not location:
        raise typer.BadParameter("a warehouse key needs --location CODE", param_hint="--location")
    with reported_errors(), session_scope() as session:
        merchant_id = _merchant_id(session, merchant) if merchant else None
        location_id = _location_id(session, location) if location else None
        key, raw = issue_api_key(
            session, role=role, name=name, merchant_id=merchant_id, location_id=location_id
        )
        key_id = key.id
    console.print(f"Created {role.value} key #{key_id} ({name}). Keep it now: it cannot be shown again.")
    console.print(raw, style="bold", soft_wrap=True, highlight=False)


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List API keys (their prefixes, never the keys)."""
    with session_scope() as session:
        statement = (
            select(ApiKey, Merchant.code, Location.code)
            .outerjoin(Merchant, Merchant.id == ApiKey.merchant_id)
            .outerjoin(Location, Location.id == ApiKey.location_id)
            .order_by(ApiKey.id)
        )
        if not all_keys:
            statement = statement.where(ApiKey.revoked_at.is_(None))
        rows = session.execute(statement).all()
    table = Table("id", "role", "name", "merchant", "location", "prefix", "created", "revoked")
    for key, merchant_code, location_code in rows:
        table.add_row(
            str(key.id),
            key.role,
            key.name,
            merchant_code or "",
            location_code or "",
            key.prefix + "…",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `keys list`).")]) -> None:
    """Revoke an API key; running servers stop accepting it within ORDERMESH_API_KEY_CACHE_SECONDS."""
    with reported_errors(), session_scope() as session:
        revoke_api_key(session, key_id=key_id)
    console.print(f"[green]revoked key #{key_id}[/]")
