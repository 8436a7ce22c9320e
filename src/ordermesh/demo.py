"""Load the demo data set through the same services the API uses, so its orders, reservations,
backorders and ledger are real: `ordermesh demo`."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.schemas import SkuUpsert
from ordermesh.catalog.service import upsert_skus
from ordermesh.demo_data import (
    DEFAULT_ORDERS,
    DESTINATIONS,
    FIRST_NAMES,
    LAST_NAMES,
    LOCATIONS,
    MERCHANTS,
    SKUS_BY_MERCHANT,
    STREETS,
    DemoMerchant,
)
from ordermesh.inventory.service import receive
from ordermesh.locations.schemas import LocationCreate
from ordermesh.locations.service import create_location, enable_location
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.merchants.service import create_merchant, issue_api_key
from ordermesh.orders import HoldKind, SalesChannel
from ordermesh.orders.intake import create_order
from ordermesh.orders.models import Order
from ordermesh.orders.schemas import OrderCreate
from ordermesh.orders.service import cancel_order, place_hold
from ordermesh.routing import ServiceLevel
from ordermesh.users.schemas import UserIn
from ordermesh.users.service import create_user

ACTOR = "demo:loader"
SETUP_UNITS = 10  # progress units for merchants, locations, catalog and stock together

Progress = Callable[[str, int], None]  # (what is being done, how many more units are done)

CHANNELS = (
    SalesChannel.shopify,
    SalesChannel.amazon,
    SalesChannel.api,
    SalesChannel.walmart,
    SalesChannel.woocommerce,
)
CHANNEL_WEIGHTS = (50, 20, 15, 10, 5)
SERVICE_LEVELS = (ServiceLevel.standard, ServiceLevel.expedited, ServiceLevel.two_day, ServiceLevel.overnight)
SERVICE_WEIGHTS = (80, 10, 7, 3)
SHIPPING_FEES = {
    ServiceLevel.standard: Decimal("7.95"),
    ServiceLevel.expedited: Decimal("14.95"),
    ServiceLevel.two_day: Decimal("19.95"),
    ServiceLevel.overnight: Decimal("34.95"),
}
FREE_SHIPPING_FROM = Decimal("75")
SALES_TAX = Decimal("0.0725")

HOLD_REASONS = (
    (HoldKind.fraud, "Billing and shipping addresses are 2,000 miles apart; verify with the customer"),
    (HoldKind.address, "Carrier could not validate the street address"),
    (HoldKind.payment, "Payment authorisation pending review"),
    (HoldKind.manual, "Customer asked to combine this with a second order"),
)
CANCEL_REASONS = (
    "Customer changed their mind",
    "Duplicate order",
    "Payment declined",
    "Ordered the wrong size",
)


@dataclass(frozen=True)
class DemoKey:
    label: str  # whom the key is for: a merchant, a site's floor, or the operator
    role: Role
    key: str


@dataclass(frozen=True)
class DemoUser:
    """A person who signs in to the dashboard with the demo data (README's first lines name them)."""

    email: str
    name: str
    role: Role
    merchant_code: str | None
    password: str


# Demo passwords, printed by `ordermesh demo` and written in README.md: for trying the dashboard only.
DEMO_USERS = (
    DemoUser("operator@demo.ordermesh.dev", "Olivia Operator", Role.operator, None, "demo-operator"),
    DemoUser("northwind@demo.ordermesh.dev", "Noah Northwind", Role.merchant, "northwind", "demo-northwind"),
)


@dataclass
class DemoResult:
    keys: list[DemoKey] = field(default_factory=list)
    users: list[DemoUser] = field(default_factory=list)
    skus: int = 0
    locations: int = 0
    units_received: int = 0
    orders: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def has_merchants(session: Session) -> bool:
    """Whether the database already holds merchants (the demo is then not loaded by --if-empty)."""
    return (session.scalar(select(func.count()).select_from(Merchant)) or 0) > 0


def work_units(orders: int) -> int:
    """How many progress units a demo load reports in all."""
    return SETUP_UNITS + orders


def load_demo(
    session: Session,
    *,
    seed: int = 7,
    orders: int = DEFAULT_ORDERS,
    progress: Progress | None = None,
) -> DemoResult:
    """Load the demo data set (in the caller's transaction); the same seed gives the same data."""
    tick = progress or (lambda _label, _units: None)
    rng = random.Random(seed)
    result = DemoResult()
    tick("Merchants and locations", 0)
    merchant_ids = {m.code: create_merchant(session, code=m.code, name=m.name, default_currency="USD").id
                    for m in MERCHANTS}  # fmt: skip
    location_ids = _create_locations(session, list(merchant_ids.values()))
    result.locations = len(location_ids)
    tick("Catalog", 2)
    sku_ids = {m.code: _create_catalog(session, m, merchant_ids[m.code]) for m in MERCHANTS}
    result.skus = sum(len(ids) for ids in sku_ids.values())
    tick("Stock", 3)
    for merchant in MERCHANTS:
        result.units_received += _receive_stock(
            session, rng, merchant_ids[merchant.code], sku_ids[merchant.code], location_ids
        )
    tick("Keys", 4)
    result.keys = _create_keys(session, merchant_ids, location_ids)
    result.users = _create_users(session, merchant_ids)
    tick("Orders", 1)
    order_ids = _place_orders(session, rng, merchant_ids, orders, lambda: tick("Orders", 1))
    result.orders = len(order_ids)
    _holds_and_cancellations(session, rng, order_ids)
    result.statuses = _status_counts(session)
    return result


def _create_locations(session: Session, merchant_ids: Sequence[int]) -> dict[str, int]:
    ids = {}
    for site in LOCATIONS:
        location = create_location(
            session,
            data=LocationCreate(
                code=site.code,
                name=site.name,
                kind=site.kind,
                address1=site.address1,
                city=site.city,
                region=site.region,
                postal_code=site.postal_code,
                country="US",
                latitude=site.latitude,
                longitude=site.longitude,
                timezone=site.timezone,
            ),
        )
        ids[site.code] = location.id
        for merchant_id in merchant_ids:
            enable_location(session, merchant_id=merchant_id, location_id=location.id)
    return ids


def _create_catalog(session: Session, merchant: DemoMerchant, merchant_id: int) -> dict[str, int]:
    items = []
    for number, sku in enumerate(SKUS_BY_MERCHANT[merchant.code], start=1):
        price, unit_cost = sku.money()
        length, width, height = (Decimal(d) for d in sku.dimensions_cm)
        items.append(
            SkuUpsert(
                code=sku.code,
                name=sku.name,
                barcode=sku.barcode(merchant.gs1_prefix, number),
                weight_kg=Decimal(sku.weight_kg),
                length_cm=length,
                width_cm=width,
                height_cm=height,
                price=price,
                unit_cost=unit_cost,
                currency="USD",
            )
        )
    upserted = upsert_skus(session, merchant_id=merchant_id, items=items, actor=ACTOR)
    session.flush()
    return {item.sku.code: item.sku.id for item in upserted.items}


def _receive_stock(
    session: Session,
    rng: random.Random,
    merchant_id: int,
    sku_ids: dict[str, int],
    location_ids: dict[str, int],
) -> int:
    """Stock at various levels: most SKUs well stocked in several sites, some scarce, a few sold out."""
    total = 0
    codes = list(location_ids)
    for index, sku_id in enumerate(sku_ids.values()):
        if index % 9 == 4:
            continue  # sold out everywhere: its orders are backordered
        scarce = index % 5 == 2
        sites = rng.sample(codes, 1 if scarce else rng.randint(3, len(codes)))
        for site in sites:
            quantity = rng.randint(1, 4) if scarce else rng.choice((8, 12, 20, 36, 48, 60, 96, 120))
            receive(
                session,
                merchant_id=merchant_id,
                sku_id=sku_id,
                location_id=location_ids[site],
                quantity=quantity,
                reference=f"PO-{2400 + index}",
                actor=ACTOR,
                note="opening stock",
            )
            total += quantity
    return total


def _create_users(session: Session, merchant_ids: dict[str, int]) -> list[DemoUser]:
    for user in DEMO_USERS:
        merchant_id = merchant_ids[user.merchant_code] if user.merchant_code else None
        wanted = UserIn(email=user.email, name=user.name, role=user.role, merchant_id=merchant_id)
        create_user(session, user=wanted, password=user.password)
    return list(DEMO_USERS)


def _create_keys(
    session: Session, merchant_ids: dict[str, int], location_ids: dict[str, int]
) -> list[DemoKey]:
    keys = []
    _, raw = issue_api_key(
        session, role=Role.operator, name="demo operator", merchant_id=None, location_id=None
    )
    keys.append(DemoKey("operator", Role.operator, raw))
    for code, merchant_id in merchant_ids.items():
        _, raw = issue_api_key(
            session, role=Role.merchant, name=f"{code} demo", merchant_id=merchant_id, location_id=None
        )
        keys.append(DemoKey(code, Role.merchant, raw))
    site = LOCATIONS[0].code
    _, raw = issue_api_key(
        session, role=Role.warehouse, name=f"{site} floor", merchant_id=None, location_id=location_ids[site]
    )
    keys.append(DemoKey(f"{site} floor", Role.warehouse, raw))
    return keys


def _place_orders(
    session: Session, rng: random.Random, merchant_ids: dict[str, int], count: int, tick: Callable[[], None]
) -> list[int]:
    """Orders spread over the last two weeks, oldest first, through order intake (routing, reservations)."""
    now = utcnow()
    offsets = sorted((rng.uniform(0.05, 14.0) for _ in range(count)), reverse=True)
    numbers = dict.fromkeys(merchant_ids, 1000)
    popularity = {code: _popularity(len(SKUS_BY_MERCHANT[code])) for code in merchant_ids}
    order_ids = []
    for days_ago in offsets:
        code = rng.choices(list(merchant_ids), weights=(60, 40))[0]
        numbers[code] += 1
        data = _order(rng, code, numbers[code], popularity[code])
        data.placed_at = now - timedelta(days=days_ago)
        order = create_order(session, merchant_id=merchant_ids[code], data=data, actor=ACTOR)
        order_ids.append(order.id)
        tick()
    return order_ids


def _popularity(size: int) -> list[float]:
    # A few best sellers and a long tail, as real catalogs have.
    return [1 / (rank + 1) ** 0.8 for rank in range(size)]


def _order(rng: random.Random, merchant_code: str, number: int, weights: list[float]) -> OrderCreate:
    skus = SKUS_BY_MERCHANT[merchant_code]
    line_count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    chosen: list[int] = []
    while len(chosen) < line_count:
        index = rng.choices(range(len(skus)), weights=weights)[0]
        if index not in chosen:
            chosen.append(index)
    lines: list[dict[str, Any]] = []
    for index in chosen:
        sku = skus[index]
        quantity = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
        price = Decimal(sku.price)
        lines.append(
            {
                "sku": sku.code,
                "quantity": quantity,
                "unit_price": price,
                "tax": (price * quantity * SALES_TAX).quantize(Decimal("0.01")),
            }
        )
    if rng.random() < 0.1:  # a 10% promotion on the first line
        promoted = lines[0]
        promoted["discount"] = (promoted["unit_price"] * promoted["quantity"] / 10).quantize(Decimal("0.01"))
    subtotal = sum((line["unit_price"] * line["quantity"] for line in lines), Decimal(0))
    level = rng.choices(SERVICE_LEVELS, weights=SERVICE_WEIGHTS)[0]
    fee = SHIPPING_FEES[level]
    if level is ServiceLevel.standard and subtotal >= FREE_SHIPPING_FROM:
        fee = Decimal(0)
    channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    destination = rng.choice(DESTINATIONS)
    prefix = "NW" if merchant_code == "northwind" else "BB"
    return OrderCreate(
        external_id=None
        if channel is SalesChannel.api
        else f"{channel.value.upper()}-{number * 7919 % 1000003}",
        number=f"{prefix}-{number}",
        channel=channel,
        currency="USD",
        customer={"name": f"{first} {last}", "email": f"{first}.{last}{number}@example.com".lower()},
        shipping_address={
            "name": f"{first} {last}",
            "address1": f"{rng.randint(10, 9899)} {rng.choice(STREETS)}",
            "city": destination.city,
            "region": destination.region,
            "postal_code": destination.postal_code,
            "country": "US",
        },
        service_level=level,
        lines=lines,
        shipping_total=fee,
        tags=["demo"],
    )


def _holds_and_cancellations(session: Session, rng: random.Random, order_ids: list[int]) -> None:
    """Some recent orders on hold, some cancelled (their reservations go back to stock)."""
    picked = rng.sample(order_ids, k=min(len(order_ids), 24))
    for order_id in picked[:10]:
        kind, reason = rng.choice(HOLD_REASONS)
        place_hold(session, merchant_scope=None, order_id=order_id, kind=kind, reason=reason, actor=ACTOR)
    for order_id in picked[10:]:
        reason = rng.choice(CANCEL_REASONS)
        cancel_order(session, merchant_scope=None, order_id=order_id, reason=reason, actor=ACTOR)


def _status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    return dict(sorted(rows))
