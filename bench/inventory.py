"""Dashboard inventory benchmark on PostgreSQL: the inventory grid (no filter, a location, the start of a SKU
code), a SKU's page, and one poll of the live-update stream, against a large catalog and a full outbox.

    .venv/bin/python bench/inventory.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB \
        [--skus 100000] [--outbox 500000] [--samples 40]

The database's public schema is emptied, migrated and seeded as bench/dashboard.py seeds it (two merchants,
seven locations, a merchant user), then by SQL in bulk: `--skus` more SKUs for each merchant (`BIG-000001`
...) with a level at every location (created SKU by SKU, as receipts would) (one in ten at or below its safety
stock) and one receipt each in the ledger, and `--outbox` outbox messages spread over both merchants (one in
three `inventory.changed`), then ANALYZE. The pages go through the whole app (FastAPI's TestClient, in
process, signed in as the merchant user); the live poll is `dashboard.live.counts_above` as the stream runs
it, with its floor 5,000 messages back (a busy stream near the end of its life). Each figure is the p95 of
`--samples`. Targets: grid and SKU page p95 <= 200 ms, a live poll <= 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from dashboard import LOCATIONS, fresh_database, p95, seed_world, time_cases
from ordermesh.app import create_app
from ordermesh.dashboard.live import counts_above
from ordermesh.db import make_engine


def seed_catalog(engine: sa.Engine, skus: int, outbox: int) -> None:
    """Many SKUs with a level everywhere and a receipt each; a full outbox (both merchants)."""
    locations = len(LOCATIONS)
    statements = [
        f"""INSERT INTO sku (merchant_id, code, name, price, currency, active, requires_shipping,
                             created_at, updated_at)
            SELECT m, 'BIG-' || lpad(g::text, 6, '0'), 'Big item ' || g, 20.00, 'USD', true, true,
                   now(), now()
            FROM generate_series(1, {skus}) g, generate_series(1, 2) m""",
        f"""INSERT INTO inventory_level
              (merchant_id, sku_id, location_id, on_hand, reserved, safety_stock, inbound, updated_at)
            SELECT s.merchant_id, s.id, l, 20 + s.id % 50, 0, CASE WHEN s.id % 10 = 0 THEN 80 ELSE 0 END,
                   s.id % 7, now()
            FROM sku s, generate_series(1, {locations}) l WHERE s.code LIKE 'BIG-%'
            ORDER BY s.id, l""",
        """INSERT INTO inventory_movement (merchant_id, sku_id, location_id, delta_on_hand, delta_reserved,
                                          reason, reference, actor, created_at)
            SELECT merchant_id, sku_id, location_id, on_hand, 0, 'receive', 'PO-1', 'bench:inventory', now()
            FROM inventory_level""",
        f"""INSERT INTO outbox_message (merchant_id, message_id, topic, payload, created_at)
            SELECT 1 + g % 2, gen_random_uuid()::text,
                   CASE WHEN g % 3 = 0 THEN 'inventory.changed' ELSE 'order.created' END, '{{}}', now()
            FROM generate_series(1, {outbox}) g""",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def timed_polls(factory: sessionmaker[Session], samples: int) -> list[float]:
    with factory() as session:
        newest = int(session.scalar(sa.text("SELECT max(id) FROM outbox_message")) or 0)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            counts_above(session, 1, max(newest - 5000, 0))
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL (its public schema is emptied)")
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs per merchant")
    parser.add_argument("--outbox", type=int, default=500_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(7)
    fresh_database(args.database_url)
    engine = make_engine(args.database_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    started = time.perf_counter()
    seed_world(factory)
    bulk = sa.create_engine(args.database_url)  # without the server's statement timeout
    seed_catalog(bulk, args.skus, args.outbox)
    bulk.dispose()
    seconds = time.perf_counter() - started
    print(f"seeded {args.skus:,} SKUs a merchant at {len(LOCATIONS)} locations in {seconds:.0f} s")
    with factory() as session:
        sku_ids = list(session.scalars(sa.text("SELECT id FROM sku WHERE merchant_id = 1 ORDER BY id")))

    prefixes = max(args.skus // 100, 2)  # BIG-0001 is the start of a hundred codes
    cases = [
        ("grid, no filter", lambda n: "/inventory", 200),
        ("grid, location", lambda n: f"/inventory?location_id={1 + n % len(LOCATIONS)}", 200),
        ("grid, SKU code start", lambda n: f"/inventory?sku=BIG-{rng.randrange(1, prefixes):04d}", 200),
        ("grid, SKU code start, 10%", lambda n: f"/inventory?sku=BIG-0{n % 10}", 200),
        ("grid, SKU code, no match", lambda n: f"/inventory?sku=NONE-{n}", 200),
        ("SKU page", lambda n: f"/inventory/skus/{rng.choice(sku_ids)}", 200),
    ]  # fmt: skip
    with TestClient(create_app(factory)) as client:
        misses = time_cases(client, cases, samples=args.samples, warm_up="/inventory")
    polls = timed_polls(factory, args.samples)
    verdict = "PASS" if p95(polls) <= 20 else "MISS"
    misses += verdict == "MISS"
    poll = "live poll (5,000 back)"
    print(f"{poll:28} {statistics.median(polls):8.1f} {p95(polls):8.1f} {20:8.0f}  {verdict}")
    engine.dispose()
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
