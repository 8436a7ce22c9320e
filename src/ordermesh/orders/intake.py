"""Order intake: an order is received, routed and reserved in one transaction of a dozen statements.

The path, for an order of n lines reserved at k (location, sku) levels:
  1 read of the SKUs with their stock at the merchant's active locations
  k conditional reservations, in (location, sku) order
  1 insert of the order (ON CONFLICT DO NOTHING: a duplicate changes nothing)
  1 insert each of lines, fulfillment orders, their lines, ledger movements, timeline events, outbox messages
A reservation lost to a concurrent order means the plan was made on stale figures: the transaction is
rolled back and planned again from fresh ones (see `service.place_order`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.catalog.models import Sku
from ordermesh.db import insert_ignoring_conflicts, insert_rows, insert_rows_returning_ids
from ordermesh.errors import FieldError, Invalid
from ordermesh.events.outbox import Event, emit
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import LevelSnapshot, Movement, changed_events, record, try_reserve
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.geo import GeoPoint
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.observability import ORDERS_CREATED
from ordermesh.orders import FulfillmentStatus, OrderStatus, ServiceLevel
from ordermesh.orders.models import FulfillmentOrder, FulfillmentOrderLine, Order, OrderEvent, OrderLine
from ordermesh.orders.schemas import OrderCreate, OrderOut
from ordermesh.orders.status import OrderFacts, derive_status
from ordermesh.orders.views import order_out
from ordermesh.routing.cost import ItemSize, item_size
from ordermesh.routing.destinations import locate
from ordermesh.routing.profiles import routing_settings
from ordermesh.routing.solver import (
    Allocation,
    Candidate,
    Destination,
    LineRequest,
    RoutingContext,
    RoutingPlan,
    plan_order,
)


class ReservationRaced(Exception):
    """Stock planned for this order was taken by another one meanwhile: plan again from fresh figures."""


class DuplicateOrder(Exception):
    """An order with this external id or Idempotency-Key exists already."""


@dataclass(frozen=True)
class SkuStock:
    sku_id: int
    active: bool
    candidates: list[Candidate]
    size: ItemSize


def create_order(
    session: Session,
    *,
    merchant_id: int,
    data: OrderCreate,
    actor: str,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    backorder_on_race: bool = True,
) -> OrderOut:
    """Receive an order, route it and reserve its stock; lines short of stock are backordered."""
    stock = load_stock(session, merchant_id=merchant_id, codes=[line.sku for line in data.lines])
    requests = resolve_lines(data, stock)
    destination = locate(data.shipping_address.country, data.shipping_address.postal_code)
    candidates = merge_candidates(stock.values())
    now = utcnow()
    settings = routing_settings(session, merchant_id=merchant_id)  # cached: no query per order
    sizes = {entry.sku_id: entry.size for entry in stock.values()}
    context = RoutingContext(
        settings.cost_model, settings.rules, sizes, ServiceLevel(data.service_level), now
    )
    plan = plan_order(requests, destination, candidates, context)
    reserved, snapshots, short = reserve_plan(session, merchant_id, plan, backorder_on_race)
    order = build_order(merchant_id, data, idempotency_key, fingerprint, now)
    order.promised_delivery_date = promised_delivery(plan, reserved)
    lines = build_lines(merchant_id, data, requests, short)
    order.status = derive_status(initial_facts(lines, reserved)).value
    order.id = insert_order(session, order)
    return record_order(session, order, lines, reserved, snapshots, plan, destination, actor, now)


def request_fingerprint(data: OrderCreate) -> str:
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


def _stock_query() -> Select[Any]:
    sku, level, location, enabled = (
        Sku.__table__.c,
        InventoryLevel.__table__,
        Location.__table__,
        MerchantLocation.__table__,
    )
    available = level.c.on_hand - level.c.reserved - level.c.safety_stock
    stocked = level.join(location, and_(location.c.id == level.c.location_id, location.c.active)).join(
        enabled,
        and_(enabled.c.location_id == level.c.location_id, enabled.c.merchant_id == level.c.merchant_id),
    )
    return (
        select(
            sku.id,
            sku.code,
            sku.active,
            sku.weight_kg,
            sku.length_cm,
            sku.width_cm,
            sku.height_cm,
            level.c.location_id,
            available.label("available"),
            location.c.code.label("location_code"),
            location.c.latitude,
            location.c.longitude,
            location.c.country,
            location.c.timezone,
            location.c.cutoff_time,
            location.c.handling_days,
        )
        .select_from(
            Sku.__table__.outerjoin(
                stocked,
                and_(level.c.sku_id == sku.id, level.c.merchant_id == sku.merchant_id, available > 0),
            )
        )
        .where(sku.merchant_id == bindparam("p_merchant"), sku.code.in_(bindparam("p_codes", expanding=True)))
    )


# Built once: every order runs it, and a prebuilt statement skips construction and cache-key work.
STOCK_QUERY = _stock_query()


def load_stock(session: Session, *, merchant_id: int, codes: Sequence[str]) -> dict[str, SkuStock]:
    """The SKUs of the order with what each active, enabled location has available (one query)."""
    rows = session.execute(STOCK_QUERY, {"p_merchant": merchant_id, "p_codes": sorted(set(codes))}).all()
    stock: dict[str, SkuStock] = {}
    for row in rows:
        entry = stock.get(row.code)
        if entry is None:
            size = item_size(row.weight_kg, row.length_cm, row.width_cm, row.height_cm)
            entry = stock[row.code] = SkuStock(row.id, row.active, [], size)
        if row.location_id is not None:
            point = GeoPoint(row.latitude, row.longitude)
            entry.candidates.append(
                Candidate(
                    row.location_id,
                    row.location_code,
                    point,
                    {row.id: row.available},
                    row.country,
                    row.timezone,
                    row.cutoff_time,
                    row.handling_days,
                )
            )
    return stock


def merge_candidates(stock: Iterable[SkuStock]) -> list[Candidate]:
    """One candidate per location, holding the availability of every SKU of the order there."""
    merged: dict[int, Candidate] = {}
    for entry in stock:
        for candidate in entry.candidates:
            existing = merged.setdefault(candidate.location_id, replace(candidate, available={}))
            existing.available.update(candidate.available)
    return list(merged.values())


def sku_errors(codes: Sequence[str], stock: dict[str, SkuStock]) -> list[FieldError]:
    """What is wrong with each line's SKU code: unknown to the merchant, or no longer sold."""
    errors = []
    for index, code in enumerate(codes):
        entry = stock.get(code)
        if entry is None:
            errors.append(FieldError(f"lines.{index}.sku", f"unknown SKU {code!r}"))
        elif not entry.active:
            errors.append(FieldError(f"lines.{index}.sku", f"SKU {code!r} is not active"))
    return errors


