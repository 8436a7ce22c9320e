"""Dashboard benchmark on PostgreSQL: the order list (each single filter, search by number and by email)
and the home page, against a large order table, timed per request inside the server process.

    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB \
        [--orders 1000000] [--samples 40]

The database's public schema is emptied, migrated and seeded: two merchants, seven locations, 200 SKUs
each with stock (some out of stock), then `--orders` orders written by SQL in bulk (`generate_series`,
one line and one fulfillment order each; statuses, channels, locations, customers and SKUs spread over
them, placed over the last year), then ANALYZE. A merchant user signs in through the sign-in form; the
requests go through the whole app (FastAPI's TestClient, in process), and each figure is the p95 of
`--samples` requests with different values. Targets: order list p95 <= 200 ms for every filter and
search, home p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from datetime import time as day_time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.app import create_app
from ordermesh.catalog.models import Sku
from ordermesh.db import make_engine
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.migrate import upgrade
from ordermesh.orders import OrderStatus, SalesChannel
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user

SKUS = 200
PASSWORD = "bench password"
LOCATIONS = [
    ("EWR1", "New York", "NJ", "08817", 40.52, -74.39, "America/New_York"),
    ("ATL1", "Atlanta", "GA", "30303", 33.75, -84.39, "America/New_York"),
    ("ORD1", "Chicago", "IL", "60601", 41.88, -87.62, "America/Chicago"),
    ("DFW1", "Dallas", "TX", "75201", 32.79, -96.80, "America/Chicago"),
    ("RNO1", "Reno", "NV", "89502", 39.50, -119.78, "America/Los_Angeles"),
    ("ONT1", "Ontario", "CA", "91761", 34.06, -117.65, "America/Los_Angeles"),
    ("SEA1", "Seattle", "WA", "98101", 47.61, -122.33, "America/Los_Angeles"),
]
# (status, weight, the fulfillment order's status)
STATUSES = [
    ("delivered", 55, "delivered"),
    ("shipped", 15, "shipped"),
    ("processing", 8, "released"),
    ("confirmed", 10, "open"),
    ("backordered", 4, "open"),
    ("on_hold", 3, "open"),
    ("cancelled", 5, "cancelled"),
]
CUSTOMERS = 200_000


def fresh_database(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    upgrade(url)


def seed_world(factory: sessionmaker[Session]) -> None:
    """Merchants, locations, SKUs with stock (every 10th SKU out of stock), and a merchant user."""
    with factory() as session, session.begin():
        merchants = [Merchant(code="m1", name="First Brand"), Merchant(code="m2", name="Second Brand")]
        session.add_all(merchants)
        session.flush()
        for code, city, region, postal, lat, lon, zone in LOCATIONS:
            location = Location(
                code=code, name=f"{city} DC", kind="warehouse", address1="1 Logistics Way", city=city,
                region=region, postal_code=postal, country="US", latitude=lat, longitude=lon, timezone=zone,
                cutoff_time=day_time(15, 0),
            )  # fmt: skip
            session.add(location)
            session.flush()
            session.add_all([MerchantLocation(merchant_id=m.id, location_id=location.id) for m in merchants])
        for merchant in merchants:
            skus = [
                Sku(merchant_id=merchant.id, code=f"SKU-{n:04d}", name=f"Item {n}", price=Decimal("20.00"))
                for n in range(1, SKUS + 1)
            ]
            session.add_all(skus)
            session.flush()
            for n, sku in enumerate(skus, start=1):
                if n % 10:
                    apply(
                        session,
                        merchant_id=merchant.id,
                        movements=[
                            Movement(sku.id, 1 + n % len(LOCATIONS), MovementReason.receive, delta_on_hand=50)
                        ],
                        actor="bench:dashboard",
                    )
        user = UserIn(
            email="merchant@bench.example", name="Bench Merchant", role=Role.merchant, merchant_id=1
        )
        create_user(session, user=user, password=PASSWORD)


def _status_case(column: str, pick: int) -> str:
    """A CASE over `g % 100` giving each status its weight (pick 0: order status, 2: fulfillment's)."""
    parts, bound = [], 0
    for entry in STATUSES:
        bound += entry[1]
        parts.append(f"WHEN {column} < {bound} THEN '{entry[pick]}'")
    return "CASE " + " ".join(parts) + " END"


def seed_orders(engine: sa.Engine, orders: int) -> None:
    """`orders` orders by SQL in bulk: one line and one fulfillment order each, ids 1..orders, the newest
    placed last."""
    channels = "ARRAY[" + ",".join(f"'{c.value}'" for c in SalesChannel if c.value != "csv") + "]"
    address = (
        '{"name": "A Customer", "address1": "350 5th Ave", "city": "New York", '
        '"postal_code": "10118", "country": "US"}'
    )
    placed = f"now() - make_interval(secs => ({orders} - g) * 30)"
    sku_code = f"'SKU-' || lpad((1 + (o.id * 7919) % {SKUS})::text, 4, '0')"
    statements = [
        'INSERT INTO "order" (id, merchant_id, number, channel, status, currency, customer_name, '
        "customer_email, shipping_address, service_level, tags, subtotal, discount_total, tax_total, "
        "shipping_total, shipping_tax, taxes_included, total, discount_codes, lines_not_taken, placed_at, "
        "updated_at, created_at) "
        f"SELECT g, 1 + g % 2, 'OM' || lpad(g::text, 9, '0'), ({channels})[1 + g % 4], "
        f"{_status_case('(g / 2) % 100', 0)}, 'USD', 'Customer ' || (g % {CUSTOMERS}), "
        f"'customer' || (g % {CUSTOMERS}) || '@example.com', '{address}'::jsonb, 'standard', '[]'::jsonb, "
        "20, 0, 1.60, 5, 0, false, 26.60, '[]'::jsonb, '[]'::jsonb, "
        f"{placed}, {placed}, {placed} FROM generate_series(1, {orders}) AS g",
        "INSERT INTO order_line (id, merchant_id, order_id, line_no, sku_id, sku_code, requires_shipping, "
        "quantity, quantity_backordered, quantity_returned, unit_price, discount, tax) "
        "SELECT o.id, o.merchant_id, o.id, 1, s.id, s.code, true, 1, "
        "CASE WHEN o.status = 'backordered' THEN 1 ELSE 0 END, 0, 20, 0, 1.60 "
        f'FROM "order" o JOIN sku s ON s.merchant_id = o.merchant_id AND s.code = {sku_code}',
        "INSERT INTO fulfillment_order (id, merchant_id, order_id, location_id, status, promised_ship_date, "
        "promised_delivery_date, updated_at, created_at) "
        f"SELECT o.id, o.merchant_id, o.id, 1 + o.id % {len(LOCATIONS)}, "
        f"{_status_case('(o.id / 2) % 100', 2)}, (o.placed_at + interval '1 day')::date, "
        "(o.placed_at + interval '4 days')::date, o.placed_at, o.placed_at FROM \"order\" o",
        "INSERT INTO fulfillment_order_line (id, merchant_id, fulfillment_order_id, order_line_id, sku_id, "
        "quantity) SELECT l.id, l.merchant_id, l.order_id, l.id, l.sku_id, 1 FROM order_line l",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
        for table in ("order", "order_line", "fulfillment_order", "fulfillment_order_line"):
            sequence = f"pg_get_serial_sequence('\"{table}\"', 'id')"
            connection.exec_driver_sql(f'SELECT setval({sequence}, (SELECT max(id) FROM "{table}"))')
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def timed_requests(client: TestClient, paths: Callable[[int], str], samples: int) -> list[float]:
    times = []
    for n in range(samples):
        path = paths(n)
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL (its public schema is emptied)")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(7)
    fresh_database(args.database_url)
    engine = make_engine(args.database_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    started = time.perf_counter()
    seed_world(factory)
    bulk = sa.create_engine(args.database_url)  # without the server's statement timeout
    seed_orders(bulk, args.orders)
    bulk.dispose()
    print(f"seeded {args.orders:,} orders in {time.perf_counter() - started:.0f} s")
    statuses = [
        s.value
        for s in OrderStatus
        if s.value not in {"pending", "partially_shipped", "partially_returned", "returned"}
    ]

    def numbers(_n: int) -> str:  # the merchant's orders have even ids
        return f"OM{rng.randrange(2, args.orders, 2):09d}"

    def email(_n: int) -> str:
        return f"customer{rng.randrange(2, CUSTOMERS, 2)}@example.com"

    def week(n: int, days: int = 0) -> str:  # a week within the last year
        return (date.today() - timedelta(days=7 * (1 + n % 50) - days)).isoformat()

    cases: list[tuple[str, Callable[[int], str], float]] = [
        ("list, no filter", lambda n: "/orders", 200),
        ("list, status", lambda n: f"/orders?status={statuses[n % len(statuses)]}", 200),
        ("list, channel", lambda n: f"/orders?channel={['shopify', 'amazon', 'api', 'walmart'][n % 4]}", 200),
        ("list, location", lambda n: f"/orders?location_id={1 + n % len(LOCATIONS)}", 200),
        ("list, placed between", lambda n: f"/orders?placed_from={week(n)}&placed_to={week(n, 6)}", 200),
        ("list, SKU", lambda n: f"/orders?sku=SKU-{1 + rng.randrange(SKUS):04d}", 200),
        ("list, customer email", lambda n: f"/orders?customer={email(n)}", 200),
        ("list, saved view: late", lambda n: "/orders?view=late", 200),
        ("search, number", lambda n: f"/orders?q={numbers(n)}", 200),
        ("search, email", lambda n: f"/orders?q={email(n)}", 200),
        ("home", lambda n: "/", 300),
    ]  # fmt: skip
    with TestClient(create_app(factory)) as client:
        misses = time_cases(client, cases, samples=args.samples, warm_up="/orders")
    engine.dispose()
    return 1 if misses else 0


def time_cases(client: TestClient, cases: list[Any], *, samples: int, warm_up: str) -> int:
    """Sign the bench's merchant user in, then time each case's pages and print p50, p95 and PASS/MISS
    against its target; the number of misses."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
    assert token
    signed = client.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "email": "merchant@bench.example", "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    client.get(warm_up)
    misses = 0
    print(f"{'request':28} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for name, paths, target in cases:
        times = timed_requests(client, paths, samples)
        verdict = "PASS" if p95(times) <= target else "MISS"
        misses += verdict == "MISS"
        print(f"{name:28} {statistics.median(times):8.1f} {p95(times):8.1f} {target:8.0f}  {verdict}")
    return misses


if __name__ == "__main__":
    sys.exit(main())
