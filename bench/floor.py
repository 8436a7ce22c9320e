"""Warehouse floor benchmark: a wave of 5,000 released fulfillment orders, and label PDFs per second.

    .venv/bin/python bench/floor.py [--orders 5000] [--labels 300] [--database-url URL]

Steps: a fresh database (a temporary SQLite file by default; --database-url for PostgreSQL, whose
`public` schema is emptied) is migrated and seeded through our own models and the ledger: one merchant,
one location (Edison NJ) with 200 bins, 100 SKUs with stock put away in the bins. --orders orders of
1-3 lines are taken in through the real intake (routing and reservation) and released by the cut-off
run (`release_due`, every order). Then, timed: one pick list of all of them (`create_pick_list`), its
walk (`pick_list_view`, every line with its bin and orders) and its PDF; finally --labels 4x6 label PDFs
with their Code 128 barcodes. Prints the figures; the target for the wave is under 2 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.catalog.models import Sku
from ordermesh.db import make_engine, session_scope
from ordermesh.fulfillment.bins import add_to_bin
from ordermesh.fulfillment.documents import LabelData, label_pdf, pick_list_pdf
from ordermesh.fulfillment.models import Bin
from ordermesh.fulfillment.schemas import PickListIn
from ordermesh.fulfillment.scope import FloorScope
from ordermesh.fulfillment.waves import create_pick_list, pick_list_view, pick_sheet, release_due
from ordermesh.inventory import MovementReason
from ordermesh.inventory.checks import check_ledger
from ordermesh.inventory.ledger import Movement, apply
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.merchants.models import Merchant
from ordermesh.migrate import upgrade
from ordermesh.orders.intake import create_order
from ordermesh.orders.schemas import OrderCreate

T = TypeVar("T")
SKUS = 100
BINS = 200
FLOOR = FloorScope(merchant_id=None, location_id=None, floor=True, actor="bench:floor")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def fresh_database(url: str | None) -> str:
    if url is None:
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='ordermesh-floor-')) / 'bench.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def seed(factory: sessionmaker[Session], orders: int) -> tuple[int, int]:
    """One merchant, Edison with bins, SKUs in stock and put away; returns (merchant id, location id)."""
    with session_scope(factory) as session:
        merchant = Merchant(code="bench", name="Bench Goods")
        location = Location(
            code="NJ1",
            name="Edison DC",
            address1="1 Logistics Way",
            city="Edison",
            region="NJ",
            postal_code="08817",
            country="US",
            latitude=40.5187,
            longitude=-74.3932,
            timezone="America/New_York",
            cutoff_time=clock_time(15, 0),
        )
        session.add_all([merchant, location])
        session.flush()
        session.add(MerchantLocation(merchant_id=merchant.id, location_id=location.id))
        bins = [Bin(location_id=location.id, code=f"A-{n:03d}", pick_sequence=n * 10) for n in range(BINS)]
        skus = [
            Sku(
                merchant_id=merchant.id,
                code=f"SKU-{n:04d}",
                name=f"Bench item {n}",
                weight_kg=Decimal("0.4"),
                length_cm=Decimal(20),
                width_cm=Decimal(15),
                height_cm=Decimal(5),
                price=Decimal("10.00"),
            )
            for n in range(SKUS)
        ]
        session.add_all(bins + skus)
        session.flush()
        units = orders * 6 // SKUS + 10
        apply(
            session,
            merchant_id=merchant.id,
            movements=[
                Movement(s.id, location.id, MovementReason.receive, delta_on_hand=units) for s in skus
            ],
            actor="bench",
        )
        shuffled = random.Random(7).sample(bins, len(skus))  # SKUs in bins out of code order
        for sku, bin_ in zip(skus, shuffled, strict=True):
            add_to_bin(
                session,
                merchant_id=merchant.id,
                sku_id=sku.id,
                location_id=location.id,
                bin_id=bin_.id,
                quantity=units,
            )
        return merchant.id, location.id


def take_orders(factory: sessionmaker[Session], merchant_id: int, count: int) -> None:
    rng = random.Random(42)
    for start in range(0, count, 500):
        with session_scope(factory) as session:
            for n in range(start, min(start + 500, count)):
                lines = [
                    {"sku": f"SKU-{k:04d}", "quantity": rng.randint(1, 2), "unit_price": "10.00"}
                    for k in rng.sample(range(SKUS), rng.randint(1, 3))
                ]
                data = OrderCreate.model_validate(
                    {
                        "number": f"B{n:06d}",
                        "currency": "USD",
                        "customer": {"email": f"c{n}@example.com"},
                        "shipping_address": {
                            "name": "Customer",
                            "address1": "350 5th Ave",
                            "city": "New York",
                            "region": "NY",
                            "postal_code": "10118",
                            "country": "US",
                        },
                        "service_level": rng.choice(["standard", "standard", "expedited", "overnight"]),
                        "lines": lines,
                    }
                )
                create_order(session, merchant_id=merchant_id, data=data, actor="bench")


def label_rate(count: int) -> tuple[float, int]:
    data = [
        LabelData(
            tracking_number=f"OM{n:016d}",
            carrier="ratecard",
            service="ground",
            ship_from=["Edison DC", "1 Logistics Way", "Edison, NJ 08817", "US"],
            ship_to=["Ada Lovelace", "350 5th Ave", "New York, NY 10118", "US"],
            weight_kg=Decimal("1.250"),
            reference=f"B{n:06d} / 1 of 1",
        )
        for n in range(count)
    ]
    label_pdf(data[0])  # warm-up: fonts and barcode tables
    sizes, elapsed = timed(lambda: [len(label_pdf(d)) for d in data])
    return count / elapsed, sum(sizes) // count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its public schema is emptied)")
    args = parser.parse_args()

    url = fresh_database(args.database_url)
    upgrade(url)
    engine = make_engine(url, pool_size=2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    print(f"database: {engine.dialect.name}")
    merchant_id, location_id = seed(factory, args.orders)
    _, intake_seconds = timed(lambda: take_orders(factory, merchant_id, args.orders))
    print(f"setup: {args.orders} orders taken in {intake_seconds:.1f} s")

    with session_scope(factory) as session:
        released, seconds = timed(
            lambda: release_due(session, scope=FLOOR, location_id=location_id, release_all=True)
        )
    print(f"release (cut-off run): {len(released)} fulfillment orders in {seconds:.2f} s")

    with session_scope(factory) as session:
        data = PickListIn(location_id=location_id, max_orders=min(args.orders, 10_000))
        pick_list_id, wave_seconds = timed(lambda: create_pick_list(session, scope=FLOOR, data=data))
    with session_scope(factory) as session:
        view, view_seconds = timed(lambda: pick_list_view(session, scope=FLOOR, pick_list_id=pick_list_id))
    sheet = pick_sheet(view)  # what GET /v1/pick-lists/{id}/pdf prints: every allocation
    pdf, pdf_seconds = timed(lambda: pick_list_pdf(sheet))
    verdict = "met" if wave_seconds < 2 else "MISSED"
    print(
        f"wave: {len(view.fulfillment_order_ids)} fulfillment orders claimed in {wave_seconds:.3f} s "
        f"(target < 2 s: {verdict}); walk of {len(view.lines)} SKU lines read in {view_seconds:.3f} s; "
        f"PDF {len(pdf) // 1024} KiB in {pdf_seconds:.3f} s"
    )
    sequences = [line.pick_sequence or 0 for line in view.lines]
    assert sequences == sorted(sequences), "the walk follows the bins"

    per_second, size = label_rate(args.labels)
    print(f"labels: {per_second:.0f} 4x6 label PDFs per second ({size} bytes each), single thread")

    with factory() as session:
        breaches = check_ledger(session)
    print(f"ledger check: {'clean' if not breaches else f'{len(breaches)} breaches'}")
    engine.dispose()
    return 0 if not breaches and wave_seconds < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