def resolve_lines(data: OrderCreate, stock: dict[str, SkuStock]) -> list[LineRequest]:
    errors = sku_errors([line.sku for line in data.lines], stock)
    if errors:
        raise Invalid.of(errors)
    return [
        LineRequest(n, stock[line.sku].sku_id, line.quantity) for n, line in enumerate(data.lines, start=1)
    ]


def promised_delivery(plan: RoutingPlan, reserved: Sequence[Allocation]) -> date | None:
    """The latest delivery date promised for the packages actually reserved."""
    used = {a.location_id for a in reserved}
    dates = [p.delivery_date for p in plan.packages if p.location_id in used and p.delivery_date]
    return max(dates) if dates else None


def reserve_plan(
    session: Session, merchant_id: int, plan: RoutingPlan, backorder_on_race: bool
) -> tuple[list[Allocation], list[LevelSnapshot], dict[int, int]]:
    """Reserve the plan's allocations in lock order; returns what was reserved and each line's shortfall."""
    reserved: list[Allocation] = []
    snapshots: list[LevelSnapshot] = []
    short = dict(plan.backordered)
    for allocation in sorted(plan.allocations, key=lambda a: (a.location_id, a.sku_id)):
        snapshot = try_reserve(
            session,
            merchant_id=merchant_id,
            sku_id=allocation.sku_id,
            location_id=allocation.location_id,
            quantity=allocation.quantity,
        )
        if snapshot is not None:
            reserved.append(allocation)
            snapshots.append(snapshot)
        elif backorder_on_race:
            short[allocation.line_no] = short.get(allocation.line_no, 0) + allocation.quantity
        else:
            raise ReservationRaced
    return reserved, snapshots, short


