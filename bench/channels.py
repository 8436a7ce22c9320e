"""Channel benchmark: webhook intake against API intake, statements per webhook, and stock fan-out.

    .venv/bin/python bench/channels.py [--url URL] [--seconds 15] [--clients 16] [--changes 1000]

See bench/README.md ("Channels"). In short:
1. Intake side by side, on PostgreSQL: one server (uvicorn, --workers), wrk (bench/replay.lua, --clients
   connections) posting first API orders (POST /v1/orders, three lines) then Shopify orders/create
   webhooks (order_full.json, three lines, distinct ids, signed) for --seconds each, after a short warm-up
   of each. Orders/s, latency, CPU per order, and every 2xx order counted in the database; the webhooks'
   rate over the API's is the figure (target >= 0.8).
2. Statements per webhook: --count webhooks taken in-process, one at a time and in batches of --batch,
   every statement and transaction counted.
3. Stock fan-out: a fake Shopify on 127.0.0.1 and the channel worker (in this process) run while --changes
   stock changes to one SKU are committed one by one; the pushes the burst caused (target <= 3), the
   time from each change's commit to the fake receiving a figure that includes it (p99 target <= 2 s), and
   the last figure pushed against Ordermesh's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The fake Shopify listens on 127.0.0.1: let outbound calls reach it, as the test suite does.
os.environ.setdefault("ORDERMESH_OUTBOUND_ALLOW_PRIVATE", "1")

from bench.intake import cpu_seconds, ensure_wrk, free_port  # noqa: E402
from tests.fake_channels import FakeChannelServer  # noqa: E402
from tests.fake_shopify import install_shopify  # noqa: E402
from tests.payloads import FIXTURES  # noqa: E402

from ordermesh.auth import create_api_key  # noqa: E402
from ordermesh.catalog.models import Sku  # noqa: E402
from ordermesh.channels.connections import create_channel, upsert_listings  # noqa: E402
from ordermesh.channels.models import Channel  # noqa: E402
from ordermesh.channels.schemas import ChannelCreate, ListingIn  # noqa: E402
from ordermesh.channels.shopify import sign  # noqa: E402
from ordermesh.channels.webhooks import Delivery, WebhookOutcome, receive_webhooks  # noqa: E402
from ordermesh.channels.worker import ChannelWorkerSettings, run_channel_worker  # noqa: E402
from ordermesh.db import make_engine  # noqa: E402
from ordermesh.inventory import MovementReason  # noqa: E402
from ordermesh.inventory.ledger import Movement, apply  # noqa: E402
from ordermesh.locations.models import Location, MerchantLocation  # noqa: E402
from ordermesh.merchants import Role  # noqa: E402
from ordermesh.merchants.models import Merchant  # noqa: E402
from ordermesh.migrate import upgrade  # noqa: E402
from ordermesh.orders.models import Order  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ordermesh_bench_channels"
WRK_THREADS = 2
RATIO_TARGET = 0.8  # webhook intake against API intake
PUSH_TARGET = 3  # pushes for the burst of stock changes
P99_TARGET_S = 2.0  # change-to-channel
SECRET = "bench-webhook-secret"
TOKEN = "bench-token"
SKUS = ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK")
LOCATIONS = [
    ("NJ1", "Edison", "NJ", "08817", 40.5187, -74.3932),
    ("TX1", "Dallas", "TX", "75201", 32.7876, -96.7994),
    ("NV1", "Reno", "NV", "89502", 39.4975, -119.7761),
]


def fresh_database(url: str) -> None:
    parsed = make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists.first():
            connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    upgrade(url)


def seed(factory: sessionmaker[Session], base_url: str) -> tuple[int, int, str]:
    """One merchant, three DCs stocking three listed SKUs, a Shopify channel, a key."""
    with factory() as session, session.begin():
        merchant = Merchant(code="bench", name="Bench Brand")
        session.add(merchant)
        session.flush()
        location_ids = []
        for code, city, region, postal, lat, lon in LOCATIONS:
            location = Location(
                code=code,
                name=code,
                kind="warehouse",
                address1="1 Way",
                city=city,
                region=region,
                postal_code=postal,
                country="US",
                latitude=lat,
                longitude=lon,
                timezone="America/New_York",
                cutoff_time=clock_time(15, 0),
            )
            session.add(location)
            session.flush()
            location_ids.append(location.id)
            session.add(MerchantLocation(merchant_id=merchant.id, location_id=location.id))
        skus = [Sku(merchant_id=merchant.id, code=code, name=code, price=Decimal("199.00")) for code in SKUS]
        session.add_all(skus)
        session.flush()
        apply(
            session,
            merchant_id=merchant.id,
            movements=[
                Movement(s.id, loc, MovementReason.receive, delta_on_hand=1_000_000)
                for s in skus
                for loc in location_ids
            ],
            actor="bench",
        )
        channel = create_channel(
            session,
            merchant_id=merchant.id,
            data=ChannelCreate(
                kind="shopify",
                name="bench shop",
                base_url=base_url,
                credentials={"access_token": TOKEN, "webhook_secret": SECRET},
                settings={"location_id": 1},
            ),
        )
        upsert_listings(
            session,
            merchant_scope=merchant.id,
            channel_id=channel.id,
            items=[
                ListingIn(sku=code, channel_sku=code, external_ids={"inventory_item_id": str(900 + n)})
                for n, code in enumerate(SKUS)
            ],
        )
        _, key = create_api_key(session, role=Role.merchant, name="bench", merchant_id=merchant.id)
        return merchant.id, channel.id, key


def signed_payloads(count: int, first_id: int = 10_000_000) -> list[tuple[bytes, dict[str, str]]]:
    template = json.loads((FIXTURES / "channels" / "shopify" / "order_full.json").read_text())
    payloads = []
    for n in range(count):
        template["id"], template["name"] = first_id + n, f"#B{first_id + n}"
        body = json.dumps(template).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign(SECRET, body),
            "X-Shopify-Webhook-Id": f"bench-{first_id + n}",
        }
        payloads.append((body, headers))
    return payloads


def run_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ORDERMESH_DATABASE_URL": url,
        "ORDERMESH_LOG_LEVEL": "WARNING",
        "ORDERMESH_DB_POOL_SIZE": "10",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "ordermesh.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


@dataclass(frozen=True)
class Replayed:
    """What wrk measured replaying one kind of request (see replay.lua)."""

    seconds: float
    requests: int
    created: int
    other_2xx: int
    failed: int
    p50_ms: float
    p99_ms: float
    server_cpu_s: float  # the server's processes (user + system) during the run

    @property
    def per_second(self) -> float:
        return self.created / self.seconds


def request_files(folder: Path, name: str, requests: list[tuple[str, dict[str, str], bytes]]) -> str:
    """Write the requests for replay.lua, half to each wrk thread's file; the files' prefix."""
    prefix = str(folder / name)
    for thread in range(WRK_THREADS):
        with open(f"{prefix}-{thread + 1}.txt", "wb") as out:
            for path, headers, body in requests[thread::WRK_THREADS]:
                fields = [path, *(f"{k}: {v}" for k, v in headers.items())]
                out.write("\t".join(fields).encode() + b"\t" + body + b"\n")
    return prefix


def replay(wrk: str, port: int, prefix: str, *, seconds: float, clients: int, server_pid: int) -> Replayed:
    command = [wrk, "-t", str(WRK_THREADS), "-c", str(clients), "-d", f"{seconds:.0f}s", "--timeout", "30s"]
    command += ["-s", str(ROOT / "bench" / "replay.lua"), f"http://127.0.0.1:{port}", "--", prefix]
    # The server's CPU only: PostgreSQL serves other databases on a shared machine too.
    server_before = cpu_seconds(session_id=server_pid)
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    server_cpu = cpu_seconds(session_id=server_pid) - server_before
    if finished.stderr.strip():
        print("wrk stderr:\n" + finished.stderr.strip(), flush=True)
    match = re.search(r"^REPLAY-RESULT (\{.*\})$", finished.stdout, re.MULTILINE)
    if finished.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({finished.returncode}):\n{finished.stdout}\n{finished.stderr}")
    figures = json.loads(match.group(1))
    return Replayed(
        seconds=figures["duration_us"] / 1e6,
        requests=figures["requests"],
        created=figures["created"],
        other_2xx=figures["other_2xx"],
        failed=figures["non_2xx"] + figures["socket_errors"] + figures["timeouts"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu_s=server_cpu,
    )


def api_requests(count: int, api_key: str, run: str) -> list[tuple[str, dict[str, str], bytes]]:
    """POST /v1/orders of the webhooks' three SKUs (one each) to the webhooks' address."""
    template = json.loads((FIXTURES / "channels" / "shopify" / "order_full.json").read_text())
    address = template["shipping_address"]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    requests = []
    for n in range(count):
        body = {
            "external_id": f"API-{run}-{n}",
            "currency": "USD",
            "customer": {"name": "Bob Norman", "email": "bob.norman@example.com"},
            "shipping_address": {
                "name": address["name"],
                "address1": address["address1"],
                "city": address["city"],
                "region": address["province_code"],
                "postal_code": address["zip"],
                "country": address["country_code"],
            },
            "lines": [{"sku": code, "quantity": 1, "unit_price": "199.00", "tax": "11.94"} for code in SKUS],
            "shipping_total": "10.00",
        }
        requests.append(("/v1/orders", headers, json.dumps(body).encode()))
    return requests


def webhook_requests(count: int, channel_id: int, first_id: int) -> list[tuple[str, dict[str, str], bytes]]:
    path = f"/v1/channels/{channel_id}/webhooks"
    return [(path, headers, body) for body, headers in signed_payloads(count, first_id)]


def count_orders(url: str, channel: str, external_ids: str) -> int:
    """The orders of one channel whose external id is LIKE `external_ids`."""
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.count())
            .select_from(Order)
            .where(Order.channel == channel, Order.external_id.like(external_ids))
        ).scalar_one()
    engine.dispose()
    return int(stored)


def intake_side_by_side(
    url: str, channel_id: int, api_key: str, *, seconds: float, clients: int, workers: int
) -> list[tuple[str, bool]]:
    """API orders and Shopify webhooks (3-line orders each) through one server, one after the other,
    by the same wrk connections; the webhooks' rate against the API's."""
    wrk = ensure_wrk()
    port = free_port()
    # Enough requests for twice the API's rate on this kind of machine; a thread that runs out repeats.
    count = int(seconds * 1500) + 2000
    server = run_server(url, port, workers)
    try:
        with tempfile.TemporaryDirectory() as folder:
            warm = {
                "api": request_files(Path(folder), "warm-api", api_requests(2000, api_key, "warm")),
                "shopify": request_files(
                    Path(folder), "warm-shopify", webhook_requests(2000, channel_id, 5_000_000)
                ),
            }
            for prefix in warm.values():
                replay(wrk, port, prefix, seconds=2, clients=clients, server_pid=server.pid)
            api = replay(
                wrk,
                port,
                request_files(Path(folder), "api", api_requests(count, api_key, "run")),
                seconds=seconds,
                clients=clients,
                server_pid=server.pid,
            )
            webhooks = replay(
                wrk,
                port,
                request_files(Path(folder), "shopify", webhook_requests(count, channel_id, 30_000_000)),
                seconds=seconds,
                clients=clients,
                server_pid=server.pid,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The runs' own orders: API-run-<n>, and Shopify ids from 30,000,000 (eight digits starting with 3).
    stored = {
        "api": count_orders(url, "api", "API-run-%"),
        "shopify": count_orders(url, "shopify", "3_______"),
    }
    checks = []
    for name, figures, channel in (("API orders", api, "api"), ("Shopify webhooks", webhooks, "shopify")):
        print(
            f"{name}: {figures.per_second:.0f} orders/s "
            f"({figures.created} created in {figures.seconds:.1f} s; "
            f"{figures.other_2xx} other 2xx, {figures.failed} failed; p50 {figures.p50_ms:.0f} ms, "
            f"p99 {figures.p99_ms:.0f} ms); orders in the database {stored[channel]}; "
            f"server CPU per order {figures.server_cpu_s / figures.created * 1000:.2f} ms"
        )
        lost = not 0 <= stored[channel] - figures.created <= clients
        checks.append(
            (f"{name}: every 2xx order in the database, none failed", not lost and not figures.failed)
        )
    ratio = webhooks.per_second / api.per_second
    print(
        f"webhook intake / API intake: {ratio:.2f} (target >= {RATIO_TARGET}; {clients} connections, "
        f"{workers} server workers)"
    )
    checks.append((f"webhook intake >= {RATIO_TARGET} x API intake", ratio >= RATIO_TARGET))
    return checks


def statements_per_webhook(url: str, channel_id: int, *, count: int, batch: int, show_sql: bool) -> None:
    """orders/create webhooks taken in-process (the receive path the API's queue calls), one at a time
    and in batches of `batch`, every SQL statement counted."""
    engine = make_engine(url, pool_size=2)
    statements: list[str] = []
    transactions = [0]
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(engine, "commit", lambda *_args: transactions.__setitem__(0, transactions[0] + 1))
    event.listen(engine, "rollback", lambda *_args: transactions.__setitem__(0, transactions[0] + 1))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    payloads = [
        Delivery(channel_id, body, {k.lower(): v for k, v in headers.items()})
        for body, headers in signed_payloads(2 * count + 1, first_id=20_000_000)
    ]
    receive_webhooks(factory, payloads[:1])  # warm-up
    last: list[str] = []
    for size, deliveries in ((1, payloads[1 : count + 1]), (batch, payloads[count + 1 :])):
        statements.clear()
        transactions[0] = 0
        started = time.monotonic()
        for first in range(0, len(deliveries), size):
            before = len(statements)
            answers = receive_webhooks(factory, deliveries[first : first + size])
            assert all(isinstance(a, WebhookOutcome) and a.outcome == "created" for a in answers), answers
            last = statements[before:]
        elapsed = time.monotonic() - started
        how = "one at a time" if size == 1 else f"in batches of {size}"
        print(
            f"statements per orders/create webhook, {how}: "
            f"{len(statements) / count:.1f} ({transactions[0] / count:.2f} transactions; {count} webhooks "
            f"in-process, {elapsed / count * 1000:.1f} ms each)"
        )
    engine.dispose()
    if show_sql:
        for statement in last:
            print("   ", " ".join(statement.split())[:160])


def fan_out(url: str, merchant_id: int, channel_id: int, *, changes: int) -> list[tuple[str, bool]]:
    engine = make_engine(url, pool_size=8)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    settings = ChannelWorkerSettings.from_settings(feed_grace_seconds=1, lease_seconds=30)
    with FakeChannelServer() as server:
        shop = install_shopify(server, access_token=TOKEN)
        with factory() as session:
            session.execute(sa.update(Channel).where(Channel.id == channel_id).values(base_url=server.url))
            session.commit()
            sku_id = session.scalar(select(Sku.id).where(Sku.code == SKUS[0]))
            location_id = session.scalar(select(Location.id).where(Location.code == "NJ1"))
        run_channel_worker(factory, once=True, settings=settings, pulls=False)  # the initial figures
        baseline = len(server.matching("POST", "inventorySetQuantities"))
        stop = threading.Event()
        worker = threading.Thread(
            target=run_channel_worker,
            args=(factory,),
            kwargs={"stop": stop, "settings": settings, "pulls": False, "poll_interval": 0.01},
        )
        worker.start()
        # Each change moves one unit in: the channel's figure after change i is start + i.
        start_figure = shop.levels[(1, 900)]
        committed: list[float] = []
        for _ in range(changes):
            with factory() as session, session.begin():
                apply(
                    session,
                    merchant_id=merchant_id,
                    actor="bench",
                    movements=[Movement(sku_id, location_id, MovementReason.receive, delta_on_hand=1)],
                )
            committed.append(time.monotonic())
        burst_seconds = committed[-1] - committed[0]
        final = start_figure + changes
        server.wait_for(lambda: shop.levels.get((1, 900)) == final, timeout=60)
        stop.set()
        worker.join(timeout=30)
        received = [r for r in server.matching("POST", "inventorySetQuantities")][baseline:]
        sets = [(r.received_at, r.json()["variables"]["input"]["quantities"][0]) for r in received]
        arrivals = [
            (at, quantity["quantity"])
            for at, quantity in sets
            if quantity["inventoryItemId"] == "gid://shopify/InventoryItem/900"
        ]
    engine.dispose()
    latencies = []
    for index, at in enumerate(committed, start=1):
        wanted = start_figure + index
        latencies.append(min(t for t, figure in arrivals if figure >= wanted) - at)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"inventory fan-out: {changes} changes to one SKU, committed one by one over {burst_seconds:.1f} s "
        f"-> {len(arrivals)} pushes to the fake Shopify (interval {settings.stock_interval_seconds:g} s); "
        f"change-to-channel latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; final figure {final}, "
        f"last pushed {arrivals[-1][1]}"
    )
    return [
        (f"stock burst: <= {PUSH_TARGET} pushes", len(arrivals) <= PUSH_TARGET),
        (f"stock burst: change-to-channel p99 <= {P99_TARGET_S} s", p99 <= P99_TARGET_S),
        ("stock burst: the last figure pushed is the final one", arrivals[-1][1] == final),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("ORDERMESH_BENCH_URL", DEFAULT_URL))
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=16, help="wrk's connections")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--count", type=int, default=200, help="webhooks whose statements are counted")
    parser.add_argument("--batch", type=int, default=8, help="webhooks a batch when counting statements")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one webhook")
    args = parser.parse_args()
    fresh_database(args.url)
    engine = make_engine(args.url, pool_size=4)
    merchant_id, channel_id, api_key = seed(
        sessionmaker(bind=engine, expire_on_commit=False), "http://127.0.0.1:9"
    )
    engine.dispose()
    print(
        f"PostgreSQL {make_url(args.url).render_as_string(hide_password=True)}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    checks = intake_side_by_side(
        args.url, channel_id, api_key, seconds=args.seconds, clients=args.clients, workers=args.workers
    )
    statements_per_webhook(args.url, channel_id, count=args.count, batch=args.batch, show_sql=args.show_sql)
    checks += fan_out(args.url, merchant_id, channel_id, changes=args.changes)
    print("summary:")
    for name, passed in checks:
        print(f"  {'PASS' if passed else 'MISS'}  {name}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
