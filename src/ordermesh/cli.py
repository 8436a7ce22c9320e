"""The `ordermesh` command: serve the API, migrate, load demo data, check the ledger and who holds reserved
stock, keys, CSV, worker."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from ordermesh import __version__
from ordermesh.channels.cli import channels_app
from ordermesh.csvio import cli as csv_cli
from ordermesh.demo_data import DEFAULT_ORDERS
from ordermesh.merchants import Role
from ordermesh.planning import cli as planning_cli
from ordermesh.terminal import (
    console,
    err_console,
    location_id_of,
    merchant_id_of,
    progress_bar,
    reported_errors,
)
from ordermesh.users.cli import users_app

if TYPE_CHECKING:
    from ordermesh.demo import DemoResult

# Every command imports what it uses in its own body: `ordermesh --help` and the small commands then start
# without loading the API, the services, NumPy or SciPy (bench/cli_startup.py times them).

app = typer.Typer(
    name="ordermesh",
    help="Ordermesh: open-source omnichannel order management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(channels_app, name="channels")
app.add_typer(users_app, name="users")
app.command("import")(csv_cli.import_csv)
app.command("export")(csv_cli.export_csv)
app.command("forecast")(planning_cli.forecast)


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
    from pydantic import ValidationError

    from ordermesh.config import get_settings

    try:
        get_settings()
    except ValidationError as error:
        for problem in error.errors():
            field = str(problem["loc"][0]).upper()
            name = field if field.startswith("ORDERMESH_") else f"ORDERMESH_{field}"
            err_console.print(f"[red]{name}[/red]: {problem['msg']}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Server processes; one that dies is replaced, and all end with this one."),
    ] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development; one process).")] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs)."""
    import atexit
    import shutil
    import tempfile

    import uvicorn

    from ordermesh import serving
    from ordermesh.config import get_settings

    if workers > 1 and not reload and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each process counts on its own; a shared directory lets /metrics add them all up.
        metrics_dir = tempfile.mkdtemp(prefix="ordermesh-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    if reload and workers > 1:
        err_console.print("[yellow]--reload runs a single process; --workers is ignored[/]")
    console.print(
        f"Ordermesh {__version__} on http://{host}:{port} (docs at /docs), "
        f"database {_safe_url(get_settings().database_url)}"
    )
    if workers > 1 and not reload:
        # A listening socket per process, a worker that dies replaced (see ordermesh.serving).
        if serving.serve(host, port, workers, say=lambda line: err_console.print(f"[yellow]{line}[/]")) != 0:
            err_console.print("[red]a server process kept dying as it started; the others were stopped[/]")
            raise typer.Exit(1)
        return
    uvicorn.run(serving.APP, factory=True, host=host, port=port, reload=reload, log_level="warning")


def _safe_url(url: str) -> str:
    """The database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="Alembic revision to upgrade to.")] = "head") -> None:
    """Create or upgrade the database schema."""
    from ordermesh.config import get_settings
    from ordermesh.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    console.print(f"[green]database at {_safe_url(url)} is at revision {revision}[/]")


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
    from ordermesh.db import session_scope
    from ordermesh.merchants.service import issue_api_key

    if role is Role.merchant and not merchant:
        raise typer.BadParameter("a merchant key needs --merchant CODE", param_hint="--merchant")
    if role is Role.warehouse and not location:
        raise typer.BadParameter("a warehouse key needs --location CODE", param_hint="--location")
    with reported_errors(), session_scope() as session:
        merchant_id = merchant_id_of(session, merchant) if merchant else None
        location_id = location_id_of(session, location) if location else None
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
    from rich.table import Table
    from sqlalchemy import select

    from ordermesh.db import session_scope
    from ordermesh.locations.models import Location
    from ordermesh.merchants.models import ApiKey, Merchant

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
    from ordermesh.db import session_scope
    from ordermesh.merchants.service import revoke_api_key

    with reported_errors(), session_scope() as session:
        revoke_api_key(session, key_id=key_id)
    console.print(f"[green]revoked key #{key_id}[/]")


# -- ledger check --------------------------------------------------------------------------------------


@app.command()
def check() -> None:
    """Check that every inventory level equals the sum of its ledger movements, that its reserved units
    are what fulfillment orders and hand reservations hold there, and that its inbound units are what open
    purchase orders expect; exit 1 on any breach."""
    from rich.table import Table
    from sqlalchemy import func, select

    from ordermesh.catalog.models import Sku
    from ordermesh.db import session_scope
    from ordermesh.inbound.checks import inbound_breaches
    from ordermesh.inventory.checks import check_ledger
    from ordermesh.inventory.models import InventoryLevel
    from ordermesh.locations.models import Location
    from ordermesh.merchants.models import Merchant
    from ordermesh.orders.fulfillment_orders import reservation_breaches

    with session_scope() as session:
        breaches = check_ledger(session)
        unowned = reservation_breaches(session)
        inbound = inbound_breaches(session)
        skus = dict(session.execute(select(Sku.id, Sku.code)).all())
        locations = dict(session.execute(select(Location.id, Location.code)).all())
        merchants = dict(session.execute(select(Merchant.id, Merchant.code)).all())
        levels = session.scalar(select(func.count()).select_from(InventoryLevel)) or 0

    def names(merchant_id: int, sku_id: int, location_id: int) -> tuple[str, str, str]:
        return (
            merchants.get(merchant_id, str(merchant_id)),
            skus.get(sku_id, str(sku_id)),
            locations.get(location_id, str(location_id)),
        )

    if breaches:
        table = Table(
            "merchant", "sku", "location", "level on_hand/reserved", "ledger on_hand/reserved", "problem"
        )
        for breach in breaches:
            table.add_row(
                *names(breach.merchant_id, breach.sku_id, breach.location_id),
                f"{breach.level.on_hand}/{breach.level.reserved}" if breach.level else "(none)",
                f"{breach.ledger.on_hand}/{breach.ledger.reserved}" if breach.ledger else "(none)",
                "; ".join(breach.problems),
            )
        console.print(table)
        err_console.print(f"[bold red]{len(breaches)} inventory level(s) disagree with the ledger[/]")
    else:
        console.print(f"[bold green]ledger = levels[/]: {levels} inventory levels checked, no breach")
    if unowned:
        table = Table("merchant", "sku", "location", "reserved", "fulfillment orders", "by hand", "problem")
        for holders in unowned:
            table.add_row(
                *names(holders.merchant_id, holders.sku_id, holders.location_id),
                str(holders.reserved),
                str(holders.by_orders),
                str(holders.by_hand),
                holders.problem,
            )
        console.print(table)
        err_console.print(
            f"[bold red]{len(unowned)} inventory level(s) reserve other than their owners hold[/]"
        )
    else:
        console.print(
            "[bold green]reserved = owners[/]: every reserved unit is held by a fulfillment order or "
            "by hand under a reference"
        )
    if inbound:
        table = Table("merchant", "sku", "location", "level inbound (next date)", "open purchase orders")
        for off in inbound:
            table.add_row(
                *names(off.merchant_id, off.sku_id, off.location_id),
                f"{off.level[0]} ({off.level[1] or '-'})",
                f"{off.expected[0]} ({off.expected[1] or '-'})",
            )
        console.print(table)
        err_console.print(
            f"[bold red]{len(inbound)} inventory level(s) disagree with open purchase orders[/]"
        )
    else:
        console.print(
            "[bold green]inbound = open purchase orders[/]: every level's inbound units are expected"
        )
    if breaches or unowned or inbound:
        raise typer.Exit(1)


# -- the floor ----------------------------------------------------------------------------------------


@app.command()
def release(
    location: Annotated[
        str | None, typer.Option(help="Location code; every active location if omitted.")
    ] = None,
    release_all: Annotated[
        bool, typer.Option("--all", help="Release every eligible order, whatever the cut-off.")
    ] = False,
) -> None:
    """Release open fulfillment orders of confirmed, unheld orders placed before their location's cut-off."""
    from ordermesh.db import session_scope
    from ordermesh.fulfillment.scope import FloorScope
    from ordermesh.fulfillment.waves import release_due

    scope = FloorScope(merchant_id=None, location_id=None, floor=True, actor="operator:cli")
    with reported_errors(), session_scope() as session:
        location_id = location_id_of(session, location) if location else None
        released = release_due(session, scope=scope, location_id=location_id, release_all=release_all)
    console.print(f"[bold green]released[/] {len(released)} fulfillment order(s) to the floor")


# -- webhooks ------------------------------------------------------------------------------------------


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Stop when nothing is due instead of polling.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, help="Deliveries sent at the same time.")] = 8,
    poll_interval: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 0.5,
) -> None:
    """Deliver webhooks from the outbox, with retries and backoff, until Ctrl-C (or SIGTERM)."""
    import signal
    import threading
    from types import FrameType

    from ordermesh.channels.worker import run_channel_worker
    from ordermesh.config import get_settings
    from ordermesh.db import get_sessionmaker
    from ordermesh.events.worker import run_worker
    from ordermesh.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_json)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        err_console.print(f"stopping on {signal.Signals(signum).name}: finishing the deliveries in flight")
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Channel pushes and pulls run beside the webhook deliveries, on their own thread.
    channels = threading.Thread(
        target=run_channel_worker,
        args=(get_sessionmaker(),),
        kwargs={"once": once, "stop": stop, "poll_interval": poll_interval},
        name="ordermesh-channels",
    )
    channels.start()
    try:
        stats = run_worker(
            get_sessionmaker(),
            once=once,
            stop=stop,
            poll_interval=poll_interval,
            concurrency=concurrency,
            settings=settings,
        )
    finally:
        if not once:
            stop.set()
        channels.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = ", ".join(f"{name} {value}" for name, value in stats.as_dict().items())
    console.print(f"worker stopped: {summary}")