def build_order(
    merchant_id: int, data: OrderCreate, idempotency_key: str | None, fingerprint: str | None, now: datetime
) -> Order:
    subtotal = sum((line.unit_price * line.quantity for line in data.lines), Decimal(0))
    discount = sum((line.discount for line in data.lines), Decimal(0))
    tax = sum((line.tax for line in data.lines), Decimal(0))
    return Order(
        merchant_id=merchant_id,
        number=data.number or data.external_id or generated_number(now),
        channel=data.channel.value,
        external_id=data.external_id,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        currency=data.currency,
        customer_name=data.customer.name,
        customer_email=data.customer.email,
        customer_phone=data.customer.phone,
        shipping_address=data.shipping_address.model_dump(exclude_none=True),
        billing_address=data.billing_address.model_dump(exclude_none=True) if data.billing_address else None,
        service_level=data.service_level.value,
        tags=list(data.tags),
        notes=data.notes,
        subtotal=subtotal,
        discount_total=discount,
        tax_total=tax,
        shipping_total=data.shipping_total,
        total=subtotal - discount + tax + data.shipping_total,
        placed_at=data.placed_at or now,
        created_at=now,
        updated_at=now,
    )


def generated_number(now: datetime) -> str:
    return f"OM{now:%y%m%d}-{secrets.token_hex(3).upper()}"


def build_lines(
    merchant_id: int, data: OrderCreate, requests: list[LineRequest], short: dict[int, int]
) -> list[OrderLine]:
    return [
        OrderLine(
            merchant_id=merchant_id,
            line_no=request.line_no,
            sku_id=request.sku_id,
            sku_code=line.sku,
            external_line_id=line.external_line_id,
            quantity=line.quantity,
            quantity_backordered=short.get(request.line_no, 0),
            unit_price=line.unit_price,
            discount=line.discount,
            tax=line.tax,
        )
        for request, line in zip(requests, data.lines, strict=True)
    ]


def initial_facts(lines: list[OrderLine], reserved: list[Allocation]) -> OrderFacts:
    locations = {a.location_id for a in reserved}
    return OrderFacts(
        cancelled=False,
        active_holds=0,
        quantity_ordered=sum(line.quantity for line in lines),
        quantity_backordered=sum(line.quantity_backordered for line in lines),
        quantity_returned=0,
        fulfillment_statuses=(FulfillmentStatus.open,) * len(locations),
    )


def insert_order(session: Session, order: Order) -> int:
    """Insert the order row; raises DuplicateOrder when its external id or idempotency key exists."""
    statement = insert_ignoring_conflicts(session, Order).returning(Order.__table__.c.id)
    order_id = session.scalar(statement, _row(order))
    if order_id is None:
        raise DuplicateOrder
    return order_id


