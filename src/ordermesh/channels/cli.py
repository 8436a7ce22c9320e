"""`ordermesh channels ...`: connect, map listings, pull, reconcile, health, dead letters, CSV orders."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ordermesh.orders import SalesChannel
from ordermesh.terminal import console, err_console, merchant_id_of

if TYPE_CHECKING:
    from ordermesh.errors import DomainError

# Each command imports the services it uses in its own body, so that `ordermesh --help` and the other
# commands start without loading them (see ordermesh.cli).

channels_app = typer.Typer(
    help="Sales channels: connect, map listings, pull, push stock, health.", no_args_is_help=True
)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        pairs[key.strip()] = rest.strip()
    return pairs


def _fail(error: DomainError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {error.detail}")
    return typer.Exit(1)


@channels_app.command("connect")
def connect(
    merchant: Annotated[str, typer.Option(help="Merchant code.")],
    kind: Annotated[SalesChannel, typer.Option(help="The channel's kind.")],
    name: Annotated[str, typer.Option(help="A name for this connection.")],
    base_url: Annotated[str | None, typer.Option(help="API base URL (default: the real service).")] = None,
    credential: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE, stored encrypted (repeat).")
    ] = None,
    setting: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE, e.g. location_id=123 (repeat).")
    ] = None,
    location: Annotated[
        list[str] | None, typer.Option(help="Location code feeding its stock (repeat).")
    ] = None,
    buffer: Annotated[int, typer.Option(min=0, help="Units held back from the channel.")] = 0,
) -> None:
    """Connect a channel."""
    from sqlalchemy import select

    from ordermesh.channels import connections
    from ordermesh.channels.schemas import ChannelCreate
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError
    from ordermesh.locations.models import Location

    try:
        with session_scope() as session:
            location_ids = [
                session.scalar(select(Location.id).where(Location.code == code)) or 0
                for code in location or []
            ]
            data = ChannelCreate(
                kind=kind,
                name=name,
                base_url=base_url,
                credentials=_pairs(credential, "--credential"),
                settings=_pairs(setting, "--setting"),
                location_ids=location_ids,
                stock_buffer=buffer,
            )
            channel = connections.create_channel(
                session, merchant_id=merchant_id_of(session, merchant), data=data
            )
            channel_id = channel.id
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"[green]connected channel #{channel_id}[/] ({kind.value}, {name})")


@channels_app.command("list")
def list_channels() -> None:
    """List the channels (credentials never shown)."""
    from rich.table import Table
    from sqlalchemy import select

    from ordermesh.channels.models import Channel
    from ordermesh.db import session_scope
    from ordermesh.merchants.models import Merchant

    with session_scope() as session:
        rows = session.execute(select(Channel, Merchant.code).join(Merchant).order_by(Channel.id)).all()
        table = Table("id", "merchant", "kind", "name", "base url", "buffer", "active", "last error")
        for channel, code in rows:
            table.add_row(
                str(channel.id),
                code,
                channel.kind,
                channel.name,
                channel.base_url,
                str(channel.stock_buffer),
                "yes" if channel.active else "no",
                (channel.last_error or "")[:60],
            )
    console.print(table)


@channels_app.command("map")
def map_listing(
    channel_id: Annotated[int, typer.Argument(help="The channel's id.")],
    sku: Annotated[str, typer.Option(help="Our SKU code.")],
    channel_sku: Annotated[str, typer.Option(help="The channel's SKU for it.")],
    external_id: Annotated[
        list[str] | None, typer.Option("--id", help="KEY=VALUE channel id (repeat).")
    ] = None,
) -> None:
    """Map one of our SKUs to the channel's listing (and push its stock)."""
    from ordermesh.channels import connections, held
    from ordermesh.channels.schemas import ListingIn
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError

    item = ListingIn(sku=sku, channel_sku=channel_sku, external_ids=_pairs(external_id, "--id"))
    try:
        with session_scope() as session:
            (listing,) = connections.upsert_listings(
                session, merchant_scope=None, channel_id=channel_id, items=[item]
            )
            resolved = held.resolve_held_orders(
                session, merchant_id=listing.merchant_id, actor="cli", channel_id=channel_id
            )
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"[green]mapped {sku} to {channel_sku}[/] on channel #{channel_id}")
    if resolved:
        console.print(f"{len(resolved)} held order(s) resolved: their lines are reserved and routed")


@channels_app.command("pull")
def pull(
    channel_id: Annotated[int, typer.Argument(help="The channel's id.")],
    since: Annotated[
        datetime | None, typer.Option(help="ISO time (UTC); default: where the last pull ended.")
    ] = None,
) -> None:
    """Import the orders changed on the channel since a time."""
    from datetime import UTC

    from ordermesh.channels.sync import pull_orders
    from ordermesh.db import get_sessionmaker
    from ordermesh.errors import DomainError

    try:
        report = pull_orders(
            get_sessionmaker(),
            channel_id=channel_id,
            since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        )
    except DomainError as error:
        raise _fail(error) from None
    console.print(
        f"fetched {report.fetched}: {report.created} created, {report.held} held, "
        f"{report.duplicates} already here, {report.skipped} not taken now, {report.errors} errors"
    )
    if report.error:
        err_console.print(f"[bold red]the pull stopped:[/] {report.error}")
        raise typer.Exit(1)