@app.command()
def replay(
    status: Annotated[
        str | None, typer.Option(help="Replay deliveries in this state: dead or delivered.")
    ] = None,
    subscription: Annotated[int | None, typer.Option(help="Only this webhook subscription's.")] = None,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's (code).")] = None,
) -> None:
    """Put webhook deliveries back to pending, attempts reset; the worker sends them again."""
    from ordermesh.db import session_scope
    from ordermesh.events.service import replay as replay_deliveries

    if status is None and subscription is None:
        status = "dead"
    with reported_errors(), session_scope() as session:
        merchant_id = merchant_id_of(session, merchant) if merchant else None
        count = replay_deliveries(
            session, merchant_id=merchant_id, status=status, subscription_id=subscription
        )
    console.print(f"[green]{count} deliveries back to pending[/]; run `ordermesh worker` to send them")


@app.command("prune-outbox")
def prune_outbox(
    older_than_days: Annotated[
        float, typer.Option(min=0, help="Keep messages younger than this many days.")
    ] = 30,
) -> None:
    """Delete outbox messages every reader is done with (delivered webhooks, read by the channel feed)."""
    from datetime import timedelta

    from ordermesh.base import utcnow
    from ordermesh.channels.worker import first_needed_message_id
    from ordermesh.db import session_scope
    from ordermesh.events.service import prune_outbox as prune_outbox_messages

    with reported_errors(), session_scope() as session:
        pruned = prune_outbox_messages(
            session,
            older_than=utcnow() - timedelta(days=older_than_days),
            keep_from_id=first_needed_message_id(session),
        )
    console.print(f"[green]{pruned} outbox messages pruned[/] (older than {older_than_days:g} days)")