def record_order(
    session: Session,
    order: Order,
    lines: list[OrderLine],
    reserved: list[Allocation],
    snapshots: list[LevelSnapshot],
    plan: RoutingPlan,
    destination: Destination,
    actor: str,
    now: datetime,
) -> OrderOut:
    """Write the order's lines, fulfillment orders, ledger rows, timeline and outbox messages."""
    line_by_no = {line.line_no: line for line in lines}
    line_ids = insert_rows_returning_ids(
        session, OrderLine, [_row(line, order_id=order.id) for line in lines]
    )
    for line, line_id in zip(lines, line_ids, strict=True):
        line.id, line.order_id = line_id, order.id

    location_ids = sorted({a.location_id for a in reserved})
    promised = {p.location_id: p for p in plan.packages}
    fulfillment_orders = [
        FulfillmentOrder(
            merchant_id=order.merchant_id,
            order_id=order.id,
            location_id=location_id,
            status=FulfillmentStatus.open.value,
            promised_ship_date=promised[location_id].ship_date if location_id in promised else None,
            promised_delivery_date=promised[location_id].delivery_date if location_id in promised else None,
            created_at=now,
            updated_at=now,
        )
        for location_id in location_ids
    ]
    fo_ids = insert_rows_returning_ids(session, FulfillmentOrder, [_row(fo) for fo in fulfillment_orders])
    fo_by_location = {}
    for fo, fo_id in zip(fulfillment_orders, fo_ids, strict=True):
        fo.id = fo_id
        fo_by_location[fo.location_id] = fo
    fo_lines = [
        FulfillmentOrderLine(
            merchant_id=order.merchant_id,
            fulfillment_order_id=fo_by_location[a.location_id].id,
            order_line_id=line_by_no[a.line_no].id,
            sku_id=a.sku_id,
            quantity=a.quantity,
        )
        for a in reserved
    ]
    insert_rows(session, FulfillmentOrderLine, [_row(fo_line) for fo_line in fo_lines])

    movements = reservation_movements(reserved, reference=f"order:{order.id}")
    record(session, merchant_id=order.merchant_id, movements=movements, actor=actor)
    insert_rows(session, OrderEvent, _timeline(order, lines, plan, destination, actor, now))
    emit(session, merchant_id=order.merchant_id, events=_outbox_events(order, lines, snapshots))
    ORDERS_CREATED.labels(order.channel, order.status).inc()
    return order_out(order, lines, fulfillment_orders, fo_lines, [])


def reservation_movements(allocations: Sequence[Allocation], *, reference: str) -> list[Movement]:
    """The ledger rows for reservations already made with try_reserve."""
    return [
        Movement(
            a.sku_id, a.location_id, MovementReason.reserve, delta_reserved=a.quantity, reference=reference
        )
        for a in allocations
    ]


def _row(instance: Any, **overrides: Any) -> dict[str, Any]:
    row = {c.key: getattr(instance, c.key) for c in instance.__table__.columns if c.key != "id"}
    row.update(overrides)
    return row


def _timeline(
    order: Order,
    lines: list[OrderLine],
    plan: RoutingPlan,
    destination: Destination,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    def event(kind: str, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "merchant_id": order.merchant_id,
            "order_id": order.id,
            "kind": kind,
            "message": message,
            "actor": actor,
            "data": data,
            "created_at": now,
        }

    events = [event("created", f"Order {order.number} received via {order.channel}.")]
    routed = {
        "allocations": [
            {"line_no": a.line_no, "location_id": a.location_id, "quantity": a.quantity}
            for a in plan.allocations
        ],
        "destination_located": destination.point is not None,
        "destination_approximate": destination.approximate,
        "decided_by": plan.decided_by.value if plan.decided_by else None,
        "method": plan.method,
        "cost": str(plan.cost),
    }
    events.append(event("routed", plan.explanation, routed))
    short = {line.line_no: line.quantity_backordered for line in lines if line.quantity_backordered}
    if short:
        described = ", ".join(f"line {n} ({lines[n - 1].sku_code}): {q}" for n, q in sorted(short.items()))
        events.append(event("backordered", f"Waiting for stock: {described}.", {"short": short}))
    else:
        events.append(event("confirmed", "Every line is reserved."))
    return events


def _outbox_events(order: Order, lines: list[OrderLine], snapshots: list[LevelSnapshot]) -> list[Event]:
    payload = {
        "order_id": order.id,
        "number": order.number,
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status,
        "total": str(order.total),
        "currency": order.currency,
        "lines": [
            {"sku": line.sku_code, "quantity": line.quantity, "backordered": line.quantity_backordered}
            for line in lines
        ],
    }
    follow_up = "order.backordered" if order.status == OrderStatus.backordered else "order.confirmed"
    return [Event("order.created", payload), Event(follow_up, payload), *changed_events(snapshots)]