@channels_app.command("reconcile")
def reconcile(
    channel_id: Annotated[int | None, typer.Argument(help="One channel (default: all).")] = None,
) -> None:
    """Queue a stock push for every listing; `ordermesh worker` sends them."""
    from ordermesh.channels import connections
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError

    try:
        with session_scope() as session:
            count = connections.reconcile(session, merchant_scope=None, channel_id=channel_id)
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"[green]{count} listings queued[/]; run `ordermesh worker` to push them")


@channels_app.command("rekey")
def rekey() -> None:
    """Store every channel's credentials in the form the current ORDERMESH_SECRET_KEY writes (credentials
    encrypted under an unstretched passphrase are read as they are and written stretched with scrypt)."""
    from ordermesh.channels import connections
    from ordermesh.db import session_scope

    with session_scope() as session:
        count = connections.rekey_credentials(session)
    console.print(f"[green]{count} channels' credentials stored anew[/]")


@channels_app.command("health")
def health(channel_id: Annotated[int, typer.Argument(help="The channel's id.")]) -> None:
    """Last pull and push, last error, pending pushes, dead letters, orders not taken now."""
    from rich.table import Table

    from ordermesh.channels import connections
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError

    try:
        with session_scope() as session:
            data = connections.channel_health(session, merchant_scope=None, channel_id=channel_id)
    except DomainError as error:
        raise _fail(error) from None
    table = Table("", "")
    for key, value in data.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


@channels_app.command("dead-letters")
def dead_letters(channel_id: Annotated[int, typer.Argument(help="The channel's id.")]) -> None:
    """Pushes the worker gave up on."""
    from rich.table import Table
    from sqlalchemy import select

    from ordermesh.channels.models import ChannelPush
    from ordermesh.db import session_scope

    with session_scope() as session:
        rows = session.scalars(
            select(ChannelPush).where(ChannelPush.channel_id == channel_id, ChannelPush.status == "dead")
        ).all()
        table = Table("id", "kind", "key", "attempts", "status code", "error")
        for push in rows:
            table.add_row(
                str(push.id),
                push.kind,
                push.dedupe_key,
                str(push.attempts),
                str(push.last_status_code or ""),
                (push.last_error or "")[:80],
            )
    console.print(table)


@channels_app.command("replay")
def replay(
    channel_id: Annotated[int, typer.Argument(help="The channel's id.")],
    push_id: Annotated[
        list[int] | None, typer.Option("--id", help="Only these dead letters (repeat).")
    ] = None,
) -> None:
    """Send the channel's dead letters again."""
    from ordermesh.channels import connections
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError

    try:
        with session_scope() as session:
            count = connections.replay_dead_letters(
                session, merchant_scope=None, channel_id=channel_id, ids=push_id
            )
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"[green]{count} pushes back to pending[/]; run `ordermesh worker` to send them")


@channels_app.command("rotate-secret")
def rotate_secret(
    channel_id: Annotated[int, typer.Argument(help="The channel's id.")],
    secret: Annotated[str, typer.Option(help="The new webhook secret.")],
    grace_hours: Annotated[float, typer.Option(min=0, help="How long the old one is still accepted.")] = 24,
) -> None:
    """Install a new webhook secret, keeping the old one valid for a grace period."""
    from ordermesh.channels import connections
    from ordermesh.db import session_scope
    from ordermesh.errors import DomainError

    try:
        with session_scope() as session:
            connections.rotate_webhook_secret(
                session,
                merchant_scope=None,
                channel_id=channel_id,
                new_secret=secret,
                grace_hours=grace_hours,
            )
    except DomainError as error:
        raise _fail(error) from None
    console.print(f"[green]secret rotated[/]; the old one is accepted for {grace_hours:g} more hours")


@channels_app.command("import-orders")
def import_orders(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")],
    merchant: Annotated[str, typer.Option(help="Merchant code the orders belong to.")],
) -> None:
    """Import wholesale, retail and B2B orders from CSV: valid orders land, bad rows are listed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ordermesh.channels.csv_orders import import_orders_csv
    from ordermesh.db import get_sessionmaker, session_scope

    text = file.read_text(encoding="utf-8-sig")
    with session_scope() as session:
        merchant_id = merchant_id_of(session, merchant)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("Importing orders", total=max(text.count("\n") - 1, 1))
        report = import_orders_csv(
            get_sessionmaker(),
            merchant_id=merchant_id,
            text=text,
            actor="cli:import-orders",
            progress=lambda rows: progress.advance(task, rows),
        )
    console.print(
        f"{file}: {report.created} orders created, {report.existing} already here, "
        f"{report.rejected_rows} of {report.rows} rows rejected"
    )
    if report.errors:
        table = Table("row", "column", "problem", title="Rejected rows")
        for error in report.errors:
            table.add_row(str(error.row), error.column, error.message)
        console.print(table)
        raise typer.Exit(1)