# -- demo ----------------------------------------------------------------------------------------------


@app.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database already has merchants.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed loads the same data.")] = 7,
    orders: Annotated[int, typer.Option(min=0, max=5000, help="How many orders to place.")] = DEFAULT_ORDERS,
) -> None:
    """Load demo data: two brands, 50 SKUs, 7 US fulfilment centres, stock and ~200 real orders."""
    from ordermesh.db import session_scope
    from ordermesh.demo import has_merchants, load_demo, work_units
    from ordermesh.errors import Conflict

    with reported_errors(), session_scope() as session:
        if has_merchants(session):
            if if_empty:
                console.print("The database already has merchants: demo data not loaded (--if-empty).")
                return
            raise Conflict("the database already has merchants: load the demo into an empty database")
        with progress_bar("Loading demo data") as progress:
            task = progress.add_task("Loading demo data", total=work_units(orders))

            def advance(label: str, units: int) -> None:
                progress.update(task, description=label, advance=units)

            result = load_demo(session, seed=seed, orders=orders, progress=advance)
    _print_demo(result)


def _print_demo(result: DemoResult) -> None:
    from rich.table import Table

    statuses = ", ".join(f"{count} {status}" for status, count in result.statuses.items())
    console.print(
        f"[green]Demo data loaded[/]: {result.skus} SKUs, {result.locations} locations, "
        f"{result.units_received} units received, {result.orders} orders ({statuses})."
    )
    table = Table("for", "role", title="Demo API keys (shown once)")
    table.add_column("API key", no_wrap=True)  # whole, so that it can be copied
    for key in result.keys:
        table.add_row(key.label, key.role.value, key.key)
    console.print(table)
    users = Table("email", "password", "role", title="Demo dashboard users")
    for user in result.users:
        users.add_row(user.email, user.password, user.role.value)
    console.print(users)
    console.print("Try: curl -H 'Authorization: Bearer <key>' http://127.0.0.1:8000/v1/orders")
    console.print("Or sign in to the dashboard at http://127.0.0.1:8000/ as one of the users above.")


# -- routing -------------------------------------------------------------------------------------------


@app.command()
def reoptimise(
    apply: Annotated[bool, typer.Option("--apply", help="Move the reservations (default: dry run).")] = False,
    merchant: Annotated[str | None, typer.Option(help="One merchant's code (default: all).")] = None,
) -> None:
    """Re-plan confirmed orders not yet released to the floor, jointly; report packages and cost saved."""
    from rich.table import Table

    from ordermesh.db import session_scope
    from ordermesh.orders.reoptimise import reoptimise_orders

    with reported_errors(), session_scope() as session:
        scope = merchant_id_of(session, merchant) if merchant else None
        result = reoptimise_orders(session, merchant_scope=scope, apply_changes=apply, actor="cli:reoptimise")
    verb = "[green]applied[/]" if result.applied else "[yellow]dry run[/] (use --apply to move reservations)"
    console.print(
        f"Re-optimisation {verb}: {result.orders_considered} open orders considered, "
        f"{result.orders_improved} improved in {result.seconds:.2f} s."
    )
    table = Table("", "before", "after", "saved")
    table.add_row(
        "packages",
        str(result.packages_before),
        str(result.packages_after),
        str(result.packages_before - result.packages_after),
    )
    table.add_row("shipping cost", str(result.cost_before), str(result.cost_after), str(result.cost_saved))
    console.print(table)
