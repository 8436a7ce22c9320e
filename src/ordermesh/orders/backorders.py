"""Backorders: stock freed anywhere goes to the orders waiting for it, oldest first, through one
function (`serve_backorders`); a backorder filled later joins the order's open fulfillment order there.
`ship_dates` promises backordered lines for the arrival of the open purchase orders that cover them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ordermesh.events.outbox import Event, emit
from ordermesh.inbound.promises import Waiting, covering_arrivals
from ordermesh.inventory import MovementReason
from ordermesh.inventory.ledger import LevelSnapshot, Movement, changed_events, record, try_reserve
from ordermesh.inventory.models import InventoryLevel
from ordermesh.locations.models import Location, MerchantLocation
from ordermesh.orders import OrderStatus
from ordermesh.orders.fulfillment_orders import open_fulfillment_order
from ordermesh.orders.locks import lock_orders
from ordermesh.orders.models import (
    FulfillmentOrderLine,
    Order,
    OrderLine,
)
from ordermesh.orders.statuses import refresh_status
from ordermesh.orders.timeline import note, payload
from ordermesh.routing.promise import Calendar, add_working_days, closed_days, next_working_day


def serve_backorders(
    session: Session, *, merchant_id: int, levels: Iterable[tuple[int, int]], actor: str
) -> int:
    """Give what is available at levels (sku_id, location_id) to waiting backorders, oldest first;
    units allocated.

    Every path that frees stock (receive, release, adjust and count up, transfer in, restock, cancel, a
    channel edit, re-optimisation) calls this once, after its own movements. Levels are served one at
    a time in (location, sku) order, as every change touches them; a location that is inactive, or no
    longer enabled for the merchant, serves no one (routing does not ship from it either).
    """
    freed = {(location_id, sku_id) for sku_id, location_id in levels}
    if not freed:
        return 0
    waiting = set(
        session.scalars(
            select(OrderLine.sku_id)
            .where(
                OrderLine.merchant_id == merchant_id,
                OrderLine.sku_id.in_({sku_id for _location_id, sku_id in freed}),
                OrderLine.quantity_backordered > 0,
            )
            .distinct()
        )
    )
    freed = {(location_id, sku_id) for location_id, sku_id in freed if sku_id in waiting}
    if not freed:
        return 0
    enabled = and_(MerchantLocation.location_id == Location.id, MerchantLocation.merchant_id == merchant_id)
    shipping = set(
        session.scalars(
            select(Location.id)
            .join(MerchantLocation, enabled)
            .where(Location.id.in_({location_id for location_id, _sku_id in freed}), Location.active)
        )
    )
    allocated = 0
    for location_id, sku_id in sorted(freed):
        if location_id in shipping:
            allocated += allocate_backorders(
                session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id, actor=actor
            )
    return allocated


def allocate_backorders(
    session: Session, *, merchant_id: int, sku_id: int, location_id: int, actor: str
) -> int:
    """Reserve what is available at one level for backordered lines, first come first served; units
    allocated. Freeing paths call it through serve_backorders."""
    backordered = (
        select(OrderLine, Order)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.merchant_id == merchant_id,
            OrderLine.sku_id == sku_id,
            OrderLine.quantity_backordered > 0,
            Order.cancelled_at.is_(None),
        )
        .order_by(Order.placed_at, Order.id, OrderLine.line_no)
    )
    order_ids = sorted({order.id for _line, order in session.execute(backordered)})
    if not order_ids:
        return 0
    # Lock the waiting orders (in id order, as cancel_order locks an order before its lines), then read
    # them again: an order cancelled meanwhile must not be given stock.
    lock_orders(session, order_ids=order_ids)
    waiting = session.execute(backordered.execution_options(populate_existing=True)).all()
    allocated = 0
    latest: LevelSnapshot | None = None
    for line, order in waiting:
        quantity, snapshot = _reserve_up_to(
            session, merchant_id, sku_id, location_id, line.quantity_backordered
        )
        if snapshot is None:
            break
        _attach_to_fulfillment(session, order, line, location_id, quantity, actor)
        allocated += quantity
        latest = snapshot
    if latest is not None:  # channels must see what is left available after the allocation
        emit(session, merchant_id=merchant_id, events=changed_events([latest]))
    return allocated


def _reserve_up_to(
    session: Session, merchant_id: int, sku_id: int, location_id: int, wanted: int
) -> tuple[int, LevelSnapshot | None]:
    """Reserve as much of `wanted` as is available there: the units reserved and the level after."""
    level = InventoryLevel.__table__.c
    available = session.scalar(
        select(level.on_hand - level.reserved - level.safety_stock).where(
            level.merchant_id == merchant_id, level.sku_id == sku_id, level.location_id == location_id
        )
    )
    take = min(available or 0, wanted)
    if take <= 0:
        return 0, None
    snapshot = try_reserve(
        session, merchant_id=merchant_id, sku_id=sku_id, location_id=location_id, quantity=take
    )
    return (take, snapshot) if snapshot is not None else (0, None)


def _attach_to_fulfillment(
    session: Session, order: Order, line: OrderLine, location_id: int, quantity: int, actor: str
) -> None:
    assert line.sku_id is not None  # only lines of a known SKU wait for stock
    fo = open_fulfillment_order(session, order=order, location_id=location_id)
    # The line's units waiting at an open fulfillment order there are raised rather than joined by a
    # second line (one released to the floor is never changed: a new open one gets the units).
    fo_line = session.scalars(
        select(FulfillmentOrderLine)
        .where(
            FulfillmentOrderLine.fulfillment_order_id == fo.id,
            FulfillmentOrderLine.order_line_id == line.id,
            FulfillmentOrderLine.sku_id == line.sku_id,
        )
        .order_by(FulfillmentOrderLine.id)
    ).first()
    if fo_line is None:
        session.add(
            FulfillmentOrderLine(
                merchant_id=order.merchant_id,
                fulfillment_order_id=fo.id,
                order_line_id=line.id,
                sku_id=line.sku_id,
                quantity=quantity,
            )
        )
    else:
        fo_line.quantity += quantity
    line.quantity_backordered -= quantity
    record(
        session,
        merchant_id=order.merchant_id,
        movements=[
            Movement(
                line.sku_id,
                location_id,
                MovementReason.reserve,
                delta_reserved=quantity,
                reference=f"order:{order.id}",
            )
        ],
        actor=actor,
    )
    note(
        session,
        order,
        "backorder_allocated",
        f"{quantity} x {line.sku_code} (line {line.line_no}) reserved as stock arrived.",
        actor,
        {"line_no": line.line_no, "location_id": location_id, "quantity": quantity},
    )
    before = order.status
    refresh_status(session, order)
    if before != order.status and order.status == OrderStatus.confirmed:
        emit(session, merchant_id=order.merchant_id, events=[Event("order.confirmed", payload(order))])


def ship_dates(session: Session, *, order: Order, lines: Sequence[OrderLine], today: date) -> dict[int, date]:
    """When each backordered line of the order is expected to ship, by line id: the arrival of the open
    purchase order line that covers it once the backorders before it are served (lines none covers are
    left out)."""
    waiting = [
        Waiting(line.id, line.sku_id, line.quantity_backordered, _waiting_before(session, order, line))
        for line in lines
        if line.sku_id is not None and line.quantity_backordered > 0 and order.cancelled_at is None
    ]
    arrivals = covering_arrivals(session, merchant_id=order.merchant_id, waiting=waiting)
    locations = session.scalars(
        select(Location).where(Location.id.in_({a.location_id for a in arrivals.values()}))
    )
    clocks = {
        location.id: (
            Calendar(location.country, closed_days(location.closed_days or [])),
            location.handling_days,
        )
        for location in locations
    }
    return {
        line_id: _ship_date(arrival.expected_date, *clocks[arrival.location_id], today)
        for line_id, arrival in arrivals.items()
    }


def _ship_date(expected: date, calendar: Calendar, handling_days: int, today: date) -> date:
    """Units due on `expected` (today at the earliest) are received that working day or the next, and ship
    after the location's handling days."""
    received = max(expected, today)
    if not calendar.is_working_day(received):
        received = next_working_day(received, calendar)
    return add_working_days(received, handling_days, calendar)


def _waiting_before(session: Session, order: Order, line: OrderLine) -> int:
    """Units of the line's SKU backordered by lines served before it (older orders, earlier lines)."""
    earlier = or_(
        Order.placed_at < order.placed_at,
        and_(Order.placed_at == order.placed_at, Order.id < order.id),
        and_(Order.id == order.id, OrderLine.line_no < line.line_no),
    )
    ahead = session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity_backordered), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.merchant_id == order.merchant_id,
            OrderLine.sku_id == line.sku_id,
            OrderLine.quantity_backordered > 0,
            Order.cancelled_at.is_(None),
            earlier,
        )
    )
    return int(ahead or 0)
